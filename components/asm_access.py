"""Kubeconfigs from ids: the ASM instance's from the service mesh data source, each data-plane
cluster's from ACK's cluster credential data source, once the mesh is known to run the plugin.

Not a component: it registers nothing. The invokes are the synchronous forms (not `*_output`):
their answers are there while the program runs, so a mesh too old for a Go-built plugin stops
`pulumi preview` before any resource is registered. A kubeconfig leaves this module only inside
a secret Output; errors name ids and config keys, never a kubeconfig's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
from pulumi_alicloud.servicemesh.outputs import GetServiceMeshesMeshResult

from stackconfig.asm import CLUSTERS_KEY, INSTANCE_KEY, AsmVersion, check_envoy_supports_wasip1
from stackconfig.errors import ConfigError, key_name

# The invokes' tokens, for mocks and for reading an engine log.
MESHES_TOKEN = "alicloud:servicemesh/getServiceMeshes:getServiceMeshes"
CREDENTIAL_TOKEN = "alicloud:cs/getClusterCredential:getClusterCredential"

# What the data source calls with enable_details (terraform-provider-alicloud,
# data_source_alicloud_service_mesh_service_meshes.go); any of them failing fails the lookup.
_MESH_PERMISSIONS = ("servicemesh:DescribeServiceMeshes, DescribeServiceMeshDetail, DescribeUpgradeVersion, "
                     "DescribeASMSidecarExpectedVersion and DescribeServiceMeshKubeconfig")


@dataclass(frozen=True)
class MeshAccess:
    instance_id: str
    version: AsmVersion
    """The mesh's ASM version, already checked to run a Go-built (wasip1) plugin."""
    mesh_kubeconfig: pulumi.Output[str] | None
    """Kubeconfig of the ASM instance's API server, where the WasmPlugin goes (secret); None only when
    the data source gave none and the caller said it has its own (require_mesh_kubeconfig=False)."""
    data_plane_kubeconfigs: dict[str, pulumi.Output[str]]
    """Data-plane cluster name -> that ACK cluster's kubeconfig, for its pull Secret and checks (secret)."""
    mesh_cluster_ids: tuple[str, ...]
    """The ACK clusters the data source lists as added to the mesh (may be empty: not every answer lists them)."""


def lookup_mesh(instance_id: str, cluster_ids: Mapping[str, str], invoke_opts: pulumi.InvokeOptions | None = None,
                *, require_mesh_kubeconfig: bool = True, credential_minutes: int | None = None) -> MeshAccess:
    """Looks up the ASM instance and each data-plane cluster (name -> ACK cluster id), checks the mesh's
    version, and returns their kubeconfigs as secret Outputs; a ConfigError naming the config key otherwise.

    invoke_opts: None uses the default alicloud provider (region from `alicloud:region` or ALICLOUD_REGION);
    an explicit provider is registered, as a resource, before the lookups can run.
    credential_minutes: None asks ACK for its long-lived kubeconfig. A temporary one (15-4320 minutes)
    would change at every run, and `pulumi destroy`, which does not run the program, would find only
    the expired one in the state.
    """
    mesh = _find_mesh(instance_id, invoke_opts)
    where = f"ASM instance {instance_id!r} (config key '{key_name(INSTANCE_KEY)}')"
    # `version` is ServiceMeshInfo.Version; istio_operator_version (DescribeUpgradeVersion) has the same form.
    version = check_envoy_supports_wasip1(mesh.version or mesh.istio_operator_version, where)
    pulumi.log.info(f"{where}: ASM {version.short} (Istio 1.{version.istio_minor}, Envoy 1.{version.envoy_minor})")

    mesh_kubeconfig = None
    if mesh.kube_config:
        mesh_kubeconfig = pulumi.Output.secret(mesh.kube_config)
    elif require_mesh_kubeconfig:
        raise ConfigError(f"{where}: the service mesh data source gave no kubeconfig for it; check that these "
                          f"credentials may call {_MESH_PERMISSIONS}, or set the mesh's kubeconfig instead: "
                          "pulumi config set --secret meshKubeconfig \"$(cat asm-kubeconfig.yaml)\"")

    attached = tuple(mesh.clusters or ())
    data_planes: dict[str, pulumi.Output[str]] = {}
    for name, cluster_id in cluster_ids.items():
        key = f"config key '{key_name(CLUSTERS_KEY)}' ({name}: {cluster_id!r})"
        # Only a list that names other clusters proves this one is not in the mesh: an empty one may
        # just be an answer without the list.
        if attached and cluster_id not in attached:
            raise ConfigError(f"{key}: ACK cluster {cluster_id!r} is not a data-plane cluster of {where}, whose "
                              f"clusters are {', '.join(attached)}; the WasmPlugin reaches only gateways in "
                              "clusters added to the mesh: add the cluster to the mesh (ASM console) or fix the id")
        data_planes[name] = _cluster_kubeconfig(key, cluster_id, invoke_opts, credential_minutes)
    return MeshAccess(instance_id=instance_id, version=version, mesh_kubeconfig=mesh_kubeconfig,
                      data_plane_kubeconfigs=data_planes, mesh_cluster_ids=attached)


def _find_mesh(instance_id: str, invoke_opts: pulumi.InvokeOptions | None) -> GetServiceMeshesMeshResult:
    key = f"config key '{key_name(INSTANCE_KEY)}' is {instance_id!r}"
    try:
        # enable_details: the kubeconfig and the operator version come only with the details.
        # No output_file: the data source would write the kubeconfig to it in clear.
        found = alicloud.servicemesh.get_service_meshes(ids=[instance_id], enable_details=True, opts=invoke_opts)
    except Exception as err:
        raise ConfigError(f"{key}; looking it up failed: {err}. Check the Alibaba Cloud credentials "
                          f"(ALICLOUD_ACCESS_KEY, ALICLOUD_SECRET_KEY) and that they may call {_MESH_PERMISSIONS}"
                          ) from None
    # The data source filters by id on the client side, so an unknown id is an empty list, not an error.
    meshes = [m for m in found.meshes or [] if instance_id in (m.id, m.service_mesh_id)]
    if not meshes:
        raise ConfigError(f"{key}; the service mesh data source finds no ASM instance with this id. Check the id "
                          "(ASM console, the instance's basic information), that these Alibaba Cloud credentials "
                          "belong to its account, and the region the alicloud provider looks in")
    return meshes[0]


def _cluster_kubeconfig(key: str, cluster_id: str, invoke_opts: pulumi.InvokeOptions | None,
                        minutes: int | None) -> pulumi.Output[str]:
    try:
        # No output_file, as above: it would hold the kubeconfig in clear.
        credential = alicloud.cs.get_cluster_credential(cluster_id=cluster_id, temporary_duration_minutes=minutes,
                                                        opts=invoke_opts)
    except Exception as err:
        raise ConfigError(f"{key}: getting the kubeconfig of ACK cluster {cluster_id!r} failed: {err}. Check the "
                          "id (ACK console, the cluster's basic information), that the cluster is running (the "
                          "data source needs its API server), and that these credentials may call "
                          "cs:DescribeClusterUserKubeconfig") from None
    if not credential.kube_config:
        raise ConfigError(f"{key}: the ACK cluster credential data source gave no kubeconfig for cluster "
                          f"{cluster_id!r}; check that the cluster is running and these credentials may call "
                          "cs:DescribeClusterUserKubeconfig, or set its kubeconfig with pulumi config set --secret "
                          "--path 'dataPlaneKubeconfigs.<cluster>' ...")
    return pulumi.Output.secret(credential.kube_config)
