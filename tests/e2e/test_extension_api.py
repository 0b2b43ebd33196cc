"""The rest of Istio's extension API at the mesh's gateway (issue #14): targetRefs, two plugins ordered in
one chain, the switch to TrafficExtension, and a value from the gateway's environment.

One stack, evolving in file order as a user's would. Its plugins attach by targetRefs to the sandbox's
Gateway API gateway (pod sandbox-gateway-istio-0, label gateway.networking.k8s.io/gateway-name:
sandbox-gateway): istiod gives such a gateway only targetRefs policies, and the stable gateway only
selector ones, so the two never share a plugin. The stack builds and pushes both images with
docker.Image; its gateway checks probe the Gateway API gateway through the API server.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import WASM_PLUGINS, Sandbox, configure, local_stack
from sandbox.mesh import Gateway, Mesh
from sandbox.mesh_config import GATEWAY_API, GATEWAY_API_NAME, GATEWAY_HOST_ENV
from sandbox.process import http_get
from sandbox.pulumi_cli import LocalStack
from tests.e2e.conftest import PLUGIN_V2_BODY, clean_namespace

PLUGIN = "e2e-ext-header-authorization"
EXTRA = "e2e-ext-response-header"
SECRET = "e2e-ext-wasm-secret"
NS = mesh_sandbox.NAMESPACE
WASM_PLUGIN = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
TRAFFIC_EXTENSION = "kubernetes:extensions.istio.io/v1alpha1:TrafficExtension"
TRAFFIC_EXTENSIONS = "/apis/extensions.istio.io/v1alpha1/namespaces/{ns}/trafficextensions/{name}"
IMAGE = "docker:index/image:Image"
DENY = b"Forbidden by ASM Wasm Plugin"
# What the response-header plugin adds by default (plugin/responseheader).
CHAIN_HEADER, CHAIN_VALUE = "x-asm-plugin-chain", "response-header"


@dataclass
class Ext:
    sb: Sandbox
    mesh: Mesh
    stack: LocalStack

    @property
    def gateway(self) -> Gateway:
        return self.mesh.gateway(GATEWAY_API.name)


def clean(sb: Sandbox) -> None:
    for name in (PLUGIN, EXTRA):
        clean_namespace(sb, NS, name, SECRET)
        sb.api.request("DELETE", TRAFFIC_EXTENSIONS.format(ns=NS, name=name))


@pytest.fixture(scope="module")
def ext(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ext]:
    sb = Sandbox.running()
    clean(sb)
    mesh = mesh_sandbox.up(sb)
    stack = local_stack(sb, state_dir=tmp_path_factory.mktemp("extension-api") / "pulumi")
    gateway_ref = {"kind": "Gateway", "name": GATEWAY_API_NAME}
    configure(stack, sb, extra={
        "pluginName": PLUGIN, "pullSecretName": SECRET, "repository": PLUGIN,
        **{f"targetRefs[0].{k}": v for k, v in gateway_ref.items()},
        "plugins[0].name": EXTRA,
        "plugins[0].wasmFile": "plugin/responseheader/plugin.wasm",
        **{f"plugins[0].targetRefs[0].{k}": v for k, v in gateway_ref.items()},
        # Same phase, higher priority: it runs first, so the header plugin's 403 passes through it.
        "plugins[0].priority": "100",
        "verify.timeoutSeconds": "60",
    })
    yield Ext(sb, mesh, stack)
    stack.destroy(check=False)
    clean(sb)


def answers(gw: Gateway, headers: dict[str, str] | None = None) -> tuple[int, bytes, str | None]:
    resp = http_get(gw.url + "/status/418", headers, 5.0)
    return resp.status, resp.body, resp.headers.get(CHAIN_HEADER)


def wait_for(gw: Gateway, headers: dict[str, str] | None, want: tuple[int, bytes | None, str | None],
             timeout: float = 30.0) -> None:
    """The response-header plugin is not what the gateway check probes: poll for its effect."""
    deadline = time.monotonic() + timeout
    seen = answers(gw, headers)
    while not (seen[0] == want[0] and (want[1] is None or seen[1] == want[1]) and seen[2] == want[2]):
        if time.monotonic() > deadline:
            pytest.fail(f"{gw.name} gateway with {headers}: expected {want}, saw {seen[0]} {seen[1][:80]!r} "
                        f"{CHAIN_HEADER}={seen[2]!r}")
        time.sleep(0.2)
        seen = answers(gw, headers)


def test_two_plugins_attach_by_target_refs_and_run_in_priority_order(ext: Ext) -> None:
    result = ext.stack.up()
    built = [name for op, typ, name in result.steps() if typ == IMAGE and op == "create"]
    assert sorted(built) == [f"header-authorization-{EXTRA}-image", "header-authorization-image"]
    # The check found the Gateway API gateway's pod by its gateway-name label and proved the build.
    lines = [e["diagnosticEvent"]["message"] for e in result.events() if "diagnosticEvent" in e]
    assert any(f"pod {NS}/{GATEWAY_API.pod_name} runs sha256:" in line for line in lines), lines
    print("\n" + "\n".join(line.strip() for line in lines if "runs sha256:" in line))
    # response-header runs first (priority 100): the 403 from header-authorization passes through it.
    wait_for(ext.gateway, None, (403, DENY, CHAIN_VALUE))
    wait_for(ext.gateway, {"allow": "true"}, (418, None, CHAIN_VALUE))
    # targetRefs reach only that gateway: the stable one has neither plugin.
    status, _, added = answers(ext.mesh.gateway("stable"))
    assert (status, added) == (418, None)
    spec = ext.sb.api.request("GET", WASM_PLUGINS.format(ns=NS, name=PLUGIN)).json()["spec"]
    assert "selector" not in spec
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                   "name": GATEWAY_API_NAME}]


def test_a_later_phase_moves_the_second_plugin_after_the_first_without_a_rebuild(ext: Ext) -> None:
    # STATS comes after AUTHN whatever the priority (still 100): phase orders first, priority within one.
    ext.stack.set_config({"plugins[0].phase": "STATS"})
    result = ext.stack.up()
    changed = result.steps()
    assert [s for s in changed if s[1] == IMAGE] == [], changed
    assert [(op, name) for op, typ, name in changed if typ == WASM_PLUGIN] == [
        ("update", f"header-authorization-plugin-{EXTRA}")]
    # Now header-authorization answers first: its 403 no longer passes the response-header plugin.
    wait_for(ext.gateway, None, (403, DENY, None))
    wait_for(ext.gateway, {"allow": "true"}, (418, None, CHAIN_VALUE))


def test_the_same_plugins_as_traffic_extensions(ext: Ext) -> None:
    ext.stack.set_config({"extensionKind": "TrafficExtension"})
    result = ext.stack.up()
    changed = result.steps()
    assert sorted((op, typ) for op, typ, _ in changed if typ in (WASM_PLUGIN, TRAFFIC_EXTENSION)) == [
        ("create", TRAFFIC_EXTENSION), ("create", TRAFFIC_EXTENSION), ("delete", WASM_PLUGIN),
        ("delete", WASM_PLUGIN)]
    api = ext.sb.api
    for name in (PLUGIN, EXTRA):
        assert api.request("GET", WASM_PLUGINS.format(ns=NS, name=name)).status == 404
        assert api.request("GET", TRAFFIC_EXTENSIONS.format(ns=NS, name=name)).status == 200
    # istiod acts on the TrafficExtensions alone: same answers, same order, the check passed in `up`.
    wait_for(ext.gateway, None, (403, DENY, None))
    wait_for(ext.gateway, {"allow": "true"}, (418, None, CHAIN_VALUE))
    assert set(ext.stack.up().change_summary()) == {"same"}


def test_the_accepted_value_comes_from_the_gateways_environment(ext: Ext) -> None:
    name, value = GATEWAY_HOST_ENV
    ext.stack.set_config({"vmEnv[0].name": name, "vmEnv[0].valueFrom": "HOST",
                          "pluginConfig.valueFromEnv": name})
    result = ext.stack.up()
    lines = [e["diagnosticEvent"]["message"] for e in result.events() if "diagnosticEvent" in e]
    assert any("not probed (the value is the gateway's own)" in line for line in lines), lines
    print("\n" + "\n".join(line.strip() for line in lines if "runs sha256:" in line))
    wait_for(ext.gateway, {"allow": "true"}, (403, DENY, None))
    wait_for(ext.gateway, {"allow": value}, (418, None, CHAIN_VALUE))
    # Nowhere in the stack's state: the value lives in the gateway only.
    assert value not in ext.stack.run("stack", "export", "--stack", ext.stack.stack).stdout


def test_match_and_root_id_reach_the_gateways_envoy(ext: Ext) -> None:
    allowed = {"allow": GATEWAY_HOST_ENV[1]}
    # A gateway's listeners are CLIENT traffic to Istio: a SERVER-only match leaves the plugin out.
    ext.stack.set_config({"plugins[0].match[0].mode": "SERVER"})
    ext.stack.up()
    wait_for(ext.gateway, allowed, (418, None, None))
    port = urllib.parse.urlsplit(ext.gateway.url).port
    ext.stack.set_config({"plugins[0].match[0].mode": "CLIENT", "plugins[0].match[0].ports[0]": str(port),
                          "plugins[0].rootId": "chain_root"})
    ext.stack.up()
    wait_for(ext.gateway, allowed, (418, None, CHAIN_VALUE))
    dump = http_get(ext.gateway.envoy_admin_url + "/config_dump", None, 5.0).body.decode()
    assert '"root_id": "chain_root"' in dump


def test_a_new_build_of_one_plugin_rebuilds_and_pushes_only_its_image(ext: Ext, plugin_v2: Path) -> None:
    ext.stack.set_config({"wasmFile": str(plugin_v2), "verify.deniedBody": PLUGIN_V2_BODY})
    result = ext.stack.up()
    images = [(op, name) for op, typ, name in result.steps() if typ == IMAGE]
    assert images == [("update", "header-authorization-image")], images
    wait_for(ext.gateway, None, (403, PLUGIN_V2_BODY.encode(), None))
