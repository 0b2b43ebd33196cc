"""Delivers the header-authorization Wasm plugin to Alibaba Cloud Service Mesh."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from components.asm_access import lookup_mesh
from components.delivery import WasmPluginDelivery
from stackconfig.settings import CONFIG_KEYS, PROJECT, ConfigError, check_known_keys, load_settings


class StackSecrets:
    """The SecretSource of stackconfig.settings: Pulumi's own secret config readers."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config

    def is_stored_secret(self, key: str) -> bool:
        return pulumi.runtime.is_config_secret(f"{PROJECT}:{key}")

    def secret_string(self, key: str) -> pulumi.Output[str]:
        return self.config.require_secret(key)

    def secret_object(self, key: str, pick: Callable[[Any], Any]) -> pulumi.Output[Any]:
        return self.config.require_secret_object(key).apply(pick)


config = pulumi.Config()
try:
    check_known_keys(pulumi.runtime.config.CONFIG.get())
    # The plain values are for validation only; secrets reach resources through StackSecrets.
    settings = load_settings({key: config.get(key) for key in CONFIG_KEYS}, StackSecrets(config),
                             Path(__file__).parent)
    mesh = settings.mesh
    mesh_kubeconfig, data_plane_kubeconfigs = mesh.mesh_kubeconfig, dict(mesh.data_plane_kubeconfigs)
    if mesh.asm_instance_id is not None:
        # Synchronous lookups, still before any resource: a mesh too old for the plugin fails the preview.
        access = lookup_mesh(mesh.asm_instance_id, mesh.data_plane_cluster_ids,
                             require_mesh_kubeconfig=mesh_kubeconfig is None)
        # A pasted kubeconfig wins: the data source gives the public address, which a CI runner
        # inside the VPC may not reach.
        mesh_kubeconfig = mesh_kubeconfig or access.mesh_kubeconfig
        data_plane_kubeconfigs.update(access.data_plane_kubeconfigs)
except ConfigError as err:
    # RunError prints the message alone, without a Python traceback.
    raise pulumi.RunError(str(err)) from None

delivery = WasmPluginDelivery("header-authorization", {
    "image": settings.image,
    "registry_username": settings.registry_username,
    "registry_password": settings.registry_password,
    "plugin_name": mesh.plugin_name,
    "plugin_namespace": mesh.plugin_namespace,
    "selector": mesh.selector,
    "phase": mesh.phase,
    "image_pull_policy": mesh.image_pull_policy,
    "pull_secret_name": mesh.pull_secret_name,
    "fail_strategy": mesh.fail_strategy,
    "plugin_config": mesh.plugin_config,
    "priority": mesh.priority,
    "mesh_kubeconfig": mesh_kubeconfig,
    "data_plane_kubeconfigs": data_plane_kubeconfigs,
    "verify": mesh.verify,
    "canary_selector": mesh.canary_selector,
    "check_selectors": mesh.check_selectors(),
    "extension_kind": mesh.extension_kind,
    "fields": mesh.fields,
    "extra_plugins": mesh.extra_plugins,
    "cluster_registry_hosts": mesh.cluster_registry_hosts,
    "istio_cluster_ids": mesh.istio_cluster_ids,
})

pulumi.export("imageRef", delivery.image_ref)
pulumi.export("ociUrl", delivery.oci_url)
pulumi.export("registryEndpoint", delivery.registry_endpoint)
pulumi.export("wasmPluginName", delivery.plugin_name)
pulumi.export("wasmPluginNamespace", delivery.plugin_namespace)
pulumi.export("pullSecretClusters", delivery.pull_secret_clusters)
if mesh.extra_plugins:
    pulumi.export("pluginImageRefs", delivery.plugin_image_refs)
