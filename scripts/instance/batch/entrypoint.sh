#!/usr/bin/env bash
# One run of a sweep, as an AWS Batch array child (docs/sweeps.md). The job definition sets the stack's values
# (BNN_ARTIFACT_BUCKET, BNN_DATASET_BUCKET, BNN_REGION, BNN_BATCH=true, BNN_MAX_ATTEMPTS); `bnn-pynq sweep` sets
# BNN_SWEEP_ID; Batch sets AWS_BATCH_JOB_ARRAY_INDEX (absent for a one-run sweep) and AWS_BATCH_JOB_ATTEMPT.
#   1. index → run id through s3://<artifacts>/sweeps/<sweepId>/sweep.json
#   2. the shared device check: bootstrap.sh container (writes runtime.env, as on the instance)
#   3. exec run-training.sh <runId> in Batch mode; its exit code is the job's (0 succeeded, 2 failed: not
#      retried, 143 stopped: retried from the checkpoint, other: crash, retried).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../lib/common.sh
. "$HERE/lib/common.sh"
load_env_file
export BNN_BATCH=true

fail() { # fail CODE MESSAGE
  printf '%s error: %s\n' "$(ts)" "$2" >&2
  exit "$1"
}
: "${BNN_ARTIFACT_BUCKET:?BNN_ARTIFACT_BUCKET is not set (the job definition sets it)}"
SWEEP_ID=${BNN_SWEEP_ID:-}
[[ "$SWEEP_ID" =~ $SWEEP_ID_RE ]] || fail 2 "BNN_SWEEP_ID '$SWEEP_ID' is not a sweep id; submit sweeps with bnn-pynq sweep"
INDEX=${AWS_BATCH_JOB_ARRAY_INDEX:-0}
[[ "$INDEX" =~ ^[0-9]+$ ]] || fail 2 "AWS_BATCH_JOB_ARRAY_INDEX '$INDEX' is not an index"

mkdir -p "$BNN_ROOT"
SWEEP_JSON="$BNN_ROOT/sweep.json"
# A failed read is transient (network, throttling): exit 1, so Batch retries.
s3cli s3 cp --only-show-errors "s3://$BNN_ARTIFACT_BUCKET/sweeps/$SWEEP_ID/sweep.json" "$SWEEP_JSON" ||
  fail 1 "could not read s3://$BNN_ARTIFACT_BUCKET/sweeps/$SWEEP_ID/sweep.json"
RUN_ID=$(jq -r --argjson i "$INDEX" '.runs[$i].runId // empty' "$SWEEP_JSON") ||
  fail 2 "s3://$BNN_ARTIFACT_BUCKET/sweeps/$SWEEP_ID/sweep.json is not valid JSON"
[[ -n "$RUN_ID" ]] || fail 2 "sweep $SWEEP_ID has no run at index $INDEX"
log "sweep $SWEEP_ID index $INDEX: run $RUN_ID (attempt ${AWS_BATCH_JOB_ATTEMPT:-1})"

bash "$HERE/bootstrap.sh" container || fail 1 "the device check (bootstrap.sh container) failed; Batch retries"

exec bash "$HERE/run-training.sh" "$RUN_ID"
