"""The rules of the policy pack as pure functions over resource properties.

Each returns the violations it finds (empty when the resource is fine), so the
rules are unit-tested without an engine; policy/__main__.py adapts them to
pulumi_policy's callbacks. The program itself does not import them: its own
validation (stackconfig/settings.py) refuses bad values before anything is registered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

WASM_PLUGIN_TYPE = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
# Istio 1.31's successor: the same targeting outside, the module's fields under spec.wasm.
TRAFFIC_EXTENSION_TYPE = "kubernetes:extensions.istio.io/v1alpha1:TrafficExtension"
EXTENSION_TYPES = (WASM_PLUGIN_TYPE, TRAFFIC_EXTENSION_TYPE)
SECRET_TYPE = "kubernetes:core/v1:Secret"
_DIGEST_IN_URL = re.compile(r"@sha256:[a-f0-9]{64}$")
_SHA256 = re.compile(r"^[a-f0-9]{64}$")


def _spec(props: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = props.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _module(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where url, sha256, failStrategy and imagePullSecret are: the spec, or a TrafficExtension's spec.wasm."""
    spec = _spec(props)
    wasm = spec.get("wasm")
    return wasm if isinstance(wasm, Mapping) else spec


def _name(props: Mapping[str, Any]) -> str:
    meta = props.get("metadata") or {}
    return f"{meta.get('namespace', '<no namespace>')}/{meta.get('name', '<no name>')}"


def selector_required(props: Mapping[str, Any]) -> list[str]:
    spec = _spec(props)
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    if labels or spec.get("targetRef") or spec.get("targetRefs"):
        return []
    return [f"WasmPlugin {_name(props)} has neither selector.matchLabels nor targetRefs: it would apply to "
            "every workload in its namespace (mesh-wide in istio-system). Select the gateway, e.g. "
            "istio: ingressgateway."]


def url_pinned(props: Mapping[str, Any]) -> list[str]:
    spec = _module(props)
    url = str(spec.get("url", ""))
    if _DIGEST_IN_URL.search(url) or _SHA256.match(str(spec.get("sha256", ""))):
        return []
    return [f"WasmPlugin {_name(props)} url {url!r} is pinned neither by digest (@sha256:...) nor by spec.sha256: "
            "a reused tag under IfNotPresent keeps serving whatever module a gateway cached first."]


def fail_open_allowed(props: Mapping[str, Any], allow_fail_open: bool) -> list[str]:
    if _module(props).get("failStrategy") != "FAIL_OPEN" or allow_fail_open:
        return []
    return [f"WasmPlugin {_name(props)} uses failStrategy FAIL_OPEN: traffic would pass unchecked whenever the "
            "plugin cannot load. Use FAIL_CLOSE, or set this policy's allowFailOpen to true."]


def pull_secret_in_plugin_namespace(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Istio reads imagePullSecret from the WasmPlugin's own namespace only."""
    resources = list(resources)
    secrets: dict[str, set[str]] = {}
    for typ, props in resources:
        if typ == SECRET_TYPE:
            meta = props.get("metadata") or {}
            secrets.setdefault(str(meta.get("name")), set()).add(str(meta.get("namespace", "default")))
    violations = []
    for typ, props in resources:
        if typ not in EXTENSION_TYPES:
            continue
        wanted = _module(props).get("imagePullSecret")
        namespace = (props.get("metadata") or {}).get("namespace", "default")
        found = secrets.get(str(wanted), set())
        if wanted and found and namespace not in found:
            violations.append(
                f"WasmPlugin {_name(props)} pulls with Secret {wanted!r}, but this stack creates that Secret in "
                f"namespace(s) {', '.join(sorted(found))}, not in {namespace!r} where Istio looks for it.")
    return violations
