#!/bin/bash
# User data body (the CDK app prepends a header that writes /etc/bnn-pynq/env). Kept small and self-contained:
# make sure the aws CLI exists, fetch the scripts asset (BNN_ASSET_URL) into $BNN_ROOT/src, run bootstrap.sh.
# Reboot-safe: it copies itself to $BNN_ROOT/boot.sh and installs bnn-pynq-boot.service, which runs it on every
# boot (cloud-init runs user data only on the first one), before anything that can fail: a first boot that fails
# is retried by the next boot. Every network step retries with backoff; every part is skipped when already done.
set -euo pipefail

: "${BNN_ROOT:=/opt/bnn-pynq}"
: "${BNN_ENV_FILE:=/etc/bnn-pynq/env}"
: "${BNN_LOG_DIR:=/var/log/bnn-pynq}"
: "${BNN_IMDS:=http://169.254.169.254}"
: "${BNN_SYSTEMD_DIR:=/etc/systemd/system}"
if [[ -f "$BNN_ENV_FILE" ]]; then
  set -a
  # shellcheck disable=SC1090
  . "$BNN_ENV_FILE"
  set +a
fi
: "${BNN_ASSET_URL:?BNN_ASSET_URL is not set (expected in $BNN_ENV_FILE)}"
SRC="$BNN_ROOT/src"

