#!/bin/bash
# The script of the SSM Command document `train` (lib/constructs/train-document.ts puts it after lines
# export P_<parameter>='{{ <parameter> }}', one per document parameter). It validates the request, writes
# runs/<runId>/run.json, starts bnn-pynq-train@<runId>.service and prints the run id. It returns at once;
# the run itself lives in systemd (survives the SSM agent, reboots, spot stop/start).
# The agent may run this with sh: switch to bash first (this line is POSIX).
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -euo pipefail

: "${BNN_ROOT:=/opt/bnn-pynq}"
: "${BNN_SRC:=$BNN_ROOT/src}"
if [[ ! -f "$BNN_SRC/lib/common.sh" ]]; then
  echo "error: $BNN_SRC/lib/common.sh is missing: the instance has not fetched its scripts yet (user data still running or failed; see the bootstrap log)" >&2
  exit 1
fi
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$BNN_SRC/lib/common.sh"
load_env_file

fail() {
  echo "error: $*" >&2
  exit 1
}
check() { # check NAME VALUE REGEX WHAT
  [[ "$2" =~ $3 ]] || fail "parameter $1='$2' is not valid: expected $4"
}

# Every parameter of the training-parameter table ($BNN_SRC/training-parameters.json, the one the document's
# parameters are made from): its value, or the table's default when this script is run by hand, checked against
# the table's pattern (SSM checked it already).
PARAMETERS_TABLE="$BNN_SRC/training-parameters.json"
[[ -f "$PARAMETERS_TABLE" ]] || fail "$PARAMETERS_TABLE is missing: the instance's scripts are incomplete"
declare -A V
while IFS= read -r name && IFS= read -r default && IFS= read -r pattern && IFS= read -r empty_ok &&
  IFS= read -r expected; do
  var="P_$name"
  value=${!var:-$default}
  [[ -z "$value" && "$empty_ok" == true ]] || check "$name" "$value" "$pattern" "$expected"
  V[$name]=$value
done < <(jq -r '.patterns as $p | .parameters[] | .name, .default, $p[.pattern], (.emptyAllowed // false), .expected' \
  "$PARAMETERS_TABLE")
