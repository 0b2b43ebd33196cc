"""The ASM and ACK lookups under Pulumi's mocks: secret kubeconfigs, the version check, clear errors.

The mocks answer the two data sources the way pulumi-alicloud's provider does (schema names; the mesh
list filtered by id on the client side; a provider error as an invoke failure), at preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from components.asm_access import CREDENTIAL_TOKEN, MESHES_TOKEN, MeshAccess, lookup_mesh
from stackconfig.settings import ConfigError
from tests.unit.harness import PROJECT, RecordingMocks, deploy, is_secret, reveal

MESH_ID = "c08ba3fd1e6484b0f8cc1ad8fe10d1234"
HANGZHOU = "c5b5e80b0b64a4bf6939d2d8fbbc51234"
BEIJING = "c82e6987e2961451182edacd74faf5678"
MESH_KUBECONFIG = "apiVersion: v1\nkind: Config\n# the ASM instance, token mesh-s3cret"
CLUSTER_KUBECONFIG = {HANGZHOU: "apiVersion: v1\n# ack hangzhou, token hz-s3cret",
                      BEIJING: "apiVersion: v1\n# ack beijing, token bj-s3cret"}
SECRETS = ("mesh-s3cret", "hz-s3cret", "bj-s3cret")


@dataclass
class AsmMocks(RecordingMocks):
    version: str = "v1.25.2.10-g1a2b3c4d-aliyun"
    operator_version: str = ""
    mesh_kubeconfig: str = MESH_KUBECONFIG
    attached: list[str] = field(default_factory=lambda: [HANGZHOU, BEIJING])
    meshes: tuple[str, ...] = (MESH_ID,)
    failing: dict[str, str] = field(default_factory=dict)
    """Token -> the provider's error for it."""

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        answer = super().call(args)  # records the call
        if args.token in self.failing:
            return {}, [("", self.failing[args.token])]
        if args.token == MESHES_TOKEN:
            found = [i for i in self.meshes if i in (args.args.get("ids") or self.meshes)]
            return {"id": "meshes", "ids": found, "names": ["asm-test"] * len(found), "meshes": [{
                "id": i, "serviceMeshId": i, "serviceMeshName": "asm-test", "status": "running",
                "version": self.version, "istioOperatorVersion": self.operator_version,
                "kubeConfig": self.mesh_kubeconfig, "clusters": self.attached, "edition": "Pro",
            } for i in found]}
        if args.token == CREDENTIAL_TOKEN:
            cluster = args.args["clusterId"]
            return {"id": cluster, "clusterId": cluster, "clusterName": "ack", "expiration": "2029-01-01T00:00:00Z",
                    "kubeConfig": CLUSTER_KUBECONFIG.get(cluster, ""), "certificateAuthorities": []}
        return answer

    def args_of(self, token: str) -> list[dict[str, Any]]:
        return [args for tok, args in self.calls if tok == token]


@dataclass
class Looked:
    access: MeshAccess
    resolved: dict[str, tuple[str, bool]]
    """'mesh' or a cluster name -> (the kubeconfig, whether its Output is secret)."""


def look_up(mocks: AsmMocks, clusters: dict[str, str] | None = None, preview: bool = True,
            **options: Any) -> Looked:
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=preview)
    clusters = {"ack-hangzhou": HANGZHOU, "ack-beijing": BEIJING} if clusters is None else clusters
    looked: dict[str, Any] = {}
    resolved: dict[str, tuple[str, bool]] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        access = looked["access"] = lookup_mesh(MESH_ID, clusters, **options)

        async def collect(name: str, out: pulumi.Output[str]) -> None:
            resolved[name] = (await out.future(), await out.is_secret())

        outputs = {"mesh": access.mesh_kubeconfig, **access.data_plane_kubeconfigs}
        return pulumi.Output.all(*[pulumi.Output.from_input(collect(name, out))
                                   for name, out in outputs.items() if out is not None])

    run()
    return Looked(looked["access"], resolved)


