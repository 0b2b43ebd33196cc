"""Rollout time through the real mesh: from the start of `pulumi up` to the gateway's new behaviour.

On the mesh sandbox (sandbox/mesh.py: istiod + an `istio: ingressgateway`), a stack of its own
alternates between two builds of the plugin that deny with different bodies. Each round changes
`imageRef`, runs `pulumi up`, and polls the gateway every 20 ms until a denied request carries the
new body: istiod's push, the agent's pull from the registry (TLS, the pull Secret), V8's compile,
Envoy's extension config update, all in the figure. The first round also times the plugin's
first arrival (no WasmPlugin before it).

    make rollout                                    # on a sandbox of its own ($SANDBOX_DIR/bench), then stopped
    make rollout ROLLOUT_ARGS="--plugin-dir /tmp/old/plugin"   # another plugin source (e.g. an older commit)
    venv/bin/python -m bench.rollout --rounds 10    # on the running sandbox (scripts/sandbox-up.sh); starts the mesh

Writes results/rollout-<timestamp>.{json,md}; destroys its stack at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.report import load_average, machine_info, results_dir, timestamp
from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import REPO, Sandbox, build_plugin_variant, configure, local_stack, push_plugin
from sandbox.mesh import Rollout, time_rollout

PLUGIN = "bench-rollout"
REPOSITORY = "test-oci/bench-rollout"
BODIES = ("Forbidden by ASM Wasm Plugin (build A)", "Forbidden by ASM Wasm Plugin (build B)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6, help="rollouts after the first arrival (default 6)")
    parser.add_argument("--plugin-dir", type=Path, default=REPO / "plugin",
                        help="the plugin source to build the two variants from (default plugin/)")
    args = parser.parse_args(argv)

    sb = Sandbox.running()
    mesh = mesh_sandbox.up(sb)
    if others := mesh_sandbox.other_wasm_plugins(sb.api, PLUGIN):
        print(f"rollout: error: WasmPlugins {others} in {mesh_sandbox.NAMESPACE} act on the gateway too and would "
              f"answer first; run on a sandbox without them (make rollout uses its own)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="rollout-"))
    refs = []
    for i, body in enumerate(BODIES):
        wasm = build_plugin_variant(work / f"build-{i}", body, args.plugin_dir)
        refs.append(push_plugin(sb, wasm, repository=REPOSITORY, tag=f"build-{i}").ref)
    results: list[tuple[str, Rollout]] = []
    # Without the gateway checks (what `pulumi up` cost before them), then with them and a canary:
    # `pulumi up` then returns only once both gateways are verified running the new build.
    for mode, extra in (("unverified", {"verify.enabled": "false"}),
                        ("checked", {}),
                        ("verified", {"canarySelector.istio": "ingressgateway-canary"})):
        stack = local_stack(sb, state_dir=work / f"pulumi-{mode}")
        # Each build's deny body also in pluginConfig, so that the gateway check expects the body
        # the build answers with (it derives its expectations from pluginConfig).
        configure(stack, sb, refs[0], {"pluginName": PLUGIN, "pullSecretName": f"{PLUGIN}-secret",
                                       "pluginConfig.denyBody": BODIES[0], **extra})
        try:
            first = time_rollout(mesh, stack.up, lambda status, body: body == BODIES[0].encode())
            results.append((f"{mode}: first arrival", first))
            print(f"{mode}: first arrival: up {first.applied_after:.2f}s, gateway {first.seen_after:.2f}s", flush=True)
            for n in range(args.rounds):
                target = (n + 1) % 2
                stack.set_config({"imageRef": refs[target], "pluginConfig.denyBody": BODIES[target]})
                want = BODIES[target].encode()
                r = time_rollout(mesh, stack.up, lambda status, body, want=want: body == want)
                results.append((f"{mode}: round {n + 1}", r))
                print(f"{mode}: round {n + 1}: up {r.applied_after:.2f}s, gateway {r.seen_after:.2f}s", flush=True)
        finally:
            stack.destroy(check=False)

    rounds = [r for label, r in results if label.startswith("unverified: round")]
    verified = [r.applied_after for label, r in results if label.startswith("verified: round")]
    checked = [r.applied_after for label, r in results if label.startswith("checked: round")]
    seen = [r.seen_after for r in rounds]
    applied = [r.applied_after for r in rounds]
    lag = [r.seen_after - r.applied_after for r in rounds]
    summary = {
        "rounds": len(rounds),
        "seen_median_s": statistics.median(seen), "seen_min_s": min(seen), "seen_max_s": max(seen),
        "up_median_s": statistics.median(applied),
        "after_up_median_s": statistics.median(lag), "after_up_min_s": min(lag), "after_up_max_s": max(lag),
        "verified_up_median_s": statistics.median(verified), "verified_up_min_s": min(verified),
        "verified_up_max_s": max(verified),
        "checked_up_median_s": statistics.median(checked), "checked_up_min_s": min(checked),
        "checked_up_max_s": max(checked),
    }
    name = f"rollout-{timestamp()}"
    out = results_dir()
    doc = {"machine": machine_info(), "load_average_after": load_average(), "summary": summary,
           "runs": [{"label": label, **asdict(r)} for label, r in results]}
    doc["plugin_dir"] = str(args.plugin_dir)
    doc["module_bytes"] = wasm.stat().st_size
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"# {name}", "", "| run | pulumi up s | new behaviour at the gateway s |", "| --- | --- | --- |"]
    lines += [f"| {label} | {r.applied_after:.2f} | {r.seen_after:.2f} |" for label, r in results]
    text = (f"rollout of a new build ({wasm.stat().st_size:,}-byte module), {len(rounds)} rounds: "
            f"the gateway answered with it "
            f"{summary['seen_median_s']:.2f}s (median; {summary['seen_min_s']:.2f} to {summary['seen_max_s']:.2f}) "
            f"after `pulumi up` started; pulumi up took {summary['up_median_s']:.2f}s, the mesh "
            f"{summary['after_up_median_s']:.2f}s more ({summary['after_up_min_s']:.2f} to "
            f"{summary['after_up_max_s']:.2f}). With the gateway check (no canary), `pulumi up` returned "
            f"verified at the gateway after {summary['checked_up_median_s']:.2f}s (median; "
            f"{summary['checked_up_min_s']:.2f} to {summary['checked_up_max_s']:.2f}). "
            f"With the gateway checks and a canary, `pulumi up` returned "
            f"verified at both gateways after {summary['verified_up_median_s']:.2f}s (median; "
            f"{summary['verified_up_min_s']:.2f} to {summary['verified_up_max_s']:.2f})")
    (out / f"{name}.md").write_text("\n".join([*lines, "", text, ""]))
    print(text)
    print(f"written: {out / name}.json, .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
