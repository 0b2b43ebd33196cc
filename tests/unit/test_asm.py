"""ASM versions and ids, pure: which meshes can run a Go-built (wasip1) plugin, and what the errors say."""

from __future__ import annotations

import pytest

from stackconfig.asm import (
    ISTIO_TO_ENVOY_MINOR,
    MIN_ASM_MINOR,
    check_cluster_ids,
    check_envoy_supports_wasip1,
    check_instance_id,
    parse_asm_version,
)
from stackconfig.settings import ConfigError

WHERE = "ASM instance 'c08ba3fd1e6484b0f8cc1ad8fe10d1234'"
MESH_ID = "c08ba3fd1e6484b0f8cc1ad8fe10d1234"
CLUSTER_ID = "c5b5e80b0b64a4bf6939d2d8fbbc51234"


@pytest.mark.parametrize(("text", "minor", "patch", "short"), [
    ("v1.22.6.62-g5ddeaef7-aliyun", 22, 6, "v1.22.6"),
    ("v1.21.6.103-g5ddeaef7-aliyun", 21, 6, "v1.21.6"),
    ("1.25.2.10", 25, 2, "v1.25.2"),
    ("1.10.5.34", 10, 5, "v1.10.5"),
    ("v1.26", 26, None, "v1.26"),
    (" v1.27.1 ", 27, 1, "v1.27.1"),
])
def test_asm_versions_in_the_forms_asm_shows(text: str, minor: int, patch: int | None, short: str) -> None:
    version = parse_asm_version(text, WHERE)
    assert (version.minor, version.patch, version.short, version.istio_minor) == (minor, patch, short, minor)


@pytest.mark.parametrize(("istio", "envoy"), [(22, 30), (23, 31), (24, 32), (25, 33), (26, 34), (30, 38)])
def test_istio_minor_maps_to_the_envoy_branch_its_proxy_is_built_from(istio: int, envoy: int) -> None:
    assert parse_asm_version(f"v1.{istio}.0", WHERE).envoy_minor == envoy


def test_releases_outside_the_table_keep_the_step_every_listed_release_keeps() -> None:
    assert all(envoy - istio == 8 for istio, envoy in ISTIO_TO_ENVOY_MINOR.items())
    assert parse_asm_version("v1.10.5", WHERE).envoy_minor == 18
    assert parse_asm_version("v1.31.0", WHERE).envoy_minor == 39


@pytest.mark.parametrize("version", ["v1.25.0", "v1.25.2.10-g1234abcd-aliyun", "1.26.1", "v1.31", "v1.40.0.1"])
def test_meshes_from_asm_1_25_run_a_go_plugin(version: str) -> None:
    assert check_envoy_supports_wasip1(version, WHERE).envoy_minor >= 33
    assert MIN_ASM_MINOR == 25


def test_a_mesh_before_1_25_is_refused_with_the_version_found_and_the_one_needed() -> None:
    with pytest.raises(ConfigError) as raised:
        check_envoy_supports_wasip1("v1.22.6.62-g5ddeaef7-aliyun", WHERE)
    assert str(raised.value).startswith(
        f"{WHERE} runs ASM v1.22.6 (Istio 1.22, Envoy 1.30); a Go-built (wasip1) plugin needs Envoy 1.33 or "
        "later: ASM 1.25 or later. Upgrade the mesh")


@pytest.mark.parametrize(("version", "found"), [
    ("v1.24.9.1-gabcdef12-aliyun", "ASM v1.24.9 (Istio 1.24, Envoy 1.32)"),  # the boundary: one short
    ("1.24", "ASM v1.24 (Istio 1.24, Envoy 1.32)"),
    ("v1.10.5.40-g2adf45be-aliyun", "ASM v1.10.5 (Istio 1.10, Envoy 1.18)"),
])
def test_every_mesh_before_1_25_is_refused(version: str, found: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_envoy_supports_wasip1(version, WHERE)
    assert f"{found}; a Go-built (wasip1) plugin needs Envoy 1.33 or later: ASM 1.25 or later" in str(raised.value)


@pytest.mark.parametrize(("version", "shown"), [
    ("garbage", "the version 'garbage', not an ASM 1.x version"),
    ("2.0.1", "the version '2.0.1', not an ASM 1.x version"),
    ("v1", "the version 'v1', not an ASM 1.x version"),
    ("1.25.x", "the version '1.25.x', not an ASM 1.x version"),
    ("", "no version"),
    (None, "no version"),
])
def test_an_unreadable_version_says_what_was_found_and_the_forms_accepted(version: object, shown: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_envoy_supports_wasip1(version, WHERE)
    message = str(raised.value)
    assert message.startswith(f"{WHERE} reports {shown}; expected a form like v1.22.6.62-g5ddeaef7-aliyun, "
                              "1.25.2.10 or v1.26")
    assert "cannot be checked" in message


def test_config_errors_are_value_errors_for_the_program_s_handler() -> None:
    assert issubclass(ConfigError, ValueError)


def test_ids_of_the_documented_form_pass() -> None:
    assert check_instance_id(MESH_ID) == MESH_ID
    assert check_cluster_ids({"ack-hangzhou": CLUSTER_ID, "ack-beijing": MESH_ID}) == {
        "ack-hangzhou": CLUSTER_ID, "ack-beijing": MESH_ID}
    assert check_cluster_ids({}) == {}


@pytest.mark.parametrize("value", ["", None, "cri-abc", "C08BA3FD1E6484B0F8CC1AD8FE10D1234", MESH_ID[:-1], 42])
def test_a_malformed_instance_id_names_the_key_and_the_form(value: object) -> None:
    with pytest.raises(ConfigError) as raised:
        check_instance_id(value)
    assert str(raised.value).startswith(f"config key 'asm-wasm-plugin:asmInstanceId' is {value!r}; expected an "
                                        "ASM instance id: 'c' followed by 32 lowercase hex digits")


@pytest.mark.parametrize(("raw", "message"), [
    ({"ack": "cluster-1"}, "has 'cluster-1' for cluster 'ack'; expected an ACK cluster id: 'c' followed by 32"),
    ({"ack": None}, "has None for cluster 'ack'; expected an ACK cluster id"),
    ({"ACK_Hangzhou": CLUSTER_ID}, "has cluster name 'ACK_Hangzhou'; expected a DNS label"),
    ({"a": CLUSTER_ID, "b": CLUSTER_ID}, "one ACK cluster under two names"),
])
def test_malformed_cluster_ids_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_cluster_ids(raw)
    assert str(raised.value).startswith("config key 'asm-wasm-plugin:dataPlaneClusterIds' ")
    assert message in str(raised.value)