def refused(mocks: AsmMocks, clusters: dict[str, str] | None = None, **options: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        look_up(mocks, clusters, **options)
    message = str(raised.value)
    assert not [s for s in SECRETS if s in message], message
    assert mocks.resources == []
    return message


@pytest.mark.parametrize("preview", [True, False])
def test_kubeconfigs_come_back_as_secret_outputs(preview: bool) -> None:
    mocks = AsmMocks()
    looked = look_up(mocks, preview=preview)
    assert looked.resolved == {
        "mesh": (MESH_KUBECONFIG, True),
        "ack-hangzhou": (CLUSTER_KUBECONFIG[HANGZHOU], True),
        "ack-beijing": (CLUSTER_KUBECONFIG[BEIJING], True),
    }
    access = looked.access
    assert (access.instance_id, access.version.short, access.version.envoy_minor) == (MESH_ID, "v1.25.2", 33)
    assert access.mesh_cluster_ids == (HANGZHOU, BEIJING)
    assert not [s for s in SECRETS if s in repr(access)]
    assert mocks.resources == []  # a lookup registers nothing


def test_the_invokes_ask_for_the_ids_given() -> None:
    mocks = AsmMocks()
    look_up(mocks)
    assert mocks.args_of(MESHES_TOKEN) == [{"ids": [MESH_ID], "enableDetails": True}]
    assert mocks.args_of(CREDENTIAL_TOKEN) == [{"clusterId": HANGZHOU}, {"clusterId": BEIJING}]


def test_a_temporary_credential_is_asked_for_only_when_requested() -> None:
    mocks = AsmMocks()
    look_up(mocks, {"ack-hangzhou": HANGZHOU}, credential_minutes=60)
    assert mocks.args_of(CREDENTIAL_TOKEN) == [{"clusterId": HANGZHOU, "temporaryDurationMinutes": 60}]


@pytest.mark.parametrize(("version", "found"), [
    ("v1.22.6.62-g5ddeaef7-aliyun", "runs ASM v1.22.6 (Istio 1.22, Envoy 1.30)"),
    ("v1.24.9.3-g5ddeaef7-aliyun", "runs ASM v1.24.9 (Istio 1.24, Envoy 1.32)"),
])
def test_a_mesh_too_old_for_a_go_plugin_is_refused_at_preview(version: str, found: str) -> None:
    mocks = AsmMocks(version=version)
    message = refused(mocks)
    assert message.startswith(f"ASM instance '{MESH_ID}' (config key 'asm-wasm-plugin:asmInstanceId') {found}; "
                              "a Go-built (wasip1) plugin needs Envoy 1.33 or later: ASM 1.25 or later")
    assert mocks.args_of(CREDENTIAL_TOKEN) == []  # refused before any cluster is asked for credentials


def test_without_version_the_operator_version_is_checked() -> None:
    assert "runs ASM v1.23.1" in refused(AsmMocks(version="", operator_version="v1.23.1.5-gabc-aliyun"))
    assert look_up(AsmMocks(version="", operator_version="v1.26.0.1-gabc-aliyun")).access.version.minor == 26


def test_an_unreadable_version_is_refused() -> None:
    message = refused(AsmMocks(version="unknown"))
    assert "reports the version 'unknown', not an ASM 1.x version; expected a form like" in message


def test_a_missing_instance_names_the_key_and_what_to_check() -> None:
    mocks = AsmMocks(meshes=("c0000000000000000000000000000000f",))
    message = refused(mocks)
    assert message.startswith(f"config key 'asm-wasm-plugin:asmInstanceId' is '{MESH_ID}'; the service mesh data "
                              "source finds no ASM instance with this id. Check the id")
    assert "region" in message
    assert mocks.args_of(CREDENTIAL_TOKEN) == []


def test_a_failed_mesh_lookup_names_the_key_and_the_provider_s_reason() -> None:
    mocks = AsmMocks(failing={MESHES_TOKEN: "Forbidden.RAM: User not authorized to operate on the specified resource"})
    message = refused(mocks)
    assert message.startswith(f"config key 'asm-wasm-plugin:asmInstanceId' is '{MESH_ID}'; looking it up failed: ")
    assert "Forbidden.RAM" in message
    assert "servicemesh:DescribeServiceMeshes" in message


def test_a_failed_cluster_credential_names_the_cluster_and_its_id() -> None:
    mocks = AsmMocks(failing={CREDENTIAL_TOKEN: "ErrorClusterNotFound: cluster not found"})
    message = refused(mocks, {"ack-hangzhou": HANGZHOU})
    assert message.startswith(f"config key 'asm-wasm-plugin:dataPlaneClusterIds' (ack-hangzhou: '{HANGZHOU}'): "
                              f"getting the kubeconfig of ACK cluster '{HANGZHOU}' failed: ")
    assert "ErrorClusterNotFound" in message


def test_a_cluster_without_a_kubeconfig_is_refused() -> None:
    other = "c" + "e" * 32
    message = refused(AsmMocks(attached=[]), {"ack-x": other})
    assert f"gave no kubeconfig for cluster '{other}'" in message


def test_a_cluster_outside_the_mesh_is_refused() -> None:
    message = refused(AsmMocks(attached=[BEIJING]))
    assert message.startswith(f"config key 'asm-wasm-plugin:dataPlaneClusterIds' (ack-hangzhou: '{HANGZHOU}'): "
                              f"ACK cluster '{HANGZHOU}' is not a data-plane cluster of ASM instance '{MESH_ID}'")
    assert f"whose clusters are {BEIJING}" in message


def test_a_mesh_listing_no_clusters_does_not_refuse_any() -> None:
    assert set(look_up(AsmMocks(attached=[])).resolved) == {"mesh", "ack-hangzhou", "ack-beijing"}


def test_no_mesh_kubeconfig_is_refused_unless_the_caller_has_its_own() -> None:
    assert "gave no kubeconfig for it" in refused(AsmMocks(mesh_kubeconfig=""))
    looked = look_up(AsmMocks(mesh_kubeconfig=""), require_mesh_kubeconfig=False)
    assert looked.access.mesh_kubeconfig is None
    assert set(looked.resolved) == {"ack-hangzhou", "ack-beijing"}


def test_the_stack_takes_ids_instead_of_kubeconfigs(dev_config: dict[str, Any]) -> None:
    mocks = AsmMocks()
    dep = deploy({**dev_config, "asmInstanceId": MESH_ID,
                  "dataPlaneClusterIds": {"ack-hangzhou": HANGZHOU, "ack-beijing": BEIJING}}, mocks=mocks)
    providers = {r.name: r.inputs for r in mocks.of_type("pulumi:providers:kubernetes")}
    mesh = providers["header-authorization-mesh-control-plane"]["kubeconfig"]
    assert is_secret(mesh) and reveal(mesh) == MESH_KUBECONFIG
    for name, cluster in (("ack-hangzhou", HANGZHOU), ("ack-beijing", BEIJING)):
        kubeconfig = providers[f"header-authorization-data-plane-{name}"]["kubeconfig"]
        assert is_secret(kubeconfig) and reveal(kubeconfig) == CLUSTER_KUBECONFIG[cluster]
    # The ids' clusters replace the ambient default; the pull Secret and the checks go to each.
    assert sorted(dep.outputs["pullSecretClusters"]) == ["ack-beijing", "ack-hangzhou"]
    checks = [r.inputs for r in mocks.of_type("pulumi-python:dynamic/asmwasm:GatewayCheck")]
    assert sorted(c["target"]["cluster"] for c in checks) == ["ack-beijing", "ack-hangzhou"]
    assert not any(s in str(dep.outputs) for s in SECRETS)


def test_the_stack_refuses_a_mesh_too_old_before_any_resource(dev_config: dict[str, Any]) -> None:
    mocks = AsmMocks(version="v1.22.6.62-g5ddeaef7-aliyun")
    with pytest.raises(Exception, match=r"runs ASM v1\.22\.6 \(Istio 1\.22, Envoy 1\.30\)"):
        deploy({**dev_config, "asmInstanceId": MESH_ID}, mocks=mocks, preview=True)
    assert [r for r in mocks.resources if not r.type.startswith("pulumi:")] == []


@pytest.mark.parametrize(("config", "message"), [
    ({"dataPlaneClusterIds": {"ack": HANGZHOU}}, "set asmInstanceId too"),
    ({"asmInstanceId": MESH_ID, "dataPlaneClusterIds": {"ack": HANGZHOU},
      "dataPlaneKubeconfigs": {"ack": "apiVersion: v1"}}, "give each cluster one way in"),
    ({"asmInstanceId": "asm-1"}, "expected an ASM instance id"),
])
def test_bad_ids_are_named(dev_config: dict[str, Any], config: dict[str, Any], message: str) -> None:
    mocks = AsmMocks()
    with pytest.raises(Exception, match=message):
        deploy({**dev_config, **config}, ("registryPassword", "dataPlaneKubeconfigs"), mocks=mocks)
    assert [r for r in mocks.resources if not r.type.startswith("pulumi:")] == []
