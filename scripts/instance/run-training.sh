#!/usr/bin/env bash
# The body of bnn-pynq-train@<runId>.service: one training run, restartable.
#   run-training.sh RUN_ID          run (or resume) the run
#   run-training.sh --sync RUN_ID   push the run folder to S3 (the --on-epoch hook of bnn_train)
# Reads runs/<runId>/run.json (written by the SSM `train` document), stages the dataset, resumes from the
# latest checkpoint (pulled from S3 when the local disk lost it), runs `python -m bnn_train`, pushes the run
# folder to S3 after every epoch, keeps runs/<runId>/state.json current, publishes result.json then model.npz
# (the conversion job triggers on model.npz), and stops the instance at the end unless keepRunning.
# Batch mode (BNN_BATCH=true, set by batch/entrypoint.sh; docs/sweeps.md): no systemd, no shutdown, the attempt
# number from AWS_BATCH_JOB_ATTEMPT, and the exit code tells Batch the outcome of state.json:
#   0 succeeded · 2 failed (not retried) · 143 stopped with its checkpoint (retried) · 1 crashed (retried).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
load_env_file
: "${BNN_MAX_ATTEMPTS:=4}"   # starts of one run (crash restarts) before it is declared failed
: "${BNN_CHECKPOINT_TAG:=bnn-pynq%3Akind=checkpoint}" # CHECKPOINT_TAG in lib/layout.ts, URL-encoded (tested)
: "${BNN_BATCH:=false}"
if [[ $BNN_BATCH == true ]]; then RETRIER="Batch"; else RETRIER="systemd"; fi

