"""Deletions finish as in a real cluster: scripts/kube-up.sh runs kube-controller-manager.

The Pulumi Kubernetes provider deletes with propagationPolicy=Foreground. The
API server then only marks the object (deletionTimestamp and the
foregroundDeletion finalizer); the garbage collector deletes its dependents and
removes the finalizer. Without it the object stays, and `pulumi destroy` waits
until its timeout. Likewise a deleted namespace is emptied and removed only by
the namespace controller.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from sandbox.kube import KubeSandbox

WASM_NAMESPACE = "istio-system"
PLUGINS = f"/apis/extensions.istio.io/v1alpha1/namespaces/{WASM_NAMESPACE}/wasmplugins"
FOREGROUND = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
# The garbage collector acts within a second or so; ample margin for a busy machine.
GONE_WITHIN_S = 10.0
# The namespace controller also rediscovers every API resource first.
NAMESPACE_GONE_WITHIN_S = 60.0


@pytest.fixture(autouse=True)
def _controller_manager(controller_manager: int) -> None:
    """Every test here needs the sandbox's controller manager."""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def configmap(namespace: str, name: str, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "blockOwnerDeletion": True,
            }
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


def create(kube: KubeSandbox, collection: str, manifest: dict[str, Any]) -> dict[str, Any]:
    resp = kube.api.request("POST", collection, manifest)
    assert resp.status == 201, resp.message
    return resp.json()


def delete_foreground(kube: KubeSandbox, path: str) -> dict[str, Any]:
    """DELETE with propagationPolicy=Foreground, as the Pulumi provider sends it.

    Returns the object as the API server left it: still present, marked for
    deletion and held by the foregroundDeletion finalizer until the garbage
    collector removes it (which also shows the test exercises that path).
    """
    resp = kube.api.request("DELETE", path, FOREGROUND)
    assert resp.status in (200, 202), resp.message
    meta = resp.json()["metadata"]
    assert meta.get("deletionTimestamp"), meta
    assert "foregroundDeletion" in (meta.get("finalizers") or []), meta
    return resp.json()


def wait_gone(kube: KubeSandbox, path: str, timeout: float = GONE_WITHIN_S) -> float:
    """Seconds until GET path answers 404; fails with the object's last metadata."""
    start = time.monotonic()
    last: Any = None
    while time.monotonic() - start < timeout:
        resp = kube.api.request("GET", path)
        if resp.status == 404:
            return time.monotonic() - start
        assert resp.status == 200, resp.message
        last = resp.json()["metadata"]
        time.sleep(0.1)
    pytest.fail(
        f"{path} still present {timeout:.0f}s after a foreground delete (is kube-controller-manager running?"
        f" see $SANDBOX_DIR/kube/controller-manager.log): deletionTimestamp={last.get('deletionTimestamp')},"
        f" finalizers={last.get('finalizers')}"
    )


def test_foreground_delete_of_a_configmap_completes(kube: KubeSandbox) -> None:
    collection = "/api/v1/namespaces/default/configmaps"
    name = unique("gc-foreground")
    create(kube, collection, configmap("default", name))

    delete_foreground(kube, f"{collection}/{name}")

    wait_gone(kube, f"{collection}/{name}")


def test_foreground_delete_of_a_wasmplugin_completes(kube: KubeSandbox) -> None:
    """The resource the deployment manages, a custom resource the garbage collector discovers."""
    name = unique("gc-foreground")
    plugin = {
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": name, "namespace": WASM_NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"istio": "ingressgateway"}},
            "url": f"oci://127.0.0.1:5000/test-oci/{name}:1",
        },
    }
    create(kube, PLUGINS, plugin)

    delete_foreground(kube, f"{PLUGINS}/{name}")

    wait_gone(kube, f"{PLUGINS}/{name}")


def test_foreground_delete_deletes_dependents(kube: KubeSandbox) -> None:
    collection = "/api/v1/namespaces/default/configmaps"
    owner = create(kube, collection, configmap("default", unique("gc-owner")))
    dependent = create(kube, collection, configmap("default", unique("gc-dependent"), owner=owner))
    owner_path = f"{collection}/{owner['metadata']['name']}"
    dependent_path = f"{collection}/{dependent['metadata']['name']}"

    delete_foreground(kube, owner_path)

    wait_gone(kube, dependent_path)
    wait_gone(kube, owner_path)


def test_deleted_namespace_is_emptied_and_removed(kube: KubeSandbox) -> None:
    namespace = unique("gc-namespace")
    create(kube, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    create(kube, f"/api/v1/namespaces/{namespace}/configmaps", configmap(namespace, "content"))

    resp = kube.api.request("DELETE", f"/api/v1/namespaces/{namespace}", FOREGROUND)
    assert resp.status in (200, 202), resp.message

    wait_gone(kube, f"/api/v1/namespaces/{namespace}", timeout=NAMESPACE_GONE_WITHIN_S)
