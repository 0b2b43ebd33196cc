"""Config validation without Pulumi: every rule, and the defaults users see in Pulumi.yaml."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackconfig.image_source import AlreadyPushed, BuildAndPush, Promoted, split_digest_ref
from stackconfig.settings import (
    CONFIG_KEYS,
    FAIL_STRATEGIES,
    PHASES,
    PULL_POLICIES,
    REGISTRY_MODES,
    ConfigError,
    check_known_keys,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: kc-t0ken-do-not-print\n"


@dataclass(frozen=True)
class SecretRead:
    """What FakeSecrets hands out instead of a secret Output: the key, never the value."""

    key: str
    picked: bool = False


@dataclass
class FakeSecrets:
    """Stands in for Pulumi's secret config readers; `stored` are the keys set with --secret."""

    stored: set[str] = field(default_factory=lambda: {"registryPassword"})

    def is_stored_secret(self, key: str) -> bool:
        return key in self.stored

    def secret_string(self, key: str) -> SecretRead:
        return SecretRead(key)

    def secret_object(self, key: str, pick: Callable[[Any], Any]) -> SecretRead:
        return SecretRead(key, picked=True)


def base(wasm_file: Path, **extra: Any) -> dict[str, Any]:
    return {"acrInstanceId": "cri-abc123", "registryUsername": "u", "registryPassword": "p",
            "wasmFile": str(wasm_file), **extra}


def load(values: dict[str, Any], *secret: str) -> Any:
    return load_settings(values, FakeSecrets({"registryPassword", *secret}), ROOT)


def test_defaults_are_the_seed(wasm_file: Path) -> None:
    s = load(base(wasm_file))
    assert isinstance(s.image, BuildAndPush)
    reg = s.image.registry
    assert (reg.mode, reg.namespace, reg.repository, reg.tag, reg.keep_on_destroy) == (
        "acr-ee", "test-oci", "header-authorization", "v0.0.1", True)
    assert (s.mesh.plugin_name, s.mesh.plugin_namespace, s.mesh.pull_secret_name) == (
        "header-authorization", "istio-system", "wasm-secret")
    assert s.mesh.selector == {"istio": "ingressgateway"}
    assert (s.mesh.phase, s.mesh.image_pull_policy, s.mesh.fail_strategy) == ("AUTHN", "IfNotPresent", "FAIL_CLOSE")
    assert s.mesh.data_plane_kubeconfigs == {"default": None}
    assert s.mesh.plugin_config is None
    assert s.registry_password == SecretRead("registryPassword")


def test_pulumi_yaml_declares_the_same_defaults(wasm_file: Path) -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    defaults = {key: spec["default"] for key, spec in declared.items() if "default" in spec}
    assert load({**defaults, **base(wasm_file)}) == load(base(wasm_file))
    assert set(declared) == set(CONFIG_KEYS)


@pytest.mark.parametrize(("key", "choices"), [
    ("registryMode", REGISTRY_MODES), ("phase", PHASES), ("imagePullPolicy", PULL_POLICIES),
    ("failStrategy", FAIL_STRATEGIES)])
def test_pulumi_yaml_describes_every_accepted_value(key: str, choices: tuple[str, ...]) -> None:
    description = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"][key]["description"]
    assert [c for c in choices if c not in description] == []


def test_the_image_source_is_decided_once(wasm_file: Path) -> None:
    ref = f"registry.example.com/ns/repo@{DIGEST}"
    assert load(base(wasm_file, imageRef=ref)).image == AlreadyPushed(ref)
    assert load(base(wasm_file, imageRef=ref, promoteFrom="dev")).image == Promoted("dev", ref)
    assert load(base(wasm_file, promoteFrom="my-org/asm-wasm-plugin/dev")).image == Promoted(
        "my-org/asm-wasm-plugin/dev", None)
    # A stack that deploys a given image needs no instance, endpoint or wasm file.
    prod = {"registryMode": "external", "registryUsername": "u", "registryPassword": "p", "imageRef": ref,
            "wasmFile": "never/built.wasm"}
    assert load(prod).image == AlreadyPushed(ref)


