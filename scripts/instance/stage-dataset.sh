#!/usr/bin/env bash
# Stages a dataset into a local folder, verified, for `python3 -m bnn_train --data-dir`.
#   stage-dataset.sh NAME DEST
# The DatasetBucket is the source: datasets/<NAME>/ holds the four idx .gz files (+ classes.txt) and
# dataset.json, written last, with the SHA-256 of each file's DECOMPRESSED bytes (stable across recompression).
# Built-in datasets (fashion-mnist, mnist) missing from the bucket are downloaded from their official URLs or
# mirrors, checked against the published MD5 of each .gz, and cached there (dataset.json last). A file that
# fails a check is never used: nothing reaches DEST unless all files pass.
# CIFAR-10 (cifar10, for the CNV networks) is the official binary version, one archive checked against its
# published MD5, unpacked to CIFAR-10 binary records (data_batch_1..5.bin, test_batch.bin: 10,000 records of
# 3,073 bytes each) and cached unpacked, with dataset.json (format "cifar-bin") holding each file's SHA-256. A
# user's CNV dataset in the bucket uses the same format: data_batch_N.bin + test_batch.bin listed in dataset.json.
# Exit: 0 staged; 2 the dataset is missing or bad (a user error: what and where is printed); 1 other failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
load_env_file

[[ $# -eq 2 ]] || { echo "usage: stage-dataset.sh NAME DEST" >&2; exit 2; }
NAME=$1
DEST=$2
bad() { DIE_CODE=2 die "$@"; }
[[ "$NAME" =~ $DATASET_RE ]] || bad "dataset name '$NAME' is not valid (lower-case letters, digits, dashes)"
: "${BNN_DATASET_BUCKET:?BNN_DATASET_BUCKET is not set (expected in $BNN_ENV_FILE)}"
PREFIX="datasets/$NAME"
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

# Published MD5s of the official .gz files (zalandoresearch/fashion-mnist README; MNIST as listed by torchvision).
# BNN_DATASET_MD5S (optional, for a private mirror or tests): a file of "<name>/<file> <md5>" lines used instead.
builtin_md5() {
  if [[ -n "${BNN_DATASET_MD5S:-}" ]]; then
    awk -v k="$1/$2" '$1 == k { print $2; found = 1 } END { exit !found }' "$BNN_DATASET_MD5S"
    return
  fi
  case "$1/$2" in
    fashion-mnist/train-images-idx3-ubyte.gz) echo 8d4fb7e6c68d591d4c3dfef9ec88bf0d ;;
    fashion-mnist/train-labels-idx1-ubyte.gz) echo 25c81989df183df01b3e8a0aad5dffbe ;;
    fashion-mnist/t10k-images-idx3-ubyte.gz) echo bef4ecab320f06d8554ea6380940ec79 ;;
    fashion-mnist/t10k-labels-idx1-ubyte.gz) echo bb300cfdad3c16e7a12a480ee83cd310 ;;
    mnist/train-images-idx3-ubyte.gz) echo f68b3c2dcbeaaa9fbdd348bbdeb94873 ;;
    mnist/train-labels-idx1-ubyte.gz) echo d53e105ee54ea40749a09fcbcd1e9432 ;;
    mnist/t10k-images-idx3-ubyte.gz) echo 9fb629c4189551a2d022fa330f9573f3 ;;
    mnist/t10k-labels-idx1-ubyte.gz) echo ec29112dd5afa0611ce80d1b7f02629c ;;
    # https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary version (suitable for C programs)"
    cifar10/cifar-10-binary.tar.gz) echo c32a1d4ab5d03f1284b67883e8d87530 ;;
    *) return 1 ;;
  esac
}
# Official location first, then mirrors (yann.lecun.com answers 403 today: research doc §6).
builtin_urls() {
  case "$1" in
    fashion-mnist) printf '%s\n' "${BNN_FASHION_MNIST_URLS:-http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/}" ;;
    mnist) printf '%s\n' "${BNN_MNIST_URLS:-https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/}" ;;
    cifar10) printf '%s\n' "${BNN_CIFAR10_URLS:-https://www.cs.toronto.edu/~kriz/}" ;;
    *) return 1 ;;
  esac
}
builtin_classes() {
  case "$1" in
    fashion-mnist) printf '%s\n' T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag 'Ankle boot' ;;
    mnist) printf '%s\n' 0 1 2 3 4 5 6 7 8 9 ;;
    # BNN-PYNQ's names (bnn/params/cifar10/classes.txt), in the archive's label order (batches.meta.txt)
    cifar10) printf '%s\n' Airplane Automobile Bird Cat Deer Dog Frog Horse Ship Truck ;;
  esac
}
is_builtin() { builtin_urls "$1" >/dev/null 2>&1; }
CIFAR_ARCHIVE=cifar-10-binary.tar.gz
CIFAR_DIR=cifar-10-batches-bin  # the archive's one folder
CIFAR_FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)
CIFAR_RECORD=3073                 # 1 label byte + 32x32 R, G and B planes
CIFAR_OFFICIAL_RECORDS=10000      # per file in the official archive

