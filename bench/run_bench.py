"""Load benchmark: the plugin against Envoy's native RBAC and against no filter, on loopback with wrk.

One run, one Envoy binary, one Envoy process per configuration (each with
--concurrency 1), all alive for the whole run:

  none    no filter before the router
  rbac    Envoy's RBAC filter: 403 unless header `allow` is exactly `true`
  plugin  plugin/plugin.wasm doing the same check (V8 runtime)

Each routes to the same upstream: a direct_response listener inside that same
Envoy, which answers 200 with a constant body, so the upstream costs the same
everywhere and no Python server is measured. Denials are answered by the
filter itself; the plugin is configured with RBAC's deny body, so both 403s are
byte for byte the same (only the Date header differs).

Workloads: "allowed" (every request carries `allow: true`; all three
configurations return the same upstream response) and "denied" (no header: rbac
and plugin answer 403; none passes it to the upstream, which is what the same
request costs with no filter at all). Two phases per case:

  throughput  --connections (default 16) connections, enough to keep Envoy's
              one worker busy: requests/s, and p50/p99 with queueing in them;
  latency     --latency-connections (default 1): the latency of one request
              at a time, where a filter's added cost shows directly.

Envoy (all its threads) is pinned to CPU 0 and wrk to CPU 1 (--no-pin to let
the scheduler place them): unpinned, a one-connection run is twice as fast
when both happen to share a core, which swamps what is measured.

Every case runs once per round; the order rotates from round to round, so
noise on this shared machine spreads over all cases instead of one. Ratios
(plugin/rbac, plugin/none) and p99 differences are taken within a round and
summarised as median and min-max over rounds. Each run is checked against
Envoy's own counters (right status class, no 5xx) and wrk's (no socket
errors), see the exit codes below. Besides wrk's figures, each run records
Envoy's CPU time per request (all its threads, /proc/<pid>/task/*/schedstat),
which other work on the machine disturbs far less than requests/s or p99.

    venv/bin/python -m bench.run_bench                       # 5 rounds x 10 s (+5 s latency) per case
    venv/bin/python -m bench.run_bench --rounds 3 --duration 5
    venv/bin/python -m bench.run_bench --compare-wasm old=/tmp/old.wasm   # an extra plugin build, same run

Then the load phase (--load-runs, default 5; 0 skips it): for each module, an Envoy
that gets its filter over ECDS, as an Istio proxy does, is sent a new build of the
module (the same code plus a nonce, so Envoy cannot reuse its compiled copy) with a
new deny body; the figure is the time from writing the update to the first denial
that carries the new body: mostly V8 compiling the module, the Envoy part of a
rollout through the mesh (docs/benchmarks.md, "Rollout through the mesh").

Writes results/bench-<timestamp>.{json,md}. Exit code 0 when every run was
valid, whether or not the targets were met (the verdict is printed and written);
2 when a run got wrong answers (status class, 5xx) or an Envoy died. A run
with socket errors (connect/read/write/timeout, which a stall of this shared
machine can cause) is discarded: listed, and left out of every summary.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.envoy_wheels import envoy_version
from bench.report import load_average, machine_info, results_dir, timestamp
from bench.wasmbin import with_nonce
from bench.wrk import WrkResult, ensure_wrk, run_wrk
from sandbox.envoy import (
    DIRECT_RESPONSE_BODY,
    RBAC_DENY_BODY,
    Envoy,
    FilterKind,
    Response,
    envoy_bin,
    plugin_wasm,
    run_envoy,
)

# Targets from the issue "Plugin performance and robustness".
TARGET_RPS_RATIO = 0.90  # plugin throughput >= 0.90 x native RBAC
TARGET_P99_DELTA_US = 50.0  # plugin p99 <= native RBAC p99 + 50 us

# Same answer as RBAC's for a denial; everything else is the plugin's default.
PLUGIN_CONFIG = json.dumps({"denyBody": RBAC_DENY_BODY})
ALLOW_HEADER = ("allow", "true")
HCM = "http.ingress_http."
PHASES = ("throughput", "latency")


@dataclass(frozen=True)
class Config:
    name: str  # none, rbac, plugin, or a --compare-wasm label
    http_filter: FilterKind
    wasm: Path | None = None
    denies: bool = True  # has a denied workload (and must answer it like RBAC)


@dataclass(frozen=True)
class Case:
    config: str
    workload: str  # allowed | denied
    passes_all: bool = False  # no filter: a denied request reaches the upstream too

    @property
    def name(self) -> str:
        return f"{self.config}/{self.workload}"

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [ALLOW_HEADER] if self.workload == "allowed" else []

    @property
    def status_class(self) -> str:
        return "2xx" if self.workload == "allowed" or self.passes_all else "4xx"


@dataclass
class Run:
    round: int
    phase: str
    case: str
    wrk: WrkResult
    # Envoy's CPU time (all its threads) during the run, per response wrk read:
    # unlike requests/s, it barely depends on what else the machine is doing.
    cpu_us_per_request: float
    valid: bool
    problems: list[str] = field(default_factory=list)
    # Only socket errors: the answers seen were right, the run is just not usable.
    discarded: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "round": self.round,
            "phase": self.phase,
            "case": self.case,
            **self.wrk.to_dict(),
            "envoy_cpu_us_per_request": self.cpu_us_per_request,
            "valid": self.valid,
            "discarded": self.discarded,
            "problems": self.problems,
        }


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of pid so far, in ns (/proc/<pid>/task/*/schedstat, Linux)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread may end meanwhile
            total += int(stat.read_text().split()[0])
    return total


def cases_for(configs: list[Config]) -> list[Case]:
    cases = []
    for c in configs:
        cases.append(Case(c.name, "allowed"))
        if c.denies:
            cases.append(Case(c.name, "denied", passes_all=c.http_filter == "none"))
    return cases


def rotated(items: list[Case], by: int) -> list[Case]:
    by %= len(items)
    return items[by:] + items[:by]


def status_counts(envoy: Envoy) -> dict[str, int]:
    stats = envoy.stats(HCM + "downstream_rq_")
    return {k: stats.get(HCM + "downstream_rq_" + k, 0) for k in ("2xx", "3xx", "4xx", "5xx")}


def settled_counts(envoy: Envoy, timeout_s: float = 2.0) -> dict[str, int]:
    """status_counts once two reads 50 ms apart agree: on a loaded machine Envoy may still be
    finishing the previous run's last requests, which would count against this one."""
    deadline = time.monotonic() + timeout_s
    last = status_counts(envoy)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = status_counts(envoy)
        if now == last:
            break
        last = now
    return last