mkdir -p "$BNN_ROOT" "$BNN_LOG_DIR"
exec 3>&1 4>&2 # the console, for bootstrap.sh (which does its own logging)
exec > >(tee -a "$BNN_LOG_DIR/bootstrap.log") 2>&1
log() { printf '%s user-data: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# The same backoff as lib/common.sh's retry (this file cannot source it: it runs before the asset exists).
retry() {
  local attempt=1 max=${BNN_RETRY_ATTEMPTS:-5} delay=${BNN_RETRY_DELAY:-5} rc
  until "$@"; do
    rc=$?
    if ((attempt >= max)); then return "$rc"; fi
    log "attempt $attempt of $max failed (exit $rc), retrying in ${delay}s: $*"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# Before bootstrap.sh exists, failures are published here (same state names as bootstrap.sh).
fail() {
  local state="failed: $1"
  log "$state"
  if command -v aws >/dev/null 2>&1; then
    local region=() token id
    if [[ -n "${BNN_REGION:-}" ]]; then region=(--region "$BNN_REGION"); fi
    if [[ -n "${BNN_STATE_PARAM:-}" ]]; then
      aws "${region[@]}" ssm put-parameter --name "$BNN_STATE_PARAM" --type String --overwrite --value "$state" >/dev/null || true
    fi
    token=$(curl -fsS -X PUT "$BNN_IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' || true)
    id=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" "$BNN_IMDS/latest/meta-data/instance-id" || true)
    if [[ -n "$id" ]]; then
      aws "${region[@]}" ec2 create-tags --resources "$id" --tags "[{\"Key\":\"bnn-pynq:bootstrap\",\"Value\":\"$state\"}]" >/dev/null || true
    fi
  fi
  exit 1
}

# 0. The instance's current user data (header + this body), from instance metadata (IMDSv2). A `cdk deploy` that
#    changed the scripts replaces it (the instance is stopped and started for that), but cloud-init runs user data
#    only on the first boot: so the boot service runs the new user data itself, once, and it rewrites the env file
#    (new asset URL) and fetches the new scripts. Unreachable metadata changes nothing.
self="${BASH_SOURCE[0]}"
current_user_data() {
  local token
  if token=$(curl -fsS -X PUT "$BNN_IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' 2>/dev/null) &&
    curl -fsS -H "X-aws-ec2-metadata-token: $token" "$BNN_IMDS/latest/user-data" >"$BNN_ROOT/user-data.current" 2>/dev/null &&
    [[ -s "$BNN_ROOT/user-data.current" ]]; then
    return 0
  fi
  rm -f "$BNN_ROOT/user-data.current"
  return 1
}
if current_user_data; then
  if [[ "$(readlink -f "$self")" == "$(readlink -f "$BNN_ROOT/boot.sh")" ]] &&
    ! cmp -s "$BNN_ROOT/user-data.current" "$BNN_ROOT/user-data.last"; then
    log "the instance's user data changed (a redeploy): running the new one"
    mv -f "$BNN_ROOT/user-data.current" "$BNN_ROOT/user-data.last"
    exec 1>&3 2>&4 3>&- 4>&-
    exec /bin/bash "$BNN_ROOT/user-data.last"
  fi
  mv -f "$BNN_ROOT/user-data.current" "$BNN_ROOT/user-data.last"
fi

# 1. Keep a copy of this script for the boot service, and install the boot service (nothing here can fail
#    for a network reason, so from now on any failure is retried at the next boot).
if [[ -f "$self" && "$(readlink -f "$self")" != "$(readlink -f "$BNN_ROOT/boot.sh")" ]]; then
  cp -f "$self" "$BNN_ROOT/boot.sh.tmp" && mv -f "$BNN_ROOT/boot.sh.tmp" "$BNN_ROOT/boot.sh"
fi
unit="$BNN_SYSTEMD_DIR/bnn-pynq-boot.service"
mkdir -p "$BNN_SYSTEMD_DIR"
cat >"$unit.tmp" <<UNIT
# Re-runs user-data's work on every boot (cloud-init runs user data only once): fetch the scripts if
# needed, then bootstrap.sh, which skips what is installed and re-checks the device.
[Unit]
Description=bnn-pynq bootstrap (pinned training environment, device check)
Wants=network-online.target
After=network-online.target cloud-final.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/bash $BNN_ROOT/boot.sh
TimeoutStartSec=2h

[Install]
WantedBy=multi-user.target
UNIT
if cmp -s "$unit.tmp" "$unit"; then rm -f "$unit.tmp"; else
  mv -f "$unit.tmp" "$unit"
  systemctl daemon-reload || log "warning: systemctl daemon-reload failed"
fi
if [[ "$(systemctl is-enabled bnn-pynq-boot.service 2>/dev/null || true)" != enabled ]]; then
  systemctl enable bnn-pynq-boot.service || log "warning: could not enable bnn-pynq-boot.service"
fi

# 2. AWS CLI v2 from its official zip when the AMI has none (Canonical's Ubuntu images do not ship it).
if ! command -v aws >/dev/null 2>&1; then
  log "installing AWS CLI v2"
  (
    set -e
    export DEBIAN_FRONTEND=noninteractive
    retry apt-get -o DPkg::Lock::Timeout=900 update -q &&
      retry apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends unzip curl ca-certificates
    tmp=$(mktemp -d)
    retry curl -fsSL --connect-timeout 20 -o "$tmp/awscliv2.zip" https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip
    unzip -q "$tmp/awscliv2.zip" -d "$tmp"
    "$tmp/aws/install" --update
    rm -rf "$tmp"
  ) || fail awscli
fi

# 3. The scripts asset (a zip of scripts/instance/), unpacked next to the old copy and swapped in whole.
if [[ "$(cat "$SRC/.asset-url" 2>/dev/null || true)" != "$BNN_ASSET_URL" ]]; then
  log "fetching $BNN_ASSET_URL"
  endpoint=()
  if [[ -n "${BNN_PYNQ_S3_ENDPOINT:-}" ]]; then endpoint=(--endpoint-url "$BNN_PYNQ_S3_ENDPOINT"); fi
  region=()
  if [[ -n "${BNN_REGION:-}" ]]; then region=(--region "$BNN_REGION"); fi
  rm -rf "$SRC.new" "$BNN_ROOT/asset.zip"
  retry aws "${region[@]}" "${endpoint[@]}" s3 cp --only-show-errors "$BNN_ASSET_URL" "$BNN_ROOT/asset.zip" || fail asset-download
  python3 -m zipfile -e "$BNN_ROOT/asset.zip" "$SRC.new" || fail asset-unpack
  [[ -f "$SRC.new/bootstrap.sh" ]] || fail "asset-unpack (no bootstrap.sh in $BNN_ASSET_URL)"
  printf '%s' "$BNN_ASSET_URL" >"$SRC.new/.asset-url"
  rm -rf "$SRC.old" "$BNN_ROOT/asset.zip"
  if [[ -d "$SRC" ]]; then mv "$SRC" "$SRC.old"; fi
  mv "$SRC.new" "$SRC"
  rm -rf "$SRC.old"
fi

# 4. Everything else (logged step by step, state published) is bootstrap.sh's job.
exec /bin/bash "$SRC/bootstrap.sh" 1>&3 2>&4 3>&- 4>&-
