"""Promotion by digest: deploy the image another stack (dev) runs, never a rebuild."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi

from components.settings import split_digest_ref


class PromotionRefused(ValueError):
    """The image asked for is not the one the source stack runs."""


def check_promotion(source_stack: str, source_ref: Any, requested_ref: str | None) -> str:
    """The reference to deploy: the source stack's imageRef, or the requested one if it has the same digest.

    The requested reference may name another registry (a copy in the prod registry); only the
    digest must be the source stack's.
    """
    if not isinstance(source_ref, str) or not source_ref:
        raise PromotionRefused(f"stack {source_stack} has no imageRef output to promote: run `pulumi up` on it first")
    _, source_digest = split_digest_ref(source_ref)
    if requested_ref is None:
        return source_ref
    _, requested_digest = split_digest_ref(requested_ref)
    if requested_digest != source_digest:
        raise PromotionRefused(
            f"refusing to promote {requested_ref}: its digest {requested_digest} is not the one stack "
            f"{source_stack} runs ({source_digest}); promote {source_ref}, or deploy that image to "
            f"{source_stack} first")
    return requested_ref


class PromotedImageArgs(TypedDict):
    source_stack: str
    """Fully qualified name of the stack whose imageRef is promoted, e.g. my-org/asm-wasm-plugin/dev."""
    requested_ref: NotRequired[str | None]
    """An image by digest to deploy; refused unless its digest is the source stack's."""


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
        self.ref = source.get_output("imageRef").apply(
            lambda ref: check_promotion(args["source_stack"], ref, requested))
        self.digest = self.ref.apply(lambda ref: split_digest_ref(ref)[1])
        self.register_outputs({"ref": self.ref, "digest": self.digest})
