"""The whole delivery as one component: image (built and pushed, or given) -> pull secrets -> WasmPlugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.gateway_check import GatewayCheck
from components.image import PluginImage
from components.promotion import PromotedImage
from components.pull_secret import PullSecret
from components.registry import Registry
from components.wasm_plugin import WasmPlugin
from stackconfig.extension import ISTIO_CLUSTER_LABEL, ExtensionFields, spec_extras
from stackconfig.image_source import (
    AlreadyPushed,
    BuildAndPush,
    ImageSource,
    Promoted,
    registry_host,
    split_digest_ref,
)
from stackconfig.settings import ExtraPlugin
from stackconfig.verify import VerifySettings, expected_answers


class WasmPluginDeliveryArgs(TypedDict):
    image: ImageSource
    """Where the image comes from (stackconfig.image_source): built and pushed here, already pushed, or
    promoted from another stack. Only a build has registry resources."""
    registry_username: pulumi.Input[str]
    """Registry user, for the push and the gateways' pull Secret."""
    registry_password: pulumi.Input[str]
    """Registry password (a secret Output)."""
    plugin_name: str
    """WasmPlugin name."""
    plugin_namespace: str
    """WasmPlugin namespace; the pull Secret goes there in every data-plane cluster."""
    selector: pulumi.Input[Mapping[str, str]] | None
    """Labels of the workloads that load the plugin; None: fields.target_refs target them."""
    check_selectors: NotRequired[list[dict[str, str]]]
    """The label sets of the pods the gateway check probes (default: [selector])."""
    phase: pulumi.Input[str]
    """AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE."""
    image_pull_policy: pulumi.Input[str]
    """IfNotPresent, Always or UNSPECIFIED_POLICY."""
    pull_secret_name: str
    """Name of the docker-registry Secret the gateways pull with."""
    fail_strategy: pulumi.Input[str]
    """FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD."""
    plugin_config: NotRequired[pulumi.Input[Mapping[str, Any]] | None]
    """JSON handed to the plugin (a secret Output stays secret); None: no configuration."""
    priority: NotRequired[pulumi.Input[int] | None]
    """Order among WasmPlugins of the same phase."""
    mesh_kubeconfig: NotRequired[pulumi.Input[str] | None]
    """Kubeconfig of the ASM instance (a secret Output); None: the ambient KUBECONFIG."""
    data_plane_kubeconfigs: Mapping[str, pulumi.Input[str] | None]
    """Data-plane cluster name -> kubeconfig (a secret Output; None: the ambient KUBECONFIG)."""
    verify: NotRequired[VerifySettings]
    """How every gateway is checked after the WasmPlugin is applied (default: checked, seed answers)."""
    canary_selector: NotRequired[Mapping[str, str] | None]
    """Labels of canary gateways that get a new build, and are checked, before the stable ones."""
    extension_kind: NotRequired[str]
    """WasmPlugin (default) or TrafficExtension."""
    fields: NotRequired[ExtensionFields]
    """targetRefs, match, type, root id, VM env of the plugin."""
    extra_plugins: NotRequired[tuple[ExtraPlugin, ...]]
    """Further plugins in the same chain, sharing registry, namespace and pull Secret."""
    cluster_registry_hosts: NotRequired[Mapping[str, str]]
    """Data-plane cluster -> the registry host its gateways pull from (a VPC endpoint). When set, each
    cluster gets its own WasmPlugins (selecting its gateways by Istio's cluster label)."""
    istio_cluster_ids: NotRequired[Mapping[str, str]]
    """Data-plane cluster -> Istio's id for it (ASM: the ACK cluster id); needed with cluster_registry_hosts."""


