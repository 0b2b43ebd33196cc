"""The policy pack's rules on good and bad resources."""

from __future__ import annotations

import copy
from typing import Any

from policy.wasm_rules import (
    SECRET_TYPE,
    TRAFFIC_EXTENSION_TYPE,
    WASM_PLUGIN_TYPE,
    fail_open_allowed,
    pull_secret_in_plugin_namespace,
    selector_required,
    url_pinned,
)

DIGEST = "a" * 64
GOOD: dict[str, Any] = {
    "apiVersion": "extensions.istio.io/v1alpha1",
    "kind": "WasmPlugin",
    "metadata": {"name": "header-authorization", "namespace": "istio-system"},
    "spec": {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "url": f"oci://registry.example.com/test-oci/header-authorization@sha256:{DIGEST}",
        "phase": "AUTHN",
        "imagePullPolicy": "IfNotPresent",
        "imagePullSecret": "wasm-secret",
        "failStrategy": "FAIL_CLOSE",
    },
}
SECRET = {"metadata": {"name": "wasm-secret", "namespace": "istio-system"}, "type": "kubernetes.io/dockerconfigjson"}


def changed(**spec: Any) -> dict[str, Any]:
    plugin = copy.deepcopy(GOOD)
    for key, value in spec.items():
        if value is None:
            plugin["spec"].pop(key, None)
        else:
            plugin["spec"][key] = value
    return plugin


def test_the_seed_plugin_passes_every_rule() -> None:
    assert selector_required(GOOD) == []
    assert url_pinned(GOOD) == []
    assert fail_open_allowed(GOOD, allow_fail_open=False) == []
    assert pull_secret_in_plugin_namespace([(WASM_PLUGIN_TYPE, GOOD), (SECRET_TYPE, SECRET)]) == []


def test_no_selector_is_mesh_wide() -> None:
    [message] = selector_required(changed(selector=None))
    assert "istio-system/header-authorization" in message and "every workload" in message
    assert selector_required(changed(selector={"matchLabels": {}})) != []
    assert selector_required(changed(selector=None, targetRefs=[{"kind": "Gateway", "name": "gw"}])) == []


def test_url_must_be_pinned() -> None:
    [message] = url_pinned(changed(url="oci://registry.example.com/test-oci/header-authorization:v0.0.1"))
    assert ":v0.0.1" in message
    assert url_pinned(changed(url="oci://r/x:v1", sha256=DIGEST)) == []
    assert url_pinned(changed(url="oci://r/x@sha256:abc")) != []


def test_fail_open_needs_explicit_consent() -> None:
    assert fail_open_allowed(changed(failStrategy="FAIL_OPEN"), allow_fail_open=False) != []
    assert fail_open_allowed(changed(failStrategy="FAIL_OPEN"), allow_fail_open=True) == []


def test_pull_secret_in_another_namespace() -> None:
    elsewhere = {**SECRET, "metadata": {"name": "wasm-secret", "namespace": "default"}}
    [message] = pull_secret_in_plugin_namespace([(WASM_PLUGIN_TYPE, GOOD), (SECRET_TYPE, elsewhere)])
    assert "namespace(s) default" in message and "'istio-system'" in message
    # A Secret in each of several clusters, one of them right, is fine.
    assert pull_secret_in_plugin_namespace(
        [(WASM_PLUGIN_TYPE, GOOD), (SECRET_TYPE, elsewhere), (SECRET_TYPE, SECRET)]) == []


def as_traffic_extension(plugin: dict[str, Any]) -> dict[str, Any]:
    spec = dict(plugin["spec"])
    outside = {k: spec.pop(k) for k in ("selector", "targetRefs", "phase", "priority", "match") if k in spec}
    return {**plugin, "kind": "TrafficExtension", "spec": {**outside, "wasm": spec}}


def test_a_traffic_extension_is_held_to_the_same_rules() -> None:
    good = as_traffic_extension(GOOD)
    assert selector_required(good) == url_pinned(good) == fail_open_allowed(good, False) == []
    unpinned = copy.deepcopy(GOOD)
    unpinned["spec"]["url"] = "oci://registry.example.com/test-oci/header-authorization:v0.0.1"
    assert url_pinned(as_traffic_extension(unpinned))
    fail_open = copy.deepcopy(GOOD)
    fail_open["spec"]["failStrategy"] = "FAIL_OPEN"
    assert fail_open_allowed(as_traffic_extension(fail_open), False)
    unselected = copy.deepcopy(GOOD)
    del unselected["spec"]["selector"]
    assert selector_required(as_traffic_extension(unselected))
    secret = {"metadata": {"name": "wasm-secret", "namespace": "default"}}
    assert pull_secret_in_plugin_namespace([(SECRET_TYPE, secret), (TRAFFIC_EXTENSION_TYPE, good)])
