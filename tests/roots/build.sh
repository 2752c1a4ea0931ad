#!/usr/bin/env bash
# Builds the root filesystems the closure tests compare against the real loader, cached
# under ~/.cache/runbase-roots (or $RUNBASE_ROOTS):
#   minbase-amd64   debootstrap --variant=minbase bookworm (a whole Debian system)
#   armhf, ppc64el  libc6 and hello of that architecture unpacked with dpkg -x (no
#                   ld.so.cache: the loader's compiled-in directories apply)
#   programs-amd64  minbase bookworm plus real client programs (curl, wget, openssl,
#                   gnutls-cli, socat, psql, ssh, rsync, git, lftp, ldap-utils) and the
#                   servers tests/it/real.rs runs them against (sshd, rsync daemon); the
#                   build stage of the real-program proofs. Its system CA store trusts
#                   the test CA below.
#   test-ca         a test CA (ca.crt, ca.key) and a server certificate for
#                   tls.runbase.test and 127.0.0.1 (server.crt, server.key) it signed
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

# debootstrap --variant=minbase bookworm into DIR.partial from apt's archive (and through
# apt's proxy: debootstrap fetches with wget, which reads it from the environment), with
# any further debootstrap arguments; its log in LOG.
debootstrap_into() {
  local dir=$1 log_file=$2; shift 2
  local site proxy
  site=$(debian_site)
  [ -n "$site" ] || { log "apt has no Debian archive configured (apt-get indextargets)"; exit 1; }
  proxy=$(apt-config dump Acquire::http::Proxy | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p')
  [ -n "$proxy" ] && [ "$proxy" != DIRECT ] && export http_proxy=$proxy
  log "debootstrap bookworm into $dir from $site (a few minutes, once)"
  rm -rf "$dir" "$dir.partial"
  debootstrap --variant=minbase --cache-dir="$OUT/debs" "$@" bookworm "$dir.partial" "$site" \
    >"$log_file" 2>&1 || { tail -20 "$log_file" >&2; exit 1; }
}

if [ ! -f minbase-amd64/.complete ]; then
  debootstrap_into minbase-amd64 debootstrap.log
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

# The test CA, made once with this machine's openssl: a CA and a server certificate for the
# name the real-program tests put in /etc/hosts and for 127.0.0.1.
if [ ! -f test-ca/.complete ]; then
  log "making the test CA"
  rm -rf test-ca test-ca.partial
  mkdir test-ca.partial
  (
    cd test-ca.partial
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 36500 \
      -subj "/CN=runbase test CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=tls.runbase.test" 2>/dev/null
    printf 'subjectAltName=DNS:tls.runbase.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 36500 \
      -extfile ext.cnf -out server.crt 2>/dev/null
    rm -f server.csr ca.srl ext.cnf
  )
  touch test-ca.partial/.complete
  mv test-ca.partial test-ca
fi

# The real programs of Debian 12 and the servers they are tried against. Package list:
# keep in step with tests/it/real.rs.
programs=ca-certificates,curl,wget,openssl,gnutls-bin,socat,postgresql-client-15
programs=$programs,openssh-client,openssh-server,rsync,git,lftp,ldap-utils,libldap-common
if [ ! -f programs-amd64/.complete ]; then
  start=$(date +%s)
  debootstrap_into programs-amd64 debootstrap-programs.log --include="$programs"
  # The test CA joins the root's system trust (the bundle and the hashed directory).
  install -D -m 644 test-ca/ca.crt \
    programs-amd64.partial/usr/local/share/ca-certificates/runbase-test-ca.crt
  chroot programs-amd64.partial update-ca-certificates >>debootstrap-programs.log 2>&1
  grep -q "$(sed -n 2p test-ca/ca.crt)" programs-amd64.partial/etc/ssl/certs/ca-certificates.crt \
    || { log "programs-amd64: the test CA is not in the system bundle"; exit 1; }
  # sshd's host key, made here so that no test writes into the root.
  chroot programs-amd64.partial ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/runbase_host_key
  log "programs-amd64 built in $(( $(date +%s) - start )) s"
  touch programs-amd64.partial/.complete
  mv programs-amd64.partial programs-amd64
fi
