"""Helpers for tests that use the sandbox OCI registry (scripts/registry-up.sh).

The registry stands in for ACR Enterprise Edition: TLS with a sandbox CA and
htpasswd auth. Its env file, ``$SANDBOX_DIR/registry/env``, holds shell lines
``REGISTRY_HOST``, ``REGISTRY_USERNAME``, ``REGISTRY_PASSWORD`` and ``REGISTRY_CA``.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import ssl
import subprocess
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))


@dataclass(frozen=True)
class StoredImage:
    """An image as the registry holds it: what a puller (Istio's agent) gets."""

    manifest: dict[str, Any]
    config: dict[str, Any]
    layers: list[bytes]

    def _tars(self) -> list[tarfile.TarFile]:
        return [tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob))
                for blob in self.layers]

    def layer_files(self) -> list[list[str]]:
        """The entries of each layer's tar, in order (gzip or plain)."""
        return [tar.getnames() for tar in self._tars()]

    def file(self, name: str) -> bytes:
        """The bytes of a file in the image (the last layer that has it)."""
        for tar in reversed(self._tars()):
            if name in tar.getnames():
                member = tar.extractfile(name)
                if member is not None:
                    return member.read()
        raise KeyError(f"{name} is in no layer of the image")


def _get(reg: RegistryEnv, path: str, accept: str = "*/*") -> bytes:
    ctx = ssl.create_default_context(cafile=str(reg.ca))
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    req = urllib.request.Request(f"https://{reg.host}/v2/{path}",
                                 headers={"Authorization": f"Basic {auth}", "Accept": accept})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
        return bytes(resp.read())


def read_image(reg: RegistryEnv, repository: str, reference: str) -> StoredImage:
    """The manifest, config and layers of REPOSITORY:REFERENCE (a tag or sha256:…) in the registry."""
    manifest = json.loads(_get(reg, f"{repository}/manifests/{reference}", MANIFEST_TYPES))
    config = json.loads(_get(reg, f"{repository}/blobs/{manifest['config']['digest']}"))
    layers = [_get(reg, f"{repository}/blobs/{layer['digest']}") for layer in manifest["layers"]]
    return StoredImage(manifest, config, layers)


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
