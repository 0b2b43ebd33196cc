"""Fixtures: one httpbin for the session, one Envoy with the default configuration per module.

A missing Envoy binary or plugin.wasm is a fixture error, so the tests fail
rather than skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.envoy import Envoy, Httpbin, run_envoy, run_httpbin


@pytest.fixture(scope="session")
def httpbin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Httpbin]:
    with run_httpbin(tmp_path_factory.mktemp("httpbin")) as server:
        yield server


@pytest.fixture(scope="module")
def default_envoy(httpbin: Httpbin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envoy]:
    """Envoy with the plugin and no configuration, as in the ASM guide."""
    with run_envoy(tmp_path_factory.mktemp("envoy-default"), httpbin.port) as envoy:
        yield envoy
