"""The sandbox Kubernetes API server (scripts/kube-up.sh), for tests.

``kube_sandbox()`` reuses a sandbox that already answers (its
``$SANDBOX_DIR/kube/env`` exists and /readyz is ok), or starts one with
scripts/kube-up.sh and stops it again with scripts/kube-down.sh on exit.
Set ``ASMWASM_KEEP_KUBE=1`` to leave a sandbox started here running.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sandbox.envfile import read_env_file, sandbox_dir
from sandbox.kube_api import KubeApi, KubeApiError, Response

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"

__all__ = ["KubeApi", "KubeApiError", "KubeSandbox", "Response", "kube_sandbox", "sandbox_dir"]

# A cold build of kube-apiserver takes many minutes on two busy cores.
START_TIMEOUT_S = 3600


@dataclass(frozen=True)
class KubeSandbox:
    env: dict[str, str]
    """The lines of $SANDBOX_DIR/kube/env: KUBECONFIG, KUBE_API, KUBE_CA, ..."""
    api: KubeApi
    started_here: bool
    """True when this process started the sandbox (and so stops it)."""


def running_sandbox(sandbox: Path) -> KubeSandbox | None:
    """The sandbox of this SANDBOX_DIR when its API server answers, else None."""
    env_file = sandbox / "kube" / "env"
    if not env_file.is_file():
        return None
    env = read_env_file(env_file)
    try:
        api = KubeApi.from_env(env)
        api.wait_ready(timeout=5)
    except (KubeApiError, OSError):
        return None
    return KubeSandbox(env=env, api=api, started_here=False)


def _run_script(name: str, sandbox: Path, *args: str, timeout: float) -> None:
    env = {**os.environ, "SANDBOX_DIR": str(sandbox)}
    result = subprocess.run(
        [str(SCRIPTS / name), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/{name} failed with exit code {result.returncode}:\n{result.stdout}")


def start(sandbox: Path) -> KubeSandbox:
    _run_script("kube-up.sh", sandbox, timeout=START_TIMEOUT_S)
    env = read_env_file(sandbox / "kube" / "env")
    return KubeSandbox(env=env, api=KubeApi.from_env(env), started_here=True)


def stop(sandbox: Path) -> None:
    _run_script("kube-down.sh", sandbox, timeout=120)


@contextmanager
def kube_sandbox(sandbox: Path | None = None) -> Iterator[KubeSandbox]:
    """Yield a running sandbox API server: an existing one, or one started here."""
    sandbox = sandbox or sandbox_dir()
    existing = running_sandbox(sandbox)
    if existing is not None:
        yield existing
        return
    started = start(sandbox)
    try:
        yield started
    finally:
        if os.environ.get("ASMWASM_KEEP_KUBE") != "1":
            stop(sandbox)
