#!/usr/bin/env bash
# Builds the root filesystems the closure tests compare against the real loader, cached
# under ~/.cache/runbase-roots (or $RUNBASE_ROOTS):
#   minbase-amd64   debootstrap --variant=minbase bookworm (a whole Debian system)
#   armhf, ppc64el  libc6 and hello of that architecture unpacked with dpkg -x (no
#                   ld.so.cache: the loader's compiled-in directories apply)
# Needs root and debootstrap; packages come from the source this machine's apt uses (and
# through its proxy, if apt has one). It adds the armhf and ppc64el dpkg architectures.
#
# Safe to run concurrently: callers take a lock and build one at a time, and a root is
# built in a scratch directory that is renamed into place only when it is whole, so a
# caller never sees a half-built root.
set -euo pipefail
OUT=${RUNBASE_ROOTS:-$HOME/.cache/runbase-roots}
mkdir -p "$OUT/debs"
cd "$OUT"
exec 9>"$OUT/.lock"
flock 9
log() { echo "[roots] $*" >&2; }

# The Debian archive apt is configured with (the first site that serves a Debian "main"
# Packages index), so the script works wherever apt-get does.
debian_site() {
  [ -n "$(apt-get indextargets --format '$(SITE)' 'Identifier: Packages' 2>/dev/null)" ] \
    || apt-get update -qq >/dev/null 2>&1 || true
  apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' \
    2>/dev/null | awk '$3 == "main" && $2 !~ /-security$/ { print $1; exit }'
}

if [ ! -f minbase-amd64/.complete ]; then
  site=$(debian_site)
  [ -n "$site" ] || { log "apt has no Debian archive configured (apt-get indextargets)"; exit 1; }
  # debootstrap fetches with wget, which reads the proxy from the environment.
  proxy=$(apt-config dump Acquire::http::Proxy | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p')
  [ -n "$proxy" ] && [ "$proxy" != DIRECT ] && export http_proxy=$proxy
  log "debootstrap bookworm from $site (a few minutes, once)"
  rm -rf minbase-amd64 minbase-amd64.partial
  debootstrap --variant=minbase --cache-dir="$OUT/debs" bookworm minbase-amd64.partial "$site" \
    >debootstrap.log 2>&1 || { tail -20 debootstrap.log >&2; exit 1; }
  touch minbase-amd64.partial/.complete
  mv minbase-amd64.partial minbase-amd64
fi

for arch in armhf ppc64el; do
  [ -f "$arch/.complete" ] && continue
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    apt-get update -qq >/dev/null
  fi
  log "unpacking libc6, libgcc-s1 and hello for $arch"
  rm -rf "$arch" "$arch.partial" "debs-$arch"
  mkdir -p "$arch.partial" "debs-$arch"
  ( cd "debs-$arch" && apt-get download -qq "libc6:$arch" "hello:$arch" "libgcc-s1:$arch" )
  for deb in debs-"$arch"/*.deb; do dpkg -x "$deb" "$arch.partial"; done
  [ -x "$arch.partial/usr/bin/hello" ] || { log "$arch: hello was not unpacked"; exit 1; }
  touch "$arch.partial/.complete"
  mv "$arch.partial" "$arch"
done
