"""Helpers for tests that use the sandbox OCI registry (scripts/registry-up.sh).

The registry stands in for ACR Enterprise Edition: TLS with a sandbox CA and
htpasswd auth. Its env file, ``$SANDBOX_DIR/registry/env``, holds shell lines
``REGISTRY_HOST``, ``REGISTRY_USERNAME``, ``REGISTRY_PASSWORD`` and ``REGISTRY_CA``.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sandbox.envfile import parse_env, sandbox_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = REPO_ROOT / "scripts"


def env_file() -> Path:
    return sandbox_dir() / "registry" / "env"


@dataclass(frozen=True)
class RegistryEnv:
    host: str  # 127.0.0.1:PORT
    username: str
    password: str
    ca: Path

    def ref(self, repo_and_tag: str) -> str:
        """``HOST/<repo_and_tag>``."""
        return f"{self.host}/{repo_and_tag}"


def read_env(path: Path | None = None) -> RegistryEnv:
    path = path or env_file()
    values = parse_env(path.read_text())
    try:
        return RegistryEnv(
            host=values["REGISTRY_HOST"],
            username=values["REGISTRY_USERNAME"],
            password=values["REGISTRY_PASSWORD"],
            ca=Path(values["REGISTRY_CA"]),
        )
    except KeyError as e:
        raise ValueError(f"{path}: missing {e.args[0]}") from None


def dockerconfigjson(host: str, username: str, password: str) -> str:
    """The ``.dockerconfigjson`` of a ``kubernetes.io/dockerconfigjson`` pull Secret."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    entry = {"username": username, "password": password, "auth": auth}
    return json.dumps({"auths": {host: entry}}, indent=2)


def v2_status(reg: RegistryEnv, timeout: float = 3.0) -> int | None:
    """HTTP status of an anonymous ``GET /v2/`` (401 when up), None if unreachable."""
    ctx = ssl.create_default_context(cafile=str(reg.ca))
    try:
        with urllib.request.urlopen(f"https://{reg.host}/v2/", context=ctx, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ssl.SSLError):
        return None


def running_registry() -> RegistryEnv | None:
    """The sandbox registry if its env file exists and it answers, else None."""
    path = env_file()
    if not path.exists():
        return None
    try:
        reg = read_env(path)
    except ValueError:
        return None
    return reg if v2_status(reg) == 401 else None


def registry_up() -> RegistryEnv:
    subprocess.run(["bash", str(SCRIPTS / "registry-up.sh")], check=True)
    return read_env()


def registry_down() -> None:
    subprocess.run(["bash", str(SCRIPTS / "registry-down.sh")], check=True)


def build_ocitool() -> Path:
    """Build (or reuse) tools/ocitool and return the binary's path."""
    out = subprocess.run(
        ["bash", str(SCRIPTS / "build-ocitool.sh")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])
