"""The stack's configuration, validated: every key checked before any resource is registered.

Pure Python: it gets the raw values (key -> what `pulumi.Config.get` returns) to check them,
and a `SecretSource` to read the keys that hold secrets. Those it hands on only as what
the source returns (secret `pulumi.Output`s, from `Config.require_secret*`): a secret's
plain text is looked at here for its shape and never kept, returned or printed. Each
error names the key, the value (never a secret one) and what is accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from stackconfig.asm import check_cluster_ids, check_instance_id
from stackconfig.errors import PROJECT, ConfigError, key_name
from stackconfig.extension import (
    ENV_NAME,
    EXTENSION_KINDS,
    GATEWAY_NAME_LABEL,
    PLUGIN_TYPES,
    SELECTOR_OR_TARGET_REFS,
    ExtensionFields,
    as_list,
    parse_match,
    parse_one_of,
    parse_root_id,
    parse_target_refs,
    parse_vm_env,
)
from stackconfig.image_source import (
    DIGEST_REF,
    ImageSource,
    RegistryMode,
    RegistryTarget,
    decide_image_source,
)
from stackconfig.verify import PLUGIN_DEFAULTS, VerifySettings, parse_verify, selectors_overlap

CONFIG_KEYS: tuple[str, ...] = (
    "registryMode", "acrInstanceId", "registryEndpoint", "registryNamespace", "repository", "imageTag",
    "region", "registryUsername", "registryPassword", "keepRegistryOnDestroy", "imageRef", "promoteFrom",
    "wasmFile", "pluginName", "pluginNamespace", "selector", "phase", "imagePullPolicy", "pullSecretName",
    "failStrategy", "pluginConfig", "priority", "meshKubeconfig", "dataPlaneKubeconfigs", "verify",
    "canarySelector", "targetRefs", "match", "pluginType", "rootId", "vmEnv", "extensionKind", "plugins",
    "asmInstanceId", "dataPlaneClusterIds", "clusterRegistryHosts", "istioClusterIds",
)
# Keys that may be set with --secret: they reach resources only as secret Outputs. The other
# keys decide which resources exist, their names, or the image url every gateway is shown,
# so a secret value there could not stay secret: they are refused when stored encrypted.
SECRET_CAPABLE: frozenset[str] = frozenset(
    {"registryUsername", "registryPassword", "pluginConfig", "meshKubeconfig", "dataPlaneKubeconfigs", "vmEnv"})
# Credentials: read as secrets whatever the stack file says, and refused when stored in plain text.
CREDENTIALS: frozenset[str] = frozenset({"registryPassword", "meshKubeconfig", "dataPlaneKubeconfigs"})

REGISTRY_MODES: tuple[str, ...] = ("acr-ee", "acr-personal", "external")
# Enums of istio.io/api extensions/v1alpha1 WasmPlugin.
PHASES = ("UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS")
PULL_POLICIES = ("UNSPECIFIED_POLICY", "IfNotPresent", "Always")
FAIL_STRATEGIES = ("FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD")
# WasmPlugin.priority is a google.protobuf.Int32Value.
INT32 = (-(2**31), 2**31 - 1)
# ACR's limits (Terraform provider alicloud: cr_namespace 2-30, cr_ee_namespace 2-120, repos 2-64).
NAMESPACE_LENGTH: dict[str, tuple[int, int]] = {"acr-ee": (2, 120), "acr-personal": (2, 30), "external": (1, 255)}
REPOSITORY_LENGTH = (2, 64)

# The plugin's own configuration schema (plugin/internal/headerauth/config.go); checked here
# too so that a typo fails `pulumi preview` instead of every gateway at start-up.
PLUGIN_CONFIG_KEYS: dict[str, type] = {
    "header": str,
    "value": str,
    "denyStatus": int,
    "denyBody": str,
    "denyContentType": str,
    "valueFromEnv": str,
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_REPO_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST = re.compile(r"^(?P<name>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:(?P<port>[0-9]{1,5}))?$")
_ACR_INSTANCE = re.compile(r"^cri-[a-z0-9]+$")
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+$")
# The plugin's own rules (plugin/internal/headerauth/config.go).
_HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FIELD_VALUE = re.compile(r"^[^\x00-\x20\x7f](?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?$")

SECRET_SHOWN = "[secret]"
NO_EXTENSION_FIELDS = ExtensionFields()
DEFAULT_SELECTOR = {"istio": "ingressgateway"}


class SecretSource(Protocol):
    """Reads config keys as secrets (in the program: `pulumi.Config.require_secret*`)."""

    def is_stored_secret(self, key: str) -> bool:
        """Whether the stack stores the key encrypted (set with --secret)."""
        ...

    def secret_string(self, key: str) -> Any:
        """The key's string value, as a secret Output."""
        ...

    def secret_object(self, key: str, pick: Callable[[Any], Any]) -> Any:
        """pick(the key's JSON value), as a secret Output."""
        ...


