"""The rest of Istio's extension API: targeting, traffic match, type, root id, VM env, and which kind.

Pure. Each parser takes the raw value of one key (top-level, or a field of a `plugins` entry)
and `fail(value, accepted) -> ConfigError`, so that the error names where the value came from.
The rules are the WasmPlugin/TrafficExtension CRDs' own (istio.io/api v1.31
kubernetes/customresourcedefinitions.gen.yaml) plus what istiod does with them
(pilot/pkg/model/policyattachment.go), checked here so that `pulumi preview` fails instead of
the API server refusing, or istiod silently ignoring, half an update.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Fail = Callable[[object, str], Exception]

EXTENSION_KINDS = ("WasmPlugin", "TrafficExtension")
PLUGIN_TYPES = ("HTTP", "NETWORK")
MATCH_MODES = ("CLIENT", "SERVER", "CLIENT_AND_SERVER")
ENV_SOURCES = ("INLINE", "HOST")
# The label Istio reads to tell which Gateway API Gateway a workload is an instance of.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
# The label istiod adds to every proxy's labels with its cluster's id (pilot/pkg/xds/ads.go), so a
# selector can tell the gateways of one data-plane cluster from another's.
ISTIO_CLUSTER_LABEL = "topology.istio.io/cluster"
# kind -> the groups Istio accepts for it, and what it attaches to (policyattachment.go).
TARGET_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "Gateway": (("gateway.networking.k8s.io",), "the gateway pods labelled "
                f"{GATEWAY_NAME_LABEL}=<name> in the plugin's namespace"),
    "GatewayClass": (("gateway.networking.k8s.io",), "waypoints, from the mesh's root namespace"),
    "Service": (("", "core"), "waypoints only"),
    "ServiceEntry": (("networking.istio.io",), "waypoints only"),
}
MAX_TARGET_REFS = 16
# The CRD's rule, and istiod's: a Gateway API gateway takes only targetRefs policies, any other workload
# only selector ones (pilot/pkg/model/policyattachment.go).
SELECTOR_OR_TARGET_REFS = ("set either a selector or targetRefs, not both (Istio's rule: a Gateway API gateway "
                           "only takes targetRefs, any other workload only a selector)")
MAX_ENV = 256
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# An environment variable name a shell and Envoy's environ both take.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
_ROOT_ID = re.compile(r"^[\x21-\x7e]{1,256}$")


@dataclass(frozen=True)
class TargetRef:
    kind: str
    name: str
    group: str

    def spec(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class ExtensionFields:
    """What a WasmPlugin (or TrafficExtension) says beyond url, phase, priority and pluginConfig."""

    target_refs: tuple[TargetRef, ...] = ()
    """Empty: the selector targets the workloads."""
    match: tuple[dict[str, Any], ...] = ()
    """Istio's TrafficSelectors: {mode?, ports?: [{number}]}."""
    plugin_type: str | None = None
    """HTTP or NETWORK; None: Istio's default (HTTP)."""
    root_id: str | None = None
    """Istio's pluginName (Envoy's root_id); None: Istio's default."""
    vm_env: tuple[dict[str, str], ...] = ()
    """Istio's vmConfig.env: {name, value} or {name, valueFrom: HOST}."""

    def gateway_names(self) -> tuple[str, ...]:
        return tuple(ref.name for ref in self.target_refs if ref.kind == "Gateway")


