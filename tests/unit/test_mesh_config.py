"""The mesh sandbox's objects fit together and fit the local stack (no processes; sandbox/mesh_config.py)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import yaml

from sandbox import netns
from sandbox.mesh_config import (
    CANARY,
    GATEWAY_API,
    GATEWAY_LABELS,
    GATEWAY_PORT_NAMES,
    GATEWAYS,
    ISTIOD_ENV,
    NAMESPACE,
    POD_PORT,
    PORT_NAMES,
    STABLE,
    gateway_env,
    gateway_ports,
    gateway_proxy_config,
    mesh_config,
    pod_manifest,
    pod_status,
    routing_objects,
)

REPO = Path(__file__).resolve().parents[2]
PORTS = {name: 20000 + i for i, name in enumerate(PORT_NAMES)}


def objects() -> dict[str, dict]:
    return {manifest["metadata"]["name"] if manifest["kind"] == "Gateway" else manifest["kind"]: manifest
            for _, manifest in routing_objects(PORTS)}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """matchLabels semantics, as istiod applies a Gateway's or a WasmPlugin's selector."""
    return all(labels.get(k) == v for k, v in selector.items())


def test_the_local_stack_selects_the_stable_gateway_only() -> None:
    local = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())["config"]
    assert local["asm-wasm-plugin:selector"] == GATEWAY_LABELS == STABLE.labels
    assert local["asm-wasm-plugin:pluginNamespace"] == NAMESPACE
    # The stable WasmPlugin's selector must not reach the canary, nor the canary's the stable one.
    assert selects(STABLE.labels, STABLE.labels) and not selects(STABLE.labels, CANARY.labels)
    assert selects(CANARY.labels, CANARY.labels) and not selects(CANARY.labels, STABLE.labels)
    assert not selects(STABLE.labels, GATEWAY_API.labels) and not selects(CANARY.labels, GATEWAY_API.labels)


def test_each_gateway_is_its_own_pod_to_istiod() -> None:
    for gw in GATEWAYS:
        ports = gateway_ports(PORTS, gw)
        env = gateway_env(ports, gateway_proxy_config(ports, Path("/envoy"), Path("/cfg")), Path("/ca.crt"), gw)
        assert json.loads(env["ISTIO_METAJSON_LABELS"]) == gw.labels == pod_manifest(gw)["metadata"]["labels"]
        assert env["POD_NAME"] == gw.pod_name == pod_manifest(gw)["metadata"]["name"]
        assert env["POD_NAMESPACE"] == NAMESPACE == ISTIOD_ENV["POD_NAMESPACE"]
        assert json.loads(env["PROXY_CONFIG"])["proxyAdminPort"] == ports["envoy_admin"]
    assert len({gw.pod_name for gw in GATEWAYS}) == len({gw.state for gw in GATEWAYS}) == len(GATEWAYS)
    assert len({gw.varlib for gw in GATEWAYS}) == len(GATEWAYS), "each gateway has its own Wasm cache"


def test_the_gateways_share_no_port() -> None:
    own = [gateway_ports(PORTS, gw)[n] for gw in GATEWAYS for n in GATEWAY_PORT_NAMES]
    assert len(set(own)) == len(own)
    assert gateway_ports(PORTS, STABLE)["istiod_grpc"] == gateway_ports(PORTS, CANARY)["istiod_grpc"]


def test_each_gateway_object_selects_exactly_one_gateway_and_both_route_to_httpbin() -> None:
    objs = objects()
    gateways = {name: o for name, o in objs.items() if o["kind"] == "Gateway"}
    assert len(gateways) == len(GATEWAYS)
    for gw in GATEWAYS:
        chosen = [o for o in gateways.values() if selects(o["spec"]["selector"], gw.labels)]
        assert len(chosen) == 1, gw
        assert chosen[0]["spec"]["servers"][0]["port"]["number"] == gateway_ports(PORTS, gw)["gateway"]
    vs = objs["VirtualService"]["spec"]
    assert sorted(vs["gateways"]) == sorted(gateways)
    route = vs["http"][0]["route"][0]["destination"]
    entry = objs["ServiceEntry"]["spec"]
    assert route["host"] in entry["hosts"] and route["host"] == objs["DestinationRule"]["spec"]["host"]
    assert route["port"]["number"] == entry["ports"][0]["number"] == PORTS["httpbin"]
    assert all(m["metadata"]["namespace"] == NAMESPACE for m in objs.values())


def test_the_pods_declare_what_a_gateway_pod_declares() -> None:
    for gw in GATEWAYS:
        container = pod_manifest(gw)["spec"]["containers"][0]
        assert container["name"] == "istio-proxy"
        assert container["ports"] == [{"name": "http2", "containerPort": POD_PORT, "protocol": "TCP"}]
        status = pod_status(gw, "10.244.0.2", "10.244.0.1", "2026-01-01T00:00:00Z")["status"]
        assert status["phase"] == "Running" and status["podIP"] == "10.244.0.2"
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
        assert status["containerStatuses"][0]["name"] == container["name"]


def test_nothing_asks_for_istio_only_envoy_filters_or_a_ca() -> None:
    # The PyPI Envoy is upstream Envoy: no metadata exchange, ALPN or stats filters.
    assert ISTIOD_ENV["PILOT_ENABLE_METADATA_EXCHANGE"] == "false"
    assert ISTIOD_ENV["PILOT_ENABLE_ALPN_FILTER"] == "false"
    mesh = mesh_config(PORTS)
    assert "defaultProviders" not in mesh and mesh["enableAutoMtls"] is False
    # Pull secrets go only to authenticated proxies.
    assert ISTIOD_ENV["XDS_AUTH_PLAINTEXT"] == "true"
    proxy = gateway_proxy_config(PORTS, Path("/envoy"), Path("/cfg"))
    assert proxy["discoveryAddress"] == mesh["defaultConfig"]["discoveryAddress"]


def test_pod_addresses_are_proxyable_and_private_to_each_sandbox() -> None:
    a, b = Path("/work/.sandbox/mesh"), Path("/work/.sandbox/test/mesh")
    assert len({*netns.names_for(a), *netns.names_for(b)}) == 6
    assert all(len(name) <= 15 for name in netns.names_for(a)[1:])  # interface names
    block = netns.choose_block(a, set())
    host, pods = netns.block_addresses(block, len(GATEWAYS))
    for ip in (host, *pods):
        addr = ipaddress.ip_address(ip)
        # What kube-apiserver accepts as a pod address to proxy to; inside the sandbox's pool.
        assert addr.is_global or (addr.is_private and not addr.is_loopback and not addr.is_link_local)
        assert addr in block and block.subnet_of(netns.POOL)
    # A block another sandbox holds is never chosen, even the one this dir would prefer.
    taken = netns.blocks_in_use([f"{host}/{netns.BLOCK_PREFIX}", "192.0.2.2/24", "127.0.0.1/8"])
    assert taken == {block}
    assert netns.choose_block(a, taken) != block
