"""Two plugins of ours in one HTTP filter chain, in a real Envoy 1.40 (V8):
response-header (adds `x-asm-plugin-chain: response-header` to the responses it
sees) and header-authorization (the guide's 403 without `allow: true`).

Envoy runs the decoder filters in chain order and the encoder filters in reverse.
A local reply does not reach the response side of a Wasm filter after the one that
sent it: that filter's request side never ran, so it has no stream context in its
VM, and Envoy skips it. So the order shows in the 403: response-header before
header-authorization marks it, after header-authorization it does not. Upstream
responses pass through both, either way.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.envoy import REPO_ROOT, Envoy, HarnessError, Httpbin, plugin_wasm, run_envoy, wasm_http_filter
from tests.envoy.test_envoy_plugin import assert_seed_denial, assert_teapot, get_418

CHAIN_HEADER = "x-asm-plugin-chain"
CHAIN_VALUE = "response-header"


def response_header_wasm() -> Path:
    """The response-header module: RESPONSE_HEADER_WASM, or plugin/responseheader/plugin.wasm."""
    path = Path(os.environ.get("RESPONSE_HEADER_WASM", REPO_ROOT / "plugin" / "responseheader" / "plugin.wasm"))
    if not path.is_file():
        raise HarnessError(f"{path} is missing: build it with plugin/build.sh (or set RESPONSE_HEADER_WASM)")
    return path.resolve()


def chain(*plugins: str) -> list[dict[str, object]]:
    """The Wasm filters in decode order, each plugin with no configuration (its defaults)."""
    modules = {"response-header": response_header_wasm(), "header-authorization": plugin_wasm()}
    return [wasm_http_filter(modules[p], "", name=p) for p in plugins]


@pytest.fixture(scope="module")
def marker_first(httpbin: Httpbin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    with run_envoy(
        tmp_path_factory.mktemp("chain-marker-first"),
        httpbin.port,
        filters=chain("response-header", "header-authorization"),
    ) as envoy:
        yield envoy


@pytest.fixture(scope="module")
def marker_last(httpbin: Httpbin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    with run_envoy(
        tmp_path_factory.mktemp("chain-marker-last"),
        httpbin.port,
        filters=chain("header-authorization", "response-header"),
    ) as envoy:
        yield envoy


def test_before_header_authorization_both_replies_are_marked(marker_first: Envoy) -> None:
    """Also shows that response-header needs no request callback (its module exports
    none): Envoy creates its stream context when the request passes all the same."""
    denied, reached = get_418(marker_first)
    assert_seed_denial(denied, reached)
    assert denied.headers.get(CHAIN_HEADER) == CHAIN_VALUE, denied.headers
    allowed, reached = get_418(marker_first, [("allow", "true")])
    assert_teapot(allowed, reached)
    assert allowed.headers.get(CHAIN_HEADER) == CHAIN_VALUE, allowed.headers


def test_after_header_authorization_only_the_upstream_reply_is_marked(marker_last: Envoy) -> None:
    denied, reached = get_418(marker_last)
    assert_seed_denial(denied, reached)
    assert CHAIN_HEADER not in denied.headers, denied.headers
    allowed, reached = get_418(marker_last, [("allow", "true")])
    assert_teapot(allowed, reached)
    assert allowed.headers.get(CHAIN_HEADER) == CHAIN_VALUE, allowed.headers


def test_the_header_is_added_beside_the_upstreams(marker_first: Envoy) -> None:
    """Added, not replaced: the upstream's own header of that name stays, first."""
    url = f"http://127.0.0.1:{marker_first.listen_port}/response-headers?{CHAIN_HEADER}=upstream"
    req = urllib.request.Request(url, headers={"allow": "true"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers.get_all(CHAIN_HEADER) == ["upstream", CHAIN_VALUE]
