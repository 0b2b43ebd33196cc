"""The real mesh path on the sandbox: istiod and two ingress gateways in front of httpbin.

istiod (pilot-discovery) runs out of cluster against the sandbox's API server. Each gateway is
pilot-agent in router mode in ``istio-system``, driving the PyPI Envoy: the stable one labelled
``istio: ingressgateway`` (what the local stack selects), the canary one ``istio:
ingressgateway-canary``. Gateways, a VirtualService and a ServiceEntry route both to httpbin on
loopback. Whatever WasmPlugin ``pulumi up`` then applies, istiod turns into an extension config
for the gateways it selects; their agents pull the image from the sandbox's TLS + htpasswd
registry with the pull Secret and hand the module to Envoy: the path ASM runs.

Each gateway is also a Pod in the API server (istio-ingressgateway-0, istio-ingressgateway-canary-0;
container istio-proxy, port 8080 "http2"), Running and Ready at a podIP in a network namespace of
the sandbox (sandbox/netns.py), where a forwarder passes connections to the gateway: the API
server's pods proxy (``/api/v1/namespaces/istio-system/pods/NAME:8080/proxy/PATH``) reaches it,
as a verifier holding only the cluster's kubeconfig would.

What differs from a cluster, each forced by running without one (docs/istio-path.md):

- xDS is plaintext on loopback (no CA). The gateway authenticates with a ServiceAccount token
  and istiod runs with XDS_AUTH_PLAINTEXT=true, because istiod hands pull secrets only to
  authenticated proxies.
- Each agent runs in a private mount namespace where its own ``$SANDBOX_DIR/mesh/varlib[-canary]``
  is /var/lib: its Wasm cache (/var/lib/istio/data, a fixed path) belongs to this gateway, so a
  module cached by an earlier run or by the other gateway can never stand in for a pull, and the
  host is untouched. Needs root (as do the network namespace and its veth pair).
- The gateways listen on loopback; their pods' addresses reach them through a forwarder.
- Istio-only Envoy filters (metadata exchange, ALPN, stats) are switched off: the PyPI Envoy is
  upstream Envoy, which does not have them.
- The agent trusts the registry's CA through SSL_CERT_FILE (system CAs + the sandbox CA): the
  pull is verified TLS, no insecure-registry setting.

    python -m sandbox.mesh up       # after scripts/sandbox-up.sh; reuses what already runs
    python -m sandbox.mesh down
    python -m sandbox.mesh status

Everything lives in ``$SANDBOX_DIR/mesh/``: ``env`` (GATEWAY_URL, CANARY_GATEWAY_URL, ...),
``gateways.json`` (what Mesh.running reads), ``ports``, ``netns.json``, one ``<name>.pid`` and
``<name>.log`` per daemon (httpbin, istiod, gateway, gateway-canary, gateway-forward,
gateway-canary-forward; sandbox/process.py), ``mesh.yaml``, ``crds.json``, each agent's working
directory (``gateway/``, ``gateway-canary/``) and Wasm cache (``varlib/``, ``varlib-canary/``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sandbox import netns, process
from sandbox.envfile import read_env_file, sandbox_dir
from sandbox.envoy import envoy_bin, free_ports
from sandbox.kube_api import KubeApi, KubeApiError
from sandbox.local_stack import Sandbox
from sandbox.mesh_config import (
    CLUSTER_ID,
    GATEWAY_SERVICE_ACCOUNT,
    GATEWAYS,
    ISTIOD_ENV,
    NAMESPACE,
    POD_PORT,
    PORT_NAMES,
    STABLE,
    GatewaySpec,
    gateway_env,
    gateway_ports,
    gateway_proxy_config,
    mesh_config,
    pod_manifest,
    pod_status,
    routing_objects,
)
from sandbox.process import http_get, status_of

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 120.0
class MeshError(process.ProcessError):
    """The mesh sandbox could not start, or a part of it is not running."""


@dataclass(frozen=True)
class Binaries:
    pilot_discovery: Path
    pilot_agent: Path
    istio_source: Path

    @classmethod
    def build(cls) -> Binaries:
        """scripts/build-istio.sh: cached after the first (several minutes) build."""
        proc = subprocess.run([str(REPO / "scripts" / "build-istio.sh")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise MeshError(f"scripts/build-istio.sh failed:\n{proc.stderr[-3000:]}")
        out = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        return cls(Path(out["PILOT_DISCOVERY"]), Path(out["PILOT_AGENT"]), Path(out["ISTIO_SOURCE"]))


# Stopped in this order (clients first); all must run for the mesh to count as up.
def _daemons() -> list[str]:
    return [*(f"{gw.state}-forward" for gw in GATEWAYS), *(gw.state for gw in GATEWAYS), "istiod", "httpbin"]


@dataclass(frozen=True)
class Gateway:
    """One running ingress gateway: its loopback URL, its Envoy's admin, and the Pod that stands for it."""

    root: Path
    name: str
    """stable or canary"""
    state: str
    """its pid/log file name in the mesh dir"""
    url: str
    envoy_admin_url: str
    pod_name: str
    pod_ip: str
    pod_port: int
    labels: dict[str, str]
    varlib: Path
    """/var/lib in its private mount namespace: its Wasm cache is varlib/istio/data"""

    def get(self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
        """One request through the gateway: (status, body)."""
        resp = http_get(self.url + path, headers, timeout)
        return resp.status, resp.body

    @property
    def proxy_path(self) -> str:
        """The pod's proxy subresource in the API server: append the path to request."""
        return f"/api/v1/namespaces/{NAMESPACE}/pods/{self.pod_name}:{self.pod_port}/proxy"

    def pids(self) -> tuple[int, int]:
        """(pilot-agent, Envoy): a rollout that restarts either shows here."""
        agent = process.running(self.root, self.state)
        if agent is None:
            raise MeshError(f"the {self.name} gateway's pilot-agent is not running")
        envoys = [p for p in process.processes_in_group(agent) if p != agent and process.comm(p) == "envoy"]
        if len(envoys) != 1:
            raise MeshError(f"expected one Envoy under pilot-agent {agent}, found {envoys}")
        return agent, envoys[0]

    def log(self) -> str:
        return (self.root / f"{self.state}.log").read_text(errors="replace")

    def running_digests(self) -> set[str]:
        """Image digests (hex) of the Wasm modules the gateway's Envoy runs now.

        The agent hands Envoy each pulled module as /var/lib/istio/data/<url hash>/<digest>.wasm,
        so Envoy's extension config dump says which image every filter runs.
        """
        body = http_get(f"{self.envoy_admin_url}/config_dump?resource=ecds_filters").body
        return set(re.findall(r"/var/lib/istio/data/[0-9a-f]+/([0-9a-f]{64})\.wasm", body.decode()))


@dataclass(frozen=True)
class Mesh:
    """Handles on a running mesh sandbox, read from ``$SANDBOX_DIR/mesh/gateways.json`` and ``env``.

    The methods without a gateway name (get, gateway_pids, running_digests, gateway_url) are the
    stable gateway's, the one the local stack's selector names.
    """

    root: Path
    istiod_url: str
    gateways: dict[str, Gateway]

    @classmethod
    def running(cls, root: Path | None = None) -> Mesh:
        root = root or sandbox_dir() / "mesh"
        if not (root / "env").is_file() or not (root / "gateways.json").is_file():
            raise MeshError(f"the mesh is not up ({root / 'env'} missing): run scripts/mesh-up.sh")
        for name in _daemons():
            if process.running(root, name) is None:
                raise MeshError(f"{name} of the mesh is not running ({root / (name + '.log')}): "
                                "run scripts/mesh-up.sh")
        env = read_env_file(root / "env")
        gateways = {}
        for raw in json.loads((root / "gateways.json").read_text()):
            gw = Gateway(**{**raw, "root": root, "varlib": root / raw["varlib"]})
            gateways[gw.name] = gw
        return cls(root, env["ISTIOD_URL"], gateways)

    def gateway(self, name: str = STABLE.name) -> Gateway:
        try:
            return self.gateways[name]
        except KeyError:
            raise MeshError(f"no gateway {name!r}; the mesh has {sorted(self.gateways)}") from None

    @property
    def gateway_url(self) -> str:
        return self.gateway().url

    @property
    def envoy_admin_url(self) -> str:
        return self.gateway().envoy_admin_url

    def get(self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
        """One request through the stable gateway: (status, body)."""
        return self.gateway().get(path, headers, timeout)

    def gateway_pids(self) -> tuple[int, int]:
        return self.gateway().pids()

    def log(self, name: str) -> str:
        """The log of a daemon of the mesh: gateway, gateway-canary, istiod, httpbin, ..."""
        return (self.root / f"{name}.log").read_text(errors="replace")

    def running_digests(self) -> set[str]:
        return self.gateway().running_digests()


@dataclass(frozen=True)
class Rollout:
    """Seconds from the start of a change (e.g. `pulumi up`) to the gateway's new behaviour."""

    applied_after: float
    """the change itself returned (pulumi up done)"""
    seen_after: float
    """the first response showing the new behaviour"""


def time_rollout(mesh: Mesh | Gateway, change: Callable[[], object], arrived: Callable[[int, bytes], bool],
                 path: str = "/status/418", timeout: float = 120.0, interval: float = 0.02) -> Rollout:
    """Runs change() while polling the gateway (a Mesh: its stable one); times when arrived(status, body)
    first holds."""
    gateway = mesh.gateway() if isinstance(mesh, Mesh) else mesh
    seen: list[float] = []
    stop = threading.Event()
    started = time.monotonic()

    def poll() -> None:
        while not stop.is_set() and time.monotonic() - started < timeout:
            try:
                if arrived(*gateway.get(path, timeout=2)):
                    seen.append(time.monotonic() - started)
                    return
            except (OSError, urllib.error.URLError):
                pass  # a refused request is not the new behaviour; keep polling
            time.sleep(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        change()
        applied = time.monotonic() - started
        poller.join(timeout=max(0.0, timeout - applied))
    finally:
        stop.set()
    if not seen:
        raise MeshError(f"the {gateway.name} gateway did not show the new behaviour within {timeout:.0f}s of "
                        f"the change; gateway log tail:\n{process.tail(gateway.root / f'{gateway.state}.log')}")
    return Rollout(applied, seen[0])


def _answers(url: str) -> bool:
    return status_of(url, timeout=2) is not None


def _wait(what: str, ready: Callable[[], bool], root: Path, name: str, timeout: float = READY_TIMEOUT_S) -> None:
    try:
        process.wait_daemon(root, name, what, ready, timeout)
    except process.ProcessError as err:
        raise MeshError(str(err)) from None


# --- what the mesh needs in the API server -----------------------------------------------

def _istio_crds(root: Path) -> list[dict[str, Any]]:
    """Every CRD of the istio.io/api bundle pinned in tools/istio-crd (istiod watches them all)."""
    crd_tool = REPO / "tools" / "istio-crd"
    api_dir = json.loads(subprocess.run(["go", "mod", "download", "-json", "istio.io/api"], cwd=crd_tool,
                                        check=True, capture_output=True, text=True).stdout)["Dir"]
    out = root / "crds.json"
    proc = subprocess.run(["go", "run", ".", "-all", "-o", str(out),
                           "-bundle", f"{api_dir}/kubernetes/customresourcedefinitions.gen.yaml"],
                          cwd=crd_tool, capture_output=True, text=True)
    if proc.returncode != 0:
        raise MeshError(f"extracting the Istio CRDs failed: {proc.stderr.strip()}")
    return list(json.loads(out.read_text()))


def _install_crds(api: KubeApi, crds: list[dict[str, Any]]) -> None:
    for crd in crds:  # all submitted first, then waited for: they establish in parallel
        api.submit_crd(crd)
    for crd in crds:
        api.wait_established(crd["metadata"]["name"], timeout=60)


def gateway_token(api: KubeApi) -> str:
    """A token of the gateway's ServiceAccount for istiod (audience istio-ca), as a pod would get."""
    sa_path = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{GATEWAY_SERVICE_ACCOUNT}"
    api.apply(sa_path, {"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": GATEWAY_SERVICE_ACCOUNT, "namespace": NAMESPACE}})
    resp = api.request("POST", f"{sa_path}/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": ["istio-ca"], "expirationSeconds": 7 * 24 * 3600}})
    if resp.status != 201:
        raise MeshError(f"token request for {NAMESPACE}/{GATEWAY_SERVICE_ACCOUNT}: HTTP {resp.status}: {resp.message}")
    return str(resp.json()["status"]["token"])


