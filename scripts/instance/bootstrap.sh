#!/usr/bin/env bash
# Installs the pinned training environment and decides the device. Run by user-data on first boot and by
# bnn-pynq-boot.service on every boot: idempotent (each install step leaves a marker holding what it
# installed and is skipped when that still matches) and reboot-safe (an interrupted step has no marker and
# is redone). Every step is logged to $BNN_LOG_DIR/bootstrap.log (shipped to CloudWatch) and the state is
# published: installing → ready: gpu | ready: cpu | ready: cpu (gpu check failed: <reason>) | failed: <step>.
# The first boot also trains one LFC epoch on the chosen device and records how fast (first-epoch.json, in S3).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
load_env_file
# shellcheck source=environment/pins.env
. "$HERE/environment/pins.env"

: "${BNN_ENV:=$BNN_ROOT/env}"               # the conda environment (python, theano, pygpu, ...)
: "${BNN_MAMBA_ROOT:=$BNN_ROOT/mamba}"
: "${BNN_MICROMAMBA:=$BNN_ROOT/bin/micromamba}"
: "${BNN_SOURCES:=$BNN_ROOT/sources}"       # Lasagne, pylearn2, BNN-PYNQ at pinned commits
: "${BNN_SMOKE_TIMEOUT:=900}"               # the first theano compile takes minutes

# Target (docs/sweeps.md): `instance` (default) is the training instance, first boot and every boot.
# `image` builds the sweep image (scripts/instance/batch/Dockerfile): no systemd, no CloudWatch agent, no SSM or
# tags, the aws CLI from apt, the GPU packages always (no driver at build time), and no device decision.
# `container` is a Batch job's start: every install step is already done in the image, so only the shared device
# check runs (GPU probe, CUDA links to the driver library that appears only now, smoke check, runtime.env).
BNN_TARGET=${1:-instance}
case "$BNN_TARGET" in
  instance | image | container) ;;
  *) echo "usage: bootstrap.sh [instance|image|container]" >&2; exit 2 ;;
esac
if [[ $BNN_TARGET != instance ]]; then
  # No instance to tag and no SSM parameter to report to: the state is the local file and the log.
  publish_state() {
    mkdir -p "$BNN_STATE_DIR"
    printf '%s\n' "$(clean_state "$1")" >"$BNN_STATE_DIR/bootstrap-state"
    log "state: $(clean_state "$1")"
  }
  # The first-epoch record belongs to an instance (instance/<id>/ in S3); a container keeps it local.
  publish_instance_records() { log "first-epoch record kept in $BNN_STATE_DIR (no instance)"; }
fi

mkdir -p "$BNN_LOG_DIR" "$BNN_STATE_DIR/steps" "$BNN_ROOT/bin"
exec > >(tee -a "$BNN_LOG_DIR/bootstrap.log") 2>&1

CURRENT_STEP=""
PUBLISHED_INSTALLING=false # `installing` is published only when something is actually installed
on_exit() {
  local rc=$?
  if [[ $rc -ne 0 && -n "$CURRENT_STEP" ]]; then
    log "step $CURRENT_STEP failed (exit $rc); see $BNN_LOG_DIR/bootstrap.log"
    publish_state "failed: $CURRENT_STEP"
  fi
}
trap on_exit EXIT

# step NAME KEY FUNCTION: runs FUNCTION unless the marker of NAME holds KEY (what that step installed).
step() {
  local name=$1 key=$2 fn=$3 marker="$BNN_STATE_DIR/steps/$1.done"
  CURRENT_STEP=$name
  if [[ -f "$marker" && "$(cat "$marker")" == "$key" ]]; then
    log "step $name: already done"
  else
    if [[ $PUBLISHED_INSTALLING == false ]]; then
      publish_state installing
      PUBLISHED_INSTALLING=true
    fi
    log "step $name: start"
    rm -f "$marker"
    "$fn"
    printf '%s' "$key" >"$marker"
    log "step $name: done"
  fi
  CURRENT_STEP=""
}