# Work next to DEST (same file system), so the final swap is a rename.
mkdir -p "$(dirname "$DEST")"
WORK=$(mktemp -d "$(dirname "$DEST")/.stage-$NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Checks one idx .gz: gzip intact, right magic and shape (28x28 images, labels < 64). Prints
# "<count> <sha256 of decompressed bytes>" or returns 1 with the reason on stderr.
check_idx() {
  local file=$1 name=$2 raw="$WORK/raw"
  if ! gzip -dc "$file" >"$raw" 2>"$WORK/gzip.err"; then
    echo "not a complete gzip file ($(head -c 200 "$WORK/gzip.err" | tr '\n' ' '))" >&2
    return 1
  fi
  local size header magic count rows cols
  size=$(stat -c %s "$raw")
  header=$(od -An -tu1 -N16 -v "$raw" | tr -s ' \n' ' ')
  read -r -a h <<<"$header"
  [[ ${#h[@]} -ge 8 ]] || { echo "too short for an idx file ($size bytes)" >&2; return 1; }
  magic=$((h[2] * 256 + h[3]))
  count=$(((h[4] << 24) + (h[5] << 16) + (h[6] << 8) + h[7]))
  if [[ $name == *images* ]]; then
    rows=$(((h[8] << 24) + (h[9] << 16) + (h[10] << 8) + h[11]))
    cols=$(((h[12] << 24) + (h[13] << 16) + (h[14] << 8) + h[15]))
    [[ $magic -eq 2051 ]] || { echo "idx magic $magic, expected 2051 (images)" >&2; return 1; }
    [[ $rows -eq 28 && $cols -eq 28 ]] || { echo "images are ${rows}x${cols}, the LFC needs 28x28" >&2; return 1; }
    [[ $size -eq $((16 + count * 784)) ]] || { echo "header says $count images but the file holds $size bytes (truncated?)" >&2; return 1; }
  else
    [[ $magic -eq 2049 ]] || { echo "idx magic $magic, expected 2049 (labels)" >&2; return 1; }
    [[ $size -eq $((8 + count)) ]] || { echo "header says $count labels but the file holds $size bytes (truncated?)" >&2; return 1; }
    local max
    max=$(tail -c +9 "$raw" | od -An -tu1 -v | tr -s ' \n' '\n' | sed '/^$/d' | sort -un | tail -n1)
    [[ -z "$max" || $max -lt 64 ]] || { echo "label $max found; the LFC overlay has at most 64 classes (0..63)" >&2; return 1; }
  fi
  printf '%s %s\n' "$count" "$(sha256_of "$raw")"
}

# Checks one CIFAR-10 binary file: a whole, non-zero number of records (EXPECT records when given). Prints
# "<records> <sha256>" or returns 1 with the reason on stderr. (The labels are checked by bnn_train.)
check_cifar() {
  local file=$1 expect=${2:-} size
  size=$(stat -c %s "$file")
  [[ $size -gt 0 && $((size % CIFAR_RECORD)) -eq 0 ]] ||
    { echo "$size bytes is not a whole number of $CIFAR_RECORD-byte CIFAR-10 records (truncated?)" >&2; return 1; }
  [[ -z "$expect" || $((size / CIFAR_RECORD)) -eq $expect ]] ||
    { echo "$((size / CIFAR_RECORD)) records, the official file has $expect (truncated?)" >&2; return 1; }
  printf '%s %s\n' "$((size / CIFAR_RECORD))" "$(sha256_of "$file")"
}

# The sha256 dataset.json records for FILE. Accepts {"files": {name: {"sha256"}}}, {"files": [{"name","sha256"}]}
# and {"sha256": {name: hex}}, so manifests written by `bnn-pynq dataset import` and by this script both work.
manifest_sha() {
  jq -r --arg f "$2" '
    ((.files // {}) | if type == "array" then (map(select((.name // .file // .path) == $f)) | .[0].sha256)
                      else .[$f].sha256? end) // (.sha256[$f]?) // empty' "$1"
}

# ---- 1. From the bucket, when dataset.json is there.
from_bucket() {
  local manifest="$WORK/bucket/dataset.json" f want got out
  mkdir -p "$WORK/bucket"
  s3cli s3 cp --only-show-errors "s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json" "$manifest" >/dev/null 2>&1 || return 3
  jq -e . "$manifest" >/dev/null 2>&1 || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json is not valid JSON" >&2; return 1; }
  if [[ "$(jq -r '.format // ""' "$manifest")" == cifar-bin ]]; then
    from_bucket_cifar "$manifest"
    return
  fi
  declare -A counts=()
  # One call for the whole folder (idx files, classes.txt, anything else); dataset.json was read first.
  s3cli s3 sync --only-show-errors --no-progress --exclude dataset.json "s3://$BNN_DATASET_BUCKET/$PREFIX/" "$WORK/bucket/" >/dev/null 2>"$WORK/s3.err" ||
    { echo "could not read s3://$BNN_DATASET_BUCKET/$PREFIX/: $(head -c 300 "$WORK/s3.err")" >&2; return 1; }
  for f in "${FILES[@]}"; do
    want=$(manifest_sha "$manifest" "$f")
    [[ "$want" =~ ^[0-9a-f]{64}$ ]] || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json has no sha256 for $f" >&2; return 1; }
    [[ -f "$WORK/bucket/$f" ]] || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f is missing (dataset.json lists it)" >&2; return 1; }
    out=$(check_idx "$WORK/bucket/$f" "$f" 2>"$WORK/check.err") || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f is corrupt: $(cat "$WORK/check.err")" >&2; return 1; }
    got=${out#* }
    counts[$f]=${out%% *}
    if [[ "$got" != "$want" ]]; then
      echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f is corrupt or partial: SHA-256 of its decompressed bytes is $got, dataset.json says $want" >&2
      return 1
    fi
  done
  want=$(manifest_sha "$manifest" classes.txt)
  if [[ -n "$want" && -f "$WORK/bucket/classes.txt" && "$(sha256_of "$WORK/bucket/classes.txt")" != "$want" ]]; then
    echo "s3://$BNN_DATASET_BUCKET/$PREFIX/classes.txt does not match the sha256 in dataset.json" >&2
    return 1
  fi
  if [[ "${counts[train-images-idx3-ubyte.gz]}" != "${counts[train-labels-idx1-ubyte.gz]}" ||
    "${counts[t10k-images-idx3-ubyte.gz]}" != "${counts[t10k-labels-idx1-ubyte.gz]}" ]]; then
    echo "s3://$BNN_DATASET_BUCKET/$PREFIX/: image and label counts differ" >&2
    return 1
  fi

  mv "$WORK/bucket" "$WORK/verified"
}

# CIFAR-10 binary records in the bucket: every .bin file dataset.json lists (data_batch_N.bin, test_batch.bin)
# must be there, whole records, with the SHA-256 of its bytes.
from_bucket_cifar() {
  local manifest=$1 f want out names
  names=$(jq -r '(.files // {}) | if type == "array" then map(.name // .file // .path) else keys end | .[]' "$manifest" | grep '\.bin$' || true)
  if ! grep -qx test_batch.bin <<<"$names" || ! grep -qx data_batch_1.bin <<<"$names"; then
    echo "s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json does not list both data_batch_1.bin and test_batch.bin" >&2
    return 1
  fi
  s3cli s3 sync --only-show-errors --no-progress --exclude dataset.json "s3://$BNN_DATASET_BUCKET/$PREFIX/" "$WORK/bucket/" >/dev/null 2>"$WORK/s3.err" ||
    { echo "could not read s3://$BNN_DATASET_BUCKET/$PREFIX/: $(head -c 300 "$WORK/s3.err")" >&2; return 1; }
  for f in $names classes.txt batches.meta.txt; do
    want=$(manifest_sha "$manifest" "$f")
    if [[ "$f" != *.bin ]]; then
      if [[ -n "$want" && -f "$WORK/bucket/$f" && "$(sha256_of "$WORK/bucket/$f")" != "$want" ]]; then
        echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f does not match the sha256 in dataset.json" >&2
        return 1
      fi
      continue
    fi
    [[ "$want" =~ ^[0-9a-f]{64}$ ]] || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json has no sha256 for $f" >&2; return 1; }
    [[ -f "$WORK/bucket/$f" ]] || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f is missing (dataset.json lists it)" >&2; return 1; }
    out=$(check_cifar "$WORK/bucket/$f" 2>"$WORK/check.err") || { echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f is corrupt: $(cat "$WORK/check.err")" >&2; return 1; }
    if [[ "${out#* }" != "$want" ]]; then
      echo "s3://$BNN_DATASET_BUCKET/$PREFIX/$f is corrupt or partial: its SHA-256 is ${out#* }, dataset.json says $want" >&2
      return 1
    fi
  done
  mv "$WORK/bucket" "$WORK/verified"
}

# ---- 2. Built-in: download, MD5-check, cache in the bucket (dataset.json last).

# fetch_verified FILE DEST CHECK: the first of the set's mirrors whose FILE arrives in DEST with the published
# MD5 and passes `CHECK DEST FILE` (its stdout lands in $CHECKED; its stderr, the reason, in the log). Sets
# SOURCE to that mirror; a rejected copy is removed and the next mirror tried. Returns 1 when none is good.
fetch_verified() {
  local file=$1 dest=$2 check=$3 md5 base got
  md5=$(builtin_md5 "$NAME" "$file")
  for base in $(builtin_urls "$NAME"); do
    log "downloading $base$file"
    if ! fetch_url "$base$file" "$dest"; then log "  failed to download $base$file"; continue; fi
    got=$(md5sum "$dest" | cut -d' ' -f1)
    if [[ "$got" != "$md5" ]]; then
      log "  rejected $base$file: MD5 $got, published $md5 (corrupt or partial download)"
      rm -f "$dest"
      continue
    fi
    if ! CHECKED=$("$check" "$dest" "$file" 2>"$WORK/check.err"); then
      log "  rejected $base$file: $(cat "$WORK/check.err")"
      rm -f "$dest"
      continue
    fi
    SOURCE=$base
    return 0
  done
  echo "could not get a good copy of $file for $NAME from: $(builtin_urls "$NAME" | tr '\n' ' ')" >&2
  return 1
}

# cache_download DIR FILE...: copies the set's files to the bucket, then DIR/dataset.json (last: a reader
# trusts only a set whose manifest is there), and makes DIR the verified set.
cache_download() {
  local dir=$1 f
  shift
  for f in "$@"; do
    s3cli s3 cp --only-show-errors "$dir/$f" "s3://$BNN_DATASET_BUCKET/$PREFIX/$f"
  done
  s3cli s3 cp --only-show-errors "$dir/dataset.json" "s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json"
  log "cached $NAME in s3://$BNN_DATASET_BUCKET/$PREFIX/"
  mv "$dir" "$WORK/verified"
}

download_builtin() {
  local dir="$WORK/download" f entries=() CHECKED SOURCE=""
  mkdir -p "$dir"
  for f in "${FILES[@]}"; do
    fetch_verified "$f" "$dir/$f" check_idx || return 1
    entries+=("$(jq -n --arg f "$f" --arg sha "${CHECKED#* }" --arg md5 "$(builtin_md5 "$NAME" "$f")" \
      --arg url "$SOURCE$f" --argjson n "${CHECKED%% *}" '{($f): {sha256: $sha, md5Gz: $md5, count: $n, url: $url}}')")
  done
  builtin_classes "$NAME" >"$dir/classes.txt"
  printf '%s\n' "${entries[@]}" | jq -s --arg name "$NAME" --arg source "$SOURCE" --arg at "$(ts)" \
    --arg classes "$(sha256_of "$dir/classes.txt")" \
    '{name: $name, format: "idx-gz", source: $source, createdAt: $at, createdBy: "scripts/instance/stage-dataset.sh",
      files: (add + {"classes.txt": {sha256: $classes}})}' >"$dir/dataset.json"
  cache_download "$dir" "${FILES[@]}" classes.txt
}

# The CIFAR-10 archive's check: it unpacks (only the expected members) in the official layout.
unpack_cifar() {
  rm -rf "$WORK/unpack" && mkdir -p "$WORK/unpack"
  tar -xzf "$1" -C "$WORK/unpack" --no-same-owner --no-same-permissions \
    "${CIFAR_FILES[@]/#/$CIFAR_DIR/}" "$CIFAR_DIR/batches.meta.txt" 2>"$WORK/tar.err" ||
    { echo "not the official layout ($(head -c 300 "$WORK/tar.err" | tr '\n' ' '))" >&2; return 1; }
}

# CIFAR-10: the one official archive, MD5-checked, unpacked (only the expected members), each file checked.
download_cifar() {
  local dir="$WORK/download" out entries=() f CHECKED SOURCE=""
  mkdir -p "$dir"
  fetch_verified "$CIFAR_ARCHIVE" "$WORK/archive" unpack_cifar || return 1
  for f in "${CIFAR_FILES[@]}" batches.meta.txt; do
    mv "$WORK/unpack/$CIFAR_DIR/$f" "$dir/$f"
    [[ "$f" == *.bin ]] || continue
    # The archive's MD5 already vouches for its content; the record count is checked all the same.
    out=$(check_cifar "$dir/$f" "${BNN_CIFAR10_RECORDS:-$CIFAR_OFFICIAL_RECORDS}" 2>"$WORK/check.err") ||
      { echo "$SOURCE$CIFAR_ARCHIVE: $f: $(cat "$WORK/check.err")" >&2; return 1; }
    entries+=("$(jq -n --arg f "$f" --arg sha "${out#* }" --argjson n "${out%% *}" '{($f): {sha256: $sha, count: $n}}')")
  done
  builtin_classes "$NAME" >"$dir/classes.txt"
  printf '%s\n' "${entries[@]}" | jq -s --arg name "$NAME" --arg url "$SOURCE$CIFAR_ARCHIVE" \
    --arg md5 "$(builtin_md5 "$NAME" "$CIFAR_ARCHIVE")" --arg at "$(ts)" \
    --arg classes "$(sha256_of "$dir/classes.txt")" --arg meta "$(sha256_of "$dir/batches.meta.txt")" \
    '{name: $name, format: "cifar-bin", source: $url, archiveMd5: $md5, createdAt: $at,
      createdBy: "scripts/instance/stage-dataset.sh",
      files: (add + {"classes.txt": {sha256: $classes}, "batches.meta.txt": {sha256: $meta}})}' >"$dir/dataset.json"
  cache_download "$dir" "${CIFAR_FILES[@]}" batches.meta.txt classes.txt
}

download() {
  if [[ "$NAME" == cifar10 ]]; then download_cifar; else download_builtin; fi
}

rc=0
from_bucket 2>"$WORK/bucket.err" || rc=$?
if [[ $rc -eq 0 ]]; then
  log "dataset $NAME: verified s3://$BNN_DATASET_BUCKET/$PREFIX/"
elif is_builtin "$NAME"; then
  if [[ $rc -eq 3 ]]; then
    log "dataset $NAME is not cached in s3://$BNN_DATASET_BUCKET/$PREFIX/ yet"
  else
    # A bad cache of a built-in set is replaced from the official source (whose MD5 is the authority).
    log "refusing the cached copy: $(cat "$WORK/bucket.err")"
  fi
  rm -rf "$WORK/bucket"
  download || die "could not stage the built-in dataset $NAME (see the messages above)"
elif [[ $rc -eq 3 ]]; then
  bad "dataset '$NAME' not found: s3://$BNN_DATASET_BUCKET/$PREFIX/dataset.json does not exist. Upload it with \`bnn-pynq dataset import <folder> --name $NAME --upload\`, or use fashion-mnist, mnist or cifar10."
else
  bad "dataset '$NAME' refused: $(cat "$WORK/bucket.err") Re-upload it (bnn-pynq dataset import ... --upload)."
fi

# Swap the verified folder into place whole.
rm -rf "$DEST.new" "$DEST.old"
mv "$WORK/verified" "$DEST.new"
if [[ -e "$DEST" ]]; then mv "$DEST" "$DEST.old"; fi
mv "$DEST.new" "$DEST"
rm -rf "$DEST.old"
log "dataset $NAME staged in $DEST"
