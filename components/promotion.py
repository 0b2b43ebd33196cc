"""Promotion by digest: deploy the image another stack (dev) runs, never a rebuild."""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pulumi

from stackconfig.image_source import check_promotion, split_digest_ref


class PromotedImageArgs(TypedDict):
    source_stack: str
    """Name of the stack whose imageRef is promoted: dev, or my-org/asm-wasm-plugin/dev."""
    requested_ref: NotRequired[str | None]
    """An image by digest to deploy; refused unless its digest is the source stack's."""
    plugin: NotRequired[str | None]
    """A `plugins` entry: its image is the source stack's pluginImageRefs[plugin]; None: imageRef."""


class PromotedImage(pulumi.ComponentResource):
    ref: pulumi.Output[str]
    """The promoted image, pinned by digest."""
    digest: pulumi.Output[str]
    """sha256:... of the promoted image."""

    def __init__(self, name: str, args: PromotedImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:PromotedImage", name, None, opts)
        source = pulumi.StackReference(f"{name}-source", stack_name=args["source_stack"],
                                       opts=pulumi.ResourceOptions(parent=self))
        requested = args.get("requested_ref")
        plugin = args.get("plugin")
        if plugin is None:
            found = source.get_output("imageRef")
        else:
            found = source.get_output("pluginImageRefs").apply(lambda refs: (refs or {}).get(plugin))
        where = args["source_stack"] if plugin is None else f"{args['source_stack']} (plugin {plugin})"
        self.ref = found.apply(lambda ref: check_promotion(where, ref, requested))
        self.digest = self.ref.apply(lambda ref: split_digest_ref(ref)[1])
        self.register_outputs({"ref": self.ref, "digest": self.digest})