# ---------------------------------------------------------------------------------------------------
# Device probe: nvidia-smi must exist and answer. (The theano smoke check decides later.)
# GPU_FAILURE is set when a GPU was expected (driver present, or the stack says GPU instance) but is not
# usable: then the state says so loudly. A CPU instance type without a driver is plain `ready: cpu`.
GPU_FAILURE=""
probe_gpu() {
  if [[ "${BNN_DEVICE_HINT:-}" == "cpu" ]]; then
    log "BNN_DEVICE_HINT=cpu: not looking for a GPU"
    return 1
  fi
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    log "nvidia-smi not found"
    if [[ "${BNN_DEVICE_HINT:-}" == "gpu" ]]; then GPU_FAILURE="nvidia-smi not found"; fi
    return 1
  fi
  local out
  if ! out=$(timeout 60 nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>&1); then
    GPU_FAILURE="nvidia-smi failed: $(printf '%s' "$out" | grep -v '^[[:space:]]*$' | head -n1)"
    return 1
  fi
  log "nvidia-smi: $out"
  return 0
}

HAS_GPU=false
if probe_gpu; then HAS_GPU=true; fi

CONDA_SPEC="$CONDA_PACKAGES"
if $HAS_GPU || [[ $BNN_TARGET != instance ]]; then CONDA_SPEC="$CONDA_PACKAGES $CONDA_PACKAGES_GPU"; fi
SYSTEM_PACKAGES="g++ patch jq curl"
if [[ $BNN_TARGET != instance ]]; then SYSTEM_PACKAGES="$SYSTEM_PACKAGES awscli"; fi

# ---------------------------------------------------------------------------------------------------
install_system_packages() {
  export DEBIAN_FRONTEND=noninteractive
  # On a fresh Ubuntu boot unattended-upgrades often holds the dpkg lock: wait for it instead of failing.
  retry apt-get -o DPkg::Lock::Timeout=900 update -q
  # g++: theano compiles every op; patch: source patches; jq: run.json/state.json; curl: downloads.
  # shellcheck disable=SC2086 # a list of package names
  retry apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $SYSTEM_PACKAGES ca-certificates
}

install_cloudwatch_agent() {
  local ctl="$BNN_CWAGENT_DIR/bin/amazon-cloudwatch-agent-ctl"
  if [[ ! -x "$ctl" ]]; then
    local deb="$BNN_ROOT/amazon-cloudwatch-agent.deb"
    fetch_url "https://s3.${BNN_REGION:-us-east-1}.amazonaws.com/amazoncloudwatch-agent-${BNN_REGION:-us-east-1}/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb" "$deb" ||
      fetch_url "https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb" "$deb"
    dpkg -i -E "$deb"
    rm -f "$deb"
  fi
  mkdir -p "$BNN_CWAGENT_DIR/etc"
  sed -e "s#__LOG_GROUP__#${BNN_LOG_GROUP:?BNN_LOG_GROUP is not set in $BNN_ENV_FILE}#g" \
    -e "s#__LOG_DIR__#$BNN_LOG_DIR#g" "$HERE/cloudwatch-agent.json" >"$BNN_CWAGENT_DIR/etc/bnn-pynq.json"
  "$ctl" -a fetch-config -m ec2 -s -c "file:$BNN_CWAGENT_DIR/etc/bnn-pynq.json"
}

install_micromamba() {
  if [[ -x "$BNN_MICROMAMBA" ]] && [[ "$("$BNN_MICROMAMBA" --version 2>/dev/null)" == "${MICROMAMBA_VERSION%-*}" ]]; then
    log "micromamba ${MICROMAMBA_VERSION%-*} already present"
    return 0
  fi
  local tmp="$BNN_ROOT/bin/micromamba.download"
  fetch_url "$MICROMAMBA_URL" "$tmp"
  local got
  got=$(sha256_of "$tmp")
  if [[ "$got" != "$MICROMAMBA_SHA256" ]]; then
    rm -f "$tmp"
    log "micromamba download $MICROMAMBA_URL has SHA-256 $got, expected $MICROMAMBA_SHA256 (environment/pins.env)"
    return 1
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$BNN_MICROMAMBA"
}

