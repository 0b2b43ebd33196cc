"""`make preview`: the pull request's preview comment, for the sandbox's stacks.

On a pull request, .github/workflows/pull-request.yml runs `pulumi preview --diff`
of the dev and prod stacks through pulumi/actions, which posts each output as a
comment. This runs the same preview of the local stacks on the sandbox (the
registry plays ACR, the API server plays ASM) and prints the same comments as
Markdown on stdout; progress goes to stderr, so the output can be pasted as is.

    python -m sandbox.preview [STACK ...]

Without arguments: every stack of DEFAULT_STACKS that has a committed
Pulumi.<stack>.yaml. Each stack gets the plugin image pushed to the sandbox
registry, by digest (as `make demo` does), so a promotion stack such as
prod-local previews the same image as local. The exit status is 1 if a preview
failed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.local_stack import REPO, Sandbox, configure, local_stack, push_plugin
from stackconfig.settings import PROJECT

DEFAULT_STACKS: tuple[str, ...] = ("local", "prod-local")
"""The sandbox's stacks, in preview order; those without a Pulumi.<stack>.yaml are skipped."""
POLICY_PACK = REPO / "policy"
"""The guardrails every preview runs, as the pull request workflow does (policyPacks: policy)."""

# pulumi/actions keeps the last 64,000 characters of the output (a GitHub comment
# holds at most 65,535) and says so under the output.
MAX_OUTPUT_CHARS = 64_000
TRIMMED_NOTE = ":warning: **Warn**: The output was too long and trimmed from the front."

# A step marker of `pulumi preview --diff` (+ create, - delete, ~ update, +- replace,
# ++/-- create/delete a replacement, > read, = import, ...) after its indentation.
_MARKER = re.compile(r"^(?P<indent> +)(?P<marker>[-+~<>=]{1,2}) ")


@dataclass(frozen=True)
class Preview:
    stack: str
    succeeded: bool
    output: str
    """What pulumi printed: stdout, then stderr when the preview failed."""


def say(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


def committed_stacks(candidates: Sequence[str], project_dir: Path = REPO) -> list[str]:
    """The candidates that have a Pulumi.<stack>.yaml in the project, in order."""
    return [stack for stack in candidates if (project_dir / f"Pulumi.{stack}.yaml").is_file()]


def diff_markup(output: str) -> str:
    """Moves each indented step marker to the first column, where a diff block colours it.

    `    + kubernetes:core/v1:Secret: (create)` becomes `+     kubernetes:core/v1:Secret: (create)`:
    same width and text, only the marker moves.
    """
    lines = []
    for line in output.splitlines():
        match = _MARKER.match(line)
        if match:
            line = f"{match['marker']}{match['indent']}{line[match.end('marker'):]}"
        lines.append(line)
    return "\n".join(lines)


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in the text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def comment(preview: Preview, project: str = PROJECT) -> str:
    """The comment pulumi/actions posts for `preview`, with the output in a diff block."""
    output = preview.output.strip("\n")
    trimmed = len(output) > MAX_OUTPUT_CHARS
    if trimmed:
        output = output[-MAX_OUTPUT_CHARS:]
    body = diff_markup(output)
    fence = _fence(body)
    parts = [
        f"#### :tropical_drink: `preview` on {project}/{preview.stack}",
        "",
        "<details>",
        "<summary>Pulumi report</summary>",
        "",
        f"{fence}diff",
        body,
        fence,
    ]
    if trimmed:
        parts += ["", TRIMMED_NOTE]
    if not preview.succeeded:
        parts += ["", f":x: `pulumi preview` of {preview.stack} failed."]
    parts += ["</details>", ""]
    return "\n".join(parts)


def preview_argv(stack: str, config_file: Path) -> list[str]:
    """`pulumi preview` as the pull request workflow runs it: with the diff and the policy pack."""
    return ["preview", "--diff", "--color", "never", "--policy-pack", str(POLICY_PACK), "--stack", stack,
            "--config-file", str(config_file)]


def run_previews(stacks: Sequence[str]) -> list[Preview]:
    """Brings up the sandbox, pushes the plugin, configures each stack and previews it."""
    wasm = REPO / "plugin" / "plugin.wasm"
    if not wasm.is_file():
        raise SystemExit(f"{wasm.relative_to(REPO)} does not exist: build it with `make plugin`")

    say("sandbox: TLS registry (plays ACR) and kube-apiserver with the WasmPlugin CRD (plays ASM)")
    sys.stdout.flush()
    # Its progress goes to stderr: stdout carries only the comments.
    subprocess.run([str(REPO / "scripts" / "sandbox-up.sh")], check=True, stdout=sys.stderr)
    sb = Sandbox.running()

    say(f"push {wasm.relative_to(REPO)} to {sb.registry.host}/test-oci/header-authorization")
    pushed = push_plugin(sb, wasm)
    say(f"pushed {pushed.ref}")

    previews = []
    for name in stacks:
        say(f"pulumi preview --diff (stack {name})")
        stack = local_stack(sb, stack=name)
        configure(stack, sb, pushed.ref)
        result = stack.run(*preview_argv(stack.stack, stack.config_file), check=False)
        succeeded = result.returncode == 0
        output = result.stdout if succeeded else "\n".join(filter(None, (result.stdout, result.stderr)))
        previews.append(Preview(name, succeeded, output))
    return previews


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.preview", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", metavar="STACK",
                        help=f"local stacks to preview (default: those of {', '.join(DEFAULT_STACKS)} "
                             "that have a Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)

    if args.stacks:
        missing = [s for s in args.stacks if s not in committed_stacks(args.stacks)]
        if missing:
            parser.error(", ".join(f"stack {s!r} has no Pulumi.{s}.yaml in {REPO}" for s in missing))
        stacks = list(args.stacks)
    else:
        stacks = committed_stacks(DEFAULT_STACKS)
        skipped = [s for s in DEFAULT_STACKS if s not in stacks]
        if skipped:
            say(f"skipping {', '.join(skipped)}: no Pulumi.<stack>.yaml yet")
        if not stacks:
            parser.error(f"none of {', '.join(DEFAULT_STACKS)} has a Pulumi.<stack>.yaml in {REPO}")

    previews = run_previews(stacks)
    print("\n".join(comment(p) for p in previews), end="", flush=True)
    failed = [p.stack for p in previews if not p.succeeded]
    if failed:
        say(f"preview failed for {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