Sensitive = Any
"""A value that only exists inside a secret Output made by a SecretSource."""


@dataclass(frozen=True)
class ExtraPlugin:
    """One entry of `plugins`: a further plugin in the same chain, sharing registry and pull Secret."""

    name: str
    image: ImageSource
    plugin_config: dict[str, Any] | None
    phase: str
    priority: int | None
    selector: dict[str, str] | None
    """None when targetRefs target the workloads."""
    fields: ExtensionFields
    fail_strategy: str
    image_pull_policy: str


@dataclass(frozen=True)
class MeshSettings:
    plugin_name: str
    plugin_namespace: str
    selector: dict[str, str] | None
    """None when targetRefs target the workloads."""
    phase: str
    image_pull_policy: str
    pull_secret_name: str
    fail_strategy: str
    plugin_config: dict[str, Any] | Sensitive | None
    """None when unset or empty: Istio then hands the plugin no configuration (the seed's case)."""
    priority: int | None
    mesh_kubeconfig: Sensitive | None
    """None: the ambient KUBECONFIG."""
    data_plane_kubeconfigs: dict[str, Sensitive | None]
    """Cluster name -> kubeconfig (None: the ambient KUBECONFIG)."""
    verify: VerifySettings
    canary_selector: dict[str, str] | None
    """Labels of the canary gateways, which get a new build first; None: no canary step."""
    extension_kind: str = "WasmPlugin"
    """WasmPlugin (ASM's documented API) or TrafficExtension (Istio 1.31's successor)."""
    fields: ExtensionFields = NO_EXTENSION_FIELDS
    """targetRefs, match, type, root id, VM env (vm_env may be a secret Output)."""
    extra_plugins: tuple[ExtraPlugin, ...] = ()
    """The `plugins` list: further plugins in the same chain."""
    asm_instance_id: str | None = None
    """An ASM instance whose kubeconfig and version are looked up (components/asm_access.py)."""
    data_plane_cluster_ids: dict[str, str] = field(default_factory=dict)
    """Data-plane cluster name -> ACK cluster id, whose kubeconfigs are looked up."""
    cluster_registry_hosts: dict[str, str] = field(default_factory=dict)
    """Data-plane cluster name -> the registry host its gateways pull from (e.g. a VPC endpoint)."""
    istio_cluster_ids: dict[str, str] = field(default_factory=dict)
    """Data-plane cluster name -> Istio's id for it, for every cluster when cluster_registry_hosts is set."""

    def check_selectors(self) -> list[dict[str, str]]:
        """The label sets of the pods the plugin reaches: what the gateway check probes."""
        if self.selector is not None:
            return [self.selector]
        return [{GATEWAY_NAME_LABEL: name} for name in self.fields.gateway_names()]


@dataclass(frozen=True)
class Settings:
    image: ImageSource
    registry_username: str | Sensitive
    registry_password: Sensitive
    mesh: MeshSettings