def measure(envoy: Envoy, case: Case, *, connections: int, duration_s: float, wrk_cpu: int | None) -> Run:
    """One wrk run of one case, checked against Envoy's counters."""
    before = settled_counts(envoy)
    cpu_before = cpu_ns(envoy.pid)
    result = run_wrk(
        f"http://127.0.0.1:{envoy.listen_port}/bench",
        connections=connections,
        duration_s=duration_s,
        headers=case.headers,
        cpu=wrk_cpu,
    )
    cpu = cpu_ns(envoy.pid) - cpu_before
    after = status_counts(envoy)
    delta = {k: after[k] - before[k] for k in after}
    problems = []
    if not envoy.alive():
        problems.append("Envoy exited")
    socket_problem = f"socket errors {result.socket_error_kinds}" if result.socket_errors else ""
    wrong = sum(v for k, v in delta.items() if k != case.status_class)
    if wrong:
        problems.append(f"{wrong} responses outside {case.status_class}: {delta}")
    # wrk counts the responses it read; Envoy may finish a few more as wrk stops.
    if delta[case.status_class] < result.requests:
        problems.append(f"Envoy counted {delta[case.status_class]} {case.status_class}, wrk {result.requests}")
    expected_non_2xx = result.requests if case.status_class == "4xx" else 0
    if result.non_2xx_3xx != expected_non_2xx:
        problems.append(f"wrk saw {result.non_2xx_3xx} non-2xx/3xx responses, want {expected_non_2xx}")
    cpu_per_request = cpu / 1000 / result.requests if result.requests else 0.0
    discarded = bool(socket_problem) and not problems
    if socket_problem:
        problems.append(socket_problem)
    return Run(0, "", case.name, result, cpu_per_request, not problems, problems, discarded)


