"""Istio's WasmPlugin CRD, as installed by scripts/kube-up.sh, on a real API server.

These show what the CRD itself (OpenAPI schema and CEL rules) accepts and
rejects; istiod's own validation comes on top of it in a real mesh.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.kube import KubeSandbox, Response

CRD_NAME = "wasmplugins.extensions.istio.io"
NAMESPACE = "istio-system"
PLUGINS = f"/apis/extensions.istio.io/v1alpha1/namespaces/{NAMESPACE}/wasmplugins"
DIGEST = hashlib.sha256(b"header-authorization").hexdigest()


def sample_plugin() -> dict[str, Any]:
    """The WasmPlugin our deployment creates, pointing at a local registry."""
    return {
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": "crd-check-header-authorization", "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"istio": "ingressgateway"}},
            "url": f"oci://127.0.0.1:5000/test-oci/header-authorization@sha256:{DIGEST}",
            "phase": "AUTHN",
            "imagePullPolicy": "IfNotPresent",
            "imagePullSecret": "wasm-secret",
            "pluginConfig": {"header": "allow"},
        },
    }


def create(kube: KubeSandbox, plugin: dict[str, Any], dry_run: bool = False) -> Response:
    query = "?dryRun=All" if dry_run else ""
    return kube.api.request("POST", PLUGINS + query, plugin)


def delete(kube: KubeSandbox, name: str) -> None:
    resp = kube.api.request("DELETE", f"{PLUGINS}/{name}")
    assert resp.status in (200, 202, 404), resp.message


@pytest.fixture
def sample(kube: KubeSandbox) -> Iterator[dict[str, Any]]:
    """The sample plugin, with no leftover object of that name before or after."""
    plugin = sample_plugin()
    delete(kube, plugin["metadata"]["name"])
    yield plugin
    delete(kube, plugin["metadata"]["name"])


def test_api_server_is_recent_enough(kube: KubeSandbox) -> None:
    version = kube.api.request("GET", "/version").json()
    match = re.fullmatch(r"v1\.(\d+)\.\d+.*", version["gitVersion"])
    assert match, version
    assert int(match.group(1)) >= 30, f"{version['gitVersion']} lacks the CEL URL library"


def test_crd_is_established_and_serves_v1alpha1(kube: KubeSandbox) -> None:
    resp = kube.api.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}")
    assert resp.status == 200, resp.message
    crd = resp.json()
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    served = [v["name"] for v in crd["spec"]["versions"] if v["served"]]
    assert served == ["v1alpha1"]


def test_sample_plugin_is_stored_as_sent(kube: KubeSandbox, sample: dict[str, Any]) -> None:
    resp = create(kube, sample)
    assert resp.status == 201, resp.message

    stored = kube.api.request("GET", f"{PLUGINS}/crd-check-header-authorization")
    assert stored.status == 200, stored.message
    assert stored.json()["spec"] == sample["spec"]


def test_sample_plugin_passes_dry_run(kube: KubeSandbox) -> None:
    resp = create(kube, sample_plugin(), dry_run=True)
    assert resp.status == 201, resp.message


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets spec.<path> (dotted) to value."""

    def mutate(plugin: dict[str, Any]) -> None:
        node = plugin["spec"]
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value

    return mutate


def _drop_url(plugin: dict[str, Any]) -> None:
    del plugin["spec"]["url"]


def _add_target_ref(plugin: dict[str, Any]) -> None:
    plugin["spec"]["targetRef"] = {"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "gw"}


INVALID = [
    # (id, mutation, text the API server's message must contain)
    ("phase-bogus", _set("phase", "BOGUS"), 'spec.phase: Unsupported value: "BOGUS"'),
    ("pull-policy-bogus", _set("imagePullPolicy", "Sometimes"), "spec.imagePullPolicy: Unsupported value"),
    # The pattern is (^$|^[a-f0-9]{64}$): empty, or 64 lower-case hex digits.
    ("sha256-not-hex", _set("sha256", "xyz"), 'spec.sha256: Invalid value: "xyz"'),
    ("sha256-upper-case", _set("sha256", DIGEST.upper()), "spec.sha256 in body should match"),
    ("url-missing", _drop_url, "spec.url: Required value"),
    ("url-scheme-ftp", _set("url", "ftp://127.0.0.1/plugin.wasm"), "url must have schema one of"),
    ("selector-wildcard", _set("selector.matchLabels", {"istio": "*"}), "wildcard not allowed in label value"),
    ("selector-and-targetref", _add_target_ref, "only one of targetRefs or selector can be set"),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=i) for i, m, e in INVALID])
def test_invalid_plugin_is_rejected(kube: KubeSandbox, mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    plugin = copy.deepcopy(sample_plugin())
    mutate(plugin)
    resp = create(kube, plugin, dry_run=True)
    assert resp.status == 422, f"expected 422 Invalid, got {resp.status}: {resp.message}"
    assert resp.json()["reason"] == "Invalid"
    assert expected in resp.message


def test_url_digest_is_not_checked_by_the_crd(kube: KubeSandbox) -> None:
    """The CRD checks only the URL scheme: a malformed digest in the URL passes here.

    Nothing at this layer catches it, so our own code must validate the digest
    before it creates a WasmPlugin.
    """
    plugin = sample_plugin()
    plugin["spec"]["url"] = "oci://127.0.0.1:5000/test-oci/header-authorization@sha256:xyz"
    resp = create(kube, plugin, dry_run=True)
    assert resp.status == 201, resp.message