class _Values:
    """The raw values, with the rules for reading and quoting them."""

    def __init__(self, raw: Mapping[str, Any], secrets: SecretSource) -> None:
        self.raw = raw
        self.secrets = secrets

    def is_secret(self, name: str) -> bool:
        return name in CREDENTIALS or self.secrets.is_stored_secret(name)

    def fail(self, name: str, value: object, accepted: str) -> ConfigError:
        if value is None:
            shown = "<unset>"
        elif self.is_secret(name):
            shown = f"{SECRET_SHOWN} (a {type(value).__name__})"
        else:
            shown = repr(value)
        return ConfigError(f"config key '{key_name(name)}' is {shown}; {accepted}")

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            raise self.fail(name, value, "expected a string")
        return value

    def required(self, name: str, why: str) -> str:
        value = self.string(name)
        if value is None:
            flag = "--secret " if name in CREDENTIALS else ""
            raise ConfigError(f"config key '{key_name(name)}' is required {why} "
                              f"(pulumi config set {flag}{name} ...)")
        return value

    def matching(self, name: str, pattern: re.Pattern[str], accepted: str, default: str | None = None) -> str | None:
        value = self.string(name, default)
        if value is not None and not pattern.match(value):
            raise self.fail(name, value, f"expected {accepted}")
        return value

    def one_of(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        assert value is not None
        if value not in choices:
            raise self.fail(name, value, "accepted: " + ", ".join(choices))
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(name, value, "expected true or false")

    def object(self, name: str) -> dict[str, Any]:
        """Structured config arrives as a JSON string (Pulumi stores objects as JSON)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                # A secret's position in a parse error could point into it: say only what was wrong.
                where = "" if self.is_secret(name) else f" ({err.msg} at position {err.pos})"
                raise self.fail(name, value, f"expected a JSON object{where}") from None
        if not isinstance(value, dict):
            raise self.fail(name, value, "expected a JSON object (key: value pairs)")
        return value

    def length(self, name: str, value: str, bounds: tuple[int, int], what: str) -> str:
        low, high = bounds
        if not low <= len(value) <= high:
            raise self.fail(name, value, f"{what} must be {low} to {high} characters long (it has {len(value)})")
        return value


def _registry_host(values: _Values, name: str, host: str) -> str:
    match = _HOST.match(host)
    if not match:
        raise values.fail(name, host, "expected a registry host[:port] without scheme or path")
    if match["port"] is not None and not 1 <= int(match["port"]) <= 65535:
        raise values.fail(name, host, "the port must be from 1 to 65535")
    return host


def _image_ref(values: _Values) -> str | None:
    ref = values.string("imageRef")
    if ref is None:
        return None
    match = DIGEST_REF.match(ref)
    accepted = "an image reference with its registry host, pinned by digest, like " \
               "registry.example.com/ns/repo@sha256:<64 hex digits>"
    if not match:
        raise values.fail("imageRef", ref, f"expected {accepted}")
    host = match["host"]
    # As Docker reads a reference: a first part without '.' or ':' (and not localhost) is a
    # Docker Hub namespace, not a host, and the pull Secret would name the wrong registry.
    if not ("." in host or ":" in host or host == "localhost"):
        raise values.fail("imageRef", ref, f"its first part {host!r} is not a registry host; expected {accepted}")
    _registry_host(values, "imageRef", host)
    return ref


def parse_selector(values: _Values, key: str = "selector") -> dict[str, str]:
    raw = values.raw.get(key)
    selector = values.object(key) if raw not in (None, "") else dict(DEFAULT_SELECTOR)
    if not selector:
        raise values.fail(key, selector,
                          "expected at least one label: an empty selector applies the plugin to every workload "
                          "in its namespace (mesh-wide in istio-system)")
    for label, value in selector.items():
        prefix, _, name = label.rpartition("/")
        if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
            raise values.fail(key, selector, f"label name {label!r} is not a valid Kubernetes label key "
                              "(an optional DNS prefix and '/', then at most 63 alphanumerics, '-', '_' or '.')")
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise values.fail(key, selector,
                              f"label {label!r} needs a string value of at most 63 alphanumerics, '-', '_' or '.'")
    return selector


def _canary_selector(values: _Values, selector: dict[str, str] | None, plugin_name: str) -> dict[str, str] | None:
    if values.raw.get("canarySelector") in (None, "", "{}", {}):
        return None
    canary = parse_selector(values, "canarySelector")
    if selector is None:
        raise values.fail("canarySelector", canary, "a canary step needs the plugin targeted by 'selector'; with "
                          "targetRefs, give the canary gateways a Gateway of their own and roll out in two stacks")
    if selectors_overlap(selector, canary):
        raise values.fail(
            "canarySelector", canary,
            f"it and 'selector' {selector!r} can both match one workload (no label they both name with "
            "different values), which would run the stable and the canary build in one chain; give the canary "
            "gateways a label value the stable selector excludes, e.g. selector istio: ingressgateway and "
            "canarySelector istio: ingressgateway-canary")
    if len(plugin_name) > 253 - len("-canary"):
        raise values.fail("pluginName", plugin_name, "at most 246 characters with a canary (the canary "
                          "WasmPlugin is named <pluginName>-canary)")
    return canary


def _verify(values: _Values, plugin_config: Mapping[str, Any], fields: ExtensionFields) -> VerifySettings:
    raw = values.object("verify")
    deny_status = plugin_config.get("denyStatus", PLUGIN_DEFAULTS["denyStatus"])
    verify = parse_verify(raw, lambda value, accepted: values.fail("verify", value, accepted), deny_status)
    env_name = plugin_config.get("valueFromEnv")
    if verify.enabled and env_name is not None and "value" not in verify.overrides:
        inline = [v for v in fields.vm_env if v["name"] == env_name and "value" in v]
        if not inline or values.is_secret("vmEnv"):
            # The accepted value lives in the gateways (or in a secret): the check sends only the
            # request that must be denied, which still proves the build by its stamp.
            return replace(verify, overrides={**verify.overrides, "value": None})
        return replace(verify, overrides={**verify.overrides, "value": inline[0]["value"]})
    return verify


def check_plugin_config(values: _Values, fields: ExtensionFields = NO_EXTENSION_FIELDS) -> dict[str, Any]:
    config = values.object("pluginConfig")
    if "build" in config:
        raise values.fail("pluginConfig", config, "key 'build' is set by the stack (the image digest, which "
                          "the plugin stamps on its deny reply so that `pulumi up` can tell which build runs)")
    for key, value in config.items():
        expected = PLUGIN_CONFIG_KEYS.get(key)
        if expected is None:
            raise values.fail("pluginConfig", config,
                              f"unknown key {key!r}; accepted keys: {', '.join(PLUGIN_CONFIG_KEYS)}")
        if not isinstance(value, expected) or isinstance(value, bool):
            kind = "an integer" if expected is int else "a string"
            raise values.fail("pluginConfig", config, f"key {key!r} must be {kind}")
    if "header" in config and not _HEADER_TOKEN.match(config["header"]):
        raise values.fail("pluginConfig", config, "key 'header' must be a non-empty HTTP header name "
                          "(letters, digits and !#$%&'*+-.^_`|~)")
    for key in ("value", "denyContentType"):
        if key in config and not _FIELD_VALUE.match(config[key]):
            raise values.fail("pluginConfig", config, f"key {key!r} must be a non-empty string without control "
                              "characters or leading/trailing whitespace")
    status = config.get("denyStatus")
    if status is not None and not 200 <= status <= 599:
        raise values.fail("pluginConfig", config, "key 'denyStatus' must be an HTTP status from 200 to 599")
    env_name = config.get("valueFromEnv")
    if env_name is not None:
        if not ENV_NAME.match(env_name):
            raise values.fail("pluginConfig", config, "key 'valueFromEnv' must name an environment variable (letters, "
                              "digits, '_'; not starting with a digit)")
        if "value" in config:
            raise values.fail("pluginConfig", config, "keys 'value' and 'valueFromEnv' exclude each other: the "
                              "accepted value is either given here or read from the VM's environment")
        if env_name not in {v["name"] for v in fields.vm_env}:
            entry = json.dumps({"name": env_name, "valueFrom": "HOST"})
            raise values.fail("pluginConfig", config, f"key 'valueFromEnv' names {env_name!r}, which vmEnv does not "
                              f"define: add {entry} (the gateway's own variable) or an inline value to vmEnv")
    return config


def _plugin_config(values: _Values, config: dict[str, Any]) -> dict[str, Any] | Sensitive | None:
    """What the WasmPlugin gets: the checked configuration, or a secret reading of it."""
    if not config:
        return None
    if values.is_secret("pluginConfig"):
        return values.secrets.secret_object("pluginConfig", lambda whole: whole)
    return config


def _kubeconfig_text(values: _Values, name: str, text: object, where: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"config key '{key_name(name)}' has no kubeconfig text {where} "
                          f"(a {type(text).__name__}, not shown); set it with "
                          f"pulumi config set --secret {'--path ' if '.' in where else ''}...")


def _data_plane_kubeconfigs(values: _Values) -> dict[str, Sensitive | None]:
    name = "dataPlaneKubeconfigs"
    raw = values.object(name)
    if not raw:
        return {"default": None}
    clusters: dict[str, Sensitive | None] = {}
    for cluster, kubeconfig in raw.items():
        if not _DNS_LABEL.match(cluster):
            # The cluster name becomes part of resource names: it is not the secret part.
            raise ConfigError(f"config key '{key_name(name)}' has cluster name {cluster!r}; "
                              "expected a DNS label (lowercase letters, digits, '-', at most 63)")
        _kubeconfig_text(values, name, kubeconfig, f"for cluster {cluster!r}")
        clusters[cluster] = values.secrets.secret_object(name, lambda whole, c=cluster: whole[c])
    return clusters


def _priority(values: _Values, key: str = "priority", where: str = "") -> int | None:
    value = values.raw.get("priority")
    if value is None or value == "":
        return None
    prefix = f"{where}: " if where else ""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise values.fail(key, value, f"{prefix}expected an integer") from None
    if isinstance(value, bool) or isinstance(value, float) or not INT32[0] <= number <= INT32[1]:
        raise values.fail(key, value, f"{prefix}expected an integer from {INT32[0]} to {INT32[1]} (Istio's int32)")
    return number


def _check_secrecy(values: _Values, stored_secret: Collection[str]) -> None:
    for name in CONFIG_KEYS:
        if name in stored_secret and name not in SECRET_CAPABLE:
            raise ConfigError(
                f"config key '{key_name(name)}' is stored as a secret, but its value names resources or goes into "
                "the image url that every gateway and output shows, so it cannot stay secret; set it in plain "
                f"text (pulumi config set {name} ...). Keys that may be secret: {', '.join(sorted(SECRET_CAPABLE))}")
    for name in sorted(CREDENTIALS):
        if values.raw.get(name) not in (None, "", "{}", {}) and name not in stored_secret:
            path = "--path " if name == "dataPlaneKubeconfigs" else ""
            raise ConfigError(
                f"config key '{key_name(name)}' holds credentials in plain text in the stack's config file; "
                f"set it with --secret (pulumi config set --secret {path}{name} ...)")


def check_known_keys(present: Collection[str]) -> None:
    """Refuses a key of this project that the program does not read (a typo would be silently ignored)."""
    unknown = sorted(k for k in present if k.startswith(f"{PROJECT}:") and k.split(":", 1)[1] not in CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(repr(k) for k in unknown)}; the keys of "
                          f"{PROJECT} are: {', '.join(CONFIG_KEYS)} (declared in Pulumi.yaml)")


def load_settings(raw: Mapping[str, Any], secrets: SecretSource, project_dir: Path) -> Settings:
    """Validates the raw config values (key -> what pulumi.Config.get returns)."""
    values = _Values(raw, secrets)
    _check_secrecy(values, [k for k in CONFIG_KEYS if secrets.is_stored_secret(k)])

    mode = values.one_of("registryMode", REGISTRY_MODES, "acr-ee")
    image_ref = _image_ref(values)
    promote_from = values.matching("promoteFrom", _STACK_NAME,
                                   "a stack name: dev (this project, this organization) or my-org/asm-wasm-plugin/dev")
    endpoint = values.string("registryEndpoint")
    if endpoint is not None:
        _registry_host(values, "registryEndpoint", endpoint)
    namespace = values.matching("registryNamespace", _REPO_PART,
                                "lowercase letters and digits separated by '.', '_' or '-'", "test-oci") or ""
    repository = values.matching("repository", _REPO_PART,
                                 "lowercase letters and digits separated by '.', '_' or '-'",
                                 "header-authorization") or ""
    values.length("registryNamespace", namespace, NAMESPACE_LENGTH[mode], f"a {mode} namespace name")
    values.length("repository", repository, REPOSITORY_LENGTH, "an ACR repository name")
    tag = values.matching("imageTag", _TAG, "a Docker tag (letters, digits, '_', '.', '-'; at most 128)",
                          "v0.0.1") or ""
    region = values.matching("region", _REGION, "an Alibaba Cloud region id like cn-hangzhou", "cn-hangzhou") or ""
    keep = values.boolean("keepRegistryOnDestroy", True)
    acr_instance_id = values.matching("acrInstanceId", _ACR_INSTANCE,
                                      "an ACR Enterprise Edition instance id like 'cri-xxxxxxxx'")
    wasm_name = values.string("wasmFile", "plugin/plugin.wasm") or ""

    builds = image_ref is None and promote_from is None
    wasm_file = registry = None
    if builds:
        if mode == "acr-ee" and acr_instance_id is None:
            values.required("acrInstanceId", "when registryMode is 'acr-ee' and this stack builds the image "
                            "(no imageRef or promoteFrom)")
        if mode == "external" and endpoint is None:
            values.required("registryEndpoint", "when registryMode is 'external' and this stack builds the "
                            "image (no imageRef or promoteFrom)")
        wasm_file = project_dir / wasm_name
        problem = _wasm_problem(wasm_file)
        if problem == "does not exist":
            raise values.fail("wasmFile", str(wasm_file), "the file does not exist: build it with `make plugin`, "
                              "or set imageRef to an image already pushed by digest")
        if problem:
            raise values.fail("wasmFile", str(wasm_file), f"the file {problem}")
        registry = RegistryTarget(
            mode=_mode(mode), namespace=namespace, repository=repository, tag=tag, region=region,
            acr_instance_id=acr_instance_id if mode == "acr-ee" else None,
            # Personal Edition has one endpoint per region; Enterprise Edition's is looked up when unset.
            endpoint=endpoint or (f"registry.{region}.aliyuncs.com" if mode == "acr-personal" else None),
            keep_on_destroy=keep)

    pull_secret_name = values.matching("pullSecretName", _DNS_SUBDOMAIN,
                                       "a Kubernetes object name (lowercase DNS subdomain, at most 253)",
                                       "wasm-secret") or ""
    why = f"to push the image and for the image pull Secret '{pull_secret_name}'" if builds else \
        f"for the image pull Secret '{pull_secret_name}'"
    values.required("registryUsername", why)
    values.required("registryPassword", why)
    username: str | Sensitive = values.string("registryUsername")
    if values.is_secret("registryUsername"):
        username = secrets.secret_string("registryUsername")

    mesh_kubeconfig = None
    raw_mesh = values.raw.get("meshKubeconfig")
    if raw_mesh not in (None, ""):
        _kubeconfig_text(values, "meshKubeconfig", raw_mesh, "")
        mesh_kubeconfig = secrets.secret_string("meshKubeconfig")

    plugin_name = values.matching("pluginName", _DNS_SUBDOMAIN,
                                  "a Kubernetes object name (lowercase DNS subdomain, at most 253)",
                                  "header-authorization") or ""
    namespace_name = values.matching("pluginNamespace", _DNS_LABEL,
                                     "a Kubernetes namespace name (lowercase DNS label, at most 63)",
                                     "istio-system") or ""
    fields = _extension_fields(values, namespace_name)
    selector: dict[str, str] | None = parse_selector(values)
    if fields.target_refs:
        if selector != DEFAULT_SELECTOR:
            raise values.fail("selector", selector, SELECTOR_OR_TARGET_REFS)
        selector = None
    plugin_config = check_plugin_config(values, fields)
    phase = values.one_of("phase", PHASES, "AUTHN")
    pull_policy = values.one_of("imagePullPolicy", PULL_POLICIES, "IfNotPresent")
    fail_strategy = values.one_of("failStrategy", FAIL_STRATEGIES, "FAIL_CLOSE")
    extension_kind = values.one_of("extensionKind", EXTENSION_KINDS, "WasmPlugin")
    verify = _verify(values, plugin_config, fields)
    if verify.enabled and verify.url is None and selector is None and not fields.gateway_names():
        raise values.fail("verify", values.object("verify"), "the gateway check finds the pods to probe by the "
                          "selector, or by a targetRefs entry of kind Gateway; these targetRefs name none: set "
                          "verify.url to the gateway's address, or verify.enabled false")
    extras = _extra_plugins(values, namespace_name, plugin_name, registry, promote_from, project_dir,
                            {"selector": selector, "phase": phase, "imagePullPolicy": pull_policy,
                             "failStrategy": fail_strategy})
    asm_id, cluster_ids, data_plane_kubeconfigs = _asm(values)
    hosts, istio_ids = _cluster_hosts(values, [*data_plane_kubeconfigs, *cluster_ids], cluster_ids, fields)
    mesh = MeshSettings(
        plugin_name=plugin_name,
        plugin_namespace=namespace_name,
        selector=selector,
        phase=phase,
        image_pull_policy=pull_policy,
        pull_secret_name=pull_secret_name,
        fail_strategy=fail_strategy,
        plugin_config=_plugin_config(values, plugin_config),
        priority=_priority(values),
        mesh_kubeconfig=mesh_kubeconfig,
        data_plane_kubeconfigs=data_plane_kubeconfigs,
        verify=verify,
        canary_selector=_canary_selector(values, selector, plugin_name),
        extension_kind=extension_kind,
        # Checked in plain text above; handed on as a secret when stored as one.
        fields=replace(fields, vm_env=secrets.secret_object("vmEnv", lambda whole: whole))
        if fields.vm_env and values.is_secret("vmEnv") else fields,
        extra_plugins=extras,
        asm_instance_id=asm_id,
        data_plane_cluster_ids=cluster_ids,
        cluster_registry_hosts=hosts,
        istio_cluster_ids=istio_ids,
    )
    image = decide_image_source(image_ref=image_ref, promote_from=promote_from, wasm_file=wasm_file,
                                registry=registry)
    return Settings(image=image, registry_username=username,
                    registry_password=secrets.secret_string("registryPassword"), mesh=mesh)


def _asm(values: _Values) -> tuple[str | None, dict[str, str], dict[str, Sensitive | None]]:
    """asmInstanceId and dataPlaneClusterIds (ids whose kubeconfigs are looked up), beside or instead of
    pasted kubeconfigs; the data-plane clusters by kubeconfig, without the ambient default when ids name some."""
    kubeconfigs = _data_plane_kubeconfigs(values)
    raw_id = values.string("asmInstanceId")
    cluster_ids = check_cluster_ids(values.object("dataPlaneClusterIds"))
    if raw_id is None:
        if cluster_ids:
            raise values.fail("dataPlaneClusterIds", cluster_ids, "ACK cluster ids are looked up as data-plane "
                              "clusters of an ASM instance: set asmInstanceId too, or paste each cluster's "
                              "kubeconfig into dataPlaneKubeconfigs")
        return None, {}, kubeconfigs
    asm_id = check_instance_id(raw_id)
    if cluster_ids:
        if values.raw.get("dataPlaneKubeconfigs") in (None, "", "{}", {}):
            kubeconfigs = {}
        both = sorted(set(cluster_ids) & set(kubeconfigs))
        if both:
            raise values.fail("dataPlaneClusterIds", cluster_ids, f"cluster(s) {', '.join(both)} also have a "
                              "kubeconfig in dataPlaneKubeconfigs: give each cluster one way in")
    return asm_id, cluster_ids, kubeconfigs


def _cluster_hosts(values: _Values, clusters: list[str], ack_ids: Mapping[str, str],
                   fields: ExtensionFields) -> tuple[dict[str, str], dict[str, str]]:
    """clusterRegistryHosts (cluster -> host its gateways pull from) and the Istio cluster ids that let a
    WasmPlugin select one cluster's gateways (istioClusterIds; an ACK cluster's id by default, as in ASM)."""
    hosts = values.object("clusterRegistryHosts")
    ids = values.object("istioClusterIds")
    if not hosts:
        if ids:
            raise values.fail("istioClusterIds", ids, "it is used only with clusterRegistryHosts (each cluster's "
                              "own WasmPlugin selects its gateways by Istio's cluster id); remove it")
        return {}, {}
    shown = "'default' (the ambient KUBECONFIG)" if clusters == ["default"] else ", ".join(sorted(clusters))
    for cluster, host in hosts.items():
        if cluster not in clusters:
            raise values.fail("clusterRegistryHosts", hosts, f"{cluster!r} is not a data-plane cluster of this "
                              f"stack; its clusters: {shown}")
        if not isinstance(host, str):
            raise values.fail("clusterRegistryHosts", hosts, f"the host for {cluster!r} must be a string")
        _registry_host(values, "clusterRegistryHosts", host)
    if fields.target_refs:
        raise values.fail("clusterRegistryHosts", hosts, "a host per cluster makes one WasmPlugin per cluster, "
                          "each selecting its cluster's gateways by label; with targetRefs every one of them "
                          "would reach every cluster's gateway: use selector")
    resolved = {}
    for cluster in clusters:
        istio_id = ids.get(cluster, ack_ids.get(cluster))
        if istio_id is None:
            raise values.fail("istioClusterIds", ids, f"cluster {cluster!r} needs Istio's id for it (its "
                              "istiod's --clusterID; in ASM the ACK cluster id): with clusterRegistryHosts each "
                              "cluster gets its own WasmPlugin, selecting its gateways by topology.istio.io/cluster")
        if not isinstance(istio_id, str) or not _LABEL_VALUE.match(istio_id) or not istio_id:
            raise values.fail("istioClusterIds", ids, f"the id for {cluster!r} must be a label value (at most 63 "
                              "letters, digits, '-', '_' or '.')")
        resolved[cluster] = istio_id
    unknown = sorted(set(ids) - set(clusters))
    if unknown:
        raise values.fail("istioClusterIds", ids, f"{', '.join(unknown)} are not data-plane clusters; its "
                          f"clusters: {shown}")
    return dict(hosts), resolved


def _extension_fields(values: _Values, namespace: str, prefix: str = "", raw: Mapping[str, Any] | None = None,
                      key: str | None = None) -> ExtensionFields:
    """targetRefs, match, pluginType, rootId, vmEnv: top-level keys, or fields of a `plugins` entry
    (prefix 'plugins[1].', raw that entry, key 'plugins')."""
    source = values.raw if raw is None else raw

    def fail(name: str) -> Callable[[object, str], ConfigError]:
        if key is None:
            return lambda value, accepted: values.fail(name, value, accepted)
        return lambda value, accepted: values.fail(key, value, f"{prefix}{name}: {accepted}")

    return ExtensionFields(
        target_refs=parse_target_refs(source.get("targetRefs"), fail("targetRefs"), namespace),
        match=parse_match(source.get("match"), fail("match")),
        plugin_type=parse_one_of(source.get("pluginType"), PLUGIN_TYPES, fail("pluginType")),
        root_id=parse_root_id(source.get("rootId"), fail("rootId")),
        vm_env=parse_vm_env(source.get("vmEnv"), fail("vmEnv")),
    )


# The keys of a `plugins` entry; those marked True default to the top-level key of the same name.
PLUGIN_ENTRY_KEYS: dict[str, bool] = {
    "name": False, "wasmFile": False, "imageRef": False, "repository": False, "pluginConfig": False,
    "phase": True, "priority": False, "selector": True, "targetRefs": False, "match": False, "pluginType": False,
    "rootId": False, "vmEnv": False, "failStrategy": True, "imagePullPolicy": True,
}


def _extra_plugins(values: _Values, namespace: str, first_name: str, registry: RegistryTarget | None,
                   promote_from: str | None, project_dir: Path, defaults: Mapping[str, Any]) -> tuple[ExtraPlugin, ...]:
    entries = as_list(values.raw.get("plugins"), lambda value, accepted: values.fail("plugins", value, accepted),
                      "plugin objects")
    names = {first_name}
    out = []
    for i, entry in enumerate(entries):
        where = f"plugins[{i}]"

        def fail(accepted: str, value: object = entry, w: str = where) -> ConfigError:
            return values.fail("plugins", value, f"{w}{accepted}")

        if not isinstance(entry, dict):
            raise fail(": expected an object with keys " + ", ".join(PLUGIN_ENTRY_KEYS))
        unknown = sorted(set(entry) - set(PLUGIN_ENTRY_KEYS))
        if unknown:
            raise fail(f" has unknown key(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(PLUGIN_ENTRY_KEYS)}")
        name = entry.get("name")
        if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name):
            raise fail(".name: required, a Kubernetes object name (lowercase DNS subdomain, at most 253): it names "
                       "the plugin's WasmPlugin and, unless 'repository' is given, its repository")
        if name in names:
            raise fail(f".name {name!r} is already taken (by pluginName or an earlier entry)")
        names.add(name)
        fields = _extension_fields(values, namespace, f"{where}.", entry, "plugins")
        selector = defaults["selector"]
        if "selector" in entry:
            try:
                selector = parse_selector(_Values({"selector": entry["selector"]}, values.secrets))
            except ConfigError as err:  # the same rules, said of this entry
                raise fail(f".selector: {str(err).split('; ', 1)[-1]}") from None
        if fields.target_refs:
            if "selector" in entry:
                raise fail(f": {SELECTOR_OR_TARGET_REFS}")
            selector = None
        elif selector is None:
            raise fail(": the top-level plugin is targeted by targetRefs; give this entry its own selector or "
                       "targetRefs")
        config = entry.get("pluginConfig")
        if config is not None and not isinstance(config, dict):
            raise fail(".pluginConfig: expected a JSON object")
        image_ref = entry.get("imageRef")
        wasm_file = entry.get("wasmFile")
        if image_ref is not None and wasm_file is not None:
            raise fail(": set either wasmFile (built and pushed by this stack) or imageRef (already pushed, by "
                       "digest), not both")
        if image_ref is not None:
            try:  # the top-level imageRef's rules, said of this entry
                _image_ref(_Values({"imageRef": image_ref}, values.secrets))
            except ConfigError as err:
                raise fail(f".imageRef: {str(err).split('; ', 1)[-1]}") from None
        repository = entry.get("repository", name)
        if not isinstance(repository, str) or not _REPO_PART.match(repository) or \
                not REPOSITORY_LENGTH[0] <= len(repository) <= REPOSITORY_LENGTH[1]:
            raise fail(".repository: expected 2 to 64 lowercase letters and digits separated by '.', '_' or '-'")
        path: Path | None = None
        target: RegistryTarget | None = None
        if image_ref is None and promote_from is None:
            if wasm_file is None:
                raise fail(": needs wasmFile (the compiled plugin, relative to the project) or imageRef")
            if registry is None:
                raise fail(": builds its image (wasmFile), but this stack builds nothing (imageRef is set): give "
                           "the entry an imageRef too")
            path = project_dir / str(wasm_file)
            if problem := _wasm_problem(path):
                raise fail(f".wasmFile: {str(path)!r} {problem}" + (": build it (make plugin)"
                                                                     if problem == "does not exist" else ""))
            target = replace(registry, repository=repository)
        out.append(ExtraPlugin(
            name=name,
            image=decide_image_source(image_ref=image_ref, promote_from=promote_from, wasm_file=path,
                                      registry=target),
            plugin_config=config or None,
            phase=_entry_choice(entry, "phase", PHASES, defaults, fail),
            priority=_priority(_Values({"priority": entry.get("priority")}, values.secrets), "plugins",
                               f"{where}.priority"),
            selector=selector,
            fields=fields,
            fail_strategy=_entry_choice(entry, "failStrategy", FAIL_STRATEGIES, defaults, fail),
            image_pull_policy=_entry_choice(entry, "imagePullPolicy", PULL_POLICIES, defaults, fail),
        ))
    return tuple(out)


def _entry_choice(entry: Mapping[str, Any], key: str, choices: tuple[str, ...], defaults: Mapping[str, Any],
                  fail: Callable[..., ConfigError]) -> str:
    value = entry.get(key, defaults[key])
    if value not in choices:
        raise fail(f".{key} {value!r}; accepted: {', '.join(choices)}")
    return str(value)


def _wasm_problem(path: Path) -> str | None:
    """What keeps a file from being the plugin to package; None when it is a WebAssembly module."""
    if not path.is_file():
        return "does not exist"
    with path.open("rb") as f:
        return None if f.read(4) == b"\0asm" else "is not a WebAssembly module"


def _mode(mode: str) -> RegistryMode:
    assert mode in REGISTRY_MODES
    return mode  # type: ignore[return-value]