@pytest.mark.parametrize(("extra", "message"), [
    ({"registryMode": "dockerhub"}, "accepted: acr-ee, acr-personal, external"),
    ({"acrInstanceId": "i-123"}, "like 'cri-xxxxxxxx'"),
    ({"acrInstanceId": None}, "'asm-wasm-plugin:acrInstanceId' is required when registryMode is 'acr-ee'"),
    ({"registryMode": "external"}, "'asm-wasm-plugin:registryEndpoint' is required"),
    ({"registryEndpoint": "https://x.example.com/v2"}, "without scheme or path"),
    ({"registryEndpoint": "x.example.com:70000"}, "port must be from 1 to 65535"),
    ({"repository": "a" * 65}, "2 to 64 characters long (it has 65)"),
    ({"repository": "a"}, "2 to 64 characters long (it has 1)"),
    ({"registryNamespace": "n" * 121}, "2 to 120 characters long"),
    ({"registryMode": "acr-personal", "registryNamespace": "n" * 31}, "2 to 30 characters long"),
    ({"registryNamespace": "Test"}, "lowercase letters and digits"),
    ({"imageTag": "-bad"}, "a Docker tag"),
    ({"imageTag": "v" * 129}, "a Docker tag"),
    ({"imageRef": "registry.example.com/ns/repo:v1"}, "pinned by digest"),
    ({"imageRef": f"test-oci/repo@{DIGEST}"}, "'test-oci' is not a registry host"),
    ({"imageRef": f"registry.example.com:99999/ns/repo@{DIGEST}"}, "port must be from 1 to 65535"),
    ({"promoteFrom": "a/b/c/d"}, "a stack name"),
    ({"region": "Hangzhou"}, "an Alibaba Cloud region id"),
    ({"keepRegistryOnDestroy": "sometimes"}, "expected true or false"),
    ({"pluginName": "Header_Auth"}, "a Kubernetes object name"),
    ({"pluginName": "a" * 254}, "a Kubernetes object name"),
    ({"pluginNamespace": "Istio_System"}, "a Kubernetes namespace name"),
    ({"pluginNamespace": "n" * 64}, "a Kubernetes namespace name"),
    ({"pullSecretName": "wasm_secret"}, "a Kubernetes object name"),
    ({"selector": '["istio"]'}, "expected a JSON object"),
    ({"selector": "{}"}, "expected at least one label"),
    ({"selector": {"-bad": "x"}}, "not a valid Kubernetes label key"),
    ({"selector": {"app": "x" * 64}}, "at most 63"),
    ({"selector": {"Bad_Prefix/app": "x"}}, "not a valid Kubernetes label key"),
    ({"phase": "authn"}, "accepted: UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS"),
    ({"imagePullPolicy": "Never"}, "accepted: UNSPECIFIED_POLICY, IfNotPresent, Always"),
    ({"failStrategy": "OPEN"}, "accepted: FAIL_CLOSE, FAIL_OPEN, FAIL_RELOAD"),
    ({"pluginConfig": {"denyStatus": 99}}, "from 200 to 599"),
    ({"pluginConfig": {"denyStatus": "403"}}, "'denyStatus' must be an integer"),
    ({"pluginConfig": {"denyStatus": True}}, "'denyStatus' must be an integer"),
    ({"pluginConfig": {"allow": "true"}}, "unknown key 'allow'"),
    ({"pluginConfig": {"header": ""}}, "'header' must be a non-empty HTTP header name"),
    ({"pluginConfig": {"header": "x allow"}}, "'header' must be a non-empty HTTP header name"),
    ({"pluginConfig": {"value": " true"}}, "'value' must be a non-empty string without control"),
    ({"pluginConfig": {"value": ""}}, "'value' must be a non-empty string without control"),
    ({"priority": "high"}, "expected an integer"),
    ({"priority": str(2**31)}, "Istio's int32"),
    ({"priority": str(-(2**31) - 1)}, "Istio's int32"),
    ({"registryPassword": None}, "'asm-wasm-plugin:registryPassword' is required"),
    ({"registryUsername": None}, "'asm-wasm-plugin:registryUsername' is required"),
    ({"dataPlaneKubeconfigs": {"Bad_Name": "x"}}, "cluster name 'Bad_Name'"),
    ({"dataPlaneKubeconfigs": {"ack": ""}}, "no kubeconfig text for cluster 'ack'"),
])
def test_bad_values_are_named(wasm_file: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, **extra), "dataPlaneKubeconfigs")
    assert message in str(raised.value)
    assert "asm-wasm-plugin:" in str(raised.value)


