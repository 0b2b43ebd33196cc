"""What every result file records: where it was measured, and where it goes."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

from sandbox.envoy import REPO_ROOT


def timestamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def results_dir() -> Path:
    """results/ at the repository root (git-ignored), created if needed."""
    path = REPO_ROOT / "results"
    path.mkdir(exist_ok=True)
    return path


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except OSError:
        return ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def git_revision() -> str:
    head = _run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = _run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"])
    return head + ("+dirty" if dirty else "")


def machine_info() -> dict[str, object]:
    """The machine and its load at this moment (the load matters: the machine is shared)."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "load_average_1_5_15": load_average(),
        "python": platform.python_version(),
        "git": git_revision(),
    }
