"""The sandbox's Docker daemon (scripts/docker-up.sh, docker-down.sh): one per SANDBOX_DIR, side by side.

`make demo` and `make test` each start a sandbox ($SANDBOX_DIR and $SANDBOX_DIR/test), so two
daemons must run at once without sharing a socket, data root, exec root or pid file, and without
touching the host's networking.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.docker import DockerApi, DockerEnv
from sandbox.envfile import sandbox_dir
from sandbox.registry import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"


def run(script: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPTS / script)], env={**os.environ, "SANDBOX_DIR": str(root)},
                          capture_output=True, text=True, check=True)


@pytest.fixture
def second_sandbox(tmp_path: Path) -> Iterator[Path]:
    run("docker-up.sh", tmp_path)
    yield tmp_path
    run("docker-down.sh", tmp_path)


def daemon(root: Path) -> DockerApi:
    return DockerApi(DockerEnv.read(root / "docker" / "env"))


def test_two_sandboxes_have_two_daemons(second_sandbox: Path) -> None:
    ours = sandbox_dir()
    run("docker-up.sh", ours)  # already up under make test-sandbox: reused
    first, second = daemon(ours).get("/info"), daemon(second_sandbox).get("/info")
    assert first["ID"] != second["ID"]
    assert first["DockerRootDir"] == str(ours / "docker" / "data")
    assert second["DockerRootDir"] == str(second_sandbox / "docker" / "data")
    assert (ours / "docker" / "exec-root").read_text() != (second_sandbox / "docker" / "exec-root").read_text()
    # --bridge=none: no docker0, no NAT rules; the daemon builds images and runs no containers.
    networks = {n["Name"] for n in daemon(second_sandbox).get("/networks")}
    assert "bridge" not in networks, networks


def test_up_is_idempotent_and_down_stops_only_its_own(second_sandbox: Path) -> None:
    pid = (second_sandbox / "docker" / "dockerd.pid").read_text().strip()
    again = run("docker-up.sh", second_sandbox)
    assert "already running" in again.stderr
    assert (second_sandbox / "docker" / "dockerd.pid").read_text().strip() == pid

    run("docker-down.sh", second_sandbox)
    assert not (second_sandbox / "docker" / "env").exists()
    assert not Path(f"/proc/{pid}").exists() or b"dockerd" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    # The other sandbox's daemon still answers.
    ping = subprocess.run(["curl", "-s", "--unix-socket", DockerEnv.read(sandbox_dir() / "docker" / "env").socket,
                           "http://docker/_ping"], capture_output=True, text=True)
    assert ping.stdout == "OK"
    run("docker-up.sh", second_sandbox)  # for the fixture's own docker-down
