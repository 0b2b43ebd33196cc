"""`make pulumi ARGS="..."`: the Pulumi CLI on the sandbox's `local` stack, as `make demo` left it.

    make pulumi ARGS="stack output"
    make pulumi ARGS="config set --path verify.timeoutSeconds 30"
    make pulumi ARGS="preview --diff"
    make pulumi ARGS="up --yes"

Runs `pulumi ARGS` with the sandbox's backend, passphrase, kubeconfig and Docker daemon, and the
stack's config file under the sandbox (where the registry's endpoint and credentials are), so
nobody needs to know the sandbox's layout. A stack not configured yet is configured first.
"""

from __future__ import annotations

import os
import shlex
import sys

from sandbox.local_stack import Sandbox, configure, local_stack

# Commands that read or write the stack's config file (the others have no --config-file flag).
USES_CONFIG_FILE = {"config", "up", "update", "preview", "pre", "refresh", "destroy", "import", "watch"}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    sb = Sandbox.running()
    stack = local_stack(sb)
    if not stack.config_file.is_file():
        configure(stack, sb)
    extra = ["--stack", stack.stack]
    if argv[0] in USES_CONFIG_FILE:
        extra += ["--config-file", str(stack.config_file)]
    print(f"$ pulumi {shlex.join(argv)}  (stack {stack.stack}, state {stack.state_dir})", file=sys.stderr, flush=True)
    os.chdir(stack.project_dir)
    os.execvpe(stack.pulumi, [stack.pulumi, *argv, *extra], stack.env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
