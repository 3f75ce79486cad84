#!/usr/bin/env bash
# Applies the project's patch set for one upstream component to a source tree (an unpacked archive or a git checkout).
#   apply.sh <component> <tree>      component: bnn-pynq | pylearn2 (folders next to this script)
# The same patches run on the instance (bootstrap) and in CI (scripts/dev/cpu-env.sh): one patch set, one behaviour.
# Idempotent: a patch that is already applied is recognised (its reverse applies cleanly) and skipped; a patch that
# neither applies nor is already applied is an error that names the patch and the tree.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 2 ]; then
  echo "usage: apply.sh <component> <tree>" >&2
  exit 2
fi
component="$1"
tree="$2"
dir="$here/$component"
if [ ! -d "$dir" ]; then
  echo "apply.sh: no patch set for component '$component' (have: $(find "$here" -mindepth 1 -maxdepth 1 -type d -printf '%f ')))" >&2
  exit 2
fi
if [ ! -d "$tree" ]; then
  echo "apply.sh: source tree '$tree' does not exist" >&2
  exit 2
fi
shopt -s nullglob
for p in "$dir"/*.patch; do
  name="$component/$(basename "$p")"
  if patch -p1 --dry-run --batch --silent --forward -d "$tree" <"$p" >/dev/null 2>&1; then
    patch -p1 --batch --silent --forward --no-backup-if-mismatch -d "$tree" <"$p"
    echo "apply.sh: applied $name" >&2
  elif patch -p1 --dry-run --batch --silent --reverse -d "$tree" <"$p" >/dev/null 2>&1; then
    echo "apply.sh: $name already applied" >&2
  else
    echo "apply.sh: $name does not apply to $tree (is it the pinned upstream commit?)" >&2
    exit 1
  fi
done
