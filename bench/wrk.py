"""Drive wrk (https://github.com/wg/wrk, Debian's package) and read its results as numbers.

wrk runs a Lua script (wrk_report.lua, and wrk_mixed.lua for a mix of
allowed and denied requests) whose done() prints one JSON line; that line is
what is parsed here, so no human-readable output is scraped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORT_SCRIPT = HERE / "wrk_report.lua"
MIXED_SCRIPT = HERE / "wrk_mixed.lua"
ENSURE_WRK = HERE / "ensure-wrk.sh"
JSON_MARKER = "WRK_JSON "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result."""


def ensure_wrk() -> str:
    """The path of wrk, installing it with ensure-wrk.sh if needed; raises if that fails."""
    proc = subprocess.run(["sh", str(ENSURE_WRK)], capture_output=True, text=True, check=False)
    path = shutil.which("wrk")
    if proc.returncode != 0 or path is None:
        raise WrkError(f"wrk is not available and could not be installed:\n{proc.stderr.strip()}")
    return path


@dataclass(frozen=True)
class WrkResult:
    requests: int  # responses received, any status
    duration_s: float
    rps: float
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    # Socket-level errors (connect/read/write/timeout): a healthy run has none.
    socket_errors: int
    # Responses with a status outside 2xx/3xx (wrk's "Non-2xx or 3xx responses").
    non_2xx_3xx: int
    # socket_errors by kind, e.g. {"connect": 0, "read": 16, "write": 0, "timeout": 0}.
    socket_error_kinds: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    headers: list[tuple[str, str]] | None = None,
    threads: int = 1,
    script: Path = REPORT_SCRIPT,
    timeout_s: float = 5.0,
    cpu: int | None = None,
) -> WrkResult:
    """One wrk run against url; headers go on every request.

    threads=1 by default: on a 2-core machine one core is Envoy's worker and
    the other is wrk's. cpu pins wrk to that CPU (taskset) when given.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkError("wrk is not on PATH: run bench/ensure-wrk.sh")
    argv = [
        wrk,
        f"--threads={threads}",
        f"--connections={max(connections, threads)}",
        f"--duration={max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        f"--script={script}",
    ]
    for name, value in headers or []:
        argv += ["--header", f"{name}: {value}"]
    argv.append(url)
    if cpu is not None:
        argv = ["taskset", "--cpu-list", str(cpu), *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if proc.returncode != 0:
        raise WrkError(f"wrk exited with {proc.returncode}: {proc.stderr.strip()}\n{proc.stdout.strip()}")
    return parse_report(proc.stdout)


def parse_report(stdout: str) -> WrkResult:
    """The WrkResult from the JSON line that the Lua scripts' done() prints."""
    for line in stdout.splitlines():
        if line.startswith(JSON_MARKER):
            raw = json.loads(line[len(JSON_MARKER) :])
            break
    else:
        raise WrkError(f"no {JSON_MARKER.strip()} line in the wrk output:\n{stdout}")
    duration_s = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return WrkResult(
        requests=int(raw["requests"]),
        duration_s=duration_s,
        rps=raw["requests"] / duration_s if duration_s > 0 else 0.0,
        p50_us=float(raw["p50_us"]),
        p90_us=float(raw["p90_us"]),
        p99_us=float(raw["p99_us"]),
        max_us=float(raw["max_us"]),
        socket_errors=int(errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]),
        non_2xx_3xx=int(errors["status"]),
        socket_error_kinds={k: int(errors[k]) for k in ("connect", "read", "write", "timeout")},
    )
