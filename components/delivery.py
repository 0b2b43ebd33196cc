"""The whole delivery as one component: registry -> image -> pull secrets -> WasmPlugin."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.image import PluginImage
from components.promotion import PromotedImage
from components.pull_secret import PullSecret
from components.registry import Registry
from components.settings import Settings, registry_host
from components.wasm_plugin import WasmPlugin


class WasmPluginDeliveryArgs(TypedDict):
    settings: Settings
    """Validated stack settings (components.settings.load_settings)."""


class WasmPluginDelivery(pulumi.ComponentResource):
    image_ref: pulumi.Output[str]
    """The deployed image, pinned by digest."""
    oci_url: pulumi.Output[str]
    """The WasmPlugin's url."""
    registry_endpoint: pulumi.Output[str]
    """The registry host the image was pushed to."""
    plugin_name: pulumi.Output[str]
    """WasmPlugin name."""
    plugin_namespace: pulumi.Output[str]
    """WasmPlugin namespace."""
    pull_secret_clusters: pulumi.Output[list[str]]
    """Data-plane clusters holding the pull Secret."""

    def __init__(self, name: str, args: WasmPluginDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:WasmPluginDelivery", name, None, opts)
        s = args["settings"]
        reg, mesh = s.registry, s.mesh

        alicloud_provider = None
        if reg.mode != "external":
            alicloud_provider = alicloud.Provider(f"{name}-alicloud", region=reg.region,
                                                  opts=pulumi.ResourceOptions(parent=self))
        registry = Registry(
            f"{name}-registry",
            {
                "mode": reg.mode,
                "namespace": reg.namespace,
                "repository": reg.repository,
                "region": reg.region,
                "acr_instance_id": reg.acr_instance_id,
                "endpoint": reg.endpoint,
                "alicloud_provider": alicloud_provider,
            },
            pulumi.ResourceOptions(parent=self),
        )
        password = pulumi.Output.secret(reg.password.reveal()) if reg.password else None
        image: PluginImage | PromotedImage
        if s.image.promote_from:
            image = PromotedImage(
                f"{name}-image",
                {"source_stack": s.image.promote_from, "requested_ref": s.image.prebuilt_ref},
                pulumi.ResourceOptions(parent=self),
            )
        else:
            image = PluginImage(
                f"{name}-image",
                {
                    "repository_path": registry.repository_path,
                    "tag": reg.tag,
                    "wasm_file": s.image.wasm_file,
                    "prebuilt_ref": s.image.prebuilt_ref,
                    "registry_server": registry.endpoint,
                    "registry_username": reg.username,
                    "registry_password": password,
                },
                pulumi.ResourceOptions(parent=self),
            )

        # One provider per cluster, named for what it is. A kubeconfig left unset means the
        # ambient one (KUBECONFIG), which is what the local stack uses.
        mesh_provider = k8s.Provider(
            f"{name}-mesh-control-plane",
            kubeconfig=pulumi.Output.secret(mesh.mesh_kubeconfig.reveal()) if mesh.mesh_kubeconfig else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        data_planes = {
            cluster: k8s.Provider(
                f"{name}-data-plane-{cluster}",
                kubeconfig=pulumi.Output.secret(kubeconfig.reveal()) if kubeconfig else None,
                # A new registry password updates the pull Secret in place. Replacing it (the
                # provider's default for Secret data) deletes it first, and a gateway pulling
                # in between would fail.
                enable_secret_mutable=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for cluster, kubeconfig in mesh.data_plane_kubeconfigs.items()
        }

        assert reg.username is not None and password is not None  # load_settings guarantees both
        pull_secret = PullSecret(
            f"{name}-pull-secret",
            {
                "name": mesh.pull_secret_name,
                "namespace": mesh.plugin_namespace,
                # The credentials must be for the host in the url the gateway pulls from.
                "server": image.ref.apply(registry_host),
                "username": reg.username,
                "password": password,
                "clusters": data_planes,
            },
            pulumi.ResourceOptions(parent=self),
        )
        plugin = WasmPlugin(
            f"{name}-plugin",
            {
                "name": mesh.plugin_name,
                "namespace": mesh.plugin_namespace,
                "image_ref": image.ref,
                "selector": mesh.selector,
                "phase": mesh.phase,
                "image_pull_policy": mesh.image_pull_policy,
                "image_pull_secret": pull_secret.secret_name,
                "fail_strategy": mesh.fail_strategy,
                "plugin_config": mesh.plugin_config,
                "priority": mesh.priority,
                "provider": mesh_provider,
            },
            # The Secret first: a gateway that sees the WasmPlugin before the Secret fails its pull.
            pulumi.ResourceOptions(parent=self, depends_on=[pull_secret]),
        )

        self.image_ref = image.ref
        self.oci_url = plugin.url
        self.registry_endpoint = registry.endpoint
        self.plugin_name = plugin.plugin_name
        self.plugin_namespace = plugin.plugin_namespace
        self.pull_secret_clusters = pull_secret.clusters
        self.register_outputs({
            "image_ref": self.image_ref,
            "oci_url": self.oci_url,
            "registry_endpoint": self.registry_endpoint,
            "plugin_name": self.plugin_name,
            "plugin_namespace": self.plugin_namespace,
            "pull_secret_clusters": self.pull_secret_clusters,
        })