SYNC_ONLY=false
if [[ "${1:-}" == "--sync" ]]; then SYNC_ONLY=true; shift; fi
[[ $# -eq 1 ]] || { echo "usage: run-training.sh [--sync] RUN_ID" >&2; exit 2; }
RUN_ID=$1
[[ "$RUN_ID" =~ $RUN_ID_RE ]] || { echo "error: run id '$RUN_ID' is not valid" >&2; exit 2; }
: "${BNN_ARTIFACT_BUCKET:?BNN_ARTIFACT_BUCKET is not set (expected in $BNN_ENV_FILE)}"
RUN_DIR="$BNN_RUNS_DIR/$RUN_ID"
RUN_S3="s3://$BNN_ARTIFACT_BUCKET/runs/$RUN_ID"
LOG="$RUN_DIR/train.log"

# Pushes the run folder: everything except the final artifacts (published once, at the end) and our own
# dot-files. Checkpoint files go one by one with the checkpoint tag, so the bucket's lifecycle rule can expire them.
sync_run() {
  s3cli s3 sync --only-show-errors --no-progress "$RUN_DIR/" "$RUN_S3/" \
    --exclude 'model.npz' --exclude 'result.json' --exclude '.*' --exclude '*/.*' --exclude 'checkpoint/*'
  local synced="$RUN_DIR/.checkpoint-synced" sum f key
  if [[ -d "$RUN_DIR/checkpoint" ]]; then
    # Upload what changed since the last push, by content: a timestamp marker misses a file rewritten within the
    # file system's timestamp granularity. A failed upload is not recorded, so the next push retries it.
    : >"$synced.next"
    while read -r sum f; do
      if ! grep -qxF "$sum $f" "$synced" 2>/dev/null; then
        key="runs/$RUN_ID/checkpoint/${f#"$RUN_DIR/checkpoint/"}"
        s3cli s3api put-object --bucket "$BNN_ARTIFACT_BUCKET" --key "$key" --body "$f" --tagging "$BNN_CHECKPOINT_TAG" >/dev/null ||
          continue
      fi
      printf '%s %s\n' "$sum" "$f" >>"$synced.next"
    done < <(checkpoint_sums)
    mv -f "$synced.next" "$synced"
  fi
}

# "<sha256> <path>" of every checkpoint file, in a stable order.
checkpoint_sums() {
  find "$RUN_DIR/checkpoint" -type f ! -name '.*' -print0 | sort -z | xargs -0 -r sha256sum | sed 's/  / /'
}

if $SYNC_ONLY; then
  sync_run
  exit 0
fi

mkdir -p "$RUN_DIR"
exec > >(tee -a "$LOG") 2>&1
log "run $RUN_ID: starting (pid $$)"

# Ship this run's log to CloudWatch, stream runs/<runId> (the agent's stream names cannot come from a file name,
# so each run appends its own file entry). Best effort: the log also goes to S3 with the run folder.
ship_log() {
  local ctl="$BNN_CWAGENT_DIR/bin/amazon-cloudwatch-agent-ctl" conf="$BNN_CWAGENT_DIR/etc/bnn-pynq-run-$RUN_ID.json"
  [[ -x "$ctl" && -n "${BNN_LOG_GROUP:-}" ]] || return 0
  [[ -f "$conf" ]] && return 0
  jq -n --arg file "$LOG" --arg group "$BNN_LOG_GROUP" --arg stream "runs/$RUN_ID" \
    '{logs: {logs_collected: {files: {collect_list: [{file_path: $file, log_group_name: $group, log_stream_name: $stream}]}}}}' \
    >"$conf.tmp" && mv -f "$conf.tmp" "$conf"
  "$ctl" -a append-config -m ec2 -s -c "file:$conf" >/dev/null || log "warning: the CloudWatch agent did not take $conf"
}
ship_log

ATTEMPT=0
DEVICE=""
LAST_STATE=""
# state.json: RUN_STATES of lib/layout.ts (starting, running, succeeded, failed, stopped).
write_state() {
  local state=$1 message=${2:-}
  LAST_STATE=$state
  jq -n --arg runId "$RUN_ID" --arg state "$state" --arg message "$message" --arg at "$(ts)" \
    --arg device "$DEVICE" --argjson attempt "$ATTEMPT" --arg instance "$(instance_id)" \
    --arg batchJob "${AWS_BATCH_JOB_ID:-}" \
    '{runId: $runId, state: $state, updatedAt: $at, attempt: $attempt, device: $device, instanceId: $instance}
     + (if $batchJob == "" then {} else {batchJobId: $batchJob} end)
     + (if $message == "" then {} else {message: $message} end)' >"$RUN_DIR/.state.json"
  s3cli s3 cp --only-show-errors "$RUN_DIR/.state.json" "$RUN_S3/state.json" ||
    log "warning: could not write $RUN_S3/state.json"
  log "state: $state${message:+ ($message)}"
}

# Batch mode: the exit code of a finished run (succeeded 0; failed 2, which the retry rules never retry).
batch_exit() { if [[ $1 == succeeded ]]; then exit 0; else exit 2; fi; }
disable_unit() {
  if [[ $BNN_BATCH != true ]]; then systemctl disable "bnn-pynq-train@$RUN_ID.service" >/dev/null 2>&1 || true; fi
}

# The end of a run, whatever the outcome: never start again, and stop paying unless asked to keep running.
finish() {
  touch "$RUN_DIR/.finished"
  if [[ $BNN_BATCH == true ]]; then batch_exit "$LAST_STATE"; fi # no unit, no instance of its own to stop
  systemctl disable "bnn-pynq-train@$RUN_ID.service" >/dev/null 2>&1 || true
  if [[ "${KEEP_RUNNING:-false}" == true ]]; then
    log "keepRunning=true: leaving the instance running"
  else
    log "stopping the instance (keepRunning=false)"
    shutdown -h now
  fi
  exit 0
}

# A restart after the run already ended (reboot, duplicate start) does nothing.
if [[ -f "$RUN_DIR/.finished" ]]; then
  log "run $RUN_ID already finished; nothing to do"
  disable_unit
  if [[ $BNN_BATCH == true ]]; then batch_exit "$(jq -r .state "$RUN_DIR/.state.json" 2>/dev/null || echo failed)"; fi
  exit 0
fi
if s3cli s3 cp --only-show-errors "$RUN_S3/state.json" "$RUN_DIR/.remote-state.json" >/dev/null 2>&1 &&
  [[ "$(jq -r .state "$RUN_DIR/.remote-state.json" 2>/dev/null)" =~ ^(succeeded|failed)$ ]]; then
  log "run $RUN_ID already $(jq -r .state "$RUN_DIR/.remote-state.json") (state.json in S3); nothing to do"
  touch "$RUN_DIR/.finished"
  disable_unit
  if [[ $BNN_BATCH == true ]]; then batch_exit "$(jq -r .state "$RUN_DIR/.remote-state.json")"; fi
  exit 0
fi

# The request (run.json): local copy, or from S3 when the local disk was lost.
if [[ ! -f "$RUN_DIR/run.json" ]]; then
  s3cli s3 cp --only-show-errors "$RUN_S3/run.json" "$RUN_DIR/run.json" ||
    { log "error: $RUN_S3/run.json is missing; start runs with the SSM train document"; exit 2; }
fi
req() { jq -r --arg k "$1" '.[$k] | if . == null then empty else tostring end' "$RUN_DIR/run.json"; }
DATASET=$(req dataset)
KEEP_RUNNING=$(req keepRunning)

if [[ $BNN_BATCH == true ]]; then
  # Every attempt is a fresh container (and disk): Batch counts them.
  ATTEMPT=${AWS_BATCH_JOB_ATTEMPT:-1}
else
  ATTEMPT=$(($(cat "$RUN_DIR/.attempts" 2>/dev/null || echo 0) + 1))
fi
printf '%s' "$ATTEMPT" >"$RUN_DIR/.attempts"
if [[ $ATTEMPT -gt $BNN_MAX_ATTEMPTS ]]; then
  write_state failed "gave up after $BNN_MAX_ATTEMPTS attempts; see $RUN_S3/train.log"
  sync_run || true
  finish
fi

# Device and Theano flags decided at boot by bootstrap.sh.
if [[ ! -f "$BNN_RUNTIME_ENV" ]]; then
  write_state failed "the instance is not bootstrapped ($BNN_RUNTIME_ENV missing; bootstrap state: $(current_bootstrap_state))"
  finish
fi
set -a
# shellcheck disable=SC1090
. "$BNN_RUNTIME_ENV"
set +a
DEVICE=$BNN_DEVICE
if [[ $BNN_BATCH == true && "${BNN_DEVICE_HINT:-}" == gpu && "$BNN_DEVICE" != cuda ]]; then
  # A GPU job on a host whose GPU does not work would train for days on its CPU: let Batch try another host.
  if [[ $ATTEMPT -ge $BNN_MAX_ATTEMPTS ]]; then
    write_state failed "no usable GPU on attempt $ATTEMPT of $BNN_MAX_ATTEMPTS ($BNN_DEVICE_STATE)"
    finish
  fi
  write_state running "no usable GPU on this host ($BNN_DEVICE_STATE; attempt $ATTEMPT of $BNN_MAX_ATTEMPTS); Batch retries"
  exit 1
fi
write_state running "attempt $ATTEMPT on $BNN_DEVICE_STATE"

# Dataset: verified copy staged from the DatasetBucket.
DATA="$BNN_DATA_DIR/$DATASET"
rc=0
bash "$HERE/stage-dataset.sh" "$DATASET" "$DATA" || rc=$?
if [[ $rc -eq 2 ]]; then
  write_state failed "dataset $DATASET: $(grep -h 'error:' "$LOG" | tail -n1 | sed 's/^.*error: //')"
  sync_run || true
  finish
elif [[ $rc -ne 0 ]]; then
  write_state running "could not stage dataset $DATASET (attempt $ATTEMPT of $BNN_MAX_ATTEMPTS); $RETRIER retries"
  exit 1
fi

# Resume: pull the checkpoint (and progress) from S3 when the local run folder has none.
if [[ -z "$(find "$RUN_DIR/checkpoint" -type f ! -name '.*' 2>/dev/null | head -n1)" ]]; then
  if s3cli s3 sync --only-show-errors --no-progress "$RUN_S3/checkpoint/" "$RUN_DIR/checkpoint/" &&
    [[ -n "$(find "$RUN_DIR/checkpoint" -type f 2>/dev/null | head -n1)" ]]; then
    log "resuming: pulled the checkpoint from $RUN_S3/checkpoint/"
    checkpoint_sums >"$RUN_DIR/.checkpoint-synced"
    if [[ ! -f "$RUN_DIR/progress.jsonl" ]]; then
      s3cli s3 cp --only-show-errors "$RUN_S3/progress.jsonl" "$RUN_DIR/progress.jsonl" || true
    fi
  fi
fi

# Training arguments: every trainer option of the training-parameter table, its value from run.json (validated by
# the train document; bnn_train validates again: exit 2). Required options first, then --device, then the rest.
PARAMETERS_TABLE="$HERE/training-parameters.json"
add_args() { # add_args REQUIRED(true|false)
  local flag key omit v
  while IFS= read -r flag && IFS= read -r key && IFS= read -r omit; do
    v=$(req "$key")
    if [[ -n "$v" && "$v" != "$omit" ]]; then args+=("$flag" "$v"); fi
  done < <(jq -r --argjson required "$1" \
    '.parameters[] | select(.trainer != null and (.trainerRequired // false) == $required)
     | .trainer, .name, (.trainerOmits // "")' "$PARAMETERS_TABLE")
}
args=(--data-dir "$DATA" --run-dir "$RUN_DIR")
add_args true
args+=(--device "$BNN_DEVICE")
add_args false
args+=(--on-epoch "bash $(printf '%q' "$HERE/run-training.sh") --sync $RUN_ID")

# SIGTERM (systemctl stop, shutdown, spot stop) reaches this wrapper only (KillMode=mixed): pass it on to
# python, which keeps its last complete checkpoint and exits 143.
TERMINATED=false
PY_PID=""
# shellcheck disable=SC2317 # invoked by the trap
on_term() {
  TERMINATED=true
  log "SIGTERM: asking the trainer to stop after saving its checkpoint"
  if [[ -n "$PY_PID" ]]; then kill -TERM "$PY_PID" 2>/dev/null || true; fi
}
trap on_term TERM INT

log "python -m bnn_train ${args[*]}"
# PYTHONPATH, THEANO_FLAGS, OMP_NUM_THREADS come from runtime.env (exported above).
"$BNN_PYTHON" -m bnn_train "${args[@]}" &
PY_PID=$!
rc=0
wait "$PY_PID" || rc=$?
while kill -0 "$PY_PID" 2>/dev/null; do # wait returns early when a signal arrives
  rc=0
  wait "$PY_PID" || rc=$?
done
trap - TERM INT
log "bnn_train exited with $rc"

if [[ $rc -eq 0 ]]; then
  for f in model.npz result.json; do
    if [[ ! -f "$RUN_DIR/$f" ]]; then
      write_state failed "bnn_train exited 0 but wrote no $f"
      sync_run || true
      finish
    fi
  done
  sync_run
  # result.json first, model.npz last: the conversion job starts when model.npz lands.
  s3cli s3 cp --only-show-errors "$RUN_DIR/result.json" "$RUN_S3/result.json"
  s3cli s3 cp --only-show-errors "$RUN_DIR/model.npz" "$RUN_S3/model.npz"
  write_state succeeded "model.npz published; conversion starts"
  sync_run || true
  finish
elif $TERMINATED; then
  sync_run || log "warning: could not push the run folder before stopping"
  if [[ $BNN_BATCH == true ]]; then
    write_state stopped "interrupted (SIGTERM, attempt $ATTEMPT); Batch retries it from the last checkpoint"
  else
    write_state stopped "interrupted (SIGTERM); resumes from the last checkpoint when the instance starts again"
  fi
  exit 143
elif [[ $rc -eq 2 ]]; then
  # The trainer's own message: the last line of its output mentioning an error (ours carry a timestamp).
  write_state failed "bad input (bnn_train exit 2): $(grep -v '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T' "$LOG" | grep -i error | tail -n1)"
  sync_run || true
  finish
else
  sync_run || true
  if [[ $ATTEMPT -ge $BNN_MAX_ATTEMPTS ]]; then
    write_state failed "bnn_train exited $rc on attempt $ATTEMPT of $BNN_MAX_ATTEMPTS; see $RUN_S3/train.log"
    finish
  fi
  write_state running "bnn_train exited $rc (attempt $ATTEMPT of $BNN_MAX_ATTEMPTS); $RETRIER restarts it from the last checkpoint"
  exit 1
fi
