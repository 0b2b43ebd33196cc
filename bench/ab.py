"""Head to head: two builds under load at the same moment, sharing one CPU.

run_bench measures one case after another. On this shared machine the load from other work
changes from one second to the next, so two cases measured a few seconds apart differ by more
than the 1-2 µs per request that separate two builds of the plugin. Here the two Envoys of a
pair run at the same time, both pinned to CPU 0, each driven by its own wrk (both on CPU 1)
with the same number of connections. Both are kept busy, so the scheduler gives each the same
share of CPU 0, and whatever else runs on the machine slows both alike:

  requests/s of A ÷ requests/s of B   the throughput ratio (B's cost per request ÷ A's)
  Envoy CPU µs/request, A - B          from each Envoy's own CPU time in the same window

Every pair runs once per round, on each workload, sides swapped every other round; the figures
are the median and the min-max over rounds. The same checks as run_bench: every answer of the
right status class, no 5xx, no socket errors.

    venv/bin/python -m bench.ab --build raw=bench/rawabi/rawabi.wasm --pair plugin:raw --pair plugin:rbac
    venv/bin/python -m bench.ab --build before=/tmp/before.wasm --pair plugin:before --rounds 10

Builds: plugin (plugin/plugin.wasm, or --wasm), rbac and none (as in run_bench), and each
--build LABEL=PATH. Writes results/ab-<timestamp>.{json,md}; exit code 2 on wrong answers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.envoy_wheels import envoy_version
from bench.report import load_average, machine_info, results_dir, timestamp
from bench.run_bench import (
    Case,
    Config,
    check_equivalence,
    measure,
    parse_compare,
    start_envoys,
)
from bench.wrk import ensure_wrk
from sandbox.envoy import Envoy, envoy_bin, plugin_wasm

ENVOY_CPU, WRK_CPU = 0, 1


def side(envoy: Envoy, case: Case, connections: int, duration_s: float) -> dict[str, object]:
    """One wrk run against one Envoy of a pair (the other runs meanwhile), checked as run_bench checks one."""
    run = measure(envoy, case, connections=connections, duration_s=duration_s, wrk_cpu=WRK_CPU)
    return {
        "case": case.name,
        "rps": run.wrk.rps,
        "requests": run.wrk.requests,
        "cpu_us_per_request": run.cpu_us_per_request,
        "problems": run.problems,
    }


def summarize(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _mm(s: dict[str, float], fmt: str) -> str:
    return f"{s['median']:{fmt}} ({s['min']:{fmt}} to {s['max']:{fmt}})"


def markdown(doc: dict[str, object]) -> str:
    params = doc["parameters"]
    lines = [
        f"# Head to head {doc['timestamp']}",
        "",
        f"Envoy {doc['envoy_version']} (`--concurrency 1`, V8); both Envoys of a pair on CPU 0, their wrk "
        f"(1 thread, {params['connections']} connections each) on CPU 1, {params['duration_s']} s per run, "  # type: ignore[index]
        f"{params['rounds']} rounds; git {doc['machine']['git']}; load average {doc['load_average_before']} before, "  # type: ignore[index]
        f"{doc['load_average_after']} after.",
        "",
        "| A : B | workload | requests/s A ÷ B | Envoy CPU µs/request A - B | A µs/request | B µs/request |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in doc["summary"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {s['a']} : {s['b']} | {s['workload']} | {_mm(s['rps_ratio'], '.3f')} | "
            f"{_mm(s['cpu_delta_us'], '+.1f')} | {_mm(s['cpu_a_us'], '.1f')} | {_mm(s['cpu_b_us'], '.1f')} |"
        )
    sizes = doc["sizes"]
    lines += ["", "Modules: " + ", ".join(f"{k} {v:,} bytes" for k, v in sizes.items()) + "."]  # type: ignore[attr-defined]
    bad = [r for r in doc["runs"] if r["problems"]]  # type: ignore[attr-defined]
    lines += ["", f"Runs left out: {len(bad)}."]
    lines += [f"- round {r['round']} {r['a']['case']} : {r['b']['case']}: {r['problems']}" for r in bad]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wasm", type=Path, default=None, help="the plugin (default: PLUGIN_WASM or plugin.wasm)")
    parser.add_argument("--build", action="append", default=[], metavar="LABEL=PATH", help="another build")
    parser.add_argument("--pair", action="append", default=[], metavar="A:B", help="compare A with B (repeatable)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run (default 3)")
    parser.add_argument("--connections", type=int, default=8, help="connections per Envoy (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load per Envoy before round 1")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    ensure_wrk()
    wasm = (args.wasm or plugin_wasm()).resolve()
    configs = [Config("none", "none"), Config("rbac", "rbac"), Config("plugin", "wasm", wasm)]
    configs += parse_compare(args.build, denies=True)
    by_name = {c.name: c for c in configs}
    pairs = [tuple(p.split(":", 1)) for p in args.pair] or [("plugin", "rbac")]
    for p in pairs:
        if len(p) != 2 or p[0] not in by_name or p[1] not in by_name or p[0] == p[1]:
            parser.error(f"--pair {':'.join(p)}: want A:B of two of {sorted(by_name)}")
    used = [c for c in configs if any(c.name in p for p in pairs)]
    binary = envoy_bin()
    started, load_before = timestamp(), load_average()
    runs: list[dict[str, object]] = []
    print(f"Envoy {envoy_version(binary)}; pairs {pairs}; {args.rounds} rounds", flush=True)
    with tempfile.TemporaryDirectory(prefix="ab-") as tmp, start_envoys(used, Path(tmp), ENVOY_CPU) as envoys:
        if problems := check_equivalence(envoys, set()):
            print("the configurations do not answer alike:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 2
        for c in used:
            for workload in ("allowed", "denied"):
                case = Case(c.name, workload, passes_all=c.http_filter == "none")
                side(envoys[c.name], case, args.connections, args.warmup)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for rnd in range(1, args.rounds + 1):
                for a, b in pairs:
                    for workload in ("allowed", "denied"):
                        ca = Case(a, workload, passes_all=by_name[a].http_filter == "none")
                        cb = Case(b, workload, passes_all=by_name[b].http_filter == "none")
                        # Which wrk starts first alternates, so neither side always gets the head start.
                        first, second = (ca, cb) if rnd % 2 else (cb, ca)
                        f1 = pool.submit(side, envoys[first.config], first, args.connections, args.duration)
                        time.sleep(0.001)
                        f2 = pool.submit(side, envoys[second.config], second, args.connections, args.duration)
                        ra, rb = (f1.result(), f2.result()) if rnd % 2 else (f2.result(), f1.result())
                        run = {"round": rnd, "workload": workload, "a": ra, "b": rb,
                               "problems": [*ra["problems"], *rb["problems"]]}  # type: ignore[misc]
                        runs.append(run)
                        print(
                            f"round {rnd} {workload:8} {a}:{b}  {ra['rps']:8,.0f} / {rb['rps']:8,.0f} req/s  "  # type: ignore[str-format]
                            f"cpu {ra['cpu_us_per_request']:5.1f} / {rb['cpu_us_per_request']:5.1f} us/req"  # type: ignore[str-format]
                            + (f"  LEFT OUT: {run['problems']}" if run["problems"] else ""),
                            flush=True,
                        )
        alive = {name: e.alive() for name, e in envoys.items()}

    summary = []
    for a, b in pairs:
        for workload in ("allowed", "denied"):
            mine = [r for r in runs if r["workload"] == workload and not r["problems"]
                    and r["a"]["case"] == f"{a}/{workload}" and r["b"]["case"] == f"{b}/{workload}"]  # type: ignore[index]
            if not mine:
                continue
            summary.append({
                "a": a, "b": b, "workload": workload, "rounds": len(mine),
                "rps_ratio": summarize([r["a"]["rps"] / r["b"]["rps"] for r in mine]),  # type: ignore[index]
                "cpu_delta_us": summarize([r["a"]["cpu_us_per_request"] - r["b"]["cpu_us_per_request"]  # type: ignore[index]
                                           for r in mine]),
                "cpu_a_us": summarize([r["a"]["cpu_us_per_request"] for r in mine]),  # type: ignore[index]
                "cpu_b_us": summarize([r["b"]["cpu_us_per_request"] for r in mine]),  # type: ignore[index]
            })
    doc: dict[str, object] = {
        "kind": "ab",
        "timestamp": started,
        "envoy_version": envoy_version(binary),
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "parameters": {"rounds": args.rounds, "duration_s": args.duration, "connections": args.connections},
        "sizes": {c.name: c.wasm.stat().st_size for c in used if c.wasm},
        "paths": {c.name: str(c.wasm) for c in used if c.wasm},
        "runs": runs,
        "summary": summary,
        "envoys_alive_at_end": alive,
    }
    text = markdown(doc)
    print("\n" + text)
    if not args.no_write:
        out = results_dir()
        (out / f"ab-{started}.json").write_text(json.dumps(doc, indent=2) + "\n")
        (out / f"ab-{started}.md").write_text(text)
        print(f"wrote {out / f'ab-{started}.json'} and .md")
    wrong = [r for r in runs if any("socket" not in p for p in r["problems"])]  # type: ignore[attr-defined]
    return 2 if wrong or not all(alive.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
