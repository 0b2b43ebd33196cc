"""The real mesh path: `pulumi up` of the local stack, then istiod and the ingress gateways enforce it.

istiod reads the WasmPlugin from the sandbox's API server and sends each gateway it selects an
extension config; that gateway's pilot-agent pulls the image from the TLS + htpasswd registry
with the pull Secret and hands the module to its Envoy (sandbox/mesh.py). Nothing here loads the
module itself. There are two gateways, stable (`istio: ingressgateway`, what the local stack
selects) and canary (`istio: ingressgateway-canary`), each a Pod in istio-system that the API
server's pods proxy reaches, as a cluster-side verifier would. The tests run in file order and
share one stack.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import REPO, SECRETS, WASM_PLUGINS, Sandbox, configure, local_stack, push_plugin
from sandbox.mesh import Gateway, Mesh, time_rollout
from sandbox.mesh_config import CANARY, GATEWAYS, STABLE
from sandbox.process import http_get
from sandbox.pulumi_cli import LocalStack
from tests.e2e.conftest import PLUGIN_V2_BODY, clean_namespace

# Names of our own, so that a `make demo` stack on the same sandbox is not touched.
PLUGIN = "e2e-mesh-header-authorization"
# Applied by hand, selecting only the canary gateway (the product's canary WasmPlugin does the same).
CANARY_PLUGIN = "e2e-mesh-header-authorization-canary"
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
    clean_namespace(sb, mesh_sandbox.NAMESPACE, CANARY_PLUGIN, SECRET)
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
    # pulumi up's own gateway check (verify) then fails within 20s, not 60s, where a test wants it to.
    configure(stack, sb, pushed.ref, {"pluginName": PLUGIN, "pullSecretName": SECRET,
                                      "verify.timeoutSeconds": "20"})
    yield MeshE2E(sb, mesh, stack, pushed.ref, workdir)
    destroyed = stack.destroy(check=False)
    if destroyed.returncode != 0:
        print(f"mesh e2e teardown: pulumi destroy failed:\n{destroyed.stderr[-2000:]}")
    clean_namespace(sb, mesh_sandbox.NAMESPACE, CANARY_PLUGIN, SECRET)
    clean_namespace(sb, mesh_sandbox.NAMESPACE, PLUGIN, SECRET)


def wait_for(gateway: Mesh | Gateway, want_status: int, headers: dict[str, str] | None = None,
             timeout: float = ROLLOUT_TIMEOUT_S) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = gateway.get("/status/418", headers)
        except OSError as err:  # a connection Envoy drains while its listener changes: ask again
            status, body = 0, str(err).encode()
        if status == want_status or time.monotonic() >= deadline:
            return status, body
        time.sleep(0.1)


def via_api_server(sb: Sandbox, gateway: Gateway, path: str,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET through the API server's pods proxy with the sandbox's admin credentials, as a verifier
    that holds only the cluster's kubeconfig would."""
    tls = ssl.create_default_context(cafile=sb.kube_env["KUBE_CA"])
    tls.load_cert_chain(sb.kube_env["KUBE_CLIENT_CERT"], sb.kube_env["KUBE_CLIENT_KEY"])
    resp = http_get(sb.kube_env["KUBE_API"] + gateway.proxy_path + path, headers, timeout=10, tls=tls)
    return resp.status, resp.body


def test_gateway_routes_to_httpbin_through_istiod(mesh_e2e: MeshE2E) -> None:
    # No WasmPlugin of ours yet: the Gateways + VirtualService from istiod route both to httpbin.
    for gw in mesh_e2e.mesh.gateways.values():
        status, body = gw.get("/status/418")
        assert status == 418 and b"teapot" in body, gw.name
    assert mesh_e2e.mesh.gateway("stable").url == mesh_e2e.mesh.gateway_url


