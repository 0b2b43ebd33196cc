"""The real mesh path: `pulumi up` of the local stack, then istiod and an ingress gateway enforce it.

istiod reads the WasmPlugin from the sandbox's API server and sends the gateway an extension
config; the gateway's pilot-agent pulls the image from the TLS + htpasswd registry with the pull
Secret and hands the module to its Envoy (sandbox/mesh.py). Nothing here loads the module
itself. The tests run in file order and share one stack.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import REPO, SECRETS, Sandbox, configure, local_stack, push_plugin
from sandbox.mesh import Mesh, time_rollout
from sandbox.pulumi_cli import LocalStack
from tests.e2e.conftest import PLUGIN_V2_BODY, clean_namespace

# Names of our own, so that a `make demo` stack on the same sandbox is not touched.
PLUGIN = "e2e-mesh-header-authorization"
SECRET = "e2e-mesh-wasm-secret"
REPOSITORY = "test-oci/e2e-mesh-header-authorization"
DENY_BODY = b"Forbidden by ASM Wasm Plugin"
ROLLOUT_TIMEOUT_S = 90.0


@dataclass
class MeshE2E:
    sb: Sandbox
    mesh: Mesh
    stack: LocalStack
    image_ref: str
    workdir: Path


@pytest.fixture(scope="module")
def mesh_e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshE2E]:
    sb = Sandbox.running()
    sb.api.ensure_namespace(mesh_sandbox.NAMESPACE)
    clean_namespace(sb, mesh_sandbox.NAMESPACE, PLUGIN, SECRET)
    # Fresh: a gateway whose Wasm cache holds nothing from an earlier run, so every module is pulled.
    mesh = mesh_sandbox.up(sb, fresh=True)
    # Every WasmPlugin in the root namespace applies to the gateway; another one would answer first.
    if others := mesh_sandbox.other_wasm_plugins(sb.api, PLUGIN):
        pytest.fail(f"WasmPlugins {others} in {mesh_sandbox.NAMESPACE} would act on the sandbox gateway too; "
                    f"delete them, or run on a fresh SANDBOX_DIR (now {sb.root})")
    workdir = tmp_path_factory.mktemp("mesh")
    pushed = push_plugin(sb, REPO / "plugin" / "plugin.wasm", repository=REPOSITORY)
    stack = local_stack(sb, state_dir=workdir / "pulumi")
    configure(stack, sb, pushed.ref, {"pluginName": PLUGIN, "pullSecretName": SECRET})
    yield MeshE2E(sb, mesh, stack, pushed.ref, workdir)
    destroyed = stack.destroy(check=False)
    if destroyed.returncode != 0:
        print(f"mesh e2e teardown: pulumi destroy failed:\n{destroyed.stderr[-2000:]}")
    clean_namespace(sb, mesh_sandbox.NAMESPACE, PLUGIN, SECRET)


def wait_for(mesh: Mesh, want_status: int, headers: dict[str, str] | None = None,
             timeout: float = ROLLOUT_TIMEOUT_S) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    status, body = mesh.get("/status/418", headers)
    while status != want_status and time.monotonic() < deadline:
        time.sleep(0.1)
        status, body = mesh.get("/status/418", headers)
    return status, body


def test_gateway_routes_to_httpbin_through_istiod(mesh_e2e: MeshE2E) -> None:
    # No WasmPlugin of ours yet: the Gateway + VirtualService from istiod route to httpbin.
    status, body = mesh_e2e.mesh.get("/status/418")
    assert status == 418 and b"teapot" in body


def test_pulumi_up_makes_the_gateway_enforce_the_plugin(mesh_e2e: MeshE2E) -> None:
    m = mesh_e2e.mesh
    agent_before = m.gateway_pids()
    rollout = time_rollout(m, mesh_e2e.stack.up, lambda status, body: status == 403)
    print(f"\nfirst rollout: pulumi up {rollout.applied_after:.1f}s, gateway denies at {rollout.seen_after:.1f}s")

    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(m.gateway_url + "/status/418", timeout=5)
    assert denied.value.code == 403
    assert denied.value.read() == DENY_BODY
    assert denied.value.headers["content-type"] == "text/plain"
    status, body = m.get("/status/418", {"allow": "true"})
    assert status == 418 and b"teapot" in body
    assert m.get("/status/418", {"allow": "no"})[0] == 403
    # The plugin's debug line, logged by the gateway's Envoy.
    assert "request header: 'allow' is , only true can passthrough" in m.log("gateway")
    # The agent pulled the module into the sandbox's own cache (the image was never there before).
    digest = mesh_e2e.image_ref.split("@sha256:", 1)[1]
    cached = list((m.root / "varlib" / "istio" / "data").rglob("*.wasm"))
    assert cached, f"no module in the gateway's Wasm cache; gateway log:\n{m.log('gateway')[-3000:]}"
    assert any(p.read_bytes() == (REPO / "plugin" / "plugin.wasm").read_bytes() for p in cached), digest
    assert m.running_digests() == {digest}
    assert m.gateway_pids() == agent_before, "the gateway restarted"


def test_wrong_pull_secret_fails_closed_and_the_fix_rolls_out(mesh_e2e: MeshE2E) -> None:
    m = mesh_e2e.mesh
    # The same module as an OCI-format image: a digest the gateway has not cached, so it must pull.
    oci = push_plugin(mesh_e2e.sb, REPO / "plugin" / "plugin.wasm", repository=REPOSITORY, tag="v0.0.1-oci",
                      image_format="oci")
    assert oci.ref != mesh_e2e.image_ref
    mesh_e2e.stack.set_config({"registryPassword": "not-the-password", "imageRef": oci.ref},
                              secret=("registryPassword",))
    mesh_e2e.stack.up()
    # The agent cannot pull, and Istio fails closed: every request is denied, the allowed one too.
    status, body = wait_for(m, 403, {"allow": "true"})
    assert (status, body) == (403, b"RBAC: access denied"), m.log("gateway")[-3000:]
    assert "not-the-password" not in m.log("gateway") and "not-the-password" not in m.log("istiod")

    mesh_e2e.stack.set_config({"registryPassword": mesh_e2e.sb.registry.password}, secret=("registryPassword",))
    mesh_e2e.stack.up()
    status, body = wait_for(m, 418, {"allow": "true"})
    assert status == 418, m.log("gateway")[-3000:]
    assert m.get("/status/418") == (403, DENY_BODY)
    mesh_e2e.image_ref = oci.ref


def test_new_build_rolls_out_without_restarting_the_gateway(mesh_e2e: MeshE2E, plugin_v2: Path) -> None:
    m = mesh_e2e.mesh
    pids = m.gateway_pids()
    pushed = push_plugin(mesh_e2e.sb, plugin_v2, repository=REPOSITORY, tag="v0.0.2")
    mesh_e2e.stack.set_config({"imageRef": pushed.ref})
    v2 = PLUGIN_V2_BODY.encode()
    rollout = time_rollout(m, mesh_e2e.stack.up, lambda status, body: body == v2, timeout=ROLLOUT_TIMEOUT_S)
    print(f"\nnew build: pulumi up {rollout.applied_after:.1f}s, new deny body at the gateway "
          f"{rollout.seen_after:.1f}s after pulumi up started")
    assert m.gateway_pids() == pids, "pilot-agent or its Envoy restarted"
    assert m.running_digests() == {pushed.ref.split("@sha256:", 1)[1]}
    assert m.get("/status/418", {"allow": "true"})[0] == 418


def test_destroy_lets_traffic_through_again(mesh_e2e: MeshE2E) -> None:
    mesh_e2e.stack.destroy()
    status, body = wait_for(mesh_e2e.mesh, 418)
    assert status == 418 and b"teapot" in body
    assert mesh_e2e.sb.api.request("GET", SECRETS.format(ns=mesh_sandbox.NAMESPACE, name=SECRET)).status == 404
