"""`pulumi preview/up/destroy` of the local stack on real parts: registry, Docker daemon,
kube-apiserver + CRD, Envoy.

The stack builds and pushes the plugin image itself (pulumi-docker's docker.Image, through
the sandbox's dockerd), as the dev stack does on ACR. The tests run in file order and share
one stack: each step starts from what the previous one left, the way a user's stack evolves.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path

from sandbox.docker import DockerApi
from sandbox.local_stack import REPO, SECRETS, WASM_PLUGINS, gateway, pull_like_istio, read_back, step5
from sandbox.pulumi_cli import Result
from sandbox.registry import read_image
from tests.e2e.conftest import E2E, NAMESPACE, PLUGIN_V2_BODY, REPOSITORY

PLUGIN_TYPE = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
SECRET_TYPE = "kubernetes:core/v1:Secret"
IMAGE_TYPE = "docker:index/image:Image"
WRONG_PASSWORD = "not-the-password"


def get(e2e: E2E, path: str) -> int:
    return e2e.sb.api.request("GET", path).status


def plugin_path() -> str:
    return WASM_PLUGINS.format(ns=NAMESPACE, name="header-authorization")


def secret_path() -> str:
    return SECRETS.format(ns=NAMESPACE, name="wasm-secret")


def up_watching_docker(e2e: E2E, check: bool = True) -> tuple[Result, list[str]]:
    """`pulumi up`, and what the sandbox's Docker daemon did meanwhile ("tag NAME", "push NAME")."""
    api = DockerApi(e2e.sb.docker)
    since = api.server_time()
    result = e2e.stack.up(check=check)
    time.sleep(1)  # the events API counts whole seconds
    events = api.image_events(since, api.server_time())
    return result, [f"{ev['Action']} {ev['Actor']['Attributes'].get('name', ev['Actor']['ID'])}" for ev in events]


def test_preview_plans_the_delivery(e2e: E2E) -> None:
    result = e2e.stack.preview()
    creates = {s["urn"].split("::")[-2].split("$")[-1] for s in result.json()["steps"] if s["op"] == "create"}
    assert {PLUGIN_TYPE, SECRET_TYPE, IMAGE_TYPE, "pulumi:providers:kubernetes", "asmwasm:index:WasmPluginDelivery",
            "asmwasm:index:PullSecret", "asmwasm:index:WasmPlugin", "asmwasm:index:PluginImage",
            "asmwasm:index:Registry"} <= creates
    assert get(e2e, plugin_path()) == 404, "preview must not apply anything"


def test_up_builds_pushes_and_pins_the_digest_that_envoy_enforces(e2e: E2E) -> None:
    result, docker_did = up_watching_docker(e2e)
    assert result.change_summary().get("create", 0) >= 9
    outputs = e2e.stack.outputs()
    e2e.image_ref = outputs["imageRef"]
    repository, digest = e2e.image_ref.split("@", 1)
    assert repository == e2e.sb.registry.ref(REPOSITORY)
    # docker.Image built the image, tagged it and pushed it, once (the daemon's push event names
    # the repository).
    assert f"tag {repository}:v0.0.1" in docker_did, docker_did
    assert [d for d in docker_did if d.startswith("push ")] == [f"push {repository}"], docker_did
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
    assert pulled["manifest_digest"] == digest
    # FROM scratch: one layer, plugin.wasm at its root and nothing else.
    image = read_image(e2e.sb.registry, REPOSITORY, digest)
    assert image.layer_files() == [["plugin.wasm"]]
    with gateway(applied, e2e.workdir / "pulled.wasm", e2e.workdir / "envoy-1") as envoy:
        seen = step5(envoy)
    assert (seen.without_header.status, seen.without_header.body) == (403, b"Forbidden by ASM Wasm Plugin")
    assert seen.without_header.headers["content-type"] == "text/plain"
    assert seen.with_header.status == 418 and b"teapot" in seen.with_header.body


