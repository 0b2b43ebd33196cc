"""The Istio WasmPlugin (or TrafficExtension) that tells the mesh's gateways to load the image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from stackconfig.extension import ExtensionFields, spec_extras, traffic_extension_phase


class WasmPluginArgs(TypedDict):
    name: str
    """WasmPlugin name, e.g. header-authorization."""
    namespace: str
    """WasmPlugin namespace, e.g. istio-system."""
    image_ref: pulumi.Input[str]
    """The image pinned by digest (repo@sha256:...); becomes the oci:// url."""
    selector: pulumi.Input[Mapping[str, str]] | None
    """Workload labels the plugin applies to, e.g. istio: ingressgateway; None: fields.target_refs."""
    phase: pulumi.Input[str]
    """AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE."""
    image_pull_policy: pulumi.Input[str]
    """IfNotPresent, Always or UNSPECIFIED_POLICY."""
    image_pull_secret: pulumi.Input[str]
    """Name of the docker-registry Secret in the same namespace."""
    fail_strategy: pulumi.Input[str]
    """FAIL_CLOSE (deny when the plugin cannot load), FAIL_OPEN or FAIL_RELOAD."""
    plugin_config: NotRequired[pulumi.Input[Mapping[str, Any]] | None]
    """JSON configuration handed to the plugin at start (a secret Output stays secret); None: none."""
    priority: NotRequired[pulumi.Input[int] | None]
    """Order among plugins of the same phase."""
    provider: k8s.Provider
    """The mesh control plane (ASM instance) where WasmPlugins are applied."""
    fields: NotRequired[ExtensionFields]
    """targetRefs, match, type, root id, VM env (vm_env may be a secret Output)."""
    kind: NotRequired[str]
    """WasmPlugin (default) or TrafficExtension."""


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
        fields = args.get("fields") or ExtensionFields()
        kind = args.get("kind", "WasmPlugin")
        # What Istio calls the module's part: WasmPlugin keeps it at the top of the spec,
        # TrafficExtension under `wasm` (with targeting, phase, priority and match outside).
        module: dict[str, Any] = {
            "url": self.url,
            "imagePullPolicy": args["image_pull_policy"],
            "imagePullSecret": args["image_pull_secret"],
            "failStrategy": args["fail_strategy"],
            # The manifest digest again, as Istio's `sha256`: its agent then checks what it pulls
            # against it, and finds a module it already holds without asking the registry.
            "sha256": pulumi.Output.from_input(args["image_ref"]).apply(lambda ref: ref.rsplit("@sha256:", 1)[1]),
        }
        # Istio hands an absent pluginConfig to the plugin as "no configuration": the seed's case.
        if args.get("plugin_config") is not None:
            module["pluginConfig"] = args["plugin_config"]
        extras = dict(spec_extras(fields))
        for key in ("type", "pluginName"):
            if key in extras:
                module[key] = extras.pop(key)
        if fields.vm_env:
            # Nested, so that a secret env stays a secret of its own.
            module["vmConfig"] = {"env": fields.vm_env}
        # Nested inputs, not one apply: a preview whose digest is not known yet still shows
        # every other field, and a secret pluginConfig stays a secret of its own.
        spec: dict[str, Any] = {}
        if args["selector"] is not None:
            spec["selector"] = {"matchLabels": args["selector"]}
        spec.update(extras)
        if kind == "TrafficExtension":
            spec["phase"] = pulumi.Output.from_input(args["phase"]).apply(traffic_extension_phase)
            spec["wasm"] = module
        else:
            spec["phase"] = args["phase"]
            spec.update(module)
        if args.get("priority") is not None:
            spec["priority"] = args["priority"]
        resource = k8s.apiextensions.CustomResource(
            # The component's one resource takes its name; `-wasmplugin` was its old suffix.
            name,
            api_version="extensions.istio.io/v1alpha1",
            kind=kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args["name"],
                namespace=args["namespace"],
                labels={"app.kubernetes.io/managed-by": "pulumi"},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, provider=args["provider"],
                                        aliases=[pulumi.Alias(name=f"{name}-wasmplugin")]),
        )
        # Resolved from the id so that they are known only once the API server accepted the object.
        self.plugin_name = resource.id.apply(lambda _: args["name"])
        self.plugin_namespace = resource.id.apply(lambda _: args["namespace"])
        self.register_outputs({"url": self.url, "plugin_name": self.plugin_name,
                               "plugin_namespace": self.plugin_namespace})
