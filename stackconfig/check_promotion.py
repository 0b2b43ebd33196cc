"""The promotion check from a shell (the promote workflow), the same function the program runs.

    python -m stackconfig.check_promotion SOURCE_STACK SOURCE_REF [REQUESTED_REF]

Prints the reference to deploy; exits 1 with the reason when the promotion is refused.
"""

from __future__ import annotations

import sys

from stackconfig.image_source import check_promotion


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    source_stack, source_ref = argv[0], argv[1]
    requested = argv[2] if len(argv) == 3 and argv[2] else None
    try:
        print(check_promotion(source_stack, source_ref, requested))
    except ValueError as err:
        print(f"promotion refused: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