create_python_env() {
  local lock="$HERE/environment/conda-linux-64.lock"
  rm -rf "$BNN_ENV"
  if [[ -f "$lock" ]] && ! $HAS_GPU; then
    # An explicit lock exported from a good build (see environment/README.md) wins over the solver.
    retry "$BNN_MICROMAMBA" create -y -r "$BNN_MAMBA_ROOT" -p "$BNN_ENV" --file "$lock"
  else
    # The package downloads are the network part: a failed create is retried (it starts over cleanly).
    # shellcheck disable=SC2086 # the spec is a list of package specs
    retry "$BNN_MICROMAMBA" create -y -r "$BNN_MAMBA_ROOT" -p "$BNN_ENV" --override-channels -c "$CONDA_CHANNEL" \
      --strict-channel-priority $CONDA_SPEC
  fi
  # Record what the solver chose, so a good build can be frozen into environment/conda-linux-64.lock.
  "$BNN_MICROMAMBA" env export -r "$BNN_MAMBA_ROOT" -p "$BNN_ENV" --explicit >"$BNN_STATE_DIR/environment.lock.txt" ||
    log "warning: could not export the environment lock"
}

# digest DIR SPEC: "find:<subdir>" = every .py under it; otherwise a list of files.
tree_digest() {
  local dir=$1 spec=$2
  (
    cd "$dir"
    if [[ "$spec" == find:* ]]; then
      find "${spec#find:}" -type f -name '*.py' | LC_ALL=C sort | xargs -d '\n' sha256sum
    else
      # shellcheck disable=SC2086 # a list of paths without spaces
      printf '%s\n' $spec | LC_ALL=C sort | xargs -d '\n' sha256sum
    fi
  ) | sha256sum | cut -d' ' -f1
}

# fetch_source NAME URL DIGEST_FILES DIGEST: unpack a pinned archive, check it, apply our patches.
fetch_source() {
  local name=$1 url=$2 files=$3 want=$4
  local work="$BNN_SOURCES/.$name.new" archive="$BNN_SOURCES/.$name.tar.gz"
  rm -rf "$work"
  mkdir -p "$work"
  fetch_url "$url" "$archive"
  tar -xzf "$archive" -C "$work" --strip-components=1
  rm -f "$archive"
  local got
  got=$(tree_digest "$work" "$files")
  if [[ "$got" != "$want" ]]; then
    log "$name from $url: content digest $got, expected $want (environment/pins.env)"
    rm -rf "$work"
    return 1
  fi
  if [[ -d "$HERE/patches/$name" ]]; then
    bash "$HERE/patches/apply.sh" "$name" "$work"
  fi
  rm -rf "${BNN_SOURCES:?}/$name"
  mv "$work" "$BNN_SOURCES/$name"
}

install_sources() {
  mkdir -p "$BNN_SOURCES"
  fetch_source lasagne "$LASAGNE_URL" "$LASAGNE_DIGEST_FILES" "$LASAGNE_DIGEST"
  fetch_source pylearn2 "$PYLEARN2_URL" "$PYLEARN2_DIGEST_FILES" "$PYLEARN2_DIGEST"
  fetch_source bnn-pynq "$BNN_PYNQ_URL" "$BNN_PYNQ_DIGEST_FILES" "$BNN_PYNQ_DIGEST"
}

patches_key() {
  local name=$1
  cat "$HERE/patches/$name"/*.patch 2>/dev/null | sha256sum | cut -d' ' -f1
}

# libgpuarray dlopens the unversioned libcuda.so / libnvrtc.so / libcublas.so (research doc §3).
link_cuda_libs() {
  local lib="$BNN_ENV/lib" name target
  for name in libnvrtc.so libcublas.so; do
    if [[ ! -e "$lib/$name" ]]; then
      target=$(find "$lib" -maxdepth 1 -name "$name.*" | LC_ALL=C sort | head -n1)
      [[ -n "$target" ]] || { log "$name missing from $lib (cudatoolkit)"; return 1; }
      ln -sf "${target##*/}" "$lib/$name"
    fi
  done
  if ! ldconfig -p | grep -q 'libcuda\.so '; then
    target=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
    [[ -n "$target" ]] || { log "libcuda.so.1 not found by ldconfig (NVIDIA driver)"; return 1; }
    ln -sf "$target" "$lib/libcuda.so"
  fi
}

