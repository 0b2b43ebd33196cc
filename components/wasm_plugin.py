"""The Istio WasmPlugin that tells the mesh's gateways to load the image."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s


def wasm_plugin_spec(
    *,
    url: str,
    selector: dict[str, str],
    phase: str,
    image_pull_policy: str,
    image_pull_secret: str,
    fail_strategy: str,
    plugin_config: dict[str, Any],
    priority: int | None = None,
) -> dict[str, Any]:
    """The extensions.istio.io/v1alpha1 WasmPlugin spec, in the API's field names."""
    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(selector)},
        "url": url,
        "phase": phase,
        "imagePullPolicy": image_pull_policy,
        "imagePullSecret": image_pull_secret,
        "failStrategy": fail_strategy,
    }
    # Istio hands an absent pluginConfig to the plugin as "no configuration":
    # the seed's behaviour. An empty object is left out for the same result.
    if plugin_config:
        spec["pluginConfig"] = dict(plugin_config)
    if priority is not None:
        spec["priority"] = priority
    return spec


class WasmPluginArgs(TypedDict):
    name: str
    """WasmPlugin name, e.g. header-authorization."""
    namespace: str
    """WasmPlugin namespace, e.g. istio-system."""
    image_ref: pulumi.Input[str]
    """The image pinned by digest (repo@sha256:...); becomes the oci:// url."""
    selector: dict[str, str]
    """Workload labels the plugin applies to, e.g. istio: ingressgateway."""
    phase: str
    """AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE."""
    image_pull_policy: str
    """IfNotPresent, Always or UNSPECIFIED_POLICY."""
    image_pull_secret: pulumi.Input[str]
    """Name of the docker-registry Secret in the same namespace."""
    fail_strategy: str
    """FAIL_CLOSE (deny when the plugin cannot load) or FAIL_OPEN."""
    plugin_config: dict[str, Any]
    """JSON configuration handed to the plugin at start."""
    priority: NotRequired[int | None]
    """Order among plugins of the same phase."""
    provider: k8s.Provider
    """The mesh control plane (ASM instance) where WasmPlugins are applied."""


class WasmPlugin(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """oci://registry/namespace/repository@sha256:..."""
    plugin_name: pulumi.Output[str]
    """metadata.name of the WasmPlugin."""
    plugin_namespace: pulumi.Output[str]
    """metadata.namespace of the WasmPlugin."""

    def __init__(self, name: str, args: WasmPluginArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:WasmPlugin", name, None, opts)
        # Pinning the url to the digest makes every new build roll out; a reused tag under
        # IfNotPresent would keep serving the module the gateway cached first.
        self.url = pulumi.Output.concat("oci://", args["image_ref"])
        spec = pulumi.Output.all(self.url, args["image_pull_secret"]).apply(
            lambda a: wasm_plugin_spec(
                url=a[0],
                selector=args["selector"],
                phase=args["phase"],
                image_pull_policy=args["image_pull_policy"],
                image_pull_secret=a[1],
                fail_strategy=args["fail_strategy"],
                plugin_config=args["plugin_config"],
                priority=args.get("priority"),
            )
        )
        resource = k8s.apiextensions.CustomResource(
            f"{name}-wasmplugin",
            api_version="extensions.istio.io/v1alpha1",
            kind="WasmPlugin",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args["name"],
                namespace=args["namespace"],
                labels={"app.kubernetes.io/managed-by": "pulumi"},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, provider=args["provider"]),
        )
        # Resolved from the id so that they are known only once the API server accepted the object.
        self.plugin_name = resource.id.apply(lambda _: args["name"])
        self.plugin_namespace = resource.id.apply(lambda _: args["namespace"])
        self.register_outputs({"url": self.url, "plugin_name": self.plugin_name,
                               "plugin_namespace": self.plugin_namespace})
