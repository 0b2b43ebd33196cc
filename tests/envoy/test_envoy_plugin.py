"""The plugin in a real Envoy 1.40 (V8) in front of a real httpbin, as users meet it."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest

from sandbox.envoy import Envoy, Httpbin, Response, run_envoy

SEED_BODY = b"Forbidden by ASM Wasm Plugin"
ALLOWED = "wasmcustom.header_authorization_allowed_total"
DENIED = "wasmcustom.header_authorization_denied_total"
UPSTREAM_REQUESTS = "cluster.httpbin.upstream_rq_total"
ECDS_REJECTED = "extension_config_discovery.http_filter.header-authorization.update_rejected"


def upstream_requests(envoy: Envoy) -> int:
    return envoy.stats(UPSTREAM_REQUESTS)[UPSTREAM_REQUESTS]


def get_418(envoy: Envoy, headers: list[tuple[str, str]] | None = None) -> tuple[Response, int]:
    """GET /status/418 through Envoy; also return how many requests reached httpbin."""
    before = upstream_requests(envoy)
    resp = envoy.get("/status/418", headers)
    return resp, upstream_requests(envoy) - before


def assert_seed_denial(resp: Response, reached_upstream: int) -> None:
    assert resp.status == 403, resp
    assert resp.headers.get("content-type") == "text/plain", resp.headers
    assert resp.body == SEED_BODY
    assert reached_upstream == 0, "a denied request reached httpbin"


def assert_teapot(resp: Response, reached_upstream: int) -> None:
    assert resp.status == 418, resp
    assert b"teapot" in resp.body
    assert reached_upstream == 1


def deny_line(header: str, got: str, want: str) -> str:
    return f"request header: '{header}' is {got}, only {want} can passthrough"


def wait_for_stat(envoy: Envoy, name: str, at_least: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while (value := envoy.stats(name).get(name, 0)) < at_least:
        assert time.monotonic() < deadline, (
            f"{name} = {value} after {timeout:.0f}s, want >= {at_least}\n" + envoy.process.log_tail()
        )
        time.sleep(0.2)
    return value


# --- default configuration: the ASM guide's behaviour -------------------------


def test_no_header_is_denied_with_the_seed_reply(default_envoy: Envoy) -> None:
    assert_seed_denial(*get_418(default_envoy))


def test_allow_true_reaches_httpbin(default_envoy: Envoy) -> None:
    assert_teapot(*get_418(default_envoy, [("allow", "true")]))


@pytest.mark.parametrize(
    "headers",
    [
        [("allow", "false")],
        [("allow", "True")],
        [("allow", "")],
        [("allowed", "true")],
        [("allow", "false"), ("allow", "true")],  # Envoy hands the plugin the first value
    ],
    ids=["false", "value-case", "empty", "other-name", "first-of-repeated-false"],
)
def test_other_values_are_denied(default_envoy: Envoy, headers: list[tuple[str, str]]) -> None:
    assert_seed_denial(*get_418(default_envoy, headers))


@pytest.mark.parametrize(
    "headers",
    [[("Allow", "true")], [("ALLOW", "true")], [("allow", "true"), ("allow", "false")]],
    ids=["Allow", "ALLOW", "first-of-repeated-true"],
)
def test_header_name_matches_in_any_case(default_envoy: Envoy, headers: list[tuple[str, str]]) -> None:
    assert_teapot(*get_418(default_envoy, headers))


def test_big_header_values(default_envoy: Envoy) -> None:
    """Values bigger than the buffer the module reuses (4 KiB, plugin/internal/proxyabi) are read
    whole, and the requests after them read from the shared buffer again."""
    big = "true" + "x" * 20_000
    assert_seed_denial(*get_418(default_envoy, [("allow", big)]))
    default_envoy.process.wait_for_log(re.escape(deny_line("allow", big, "true")))
    assert_teapot(*get_418(default_envoy, [("allow", "true")]))
    assert_seed_denial(*get_418(default_envoy, [("allow", "t")]))


def test_denial_logs_the_seed_debug_line_with_the_value(default_envoy: Envoy) -> None:
    value = f"nope-{uuid.uuid4().hex[:8]}"
    get_418(default_envoy, [("allow", value)])
    line = default_envoy.process.wait_for_log(r"\[debug\]\[wasm\].*" + re.escape(deny_line("allow", value, "true")))
    assert line


def test_denial_without_header_logs_an_empty_value(default_envoy: Envoy) -> None:
    line = deny_line("allow", "", "true")
    before = default_envoy.process.log_text().count(line)
    get_418(default_envoy)
    deadline = time.monotonic() + 5
    while default_envoy.process.log_text().count(line) == before:
        assert time.monotonic() < deadline, default_envoy.process.log_tail()
        time.sleep(0.1)


def test_counters_count_allowed_and_denied(default_envoy: Envoy) -> None:
    listed = default_envoy.admin("/stats?filter=wasmcustom")
    assert ALLOWED in listed, listed
    assert DENIED in listed, listed
    before = default_envoy.stats("wasmcustom.")
    get_418(default_envoy, [("allow", "true")])
    get_418(default_envoy)
    get_418(default_envoy, [("allow", "no")])
    after = default_envoy.stats("wasmcustom.")
    assert after[ALLOWED] - before[ALLOWED] == 1
    assert after[DENIED] - before[DENIED] == 2


# --- a configured header, value and reply -------------------------------------

CUSTOM_CONFIG = json.dumps(
    {
        "header": "X-Api-Key",
        "value": "s3cr3t",
        "denyStatus": 401,
        "denyBody": '{"error": "unauthorized"}',
        "denyContentType": "application/json",
    }
)


def test_configured_header_value_and_reply_are_honoured(httpbin: Httpbin, tmp_path: Path) -> None:
    with run_envoy(tmp_path, httpbin.port, CUSTOM_CONFIG) as envoy:
        assert_teapot(*get_418(envoy, [("x-api-key", "s3cr3t")]))
        assert_teapot(*get_418(envoy, [("X-API-KEY", "s3cr3t")]))
        for headers in ([("allow", "true")], [("x-api-key", "S3CR3T")], []):
            resp, reached = get_418(envoy, headers)
            assert resp.status == 401, (headers, resp)
            assert resp.headers.get("content-type") == "application/json"
            assert resp.body == b'{"error": "unauthorized"}'
            assert reached == 0
        envoy.process.wait_for_log(re.escape(deny_line("x-api-key", "S3CR3T", "s3cr3t")))
        counters = envoy.stats("wasmcustom.")
        assert (counters[ALLOWED], counters[DENIED]) == (2, 3)


# --- a refused configuration fails closed -------------------------------------

BAD_CONFIGS = [
    pytest.param(
        '{"headr": "allow"}',
        'plugin configuration key "headr": unknown key, want one of header, value,',
        id="unknown-key",
    ),
    pytest.param(
        '{"denyStatus": 99}',
        'plugin configuration key "denyStatus": got number 99, want an integer from 200 to 599',
        id="status-99",
    ),
]


def critical_plugin_line(text: str) -> str:
    return r"\[critical\]\[wasm\].*" + re.escape(text)


@pytest.mark.parametrize(("config", "logged"), BAD_CONFIGS)
def test_bad_configuration_in_bootstrap_stops_envoy(httpbin: Httpbin, tmp_path: Path, config: str, logged: str) -> None:
    """In a static bootstrap, Envoy refuses the whole config: nothing listens."""
    with run_envoy(tmp_path, httpbin.port, config, wait_ready=False) as envoy:
        code = envoy.process.wait_exit()
        log = envoy.process.log_text()
        assert code != 0, log[-3000:]
        assert re.search(critical_plugin_line(logged), log), log[-3000:]
        assert "Unable to create Wasm plugin header-authorization" in log
        with pytest.raises(ConnectionRefusedError):
            envoy.get("/status/418", [("allow", "true")])


@pytest.mark.parametrize(("config", "logged"), BAD_CONFIGS)
def test_bad_configuration_over_ecds_denies_all_traffic(
    httpbin: Httpbin, tmp_path: Path, config: str, logged: str
) -> None:
    """Delivered like an Istio WasmPlugin (ECDS), the config is NACKed and
    Envoy answers 500 without the filter: even allow: true never reaches httpbin."""
    with run_envoy(tmp_path, httpbin.port, config, delivery="ecds") as envoy:
        envoy.process.wait_for_log(critical_plugin_line(logged))
        wait_for_stat(envoy, ECDS_REJECTED, 1)
        for headers in ([("allow", "true")], []):
            resp, reached = get_418(envoy, headers)
            assert resp.status == 500, resp
            assert reached == 0, "a request reached httpbin with the plugin refused"
        assert envoy.stats("wasmcustom.") == {}


def test_bad_update_over_ecds_keeps_the_last_good_configuration(httpbin: Httpbin, tmp_path: Path) -> None:
    """A refused update does not open the door: the running plugin keeps enforcing."""
    with run_envoy(tmp_path, httpbin.port, "", delivery="ecds") as envoy:
        assert_seed_denial(*get_418(envoy))
        envoy.push_plugin_config('{"denyStatus": 99}')
        wait_for_stat(envoy, ECDS_REJECTED, 1)
        envoy.process.wait_for_log(critical_plugin_line('key "denyStatus": got number 99'))
        assert_seed_denial(*get_418(envoy))
        assert_teapot(*get_418(envoy, [("allow", "true")]))