# Installs the unit templates (rendered with this host's paths). The boot service itself is installed by
# user-data.sh before anything that can fail, so a failed first boot is retried by the next one.
install_units() {
  local changed=false unit src dest
  mkdir -p "$BNN_SYSTEMD_DIR"
  for src in "$HERE/systemd/"*.service; do
    unit=${src##*/}
    dest="$BNN_SYSTEMD_DIR/$unit"
    sed -e "s#__BNN_ROOT__#$BNN_ROOT#g" -e "s#__BNN_SRC__#$BNN_SRC#g" "$src" >"$dest.tmp"
    if ! cmp -s "$dest.tmp" "$dest"; then changed=true; fi
    replace_if_changed "$dest.tmp" "$dest"
  done
  if $changed; then systemctl daemon-reload; fi
}

# ---------------------------------------------------------------------------------------------------
if [[ $BNN_TARGET == instance ]]; then
  CURRENT_STEP="systemd-units"
  install_units
fi

step system-packages "$SYSTEM_PACKAGES" install_system_packages
if [[ $BNN_TARGET == instance ]]; then
  step cloudwatch-agent "$(sha256_of "$HERE/cloudwatch-agent.json") ${BNN_LOG_GROUP:-}" install_cloudwatch_agent
fi
step micromamba "$MICROMAMBA_VERSION $MICROMAMBA_SHA256" install_micromamba
step python-env "$CONDA_SPEC" create_python_env
step sources "$LASAGNE_DIGEST $PYLEARN2_DIGEST $BNN_PYNQ_DIGEST $(patches_key lasagne) $(patches_key pylearn2) $(patches_key bnn-pynq)" install_sources

CURRENT_STEP="site-packages"
# The sources are put on the path, not pip-installed (pylearn2's setup.py is interactive; research doc §6).
site="$BNN_ENV/lib/python$ENV_PYTHON_MINOR/site-packages"
mkdir -p "$site"
printf '%s\n' "$BNN_SOURCES/lasagne" "$BNN_SOURCES/pylearn2" "$BNN_SOURCES/bnn-pynq/bnn/src/training" >"$site/bnn-pynq-sources.pth.tmp"
replace_if_changed "$site/bnn-pynq-sources.pth.tmp" "$site/bnn-pynq-sources.pth"

if [[ $BNN_TARGET == image ]]; then
  CURRENT_STEP=""
  publish_state "image: installed (the device is checked when a job starts)"
  exit 0
fi

if $HAS_GPU; then step cuda-libs "$CONDA_PACKAGES_GPU" link_cuda_libs; fi

# ---------------------------------------------------------------------------------------------------
# Smoke check on the chosen device: theano imports and computes a small graph (research doc §7).
CURRENT_STEP="smoke-check"
PYTHONPATH_RT="$HERE:$HERE/sitecustomize"
export PYTHONPATH="$PYTHONPATH_RT"
export THEANO_FLAGS_BASE="$THEANO_FLAGS_COMMON,base_compiledir=$BNN_ROOT/theano-cache"
SMOKE='import numpy as np, theano, theano.tensor as T
x = T.matrix("x")
f = theano.function([x], T.dot(x, x.T) + 1)
r = f(np.ones((4, 4), dtype="float32"))
assert float(r[0, 0]) == 5.0, r
print("smoke ok: device=%s result=%s" % (theano.config.device, r[0, 0]))'

smoke() { # smoke FLAGS → prints the output, returns python's status
  THEANO_FLAGS="$1" timeout "$BNN_SMOKE_TIMEOUT" "$BNN_ENV/bin/python" -c "$SMOKE" 2>&1
}

DEVICE=cpu
STATE="ready: cpu"
FLAGS="$THEANO_FLAGS_BASE,$THEANO_FLAGS_CPU"
# The env's own libraries first, on both devices: OpenBLAS (which theano's compiled ops link with -lopenblas)
# on CPU, and the CUDA runtime libgpuarray dlopens on GPU. The same value goes into runtime.env for the runs.
export LD_LIBRARY_PATH="$BNN_ENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if $HAS_GPU; then
  if out=$(smoke "$THEANO_FLAGS_BASE,$THEANO_FLAGS_GPU"); then
    log "$out"
    DEVICE=cuda
    STATE="ready: gpu"
    FLAGS="$THEANO_FLAGS_BASE,$THEANO_FLAGS_GPU"
  else
    log "GPU smoke check failed:"
    printf '%s\n' "$out"
    GPU_FAILURE="theano on cuda0: $(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n1)"
  fi
fi
# CPU: the state says why when a GPU was expected; theano must at least compute on the CPU.
use_cpu() {
  DEVICE=cpu
  FLAGS="$THEANO_FLAGS_BASE,$THEANO_FLAGS_CPU"
  STATE="ready: cpu"
  if [[ -n "$GPU_FAILURE" ]]; then STATE="ready: cpu (gpu check failed: $GPU_FAILURE)"; fi
  out=$(smoke "$FLAGS") || {
    printf '%s\n' "$out"
    exit 1
  }
  log "$out"
}
if [[ $DEVICE == cpu ]]; then use_cpu; fi

# ---------------------------------------------------------------------------------------------------
# The first-boot measurement (docs/instance.md "First epoch"): one real training epoch of BNN-PYNQ's LFC on 1,000
# random images with the project's own trainer (python -m bnn_train.smoke), on the chosen device. On a GPU this is
# what proves libgpuarray + the CUDA runtime + the driver train (the smoke check above only initialises the
# device); a failure falls back to CPU with the failing library in the state. Measured once per device and
# environment; the record (device name, seconds per epoch) and the environment lock go to S3.
CURRENT_STEP="smoke-epoch"
EPOCH_RECORD="$BNN_STATE_DIR/first-epoch.json"
epoch_key() { printf '%s %s %s' "$DEVICE" "$CONDA_SPEC" "$(tree_digest "$HERE" find:bnn_train)"; }
first_epoch() { # first_epoch → writes $EPOCH_RECORD.tmp, prints the output, returns python's status
  THEANO_FLAGS="$FLAGS" timeout "$BNN_SMOKE_TIMEOUT" "$BNN_ENV/bin/python" -m bnn_train.smoke \
    --device "$DEVICE" --images 1000 --out "$EPOCH_RECORD.tmp" 2>&1
}
if [[ -f "$EPOCH_RECORD" && "$(cat "$EPOCH_RECORD.key" 2>/dev/null)" == "$(epoch_key)" ]]; then
  log "first epoch on $DEVICE: measured before ($EPOCH_RECORD)"
else
  rm -f "$EPOCH_RECORD" "$EPOCH_RECORD.key"
  if ! out=$(first_epoch); then
    printf '%s\n' "$out"
    [[ $DEVICE == cuda ]] || exit 1 # CPU training does not work: failed: smoke-epoch
    log "a training epoch on the GPU failed: falling back to CPU"
    GPU_FAILURE="training epoch on cuda0: $(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n1)"
    use_cpu
    if ! out=$(first_epoch); then
      printf '%s\n' "$out"
      exit 1
    fi
  fi
  log "$out"
  mv -f "$EPOCH_RECORD.tmp" "$EPOCH_RECORD"
  epoch_key >"$EPOCH_RECORD.key"
  publish_instance_records "$EPOCH_RECORD" "$BNN_STATE_DIR/environment.lock.txt"
fi

CPUS=$(nproc 2>/dev/null || echo 2)
THREADS=$(((CPUS + 1) / 2)) # physical cores (research doc §5)
{
  printf 'BNN_DEVICE=%s\n' "$DEVICE"
  printf 'BNN_DEVICE_STATE=%q\n' "$(clean_state "$STATE")"
  printf 'THEANO_FLAGS=%s\n' "$FLAGS"
  printf 'PYTHONPATH=%s\n' "$PYTHONPATH_RT"
  printf 'BNN_PYTHON=%s\n' "$BNN_ENV/bin/python"
  printf 'OMP_NUM_THREADS=%s\n' "$THREADS"
  printf 'LD_LIBRARY_PATH=%s\n' "$BNN_ENV/lib"
} >"$BNN_RUNTIME_ENV.tmp"
replace_if_changed "$BNN_RUNTIME_ENV.tmp" "$BNN_RUNTIME_ENV"
CURRENT_STEP=""
publish_state "$STATE"
