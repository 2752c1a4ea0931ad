#!/usr/bin/env bash
# Builds the root filesystems the closure tests compare against the real loader, cached
# under ~/.cache/runbase-roots (or $RUNBASE_ROOTS):
#   minbase-amd64   debootstrap --variant=minbase bookworm (a whole Debian system)
#   armhf, ppc64el  libc6 and hello of that architecture unpacked with dpkg -x (no
#                   ld.so.cache: the loader's compiled-in directories apply)
# Needs root, debootstrap and Debian's package mirror.
set -euo pipefail
OUT=${RUNBASE_ROOTS:-$HOME/.cache/runbase-roots}
mkdir -p "$OUT/debs"
cd "$OUT"
if [ ! -f minbase-amd64/.complete ]; then
  rm -rf minbase-amd64
  debootstrap --variant=minbase --cache-dir="$OUT/debs" bookworm minbase-amd64 http://deb.debian.org/debian >debootstrap.log 2>&1 \
    || { tail -20 debootstrap.log >&2; exit 1; }
  touch minbase-amd64/.complete
fi
for arch in armhf ppc64el; do
  [ -f "$arch/.complete" ] && continue
  dpkg --print-foreign-architectures | grep -qx "$arch" || { dpkg --add-architecture "$arch"; apt-get update -qq >/dev/null 2>&1 || true; }
  rm -rf "$arch" "debs-$arch"
  mkdir -p "$arch" "debs-$arch"
  ( cd "debs-$arch" && apt-get download -qq "libc6:$arch" "hello:$arch" "libgcc-s1:$arch" >/dev/null 2>&1 )
  for deb in debs-"$arch"/*.deb; do dpkg -x "$deb" "$arch"; done
  touch "$arch/.complete"
done
