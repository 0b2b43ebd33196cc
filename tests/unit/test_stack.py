"""The dev stack under Pulumi's mocks: what it registers, with which values."""

from __future__ import annotations

import base64
import json
from typing import Any

import pulumi
import pytest

from tests.unit.harness import FAKE_ENDPOINT, Deployment, RecordingMocks, deploy, fake_digest, is_secret, reveal

WASM_PLUGIN = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
CHECK = "pulumi-python:dynamic/asmwasm:GatewayCheck"
SECRET = "kubernetes:core/v1:Secret"
DIGEST_REF = f"registry.example.com/prod/header-authorization@{fake_digest('prod')}"


def only(dep: Deployment, typ: str) -> dict[str, Any]:
    found = dep.mocks.of_type(typ)
    assert len(found) == 1, [r.name for r in found]
    return found[0].inputs


def test_dev_stack_registers_the_seed_values(dev_config: dict[str, Any]) -> None:
    dep = deploy(dev_config)

    namespace = only(dep, "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace")
    assert namespace["instanceId"] == "cri-replacewithyours"
    assert namespace["name"] == "test-oci"
    repo = only(dep, "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo")
    assert (repo["namespace"], repo["name"], repo["repoType"]) == ("test-oci", "header-authorization", "PRIVATE")

    image = only(dep, "docker:index/image:Image")
    assert image["imageName"] == f"{FAKE_ENDPOINT}/test-oci/header-authorization:v0.0.1"
    assert image["build"]["platform"] == "linux/amd64"
    assert image["build"]["builderVersion"] == "BuilderV1"

    plugin = only(dep, WASM_PLUGIN)
    assert plugin["apiVersion"] == "extensions.istio.io/v1alpha1"
    assert plugin["kind"] == "WasmPlugin"
    assert plugin["metadata"]["name"] == "header-authorization"
    assert plugin["metadata"]["namespace"] == "istio-system"
    spec = plugin["spec"]
    assert spec["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert spec["phase"] == "AUTHN"
    assert spec["imagePullPolicy"] == "IfNotPresent"
    assert spec["imagePullSecret"] == "wasm-secret"
    assert spec["failStrategy"] == "FAIL_CLOSE"
    assert spec["sha256"] == dep.outputs["imageRef"].split("@sha256:")[1]
    # The seed's plugin has no configuration; the stack adds only the build stamp its check reads.
    assert spec["pluginConfig"] == {"build": dep.outputs["imageRef"].split("@")[1]}

    secret = only(dep, SECRET)
    assert secret["metadata"] == {**secret["metadata"], "name": "wasm-secret", "namespace": "istio-system"}
    assert secret["type"] == "kubernetes.io/dockerconfigjson"


def test_url_is_pinned_to_the_pushed_digest(dev_config: dict[str, Any]) -> None:
    dep = deploy(dev_config)
    ref = dep.outputs["imageRef"]
    assert ref.startswith(f"{FAKE_ENDPOINT}/test-oci/header-authorization@sha256:")
    assert only(dep, WASM_PLUGIN)["spec"]["url"] == f"oci://{ref}"
    assert dep.outputs["ociUrl"] == f"oci://{ref}"


def test_a_new_wasm_build_changes_the_url(dev_config: dict[str, Any], wasm_file: Any) -> None:
    first = deploy(dev_config).outputs["ociUrl"]
    dev_config["imageTag"] = "v0.0.2"  # the mock's digest covers every build input
    second = deploy(dev_config).outputs["ociUrl"]
    assert first != second


def test_pull_secret_holds_the_credentials_for_the_url_host(dev_config: dict[str, Any]) -> None:
    dep = deploy(dev_config)
    config = json.loads(reveal(only(dep, SECRET)["stringData"])[".dockerconfigjson"])
    entry = config["auths"][FAKE_ENDPOINT]
    assert entry["username"] == "acr-user@example"
    assert entry["password"] == "s3cret-registry-password"
    assert base64.b64decode(entry["auth"]).decode() == "acr-user@example:s3cret-registry-password"


def test_secrets_stay_secret(dev_config: dict[str, Any]) -> None:
    dev_config["meshKubeconfig"] = "apiVersion: v1\nkind: Config\n# mesh"
    dep = deploy(dev_config, secret_keys=("registryPassword", "meshKubeconfig"))
    for name, value in dep.outputs.items():
        assert "s3cret-registry-password" not in json.dumps(value), name
    # The engine stores inputs marked secret encrypted in state.
    assert is_secret(only(dep, SECRET)["stringData"])
    registry = only(dep, "docker:index/image:Image")["registry"]
    assert is_secret(registry) or is_secret(registry["password"])
    providers = {r.name: r for r in dep.mocks.of_type("pulumi:providers:kubernetes")}
    mesh = providers["header-authorization-mesh-control-plane"].inputs["kubeconfig"]
    assert is_secret(mesh) and reveal(mesh).startswith("apiVersion")


def test_pull_secret_goes_to_every_data_plane_cluster(dev_config: dict[str, Any]) -> None:
    dev_config["dataPlaneKubeconfigs"] = {"ack-hangzhou": "kubeconfig-a", "ack-beijing": "kubeconfig-b"}
    dep = deploy(dev_config, secret_keys=("registryPassword", "dataPlaneKubeconfigs"))
    secrets = dep.mocks.of_type(SECRET)
    assert sorted(r.name for r in secrets) == [
        "header-authorization-pull-secret-ack-beijing", "header-authorization-pull-secret-ack-hangzhou"]
    providers = {r.name: r.inputs for r in dep.mocks.of_type("pulumi:providers:kubernetes")}
    assert reveal(providers["header-authorization-data-plane-ack-hangzhou"]["kubeconfig"]) == "kubeconfig-a"
    assert reveal(providers["header-authorization-data-plane-ack-beijing"]["kubeconfig"]) == "kubeconfig-b"
    assert is_secret(providers["header-authorization-data-plane-ack-beijing"]["kubeconfig"])
    # Password rotation updates the Secret in place instead of deleting and recreating it.
    assert providers["header-authorization-data-plane-ack-beijing"]["enableSecretMutable"] in (True, "true")
    # Each Secret is created through its own cluster's provider, the WasmPlugin through the mesh's.
    by_cluster = {r.name.rsplit("-", 2)[-2] + "-" + r.name.rsplit("-", 1)[-1]: r.provider for r in secrets}
    assert "data-plane-ack-hangzhou" in by_cluster["ack-hangzhou"]
    assert "data-plane-ack-beijing" in by_cluster["ack-beijing"]
    assert "mesh-control-plane" in (dep.mocks.of_type(WASM_PLUGIN)[0].provider or "")
    assert dep.outputs["pullSecretClusters"] == ["ack-beijing", "ack-hangzhou"]


def test_acr_personal_edition(dev_config: dict[str, Any]) -> None:
    dev_config.update(registryMode="acr-personal", acrInstanceId="")
    dep = deploy(dev_config)
    assert only(dep, "alicloud:cr/namespace:Namespace")["name"] == "test-oci"
    assert only(dep, "alicloud:cr/repo:Repo")["name"] == "header-authorization"
    assert dep.outputs["registryEndpoint"] == "registry.cn-hangzhou.aliyuncs.com"
    assert dep.outputs["imageRef"].startswith("registry.cn-hangzhou.aliyuncs.com/test-oci/header-authorization@")


def test_external_registry_manages_no_cloud_resources(dev_config: dict[str, Any]) -> None:
    dev_config.update(registryMode="external", registryEndpoint="127.0.0.1:5443", acrInstanceId="")
    dep = deploy(dev_config)
    assert not [r for r in dep.resources if r.type.startswith(("alicloud:", "pulumi:providers:alicloud"))]
    assert dep.outputs["imageRef"].startswith("127.0.0.1:5443/test-oci/header-authorization@sha256:")


def test_prebuilt_image_by_digest_builds_nothing(dev_config: dict[str, Any]) -> None:
    dev_config.update(registryMode="external", registryEndpoint="registry.example.com", acrInstanceId="",
                      imageRef=DIGEST_REF, wasmFile="does/not/exist.wasm")
    dep = deploy(dev_config)
    assert not dep.mocks.of_type("docker:index/image:Image")
    assert only(dep, WASM_PLUGIN)["spec"]["url"] == f"oci://{DIGEST_REF}"
    auths = json.loads(reveal(only(dep, SECRET)["stringData"])[".dockerconfigjson"])["auths"]
    assert list(auths) == ["registry.example.com"]


def test_plugin_config_reaches_the_wasm_plugin(dev_config: dict[str, Any]) -> None:
    dev_config["pluginConfig"] = {"header": "x-allow", "value": "yes", "denyStatus": 401}
    dep = deploy(dev_config)
    spec = only(dep, WASM_PLUGIN)["spec"]
    assert spec["pluginConfig"] == {"header": "x-allow", "value": "yes", "denyStatus": 401,
                                    "build": dep.outputs["imageRef"].split("@")[1]}


def test_without_verification_the_seed_plugin_gets_no_configuration(dev_config: dict[str, Any]) -> None:
    dev_config["verify"] = {"enabled": False}
    dep = deploy(dev_config)
    assert "pluginConfig" not in only(dep, WASM_PLUGIN)["spec"]
    assert not dep.mocks.of_type(CHECK)


@pytest.mark.parametrize(("change", "message"), [
    ({"acrInstanceId": ""}, "'asm-wasm-plugin:acrInstanceId' is required"),
    ({"phase": "AUTHENTICATE"}, "'asm-wasm-plugin:phase' is 'AUTHENTICATE'; accepted: UNSPECIFIED_PHASE, AUTHN"),
    ({"selector": {}}, "'asm-wasm-plugin:selector'"),
    ({"selector": {"istio": "bad value!"}}, "label 'istio' needs a string value"),
    ({"wasmFile": "missing/plugin.wasm"}, "make plugin"),
    ({"pluginConfig": "{not json"}, "expected a JSON object"),
    ({"pluginConfig": {"headr": "allow"}}, "unknown key 'headr'"),
    ({"imageRef": "registry.example.com/a/b:v1"}, "pinned by digest"),
])
def test_bad_config_fails_before_any_resource(dev_config: dict[str, Any], change: dict[str, Any],
                                              message: str) -> None:
    dev_config.update(change)
    mocks = RecordingMocks()
    with pytest.raises(Exception, match=None) as raised:
        deploy(dev_config, mocks=mocks)
    assert message in str(raised.value)
    assert mocks.resources == []


def test_a_secret_plugin_config_stays_secret(dev_config: dict[str, Any]) -> None:
    dev_config["pluginConfig"] = {"header": "x-token", "value": "s3cr3t-plugin-value"}
    dep = deploy(dev_config, secret_keys=("registryPassword", "pluginConfig"))
    # The engine gets the secret at spec.pluginConfig; the mocks' view lifts it to the whole spec
    # (pulumi.runtime.rpc: "we can only set secret outputs on top level properties").
    spec = only(dep, WASM_PLUGIN)["spec"]
    assert is_secret(spec) or is_secret(spec["pluginConfig"])
    config = reveal(reveal(spec)["pluginConfig"])
    assert {k: config[k] for k in ("header", "value")} == {"header": "x-token", "value": "s3cr3t-plugin-value"}
    # The check probes with that value: its input stays secret too.
    assert is_secret(only(dep, CHECK)["expected"])
    assert "s3cr3t-plugin-value" not in json.dumps(dep.outputs)


def test_a_secret_registry_user_stays_secret(dev_config: dict[str, Any]) -> None:
    dep = deploy(dev_config, secret_keys=("registryPassword", "registryUsername"))
    registry = only(dep, "docker:index/image:Image")["registry"]
    assert is_secret(registry) or is_secret(registry["username"])
    assert is_secret(only(dep, SECRET)["stringData"])


def test_prod_builds_nothing_by_its_committed_config() -> None:
    import yaml

    from tests.unit.harness import ROOT

    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    config: dict[str, Any] = {k.split(":", 1)[1]: v for k, v in raw.items()}
    config.update(registryUsername="prod-user", registryPassword="prod-password")
    source = config["promoteFrom"]
    dev_ref = f"{FAKE_ENDPOINT}/test-oci/header-authorization@{fake_digest('dev build')}"
    dep = deploy(config, stacks={source: {"imageRef": dev_ref}})
    assert not dep.mocks.of_type("docker:index/image:Image")
    assert not [r for r in dep.resources if r.type.startswith(("alicloud:", "pulumi:providers:alicloud"))]
    assert only(dep, WASM_PLUGIN)["spec"]["url"] == f"oci://{dev_ref}"


def test_registry_resources_survive_a_destroy_unless_told(dev_config: dict[str, Any]) -> None:
    registry = ("header-authorization-registry-namespace", "header-authorization-registry-repository")
    dep = deploy(dev_config)
    assert [dep.options[name].retain_on_delete for name in registry] == [True, True]
    dev_config["keepRegistryOnDestroy"] = "false"
    dep = deploy(dev_config)
    assert [dep.options[name].retain_on_delete for name in registry] == [False, False]


def test_an_image_by_digest_needs_no_registry_endpoint(dev_config: dict[str, Any]) -> None:
    dev_config.update(registryMode="external", acrInstanceId="", imageRef=DIGEST_REF)
    dep = deploy(dev_config)
    assert not [r for r in dep.resources if "registry" in r.type.lower()]
    assert dep.outputs["registryEndpoint"] == "registry.example.com"


def test_a_preview_with_an_unknown_digest_shows_every_other_field(dev_config: dict[str, Any]) -> None:
    spec = only(deploy(dev_config, preview=True), WASM_PLUGIN)["spec"]
    assert isinstance(spec["url"], pulumi.output.Unknown)
    assert spec["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert (spec["phase"], spec["imagePullPolicy"], spec["imagePullSecret"], spec["failStrategy"]) == (
        "AUTHN", "IfNotPresent", "wasm-secret", "FAIL_CLOSE")


def test_children_are_named_without_stutter_and_keep_their_old_names_as_aliases(
        dev_config: dict[str, Any]) -> None:
    dep = deploy(dev_config)
    assert {r.name for r in dep.resources if r.type in ("docker:index/image:Image", WASM_PLUGIN)} == {
        "header-authorization-image", "header-authorization-plugin"}
    for name, old in (("header-authorization-image", "header-authorization-image-image"),
                      ("header-authorization-plugin", "header-authorization-plugin-wasmplugin")):
        aliases = dep.options[name].aliases or []
        assert old in [a.name for a in aliases if isinstance(a, pulumi.Alias)]


def test_the_build_context_is_only_the_wasm_file_and_dockerfile() -> None:
    # pulumi-docker hashes the context minus .dockerignore: a Go source edit that leaves
    # plugin.wasm unchanged must not rebuild or push.
    from tests.unit.harness import ROOT

    ignore = [line for line in (ROOT / "plugin" / ".dockerignore").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ignore == ["*", "!plugin.wasm", "!Dockerfile"]


def test_a_canary_gets_the_build_first_and_the_stable_plugin_waits_for_its_check(dev_config: dict[str, Any]) -> None:
    dev_config["canarySelector"] = {"istio": "ingressgateway-canary"}
    dep = deploy(dev_config)
    plugins = {r.name: r.inputs for r in dep.mocks.of_type(WASM_PLUGIN)}
    canary, stable = plugins["header-authorization-plugin-canary"], plugins["header-authorization-plugin"]
    assert canary["metadata"]["name"] == "header-authorization-canary"
    assert canary["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway-canary"}}
    assert canary["spec"]["url"] == stable["spec"]["url"]
    checks = {r.name: r.inputs for r in dep.mocks.of_type(CHECK)}
    assert set(checks) == {"header-authorization-check-plugin-canary-default",
                           "header-authorization-check-plugin-default"}
    assert checks["header-authorization-check-plugin-canary-default"]["target"]["selector"] == {
        "istio": "ingressgateway-canary"}

    def after(name: str) -> set[str]:
        return {d._name for opts in dep.all_options[name] for d in (opts.depends_on or [])}

    assert "header-authorization-plugin-canary" in after("header-authorization-check-plugin-canary-default")
    assert {"header-authorization-plugin-canary", "header-authorization-check-plugin-canary-default"} <= after(
        "header-authorization-plugin")
    assert "header-authorization-plugin" in after("header-authorization-check-plugin-default")


def test_every_data_plane_cluster_is_checked_with_its_own_kubeconfig(dev_config: dict[str, Any]) -> None:
    dev_config["dataPlaneKubeconfigs"] = {"ack-a": "kubeconfig-a", "ack-b": "kubeconfig-b"}
    dep = deploy(dev_config, secret_keys=("registryPassword", "dataPlaneKubeconfigs"))
    checks = {r.name: r.inputs for r in dep.mocks.of_type(CHECK)}
    assert reveal(checks["header-authorization-check-plugin-ack-a"]["kubeconfig"]) == "kubeconfig-a"
    assert is_secret(checks["header-authorization-check-plugin-ack-b"]["kubeconfig"])
    check = checks["header-authorization-check-plugin-ack-a"]
    assert check["target"] == {"cluster": "ack-a", "namespace": "istio-system",
                               "selector": {"istio": "ingressgateway"}, "port": 8080}
    assert check["build"] == dep.outputs["imageRef"].split("@")[1]