def test_priority_at_the_int32_bounds_is_accepted(wasm_file: Path) -> None:
    assert load(base(wasm_file, priority=str(2**31 - 1))).mesh.priority == 2**31 - 1
    assert load(base(wasm_file, priority=-(2**31))).mesh.priority == -(2**31)


def test_a_kubeconfig_in_the_wrong_shape_is_not_printed(wasm_file: Path) -> None:
    # The whole kubeconfig where a map of cluster -> kubeconfig belongs.
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, dataPlaneKubeconfigs=KUBECONFIG), "dataPlaneKubeconfigs")
    assert "dataPlaneKubeconfigs" in str(raised.value) and "expected a JSON object" in str(raised.value)
    assert "t0ken" not in str(raised.value) and "apiVersion" not in str(raised.value)
    # A list, a number: still only the shape.
    for wrong in ('["' + KUBECONFIG.replace("\n", "\\n") + '"]', {"ack": 12345}):
        with pytest.raises(ConfigError) as raised:
            load(base(wasm_file, dataPlaneKubeconfigs=wrong), "dataPlaneKubeconfigs")
        assert "t0ken" not in str(raised.value) and "12345" not in str(raised.value)


def test_a_secret_plugin_config_is_never_printed(wasm_file: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, pluginConfig={"value": "s3cr3t ", "denyStatus": 403}), "pluginConfig")
    assert "'value' must be a non-empty string" in str(raised.value)
    assert "s3cr3t" not in str(raised.value) and "[secret]" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, pluginConfig='{"value": "s3cr3t"'), "pluginConfig")
    assert "s3cr3t" not in str(raised.value)


def test_secret_values_are_handed_on_only_as_secrets(wasm_file: Path) -> None:
    s = load(base(wasm_file, pluginConfig={"value": "s3cr3t"}, meshKubeconfig=KUBECONFIG,
                  dataPlaneKubeconfigs={"ack-a": KUBECONFIG}, registryUsername="user"),
             "pluginConfig", "meshKubeconfig", "dataPlaneKubeconfigs", "registryUsername")
    assert s.mesh.plugin_config == SecretRead("pluginConfig", picked=True)
    assert s.mesh.mesh_kubeconfig == SecretRead("meshKubeconfig")
    assert s.mesh.data_plane_kubeconfigs == {"ack-a": SecretRead("dataPlaneKubeconfigs", picked=True)}
    assert s.registry_username == SecretRead("registryUsername")
    for text in (repr(s), str(s)):
        assert "s3cr3t" not in text and "t0ken" not in text
    # Not set with --secret: handed on as plain values.
    plain = load(base(wasm_file, pluginConfig={"value": "open"}))
    assert plain.mesh.plugin_config == {"value": "open"} and plain.registry_username == "u"


@pytest.mark.parametrize("key", ["meshKubeconfig", "dataPlaneKubeconfigs"])
def test_a_kubeconfig_stored_in_plain_text_is_refused(wasm_file: Path, key: str) -> None:
    value = KUBECONFIG if key == "meshKubeconfig" else {"ack": KUBECONFIG}
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, **{key: value}))
    assert f"'asm-wasm-plugin:{key}' holds credentials in plain text" in str(raised.value)
    assert "t0ken" not in str(raised.value)


@pytest.mark.parametrize("key", ["imageTag", "registryEndpoint", "pluginName", "selector"])
def test_a_key_that_cannot_stay_secret_is_refused_as_a_secret(wasm_file: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=f"'asm-wasm-plugin:{key}' is stored as a secret"):
        load(base(wasm_file), key)


def test_unknown_keys_are_refused() -> None:
    check_known_keys({"asm-wasm-plugin:selector", "kubernetes:context", "alicloud:region"})
    with pytest.raises(ConfigError, match=r"unknown config key.*'asm-wasm-plugin:selecter'"):
        check_known_keys({"asm-wasm-plugin:selecter"})


def test_wasm_file_must_be_webassembly(tmp_path: Path) -> None:
    not_wasm = tmp_path / "plugin.wasm"
    not_wasm.write_text("hello")
    with pytest.raises(ConfigError, match="not a WebAssembly module"):
        load(base(not_wasm))


def test_split_digest_ref() -> None:
    assert split_digest_ref(f"h:5000/a/b@{DIGEST}") == ("h:5000/a/b", DIGEST)
    with pytest.raises(ValueError, match="not pinned by digest"):
        split_digest_ref("h/a/b:v1")
