"""Where the plugin image comes from: the one place that decides it.

A stack either builds plugin.wasm into an image and pushes it to a registry it manages
(`BuildAndPush`), deploys an image already pushed, by digest (`AlreadyPushed`), or deploys
the image another stack runs (`Promoted`, checked by `check_promotion`). Only
`BuildAndPush` has registry resources and a build. Pure Python: no Pulumi calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RegistryMode = Literal["acr-ee", "acr-personal", "external"]

DIGEST_REF = re.compile(r"^(?P<repo>(?P<host>[^/@\s]+)/[^@\s]+)@(?P<digest>sha256:[a-f0-9]{64})$")


@dataclass(frozen=True)
class RegistryTarget:
    """The repository this stack pushes to, and manages unless the mode is external."""

    mode: RegistryMode
    namespace: str
    repository: str
    tag: str
    region: str
    acr_instance_id: str | None = None
    endpoint: str | None = None
    """Registry host; None for acr-ee means: looked up from the instance."""
    keep_on_destroy: bool = True
    """Leave the ACR namespace and repository in place on `pulumi destroy` (retain_on_delete)."""


@dataclass(frozen=True)
class BuildAndPush:
    wasm_file: Path
    registry: RegistryTarget


@dataclass(frozen=True)
class AlreadyPushed:
    ref: str
    """host/namespace/repository@sha256:..."""


@dataclass(frozen=True)
class Promoted:
    source_stack: str
    """The stack whose imageRef output is deployed, e.g. my-org/asm-wasm-plugin/dev."""
    requested_ref: str | None = None
    """A copy of that image (same digest, maybe another registry) to deploy instead."""


ImageSource = BuildAndPush | AlreadyPushed | Promoted


def decide_image_source(
    *, image_ref: str | None, promote_from: str | None, wasm_file: Path | None, registry: RegistryTarget | None
) -> ImageSource:
    """Promotion wins over a pinned image, which wins over a build: a stack that names an
    image to deploy never builds, whatever else its configuration says."""
    if promote_from is not None:
        return Promoted(promote_from, image_ref)
    if image_ref is not None:
        return AlreadyPushed(image_ref)
    if wasm_file is None or registry is None:
        raise ValueError("decide_image_source: a build needs wasm_file and registry")
    return BuildAndPush(wasm_file, registry)


def split_digest_ref(ref: str) -> tuple[str, str]:
    """'host/ns/repo@sha256:…' -> ('host/ns/repo', 'sha256:…')."""
    match = DIGEST_REF.match(ref)
    if not match:
        raise ValueError(f"image reference {ref!r} is not pinned by digest (expected host/repo@sha256:<64 hex>)")
    return match["repo"], match["digest"]


def registry_host(ref: str) -> str:
    """The registry host of an image reference: what a pull secret must name."""
    return ref.split("/", 1)[0]


class PromotionRefused(ValueError):
    """The image asked for is not the one the source stack runs."""


def check_promotion(source_stack: str, source_ref: object, requested_ref: str | None) -> str:
    """The reference to deploy: the source stack's imageRef, or the requested one if it has the same digest.

    The requested reference may name another registry (a copy in the prod registry); only the
    digest must be the source stack's. The only promotion check: the program, the promote
    workflow and `python -m sandbox.promote` all go through it.
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
