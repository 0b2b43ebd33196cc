"""The configuration error and how a key is named in it: shared by settings.py and the modules it uses."""

from __future__ import annotations

PROJECT = "asm-wasm-plugin"


class ConfigError(ValueError):
    """A stack configuration value that cannot be used."""


def key_name(name: str) -> str:
    return f"{PROJECT}:{name}"
