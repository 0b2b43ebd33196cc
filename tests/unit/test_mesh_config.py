"""The mesh sandbox's objects fit together and fit the local stack (no processes; sandbox/mesh_config.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sandbox.mesh_config import (
    GATEWAY_LABELS,
    ISTIOD_ENV,
    NAMESPACE,
    PORT_NAMES,
    gateway_env,
    gateway_proxy_config,
    mesh_config,
    routing_objects,
)

REPO = Path(__file__).resolve().parents[2]
PORTS = {name: 20000 + i for i, name in enumerate(PORT_NAMES)}


def objects() -> dict[str, dict]:
    return {manifest["kind"]: manifest for _, manifest in routing_objects(PORTS["gateway"], PORTS["httpbin"])}


def test_the_local_stack_selects_the_sandbox_gateway() -> None:
    local = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())["config"]
    assert local["asm-wasm-plugin:selector"] == GATEWAY_LABELS
    assert local["asm-wasm-plugin:pluginNamespace"] == NAMESPACE
    env = gateway_env(PORTS, gateway_proxy_config(PORTS, Path("/envoy"), Path("/cfg")), Path("/ca.crt"))
    assert json.loads(env["ISTIO_METAJSON_LABELS"]) == GATEWAY_LABELS
    assert env["POD_NAMESPACE"] == NAMESPACE == ISTIOD_ENV["POD_NAMESPACE"]
    assert objects()["Gateway"]["spec"]["selector"] == GATEWAY_LABELS


def test_the_route_reaches_the_upstream_it_declares() -> None:
    objs = objects()
    route = objs["VirtualService"]["spec"]["http"][0]["route"][0]["destination"]
    entry = objs["ServiceEntry"]["spec"]
    assert objs["VirtualService"]["spec"]["gateways"] == [objs["Gateway"]["metadata"]["name"]]
    assert route["host"] in entry["hosts"] and route["host"] == objs["DestinationRule"]["spec"]["host"]
    assert route["port"]["number"] == entry["ports"][0]["number"] == PORTS["httpbin"]
    assert objs["Gateway"]["spec"]["servers"][0]["port"]["number"] == PORTS["gateway"]
    assert all(m["metadata"]["namespace"] == NAMESPACE for m in objs.values())


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
