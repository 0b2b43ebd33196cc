"""Promotes the image a source stack runs to a target stack, by digest (local stacks).

    python -m sandbox.promote [--from local] [--to prod-local] [--image-ref HOST/REPO@sha256:...] [--copy]

The target stack builds nothing: its committed config says `promoteFrom: <source>`, so its
program deploys the source stack's imageRef. An --image-ref whose digest differs is refused
(stackconfig.image_source.check_promotion, checked here before a copy and again by the
program). With --copy the image is first copied, byte for byte, into the sandbox's second
registry (the "prod registry", $SANDBOX_DIR/prod) and the copy is deployed, with a pull
Secret for the registry it names. The same steps run in .github/workflows/promote-prod.yml.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sandbox import registry
from sandbox.local_stack import REPO, Sandbox, local_stack
from sandbox.pulumi_cli import LocalStack
from stackconfig.image_source import PromotionRefused, check_promotion


def prod_registry(sb: Sandbox) -> registry.RegistryEnv:
    """The sandbox's second registry (started if needed): the prod registry of a promotion."""
    root = sb.root / "prod"
    subprocess.run([str(REPO / "scripts" / "registry-up.sh")], env={**os.environ, "SANDBOX_DIR": str(root)},
                   check=True, capture_output=True)
    return registry.read_env(root / "registry" / "env")



def copy_image(sb: Sandbox, ref: str, to: registry.RegistryEnv, repository: str, tag: str) -> str:
    """Copies ref (by digest) into `to`, keeping its digest; returns the copy's reference."""
    with tempfile.TemporaryDirectory() as tmp:
        source_auth = Path(tmp) / "source.json"
        source_auth.write_text(registry.dockerconfigjson(sb.registry.host, sb.registry.username,
                                                         sb.registry.password))
        proc = subprocess.run(
            [str(sb.ocitool), "copy", "--from", ref, "--from-dockerconfigjson", str(source_auth),
             "--from-ca", str(sb.registry.ca), "--to", to.ref(f"{repository}:{tag}"), "--ca", str(to.ca),
             "--username", to.username, "--password-stdin", "--json"],
            input=to.password, capture_output=True, text=True,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"copying {ref} into {to.host} failed: {proc.stderr.strip()}")
    return str(json.loads(proc.stdout)["ref"])


def promote(source: LocalStack, target: LocalStack, sb: Sandbox, requested: str | None = None,
            copy_to: registry.RegistryEnv | None = None, extra: Mapping[str, str] | None = None) -> str:
    """Returns the promoted reference; raises PromotionRefused for a digest the source does not run."""
    # Checked before a copy too, so that a refused image never reaches the prod registry.
    ref = check_promotion(source.stack, source.outputs().get("imageRef"), requested)
    pull_from = sb.registry
    if copy_to is not None:
        ref = copy_image(sb, ref, copy_to, "test-oci/header-authorization", "promoted")
        pull_from = copy_to
    target.ensure()  # the committed config: promoteFrom the source, no imageRef
    values = {"registryUsername": pull_from.username, "registryPassword": pull_from.password, **(extra or {})}
    if requested is not None or copy_to is not None:
        values["imageRef"] = ref
    target.set_config(values, secret=("registryPassword",))
    target.up()
    return str(target.outputs()["imageRef"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default="local")
    parser.add_argument("--to", dest="target", default="prod-local")
    parser.add_argument("--image-ref", help="the image to promote, by digest (default: the source's imageRef)")
    parser.add_argument("--copy", action="store_true", help="copy the image into the prod registry first")
    args = parser.parse_args(argv)
    sb = Sandbox.running()
    target = local_stack(sb, stack=args.target)
    target_ns = "istio-prod" if args.target == "prod-local" else None
    if target_ns:
        sb.api.ensure_namespace(target_ns)
    try:
        ref = promote(local_stack(sb, stack=args.source), target, sb, args.image_ref,
                      copy_to=prod_registry(sb) if args.copy else None)
    except PromotionRefused as err:
        print(f"promote: {err}", file=sys.stderr)
        return 1
    print(f"promoted {ref} from {args.source} to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
