"""Promotion by digest between two local stacks (dev: `local`, prod: `prod-local`) on the sandbox."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from sandbox import registry
from sandbox.local_stack import (
    REPO,
    WASM_PLUGINS,
    Sandbox,
    configure,
    local_stack,
    pull_like_istio,
    push_plugin,
    read_back,
)
from sandbox.promote import prod_registry, promote
from stackconfig.image_source import PromotionRefused

DEV_NS, PROD_NS = "e2e-promo-dev", "istio-prod"
REPOSITORY = "test-oci/e2e-promotion"
NO_CHECK = {"verify.enabled": "false"}


def url_in(sb: Sandbox, namespace: str) -> str:
    doc = sb.api.request("GET", WASM_PLUGINS.format(ns=namespace, name="header-authorization")).json()
    return str(doc["spec"]["url"])


def test_prod_runs_devs_digest_until_promoted_again(tmp_path: Path) -> None:
    sb = Sandbox.running()
    for ns in (DEV_NS, PROD_NS):
        sb.api.ensure_namespace(ns)
    state = tmp_path / "pulumi"
    dev = local_stack(sb, state_dir=state, stack="local")
    prod = local_stack(sb, state_dir=state, stack="prod-local")
    wasm = REPO / "plugin" / "plugin.wasm"
    try:
        first = push_plugin(sb, wasm, repository=REPOSITORY)
        # No gateway runs in these namespaces: no gateway check (test_mesh.py has those).
        configure(dev, sb, first.ref, {"pluginNamespace": DEV_NS, "verify.enabled": "false"})
        dev.up()

        # prod-local builds nothing and is pinned by nothing committed but promoteFrom: local.
        assert promote(dev, prod, sb, extra=NO_CHECK) == first.ref
        assert url_in(sb, PROD_NS) == f"oci://{first.ref}"
        assert prod.outputs()["imageRef"] == dev.outputs()["imageRef"] == first.ref

        # A new dev build (same module, OCI layout: another digest) leaves prod where it was; prod's
        # preview shows the promotion it would make: the url, and no build.
        second = push_plugin(sb, wasm, tag="v0.0.2", repository=REPOSITORY, image_format="oci").ref
        assert second != first.ref
        dev.set_config({"imageRef": second})
        dev.up()
        assert url_in(sb, PROD_NS) == f"oci://{first.ref}"
        planned = prod.preview_text().stdout
        assert second.split("@")[1] in planned and "docker:index:Image" not in planned

        with pytest.raises(PromotionRefused, match="refusing to promote"):
            promote(dev, prod, sb, requested=first.ref, extra=NO_CHECK)
        assert url_in(sb, PROD_NS) == f"oci://{first.ref}"

        assert promote(dev, prod, sb, extra=NO_CHECK) == second
        assert url_in(sb, PROD_NS) == f"oci://{second}"

        # Promotion into the prod registry: a byte-for-byte copy, so the digest is dev's.
        prod_reg = prod_registry(sb)
        copied = promote(dev, prod, sb, copy_to=prod_reg, extra=NO_CHECK)
        digest = second.split("@")[1]
        assert copied == f"{prod_reg.host}/test-oci/header-authorization@{digest}"
        applied = read_back(sb, namespace=PROD_NS)
        assert applied.wasm_plugin["spec"]["url"] == f"oci://{copied}"
        assert list(json.loads(applied.dockerconfigjson)["auths"]) == [prod_reg.host]
        pulled = pull_like_istio(prod_sandbox(sb, prod_reg), applied, tmp_path / "prod.wasm")
        assert pulled["manifest_digest"] == digest
        assert (tmp_path / "prod.wasm").read_bytes() == wasm.read_bytes()
        print(f"dev imageRef {dev.outputs()['imageRef']}\nprod imageRef {prod.outputs()['imageRef']}")
    finally:
        prod.destroy(check=False)
        dev.destroy(check=False)
        shutil.rmtree(state, ignore_errors=True)


def prod_sandbox(sb: Sandbox, prod_reg: registry.RegistryEnv) -> Sandbox:
    """The same sandbox, seen from the prod registry (for its CA)."""
    return dataclasses.replace(sb, registry=prod_reg)

