"""What the mesh sandbox asks of istiod and the gateway: pure data, no processes (sandbox/mesh.py runs them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAMESPACE = "istio-system"
GATEWAY_SERVICE_ACCOUNT = "istio-ingressgateway"
GATEWAY_LABELS = {"istio": "ingressgateway"}
UPSTREAM_HOST = "httpbin.sandbox.local"
# Matches istiod's default, and the agent's ISTIO_META_CLUSTER_ID must say the same.
CLUSTER_ID = "Kubernetes"
PORT_NAMES = ("gateway", "httpbin", "istiod_http", "istiod_grpc", "istiod_monitoring",
              "envoy_admin", "agent_status", "envoy_status", "envoy_prometheus")

# istiod without the parts a cluster-less sandbox cannot have (CA, injection, webhooks) and
# without the Istio-only filters upstream Envoy would reject.
ISTIOD_ENV = {
    "POD_NAMESPACE": NAMESPACE,
    "ENABLE_CA_SERVER": "false",
    "INJECT_ENABLED": "false",
    "VALIDATION_WEBHOOK_CONFIG_NAME": "",
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",
    "PILOT_ENABLE_ALPN_FILTER": "false",
    "XDS_AUTH_PLAINTEXT": "true",
}


def mesh_config(ports: dict[str, int]) -> dict[str, Any]:
    """istiod's --meshConfig: xDS in plaintext on loopback, nothing that needs a CA or Istio's own Envoy."""
    return {
        "enableTracing": False,
        # No CA: plain HTTP between the gateway and the upstream.
        "enableAutoMtls": False,
        "defaultConfig": {"discoveryAddress": f"127.0.0.1:{ports['istiod_grpc']}",
                          "controlPlaneAuthPolicy": "NONE"},
    }


def gateway_proxy_config(ports: dict[str, int], envoy: Path, config_dir: Path) -> dict[str, Any]:
    """The gateway's ProxyConfig (PROXY_CONFIG): our Envoy binary, our ports, short drains."""
    return {
        "discoveryAddress": f"127.0.0.1:{ports['istiod_grpc']}",
        "controlPlaneAuthPolicy": "NONE",
        "binaryPath": str(envoy),
        "configPath": str(config_dir),
        "proxyAdminPort": ports["envoy_admin"],
        "statusPort": ports["agent_status"],
        "concurrency": 1,
        "drainDuration": "1s",
        "terminationDrainDuration": "1s",
    }


def gateway_env(ports: dict[str, int], proxy_config: dict[str, Any], ca_bundle: Path) -> dict[str, str]:
    """pilot-agent's environment: the pod it stands for (labels, namespace, service account)."""
    return {
        "POD_NAME": "istio-ingressgateway-sandbox",
        "POD_NAMESPACE": NAMESPACE,
        "INSTANCE_IP": "127.0.0.1",
        "SERVICE_ACCOUNT": GATEWAY_SERVICE_ACCOUNT,
        "ISTIO_META_CLUSTER_ID": CLUSTER_ID,
        # With no Pod object, istiod takes the workload's labels from this metadata.
        "ISTIO_METAJSON_LABELS": json.dumps(GATEWAY_LABELS),
        "PROXY_CONFIG": json.dumps(proxy_config),
        "ENVOY_STATUS_PORT": str(ports["envoy_status"]),
        "ENVOY_PROMETHEUS_PORT": str(ports["envoy_prometheus"]),
        # The registry's CA, trusted the way a node trusts a public one: the pull is verified TLS.
        "SSL_CERT_FILE": str(ca_bundle),
        # The agent insists on a root CA for its certificate client even though the sandbox has
        # no CA (its CSRs fail and are retried; plain HTTP needs no workload certificate).
        "CA_ROOT_CA": "SYSTEM",
    }


def routing_objects(gateway_port: int, httpbin_port: int) -> list[tuple[str, dict[str, Any]]]:
    """Gateway, VirtualService, ServiceEntry and DestinationRule: the gateway's route to httpbin."""
    base = f"/apis/networking.istio.io/v1/namespaces/{NAMESPACE}"

    def obj(kind: str, plural: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return f"{base}/{plural}/sandbox-httpbin", {
            "apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": "sandbox-httpbin", "namespace": NAMESPACE}, "spec": spec}

    return [
        obj("ServiceEntry", "serviceentries", {
            "hosts": [UPSTREAM_HOST], "location": "MESH_EXTERNAL", "resolution": "STATIC",
            "ports": [{"number": httpbin_port, "name": "http", "protocol": "HTTP"}],
            "endpoints": [{"address": "127.0.0.1"}]}),
        # No CA in the sandbox, so no mTLS to the upstream.
        obj("DestinationRule", "destinationrules", {
            "host": UPSTREAM_HOST, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}),
        obj("Gateway", "gateways", {
            "selector": GATEWAY_LABELS,
            "servers": [{"port": {"number": gateway_port, "name": "http", "protocol": "HTTP"},
                         "bind": "127.0.0.1", "hosts": ["*"]}]}),
        obj("VirtualService", "virtualservices", {
            "hosts": ["*"], "gateways": ["sandbox-httpbin"],
            "http": [{"route": [{"destination": {"host": UPSTREAM_HOST, "port": {"number": httpbin_port}}}]}]}),
    ]
