"""The local stack through the real Pulumi engine, on the running sandbox (make test-sandbox starts it)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.local_stack import (
    REPO,
    SECRETS,
    WASM_PLUGINS,
    Sandbox,
    build_plugin_variant,
    configure,
    local_stack,
)
from sandbox.pulumi_cli import LocalStack

NAMESPACE = "e2e-wasm"
REPOSITORY = "test-oci/e2e-header-authorization"
PLUGIN_V2_BODY = "Forbidden by ASM Wasm Plugin (v2)"


@pytest.fixture(scope="session")
def plugin_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second build of the plugin (another deny body): what a new release looks like."""
    return build_plugin_variant(tmp_path_factory.mktemp("plugin-v2"), PLUGIN_V2_BODY)


@dataclass
class E2E:
    sb: Sandbox
    stack: LocalStack
    image_ref: str
    """What the last `up` pushed (docker.Image), by digest; "" before the first."""
    workdir: Path

    def config(self, **values: str) -> None:
        secret = tuple(k for k in values if k == "registryPassword")
        self.stack.set_config(values, secret=secret)


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    subprocess.run([str(REPO / "scripts" / "sandbox-up.sh")], check=True, capture_output=True)
    sb = Sandbox.running()
    sb.api.ensure_namespace(NAMESPACE)
    clean_namespace(sb)
    workdir = tmp_path_factory.mktemp("e2e")
    stack = local_stack(sb, state_dir=workdir / "pulumi")
    # No imageRef: the stack's docker.Image builds plugin/plugin.wasm and pushes it. No gateway
    # pod runs in NAMESPACE (these tests load the pulled module into a bare Envoy): no gateway check.
    configure(stack, sb, extra={"pluginNamespace": NAMESPACE, "repository": REPOSITORY.split("/", 1)[1],
                                "verify.enabled": "false"})
    yield E2E(sb, stack, "", workdir)
    # Whatever a failed test left behind, the API server is cleaned for the next run.
    destroyed = stack.destroy(check=False)
    if destroyed.returncode != 0:
        print(f"e2e teardown: pulumi destroy failed:\n{destroyed.stderr[-2000:]}")
    clean_namespace(sb)
    shutil.rmtree(workdir, ignore_errors=True)


def clean_namespace(sb: Sandbox, namespace: str = NAMESPACE, plugin: str = "header-authorization",
                    secret: str = "wasm-secret") -> None:
    """Deletes the WasmPlugin and Secret an earlier, interrupted run may have left behind."""
    for path in (WASM_PLUGINS.format(ns=namespace, name=plugin), SECRETS.format(ns=namespace, name=secret)):
        status = sb.api.request("DELETE", path).status
        if status not in (200, 202, 404):
            raise RuntimeError(f"could not delete {path}: HTTP {status}")
        # An object deleted while no garbage collector ran keeps its foregroundDeletion finalizer.
        sb.api.request("PATCH", path, {"metadata": {"finalizers": None}},
                       content_type="application/merge-patch+json")