def test_second_up_builds_nothing_and_pushes_nothing(e2e: E2E) -> None:
    before = e2e.sb.api.request("GET", plugin_path()).json()["metadata"]["resourceVersion"]
    result, docker_did = up_watching_docker(e2e)
    summary = result.change_summary()
    assert set(summary) == {"same"}, summary
    assert docker_did == [], docker_did
    after = e2e.sb.api.request("GET", plugin_path()).json()["metadata"]["resourceVersion"]
    assert before == after
    assert e2e.stack.outputs()["imageRef"] == e2e.image_ref


def test_registry_password_is_encrypted_in_state(e2e: E2E) -> None:
    exported = e2e.stack.run("stack", "export", "--stack", e2e.stack.stack).stdout
    reg = e2e.sb.registry
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    assert reg.password not in exported and auth not in exported
    assert '"ciphertext"' in exported


def test_policy_pack_blocks_fail_open(e2e: E2E) -> None:
    e2e.config(failStrategy="FAIL_OPEN")
    try:
        result = e2e.stack.preview_text("--policy-pack", str(REPO / "policy"), check=False)
        assert result.returncode != 0
        assert "[mandatory]  wasmplugin-fails-closed" in result.stdout
        assert f"WasmPlugin {NAMESPACE}/header-authorization uses failStrategy FAIL_OPEN" in result.stdout
    finally:
        e2e.config(failStrategy="FAIL_CLOSE")
    summary = e2e.stack.preview("--policy-pack", str(REPO / "policy")).json()["changeSummary"]
    assert set(summary) == {"same"}, summary


def test_new_plugin_source_builds_once_and_rolls_out_a_new_digest(e2e: E2E, plugin_v2: Path) -> None:
    e2e.config(wasmFile=str(plugin_v2))
    result, docker_did = up_watching_docker(e2e)
    ops = result.ops_by_type()
    assert ops[IMAGE_TYPE] == ["update"], ops
    assert ops[PLUGIN_TYPE] == ["update"], ops
    new_ref = e2e.stack.outputs()["imageRef"]
    assert new_ref != e2e.image_ref
    assert [d for d in docker_did if d.startswith("push ")] == [f"push {new_ref.split('@')[0]}"], docker_did

    applied = read_back(e2e.sb, namespace=NAMESPACE)
    assert applied.wasm_plugin["spec"]["url"] == f"oci://{new_ref}"
    pull_like_istio(e2e.sb, applied, e2e.workdir / "v2.wasm")
    assert (e2e.workdir / "v2.wasm").read_bytes() == plugin_v2.read_bytes()
    with gateway(applied, e2e.workdir / "v2.wasm", e2e.workdir / "envoy-2") as envoy:
        assert envoy.get("/status/418").body == PLUGIN_V2_BODY.encode()
    e2e.image_ref = new_ref


def test_wrong_registry_password_fails_the_push_without_showing_it(e2e: E2E) -> None:
    # A password change alone pushes nothing (docker.Image's diff has no credentials in it), so
    # the wrong password meets the registry with the next build: back to the first module.
    reg = e2e.sb.registry
    e2e.config(registryPassword=WRONG_PASSWORD, wasmFile=str(REPO / "plugin" / "plugin.wasm"))
    try:
        failed = e2e.stack.up(check=False)
    finally:
        e2e.config(registryPassword=reg.password)
    assert failed.returncode != 0
    text = failed.stdout + failed.stderr
    # The failure says which registry refused the push ...
    assert f"{reg.host}/{REPOSITORY}" in text, text[-3000:]
    assert re.search(r"unauthorized|authentication required", text, re.IGNORECASE), text[-3000:]
    # ... and as which user ...
    assert f"pushes to registry {reg.host} as user {reg.username}" in text, text[-3000:]
    # ... and shows neither password.
    assert WRONG_PASSWORD not in text and reg.password not in text
    # The WasmPlugin still runs what was pushed before.
    assert read_back(e2e.sb, namespace=NAMESPACE).wasm_plugin["spec"]["url"] == f"oci://{e2e.image_ref}"

    e2e.stack.up()
    e2e.image_ref = e2e.stack.outputs()["imageRef"]
    pull_like_istio(e2e.sb, read_back(e2e.sb, namespace=NAMESPACE), e2e.workdir / "allowed.wasm")
    assert (e2e.workdir / "allowed.wasm").read_bytes() == (REPO / "plugin" / "plugin.wasm").read_bytes()
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