def check_equivalence(envoys: dict[str, Envoy], allowed_only: set[str]) -> list[str]:
    """Every configuration answers an allowed request with the same upstream response, and
    every filter answers a denied one with the same 403."""
    problems = []
    want_allowed = (200, "text/plain", DIRECT_RESPONSE_BODY.encode())
    want_denied = (403, "text/plain", RBAC_DENY_BODY.encode())

    def key(r: Response) -> tuple[int, str, bytes]:
        return r.status, r.headers.get("content-type", ""), r.body

    for name, envoy in envoys.items():
        got = key(envoy.get("/bench", [ALLOW_HEADER]))
        if got != want_allowed:
            problems.append(f"{name}, allowed: got {got}, want {want_allowed}")
        if name in allowed_only:
            continue
        denied = envoy.get("/bench")
        if name != "none" and key(denied) != want_denied:
            problems.append(f"{name}, denied: got {key(denied)}, want {want_denied}")
        if name == "none" and key(denied) != want_allowed:
            problems.append(f"none without the header: got {key(denied)}, want {want_allowed}")
    return problems


def pin_process(pid: int, cpu: int) -> None:
    """Pin every thread of pid to one CPU (taskset -a)."""
    argv = ["taskset", "--all-tasks", "--cpu-list", "--pid", str(cpu), str(pid)]
    subprocess.run(argv, check=True, capture_output=True)


@contextlib.contextmanager
def start_envoys(configs: list[Config], log_dir: Path, envoy_cpu: int | None) -> Iterator[dict[str, Envoy]]:
    with contextlib.ExitStack() as stack:
        envoys = {}
        for c in configs:
            envoys[c.name] = stack.enter_context(
                run_envoy(
                    log_dir,
                    None,
                    PLUGIN_CONFIG if c.http_filter == "wasm" else "",
                    http_filter=c.http_filter,
                    wasm_path=c.wasm,
                    quiet=True,
                    name=f"envoy-{c.name}",
                )
            )
            if envoy_cpu is not None:
                pin_process(envoys[c.name].pid, envoy_cpu)
        yield envoys


def load_times(configs: list[Config], runs: int, work: Path, only: set[str] | None = None) -> dict[str, list[float]]:
    """Seconds from an ECDS update with a new build of each module to its first answer.

    One Envoy per module, not pinned (like a proxy in the mesh), each started with the module
    over ECDS. Each run writes an update with the module plus a new nonce (new bytes, so Envoy
    compiles it afresh rather than reuse the copy it has) and a new deny body, and polls a
    denied request every 5 ms until the body is the new one. Modules take turns, rotated.
    """
    wasm_configs = [c for c in configs if c.wasm is not None and c.denies and (only is None or c.name in only)]
    out: dict[str, list[float]] = {c.name: [] for c in wasm_configs}

    def update(c: Config, n: int) -> tuple[Path, str]:
        assert c.wasm is not None
        module = work / f"load-{c.name}-{n}.wasm"
        module.write_bytes(with_nonce(c.wasm.read_bytes(), f"{c.name}-{n}-{time.time_ns()}"))
        return module, json.dumps({"denyBody": f"{RBAC_DENY_BODY} (load {n})"})

    with contextlib.ExitStack() as stack:
        envoys = {}
        for c in wasm_configs:
            module, config = update(c, 0)
            own = work / f"load-{c.name}"  # each its own ecds.json
            own.mkdir()
            envoys[c.name] = stack.enter_context(
                run_envoy(own, None, config, delivery="ecds", wasm_path=module, quiet=True, name=f"load-{c.name}")
            )
        for n in range(1, runs + 1):
            for c in wasm_configs[n % len(wasm_configs) :] + wasm_configs[: n % len(wasm_configs)]:
                envoy = envoys[c.name]
                module, config = update(c, n)
                want = json.loads(config)["denyBody"].encode()
                started = time.monotonic()
                envoy.push_plugin_config(config, module)
                while envoy.get("/bench").body != want:
                    if time.monotonic() - started > 60:
                        raise RuntimeError(f"load {c.name}: the update with {module} never answered")
                    time.sleep(0.005)
                out[c.name].append(time.monotonic() - started)
                module.unlink()
                print(f"load {n} {c.name:18} {out[c.name][-1]:6.2f} s", flush=True)
    return out


