"""Where the plugin image lives: an ACR instance's namespace and repository."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_alicloud as alicloud

from stackconfig.image_source import RegistryMode

SUMMARY = "Envoy proxy-wasm plugin images for Alibaba Cloud Service Mesh"


class RegistryArgs(TypedDict):
    mode: RegistryMode
    """acr-ee: an existing ACR Enterprise Edition instance; acr-personal: ACR Personal Edition;
    external: an OCI registry this stack does not manage."""
    namespace: str
    """Registry namespace, e.g. test-oci."""
    repository: str
    """Repository name, e.g. header-authorization."""
    region: str
    """Alibaba Cloud region of the registry."""
    acr_instance_id: NotRequired[str | None]
    """ACR Enterprise Edition instance id (cri-...); required for acr-ee."""
    endpoint: NotRequired[str | None]
    """Registry host to push to and pull from; looked up for acr-ee when unset."""
    alicloud_provider: NotRequired[alicloud.Provider | None]
    """Provider for the ACR resources (unused for external)."""
    extra_repositories: NotRequired[list[str]]
    """Further repositories in the same namespace (the `plugins` entries' images)."""
    keep_on_destroy: NotRequired[bool]
    """Leave the ACR namespace and repository in place on `pulumi destroy` (default True): other
    stacks (prod) may pull from them."""


class Registry(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    """Registry host, e.g. my-instance-registry.cn-hangzhou.cr.aliyuncs.com."""
    repository_path: pulumi.Output[str]
    """endpoint/namespace/repository, the image name without tag or digest."""
    repository_paths: dict[str, pulumi.Output[str]]
    """Every repository (the first and the extra ones) -> its endpoint/namespace/repository."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:Registry", name, None, opts)
        mode = args["mode"]
        repositories = list(dict.fromkeys([args["repository"], *args.get("extra_repositories", [])]))
        # retain_on_delete: a `pulumi destroy` of this stack forgets the namespace and repository but
        # leaves them, and the images prod pulls, in the registry.
        child = pulumi.ResourceOptions(parent=self, provider=args.get("alicloud_provider"),
                                       retain_on_delete=args.get("keep_on_destroy", True))

        if mode == "acr-ee":
            instance_id = args.get("acr_instance_id")
            if not instance_id:
                raise ValueError("Registry: acr_instance_id is required for mode 'acr-ee'")
            namespace = alicloud.cs.RegistryEnterpriseNamespace(
                f"{name}-namespace",
                instance_id=instance_id,
                name=args["namespace"],
                # No repositories created by a push: this stack declares the one it pushes to,
                # so a typo in an image name fails the push instead of making a new repository.
                auto_create=False,
                default_visibility="PRIVATE",
                opts=child,
            )
            repos = _repositories(name, repositories, lambda resource, repository: alicloud.cs.RegistryEnterpriseRepo(
                resource, instance_id=instance_id, namespace=namespace.name, name=repository, repo_type="PRIVATE",
                summary=SUMMARY, opts=child))
            endpoint = args.get("endpoint")
            if endpoint:
                self.endpoint = pulumi.Output.from_input(endpoint)
            else:
                instances = alicloud.cs.get_registry_enterprise_instances_output(
                    ids=[instance_id], enable_details=True,
                    opts=pulumi.InvokeOutputOptions(parent=self, provider=args.get("alicloud_provider")),
                )
                self.endpoint = instances.instances.apply(lambda found: _first_public_endpoint(instance_id, found))
        elif mode == "acr-personal":
            namespace = alicloud.cr.Namespace(
                f"{name}-namespace",
                name=args["namespace"],
                auto_create=False,
                default_visibility="PRIVATE",
                opts=child,
            )
            repos = _repositories(name, repositories, lambda resource, repository: alicloud.cr.Repo(
                resource, namespace=namespace.name, name=repository, repo_type="PRIVATE", summary=SUMMARY,
                opts=child))
            endpoint = args.get("endpoint")
            if not endpoint:
                raise ValueError("Registry: endpoint is required for mode 'acr-personal'")
            self.endpoint = pulumi.Output.from_input(endpoint)
        else:
            endpoint = args.get("endpoint")
            if not endpoint:
                raise ValueError("Registry: endpoint is required for mode 'external'")
            self.endpoint = pulumi.Output.from_input(endpoint)
        if mode == "external":  # nothing to create: the names are the config's
            repo_names = {r: pulumi.Output.from_input(f"{args['namespace']}/{r}") for r in repositories}
        else:
            repo_names = {r: pulumi.Output.all(namespace.name, repo.name).apply(lambda p: f"{p[0]}/{p[1]}")
                          for r, repo in repos.items()}

        self.repository_paths = {r: pulumi.Output.all(self.endpoint, n).apply(lambda p: f"{p[0]}/{p[1]}")
                                 for r, n in repo_names.items()}
        self.repository_path = self.repository_paths[args["repository"]]
        self.register_outputs({"endpoint": self.endpoint, "repository_path": self.repository_path})


def _repositories(name: str, repositories: list[str], make: Callable[[str, str], Any]) -> dict[str, Any]:
    """One repository resource each; the first keeps the name it always had, so existing stacks see no change."""
    return {repository: make(f"{name}-repository" if i == 0 else f"{name}-repository-{repository}", repository)
            for i, repository in enumerate(repositories)}


def _first_public_endpoint(
    instance_id: str, instances: list[alicloud.cs.outputs.GetRegistryEnterpriseInstancesInstanceResult]
) -> str:
    for instance in instances:
        if instance.public_endpoints:
            return instance.public_endpoints[0]
    raise ValueError(f"ACR Enterprise Edition instance {instance_id} has no public endpoint; set "
                     "registryEndpoint to its VPC endpoint (pulumi config set registryEndpoint HOST)")
