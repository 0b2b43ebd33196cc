"""The gateway check: its judgement of two answers, its polling against a real HTTP server, its config."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gatewaycheck.judge import BUILD_HEADER, Answer, judge
from gatewaycheck.run import CheckFailed, Target, check
from stackconfig.settings import ConfigError
from stackconfig.verify import VerifySettings, expected_answers, selectors_overlap
from tests.unit.test_settings import base, load

BUILD = "sha256:" + "1" * 64
OLD = "sha256:" + "0" * 64
EXPECTED = expected_answers(VerifySettings(), None, BUILD)
SEED_DENY = b"Forbidden by ASM Wasm Plugin"


def deny(build: str | None = BUILD, body: bytes = SEED_DENY, status: int = 403, ctype: str = "text/plain") -> Answer:
    headers = {"content-type": ctype} | ({BUILD_HEADER: build} if build else {})
    return Answer(status, body, headers)


TEAPOT = Answer(418, b"teapot", {"content-type": "text/plain"})


def test_the_seed_expectations() -> None:
    assert (EXPECTED.path, EXPECTED.header, EXPECTED.value, EXPECTED.denied_status, EXPECTED.denied_body,
            EXPECTED.denied_content_type, EXPECTED.allowed_status) == (
        "/status/418", "allow", "true", 403, SEED_DENY, "text/plain", 418)


def test_a_gateway_running_the_build_passes() -> None:
    assert judge(EXPECTED, deny(), TEAPOT) == []


@pytest.mark.parametrize(("denied", "allowed", "says"), [
    (Answer(403, b"RBAC: access denied", {}), Answer(403, b"RBAC: access denied", {}),
     "the Wasm module did not load"),
    (deny(build=OLD), TEAPOT, f"runs build {OLD}, expected {BUILD}: the previous build still runs"),
    (TEAPOT, TEAPOT, "the plugin is not in this gateway's chain"),
    (deny(build=None), TEAPOT, "no x-wasm-plugin-build header"),
    (deny(body=b"other"), TEAPOT, "expected 403 'Forbidden by ASM Wasm Plugin' (text/plain), saw 403 'other'"),
    (deny(ctype="application/json"), TEAPOT, "(application/json)"),
    (deny(), deny(), "the plugin denied it, so it does not accept header 'allow'"),
])
def test_what_is_wrong_is_named(denied: Answer, allowed: Answer, says: str) -> None:
    problems = judge(EXPECTED, denied, allowed)
    assert problems and says in "\n".join(problems)


def test_with_the_gateways_own_value_only_the_denied_probe_counts() -> None:
    expected = dataclasses.replace(EXPECTED, value=None)
    assert judge(expected, deny(), None) == []
    assert "runs build" in "\n".join(judge(expected, deny(build=OLD), None))
    assert "did not load" in "\n".join(judge(expected, Answer(403, b"RBAC: access denied", {}), None))


def test_the_probe_value_is_never_in_a_message() -> None:
    expected = expected_answers(VerifySettings(), {"header": "x-key", "value": "k3y-s3cret"}, BUILD)
    problems = judge(expected, deny(), deny())
    assert problems and "k3y-s3cret" not in "\n".join(problems) and "x-key" in "\n".join(problems)


def test_expectations_follow_the_plugin_config_and_verify_overrides() -> None:
    plugin = {"header": "x-allow", "denyStatus": 401, "denyBody": "no", "denyContentType": "application/json"}
    e = expected_answers(VerifySettings(overrides={"deniedBody": "nope"}, allowed_status=200), plugin, BUILD)
    assert (e.header, e.value, e.denied_status, e.denied_body, e.denied_content_type, e.allowed_status) == (
        "x-allow", "true", 401, b"nope", "application/json", 200)


class Gateway(http.server.BaseHTTPRequestHandler):
    """A gateway on loopback: answers as `mode` says (the plugin with a build, or deny-all)."""

    mode: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        if self.headers.get("allow") == "true" and self.mode.get("loaded"):
            status, body, headers = 418, b"teapot", {}
        elif self.mode.get("loaded"):
            status, body, headers = 403, SEED_DENY, {"content-type": "text/plain", BUILD_HEADER: self.mode["build"]}
        else:
            status, body, headers = 403, b"RBAC: access denied", {"content-type": "text/plain"}
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, dict[str, Any]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    Gateway.mode = {"loaded": False, "build": OLD}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Gateway.mode
    server.shutdown()


def target(url: str) -> Target:
    return Target(cluster="ack-test", namespace="istio-system", selector={"istio": "ingressgateway"}, port=8080,
                  url=url)


def test_check_waits_for_the_build_to_arrive(gateway: tuple[str, dict[str, Any]]) -> None:
    url, mode = gateway
    ticks = iter(range(1000))
    polls = []

    def sleep(_: float) -> None:
        polls.append(1)
        if len(polls) == 3:  # the agent finished pulling
            mode.update(loaded=True, build=BUILD)

    passed = check(target(url), EXPECTED, None, 60, clock=lambda: float(next(ticks)), sleep=sleep)
    assert len(polls) == 3
    assert passed == [f"cluster 'ack-test': {url} runs {BUILD[:19]}… and answers 403 without the header, "
                      "418 with it"]


def test_check_fails_with_the_cause_after_its_timeout(gateway: tuple[str, dict[str, Any]]) -> None:
    url, _ = gateway
    ticks = iter(range(1000))
    with pytest.raises(CheckFailed) as failed:
        check(target(url), EXPECTED, None, 5, clock=lambda: float(next(ticks)), sleep=lambda _: None)
    message = str(failed.value)
    assert message.startswith("cluster 'ack-test': gateway check failed after 5s (istio=ingressgateway):")
    assert "the Wasm module did not load" in message


def test_an_unreachable_gateway_is_named() -> None:
    ticks = iter(range(1000))
    with pytest.raises(CheckFailed, match=r"http://127.0.0.1:9 did not answer"):
        check(target("http://127.0.0.1:9"), EXPECTED, None, 2, clock=lambda: float(next(ticks)), sleep=lambda _: None)


def test_selectors_overlap() -> None:
    assert selectors_overlap({"istio": "ingressgateway"}, {"istio": "ingressgateway", "track": "canary"})
    assert selectors_overlap({"app": "a"}, {"track": "canary"})
    assert not selectors_overlap({"istio": "ingressgateway"}, {"istio": "ingressgateway-canary"})


@pytest.mark.parametrize(("extra", "message"), [
    ({"canarySelector": {"istio": "ingressgateway", "track": "canary"}}, "can both match one workload"),
    ({"canarySelector": {"-bad": "x"}}, "'asm-wasm-plugin:canarySelector'"),
    ({"verify": {"timeout": 3}}, "unknown key 'timeout'"),
    ({"verify": {"timeoutSeconds": 0}}, "'timeoutSeconds' must be from 1 to 3600"),
    ({"verify": {"timeoutSeconds": "sixty"}}, "'timeoutSeconds' must be an integer"),
    ({"verify": {"enabled": "yes"}}, "'enabled' must be true or false"),
    ({"verify": {"path": "status"}}, "must be a URL path starting with '/'"),
    ({"verify": {"port": 70000}}, "'port' must be from 1 to 65535"),
    ({"verify": {"url": "gateway:80"}}, "must be an http:// or https:// URL"),
    ({"verify": {"allowedStatus": 403}}, "must differ from the deny status 403"),
    ({"pluginConfig": {"build": "x"}}, "key 'build' is set by the stack"),
])
def test_bad_verify_and_canary_values_are_named(wasm_file: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(base(wasm_file, **extra))
    assert message in str(raised.value)


def test_verify_and_canary_settings(wasm_file: Path) -> None:
    s = load(base(wasm_file, canarySelector={"istio": "ingressgateway-canary"},
                  verify={"timeoutSeconds": 30, "path": "/get", "allowedStatus": 200}))
    assert s.mesh.canary_selector == {"istio": "ingressgateway-canary"}
    assert (s.mesh.verify.timeout_s, s.mesh.verify.path, s.mesh.verify.allowed_status) == (30, "/get", 200)
    assert load(base(wasm_file)).mesh.canary_selector is None
