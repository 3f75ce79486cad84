# shellcheck shell=bash
# Shared by every instance script (sourced, never run). Paths live behind variables with the instance
# defaults, so tests run the same scripts in a temporary directory.

: "${BNN_ROOT:=/opt/bnn-pynq}"                 # everything we install or write, except logs and /etc
: "${BNN_ENV_FILE:=/etc/bnn-pynq/env}"         # written by the CDK user-data header (BNN_STACK, buckets, ...)
: "${BNN_LOG_DIR:=/var/log/bnn-pynq}"          # shipped to CloudWatch by the agent
: "${BNN_SYSTEMD_DIR:=/etc/systemd/system}"
: "${BNN_CWAGENT_DIR:=/opt/aws/amazon-cloudwatch-agent}"
: "${BNN_SRC:=$BNN_ROOT/src}"                  # the unpacked scripts/instance asset
: "${BNN_STATE_DIR:=$BNN_ROOT/state}"          # step markers, bootstrap state, device choice
: "${BNN_RUNTIME_ENV:=$BNN_STATE_DIR/runtime.env}" # device + THEANO_FLAGS + PYTHONPATH, read by run-training.sh
: "${BNN_RUNS_DIR:=$BNN_ROOT/runs}"
: "${BNN_DATA_DIR:=$BNN_ROOT/datasets}"
# Must equal BOOTSTRAP_STATE_TAG in lib/layout.ts (a test checks it).
: "${BNN_STATE_TAG:=bnn-pynq:bootstrap}"
: "${BNN_IMDS:=http://169.254.169.254}"

# Loads the stack's values written by user-data (KEY=value lines).
load_env_file() {
  if [[ -f "$BNN_ENV_FILE" ]]; then
    set -a
    # shellcheck disable=SC1090
    . "$BNN_ENV_FILE"
    set +a
  fi
}

ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }
log() { printf '%s %s\n' "$(ts)" "$*"; }
die() {
  printf '%s error: %s\n' "$(ts)" "$*" >&2
  exit "${DIE_CODE:-1}"
}

region_args() {
  if [[ -n "${BNN_REGION:-}" ]]; then printf -- '--region\n%s\n' "$BNN_REGION"; fi
}

# `aws s3 ...` / `aws s3api ...`. The Debian awscli v2.9 in tests does not read AWS_ENDPOINT_URL, so an
# optional BNN_PYNQ_S3_ENDPOINT (set only by tests) adds --endpoint-url. Unset on an instance.
s3cli() {
  local -a extra=()
  mapfile -t extra < <(region_args)
  if [[ -n "${BNN_PYNQ_S3_ENDPOINT:-}" ]]; then extra+=(--endpoint-url "$BNN_PYNQ_S3_ENDPOINT"); fi
  aws "${extra[@]}" "$@"
}

# `aws ssm|ec2 ...` (never S3).
awscli() {
  local -a extra=()
  mapfile -t extra < <(region_args)
  aws "${extra[@]}" "$@"
}

s3_exists() { s3cli s3api head-object --bucket "$1" --key "$2" >/dev/null 2>&1; }