def other_wasm_plugins(api: KubeApi, ours: str) -> list[str]:
    """WasmPlugins in the root namespace besides ours: each would act on the gateway too."""
    listed = api.request("GET", f"/apis/extensions.istio.io/v1alpha1/namespaces/{NAMESPACE}/wasmplugins")
    if listed.status != 200:
        raise MeshError(f"listing WasmPlugins in {NAMESPACE}: HTTP {listed.status}: {listed.message}")
    return [i["metadata"]["name"] for i in listed.json().get("items", []) if i["metadata"]["name"] != ours]


# --- up / down -----------------------------------------------------------------------------

def _ports(root: Path) -> dict[str, int]:
    """The mesh's loopback ports: last run's when still free (stable URLs), else new ones."""
    path = root / "ports"
    try:
        ports = {k: int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        ports = {}
    if set(ports) != set(PORT_NAMES) or not all(_port_free(p) for p in ports.values()):
        ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        path.write_text(json.dumps(ports, indent=1) + "\n")
    return ports


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def up(sb: Sandbox, root: Path | None = None, fresh: bool = False) -> Mesh:
    """Starts the mesh, or reuses a running one unless fresh (then its gateways' Wasm caches are empty)."""
    root = root or sb.root / "mesh"
    root.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(root))
    if not fresh and all(process.running(root, n) is not None for n in _daemons()):
        with contextlib.suppress(MeshError, OSError, ValueError, TypeError, KeyError):
            mesh = Mesh.running(root)
            if all(_answers(gw.url) for gw in mesh.gateways.values()):
                return mesh
    if os.geteuid() != 0:
        raise MeshError("the mesh gateways need root: pilot-agent runs in its own mount namespace "
                        "so that its fixed Wasm cache path /var/lib/istio/data is the sandbox's, and "
                        "the gateway pods' addresses live in a network namespace")
    for tool in ("unshare", "mount", "ip"):
        if shutil.which(tool) is None:
            raise MeshError(f"{tool} (util-linux / iproute2) is required for the mesh gateways (not on PATH)")
    api = sb.api
    down(root, api)
    started = time.monotonic()
    bins = Binaries.build()
    ports = _ports(root)
    ns = netns.setup(root, len(GATEWAYS))

    _install_crds(api, _istio_crds(root))
    api.ensure_namespace(NAMESPACE)

    process.spawn(root, "httpbin", [sys.executable, "-m", "httpbin.core", "--host", "127.0.0.1",
                                    "--port", str(ports["httpbin"])], cwd=root / "httpbin")
    httpbin_url = f"http://127.0.0.1:{ports['httpbin']}/status/200"
    _wait("serving", lambda: _answers(httpbin_url), root, "httpbin")

    (root / "mesh.yaml").write_text(json.dumps(mesh_config(ports), indent=1) + "\n")
    process.spawn(root, "istiod", [
        str(bins.pilot_discovery), "discovery",
        "--kubeconfig", sb.kube_env["KUBECONFIG"],
        "--meshConfig", str(root / "mesh.yaml"),
        "--clusterID", CLUSTER_ID,
        "--httpAddr", f"127.0.0.1:{ports['istiod_http']}",
        "--httpsAddr", "",
        "--grpcAddr", f"127.0.0.1:{ports['istiod_grpc']}",
        "--monitoringAddr", f"127.0.0.1:{ports['istiod_monitoring']}",
    ], env=ISTIOD_ENV, cwd=root / "istiod")
    istiod_url = f"http://127.0.0.1:{ports['istiod_http']}"
    _wait("ready", lambda: status_of(f"{istiod_url}/ready") == 200, root, "istiod")

    for path, manifest in routing_objects(ports):
        api.apply(path, manifest)

    token = gateway_token(api)
    gateways = []
    for gw, pod_ip in zip(GATEWAYS, ns.pod_ips, strict=True):
        # The Pod first, as a cluster has it before its proxy starts; Running once it serves.
        api.apply(_pod_path(gw), pod_manifest(gw))
        _start_gateway(sb, root, bins, gateway_ports(ports, gw), token, gw)
        process.spawn(root, f"{gw.state}-forward", [
            sys.executable, "-m", "sandbox.netns", "forward", "--netns", str(ns.path),
            "--listen", f"{pod_ip}:{POD_PORT}", "--to", str(ports[f"{gw.port_prefix}gateway"]),
        ], env={"PYTHONPATH": str(REPO)}, cwd=root / "forward")
        gateways.append(Gateway(root, gw.name, gw.state, f"http://127.0.0.1:{ports[f'{gw.port_prefix}gateway']}",
                                f"http://127.0.0.1:{ports[f'{gw.port_prefix}envoy_admin']}", gw.pod_name, pod_ip,
                                POD_PORT, gw.labels, root / gw.varlib))
    for gw, handle in zip(GATEWAYS, gateways, strict=True):
        agent_ready = f"http://127.0.0.1:{ports[f'{gw.port_prefix}agent_status']}/healthz/ready"
        _wait("ready", lambda url=agent_ready: status_of(url) == 200, root, gw.state)
        # Ready means Envoy took istiod's listeners; the route answers once the Gateway's is there.
        _wait("routing", lambda url=handle.url: _answers(url + "/status/200"), root, gw.state)
        pod_url = f"http://{handle.pod_ip}:{POD_PORT}/status/200"
        _wait(f"forwarding {handle.pod_ip}:{POD_PORT}", lambda url=pod_url: _answers(url),
              root, f"{gw.state}-forward")
        api.apply(f"{_pod_path(gw)}/status", pod_status(gw, handle.pod_ip, ns.host_ip, _now()))

    (root / "gateways.json").write_text(json.dumps(
        [{k: v for k, v in asdict(g).items() if k != "root"} | {"varlib": g.varlib.name} for g in gateways],
        indent=1) + "\n")
    stable, canary = gateways[0], gateways[1]
    (root / "env").write_text(
        f"GATEWAY_URL={stable.url}\nENVOY_ADMIN_URL={stable.envoy_admin_url}\nISTIOD_URL={istiod_url}\n"
        f"CANARY_GATEWAY_URL={canary.url}\nCANARY_ENVOY_ADMIN_URL={canary.envoy_admin_url}\n")
    pods = ", ".join(f"{g.pod_name} {g.pod_ip}:{g.pod_port} ({_labels(g.labels)})" for g in gateways)
    print(f"mesh: istiod {istiod_url}; gateways {stable.url} (stable), {canary.url} (canary) -> httpbin "
          f":{ports['httpbin']}; pods in {NAMESPACE}: {pods}; up in {time.monotonic() - started:.1f}s",
          file=sys.stderr)
    return Mesh.running(root)


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def _pod_path(gw: GatewaySpec) -> str:
    return f"/api/v1/namespaces/{NAMESPACE}/pods/{gw.pod_name}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _start_gateway(sb: Sandbox, root: Path, bins: Binaries, ports: dict[str, int], token: str,
                   gw: GatewaySpec) -> None:
    """pilot-agent in router mode as gw (ports: the gateway's view, gateway_ports)."""
    workdir = root / gw.state
    # The agent reads its token and writes its config relative to its working directory.
    token_file = workdir / "var" / "run" / "secrets" / "tokens" / "istio-token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token)
    token_file.chmod(0o600)
    (workdir / "etc" / "istio" / "proxy").mkdir(parents=True, exist_ok=True)
    # A new agent starts with an empty Wasm cache, so every module it runs is one it pulled.
    varlib = root / gw.varlib
    shutil.rmtree(varlib, ignore_errors=True)
    (varlib / "istio" / "data").mkdir(parents=True)
    # The bootstrap template ships in the module, not at the image path the agent defaults to.
    template = root / "envoy_bootstrap.json"
    shutil.copyfile(bins.istio_source / "tools" / "packaging" / "common" / "envoy_bootstrap.json", template)
    template.chmod(0o644)
    cas = root / "ca-bundle.crt"
    system_cas = Path("/etc/ssl/certs/ca-certificates.crt")
    cas.write_text((system_cas.read_text() if system_cas.is_file() else "") + sb.registry.ca.read_text())

    proxy_config = gateway_proxy_config(ports, envoy_bin(), workdir / "etc" / "istio" / "proxy")
    env = gateway_env(ports, proxy_config, cas, gw)
    agent = [str(bins.pilot_agent), "proxy", "router", "--templateFile", str(template),
             "--proxyLogLevel", "warning,wasm:debug",
             "--log_output_level", "default:info"]
    # Own mount namespace: the sandbox's varlib dir is /var/lib for this agent and its Envoy only.
    wrapped = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
               'mount --bind "$0" /var/lib && exec "$@"', str(varlib), *agent]
    process.spawn(root, gw.state, wrapped, env=env, cwd=workdir)


