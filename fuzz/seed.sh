#!/usr/bin/env bash
# Seeds fuzz/corpus/inspect with one file per flavour (glibc, musl, static, static-pie, Go,
# Rust, C++, library) from the test fixtures, and a few real ones from the shared corpus.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/inspect"
mkdir -p "$out"
fixtures=$(ls -d "$here"/../target/tmp/fixtures-* 2>/dev/null | head -1 || true)
if [ -z "$fixtures" ]; then
  echo "seed.sh: build the fixtures first (cargo test --all-features)" >&2
  exit 1
fi
for f in hello-gcc hello-gcc-static-stripped hello-gcc-static-pie hello-musl hello-musl-static \
         getaddrinfo-gcc hello-cxx libgreet.so.1 hello-runpath go-hello-nocgo go-net-cgo rust-hello; do
  cp "$fixtures/$f" "$out/$f"
done
corpus=${RUNBASE_CORPUS:-$HOME/.cache/runbase-corpus}/x
for f in deb/hello_2.10-3_s390x/usr/bin/hello deb/hello_2.10-3_i386/usr/bin/hello \
         deb/hello_2.10-3_mips64el/usr/bin/hello deb/klibc-utils_2.0.12-1_amd64/usr/lib/klibc/bin/gzip; do
  [ -f "$corpus/$f" ] && cp "$corpus/$f" "$out/$(echo "$f" | tr / _)"
done
ls "$out" | wc -l
