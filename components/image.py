"""The plugin image: built FROM scratch with plugin.wasm at its root, pushed, referenced by digest."""

from __future__ import annotations

from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_docker as docker

from components.settings import split_digest_ref


class PluginImageArgs(TypedDict):
    repository_path: pulumi.Input[str]
    """Image name without tag, e.g. host/test-oci/header-authorization."""
    tag: str
    """Tag pushed alongside the digest, e.g. v0.0.1 (deployments use the digest)."""
    wasm_file: NotRequired[Path | None]
    """plugin.wasm to package; its folder is the build context and holds the Dockerfile."""
    prebuilt_ref: NotRequired[str | None]
    """An image already pushed, by digest: nothing is built (promotion)."""
    registry_server: NotRequired[pulumi.Input[str] | None]
    """Registry to log in to for the push."""
    registry_username: NotRequired[pulumi.Input[str] | None]
    """Registry user for the push."""
    registry_password: NotRequired[pulumi.Input[str] | None]
    """Registry password for the push (kept secret)."""


class PluginImage(pulumi.ComponentResource):
    ref: pulumi.Output[str]
    """The pushed image, pinned by digest: repository@sha256:..."""
    digest: pulumi.Output[str]
    """sha256:... of the image manifest."""

    def __init__(self, name: str, args: PluginImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:PluginImage", name, None, opts)
        prebuilt = args.get("prebuilt_ref")
        wasm_file = args.get("wasm_file")
        if prebuilt:
            split_digest_ref(prebuilt)  # refuses a tag-only reference
            self.ref = pulumi.Output.from_input(prebuilt)
        elif wasm_file is not None:
            context = wasm_file.parent
            image = docker.Image(
                f"{name}-image",
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
                    server=args.get("registry_server"),
                    username=args.get("registry_username"),
                    password=pulumi.Output.secret(args.get("registry_password")),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.ref = image.repo_digest.apply(_require_digest)
        else:
            raise ValueError("PluginImage: give wasm_file to build or prebuilt_ref to reuse an image")
        self.digest = self.ref.apply(lambda ref: split_digest_ref(ref)[1])
        self.register_outputs({"ref": self.ref, "digest": self.digest})


def _require_digest(ref: str | None) -> str:
    if not ref or "@sha256:" not in ref:
        raise ValueError(f"the registry returned no digest for the pushed image (got {ref!r})")
    return ref