[[ ${#V[@]} -gt 0 ]] || fail "$PARAMETERS_TABLE lists no parameters (not valid JSON?)"

RUN_ID=${V[runId]}
DATASET=${V[dataset]}
NETWORK=${V[network]}
EPOCHS=${V[epochs]}
LR_START=${V[learningRateStart]}
LR_END=${V[learningRateEnd]}
WB=${V[weightBits]}
AB=${V[activationBits]}
KEEP=${V[keepRunning]}

# Empty epochs, batch size, learning rates and bits: the network's own (BNN-PYNQ's), chosen by bnn_train.
[[ -z "$EPOCHS" || $EPOCHS -le 10000 ]] || fail "parameter epochs=$EPOCHS is too large (at most 10000)"
if [[ -n "$LR_START" && -n "$LR_END" ]]; then
  awk -v s="$LR_START" -v e="$LR_END" 'BEGIN { exit !(s > 0 && e > 0 && e <= s) }' ||
    fail "learning rates must be > 0 with learningRateEnd ($LR_END) ≤ learningRateStart ($LR_START)"
fi
# The bits, when given, must be the network's (cnvW2A2 is the only 2-bit-weight overlay; 2-bit activations: *A2).
[[ -z "$WB" || "$WB" == "${NETWORK:4:1}" ]] || fail "parameter weightBits=$WB does not fit network $NETWORK (W${NETWORK:4:1}); leave it empty"
[[ -z "$AB" || "$AB" == "${NETWORK:6:1}" ]] || fail "parameter activationBits=$AB does not fit network $NETWORK (A${NETWORK:6:1}); leave it empty"
if [[ -z "$RUN_ID" ]]; then
  RUN_ID="$(date -u +%Y%m%d-%H%M%S)-$DATASET-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
  RUN_ID=${RUN_ID:0:80}
fi
check runId "$RUN_ID" "$RUN_ID_RE" "lower-case letters, digits and dashes, 3-80 characters"
: "${BNN_ARTIFACT_BUCKET:?BNN_ARTIFACT_BUCKET is not set in $BNN_ENV_FILE}"
: "${BNN_DATASET_BUCKET:?BNN_DATASET_BUCKET is not set in $BNN_ENV_FILE}"

# The instance must be bootstrapped; the state names what broke otherwise.
STATE=$(current_bootstrap_state)
[[ "$STATE" == ready* ]] ||
  fail "the instance is not ready to train: bootstrap state is '$STATE'. Wait for 'ready', or read the bootstrap log (CloudWatch stream bootstrap/<instance-id>)."

# One run at a time per instance.
active=$(systemctl list-units 'bnn-pynq-train@*' --all --state=active,activating,reloading --no-legend --plain 2>/dev/null |
  awk '{print $1}' | sed -n 's/^bnn-pynq-train@\(.*\)\.service$/\1/p' | head -n1)
[[ -z "$active" ]] || fail "run $active is still in progress on this instance; wait for it to end or stop it (systemctl stop bnn-pynq-train@$active)"

# The dataset must exist: built-in, or uploaded with its dataset.json.
if [[ "$DATASET" != fashion-mnist && "$DATASET" != mnist && "$DATASET" != cifar10 ]] &&
  ! s3_exists "$BNN_DATASET_BUCKET" "datasets/$DATASET/dataset.json"; then
  fail "dataset '$DATASET' not found: s3://$BNN_DATASET_BUCKET/datasets/$DATASET/dataset.json does not exist. Upload it with \`bnn-pynq dataset import <folder> --name $DATASET --upload\`, or use fashion-mnist, mnist or cifar10."
fi

if s3_exists "$BNN_ARTIFACT_BUCKET" "runs/$RUN_ID/run.json"; then
  fail "run id '$RUN_ID' is already used (s3://$BNN_ARTIFACT_BUCKET/runs/$RUN_ID/run.json exists); choose another or leave runId empty"
fi

RUN_DIR="$BNN_RUNS_DIR/$RUN_ID"
mkdir -p "$RUN_DIR"
V[runId]=$RUN_ID
# run.json: every table parameter under its name, typed as the table says (empty: null, the network's own value),
# plus what the instance adds.
named=()
for name in "${!V[@]}"; do named+=(--arg "$name" "${V[$name]}"); done
jq -n --slurpfile table "$PARAMETERS_TABLE" "${named[@]}" --arg at "$(ts)" --arg instance "$(instance_id)" \
  '$ARGS.named as $v
   | ($table[0].parameters | map(.type as $t | {key: .name, value: ($v[.name]
       | if . == "" then null
         elif $t == "integer" or $t == "number" then tonumber elif $t == "boolean" then . == "true" else . end)})
     | from_entries)
   + {requestedAt: $at, instanceId: $instance}' >"$RUN_DIR/run.json"
s3cli s3 cp --only-show-errors "$RUN_DIR/run.json" "s3://$BNN_ARTIFACT_BUCKET/runs/$RUN_ID/run.json"
jq -n --arg runId "$RUN_ID" --arg at "$(ts)" '{runId: $runId, state: "starting", updatedAt: $at, attempt: 0}' >"$RUN_DIR/.state.json"
s3cli s3 cp --only-show-errors "$RUN_DIR/.state.json" "s3://$BNN_ARTIFACT_BUCKET/runs/$RUN_ID/state.json"

systemctl enable "bnn-pynq-train@$RUN_ID.service" >/dev/null 2>&1 || systemctl enable "bnn-pynq-train@$RUN_ID.service"
systemctl start --no-block "bnn-pynq-train@$RUN_ID.service"
echo "started run $RUN_ID on $(instance_id) ($STATE): dataset $DATASET, ${EPOCHS:-default} epochs, $NETWORK, keepRunning=$KEEP"
echo "$RUN_ID"