def test_each_gateway_is_a_running_pod_the_api_server_proxies_to(mesh_e2e: MeshE2E) -> None:
    api, mesh = mesh_e2e.sb.api, mesh_e2e.mesh
    for spec in GATEWAYS:
        gw = mesh.gateway(spec.name)
        selector = urllib.parse.quote(",".join(f"{k}={v}" for k, v in spec.labels.items()))
        listed = api.request("GET", f"/api/v1/namespaces/{mesh_sandbox.NAMESPACE}/pods?labelSelector={selector}")
        assert listed.status == 200, listed.message
        # Each gateway's selector lists its own pod and not the other's.
        pods = listed.json()["items"]
        assert [p["metadata"]["name"] for p in pods] == [gw.pod_name]
        status = pods[0]["status"]
        assert status["phase"] == "Running" and status["podIP"] == gw.pod_ip
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
        ports = pods[0]["spec"]["containers"][0]["ports"]
        assert {"name": "http2", "containerPort": gw.pod_port, "protocol": "TCP"} in ports

        code, body = via_api_server(mesh_e2e.sb, gw, "/status/418")
        assert code == 418 and b"teapot" in body, (gw.name, code, body[:300])
        # The request's headers reach the gateway (and httpbin behind it) as sent.
        code, body = via_api_server(mesh_e2e.sb, gw, "/headers", {"allow": "true", "x-probe": gw.name})
        assert code == 200 and f'"X-Probe": "{gw.name}"'.encode() in body, body[:500]


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
    # Through the API server's pods proxy: the same answers.
    stable = m.gateway(STABLE.name)
    assert via_api_server(mesh_e2e.sb, stable, "/status/418") == (403, DENY_BODY)
    assert via_api_server(mesh_e2e.sb, stable, "/status/418", {"allow": "true"})[0] == 418
    # The stable WasmPlugin selects istio: ingressgateway: the canary gateway runs no module.
    canary = m.gateway(CANARY.name)
    assert canary.get("/status/418")[0] == 418
    assert via_api_server(mesh_e2e.sb, canary, "/status/418")[0] == 418
    assert canary.running_digests() == set()


def test_a_wasm_plugin_selecting_the_canary_reaches_only_the_canary(mesh_e2e: MeshE2E) -> None:
    api, m = mesh_e2e.sb.api, mesh_e2e.mesh
    stable, canary = m.gateway(STABLE.name), m.gateway(CANARY.name)
    ns = mesh_sandbox.NAMESPACE
    # The stack's WasmPlugin (image, pull secret, ...) with the canary's selector, under another name.
    spec = api.request("GET", WASM_PLUGINS.format(ns=ns, name=PLUGIN)).json()["spec"]
    spec["selector"] = {"matchLabels": CANARY.labels}
    path = WASM_PLUGINS.format(ns=ns, name=CANARY_PLUGIN)
    stable_pids = stable.pids()
    api.apply(path, {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                     "metadata": {"name": CANARY_PLUGIN, "namespace": ns}, "spec": spec})
    try:
        status, body = wait_for(canary, 403)
        assert (status, body) == (403, DENY_BODY), canary.log()[-3000:]
        assert canary.get("/status/418", {"allow": "true"})[0] == 418
        assert via_api_server(mesh_e2e.sb, canary, "/status/418") == (403, DENY_BODY)
        digest = mesh_e2e.image_ref.split("@sha256:", 1)[1]
        assert canary.running_digests() == {digest}
        # Pulled into the canary's own cache.
        assert list((canary.varlib / "istio" / "data").rglob(f"{digest}.wasm"))
        # The stable gateway still runs one module (its own WasmPlugin's), untouched.
        assert stable.running_digests() == {digest} and stable.pids() == stable_pids
    finally:
        assert api.request("DELETE", path).status in (200, 202, 404)
    status, _ = wait_for(canary, 418)
    assert status == 418, canary.log()[-3000:]
    assert stable.get("/status/418") == (403, DENY_BODY)


def test_wrong_pull_secret_fails_closed_and_the_fix_rolls_out(mesh_e2e: MeshE2E) -> None:
    m = mesh_e2e.mesh
    # The same module as an OCI-format image: a digest the gateway has not cached, so it must pull.
    oci = push_plugin(mesh_e2e.sb, REPO / "plugin" / "plugin.wasm", repository=REPOSITORY, tag="v0.0.1-oci",
                      image_format="oci")
    assert oci.ref != mesh_e2e.image_ref
    mesh_e2e.stack.set_config({"registryPassword": "not-the-password", "imageRef": oci.ref},
                              secret=("registryPassword",))
    # The agent cannot pull, and Istio fails closed: every request is denied, the allowed one too.
    # pulumi up's gateway check sees that through the API server and fails the update.
    failed = mesh_e2e.stack.up(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "RBAC: access denied" in output, output[-3000:]
    assert "not-the-password" not in output
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
    # A build whose own default deny reply differs: pulumi up's check is told what it answers now.
    mesh_e2e.stack.set_config({"imageRef": pushed.ref, "verify.deniedBody": PLUGIN_V2_BODY})
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
