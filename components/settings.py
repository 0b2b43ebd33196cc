"""Stack settings: parsing and validation of the stack's configuration.

Pure Python with no Pulumi calls, so every rule is unit-tested directly and
bad input is refused before any resource is registered. Each error names the
config key, the value it got and what would be accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PROJECT = "asm-wasm-plugin"

RegistryMode = Literal["acr-ee", "acr-personal", "external"]
REGISTRY_MODES: tuple[str, ...] = ("acr-ee", "acr-personal", "external")
# Enums of istio.io/api extensions/v1alpha1 WasmPlugin.
PHASES = ("UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS")
PULL_POLICIES = ("UNSPECIFIED_POLICY", "IfNotPresent", "Always")
FAIL_STRATEGIES = ("FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD")

# The plugin's own configuration schema (plugin/config.go); checked here too
# so that a typo fails `pulumi preview` instead of every gateway at start-up.
PLUGIN_CONFIG_KEYS: dict[str, type] = {
    "header": str,
    "value": str,
    "denyStatus": int,
    "denyBody": str,
    "denyContentType": str,
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_REPO_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_DIGEST_REF = re.compile(r"^(?P<repo>[^@\s]+)@(?P<digest>sha256:[a-f0-9]{64})$")
_ACR_INSTANCE = re.compile(r"^cri-[a-z0-9]+$")
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+$")
# The plugin's own rules (plugin/internal/headerauth/config.go).
_HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FIELD_VALUE = re.compile(r"^[^\x00-\x20\x7f](?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?$")


class ConfigError(ValueError):
    """A stack configuration value that cannot be used."""


class Secret:
    """A configuration value that must never be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class RegistrySettings:
    mode: RegistryMode
    namespace: str
    repository: str
    tag: str
    region: str
    acr_instance_id: str | None = None
    endpoint: str | None = None
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ImageSettings:
    # A wasm file to build into an image, or an image already pushed, by digest, or the
    # image another stack runs (promotion builds nothing).
    wasm_file: Path | None
    prebuilt_ref: str | None
    promote_from: str | None = None


@dataclass(frozen=True)
class MeshSettings:
    plugin_name: str
    plugin_namespace: str
    selector: dict[str, str]
    phase: str
    image_pull_policy: str
    pull_secret_name: str
    fail_strategy: str
    plugin_config: dict[str, Any]
    priority: int | None = None
    mesh_kubeconfig: Secret | None = field(default=None, repr=False)
    # Cluster name -> kubeconfig (None: the ambient kubeconfig).
    data_plane_kubeconfigs: dict[str, Secret | None] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Settings:
    registry: RegistrySettings
    image: ImageSettings
    mesh: MeshSettings


def _key(name: str) -> str:
    return f"{PROJECT}:{name}"


def _fail(name: str, value: object, accepted: str) -> ConfigError:
    shown = "<unset>" if value is None else repr(value)
    return ConfigError(f"config key '{_key(name)}' is {shown}; {accepted}")


