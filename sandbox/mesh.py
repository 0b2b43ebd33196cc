"""The real mesh path on the sandbox: istiod and an `istio: ingressgateway` in front of httpbin.

istiod (pilot-discovery) runs out of cluster against the sandbox's API server. The gateway is
pilot-agent in router mode, labelled ``istio: ingressgateway`` in ``istio-system``, driving the
PyPI Envoy. A Gateway, a VirtualService and a ServiceEntry route it to httpbin on loopback.
Whatever WasmPlugin ``pulumi up`` then applies, istiod turns into an extension config for the
gateway; the agent pulls the image from the sandbox's TLS + htpasswd registry with the pull
Secret and hands the module to Envoy: the path ASM runs.

What differs from a cluster, each forced by running without one (docs/istio-path.md):

- xDS is plaintext on loopback (no CA). The gateway authenticates with a ServiceAccount token
  and istiod runs with XDS_AUTH_PLAINTEXT=true, because istiod hands pull secrets only to
  authenticated proxies.
- The agent runs in a private mount namespace where ``$SANDBOX_DIR/mesh/varlib`` is /var/lib:
  its Wasm cache (/var/lib/istio/data, a fixed path) belongs to this sandbox, so a module cached
  by an earlier run can never stand in for a pull, and the host is untouched. Needs root.
- Istio-only Envoy filters (metadata exchange, ALPN, stats) are switched off: the PyPI Envoy is
  upstream Envoy, which does not have them.
- The agent trusts the registry's CA through SSL_CERT_FILE (system CAs + the sandbox CA): the
  pull is verified TLS, no insecure-registry setting.

    python -m sandbox.mesh up       # after scripts/sandbox-up.sh; reuses what already runs
    python -m sandbox.mesh down
    python -m sandbox.mesh status

Everything lives in ``$SANDBOX_DIR/mesh/``: ``env`` (GATEWAY_URL, ...), ``ports``, one
``<name>.pid`` and ``<name>.log`` per process (httpbin, istiod, gateway), ``mesh.yaml``,
``crds.json``, ``gateway/`` (the agent's working directory) and ``varlib/``.
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import process
from sandbox.envfile import read_env_file, sandbox_dir
from sandbox.envoy import envoy_bin, free_ports
from sandbox.kube_api import KubeApi, KubeApiError
from sandbox.local_stack import Sandbox
from sandbox.mesh_config import (
    CLUSTER_ID,
    GATEWAY_SERVICE_ACCOUNT,
    ISTIOD_ENV,
    NAMESPACE,
    PORT_NAMES,
    gateway_env,
    gateway_proxy_config,
    mesh_config,
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


@dataclass(frozen=True)
class Mesh:
    """Handles on a running mesh sandbox, read from ``$SANDBOX_DIR/mesh/env``."""

    root: Path
    gateway_url: str
    envoy_admin_url: str
    istiod_url: str

    @classmethod
    def running(cls, root: Path | None = None) -> Mesh:
        root = root or sandbox_dir() / "mesh"
        if not (root / "env").is_file():
            raise MeshError(f"the mesh is not up ({root / 'env'} missing): run scripts/mesh-up.sh")
        for name in ("httpbin", "istiod", "gateway"):
            if process.running(root, name) is None:
                raise MeshError(f"{name} of the mesh is not running ({root / (name + '.log')}): "
                                "run scripts/mesh-up.sh")
        env = read_env_file(root / "env")
        return cls(root, env["GATEWAY_URL"], env["ENVOY_ADMIN_URL"], env["ISTIOD_URL"])

    def get(self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
        """One request through the gateway: (status, body)."""
        resp = http_get(self.gateway_url + path, headers, timeout)
        return resp.status, resp.body

    def gateway_pids(self) -> tuple[int, int]:
        """(pilot-agent, Envoy): a rollout that restarts either shows here."""
        agent = process.running(self.root, "gateway")
        if agent is None:
            raise MeshError("the gateway's pilot-agent is not running")
        children = [p for p in process.processes_in_group(agent) if p != agent and process.comm(p) == "envoy"]
        if len(children) != 1:
            raise MeshError(f"expected one Envoy under pilot-agent {agent}, found {children}")
        return agent, children[0]

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def running_digests(self) -> set[str]:
        """Image digests (hex) of the Wasm modules the gateway's Envoy runs now.

        The agent hands Envoy each pulled module as /var/lib/istio/data/<url hash>/<digest>.wasm,
        so Envoy's extension config dump says which image every filter runs.
        """
        body = http_get(f"{self.envoy_admin_url}/config_dump?resource=ecds_filters").body
        return set(re.findall(r"/var/lib/istio/data/[0-9a-f]+/([0-9a-f]{64})\.wasm", body.decode()))


@dataclass(frozen=True)
class Rollout:
    """Seconds from the start of a change (e.g. `pulumi up`) to the gateway's new behaviour."""

    applied_after: float
    """the change itself returned (pulumi up done)"""
    seen_after: float
    """the first response showing the new behaviour"""


