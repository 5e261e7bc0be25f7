#!/usr/bin/env bash
# Fashion-MNIST (Debian's dataset-fashion-mnist: the four IDX .gz files under
# /usr/share/datasets/fashion-mnist/). Exit 0 when they are there; otherwise one line on stderr
# saying why not, and exit 77 (the tests that need them then skip with that reason).
set -u
DIR=/usr/share/datasets/fashion-mnist
have() { [[ -f $DIR/train-images-idx3-ubyte.gz && -f $DIR/t10k-labels-idx1-ubyte.gz ]]; }
have && exit 0
command -v apt-get >/dev/null || { echo "Fashion-MNIST not installed and no apt-get here: its tests skip (set EDGELAT_FASHION_MNIST to a folder of the IDX files)" >&2; exit 77; }
[[ "$(id -u)" == 0 ]] || { echo "Fashion-MNIST not installed and apt-get needs root: run 'sudo apt-get install dataset-fashion-mnist'; its tests skip" >&2; exit 77; }
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1; }
apt_install || { apt-get update -qq >/dev/null 2>&1 && apt_install; } || {
  echo "apt-get could not install dataset-fashion-mnist: its tests skip" >&2; exit 77; }
have || { echo "dataset-fashion-mnist installed no IDX files under $DIR: its tests skip" >&2; exit 77; }
