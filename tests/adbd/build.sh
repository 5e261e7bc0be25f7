#!/usr/bin/env bash
# Build AOSP's adbd (the device-side ADB daemon) as an ordinary Linux program, for edgelat's tests.
#
# Source: Debian's source package android-platform-tools 29.0.6-28 (bookworm), pinned by SHA-256,
# with Debian's own patches applied, then the three edgelat test patches in tests/adbd/patches/.
# See tests/adbd/README.md for the origin and the reasons for each patch.
#
# Usage: tests/adbd/build.sh [OUT_DIR]      (default OUT_DIR: tests/adbd/build)
# Prints the path of the built binary on its last line. The build is cached: it reruns only
# when this script or a patch changes. Exit code 77 means "cannot build here" (no compiler or
# libraries and no root/apt-get to install them); the tests then skip with that reason.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(mkdir -p "${1:-$HERE/build}" && cd "${1:-$HERE/build}" && pwd)"
VERSION=29.0.6-28
UPSTREAM=29.0.6
ORIG=android-platform-tools_${UPSTREAM}.orig.tar.gz
DEBIAN=android-platform-tools_${VERSION}.debian.tar.xz
ORIG_SHA=dbd241642af17fe545a91c4b54d79867f94abfb64c1f4ed759aea5b85334a633
DEBIAN_SHA=ae5d25152029cbdfc5c1b846a81d23ea30067a2638a94fa3cb9a8c867cf88bae
MIRRORS=(
  "http://deb.debian.org/debian/pool/main/a/android-platform-tools"
  "https://snapshot.debian.org/archive/debian/20230610T000000Z/pool/main/a/android-platform-tools"
)
PKGS=(libcap-dev android-libbase-dev android-libcutils-dev android-liblog-dev android-libboringssl-dev clang curl patch)

stamp="$(cat "$0" "$HERE"/patches/*.patch | sha256sum | cut -c1-16)"
if [[ -x "$OUT/adbd" && -f "$OUT/stamp" && "$(cat "$OUT/stamp")" == "$stamp" ]]; then
  echo "$OUT/adbd"
  exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing build dependencies: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
      { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; } ||
      { echo "cannot install ${missing[*]}" >&2; exit 77; }
  else
    echo "adbd build needs packages ${missing[*]} (run as root with apt-get, or install them)" >&2
    exit 77
  fi
fi

DL="$OUT/download"
mkdir -p "$DL"
fetch() {  # fetch FILE SHA256
  local file=$1 sha=$2
  if [[ -f "$DL/$file" ]] && echo "$sha  $DL/$file" | sha256sum -c --quiet - 2>/dev/null; then return 0; fi
  for m in "${MIRRORS[@]}"; do
    if curl -fsSL --retry 2 -o "$DL/$file.part" "$m/$file"; then
      if echo "$sha  $DL/$file.part" | sha256sum -c --quiet -; then mv "$DL/$file.part" "$DL/$file"; return 0; fi
      echo "checksum mismatch for $m/$file" >&2
    fi
  done
  echo "cannot download $file" >&2
  exit 77
}
fetch "$ORIG" "$ORIG_SHA"
fetch "$DEBIAN" "$DEBIAN_SHA"

SRC="$(mktemp -d "${TMPDIR:-/tmp}/edgelat-adbd-src.XXXXXX")"
trap 'rm -rf "$SRC"' EXIT
cd "$SRC"
tar -xzf "$DL/$ORIG" --strip-components=1 \
  --wildcards '*/system/core' '*/frameworks/native/libs/adbd_auth'
[[ -d system/core/adb ]] || { echo "unexpected layout in $ORIG" >&2; exit 1; }
tar -xJf "$DL/$DEBIAN"

