#!/usr/bin/env bash
# Builds (once) and prints the CPU training environment made from the pinned upstream sources in ../shared/vendor:
# Theano 1.0.5, Lasagne, BNN-PYNQ's training code and pylearn2, unpacked into a cache folder OUTSIDE the repo and
# patched with the project's own patch set (scripts/instance/patches, the same patches the instance applies).
#
#   eval "$(scripts/dev/cpu-env.sh)"          # exports PYTHONPATH, THEANO_FLAGS, BNN_PYNQ_VENDOR_ENV
#   scripts/dev/cpu-env.sh --json             # the same as one JSON object
#   /usr/bin/python3 -m bnn_train --device cpu ...
#
# Environment: BNN_PYNQ_VENDOR_DIR (default <repo>/../shared/vendor), BNN_PYNQ_CACHE
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/bnn-pynq). The folder is vendor-<hash>, the hash being the SHA-256 of the
# archives' SHA256SUMS together with the patch set, so a new archive or a changed patch builds a new folder. It also
# holds the Theano compile cache (theano-cache/), which makes every run after the first one ~90 s faster.
# Idempotent and safe to run concurrently (a lock serialises the build; a half-built folder is rebuilt).
# Progress goes to stderr; only the environment goes to stdout.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
vendor="${BNN_PYNQ_VENDOR_DIR:-$repo/../shared/vendor}"
cache_root="${BNN_PYNQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bnn-pynq}"
patches="$repo/scripts/instance/patches"
python=/usr/bin/python3
format=shell
case "${1:-}" in
  --json) format=json ;;
  "") ;;
  *)
    echo "usage: cpu-env.sh [--json]" >&2
    exit 2
    ;;
esac

log() { echo "cpu-env: $*" >&2; }
die() {
  echo "cpu-env: error: $*" >&2
  exit 1
}

# 1. Debian packages (README of ../shared/vendor): installed by setup-system.sh from system-packages.txt.
needed=(python3-numpy python3-scipy python3-six python3-dev g++ libopenblas-dev)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "missing Debian packages ${missing[*]}: running scripts/dev/setup-system.sh"
  bash "$repo/scripts/dev/setup-system.sh" >&2
fi

# 2. The archives, checked against their SHA-256 sums.
[ -f "$vendor/SHA256SUMS" ] || die "no SHA256SUMS in $vendor (set BNN_PYNQ_VENDOR_DIR to the folder with the pinned archives)"
archives=(theano-rel-1.0.5.tar.gz lasagne-5d3c63c.tar.gz bnn-pynq-training-d39c1c7.tar.gz pylearn2-af81e5c.tar.gz)
for a in "${archives[@]}"; do
  grep -q " $a\$" "$vendor/SHA256SUMS" || die "$vendor/SHA256SUMS has no line for $a"
done
if ! (cd "$vendor" && sha256sum --check --quiet --strict SHA256SUMS >&2); then
  die "an archive in $vendor does not match SHA256SUMS: replace it with the pinned upstream archive"
fi

# 3. The cache folder, keyed by the archives and the patch set.
key="$({
  cat "$vendor/SHA256SUMS"
  (cd "$patches" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-16)"
envdir="$cache_root/vendor-$key"
mkdir -p "$cache_root"

pythonpath="$repo/scripts/instance/sitecustomize:$repo/scripts/instance:$envdir/Theano-rel-1.0.5:$envdir/Lasagne-5d3c63c:$envdir/BNN-PYNQ-d39c1c7/bnn/src/training:$envdir/pylearn2-af81e5c"
theano_flags="device=cpu,floatX=float32,openmp=True,openmp_elemwise_minsize=200000,blas.ldflags=-lopenblas,base_compiledir=$envdir/theano-cache"

build() {
  if [ -f "$envdir/.complete" ]; then
    return 0
  fi
  if [ -e "$envdir" ]; then
    log "removing the half-built $envdir"
    rm -rf "$envdir"
  fi
  log "building $envdir"
  mkdir -p "$envdir/theano-cache"
  for a in "${archives[@]}"; do
    tar -xzf "$vendor/$a" -C "$envdir"
  done
  bash "$patches/apply.sh" bnn-pynq "$envdir/BNN-PYNQ-d39c1c7"
  bash "$patches/apply.sh" pylearn2 "$envdir/pylearn2-af81e5c"
  # Smoke check: everything the training imports, plus pylearn2 as on the instance, and one compiled graph.
  log "smoke check (imports, one compiled Theano graph)"
  PYTHONPATH="$pythonpath" THEANO_FLAGS="$theano_flags" "$python" -W ignore -c '
import numpy as np, theano, theano.tensor as T, lasagne, lfc, quantization, quantized_net
import pylearn2.datasets
x = T.vector()
f = theano.function([x], quantization.binary_tanh_unit(x))
assert f(np.array([-0.3, 0.2], dtype=theano.config.floatX)).tolist() == [-1.0, 1.0]
' >&2 || die "the smoke check failed in $envdir (see above)"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$envdir/.complete"
  log "ready: $envdir"
}

exec 9>"$cache_root/.lock"
flock 9
build
flock -u 9

if [ "$format" = json ]; then
  "$python" -c 'import json, sys; print(json.dumps({"PYTHONPATH": sys.argv[1], "THEANO_FLAGS": sys.argv[2], "BNN_PYNQ_VENDOR_ENV": sys.argv[3]}))' \
    "$pythonpath" "$theano_flags" "$envdir"
else
  printf 'export PYTHONPATH=%q\nexport THEANO_FLAGS=%q\nexport BNN_PYNQ_VENDOR_ENV=%q\n' "$pythonpath" "$theano_flags" "$envdir"
fi