# IMDSv2 (the stack requires tokens).
imds() {
  local token
  token=$(curl -fsS -X PUT "$BNN_IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "$BNN_IMDS/latest/meta-data/$1"
}

instance_id() {
  if [[ "${BNN_BATCH:-false}" == true ]]; then return 0; fi # a Batch container has no instance of its own
  if [[ -z "${BNN_INSTANCE_ID:-}" ]]; then BNN_INSTANCE_ID=$(imds instance-id) || BNN_INSTANCE_ID=""; fi
  printf '%s' "$BNN_INSTANCE_ID"
}

# retry CMD ARGS...: runs a command (not a shell function that relies on set -e) up to BNN_RETRY_ATTEMPTS times
# (default 5), waiting BNN_RETRY_DELAY seconds (default 5) after the first failure and twice as long after each
# next one (5, 10, 20, 40 s): every step that needs the network goes through it, so a mirror's hiccup or a
# throttled API on a fresh instance does not fail the bootstrap. Returns the command's last status.
retry() {
  local attempt=1 max=${BNN_RETRY_ATTEMPTS:-5} delay=${BNN_RETRY_DELAY:-5} rc
  until "$@"; do
    rc=$?
    if ((attempt >= max)); then
      log "giving up after $attempt attempts (exit $rc): $*"
      return "$rc"
    fi
    log "attempt $attempt of $max failed (exit $rc), retrying in ${delay}s: $*"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# Downloads URL to DEST (via a temporary file, so DEST is never partial), with retry's attempts and backoff for
# what can pass (a dropped connection, a timeout, HTTP 5xx, 408, 429). An HTTP 4xx refusal is final: it is not
# retried, so a caller with mirrors moves on to the next one at once.
fetch_url() {
  local url=$1 dest=$2 attempt=1 max=${BNN_RETRY_ATTEMPTS:-5} delay=${BNN_RETRY_DELAY:-5} code rc
  while :; do
    rm -f "$dest.part"
    rc=0
    # curl's own complaint goes to stdout (the log), the status code to a file; the caller decides what is an error.
    { curl -fsSL --connect-timeout 20 -w '%{http_code}' -o "$dest.part" "$url" >"$dest.code"; } 2>&1 || rc=$?
    code=$(cat "$dest.code" 2>/dev/null || true)
    rm -f "$dest.code"
    if ((rc == 0)); then
      mv -f "$dest.part" "$dest"
      return 0
    fi
    rm -f "$dest.part"
    if [[ "$code" =~ ^4[0-9][0-9]$ && "$code" != 408 && "$code" != 429 ]]; then
      log "$url: HTTP $code (not retried)"
      return 1
    fi
    if ((attempt >= max)); then
      log "giving up after $attempt attempts (exit $rc): $url"
      return 1
    fi
    log "attempt $attempt of $max failed (exit $rc), retrying in ${delay}s: $url"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# Moves TMP over DEST only when the content differs (a re-run leaves files, and their mtimes, alone).
replace_if_changed() {
  if cmp -s "$1" "$2"; then rm -f "$1"; else mv -f "$1" "$2"; fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# A state string made safe for a tag value / SSM parameter: printable ASCII without quotes or commas, ≤ 250.
clean_state() {
  printf '%s' "$1" | tr -c 'A-Za-z0-9 .:_/=+()@-' ' ' | tr -s ' ' | cut -c1-250 | sed 's/ *$//'
}

# Publishes the bootstrap state: a local file (train.sh reads it), the SSM parameter and the instance tag.
# Publishing problems are logged, never fatal: the local state and the CloudWatch log still tell the story.
publish_state() {
  local state
  state=$(clean_state "$1")
  mkdir -p "$BNN_STATE_DIR"
  printf '%s\n' "$state" >"$BNN_STATE_DIR/bootstrap-state.tmp"
  replace_if_changed "$BNN_STATE_DIR/bootstrap-state.tmp" "$BNN_STATE_DIR/bootstrap-state"
  log "state: $state"
  if [[ -n "${BNN_STATE_PARAM:-}" ]]; then
    awscli ssm put-parameter --name "$BNN_STATE_PARAM" --type String --overwrite --value "$state" >/dev/null ||
      log "warning: could not write SSM parameter $BNN_STATE_PARAM"
  fi
  local id
  id=$(instance_id)
  if [[ -n "$id" ]]; then
    awscli ec2 create-tags --resources "$id" --tags "[{\"Key\":\"$BNN_STATE_TAG\",\"Value\":\"$state\"}]" >/dev/null ||
      log "warning: could not tag $id with $BNN_STATE_TAG"
  else
    log "warning: no instance id from the metadata service; tag $BNN_STATE_TAG not set"
  fi
}

# Where the instance's own records go in the ArtifactBucket: instance/<instance-id>/ (lib/layout.ts
# instanceRecordKeys; a test checks the two agree).
: "${BNN_INSTANCE_RECORD_PREFIX:=instance/}"

# publish_instance_records FIRST_EPOCH_JSON ENV_LOCK: copies the first-boot measurement and the environment lock
# (micromamba's explicit export: every package with version and build) to S3, where `bnn-pynq status` reads them.
# Not fatal: the files stay in $BNN_STATE_DIR and the log says so.
publish_instance_records() {
  local id prefix
  id=$(instance_id)
  if [[ -z "$id" || -z "${BNN_ARTIFACT_BUCKET:-}" ]]; then
    log "warning: no instance id or artifact bucket: first-epoch record kept in $BNN_STATE_DIR only"
    return 0
  fi
  prefix="s3://$BNN_ARTIFACT_BUCKET/$BNN_INSTANCE_RECORD_PREFIX$id"
  retry s3cli s3 cp --only-show-errors --content-type application/json "$1" "$prefix/first-epoch.json" ||
    log "warning: could not upload $1 to $prefix/"
  if [[ -f "$2" ]]; then
    retry s3cli s3 cp --only-show-errors --content-type text/plain "$2" "$prefix/environment.lock.txt" ||
      log "warning: could not upload $2 to $prefix/"
  fi
}

current_bootstrap_state() { cat "$BNN_STATE_DIR/bootstrap-state" 2>/dev/null || printf 'pending'; }

# shellcheck disable=SC2034 # used by the scripts that source this file
# Run-id and dataset-name rules; must equal RUN_ID_PATTERN and DATASET_NAME_PATTERN in lib/layout.ts (tested).
RUN_ID_RE='^[a-z0-9][a-z0-9-]{2,79}$'
# shellcheck disable=SC2034
DATASET_RE='^[a-z0-9][a-z0-9-]{0,62}$'
# shellcheck disable=SC2034
# Sweep ids (Batch jobs); must equal SWEEP_ID_PATTERN in lib/layout.ts (tested).
SWEEP_ID_RE='^[0-9]{8}-[0-9]{6}-sweep-[0-9a-f]{4}$'
