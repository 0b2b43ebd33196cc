"""Promotes the image a source stack runs to a target stack, by digest (local stacks).

    python -m sandbox.promote [--from local] [--to prod-local] [--image-ref HOST/REPO@sha256:...]

Reads the source stack's imageRef output; an --image-ref whose digest differs is refused.
The target builds nothing: its imageRef is set and `pulumi up` deploys a WasmPlugin pinned
to that digest. The same steps run in .github/workflows/promote-prod.yml.
"""

from __future__ import annotations

import argparse
import sys

from components.promotion import PromotionRefused, check_promotion
from sandbox.local_stack import Sandbox, local_stack
from sandbox.pulumi_cli import LocalStack


def promote(source: LocalStack, target: LocalStack, sb: Sandbox, requested: str | None = None) -> str:
    """Returns the promoted reference; raises PromotionRefused for a digest the source does not run."""
    ref = check_promotion(source.stack, source.outputs().get("imageRef"), requested)
    target.ensure()
    target.set_config({
        "registryEndpoint": sb.registry.host,
        "registryUsername": sb.registry.username,
        "registryPassword": sb.registry.password,
        "imageRef": ref,
    }, secret=("registryPassword",))
    target.up()
    return ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default="local")
    parser.add_argument("--to", dest="target", default="prod-local")
    parser.add_argument("--image-ref", help="the image to promote, by digest (default: the source's imageRef)")
    args = parser.parse_args(argv)
    sb = Sandbox.running()
    target = local_stack(sb, stack=args.target)
    target_ns = "istio-prod" if args.target == "prod-local" else None
    if target_ns:
        sb.api.ensure_namespace(target_ns)
    try:
        ref = promote(local_stack(sb, stack=args.source), target, sb, args.image_ref)
    except PromotionRefused as err:
        print(f"promote: {err}", file=sys.stderr)
        return 1
    print(f"promoted {ref} from {args.source} to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
