"""`pulumi preview/up/destroy` of the local stack on real parts: registry, kube-apiserver + CRD, Envoy.

The tests run in file order and share one stack: each step starts from what the
previous one left, the way a user's stack evolves.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from sandbox.local_stack import REPO, SECRETS, WASM_PLUGINS, gateway, pull_like_istio, push_plugin, read_back, step5
from tests.e2e.conftest import E2E, NAMESPACE, PLUGIN_V2_BODY, REPOSITORY

PLUGIN_TYPE = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
SECRET_TYPE = "kubernetes:core/v1:Secret"


def get(e2e: E2E, path: str) -> int:
    return e2e.sb.api.request("GET", path).status


def plugin_path() -> str:
    return WASM_PLUGINS.format(ns=NAMESPACE, name="header-authorization")


def secret_path() -> str:
    return SECRETS.format(ns=NAMESPACE, name="wasm-secret")


def test_preview_plans_the_delivery(e2e: E2E) -> None:
    result = e2e.stack.preview()
    creates = {s["urn"].split("::")[-2].split("$")[-1] for s in result.json()["steps"] if s["op"] == "create"}
    assert {PLUGIN_TYPE, SECRET_TYPE, "pulumi:providers:kubernetes", "asmwasm:index:WasmPluginDelivery",
            "asmwasm:index:PullSecret", "asmwasm:index:WasmPlugin", "asmwasm:index:PluginImage",
            "asmwasm:index:Registry"} <= creates
    assert get(e2e, plugin_path()) == 404, "preview must not apply anything"


def test_up_applies_what_the_crd_accepts_and_envoy_enforces(e2e: E2E) -> None:
    result = e2e.stack.up()
    assert result.change_summary().get("create", 0) >= 8
    outputs = e2e.stack.outputs()
    assert outputs["imageRef"] == e2e.image_ref
    assert outputs["ociUrl"] == f"oci://{e2e.image_ref}"

    applied = read_back(e2e.sb, namespace=NAMESPACE)
    spec = applied.wasm_plugin["spec"]
    assert spec["url"] == outputs["ociUrl"]
    assert spec["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert (spec["phase"], spec["imagePullPolicy"], spec["imagePullSecret"]) == ("AUTHN", "IfNotPresent",
                                                                                 "wasm-secret")
    assert e2e.sb.registry.host in json.loads(applied.dockerconfigjson)["auths"]

    pulled = pull_like_istio(e2e.sb, applied, e2e.workdir / "pulled.wasm")
    assert (e2e.workdir / "pulled.wasm").read_bytes() == (REPO / "plugin" / "plugin.wasm").read_bytes()
    assert pulled["manifest_digest"] == e2e.image_ref.split("@", 1)[1]
    with gateway(applied, e2e.workdir / "pulled.wasm", e2e.workdir / "envoy-1") as envoy:
        seen = step5(envoy)
    assert (seen.without_header.status, seen.without_header.body) == (403, b"Forbidden by ASM Wasm Plugin")
    assert seen.without_header.headers["content-type"] == "text/plain"
    assert seen.with_header.status == 418 and b"teapot" in seen.with_header.body


def test_second_up_changes_nothing_and_pushes_nothing(e2e: E2E) -> None:
    before = e2e.sb.api.request("GET", plugin_path()).json()["metadata"]["resourceVersion"]
    again = push_plugin(e2e.sb, REPO / "plugin" / "plugin.wasm", repository=REPOSITORY)
    assert again.ref == e2e.image_ref
    assert again.uploaded_blobs == []
    summary = e2e.stack.up().change_summary()
    assert set(summary) == {"same"}, summary
    after = e2e.sb.api.request("GET", plugin_path()).json()["metadata"]["resourceVersion"]
    assert before == after


def test_policy_pack_blocks_fail_open(e2e: E2E) -> None:
    e2e.config(failStrategy="FAIL_OPEN")
    try:
        result = e2e.stack.preview_text("--policy-pack", str(REPO / "policy"), check=False)
        assert result.returncode != 0
        assert "[mandatory]  wasmplugin-fails-closed" in result.stdout
        assert f"WasmPlugin {NAMESPACE}/header-authorization uses failStrategy FAIL_OPEN" in result.stdout
    finally:
        e2e.config(failStrategy="FAIL_CLOSE")
    assert e2e.stack.preview("--policy-pack", str(REPO / "policy")).json()["changeSummary"] == {"same": 10}


def test_new_plugin_source_rolls_out_a_new_digest(e2e: E2E, plugin_v2: Path) -> None:
    pushed = push_plugin(e2e.sb, plugin_v2, repository=REPOSITORY, tag="v0.0.2")
    assert pushed.ref != e2e.image_ref

    e2e.config(imageRef=pushed.ref)
    assert e2e.stack.up().change_summary().get("update") == 1
    applied = read_back(e2e.sb, namespace=NAMESPACE)
    assert applied.wasm_plugin["spec"]["url"] == f"oci://{pushed.ref}"
    pull_like_istio(e2e.sb, applied, e2e.workdir / "v2.wasm")
    with gateway(applied, e2e.workdir / "v2.wasm", e2e.workdir / "envoy-2") as envoy:
        assert envoy.get("/status/418").body == PLUGIN_V2_BODY.encode()
    e2e.image_ref = pushed.ref


def test_wrong_registry_password_is_caught_and_a_rerun_converges(e2e: E2E) -> None:
    with pytest.raises(RuntimeError, match="rejected the credentials"):
        push_plugin(e2e.sb, REPO / "plugin" / "plugin.wasm", tag="wrong", repository=REPOSITORY,
                    password="not-the-password")
    e2e.config(registryPassword="not-the-password")
    e2e.stack.up()
    with pytest.raises(RuntimeError, match="rejected the credentials"):
        pull_like_istio(e2e.sb, read_back(e2e.sb, namespace=NAMESPACE), e2e.workdir / "denied.wasm")
    e2e.config(registryPassword=e2e.sb.registry.password)
    summary = e2e.stack.up().change_summary()
    assert summary.get("update", 0) >= 1 and "replace" not in summary, summary
    pull_like_istio(e2e.sb, read_back(e2e.sb, namespace=NAMESPACE), e2e.workdir / "allowed.wasm")
    assert set(e2e.stack.up().change_summary()) == {"same"}



def test_api_server_down_fails_clearly_and_a_rerun_converges(e2e: E2E) -> None:
    subprocess.run([str(REPO / "scripts" / "kube-down.sh")], check=True, capture_output=True)
    try:
        e2e.stack.set_config({"pluginConfig.header": "x-allow"})
        failed = e2e.stack.up(check=False)
        assert failed.returncode != 0
        text = failed.diagnostics()
        assert re.search(r"unreachable|connection refused", text), text[-3000:]
    finally:
        subprocess.run([str(REPO / "scripts" / "kube-up.sh")], check=True, capture_output=True)
    assert e2e.stack.up().change_summary().get("update", 0) >= 1
    assert read_back(e2e.sb, namespace=NAMESPACE).wasm_plugin["spec"]["pluginConfig"] == {"header": "x-allow"}
    assert set(e2e.stack.up().change_summary()) == {"same"}


def test_destroy_removes_everything(e2e: E2E) -> None:
    e2e.stack.destroy()
    assert get(e2e, plugin_path()) == 404
    assert get(e2e, secret_path()) == 404
    assert e2e.stack.resources() == [] or all(r["type"] == "pulumi:pulumi:Stack" for r in e2e.stack.resources())
