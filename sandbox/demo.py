"""`make demo`: the ASM guide's five steps on the local sandbox, through a real `pulumi up`,
enforced by istiod and an `istio: ingressgateway` the way ASM does it (sandbox/mesh.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import REPO, Sandbox, configure, local_stack
from sandbox.mesh import time_rollout
from sandbox.registry import read_image

DEBUG_LINE = re.compile(r"request header: 'allow' is [^\n]*, only true can passthrough")
VERIFIED_LINE = re.compile(r"cluster '[^']+': pod \S+ runs sha256:[^\n]*")


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main() -> int:
    started = time.monotonic()
    say("sandbox: TLS registry (plays ACR), a Docker daemon, kube-apiserver with Istio's CRDs (plays ASM)")
    subprocess.run([str(REPO / "scripts" / "sandbox-up.sh")], check=True)
    sb = Sandbox.running()

    say("mesh: istiod + an `istio: ingressgateway` (pilot-agent, Envoy) routing to httpbin "
        "(the first run builds Istio: a few minutes)")
    mesh = mesh_sandbox.up(sb)
    print(f"gateway {mesh.gateway_url}")

    say(f"pulumi up (stack local): docker.Image builds plugin/plugin.wasm FROM scratch and pushes it to "
        f"{sb.registry.host}/test-oci/header-authorization; pull Secret wasm-secret and WasmPlugin "
        "header-authorization in istio-system, pinned to the pushed digest")
    stack = local_stack(sb)
    # The sandbox's second gateway plays the canary: a new build goes there first, is verified
    # there by `pulumi up` itself, and only then replaces the build on the stable gateway.
    configure(stack, sb, extra={"canarySelector.istio": "ingressgateway-canary"})
    # --refresh: the sandbox is disposable, so the stack's state may describe objects that a
    # restarted or wiped API server no longer holds.
    argv = ["up", "--yes", "--skip-preview", "--refresh", "--stack", stack.stack,
            "--config-file", str(stack.config_file)]
    outcome: list[int] = []
    image_ref: list[str] = []
    up_output: list[str] = []

    def pulumi_up() -> None:
        result = stack.run(*argv, check=False)
        print(result.stdout)
        up_output.append(result.stdout)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
        else:
            image_ref.append(str(stack.outputs()["imageRef"]))
        outcome.append(result.returncode)

    def enforced(status: int, body: bytes) -> bool:
        # The digest is known once docker.Image has pushed; a gateway may still run an
        # earlier build (a rerun): wait for this one.
        if outcome and outcome[0]:
            return True
        return bool(image_ref) and status == 403 and image_ref[0].split("@sha256:", 1)[1] in mesh.running_digests()

    try:
        rollout = time_rollout(mesh, pulumi_up, enforced)
    except mesh_sandbox.MeshError as err:
        print(err, file=sys.stderr)
        return 1
    if outcome[0] != 0:
        return outcome[0]
    say("verified by `pulumi up` itself (its gateway checks, through the API server's pods proxy): "
        "canary first, then stable")
    # pulumi prints each diagnostic as it comes and again in its summary: once each here.
    for line in dict.fromkeys(VERIFIED_LINE.findall(up_output[0] if up_output else "")):
        print(line)
    repository, digest = image_ref[0].split("@", 1)
    image = read_image(sb.registry, repository.split("/", 1)[1], digest)
    layers = ", ".join(f"{layer['digest'][:19]}… {layer['size']} B: {' '.join(files)}"
                       for layer, files in zip(image.manifest["layers"], image.layer_files(), strict=True))
    print(f"docker.Image pushed {image_ref[0]}\n  config {image.manifest['config']['digest'][:19]}… "
          f"(created {image.config.get('created')}), layers: {layers}")
    print(f"the gateway ran {digest[:19]}… and enforced it {rollout.seen_after:.1f}s after `pulumi up` started "
          f"(pulumi up itself: {rollout.applied_after:.1f}s)")

    say("step 5: curl through the gateway (istiod sent it the WasmPlugin; its agent pulled the image "
        "with the pull Secret)")
    denied = mesh.get("/status/418")
    allowed = mesh.get("/status/418", {"allow": "true"})
    print(f"$ curl {mesh.gateway_url}/status/418\nHTTP {denied[0]}\n{denied[1].decode()}")
    lines = DEBUG_LINE.findall(mesh.log("gateway"))
    print(f"gateway log: {lines[-1] if lines else '(no debug line)'}")
    print(f"$ curl {mesh.gateway_url}/status/418 -H 'allow: true'\nHTTP {allowed[0]}\n{allowed[1].decode()}")
    ok = denied == (403, b"Forbidden by ASM Wasm Plugin") and allowed[0] == 418 and bool(lines)
    say(f"{'OK' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s; `make down` stops the sandbox")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