# Debian's patches, in series order; those for parts of the tree not extracted are skipped.
while read -r p; do
  [[ -z "$p" || "$p" == \#* ]] && continue
  if patch -p1 --dry-run -s -f < "debian/patches/$p" >/dev/null 2>&1; then
    patch -p1 -s -f < "debian/patches/$p"
  fi
done < debian/patches/series
for p in "$HERE"/patches/*.patch; do
  patch -p1 -s -f < "$p" || { echo "edgelat patch $(basename "$p") does not apply" >&2; exit 1; }
done

ADB=system/core/adb
SRCS=(
  adb.cpp adb_io.cpp adb_listeners.cpp adb_trace.cpp adb_unique_fd.cpp adb_utils.cpp
  fdevent/fdevent.cpp fdevent/fdevent_poll.cpp fdevent/fdevent_epoll.cpp services.cpp sockets.cpp
  socket_spec.cpp sysdeps/errno.cpp transport.cpp transport_fd.cpp transport_local.cpp transport_usb.cpp
  types.cpp sysdeps_unix.cpp sysdeps/posix/network.cpp
  daemon/auth.cpp daemon/jdwp_service.cpp daemon/usb_dummy.cpp daemon/file_sync_service.cpp
  daemon/services.cpp daemon/shell_service.cpp shell_service_protocol.cpp daemon/main.cpp
  adbconnection/adbconnection_server.cpp
)
CXX=${CXX:-clang++}
CC=${CC:-clang}
ANDROID_LIBS=$(dirname "$(dpkg -L android-libbase | grep -m1 "/libbase\.so")")
FLAGS=(
  -O2 -std=gnu++2a -D_GNU_SOURCE -DADB_HOST=0 -DALLOW_ADBD_ROOT=0
  -DANDROID_BASE_UNIQUE_FD_DISABLE_IMPLICIT_CONVERSION=1
  '-DPLATFORM_TOOLS_VERSION="29.0.6"' '-DADB_VERSION="29.0.6-edgelat"'
  -Wno-deprecated-declarations -Wno-unused-command-line-argument
  -I/usr/include/android -I$ADB -I$ADB/daemon/include -I$ADB/adbconnection/include
  -Isystem/core/base/include -Isystem/core/include -Isystem/core/libcrypto_utils/include
  -Isystem/core/diagnose_usb/include -Isystem/core/libcutils/include
  -Iframeworks/native/libs/adbd_auth/include -Isystem/core/libasyncio/include
)
mkdir -p obj
JOBS=${JOBS:-$(nproc)}
objs=()
fail=0
compile() {  # compile SRC OBJ COMPILER [flags...], at most $JOBS at a time
  local src=$1 obj=$2 cc=$3; shift 3
  objs+=("$obj")
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || fail=1; done
  { "$cc" -c -o "$obj" "$src" "$@" || { echo "compile failed: $src" >&2; exit 1; }; } &
}
for s in "${SRCS[@]}"; do
  compile "$ADB/$s" "obj/$(echo "$s" | tr / _).o" "$CXX" "${FLAGS[@]}"
done
compile frameworks/native/libs/adbd_auth/adbd_auth.cpp obj/adbd_auth.o "$CXX" "${FLAGS[@]}"
compile system/core/diagnose_usb/diagnose_usb.cpp obj/diagnose_usb.o "$CXX" "${FLAGS[@]}"
compile system/core/libcrypto_utils/android_pubkey.c obj/android_pubkey.o "$CC" -O2 \
  -I/usr/include/android -Isystem/core/include -Isystem/core/libcrypto_utils/include
while (($(jobs -rp | wc -l) > 0)); do wait -n || fail=1; done
((fail == 0)) || { echo "adbd build failed" >&2; exit 1; }
"$CXX" -o "$OUT/adbd.tmp" "${objs[@]}" -L"$ANDROID_LIBS" -Wl,-rpath="$ANDROID_LIBS" \
  -lbase -lcutils -llog -lcrypto -lresolv -lutil -lcap -lpthread
mv "$OUT/adbd.tmp" "$OUT/adbd"
echo "$stamp" > "$OUT/stamp"
echo "$OUT/adbd"
