"""What the mesh sandbox asks of istiod and the gateway: pure data, no processes (sandbox/mesh.py runs them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMESPACE = "istio-system"
GATEWAY_SERVICE_ACCOUNT = "istio-ingressgateway"
UPSTREAM_HOST = "httpbin.sandbox.local"
# Matches istiod's default, and the agent's ISTIO_META_CLUSTER_ID must say the same.
CLUSTER_ID = "Kubernetes"
# The port each gateway pod declares (container istio-proxy), as Istio's gateway chart does; the
# API server's pods proxy (/api/v1/namespaces/NS/pods/NAME:8080/proxy/...) reaches it there.
POD_PORT = 8080
POD_PORT_NAME = "http2"
CONTAINER_NAME = "istio-proxy"
GATEWAY_HOST_ENV = ("SANDBOX_ALLOW_VALUE", "from-the-gateway-env")


@dataclass(frozen=True)
class GatewaySpec:
    """One ingress gateway of the sandbox: the pod it stands for and its files in the mesh dir."""

    name: str
    """what Mesh.gateway() takes: stable or canary"""
    labels: dict[str, str]
    pod_name: str
    state: str
    """its pid/log file name and working directory in the mesh dir"""
    varlib: str
    """the dir that is /var/lib (its Wasm cache) in its private mount namespace"""

    @property
    def port_prefix(self) -> str:
        return "" if self.name == "stable" else f"{self.name}_"


# Two gateways whose `istio` labels differ, so a WasmPlugin selecting one never reaches the
# other: the stable one is what the local stack's selector (and ASM's default gateway) names.
STABLE = GatewaySpec("stable", {"istio": "ingressgateway"}, "istio-ingressgateway-0", "gateway", "varlib")
CANARY = GatewaySpec("canary", {"istio": "ingressgateway-canary"}, "istio-ingressgateway-canary-0",
                     "gateway-canary", "varlib-canary")
# A Gateway API gateway (Istio's label for its Gateway): istiod attaches policies to it by
# targetRefs (kind Gateway, name sandbox-gateway) only, and ignores selector-based ones
# (pilot/pkg/model/policyattachment.go), so the stable gateway's WasmPlugins never reach it.
GATEWAY_API_NAME = "sandbox-gateway"
GATEWAY_API = GatewaySpec("gwapi", {"gateway.networking.k8s.io/gateway-name": GATEWAY_API_NAME},
                          "sandbox-gateway-istio-0", "gateway-gwapi", "varlib-gwapi")
GATEWAYS = (STABLE, CANARY, GATEWAY_API)
GATEWAY_LABELS = STABLE.labels
# Each gateway's own loopback ports (the canary's are prefixed "canary_").
GATEWAY_PORT_NAMES = ("gateway", "envoy_admin", "agent_status", "envoy_status", "envoy_prometheus")
SHARED_PORT_NAMES = ("httpbin", "istiod_http", "istiod_grpc", "istiod_monitoring")
PORT_NAMES = (*SHARED_PORT_NAMES, *(f"{gw.port_prefix}{n}" for gw in GATEWAYS for n in GATEWAY_PORT_NAMES))


def gateway_ports(ports: dict[str, int], gateway: GatewaySpec) -> dict[str, int]:
    """One gateway's view of the mesh's ports: its own under the plain names, plus istiod's and httpbin's."""
    own = {n: ports[f"{gateway.port_prefix}{n}"] for n in GATEWAY_PORT_NAMES}
    return {**{n: ports[n] for n in SHARED_PORT_NAMES}, **own}

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


def gateway_env(ports: dict[str, int], proxy_config: dict[str, Any], ca_bundle: Path,
                gateway: GatewaySpec = STABLE) -> dict[str, str]:
    """pilot-agent's environment: the pod it stands for (name, labels, namespace, service account).

    ports is the gateway's view (gateway_ports).
    """
    return {
        # The Pod object of the same name (pod_manifest) is how istiod and the API server know it.
        "POD_NAME": gateway.pod_name,
        "POD_NAMESPACE": NAMESPACE,
        "INSTANCE_IP": "127.0.0.1",
        "SERVICE_ACCOUNT": GATEWAY_SERVICE_ACCOUNT,
        "ISTIO_META_CLUSTER_ID": CLUSTER_ID,
        # istiod takes the workload's labels from this metadata, or from the Pod of POD_NAME: the same.
        "ISTIO_METAJSON_LABELS": json.dumps(gateway.labels),
        "PROXY_CONFIG": json.dumps(proxy_config),
        "ENVOY_STATUS_PORT": str(ports["envoy_status"]),
        "ENVOY_PROMETHEUS_PORT": str(ports["envoy_prometheus"]),
        # The registry's CA, trusted the way a node trusts a public one: the pull is verified TLS.
        "SSL_CERT_FILE": str(ca_bundle),
        # The agent insists on a root CA for its certificate client even though the sandbox has
        # no CA (its CSRs fail and are retried; plain HTTP needs no workload certificate).
        "CA_ROOT_CA": "SYSTEM",
        # A value of the gateway's own, as a Kubernetes Secret mounted as env would give it: what a
        # plugin gets through vmEnv valueFrom HOST (Envoy inherits pilot-agent's environment).
        GATEWAY_HOST_ENV[0]: GATEWAY_HOST_ENV[1],
    }


def routing_objects(ports: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """Gateways (one per gateway label), a VirtualService, a ServiceEntry and a DestinationRule:
    each gateway's route to httpbin."""
    base = f"/apis/networking.istio.io/v1/namespaces/{NAMESPACE}"

    def obj(kind: str, plural: str, spec: dict[str, Any], name: str = "sandbox-httpbin") -> tuple[str, dict[str, Any]]:
        return f"{base}/{plural}/{name}", {
            "apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}

    httpbin_port = ports["httpbin"]
    # One Gateway per gateway: both listen on loopback in the root network namespace, so each
    # needs a port of its own, and each selects exactly its own labels.
    gateways = [obj("Gateway", "gateways", {
        "selector": gw.labels,
        "servers": [{"port": {"number": ports[f"{gw.port_prefix}gateway"], "name": "http", "protocol": "HTTP"},
                     "bind": "127.0.0.1", "hosts": ["*"]}]}, gateway_resource_name(gw)) for gw in GATEWAYS]
    return [
        obj("ServiceEntry", "serviceentries", {
            "hosts": [UPSTREAM_HOST], "location": "MESH_EXTERNAL", "resolution": "STATIC",
            "ports": [{"number": httpbin_port, "name": "http", "protocol": "HTTP"}],
            "endpoints": [{"address": "127.0.0.1"}]}),
        # No CA in the sandbox, so no mTLS to the upstream.
        obj("DestinationRule", "destinationrules", {
            "host": UPSTREAM_HOST, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}),
        *gateways,
        obj("VirtualService", "virtualservices", {
            "hosts": ["*"], "gateways": [gateway_resource_name(gw) for gw in GATEWAYS],
            "http": [{"route": [{"destination": {"host": UPSTREAM_HOST, "port": {"number": httpbin_port}}}]}]}),
    ]


def gateway_resource_name(gateway: GatewaySpec) -> str:
    """The Istio Gateway object that selects this gateway."""
    return "sandbox-httpbin" if gateway is STABLE else f"sandbox-httpbin-{gateway.name}"


def pod_manifest(gateway: GatewaySpec) -> dict[str, Any]:
    """The gateway's Pod, as a cluster lists it: labels, service account, container istio-proxy with
    port 8080 (http2). No node: nothing schedules or runs it (the sandbox runs the gateway itself),
    and the controller manager runs no controller that acts on pods."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": gateway.pod_name, "namespace": NAMESPACE, "labels": gateway.labels},
        "spec": {
            "serviceAccountName": GATEWAY_SERVICE_ACCOUNT,
            "containers": [{
                "name": CONTAINER_NAME,
                # Never pulled (no kubelet); says what runs instead.
                "image": "sandbox.local/pilot-agent-router:local",
                "ports": [{"name": POD_PORT_NAME, "containerPort": POD_PORT, "protocol": "TCP"}],
            }],
        },
    }


def pod_status(gateway: GatewaySpec, pod_ip: str, host_ip: str, started_at: str) -> dict[str, Any]:
    """The status a kubelet would report for the running gateway (applied to pods/NAME/status)."""
    conditions = [{"type": t, "status": "True", "lastTransitionTime": started_at}
                  for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": gateway.pod_name, "namespace": NAMESPACE},
        "status": {
            "phase": "Running",
            "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "startTime": started_at,
            "conditions": conditions,
            "containerStatuses": [{
                "name": CONTAINER_NAME, "ready": True, "started": True, "restartCount": 0,
                "image": pod_manifest(gateway)["spec"]["containers"][0]["image"], "imageID": "",
                "state": {"running": {"startedAt": started_at}},
            }],
        },
    }
