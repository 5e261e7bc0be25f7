#!/usr/bin/env bash
# An emulated ARM64 "board" for the optional slow test tier: Debian bookworm's arm64 python3.11 in a
# sysroot, the aarch64 wheels of numpy and ai-edge-litert, and qemu-user 10 from bookworm-backports
# (bookworm's qemu 7.2 crashes in XNNPACK). Nothing is installed on the system: apt runs with private
# state directories and the .debs are only extracted.
#
# Usage: tests/qemu/build_arm64_board.sh [OUT_DIR]   (default tests/qemu/build, git-ignored)
# Prints the path of the board's `python` wrapper on its last line; exit code 77 = cannot build here.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$(mkdir -p "${1:-$HERE/build}" && cd "${1:-$HERE/build}" && pwd)"
PIP="${PIP:-$REPO/.venv/bin/pip}"
for tool in apt-get dpkg-deb; do command -v "$tool" >/dev/null || { echo "needs $tool (Debian)" >&2; exit 77; }; done
[[ -x "$PIP" ]] || { echo "needs the project venv's pip ($PIP)" >&2; exit 77; }
LITERT_VERSION="$("$PIP" show ai-edge-litert 2>/dev/null | sed -n 's/^Version: //p')"
NUMPY_VERSION="$("$PIP" show numpy 2>/dev/null | sed -n 's/^Version: //p')"
stamp="$( (cat "$0"; echo "$LITERT_VERSION $NUMPY_VERSION") | sha256sum | cut -c1-16)"
if [[ -x "$OUT/python" && -f "$OUT/stamp" && "$(cat "$OUT/stamp")" == "$stamp" ]]; then
  echo "$OUT/python"
  exit 0
fi
rm -rf "$OUT/sysroot" "$OUT/site" "$OUT/qemu" "$OUT/qemu-aarch64" "$OUT/apt-arm64" "$OUT/apt-bpo"

apt_private() {  # apt_private DIR ARCH SOURCES_LINE -> prints apt-get options using private state
  local dir=$1 arch=$2 src=$3
  mkdir -p "$dir/lists/partial" "$dir/cache" "$dir/debs/partial"
  touch "$dir/status"
  echo "$src" > "$dir/sources.list"
  echo "-o APT::Architecture=$arch -o APT::Architectures=$arch -o Dir::Etc::SourceList=$dir/sources.list" \
       "-o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$dir/lists -o Dir::Cache=$dir/cache" \
       "-o Dir::State::status=$dir/status -o Dir::Cache::archives=$dir/debs -o Debug::NoLocking=1"
}

# 1. the arm64 userland: python3.11 and the C++ runtime, extracted into a sysroot
A=$(apt_private "$OUT/apt-arm64" arm64 "deb http://deb.debian.org/debian bookworm main")
# shellcheck disable=SC2086
apt-get $A update -qq >&2 || { echo "apt-get update (arm64 lists) failed" >&2; exit 77; }
# shellcheck disable=SC2086
apt-get $A install --download-only -y -qq --no-install-recommends python3.11 libstdc++6 >&2
mkdir -p "$OUT/sysroot"
for deb in "$OUT"/apt-arm64/debs/*.deb; do dpkg-deb -x "$deb" "$OUT/sysroot"; done

# 2. qemu-user 10 (static) from bookworm-backports
B=$(apt_private "$OUT/apt-bpo" amd64 "deb http://deb.debian.org/debian bookworm-backports main")
# shellcheck disable=SC2086
apt-get $B update -qq >&2 || { echo "apt-get update (backports lists) failed" >&2; exit 77; }
mkdir -p "$OUT/qemu"
(cd "$OUT/apt-bpo/debs" && apt-get $B download qemu-user >&2)  # shellcheck disable=SC2086
dpkg-deb -x "$OUT"/apt-bpo/debs/qemu-user_*.deb "$OUT/qemu"
mv "$OUT/qemu/usr/bin/qemu-aarch64" "$OUT/qemu-aarch64" && rm -rf "$OUT/qemu"  # keep only the one we need
QEMU="$OUT/qemu-aarch64"
"$QEMU" --version >/dev/null

# 3. the aarch64 wheels (ai-edge-litert 2.x needs the manylinux_2_27/_2_28 tags, not only manylinux2014)
PLATFORMS=(--platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64
           --platform manylinux2014_aarch64)
"$PIP" install -q --target "$OUT/site" --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
  "${PLATFORMS[@]}" "ai-edge-litert==$LITERT_VERSION" "numpy==$NUMPY_VERSION" >&2

cat > "$OUT/python" <<EOF
#!/bin/sh
# The emulated ARM64 board's interpreter: Debian arm64 python3.11 under qemu-user $("$QEMU" --version | head -1 | awk '{print $3}').
PYTHONPATH="$OUT/site" exec "$QEMU" -L "$OUT/sysroot" "$OUT/sysroot/usr/bin/python3.11" "\$@"
EOF
chmod +x "$OUT/python"
"$OUT/python" -c "import platform, numpy, ai_edge_litert; assert platform.machine() == 'aarch64'" >&2
rm -rf "$OUT/apt-arm64" "$OUT/apt-bpo"
echo "$stamp" > "$OUT/stamp"
echo "$OUT/python"