def as_list(value: object, fail: Fail, what: str) -> list[Any]:
    """A list, from a list or the JSON text Pulumi keeps structured config in."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise fail(value, f"expected a JSON list of {what} ({err.msg} at position {err.pos})") from None
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        # `pulumi config set --path key[0].field` makes a list; a dict of indexes is the same intent.
        value = [value[k] for k in sorted(value, key=int)]
    if not isinstance(value, list):
        raise fail(value, f"expected a list of {what}")
    return value


def _fields(item: object, allowed: tuple[str, ...], required: tuple[str, ...], fail: Fail, whole: object,
            where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise fail(whole, f"{where} must be an object with keys {', '.join(allowed)}")
    unknown = sorted(set(item) - set(allowed))
    if unknown:
        raise fail(whole, f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; accepted: "
                   f"{', '.join(allowed)}")
    missing = [k for k in required if item.get(k) in (None, "")]
    if missing:
        raise fail(whole, f"{where} needs {', '.join(map(repr, missing))}")
    return item


def parse_target_refs(raw: object, fail: Fail, namespace: str) -> tuple[TargetRef, ...]:
    items = as_list(raw, fail, "{kind, name} objects")
    if len(items) > MAX_TARGET_REFS:
        raise fail(raw, f"at most {MAX_TARGET_REFS} targetRefs (Istio's limit); it has {len(items)}")
    refs = []
    kinds = ", ".join(f"{k} ({' or '.join(repr(g) for g in groups)}: {what})"
                      for k, (groups, what) in TARGET_KINDS.items())
    for i, item in enumerate(items):
        where = f"targetRefs[{i}]"
        ref = _fields(item, ("group", "kind", "name", "namespace"), ("kind", "name"), fail, raw, where)
        kind, name = ref["kind"], ref["name"]
        if kind not in TARGET_KINDS:
            raise fail(raw, f"{where}.kind {kind!r} is not a kind Istio attaches a Wasm plugin to; accepted: {kinds}")
        groups = TARGET_KINDS[kind][0]
        group = ref.get("group", groups[0])
        if group not in groups:
            raise fail(raw, f"{where}.group {group!r} does not go with kind {kind!r}; accepted: "
                       f"{' or '.join(repr(g) for g in groups)}")
        if not isinstance(name, str) or len(name) > 253 or not _NAME.match(name):
            raise fail(raw, f"{where}.name {name!r} must be a Kubernetes object name (lowercase DNS subdomain)")
        if ref.get("namespace") not in (None, "", namespace):
            raise fail(raw, f"{where}.namespace {ref['namespace']!r}: Istio attaches only to targets in the "
                       f"plugin's own namespace {namespace!r} (cross-namespace references are refused)")
        refs.append(TargetRef(kind=kind, name=name, group=group))
    return tuple(refs)


def parse_match(raw: object, fail: Fail) -> tuple[dict[str, Any], ...]:
    items = as_list(raw, fail, "{mode, ports} objects")
    out = []
    for i, item in enumerate(items):
        where = f"match[{i}]"
        sel = _fields(item, ("mode", "ports"), (), fail, raw, where)
        spec: dict[str, Any] = {}
        if "mode" in sel:
            if sel["mode"] not in MATCH_MODES:
                raise fail(raw, f"{where}.mode {sel['mode']!r}; accepted: {', '.join(MATCH_MODES)}")
            spec["mode"] = sel["mode"]
        if "ports" in sel:
            ports = as_list(sel["ports"], fail, "ports")
            numbers = []
            for j, port in enumerate(ports):
                number = port.get("number") if isinstance(port, dict) else port
                if isinstance(number, str) and number.isdigit():
                    number = int(number)
                if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
                    raise fail(raw, f"{where}.ports[{j}] must be a port number from 1 to 65535 "
                               "(or {\"number\": N})")
                if number in numbers:
                    raise fail(raw, f"{where}.ports lists port {number} twice (Istio keys the list by number)")
                numbers.append(number)
            spec["ports"] = [{"number": n} for n in numbers]
        if not spec:
            raise fail(raw, f"{where} is empty: give a mode, ports or both (an empty match selects everything: "
                       "leave match unset instead)")
        out.append(spec)
    return tuple(out)


def parse_vm_env(raw: object, fail: Fail) -> tuple[dict[str, str], ...]:
    items = as_list(raw, fail, "{name, value} or {name, valueFrom: HOST} objects")
    if len(items) > MAX_ENV:
        raise fail(raw, f"at most {MAX_ENV} variables (Istio's limit)")
    out: list[dict[str, str]] = []
    for i, item in enumerate(items):
        where = f"vmEnv[{i}]"
        var = _fields(item, ("name", "value", "valueFrom"), ("name",), fail, raw, where)
        name = var["name"]
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise fail(raw, f"{where}.name must be an environment variable name (letters, digits, '_'; not "
                       "starting with a digit; at most 256)")
        if any(v["name"] == name for v in out):
            raise fail(raw, f"{where}.name {name!r} is given twice")
        source = var.get("valueFrom", "INLINE")
        if source not in ENV_SOURCES:
            raise fail(raw, f"{where}.valueFrom {source!r}; accepted: INLINE (the value given here), HOST "
                       "(the gateway process's own variable of that name)")
        if source == "HOST":
            if "value" in var:
                raise fail(raw, f"{where}: valueFrom HOST takes the gateway's own value; remove 'value'")
            out.append({"name": name, "valueFrom": "HOST"})
            continue
        value = var.get("value")
        if not isinstance(value, str) or len(value) > 2048:
            raise fail(raw, f"{where}.value must be a string of at most 2048 characters")
        out.append({"name": name, "value": value})
    return tuple(out)


def parse_root_id(raw: object, fail: Fail) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not _ROOT_ID.match(raw):
        raise fail(raw, "expected the plugin's root id: 1 to 256 printable ASCII characters without spaces")
    return raw


def parse_one_of(raw: object, choices: tuple[str, ...], fail: Fail) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise fail(raw, "accepted: " + ", ".join(choices))
    return str(raw)


def traffic_extension_phase(phase: str) -> str:
    """WasmPlugin's UNSPECIFIED_PHASE is TrafficExtension's UNSPECIFIED; the other phases are the same."""
    return "UNSPECIFIED" if phase == "UNSPECIFIED_PHASE" else phase


def spec_extras(fields: ExtensionFields) -> Mapping[str, Any]:
    """The WasmPlugin fields these settings add (the TrafficExtension moves some under `wasm`)."""
    out: dict[str, Any] = {}
    if fields.target_refs:
        out["targetRefs"] = [ref.spec() for ref in fields.target_refs]
    if fields.match:
        out["match"] = [dict(m) for m in fields.match]
    if fields.plugin_type:
        out["type"] = fields.plugin_type
    if fields.root_id:
        out["pluginName"] = fields.root_id
    return out
