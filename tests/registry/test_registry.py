"""The sandbox registry (ACR EE stand-in) and ocitool, end to end.

Starts the registry with scripts/registry-up.sh unless $SANDBOX_DIR/registry/env
names one that answers (then it is reused and left running), pushes a tiny fake
Wasm module with ocitool and pulls it back the way Istio's agent would.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import registry as sr

FAKE_WASM = b"\0asm\x01\0\0\0" + b"sandbox registry test module\n"
REPO_TAG = "test-oci/header-authorization:v0.0.1"


@pytest.fixture(scope="module")
def registry() -> Iterator[sr.RegistryEnv]:
    reg = sr.running_registry()
    if reg is not None:
        yield reg
        return
    reg = sr.registry_up()
    try:
        yield reg
    finally:
        sr.registry_down()


@pytest.fixture(scope="module")
def ocitool() -> Path:
    return sr.build_ocitool()


@pytest.fixture()
def wasm_file(tmp_path: Path) -> Path:
    path = tmp_path / "plugin.wasm"
    path.write_bytes(FAKE_WASM)
    return path


def run_tool(ocitool: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ocitool), *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def push(
    ocitool: Path, reg: sr.RegistryEnv, wasm: Path, password: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_tool(
        ocitool,
        "push",
        "--wasm", str(wasm),
        "--ref", reg.ref(REPO_TAG),
        "--ca", str(reg.ca),
        "--username", reg.username,
        "--password-stdin",
        *extra,
        stdin=password + "\n",
    )  # fmt: skip


def pull(
    ocitool: Path, reg: sr.RegistryEnv, url: str, config: Path, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_tool(
        ocitool,
        "pull",
        "--url", url,
        "--dockerconfigjson", str(config),
        "--ca", str(reg.ca),
        "--out", str(out),
        *extra,
    )  # fmt: skip


def write_config(path: Path, reg: sr.RegistryEnv, password: str) -> Path:
    path.write_text(sr.dockerconfigjson(reg.host, reg.username, password))
    path.chmod(0o600)
    return path


def test_env_file(registry: sr.RegistryEnv) -> None:
    mode = stat.S_IMODE(sr.env_file().stat().st_mode)
    assert mode == 0o600, f"{sr.env_file()} has mode {mode:o}"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", registry.host)
    assert registry.ca.is_file()
    assert sr.v2_status(registry) == 401


def test_push_pull_roundtrip(registry: sr.RegistryEnv, ocitool: Path, wasm_file: Path, tmp_path: Path) -> None:
    first = push(ocitool, registry, wasm_file, registry.password)
    assert first.returncode == 0, first.stderr
    ref = first.stdout.strip()
    repo = registry.ref(REPO_TAG.split(":")[0])
    assert re.fullmatch(re.escape(repo) + r"@sha256:[0-9a-f]{64}", ref), first.stdout
    assert first.stdout.count("\n") == 1

    # Same bytes again: same digest, nothing sent.
    again = push(ocitool, registry, wasm_file, registry.password, "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["ref"] == ref
    assert result["uploaded_blobs"] == [] and result["manifest_put"] is False
    assert "uploaded nothing" in again.stderr

    out = tmp_path / "pulled.wasm"
    config = write_config(tmp_path / "dockerconfig.json", registry, registry.password)
    pulled = pull(ocitool, registry, f"oci://{ref}", config, out)
    assert pulled.returncode == 0, pulled.stderr
    sha = hashlib.sha256(FAKE_WASM).hexdigest()
    assert pulled.stdout.split() == [f"sha256:{sha}", str(len(FAKE_WASM))]
    assert out.read_bytes() == FAKE_WASM

    as_json = pull(ocitool, registry, f"oci://{ref}", config, out, "--json")
    assert as_json.returncode == 0, as_json.stderr
    info = json.loads(as_json.stdout)
    assert info["manifest_digest"] == ref.split("@")[1]
    assert info["sha256"] == sha and info["format"] == "docker"


def test_wrong_password_fails_clearly(registry: sr.RegistryEnv, ocitool: Path, wasm_file: Path, tmp_path: Path) -> None:
    expected = f"registry {registry.host} rejected the credentials for user {registry.username}"
    pushed = push(ocitool, registry, wasm_file, "not-the-password")
    assert pushed.returncode != 0
    assert pushed.stdout == ""
    assert expected in pushed.stderr

    good = push(ocitool, registry, wasm_file, registry.password)
    assert good.returncode == 0, good.stderr
    config = write_config(tmp_path / "bad.json", registry, "not-the-password")
    pulled = pull(ocitool, registry, f"oci://{good.stdout.strip()}", config, tmp_path / "x.wasm")
    assert pulled.returncode != 0
    assert expected in pulled.stderr
    assert not (tmp_path / "x.wasm").exists()


def test_digest_and_ca_are_checked(registry: sr.RegistryEnv, ocitool: Path, wasm_file: Path, tmp_path: Path) -> None:
    good = push(ocitool, registry, wasm_file, registry.password)
    assert good.returncode == 0, good.stderr
    config = write_config(tmp_path / "dockerconfig.json", registry, registry.password)
    out = tmp_path / "x.wasm"

    tag_url = f"oci://{registry.ref(REPO_TAG)}"
    mismatch = pull(ocitool, registry, tag_url, config, out, "--sha256", "0" * 64)
    assert mismatch.returncode != 0
    assert "not the expected sha256:" + "0" * 64 in mismatch.stderr

    no_ca = run_tool(
        ocitool,
        "pull",
        "--url", f"oci://{good.stdout.strip()}",
        "--dockerconfigjson", str(config),
        "--out", str(out),
    )  # fmt: skip
    assert no_ca.returncode != 0
    assert "unknown authority" in no_ca.stderr and "--ca" in no_ca.stderr
    assert not out.exists()
