"""The `verify` and `canarySelector` keys: how `pulumi up` proves each gateway runs the plugin.

Pure. The expected answers default to what the plugin is configured to do (pluginConfig, else
the plugin's own defaults), so changing the deny reply needs no second change here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatewaycheck.judge import Expected

# plugin/internal/headerauth/config.go: the defaults of the plugin this stack ships.
PLUGIN_DEFAULTS: dict[str, Any] = {
    "header": "allow", "value": "true", "denyStatus": 403, "denyBody": "Forbidden by ASM Wasm Plugin",
    "denyContentType": "text/plain",
}
# verify key -> (type, default); None: taken from the plugin's configuration.
VERIFY_KEYS: dict[str, tuple[type, Any]] = {
    "enabled": (bool, True),
    "path": (str, "/status/418"),
    "header": (str, None),
    "value": (str, None),
    "deniedStatus": (int, None),
    "deniedBody": (str, None),
    "deniedContentType": (str, None),
    "allowedStatus": (int, 418),
    "timeoutSeconds": (int, 60),
    "port": (int, 8080),
    "url": (str, None),
}
# verify key -> the pluginConfig key it defaults to.
FROM_PLUGIN = {"header": "header", "value": "value", "deniedStatus": "denyStatus", "deniedBody": "denyBody",
               "deniedContentType": "denyContentType"}
_PATH = re.compile(r"^/[\x21-\x7e]*$")
_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")


@dataclass(frozen=True)
class VerifySettings:
    enabled: bool = True
    path: str = "/status/418"
    allowed_status: int = 418
    timeout_s: int = 60
    port: int = 8080
    url: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    """header, value, deniedStatus, deniedBody, deniedContentType given in `verify` itself."""


def parse_verify(raw: Mapping[str, Any], fail: Any, plugin_deny_status: int) -> VerifySettings:
    """raw: the `verify` object; fail(value, accepted) -> the ConfigError to raise."""
    raw = {key: _coerce(VERIFY_KEYS.get(key, (str, None))[0], value) for key, value in raw.items()}
    for key, value in raw.items():
        spec = VERIFY_KEYS.get(key)
        if spec is None:
            raise fail(raw, f"unknown key {key!r}; accepted keys: {', '.join(VERIFY_KEYS)}")
        kind = spec[0]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            shape = {bool: "true or false", int: "an integer", str: "a string"}[kind]
            raise fail(raw, f"key {key!r} must be {shape}")
    values = {key: raw.get(key, default) for key, (_, default) in VERIFY_KEYS.items()}
    if not _PATH.match(values["path"]):
        raise fail(raw, "key 'path' must be a URL path starting with '/' (printable ASCII, no spaces)")
    for key in ("allowedStatus", "deniedStatus"):
        if values[key] is not None and not 100 <= values[key] <= 599:
            raise fail(raw, f"key {key!r} must be an HTTP status from 100 to 599")
    if not 1 <= values["timeoutSeconds"] <= 3600:
        raise fail(raw, "key 'timeoutSeconds' must be from 1 to 3600")
    if not 1 <= values["port"] <= 65535:
        raise fail(raw, "key 'port' must be from 1 to 65535")
    if values["url"] is not None and not _URL.match(values["url"]):
        raise fail(raw, "key 'url' must be an http:// or https:// URL of the gateway (the probe path is added)")
    denied = values["deniedStatus"] or plugin_deny_status
    if values["allowedStatus"] == denied:
        raise fail(raw, f"key 'allowedStatus' must differ from the deny status {denied}, or the probes prove nothing")
    return VerifySettings(
        enabled=values["enabled"], path=values["path"], allowed_status=values["allowedStatus"],
        timeout_s=values["timeoutSeconds"], port=values["port"], url=values["url"],
        overrides={k: raw[k] for k in FROM_PLUGIN if k in raw})


def _coerce(kind: type, value: Any) -> Any:
    """`pulumi config set --path verify.timeoutSeconds 30` stores the string "30": take it as meant."""
    if isinstance(value, str):
        if kind is bool and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind is int and re.fullmatch(r"-?[0-9]{1,9}", value):
            return int(value)
    return value


def expected_answers(verify: VerifySettings, plugin_config: Mapping[str, Any] | None, build: str) -> Expected:
    """What a gateway running `build` with this plugin configuration must answer."""
    plugin = {**PLUGIN_DEFAULTS, **(plugin_config or {})}
    value = {k: verify.overrides.get(k, plugin[p]) for k, p in FROM_PLUGIN.items()}
    return Expected(
        path=verify.path, header=value["header"], value=value["value"], denied_status=value["deniedStatus"],
        denied_body=str(value["deniedBody"]).encode(), denied_content_type=value["deniedContentType"],
        allowed_status=verify.allowed_status, build=build)


def selectors_overlap(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Whether one workload can carry both label sets: no label that both name with different values."""
    return not any(key in b and b[key] != value for key, value in a.items())