def summarize(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def per_round(runs: list[Run], phase: str, case: str) -> dict[int, Run]:
    return {r.round: r for r in runs if r.phase == phase and r.case == case and r.valid}


def comparisons(runs: list[Run], plugin: str, baselines: list[str], workloads: list[str]) -> list[dict[str, object]]:
    """Within-round ratios and p99 differences of plugin against each baseline."""
    out: list[dict[str, object]] = []
    for phase in PHASES:
        for workload in workloads:
            mine = per_round(runs, phase, f"{plugin}/{workload}")
            for base in baselines:
                theirs = per_round(runs, phase, f"{base}/{workload}")
                rounds = sorted(set(mine) & set(theirs))
                if not rounds:
                    continue
                ratios = [mine[r].wrk.rps / theirs[r].wrk.rps for r in rounds]
                p99_deltas = [mine[r].wrk.p99_us - theirs[r].wrk.p99_us for r in rounds]
                p50_deltas = [mine[r].wrk.p50_us - theirs[r].wrk.p50_us for r in rounds]
                cpu_deltas = [mine[r].cpu_us_per_request - theirs[r].cpu_us_per_request for r in rounds]
                out.append(
                    {
                        "phase": phase,
                        "workload": workload,
                        "plugin": plugin,
                        "baseline": base,
                        "rps_ratio": summarize(ratios),
                        "p50_delta_us": summarize(p50_deltas),
                        "p99_delta_us": summarize(p99_deltas),
                        "cpu_delta_us_per_request": summarize(cpu_deltas),
                        "rounds": len(rounds),
                    }
                )
    return out


def verdicts(comps: list[dict[str, object]], plugin: str) -> list[dict[str, object]]:
    """The issue's targets, against native RBAC, judged on the medians over rounds."""
    out: list[dict[str, object]] = []
    for c in comps:
        if c["plugin"] != plugin or c["baseline"] != "rbac":
            continue
        ratio = c["rps_ratio"]["median"]  # type: ignore[index]
        delta = c["p99_delta_us"]["median"]  # type: ignore[index]
        worst_ratio = c["rps_ratio"]["min"]  # type: ignore[index]
        worst_delta = c["p99_delta_us"]["max"]  # type: ignore[index]
        if c["phase"] == "throughput":
            out.append(
                {
                    "target": f"throughput >= {TARGET_RPS_RATIO:.2f} x RBAC ({c['workload']})",
                    "median": ratio,
                    "worst_round": worst_ratio,
                    "met": ratio >= TARGET_RPS_RATIO,
                }
            )
        out.append(
            {
                "target": f"p99 <= RBAC + {TARGET_P99_DELTA_US:.0f} us ({c['workload']}, {c['phase']} phase)",
                "median": delta,
                "worst_round": worst_delta,
                "met": delta <= TARGET_P99_DELTA_US,
            }
        )
    return out


def _mm(s: dict[str, float], fmt: str) -> str:
    return f"{s['median']:{fmt}} ({s['min']:{fmt}} to {s['max']:{fmt}})"


def markdown(doc: dict[str, object]) -> str:
    params = doc["parameters"]
    lines = [
        f"# Benchmark {doc['timestamp']}",
        "",
        f"Envoy {doc['envoy_version']} (`--concurrency 1`, V8), plugin `{doc['wasm']['path']}` "
        f"({doc['wasm']['size']:,} bytes, sha256 {doc['wasm']['sha256'][:12]}…), git {doc['machine']['git']}.",  # type: ignore[index]
        f"Machine: {doc['machine']['cpus']} CPUs ({doc['machine']['cpu_model']}), load average "  # type: ignore[index]
        f"{doc['load_average_before']} before, {doc['load_average_after']} after; shared with other work.",
        f"wrk: 1 thread; {params['connections']} connections x {params['duration_s']} s (throughput), "  # type: ignore[index]
        f"{params['latency_connections']} x {params['latency_duration_s']} s (latency); "  # type: ignore[index]
        f"{params['rounds']} rounds, order rotated each round; pinned: {params['pin']}.",  # type: ignore[index]
        "",
        "Median over rounds, (min to max) in brackets.",
        "",
    ]
    for phase in doc["summary"]:  # type: ignore[attr-defined]
        lines += [
            f"## {phase} phase",
            "",
            "| case | requests/s | p50 µs | p99 µs | Envoy CPU µs/request |",
            "| --- | --- | --- | --- | --- |",
        ]
        for case, s in doc["summary"][phase].items():  # type: ignore[index]
            cells = [_mm(s["rps"], ",.0f"), _mm(s["p50_us"], ".0f"), _mm(s["p99_us"], ".0f"), _mm(s["cpu_us"], ".1f")]
            lines.append(f"| {case} | {' | '.join(cells)} |")
        lines.append("")
    lines += [
        "## What users feel (throughput phase; within each round, median and min to max)",
        "",
        "| build | workload | requests/s ÷ RBAC | ÷ no filter | Envoy CPU µs/request over RBAC | over no filter |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    comps = {(c["phase"], c["workload"], c["plugin"], c["baseline"]): c for c in doc["comparisons"]}  # type: ignore[attr-defined]
    for build in doc["builds"]:  # type: ignore[attr-defined]
        for workload in ("allowed", "denied"):
            rbac, none = comps.get(("throughput", workload, build, "rbac")), comps.get(
                ("throughput", workload, build, "none")
            )
            if rbac is None or none is None:
                continue
            lines.append(
                f"| {build} | {workload} | {_mm(rbac['rps_ratio'], '.3f')} | {_mm(none['rps_ratio'], '.3f')} | "
                f"{_mm(rbac['cpu_delta_us_per_request'], '+.1f')} | {_mm(none['cpu_delta_us_per_request'], '+.1f')} |"
            )
    if doc.get("load_s"):
        lines += [
            "",
            "## Load: an ECDS update with a new build to its first answer (s, median and min to max)",
            "",
            "| build | bytes | seconds |",
            "| --- | --- | --- |",
        ]
        for build, values in doc["load_s"].items():  # type: ignore[attr-defined]
            lines.append(f"| {build} | {doc['sizes'][build]:,} | {_mm(summarize(values), '.2f')} |")  # type: ignore[index]
    lines += [
        "",
        "## Plugin against the baselines (within each round)",
        "",
        "| phase | workload | plugin ÷ baseline | throughput ratio | p50 Δ µs | p99 Δ µs | CPU Δ µs/request |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in doc["comparisons"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {c['phase']} | {c['workload']} | {c['plugin']} ÷ {c['baseline']} | {_mm(c['rps_ratio'], '.3f')} | "
            f"{_mm(c['p50_delta_us'], '+.0f')} | {_mm(c['p99_delta_us'], '+.0f')} | "
            f"{_mm(c['cpu_delta_us_per_request'], '+.1f')} |"
        )
    lines += ["", "## Targets (plugin against native RBAC, medians over rounds)", ""]
    lines += ["| target | median | worst round | met? |", "| --- | --- | --- | --- |"]
    for v in doc["verdicts"]:  # type: ignore[attr-defined]
        fmt = ".3f" if "throughput >=" in v["target"] else "+.0f"
        met = "yes" if v["met"] else "**no**"
        lines.append(f"| {v['target']} | {v['median']:{fmt}} | {v['worst_round']:{fmt}} | {met} |")
    invalid = [r for r in doc["runs"] if not r["valid"]]  # type: ignore[attr-defined]
    lines += ["", f"Runs left out of every figure above: {len(invalid)}."]
    lines += [f"- round {r['round']} {r['phase']} {r['case']}: {'; '.join(r['problems'])}" for r in invalid]
    return "\n".join(lines) + "\n"


def print_summary(doc: dict[str, object]) -> None:
    print()
    print(markdown(doc))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_compare(values: list[str], denies: bool) -> list[Config]:
    configs = []
    for v in values:
        label, sep, path = v.partition("=")
        if not sep or not label or label in ("none", "rbac", "plugin") or not Path(path).is_file():
            raise SystemExit(f"--compare-wasm {v!r}: want LABEL=PATH to an existing .wasm, LABEL not none/rbac/plugin")
        configs.append(Config(label, "wasm", Path(path).resolve(), denies))
    return configs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per throughput run (default 10)")
    parser.add_argument("--latency-duration", type=float, default=5.0, help="seconds per latency run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="connections, throughput phase (default 16)")
    parser.add_argument("--latency-connections", type=int, default=1, help="connections, latency phase (default 1)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load per case before round 1")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency phase")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin (by default every Envoy runs on CPU 0 and wrk on CPU 1, with taskset)",
    )
    parser.add_argument("--wasm", type=Path, default=None, help="plugin module (default: PLUGIN_WASM or plugin.wasm)")
    parser.add_argument(
        "--compare-wasm", action="append", default=[], metavar="LABEL=PATH", help="another plugin build to measure too"
    )
    parser.add_argument(
        "--compare-allowed-only",
        action="store_true",
        help="run the --compare-wasm builds on the allowed workload only (e.g. a build that never denies)",
    )
    parser.add_argument(
        "--load-runs", type=int, default=5, help="ECDS updates per module in the load phase (default 5; 0: none)"
    )
    parser.add_argument(
        "--load-builds", nargs="+", metavar="LABEL", help="the builds to load-time (default: every plugin build)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write nothing under results/")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    ensure_wrk()
    wasm = (args.wasm or plugin_wasm()).resolve()
    extra = parse_compare(args.compare_wasm, denies=not args.compare_allowed_only)
    configs = [Config("none", "none"), Config("rbac", "rbac"), Config("plugin", "wasm", wasm), *extra]
    cases = cases_for(configs)
    phases = ("throughput",) if args.no_latency else PHASES
    envoy_cpu, wrk_cpu = (0, 1) if args.pin else (None, None)
    binary = envoy_bin()
    started = timestamp()
    load_before = load_average()
    per_run = {
        "throughput": (args.connections, args.duration),
        "latency": (args.latency_connections, args.latency_duration),
    }
    eta = args.rounds * len(cases) * sum(per_run[p][1] + 0.5 for p in phases) + len(cases) * args.warmup
    print(
        f"Envoy {envoy_version(binary)} ({binary}); plugin {wasm}; cases {', '.join(c.name for c in cases)}; "
        f"{args.rounds} rounds; about {eta / 60:.1f} min",
        flush=True,
    )

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, start_envoys(configs, Path(tmp), envoy_cpu) as envoys:
        if problems := check_equivalence(envoys, {c.name for c in configs if not c.denies}):
            print("the configurations do not answer alike:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 2
        for case in cases:  # warm-up: connections, V8 tier-up, allocator pools
            if args.warmup > 0:
                run_wrk(
                    f"http://127.0.0.1:{envoys[case.config].listen_port}/bench",
                    connections=args.connections,
                    duration_s=args.warmup,
                    headers=case.headers,
                    cpu=wrk_cpu,
                )
        for rnd in range(1, args.rounds + 1):
            for case in rotated(cases, rnd - 1):
                for phase in phases:
                    connections, duration = per_run[phase]
                    run = measure(
                        envoys[case.config], case, connections=connections, duration_s=duration, wrk_cpu=wrk_cpu
                    )
                    run.round, run.phase = rnd, phase
                    runs.append(run)
                    flag = "" if run.valid else ("  DISCARDED: " if run.discarded else "  WRONG: ") + "; ".join(
                        run.problems
                    )
                    print(
                        f"round {rnd} {phase:10} {case.name:18} {run.wrk.rps:9,.0f} req/s  "
                        f"p50 {run.wrk.p50_us:6.0f} us  p99 {run.wrk.p99_us:6.0f} us  "
                        f"cpu {run.cpu_us_per_request:5.1f} us/req{flag}",
                        flush=True,
                    )
        alive = {name: e.alive() for name, e in envoys.items()}
        only = set(args.load_builds) if args.load_builds else None
        loads = load_times(configs, args.load_runs, Path(tmp), only) if args.load_runs > 0 else {}

    summary: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for phase in phases:
        summary[phase] = {}
        for case in cases:
            mine = [r for r in runs if r.phase == phase and r.case == case.name and r.valid]
            if not mine:
                continue
            summary[phase][case.name] = {
                "rps": summarize([r.wrk.rps for r in mine]),
                "p50_us": summarize([r.wrk.p50_us for r in mine]),
                "p99_us": summarize([r.wrk.p99_us for r in mine]),
                "cpu_us": summarize([r.cpu_us_per_request for r in mine]),
            }
    plugins = ["plugin", *(c.name for c in extra)]
    comps = []
    for p in plugins:
        comps += comparisons(runs, p, ["rbac", "none"], ["allowed", "denied"])
    if extra:  # the extra builds against the main one, too
        for c in extra:
            comps += comparisons(runs, c.name, ["plugin"], ["allowed", "denied"])
    doc: dict[str, object] = {
        "kind": "bench",
        "timestamp": started,
        "envoy": str(binary),
        "envoy_version": envoy_version(binary),
        "wasm": {"path": str(wasm), "size": wasm.stat().st_size, "sha256": sha256(wasm)},
        "compare_wasm": {c.name: {"path": str(c.wasm), "size": c.wasm.stat().st_size} for c in extra if c.wasm},
        "builds": plugins,
        "sizes": {c.name: c.wasm.stat().st_size for c in configs if c.wasm},
        "load_s": loads,
        "plugin_config": PLUGIN_CONFIG,
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "parameters": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "latency_duration_s": args.latency_duration,
            "connections": args.connections,
            "latency_connections": args.latency_connections,
            "warmup_s": args.warmup,
            "wrk_threads": 1,
            "envoy_concurrency": 1,
            "pin": args.pin,
            "phases": list(phases),
        },
        "runs": [r.to_dict() for r in runs],
        "summary": summary,
        "comparisons": comps,
        "verdicts": verdicts(comps, "plugin"),
        "envoys_alive_at_end": alive,
    }
    print_summary(doc)
    if not args.no_write:
        out = results_dir()
        (out / f"bench-{started}.json").write_text(json.dumps(doc, indent=2) + "\n")
        (out / f"bench-{started}.md").write_text(markdown(doc))
        print(f"wrote {out / f'bench-{started}.json'} and .md")
    met = all(v["met"] for v in doc["verdicts"])  # type: ignore[attr-defined]
    print(f"targets {'MET' if met else 'NOT MET'} (see the table above)")
    wrong = [r for r in runs if not r.valid and not r.discarded]
    discarded = [r for r in runs if r.discarded]
    if discarded:
        print(f"{len(discarded)} runs discarded for socket errors (left out of every figure)", file=sys.stderr)
    if wrong or not all(alive.values()):
        print(f"{len(wrong)} runs with wrong answers; Envoys alive at the end: {alive}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
