"""The plugin image: built FROM scratch with plugin.wasm at its root, pushed, referenced by digest."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from stackconfig.image_source import split_digest_ref


class PluginImageArgs(TypedDict):
    repository_path: pulumi.Input[str]
    """Image name without tag, e.g. host/test-oci/header-authorization."""
    tag: pulumi.Input[str]
    """Tag pushed alongside the digest, e.g. v0.0.1 (deployments use the digest)."""
    wasm_file: Path
    """plugin.wasm to package; its folder is the build context and holds the Dockerfile."""
    registry_server: pulumi.Input[str]
    """Registry to log in to for the push."""
    registry_username: pulumi.Input[str]
    """Registry user for the push."""
    registry_password: pulumi.Input[str]
    """Registry password for the push (a secret Output)."""
    user_shown: str
    """How the user is named in messages: the user, or a placeholder when registryUsername is secret."""
    server_shown: str
    """How the registry is named in messages (its host, when the config gives it)."""


class PluginImage(pulumi.ComponentResource):
    ref: pulumi.Output[str]
    """The pushed image, pinned by digest: repository@sha256:..."""
    digest: pulumi.Output[str]
    """sha256:... of the image manifest."""

    def __init__(self, name: str, args: PluginImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:PluginImage", name, None, opts)
        context = args["wasm_file"].parent
        # The provider's push error names the repository but not the user: say both first, before
        # the image is registered, so that the line is out even when the push fails.
        pulumi.log.info(f"pushes to registry {args['server_shown']} as user {args['user_shown']}", resource=self)
        image = docker.Image(
            # The component's one resource takes its name; `-image` was its old suffix.
            name,
            image_name=pulumi.Output.concat(args["repository_path"], ":", args["tag"]),
            build=docker.DockerBuildArgs(
                context=str(context),
                dockerfile=str(context / "Dockerfile"),
                # One platform and the classic builder: the pushed digest is then the manifest
                # digest that Istio verifies (no index, no attestations).
                platform="linux/amd64",
                builder_version=docker.BuilderVersion.BUILDER_V1,
            ),
            registry=docker.RegistryArgs(
                server=args["registry_server"],
                username=args["registry_username"],
                password=args["registry_password"],
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-image")]),
        )
        self.ref = image.repo_digest.apply(_require_digest)
        self.digest = self.ref.apply(lambda ref: split_digest_ref(ref)[1])
        self.register_outputs({"ref": self.ref, "digest": self.digest})


def _require_digest(ref: str | None) -> str:
    if not ref or "@sha256:" not in ref:
        raise ValueError(f"the registry returned no digest for the pushed image (got {ref!r})")
    return ref
