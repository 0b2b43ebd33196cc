#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint (scripts/build-actionlint.sh).
# actionlint also runs shellcheck on every `run:` script when shellcheck is on
# PATH (Debian package shellcheck; preinstalled on GitHub's Ubuntu runners);
# without it those scripts go unchecked, which this script says on stderr.
# Extra arguments go to actionlint (e.g. -format '{{json .}}').
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

actionlint=$("$root/scripts/build-actionlint.sh")

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if ((${#workflows[@]} == 0)); then
  echo "lint-workflows: no workflows under .github/workflows" >&2
  exit 0
fi

if command -v shellcheck >/dev/null 2>&1; then
  echo "lint-workflows: actionlint $("$actionlint" -version | head -n1) with $(shellcheck --version | awk '/^version:/ { print "shellcheck " $2 }') on ${#workflows[@]} workflow(s)" >&2
else
  echo "lint-workflows: warning: shellcheck is not on PATH, so run: scripts are not checked (apt-get install shellcheck)" >&2
fi

exec "$actionlint" "$@" "${workflows[@]}"