def _string(values: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = values.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise _fail(name, value, "expected a string")
    return value


def _required(values: Mapping[str, Any], name: str, why: str) -> str:
    value = _string(values, name)
    if value is None:
        raise ConfigError(f"config key '{_key(name)}' is required {why} (pulumi config set {name} ...)")
    return value


def _matching(values: Mapping[str, Any], name: str, pattern: re.Pattern[str], accepted: str,
              default: str | None = None) -> str | None:
    value = _string(values, name, default)
    if value is not None and not pattern.match(value):
        raise _fail(name, value, f"expected {accepted}")
    return value


def _one_of(values: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _string(values, name, default)
    assert value is not None
    if value not in choices:
        raise _fail(name, value, "accepted: " + ", ".join(choices))
    return value


def _object(values: Mapping[str, Any], name: str, default: dict[str, Any]) -> dict[str, Any]:
    """Structured config arrives as a JSON string (Pulumi stores objects as JSON)."""
    value = values.get(name)
    if value is None or value == "":
        return dict(default)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise _fail(name, value, f"expected a JSON object ({err.msg} at position {err.pos})") from None
    if not isinstance(value, dict):
        raise _fail(name, value, "expected a JSON object")
    return value


def parse_selector(values: Mapping[str, Any]) -> dict[str, str]:
    selector = _object(values, "selector", {"istio": "ingressgateway"})
    if not selector:
        raise _fail("selector", selector,
                    "expected at least one label: an empty selector applies the plugin to every workload "
                    "in its namespace (mesh-wide in istio-system)")
    for label, value in selector.items():
        prefix, _, name = label.rpartition("/")
        if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
            raise _fail("selector", selector, f"label name {label!r} is not a valid Kubernetes label key")
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise _fail("selector", selector,
                        f"label {label!r} needs a string value of at most 63 alphanumerics, '-', '_' or '.'")
    return selector


def parse_plugin_config(values: Mapping[str, Any]) -> dict[str, Any]:
    config = _object(values, "pluginConfig", {})
    for key, value in config.items():
        expected = PLUGIN_CONFIG_KEYS.get(key)
        if expected is None:
            raise _fail("pluginConfig", config,
                        f"unknown key {key!r}; accepted keys: {', '.join(PLUGIN_CONFIG_KEYS)}")
        if not isinstance(value, expected) or isinstance(value, bool):
            kind = "an integer" if expected is int else "a string"
            raise _fail("pluginConfig", config, f"key {key!r} must be {kind}")
    if "header" in config and not _HEADER_TOKEN.match(config["header"]):
        raise _fail("pluginConfig", config, "key 'header' must be a non-empty HTTP header name "
                    "(letters, digits and !#$%&'*+-.^_`|~)")
    for key in ("value", "denyContentType"):
        if key in config and not _FIELD_VALUE.match(config[key]):
            raise _fail("pluginConfig", config, f"key {key!r} must be a non-empty string without control "
                        "characters or leading/trailing whitespace")
    status = config.get("denyStatus")
    if status is not None and not 200 <= status <= 599:
        raise _fail("pluginConfig", config, "key 'denyStatus' must be an HTTP status from 200 to 599")
    return config


def parse_kubeconfigs(values: Mapping[str, Any]) -> dict[str, Secret | None]:
    raw = _object(values, "dataPlaneKubeconfigs", {})
    if not raw:
        return {"default": None}
    clusters: dict[str, Secret | None] = {}
    for cluster, kubeconfig in raw.items():
        if not _DNS_LABEL.match(cluster):
            raise ConfigError(f"config key '{_key('dataPlaneKubeconfigs')}' has cluster name {cluster!r}; "
                              "expected a DNS label (lowercase letters, digits, '-')")
        if not isinstance(kubeconfig, str) or not kubeconfig.strip():
            raise ConfigError(f"config key '{_key('dataPlaneKubeconfigs')}' has no kubeconfig text for "
                              f"cluster {cluster!r} (set it with pulumi config set --secret --path "
                              f"'dataPlaneKubeconfigs.{cluster}' \"$(cat kubeconfig)\")")
        clusters[cluster] = Secret(kubeconfig)
    return clusters


def _secret(values: Mapping[str, Any], name: str) -> Secret | None:
    value = _string(values, name)
    return Secret(value) if value is not None else None


def _priority(values: Mapping[str, Any]) -> int | None:
    value = values.get("priority")
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _fail("priority", value, "expected an integer") from None


def load_settings(values: Mapping[str, Any], project_dir: Path) -> Settings:
    """Validates the raw config values (key -> string, as Pulumi gives them)."""
    mode = _one_of(values, "registryMode", REGISTRY_MODES, "acr-ee")
    prebuilt = _matching(values, "imageRef", _DIGEST_REF, "an image reference pinned by digest, "
                         "like registry.example.com/ns/repo@sha256:<64 hex digits>")
    acr_instance_id = None
    if mode == "acr-ee":
        acr_instance_id = _required(values, "acrInstanceId", "when registryMode is 'acr-ee'")
        if not _ACR_INSTANCE.match(acr_instance_id):
            raise _fail("acrInstanceId", acr_instance_id, "expected an ACR Enterprise Edition instance id "
                        "like 'cri-xxxxxxxx'")
    endpoint = _matching(values, "registryEndpoint", _HOST, "a registry host[:port] without scheme or path")
    if mode == "external" and endpoint is None and prebuilt is None and not values.get("promoteFrom"):
        raise ConfigError(f"config key '{_key('registryEndpoint')}' is required when registryMode is "
                          "'external' and no imageRef is given")

    registry = RegistrySettings(
        mode=mode,  # type: ignore[arg-type]
        namespace=_matching(values, "registryNamespace", _REPO_PART,
                            "lowercase letters and digits separated by '.', '_' or '-'", "test-oci") or "",
        repository=_matching(values, "repository", _REPO_PART,
                             "lowercase letters and digits separated by '.', '_' or '-'",
                             "header-authorization") or "",
        tag=_matching(values, "imageTag", _TAG, "a Docker tag (letters, digits, '_', '.', '-')", "v0.0.1") or "",
        region=_matching(values, "region", _REGION, "an Alibaba Cloud region id like cn-hangzhou",
                         "cn-hangzhou") or "",
        acr_instance_id=acr_instance_id,
        endpoint=endpoint,
        username=_string(values, "registryUsername"),
        password=_secret(values, "registryPassword"),
    )

    promote_from = _matching(values, "promoteFrom", _STACK_NAME, "a stack name like my-org/asm-wasm-plugin/dev")
    wasm_file = None
    if prebuilt is None and promote_from is None:
        wasm_file = project_dir / (_string(values, "wasmFile", "plugin/plugin.wasm") or "")
        if not wasm_file.is_file():
            raise _fail("wasmFile", str(wasm_file), "the file does not exist: build it with `make plugin`, "
                        "or set imageRef to an image already pushed by digest")
        with wasm_file.open("rb") as f:
            if f.read(4) != b"\0asm":
                raise _fail("wasmFile", str(wasm_file), "the file is not a WebAssembly module")
        if registry.username is None or registry.password is None:
            raise ConfigError(f"config keys '{_key('registryUsername')}' and '{_key('registryPassword')}' are "
                              "required to push the image (pulumi config set registryUsername ...; "
                              "pulumi config set --secret registryPassword ...)")

    pull_secret_name = _matching(values, "pullSecretName", _DNS_SUBDOMAIN, "a Kubernetes object name",
                                 "wasm-secret") or ""
    if registry.username is None or registry.password is None:
        raise ConfigError(f"config keys '{_key('registryUsername')}' and '{_key('registryPassword')}' are "
                          f"required for the image pull Secret '{pull_secret_name}'")

    mesh = MeshSettings(
        plugin_name=_matching(values, "pluginName", _DNS_SUBDOMAIN, "a Kubernetes object name",
                              "header-authorization") or "",
        plugin_namespace=_matching(values, "pluginNamespace", _DNS_LABEL, "a Kubernetes namespace name",
                                   "istio-system") or "",
        selector=parse_selector(values),
        phase=_one_of(values, "phase", PHASES, "AUTHN"),
        image_pull_policy=_one_of(values, "imagePullPolicy", PULL_POLICIES, "IfNotPresent"),
        pull_secret_name=pull_secret_name,
        fail_strategy=_one_of(values, "failStrategy", FAIL_STRATEGIES, "FAIL_CLOSE"),
        plugin_config=parse_plugin_config(values),
        priority=_priority(values),
        mesh_kubeconfig=_secret(values, "meshKubeconfig"),
        data_plane_kubeconfigs=parse_kubeconfigs(values),
    )
    image = ImageSettings(wasm_file=wasm_file, prebuilt_ref=prebuilt, promote_from=promote_from)
    return Settings(registry=registry, image=image, mesh=mesh)


def split_digest_ref(ref: str) -> tuple[str, str]:
    """'host/ns/repo@sha256:…' -> ('host/ns/repo', 'sha256:…')."""
    match = _DIGEST_REF.match(ref)
    if not match:
        raise ValueError(f"image reference {ref!r} is not pinned by digest (expected repo@sha256:<64 hex>)")
    return match["repo"], match["digest"]


def registry_host(ref: str) -> str:
    """The registry host of an image reference: what a pull secret must name."""
    return ref.split("/", 1)[0]


CONFIG_KEYS: tuple[str, ...] = (
    "registryMode", "acrInstanceId", "registryEndpoint", "registryNamespace", "repository", "imageTag",
    "region", "registryUsername", "registryPassword", "imageRef", "promoteFrom", "wasmFile", "pluginName",
    "pluginNamespace",
    "selector", "phase", "imagePullPolicy", "pullSecretName", "failStrategy", "pluginConfig", "priority",
    "meshKubeconfig", "dataPlaneKubeconfigs",
)
