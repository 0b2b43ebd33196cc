"""Fixtures for tests against the sandbox Kubernetes API server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kube import REPO, KubeSandbox, kube_sandbox, sandbox_dir


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeSandbox]:
    """A running sandbox API server with the WasmPlugin CRD (reused or started)."""
    with kube_sandbox() as sandbox:
        yield sandbox


def _controller_manager_pid(state: Path) -> int | None:
    """The pid of this sandbox's kube-controller-manager when it runs, else None."""
    try:
        pid = int((state / "controller-manager.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if cmdline and cmdline[0].endswith(b"kube-controller-manager") else None


@pytest.fixture(scope="session")
def controller_manager(kube: KubeSandbox) -> int:
    """The pid of the sandbox's kube-controller-manager (garbage collector, namespace controller).

    A sandbox started by an older scripts/kube-up.sh has none; kube-up.sh then
    starts just the controller manager (it stays up, like the rest of that
    sandbox, until scripts/kube-down.sh).
    """
    state = sandbox_dir() / "kube"
    pid = _controller_manager_pid(state)
    if pid is None:
        result = subprocess.run(
            [str(REPO / "scripts" / "kube-up.sh")],
            env={**os.environ, "SANDBOX_DIR": str(sandbox_dir())},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=3600,  # builds kube-controller-manager when it is not cached yet
            check=False,
        )
        assert result.returncode == 0, f"scripts/kube-up.sh failed:\n{result.stdout}"
        pid = _controller_manager_pid(state)
        assert pid is not None, f"scripts/kube-up.sh started no kube-controller-manager:\n{result.stdout}"
    return pid
