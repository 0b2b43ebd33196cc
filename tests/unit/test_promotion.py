"""Promotion by digest: prod deploys the image dev runs and builds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from stackconfig.image_source import PromotionRefused, check_promotion
from tests.unit.harness import deploy, fake_digest

DEV = "my-org/asm-wasm-plugin/dev"
DEV_REF = f"dev-registry.example.com/test-oci/header-authorization@{fake_digest('dev build 7')}"
WASM_PLUGIN = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"


@pytest.fixture
def prod_config(dev_config: dict[str, Any]) -> dict[str, Any]:
    dev_config.update(registryMode="external", registryEndpoint="prod-registry.example.com", acrInstanceId="",
                      promoteFrom=DEV, wasmFile="never/built.wasm")
    return dev_config


def test_prod_deploys_devs_digest_and_builds_nothing(prod_config: dict[str, Any]) -> None:
    dep = deploy(prod_config, stacks={DEV: {"imageRef": DEV_REF}})
    assert not dep.mocks.of_type("docker:index/image:Image")
    [plugin] = dep.mocks.of_type(WASM_PLUGIN)
    assert plugin.inputs["spec"]["url"] == f"oci://{DEV_REF}"
    assert dep.outputs["imageRef"] == DEV_REF


def test_a_copy_with_the_same_digest_is_accepted(prod_config: dict[str, Any]) -> None:
    copy = "prod-registry.example.com/test-oci/header-authorization@" + DEV_REF.split("@")[1]
    prod_config["imageRef"] = copy
    dep = deploy(prod_config, stacks={DEV: {"imageRef": DEV_REF}})
    assert dep.outputs["ociUrl"] == f"oci://{copy}"


def test_a_digest_dev_does_not_run_is_refused(prod_config: dict[str, Any]) -> None:
    prod_config["imageRef"] = f"dev-registry.example.com/test-oci/header-authorization@{fake_digest('other')}"
    with pytest.raises(Exception, match="refusing to promote") as raised:
        deploy(prod_config, stacks={DEV: {"imageRef": DEV_REF}})
    assert DEV in str(raised.value)


def test_check_promotion_rules() -> None:
    assert check_promotion(DEV, DEV_REF, None) == DEV_REF
    with pytest.raises(PromotionRefused, match="has no imageRef output"):
        check_promotion(DEV, None, None)
    with pytest.raises(ValueError, match="not pinned by digest"):
        check_promotion(DEV, DEV_REF, "r/x:v1")