def down(root: Path | None = None, api: KubeApi | None = None) -> None:
    """Stops the mesh's processes, deletes its gateway pods (when the API server answers) and its
    network namespace. Safe to run twice."""
    root = root or sandbox_dir() / "mesh"
    if not root.is_dir():
        return
    for name in _daemons():
        process.stop(root, name)
    (root / "env").unlink(missing_ok=True)
    (root / "gateways.json").unlink(missing_ok=True)
    if api is None:
        # The API server of the same sandbox (mesh-down.sh runs before kube-down.sh).
        with contextlib.suppress(KubeApiError, OSError, ValueError, KeyError):
            api = KubeApi.from_env(read_env_file(root.parent / "kube" / "env"))
    if api is not None:
        for gw in GATEWAYS:
            # No kubelet: an unbound pod goes at once; a pod left behind would list a gateway that is gone.
            with contextlib.suppress(OSError, urllib.error.URLError):
                api.request("DELETE", f"{_pod_path(gw)}?gracePeriodSeconds=0", timeout=5)
    netns.teardown(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status"))
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            mesh = up(Sandbox.running())
            print(f"GATEWAY_URL={mesh.gateway_url}")
            print(f"CANARY_GATEWAY_URL={mesh.gateway('canary').url}")
        elif args.command == "down":
            down()
        else:
            mesh = Mesh.running()
            print(f"ISTIOD_URL={mesh.istiod_url}")
            for gw in mesh.gateways.values():
                agent, envoy = gw.pids()
                print(f"{gw.name}: {gw.url} (pilot-agent {agent}, envoy {envoy}); pod {NAMESPACE}/{gw.pod_name} "
                      f"{_labels(gw.labels)} at {gw.pod_ip}:{gw.pod_port}, API path {gw.proxy_path}/")
    except (MeshError, KubeApiError, netns.NetnsError, RuntimeError, OSError) as err:
        print(f"mesh: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
