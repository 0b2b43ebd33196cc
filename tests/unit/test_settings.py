"""Config validation without Pulumi: every rule, and the defaults users see in Pulumi.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import ConfigError, Secret, load_settings, split_digest_ref

ROOT = Path(__file__).resolve().parents[2]


def base(wasm_file: Path, **extra: Any) -> dict[str, Any]:
    return {"acrInstanceId": "cri-abc123", "registryUsername": "u", "registryPassword": "p",
            "wasmFile": str(wasm_file), **extra}


def test_defaults_are_the_seed(wasm_file: Path) -> None:
    s = load_settings(base(wasm_file), ROOT)
    assert (s.registry.mode, s.registry.namespace, s.registry.repository, s.registry.tag) == (
        "acr-ee", "test-oci", "header-authorization", "v0.0.1")
    assert (s.mesh.plugin_name, s.mesh.plugin_namespace, s.mesh.pull_secret_name) == (
        "header-authorization", "istio-system", "wasm-secret")
    assert s.mesh.selector == {"istio": "ingressgateway"}
    assert (s.mesh.phase, s.mesh.image_pull_policy, s.mesh.fail_strategy) == ("AUTHN", "IfNotPresent", "FAIL_CLOSE")
    assert s.mesh.data_plane_kubeconfigs == {"default": None}


def test_pulumi_yaml_declares_the_same_defaults(wasm_file: Path) -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    defaults = {key: spec["default"] for key, spec in declared.items() if "default" in spec}
    from_yaml = load_settings({**defaults, **base(wasm_file)}, ROOT)
    assert from_yaml == load_settings(base(wasm_file), ROOT)
    from components.settings import CONFIG_KEYS
    assert set(declared) == set(CONFIG_KEYS)


def test_secrets_never_print(wasm_file: Path) -> None:
    s = load_settings(base(wasm_file, registryPassword="hunter2", meshKubeconfig="kc-secret"), ROOT)
    assert "hunter2" not in repr(s) and "kc-secret" not in repr(s)
    assert repr(Secret("x")) == "Secret(***)"


@pytest.mark.parametrize(("extra", "message"), [
    ({"registryMode": "dockerhub"}, "accepted: acr-ee, acr-personal, external"),
    ({"acrInstanceId": "i-123"}, "like 'cri-xxxxxxxx'"),
    ({"registryMode": "external", "acrInstanceId": None}, "'asm-wasm-plugin:registryEndpoint' is required"),
    ({"registryEndpoint": "https://x.example.com/v2"}, "without scheme or path"),
    ({"imageTag": "-bad"}, "a Docker tag"),
    ({"pluginNamespace": "Istio_System"}, "a Kubernetes namespace name"),
    ({"selector": '["istio"]'}, "expected a JSON object"),
    ({"selector": {"-bad": "x"}}, "not a valid Kubernetes label key"),
    ({"imagePullPolicy": "Never"}, "accepted: UNSPECIFIED_POLICY, IfNotPresent, Always"),
    ({"failStrategy": "OPEN"}, "accepted: FAIL_CLOSE, FAIL_OPEN, FAIL_RELOAD"),
    ({"pluginConfig": {"denyStatus": 99}}, "from 200 to 599"),
    ({"pluginConfig": {"denyStatus": "403"}}, "'denyStatus' must be an integer"),
    ({"pluginConfig": {"header": ""}}, "'header' must be a non-empty HTTP header name"),
    ({"pluginConfig": {"header": "x allow"}}, "'header' must be a non-empty HTTP header name"),
    ({"pluginConfig": {"value": " true"}}, "'value' must be a non-empty string without control"),
    ({"pluginConfig": {"value": ""}}, "'value' must be a non-empty string without control"),
    ({"priority": "high"}, "expected an integer"),
    ({"registryPassword": None}, "'asm-wasm-plugin:registryPassword' are required"),
    ({"dataPlaneKubeconfigs": {"Bad_Name": "x"}}, "cluster name 'Bad_Name'"),
    ({"dataPlaneKubeconfigs": {"ack": ""}}, "no kubeconfig text for cluster 'ack'"),
])
def test_bad_values_are_named(wasm_file: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(base(wasm_file, **extra), ROOT)
    assert message in str(raised.value)


def test_wasm_file_must_be_webassembly(tmp_path: Path) -> None:
    not_wasm = tmp_path / "plugin.wasm"
    not_wasm.write_text("hello")
    with pytest.raises(ConfigError, match="not a WebAssembly module"):
        load_settings(base(not_wasm), ROOT)


def test_split_digest_ref() -> None:
    digest = "sha256:" + "0" * 64
    assert split_digest_ref(f"h:5000/a/b@{digest}") == ("h:5000/a/b", digest)
    with pytest.raises(ValueError, match="not pinned by digest"):
        split_digest_ref("h/a/b:v1")