def time_rollout(mesh: Mesh, change: Callable[[], object], arrived: Callable[[int, bytes], bool],
                 path: str = "/status/418", timeout: float = 120.0, interval: float = 0.02) -> Rollout:
    """Runs change() while polling the gateway; times when arrived(status, body) first holds."""
    seen: list[float] = []
    stop = threading.Event()
    started = time.monotonic()

    def poll() -> None:
        while not stop.is_set() and time.monotonic() - started < timeout:
            try:
                if arrived(*mesh.get(path, timeout=2)):
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
        raise MeshError(f"the gateway did not show the new behaviour within {timeout:.0f}s of the change; "
                        f"gateway log tail:\n{process.tail(mesh.root / 'gateway.log')}")
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
    """Starts the mesh, or reuses a running one unless fresh (then its gateway's Wasm cache is empty)."""
    root = root or sb.root / "mesh"
    root.mkdir(parents=True, exist_ok=True)
    if not fresh and all(process.running(root, n) is not None for n in ("httpbin", "istiod", "gateway")):
        mesh = Mesh.running(root)
        if _answers(mesh.gateway_url):
            return mesh
    if os.geteuid() != 0:
        raise MeshError("the mesh gateway needs root: pilot-agent runs in its own mount namespace "
                        "so that its fixed Wasm cache path /var/lib/istio/data is the sandbox's")
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            raise MeshError(f"{tool} (util-linux) is required for the mesh gateway (not on PATH)")
    down(root)
    started = time.monotonic()
    bins = Binaries.build()
    api = sb.api
    ports = _ports(root)

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

    for path, manifest in routing_objects(ports["gateway"], ports["httpbin"]):
        api.apply(path, manifest)

    _start_gateway(sb, root, bins, ports, gateway_token(api))
    gateway_url = f"http://127.0.0.1:{ports['gateway']}"
    envoy_admin_url = f"http://127.0.0.1:{ports['envoy_admin']}"
    _wait("ready", lambda: status_of(f"http://127.0.0.1:{ports['agent_status']}/healthz/ready") == 200,
          root, "gateway")
    # Ready means Envoy took istiod's listeners; the route answers once the Gateway's is there.
    _wait("routing", lambda: _answers(gateway_url + "/status/200"), root, "gateway")

    (root / "env").write_text(
        f"GATEWAY_URL={gateway_url}\nENVOY_ADMIN_URL={envoy_admin_url}\nISTIOD_URL={istiod_url}\n")
    print(f"mesh: istiod {istiod_url}, gateway {gateway_url} (istio: ingressgateway in {NAMESPACE}) "
          f"-> httpbin :{ports['httpbin']}, up in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return Mesh.running(root)


def _start_gateway(sb: Sandbox, root: Path, bins: Binaries, ports: dict[str, int], token: str) -> None:
    workdir = root / "gateway"
    # The agent reads its token and writes its config relative to its working directory.
    token_file = workdir / "var" / "run" / "secrets" / "tokens" / "istio-token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token)
    token_file.chmod(0o600)
    (workdir / "etc" / "istio" / "proxy").mkdir(parents=True, exist_ok=True)
    # A new agent starts with an empty Wasm cache, so every module it runs is one it pulled.
    shutil.rmtree(root / "varlib", ignore_errors=True)
    (root / "varlib" / "istio" / "data").mkdir(parents=True)
    # The bootstrap template ships in the module, not at the image path the agent defaults to.
    template = root / "envoy_bootstrap.json"
    shutil.copyfile(bins.istio_source / "tools" / "packaging" / "common" / "envoy_bootstrap.json", template)
    template.chmod(0o644)
    cas = root / "ca-bundle.crt"
    system_cas = Path("/etc/ssl/certs/ca-certificates.crt")
    cas.write_text((system_cas.read_text() if system_cas.is_file() else "") + sb.registry.ca.read_text())

    proxy_config = gateway_proxy_config(ports, envoy_bin(), workdir / "etc" / "istio" / "proxy")
    env = gateway_env(ports, proxy_config, cas)
    agent = [str(bins.pilot_agent), "proxy", "router", "--templateFile", str(template),
             "--proxyLogLevel", "warning,wasm:debug",
             "--log_output_level", "default:info"]
    # Own mount namespace: the sandbox's varlib/ is /var/lib for the agent and its Envoy only.
    wrapped = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
               'mount --bind "$0" /var/lib && exec "$@"', str(root / "varlib"), *agent]
    process.spawn(root, "gateway", wrapped, env=env, cwd=workdir)


def down(root: Path | None = None) -> None:
    root = root or sandbox_dir() / "mesh"
    if not root.is_dir():
        return
    for name in ("gateway", "istiod", "httpbin"):
        process.stop(root, name)
    (root / "env").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status"))
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            mesh = up(Sandbox.running())
            print(f"GATEWAY_URL={mesh.gateway_url}")
        elif args.command == "down":
            down()
        else:
            mesh = Mesh.running()
            agent, envoy = mesh.gateway_pids()
            print(f"GATEWAY_URL={mesh.gateway_url} (pilot-agent {agent}, envoy {envoy}); ISTIOD_URL={mesh.istiod_url}")
    except (MeshError, KubeApiError, RuntimeError, OSError) as err:
        print(f"mesh: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
