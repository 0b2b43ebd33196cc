"""valueFromEnv in a real Envoy 1.40 (V8): the accepted value comes from the VM's
environment, which Istio makes from the WasmPlugin's vmConfig.env: `value` becomes
vm_config.environment_variables.key_values, `valueFrom: HOST` becomes host_env_keys
(a variable of the Envoy process itself, e.g. from a Kubernetes Secret)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sandbox.envoy import Envoy, Httpbin, run_envoy
from tests.envoy.test_envoy_plugin import (
    assert_seed_denial,
    assert_teapot,
    critical_plugin_line,
    deny_line,
    get_418,
    wait_for_stat,
)

ENV_NAME = "HEADER_AUTH_E2E_KEY"
SECRET = "e2e-s3cr3t-4b9c"
CONFIG = json.dumps({"header": "x-api-key", "valueFromEnv": ENV_NAME})
ECDS_RELOADED = "extension_config_discovery.http_filter.header-authorization.config_reload"


def assert_only_the_secret_opens(envoy: Envoy, secret: str = SECRET) -> None:
    assert_teapot(*get_418(envoy, [("x-api-key", secret)]))
    for headers in ([("x-api-key", secret.upper())], [("x-api-key", ENV_NAME)], [("allow", "true")], []):
        assert_seed_denial(*get_418(envoy, headers))


def assert_secret_not_logged(envoy: Envoy, secret: str = SECRET) -> None:
    envoy.process.wait_for_log(re.escape(deny_line("x-api-key", "", f"the value of ${ENV_NAME}")))
    assert secret not in envoy.process.log_text()


def test_value_from_key_values(httpbin: Httpbin, tmp_path: Path) -> None:
    """vmConfig.env with `value`: Envoy's key_values."""
    with run_envoy(tmp_path, httpbin.port, CONFIG, vm_env={"key_values": {ENV_NAME: SECRET}}) as envoy:
        assert_only_the_secret_opens(envoy)
        assert_secret_not_logged(envoy)


def test_value_from_the_envoy_process_environment(
    httpbin: Httpbin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vmConfig.env with `valueFrom: HOST`: Envoy's host_env_keys, read from Envoy's own environment."""
    monkeypatch.setenv(ENV_NAME, SECRET)  # run_envoy's Envoy inherits this process's environment
    with run_envoy(tmp_path, httpbin.port, CONFIG, vm_env={"host_env_keys": [ENV_NAME]}) as envoy:
        assert_only_the_secret_opens(envoy)
        assert_secret_not_logged(envoy)


@pytest.mark.parametrize(
    ("vm_env", "logged"),
    [
        pytest.param(None, f'environment variable "{ENV_NAME}" is not set', id="no-vm-env"),
        # A host variable that the Envoy process lacks is left out of the VM's environment.
        pytest.param({"host_env_keys": [ENV_NAME]}, f'environment variable "{ENV_NAME}" is not set', id="host-unset"),
        pytest.param({"key_values": {ENV_NAME: ""}}, f'environment variable "{ENV_NAME}" is empty', id="empty"),
        pytest.param(
            {"key_values": {ENV_NAME: SECRET + "\n"}},
            f'environment variable "{ENV_NAME}" holds control characters',
            id="final-newline",
        ),
    ],
)
def test_missing_value_stops_the_plugin(
    httpbin: Httpbin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vm_env: dict[str, object] | None, logged: str
) -> None:
    monkeypatch.delenv(ENV_NAME, raising=False)
    with run_envoy(tmp_path, httpbin.port, CONFIG, vm_env=vm_env, wait_ready=False) as envoy:
        code = envoy.process.wait_exit()
        log = envoy.process.log_text()
        assert code != 0, log[-3000:]
        assert re.search(critical_plugin_line(f'plugin configuration key "valueFromEnv": {logged}'), log), log[-3000:]
        assert SECRET not in log


def test_new_environment_over_ecds_reaches_the_plugin(httpbin: Httpbin, tmp_path: Path) -> None:
    """An update that changes only the environment (a rotated secret in vmConfig.env):
    Envoy 1.40 starts a new VM for it, whose plugin reads the new value."""
    with run_envoy(
        tmp_path, httpbin.port, CONFIG, delivery="ecds", vm_env={"key_values": {ENV_NAME: "first-key"}}
    ) as envoy:
        wait_for_stat(envoy, ECDS_RELOADED, 1)
        assert_only_the_secret_opens(envoy, "first-key")
        envoy.push_plugin_config(CONFIG, vm_env={"key_values": {ENV_NAME: "second-key"}})
        wait_for_stat(envoy, ECDS_RELOADED, 2)
        assert_only_the_secret_opens(envoy, "second-key")
        assert_seed_denial(*get_418(envoy, [("x-api-key", "first-key")]))
