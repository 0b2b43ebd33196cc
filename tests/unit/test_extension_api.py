"""The rest of Istio's extension API under mocks: every new key, its bad values, and what it registers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackconfig.settings import ConfigError, load_settings
from tests.unit.harness import FAKE_ENDPOINT, RecordingMocks, deploy, fake_digest, is_secret, reveal
from tests.unit.test_settings import ROOT, FakeSecrets, base

WASM_PLUGIN = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
TRAFFIC_EXTENSION = "kubernetes:extensions.istio.io/v1alpha1:TrafficExtension"
CHECK = "pulumi-python:dynamic/asmwasm:GatewayCheck"
IMAGE = "docker:index/image:Image"
GATEWAY_REF = [{"kind": "Gateway", "name": "public-gw"}]


def plugins_by_name(dep: Any, typ: str = WASM_PLUGIN) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in dep.mocks.of_type(typ)}


def load(values: dict[str, Any], *secret: str) -> Any:
    return load_settings(values, FakeSecrets({"registryPassword", *secret}), ROOT)


def test_target_refs_replace_the_selector_and_the_check_finds_the_gateway_pods(dev_config: dict[str, Any]) -> None:
    dep = deploy({**dev_config, "targetRefs": GATEWAY_REF})
    spec = plugins_by_name(dep)["header-authorization"]["spec"]
    assert "selector" not in spec
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public-gw"}]
    (check,) = [r.inputs for r in dep.mocks.of_type(CHECK)]
    assert check["target"]["selector"] == {"gateway.networking.k8s.io/gateway-name": "public-gw"}


def test_match_type_root_id_and_vm_env_reach_the_spec(dev_config: dict[str, Any]) -> None:
    dep = deploy({**dev_config, "match": [{"mode": "SERVER", "ports": [8080, {"number": 8443}]}],
                  "pluginType": "HTTP", "rootId": "header_auth_root",
                  "vmEnv": [{"name": "ALLOW_VALUE", "valueFrom": "HOST"}, {"name": "MODE", "value": "strict"}]})
    spec = plugins_by_name(dep)["header-authorization"]["spec"]
    assert spec["match"] == [{"mode": "SERVER", "ports": [{"number": 8080}, {"number": 8443}]}]
    assert (spec["type"], spec["pluginName"]) == ("HTTP", "header_auth_root")
    assert spec["vmConfig"] == {"env": [{"name": "ALLOW_VALUE", "valueFrom": "HOST"},
                                        {"name": "MODE", "value": "strict"}]}


def test_a_secret_vm_env_stays_secret(dev_config: dict[str, Any]) -> None:
    dep = deploy({**dev_config, "vmEnv": [{"name": "ALLOW_VALUE", "value": "s3cret-allow"}],
                  "pluginConfig": {"valueFromEnv": "ALLOW_VALUE"}},
                 secret_keys=("registryPassword", "vmEnv"))
    spec = plugins_by_name(dep)["header-authorization"]["spec"]
    # Pulumi's mocks lift a nested secret to the property that holds it (the engine keeps it nested).
    assert is_secret(spec)
    assert reveal(spec)["vmConfig"] == {"env": [{"name": "ALLOW_VALUE", "value": "s3cret-allow"}]}
    assert "s3cret-allow" not in str(dep.outputs)


def test_the_check_sends_only_the_denied_probe_when_the_value_is_the_gateways_own(dev_config: dict[str, Any]) -> None:
    dep = deploy({**dev_config, "vmEnv": [{"name": "ALLOW_VALUE", "valueFrom": "HOST"}],
                  "pluginConfig": {"valueFromEnv": "ALLOW_VALUE"}})
    (check,) = [r.inputs for r in dep.mocks.of_type(CHECK)]
    assert reveal(check["expected"]).get("value") is None
    inline = deploy({**dev_config, "vmEnv": [{"name": "ALLOW_VALUE", "value": "open-sesame"}],
                     "pluginConfig": {"valueFromEnv": "ALLOW_VALUE"}})
    (check,) = [r.inputs for r in inline.mocks.of_type(CHECK)]
    assert reveal(check["expected"])["value"] == "open-sesame"


def test_traffic_extension_carries_the_same_plugin(dev_config: dict[str, Any]) -> None:
    dep = deploy({**dev_config, "extensionKind": "TrafficExtension", "phase": "UNSPECIFIED_PHASE",
                  "priority": "10", "vmEnv": [{"name": "A", "value": "b"}], "rootId": "root"})
    assert dep.mocks.of_type(WASM_PLUGIN) == []
    ext = plugins_by_name(dep, TRAFFIC_EXTENSION)["header-authorization"]
    assert (ext["apiVersion"], ext["kind"]) == ("extensions.istio.io/v1alpha1", "TrafficExtension")
    spec = ext["spec"]
    # Targeting, phase, priority outside; the module and how it is pulled and run under `wasm`.
    assert spec["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert (spec["phase"], spec["priority"]) == ("UNSPECIFIED", 10)
    wasm = spec["wasm"]
    assert wasm["url"] == f"oci://{dep.outputs['imageRef']}"
    assert wasm["sha256"] == dep.outputs["imageRef"].split("@sha256:")[1]
    assert (wasm["imagePullSecret"], wasm["imagePullPolicy"], wasm["failStrategy"]) == (
        "wasm-secret", "IfNotPresent", "FAIL_CLOSE")
    assert (wasm["pluginName"], wasm["vmConfig"]) == ("root", {"env": [{"name": "A", "value": "b"}]})
    assert wasm["pluginConfig"] == {"build": dep.outputs["imageRef"].split("@")[1]}


def test_a_second_plugin_shares_the_registry_and_the_pull_secret(dev_config: dict[str, Any],
                                                                  tmp_path: Path) -> None:
    second = tmp_path / "second" / "plugin.wasm"
    second.parent.mkdir()
    second.write_bytes(b"\0asm\x01\0\0\0second")
    dep = deploy({**dev_config, "plugins": [
        {"name": "response-header", "wasmFile": str(second), "phase": "AUTHN", "priority": 100,
         "pluginConfig": {"name": "x-chain", "value": "rh"}}]})
    images = {r.inputs["imageName"] for r in dep.mocks.of_type(IMAGE)}
    assert images == {f"{FAKE_ENDPOINT}/test-oci/header-authorization:v0.0.1",
                      f"{FAKE_ENDPOINT}/test-oci/response-header:v0.0.1"}
    repos = dep.mocks.of_type("alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo")
    assert sorted(r.inputs["name"] for r in repos) == ["header-authorization", "response-header"]
    assert len(dep.mocks.of_type("alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace")) == 1
    assert len(dep.mocks.of_type("kubernetes:core/v1:Secret")) == 1
    plugins = plugins_by_name(dep)
    extra = plugins["response-header"]["spec"]
    assert extra["url"] == f"oci://{dep.outputs['pluginImageRefs']['response-header']}"
    assert (extra["phase"], extra["priority"], extra["imagePullSecret"]) == ("AUTHN", 100, "wasm-secret")
    assert extra["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert extra["pluginConfig"] == {"name": "x-chain", "value": "rh"}
    # The check runs after every plugin of the chain is applied, and again when one changes.
    after = {d._name for opts in dep.all_options["header-authorization-check-plugin-default"]
             for d in (opts.depends_on or [])}
    assert "header-authorization-plugin-response-header" in after


def test_a_second_plugin_is_promoted_by_digest_too(dev_config: dict[str, Any], tmp_path: Path) -> None:
    ref = f"registry.example.com/prod/header-authorization@{fake_digest('a')}"
    extra_ref = f"registry.example.com/prod/response-header@{fake_digest('b')}"
    dep = deploy({"registryUsername": "u", "registryPassword": "p", "promoteFrom": "dev",
                  "plugins": [{"name": "response-header"}]},
                 stacks={"dev": {"imageRef": ref, "pluginImageRefs": {"response-header": extra_ref}}})
    assert dep.mocks.of_type(IMAGE) == []
    assert plugins_by_name(dep)["response-header"]["spec"]["url"] == f"oci://{extra_ref}"
    secret = dep.mocks.of_type("kubernetes:core/v1:Secret")[0].inputs
    assert "registry.example.com" in str(reveal(secret["stringData"]))


@pytest.mark.parametrize(("extra", "message"), [
    ({"targetRefs": [{"kind": "Deployment", "name": "gw"}]}, "targetRefs[0].kind 'Deployment' is not a kind"),
    ({"targetRefs": [{"kind": "Gateway", "name": "gw", "group": "networking.istio.io"}]}, "does not go with kind"),
    ({"targetRefs": [{"kind": "Gateway", "name": "Bad_Name"}]}, "must be a Kubernetes object name"),
    ({"targetRefs": [{"kind": "Gateway", "name": "gw", "namespace": "other"}]}, "cross-namespace"),
    ({"targetRefs": [{"kind": "Gateway"}]}, "targetRefs[0] needs 'name'"),
    ({"targetRefs": [{"kind": "Gateway", "name": f"g{i}"} for i in range(17)]}, "at most 16 targetRefs"),
    ({"targetRefs": GATEWAY_REF, "selector": {"app": "gw"}}, "either a selector or targetRefs"),
    ({"targetRefs": [{"kind": "Service", "name": "svc"}]}, "set verify.url"),
    ({"targetRefs": GATEWAY_REF, "canarySelector": {"istio": "c"}}, "canary step needs the plugin targeted"),
    ({"targetRefs": "gw"}, "expected a JSON list"),
    ({"match": [{"mode": "INBOUND"}]}, "match[0].mode 'INBOUND'"),
    ({"match": [{"ports": [0]}]}, "port number from 1 to 65535"),
    ({"match": [{"ports": [80, 80]}]}, "lists port 80 twice"),
    ({"match": [{}]}, "match[0] is empty"),
    ({"match": [{"port": 80}]}, "unknown key(s) 'port'"),
    ({"pluginType": "TCP"}, "accepted: HTTP, NETWORK"),
    ({"rootId": "has space"}, "root id"),
    ({"vmEnv": [{"name": "1BAD", "value": "x"}]}, "vmEnv[0].name must be an environment variable name"),
    ({"vmEnv": [{"name": "A", "valueFrom": "HOST", "value": "x"}]}, "remove 'value'"),
    ({"vmEnv": [{"name": "A", "valueFrom": "SECRET"}]}, "valueFrom 'SECRET'"),
    ({"vmEnv": [{"name": "A", "value": "x"}, {"name": "A", "value": "y"}]}, "is given twice"),
    ({"vmEnv": [{"name": "A", "value": "x" * 2049}]}, "at most 2048"),
    ({"pluginConfig": {"valueFromEnv": "NOPE"}}, "which vmEnv does not define"),
    ({"pluginConfig": {"valueFromEnv": "A-B"}}, "must name an environment variable"),
    ({"pluginConfig": {"valueFromEnv": "A", "value": "x"}, "vmEnv": [{"name": "A", "value": "y"}]},
     "'value' and 'valueFromEnv' exclude each other"),
    ({"extensionKind": "EnvoyFilter"}, "accepted: WasmPlugin, TrafficExtension"),
    ({"plugins": {"name": "x"}}, "expected a list of plugin objects"),
    ({"plugins": [{"wasmFile": "x"}]}, "plugins[0].name: required"),
    ({"plugins": [{"name": "header-authorization", "imageRef": "r.example.com/a/b@sha256:" + "a" * 64}]},
     "already taken"),
    ({"plugins": [{"name": "rh"}]}, "plugins[0]: needs wasmFile"),
    ({"plugins": [{"name": "rh", "wasmFile": "missing.wasm"}]}, "does not exist"),
    ({"plugins": [{"name": "rh", "imageRef": "rh:latest"}]}, "plugins[0].imageRef: expected"),
    ({"plugins": [{"name": "rh", "imageRef": "library/rh@sha256:" + "a" * 64}]},
     "plugins[0].imageRef: its first part 'library' is not a registry host"),
    ({"plugins": [{"name": "rh", "imageRef": "r.example.com/a/b@sha256:" + "a" * 64, "phase": "LATE"}]},
     "plugins[0].phase 'LATE'"),
    ({"plugins": [{"name": "rh", "imageRef": "r.example.com/a/b@sha256:" + "a" * 64, "priority": "high"}]},
     "plugins[0].priority: expected an integer"),
    ({"plugins": [{"name": "rh", "imageRef": "r.example.com/a/b@sha256:" + "a" * 64, "selector": {}}]},
     "plugins[0].selector: expected at least one label"),
    ({"plugins": [{"name": "rh", "imageRef": "r.example.com/a/b@sha256:" + "a" * 64, "colour": "red"}]},
     "unknown key(s) 'colour'"),
    ({"plugins": [{"name": "rh", "imageRef": "r.example.com/a/b@sha256:" + "a" * 64,
                   "targetRefs": [{"kind": "Pod", "name": "x"}]}]}, "plugins[0].targetRefs: targetRefs[0].kind"),
])
def test_bad_extension_values_are_named(wasm_file: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, **extra))
    assert message in str(raised.value)
    assert "asm-wasm-plugin:" in str(raised.value)


def test_bad_extension_values_register_nothing(dev_config: dict[str, Any]) -> None:
    mocks = RecordingMocks()
    with pytest.raises(Exception, match="targetRefs"):
        deploy({**dev_config, "targetRefs": [{"kind": "Pod", "name": "x"}]}, mocks=mocks)
    assert [r for r in mocks.resources if not r.type.startswith("pulumi:")] == []


def test_a_secret_vm_env_value_is_never_printed(wasm_file: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, vmEnv=[{"name": "A", "value": "s3cr3t" * 400}]), "vmEnv")
    assert "s3cr3t" not in str(raised.value) and "[secret]" in str(raised.value)


def test_a_cluster_pulls_from_its_own_registry_host(dev_config: dict[str, Any]) -> None:
    vpc = "asm-test-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
    dep = deploy({**dev_config, "dataPlaneKubeconfigs": {"ack-a": "kubeconfig-a", "ack-b": "kubeconfig-b"},
                  "clusterRegistryHosts": {"ack-a": vpc}, "istioClusterIds": {"ack-a": "c-a", "ack-b": "c-b"}},
                 secret_keys=("registryPassword", "dataPlaneKubeconfigs"))
    plugins = plugins_by_name(dep)
    assert set(plugins) == {"header-authorization-ack-a", "header-authorization-ack-b"}
    a, b = plugins["header-authorization-ack-a"]["spec"], plugins["header-authorization-ack-b"]["spec"]
    ref = dep.outputs["imageRef"]
    assert a["url"] == "oci://" + vpc + ref[len(FAKE_ENDPOINT):] and b["url"] == f"oci://{ref}"
    assert a["sha256"] == b["sha256"] == ref.split("@sha256:")[1]
    assert a["selector"] == {"matchLabels": {"istio": "ingressgateway", "topology.istio.io/cluster": "c-a"}}
    assert b["selector"] == {"matchLabels": {"istio": "ingressgateway", "topology.istio.io/cluster": "c-b"}}
    secrets = {r.name: reveal(r.inputs["stringData"])[".dockerconfigjson"]
               for r in dep.mocks.of_type("kubernetes:core/v1:Secret")}
    assert vpc in secrets["header-authorization-pull-secret-ack-a"] and FAKE_ENDPOINT in secrets[
        "header-authorization-pull-secret-ack-a"]
    assert vpc not in secrets["header-authorization-pull-secret-ack-b"]
    after = {d._name for opts in dep.all_options["header-authorization-check-plugin-ack-a"]
             for d in (opts.depends_on or [])}
    assert "header-authorization-plugin-ack-a" in after and "header-authorization-plugin-ack-b" not in after
    assert dep.outputs["ociUrl"] == f"oci://{ref}"


@pytest.mark.parametrize(("extra", "message"), [
    ({"clusterRegistryHosts": {"ack-x": "r.example.com"}}, "'ack-x' is not a data-plane cluster"),
    ({"clusterRegistryHosts": {"default": "https://r.example.com"}}, "registry host[:port]"),
    ({"clusterRegistryHosts": {"default": "r.example.com"}}, "needs Istio's id for it"),
    ({"clusterRegistryHosts": {"default": "r.example.com"}, "istioClusterIds": {"default": "bad id"}},
     "must be a label value"),
    ({"istioClusterIds": {"default": "Kubernetes"}}, "used only with clusterRegistryHosts"),
    ({"clusterRegistryHosts": {"default": "r.example.com"}, "istioClusterIds": {"default": "K"},
      "targetRefs": GATEWAY_REF}, "use selector"),
])
def test_bad_cluster_registry_hosts_are_named(wasm_file: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, **extra))
    assert message in str(raised.value)
