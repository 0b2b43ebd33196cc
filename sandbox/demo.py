"""`make demo`: the ASM guide's five steps on the local sandbox, through a real `pulumi up`."""

from __future__ import annotations

import subprocess
import sys
import time

from sandbox.local_stack import (
    REPO,
    Sandbox,
    configure,
    gateway,
    local_stack,
    pull_like_istio,
    push_plugin,
    read_back,
    step5,
)


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main() -> int:
    started = time.monotonic()
    say("sandbox: TLS registry (plays ACR) and kube-apiserver with the WasmPlugin CRD (plays ASM)")
    subprocess.run([str(REPO / "scripts" / "sandbox-up.sh")], check=True)
    sb = Sandbox.running()

    wasm = REPO / "plugin" / "plugin.wasm"
    say(f"push {wasm.relative_to(REPO)} as a FROM-scratch image to {sb.registry.host}/test-oci/header-authorization")
    pushed = push_plugin(sb, wasm)
    print(f"pushed {pushed.ref} (uploaded {len(pushed.uploaded_blobs)} blob(s))")

    say("pulumi up (stack local)")
    stack = local_stack(sb)
    configure(stack, sb, pushed.ref)
    # --refresh: the sandbox is disposable, so the stack's state may describe objects that a
    # restarted or wiped API server no longer holds.
    result = stack.run("up", "--yes", "--skip-preview", "--refresh", "--stack", stack.stack, "--config-file",
                       str(stack.config_file), check=False)
    print(result.stdout)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    outputs = stack.outputs()

    say("pull the image the way Istio's agent does (url and credentials read back from the API server)")
    applied = read_back(sb, outputs["wasmPluginName"], "wasm-secret", outputs["wasmPluginNamespace"])
    workdir = sb.root / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    pulled = pull_like_istio(sb, applied, workdir / "plugin.wasm")
    print(f"{applied.wasm_plugin['spec']['url']}\n  -> plugin.wasm {pulled['size']} bytes, sha256 {pulled['sha256']}")

    say("step 5: Envoy with the pulled plugin in front of httpbin")
    with gateway(applied, workdir / "plugin.wasm", workdir) as envoy:
        result5 = step5(envoy)
    print(f"$ curl {{gateway}}/status/418\nHTTP {result5.without_header.status}\n"
          f"{result5.without_header.body.decode()}")
    print(f"log: {result5.debug_line}")
    print(f"$ curl {{gateway}}/status/418 -H 'allow: true'\nHTTP {result5.with_header.status}\n"
          f"{result5.with_header.body.decode()}")
    ok = (result5.without_header.status == 403 and result5.with_header.status == 418
          and result5.without_header.body == b"Forbidden by ASM Wasm Plugin")
    say(f"{'OK' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s; `make down` stops the sandbox")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
