#!/usr/bin/env bash
# The main job, offline (no AWS account needed): synthesize the CDK app, then convert a trained model into the
# PYNQ param folder and verify it with the hardware-exact simulator on real test images.
#   npm ci && npm run demo
# Data: the project's test fixtures in ../shared/data (override with BNN_PYNQ_DATA=<dir>); the full Fashion-MNIST
# test set from Debian's dataset-fashion-mnist package when it is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data="${BNN_PYNQ_DATA:-../shared/data}"
out="${BNN_PYNQ_DEMO_OUT:-out/demo}"
cli=(node bin/bnn-pynq.js)
if [ ! -f "$data/npz/mnist-lfc-w1a1-reconstructed.npz" ]; then
  echo "error: demo data not found in $data (expected npz/, mnist/, bnn-pynq/); set BNN_PYNQ_DATA=<folder>" >&2
  exit 2
fi

echo "== 1/5 cdk synth (no AWS credentials needed)"
npx cdk synth --quiet
echo "   ok: CloudFormation template and assets in cdk.out/"

rm -rf "$out"
echo "== 2/5 convert the MNIST LFC model and compare with the param folder BNN-PYNQ ships"
"${cli[@]}" convert "$data/npz/mnist-lfc-w1a1-reconstructed.npz" --out "$out/params" --dataset mnist
# BNN-PYNQ's classes.txt has Windows line ends; ours has \n (params-format.md §3): compare it by lines.
diff -r --strip-trailing-cr "$out/params/mnist/lfcW1A1" "$data/bnn-pynq/params/mnist/lfcW1A1" >/dev/null
echo "   ok: the 288 .bin files byte-identical to BNN-PYNQ's shipped params/mnist/lfcW1A1, classes.txt line for line"

echo "== 3/5 verify it on the 10,000 MNIST test images, as the board computes (expected 98.40 %)"
"${cli[@]}" verify "$out/params/mnist/lfcW1A1" --images "$data/mnist/t10k-images-idx3-ubyte.gz" \
  --labels "$data/mnist/t10k-labels-idx1-ubyte.gz" | head -n 2

echo "== 4/5 a real Fashion-MNIST model: board rule vs what training reports"
fm=/usr/share/datasets/fashion-mnist
if [ -f "$fm/t10k-images-idx3-ubyte.gz" ]; then
  images="$fm/t10k-images-idx3-ubyte.gz" labels="$fm/t10k-labels-idx1-ubyte.gz"
else
  echo "   (full set not installed: apt-get install dataset-fashion-mnist; using the 50-image sample)"
  images="$data/fashion-mnist-sample/t10k-images-idx3-ubyte.gz" labels="$data/fashion-mnist-sample/t10k-labels-idx1-ubyte.gz"
fi
"${cli[@]}" convert "$data/npz/fashion-mnist-lfc-w1a1.npz" --out "$out/params" --dataset fashion-mnist
"${cli[@]}" verify "$out/params/fashion-mnist/lfcW1A1" --images "$images" --labels "$labels" \
  --against "$data/npz/fashion-mnist-lfc-w1a1.npz" | grep -vE '^ {3}[0-9]|^ +[0-9]+ [0-9 ]+$|^per class|^confusion|^ +0 +1 +2'

echo "== 5/5 a CNV overlay: convert a cnvW1A2 model, compare with BNN-PYNQ's shipped folder, score the notebook's deer"
"${cli[@]}" convert "$data/npz/cifar10-cnvW1A2-reconstructed.npz" --network cnvW1A2 --out "$out/params" \
  --dataset cifar10 | head -n 1
diff -r --strip-trailing-cr "$out/params/cifar10/cnvW1A2" "$data/bnn-pynq/params/cifar10/cnvW1A2" >/dev/null
echo "   ok: the 178 .bin files byte-identical to BNN-PYNQ's shipped params/cifar10/cnvW1A2"
echo "   the board printed for this image: [-20, -46, -38, -6, 268, 6, -14, -28, -38, -30]"
"${cli[@]}" verify "$out/params/cifar10/cnvW1A2" --images "$data/cnv-board-images/deer-notebook.bin" --scores |
  grep -E '^  #0 '
echo
echo "done: param folders in $out/params/ (copy <dataset>/<network> to bnn/params/ on the board, or: bnn-pynq board push)"
