"""The KEY=value files the sandbox scripts write ($SANDBOX_DIR/*/env), values shell-quoted."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sandbox_dir() -> Path:
    return Path(os.environ.get("SANDBOX_DIR") or REPO / ".sandbox")


def parse_env(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` shell lines (values possibly shell-quoted); comments and blank lines are skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        if not sep:
            raise ValueError(f"not a KEY=value line: {line!r}")
        words = shlex.split(raw)
        values[key] = words[0] if words else ""
    return values


def read_env_file(path: Path) -> dict[str, str]:
    try:
        return parse_env(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