class WasmPluginDelivery(pulumi.ComponentResource):
    image_ref: pulumi.Output[str]
    """The deployed image, pinned by digest."""
    oci_url: pulumi.Output[str]
    """The WasmPlugin's url."""
    registry_endpoint: pulumi.Output[str]
    """The registry host the gateways pull from."""
    plugin_name: pulumi.Output[str]
    """WasmPlugin name."""
    plugin_namespace: pulumi.Output[str]
    """WasmPlugin namespace."""
    pull_secret_clusters: pulumi.Output[list[str]]
    """Data-plane clusters holding the pull Secret."""
    plugin_image_refs: pulumi.Output[dict[str, str]]
    """The `plugins` entries' images by name, pinned by digest (what a promotion deploys)."""

    def __init__(self, name: str, args: WasmPluginDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:WasmPluginDelivery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        extra_plugins = args.get("extra_plugins", ())
        image_ref, extra_refs = self._images(name, args, extra_plugins)
        cluster_hosts = dict(args.get("cluster_registry_hosts") or {})
        istio_ids = dict(args.get("istio_cluster_ids") or {})
        # Scopes of the WasmPlugins: one for the whole mesh, or one per data-plane cluster when some
        # cluster pulls from a host of its own (a WasmPlugin has one url).
        scopes: list[str | None] = sorted(args["data_plane_kubeconfigs"]) if cluster_hosts else [None]

        def placed(ref: pulumi.Output[str], scope: str | None) -> pulumi.Output[str]:
            host = cluster_hosts.get(scope) if scope else None
            return ref if host is None else ref.apply(lambda r: host + r[len(registry_host(r)):])

        def scoped(selector: pulumi.Input[Mapping[str, str]] | None,
                   scope: str | None) -> pulumi.Input[Mapping[str, str]] | None:
            if scope is None or selector is None:
                return selector
            # istiod adds this label to every proxy's labels (pilot/pkg/xds/ads.go).
            return pulumi.Output.from_input(selector).apply(
                lambda labels: {**labels, ISTIO_CLUSTER_LABEL: istio_ids[scope]})

        def scope_of(cluster: str) -> str | None:
            return cluster if cluster_hosts else None

        def suffix(scope: str | None) -> str:
            return "" if scope is None else f"-{scope}"

        # One provider per cluster, named for what it is. A kubeconfig left unset means the
        # ambient one (KUBECONFIG), which is what the local stack uses.
        mesh_provider = k8s.Provider(f"{name}-mesh-control-plane", kubeconfig=args.get("mesh_kubeconfig"),
                                     opts=child)
        data_planes = {
            cluster: k8s.Provider(
                f"{name}-data-plane-{cluster}",
                kubeconfig=kubeconfig,
                # A new registry password updates the pull Secret in place. Replacing it (the
                # provider's default for Secret data) deletes it first, and a gateway pulling
                # in between would fail.
                enable_secret_mutable=True,
                opts=child,
            )
            for cluster, kubeconfig in args["data_plane_kubeconfigs"].items()
        }
        pull_secret = PullSecret(
            f"{name}-pull-secret",
            {
                "name": args["pull_secret_name"],
                "namespace": args["plugin_namespace"],
                # The credentials must be for the hosts in the urls the gateways pull from.
                "servers": pulumi.Output.all(image_ref, *extra_refs.values()).apply(
                    lambda refs: sorted({registry_host(r) for r in refs})),
                "username": args["registry_username"],
                "password": args["registry_password"],
                "clusters": data_planes,
                "cluster_servers": cluster_hosts,
            },
            child,
        )
        verify = args.get("verify") or VerifySettings()
        digest = image_ref.apply(lambda ref: split_digest_ref(ref)[1])
        plugin_config: pulumi.Input[Mapping[str, Any]] | None = args.get("plugin_config")
        expected = pulumi.Output.all(pulumi.Output.from_input(plugin_config), digest).apply(
            lambda a: expected_answers(verify, a[0], a[1]))
        if verify.enabled:
            # The plugin stamps its deny reply with this: the check's proof of which build answers.
            plugin_config = pulumi.Output.all(pulumi.Output.from_input(plugin_config), digest).apply(
                lambda a: {**(a[0] or {}), "build": a[1]})

        fields = args.get("fields") or ExtensionFields()
        kind = args.get("extension_kind", "WasmPlugin")
        changes: list[Any] = [image_ref, plugin_config, args["registry_username"], args["registry_password"],
                              args["fail_strategy"], args["phase"], args.get("priority")]
        if kind != "WasmPlugin" or fields != ExtensionFields() or extra_plugins or cluster_hosts:
            # Only when set, so that a stack without them sees the check's inputs unchanged.
            changes.append({"kind": kind, "spec": spec_extras(fields), "vmEnv": fields.vm_env,
                            "plugins": list(extra_refs.values()), "hosts": cluster_hosts})
        triggers = pulumi.Output.all(*changes)
        extras_applied: dict[str | None, list[pulumi.Resource]] = {scope: [] for scope in scopes}

        def wasm_plugin(role: str, plugin_name: str, selector: pulumi.Input[Mapping[str, str]] | None,
                        after: list[pulumi.Resource], check_selectors: list[Mapping[str, str]],
                        plugin_fields: ExtensionFields) -> tuple[WasmPlugin, list[GatewayCheck]]:
            plugins = {
                scope: WasmPlugin(
                    f"{name}-{role}{suffix(scope)}",
                    {
                        "name": f"{plugin_name}{suffix(scope)}",
                        "namespace": args["plugin_namespace"],
                        "image_ref": placed(image_ref, scope),
                        "selector": scoped(selector, scope),
                        "phase": args["phase"],
                        "image_pull_policy": args["image_pull_policy"],
                        "image_pull_secret": pull_secret.secret_name,
                        "fail_strategy": args["fail_strategy"],
                        "plugin_config": plugin_config,
                        "priority": args.get("priority"),
                        "provider": mesh_provider,
                        "fields": plugin_fields,
                        "kind": kind,
                    },
                    # The Secret first: a gateway that sees the WasmPlugin before the Secret fails its pull.
                    pulumi.ResourceOptions(parent=self, depends_on=[pull_secret, *after]),
                )
                for scope in scopes
            }
            first = plugins[scopes[0]]
            if not verify.enabled:
                return first, []
            checks = [
                GatewayCheck(
                    # One check per cluster and per set of pods (several with targetRefs).
                    f"{name}-check-{role}-{cluster}" + (f"-{i}" if i else ""),
                    {
                        "cluster": cluster,
                        "namespace": args["plugin_namespace"],
                        "selector": check_selector,
                        "port": verify.port,
                        "url": verify.url,
                        "kubeconfig": kubeconfig,
                        "expected": expected,
                        "build": digest,
                        "timeout_s": verify.timeout_s,
                        # What the WasmPlugin and the pull Secret are made of, not their outputs: so the
                        # check registers (and its provider starts) while they are still being applied;
                        # depends_on still runs it after them.
                        "triggers": triggers,
                    },
                    # After the other plugins of the chain too: one that fails to load breaks the chain.
                    pulumi.ResourceOptions(parent=self, depends_on=[plugins[scope_of(cluster)],
                                                                    *extras_applied[scope_of(cluster)]]),
                )
                for cluster, kubeconfig in args["data_plane_kubeconfigs"].items()
                for i, check_selector in enumerate(check_selectors)
            ]
            if not pulumi.runtime.is_dry_run():  # a preview would show the last update's lines as news
                for check in checks:
                    check.passed.apply(lambda lines, c=check: [pulumi.log.info(line, resource=c)
                                                               for line in lines or []])
            return first, checks

        for scope in scopes:
            for extra in extra_plugins:
                extras_applied[scope].append(WasmPlugin(
                    f"{name}-plugin-{extra.name}{suffix(scope)}",
                    {
                        "name": f"{extra.name}{suffix(scope)}",
                        "namespace": args["plugin_namespace"],
                        "image_ref": placed(extra_refs[extra.name], scope),
                        "selector": scoped(extra.selector, scope),
                        "phase": extra.phase,
                        "image_pull_policy": extra.image_pull_policy,
                        "image_pull_secret": pull_secret.secret_name,
                        "fail_strategy": extra.fail_strategy,
                        "plugin_config": extra.plugin_config,
                        "priority": extra.priority,
                        "provider": mesh_provider,
                        "fields": extra.fields,
                        "kind": kind,
                    },
                    pulumi.ResourceOptions(parent=self, depends_on=[pull_secret]),
                ))
        canary = args.get("canary_selector")
        after: list[pulumi.Resource] = []
        if canary:
            # A new build reaches the canary gateways first; the stable WasmPlugin waits for their checks.
            canary_plugin, canary_checks = wasm_plugin("plugin-canary", f"{args['plugin_name']}-canary", canary, [],
                                                       [dict(canary)], fields)
            after = [canary_plugin, *canary_checks]
        stable_selector = args["selector"]
        check_selectors = args.get("check_selectors")
        if check_selectors is None:
            check_selectors = [stable_selector] if stable_selector is not None else []
        plugin, _ = wasm_plugin("plugin", args["plugin_name"], stable_selector, after, check_selectors, fields)

        self.image_ref = image_ref
        # The url by the image's own host (a cluster with a host of its own pulls the same digest there).
        self.oci_url = pulumi.Output.concat("oci://", image_ref)
        self.registry_endpoint = image_ref.apply(registry_host)
        self.plugin_name = plugin.plugin_name
        self.plugin_namespace = plugin.plugin_namespace
        self.pull_secret_clusters = pull_secret.clusters
        self.plugin_image_refs = pulumi.Output.all(**extra_refs) if extra_refs else pulumi.Output.from_input({})
        self.register_outputs({
            "plugin_image_refs": self.plugin_image_refs,
            "image_ref": self.image_ref,
            "oci_url": self.oci_url,
            "registry_endpoint": self.registry_endpoint,
            "plugin_name": self.plugin_name,
            "plugin_namespace": self.plugin_namespace,
            "pull_secret_clusters": self.pull_secret_clusters,
        })

    def _images(self, name: str, args: WasmPluginDeliveryArgs, extras: tuple[ExtraPlugin, ...]
                ) -> tuple[pulumi.Output[str], dict[str, pulumi.Output[str]]]:
        """The images to deploy, by digest: the plugin's and each `plugins` entry's. Registry resources
        and builds only for BuildAndPush (settings: an entry builds only in a stack that builds)."""
        source = args["image"]
        child = pulumi.ResourceOptions(parent=self)
        registry: Registry | None = None
        if isinstance(source, BuildAndPush):
            target = source.registry
            alicloud_provider = None
            if target.mode != "external":
                alicloud_provider = alicloud.Provider(f"{name}-alicloud", region=target.region, opts=child)
            registry = Registry(
                f"{name}-registry",
                {
                    "mode": target.mode,
                    "namespace": target.namespace,
                    "repository": target.repository,
                    "extra_repositories": [e.image.registry.repository for e in extras
                                           if isinstance(e.image, BuildAndPush)],
                    "region": target.region,
                    "acr_instance_id": target.acr_instance_id,
                    "endpoint": target.endpoint,
                    "alicloud_provider": alicloud_provider,
                    "keep_on_destroy": target.keep_on_destroy,
                },
                child,
            )
        ref = self._image(f"{name}-image", source, args, registry, None)
        return ref, {e.name: self._image(f"{name}-{e.name}-image", e.image, args, registry, e.name) for e in extras}

    def _image(self, name: str, source: ImageSource, args: WasmPluginDeliveryArgs, registry: Registry | None,
               entry: str | None) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        if isinstance(source, AlreadyPushed):
            return pulumi.Output.from_input(source.ref)
        if isinstance(source, Promoted):
            return PromotedImage(name, {"source_stack": source.source_stack, "requested_ref": source.requested_ref,
                                        "plugin": entry}, child).ref
        assert isinstance(source, BuildAndPush) and registry is not None
        target = source.registry
        return PluginImage(
            name,
            {
                "repository_path": registry.repository_paths[target.repository],
                "tag": target.tag,
                "wasm_file": source.wasm_file,
                "registry_server": registry.endpoint,
                "registry_username": args["registry_username"],
                "registry_password": args["registry_password"],
                "user_shown": username if isinstance(username := args["registry_username"], str)
                else "<registryUsername, secret>",
                "server_shown": target.endpoint or f"of ACR instance {target.acr_instance_id}",
            },
            child,
        ).ref
