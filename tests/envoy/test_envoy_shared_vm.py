"""Two configurations of one plugin in one Wasm VM, in a real Envoy 1.40 (V8).

Envoy runs two filters in one VM when their module and VM settings (vm_id, runtime,
code, environment) are the same; each gets its own plugin context there. That is the
case where plugin/internal/proxyabi must send every stream to the right plugin context
without a map (header-authorization: it relies on Envoy creating a stream's context right
before its request headers), or with one (response-header, which acts later in the
stream). Here two header-authorization filters check different headers with different deny
bodies, and two response-header filters add different headers, under concurrent requests on
several connections and two workers: every answer must come from the right one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.envoy import Envoy, Httpbin, plugin_wasm, run_envoy, wasm_http_filter
from tests.envoy.test_envoy_chain import response_header_wasm

TEAM_BODY = "team only"
SEED_BODY = "Forbidden by ASM Wasm Plugin"
SHARED_VM = "shared-vm"


def shared_vm_filter(name: str, config: dict[str, str], module: Path | None = None) -> dict[str, object]:
    """A filter of module (default header-authorization) named name, whose VM is SHARED_VM."""
    return wasm_http_filter(module or plugin_wasm(), json.dumps(config), name=name, vm_id=SHARED_VM)


@pytest.fixture(scope="module")
def two_in_one_vm(httpbin: Httpbin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    with run_envoy(
        tmp_path_factory.mktemp("shared-vm"),
        httpbin.port,
        concurrency=2,
        filters=[
            shared_vm_filter("gate-allow", {}),
            shared_vm_filter("gate-team", {"header": "x-team", "value": "blue", "denyBody": TEAM_BODY}),
        ],
    ) as envoy:
        yield envoy


# (request headers, status, deny body): which filter answers which request.
CASES: list[tuple[list[tuple[str, str]], int, str]] = [
    ([], 403, SEED_BODY),
    ([("x-team", "blue")], 403, SEED_BODY),
    ([("allow", "true")], 403, TEAM_BODY),
    ([("allow", "true"), ("x-team", "red")], 403, TEAM_BODY),
    ([("allow", "true"), ("x-team", "blue")], 418, ""),
]


def test_one_vm_holds_both_plugin_contexts(two_in_one_vm: Envoy) -> None:
    """Envoy did share the VM: 4 VMs, as many as one filter alone gets with two workers
    (Envoy 1.40: the base VM, the main thread's and one per worker); with a vm_id each,
    the two filters get 8."""
    active = two_in_one_vm.stats("wasm.envoy.wasm.runtime.v8.active")
    assert active == {"wasm.envoy.wasm.runtime.v8.active": 4}, active


def test_each_stream_reaches_its_own_configuration(two_in_one_vm: Envoy) -> None:
    def one(i: int) -> tuple[int, int, str, int, str]:
        headers, status, body = CASES[i % len(CASES)]
        resp = two_in_one_vm.get("/status/418", headers)
        return i, resp.status, resp.body.decode(errors="replace"), status, body

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(500)))
    wrong = [(i, got, got_body[:40]) for i, got, got_body, want, body in results if got != want or body not in got_body]
    assert not wrong, f"{len(wrong)} of 500 answered by the wrong plugin context, e.g. {wrong[:5]}"
    denied = two_in_one_vm.stats("wasmcustom.header_authorization_denied_total")
    assert denied == {"wasmcustom.header_authorization_denied_total": 400}, denied


@pytest.fixture(scope="module")
def two_markers_in_one_vm(httpbin: Httpbin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    module = response_header_wasm()
    with run_envoy(
        tmp_path_factory.mktemp("shared-vm-markers"),
        httpbin.port,
        concurrency=2,
        filters=[
            shared_vm_filter("mark-a", {"name": "x-mark-a", "value": "a"}, module),
            shared_vm_filter("mark-b", {"name": "x-mark-b", "value": "b"}, module),
        ],
    ) as envoy:
        yield envoy


def test_each_response_gets_each_configurations_header(two_markers_in_one_vm: Envoy) -> None:
    def one(_: int) -> tuple[str | None, str | None]:
        resp = two_markers_in_one_vm.get("/status/418")
        return resp.headers.get("x-mark-a"), resp.headers.get("x-mark-b")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(300)))
    wrong = [r for r in results if r != ("a", "b")]
    assert not wrong, f"{len(wrong)} of 300 responses marked wrongly, e.g. {wrong[:5]}"
