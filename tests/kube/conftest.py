"""Fixtures for tests against the sandbox Kubernetes API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.kube import KubeSandbox, kube_sandbox


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeSandbox]:
    """A running sandbox API server with the WasmPlugin CRD (reused or started)."""
    with kube_sandbox() as sandbox:
        yield sandbox
