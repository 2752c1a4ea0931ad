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

# fuzz/corpus/image: layers (the target takes input starting with an even byte as a layer):
# links, whiteouts and opaque directories in plain tar, and the same as zstd in several
# frames with skippable ones around them.
img="$here/corpus/image"
mkdir -p "$img"
python3 - "$img" <<'PY'
import io, struct, subprocess, sys, tarfile
out = sys.argv[1]
def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for kind, name, extra in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            else:
                info.size = len(extra)
            t.addfile(info, io.BytesIO(extra if kind == "file" else b""))
    return buf.getvalue()
plain = layer([("dir", "d/", None), ("file", "d/f", b"x"), ("link", "d", "/x"),
               ("file", "d/g", b"y"), ("hard", "h", "d/g"), ("file", ".wh.d", b""),
               ("dir", "dd/", None), ("file", "dd/.wh..wh..opq", b""), ("file", "dd/k", b"z")])
open(f"{out}/links-whiteouts.tar", "wb").write(plain)
def zstd(data):
    return subprocess.run(["zstd", "-c", "-q"], input=data, capture_output=True, check=True).stdout
def skippable(n, payload):
    return bytes([0x50 | n, 0x2A, 0x4D, 0x18]) + struct.pack("<I", len(payload)) + payload
half = len(plain) // 2
frames = skippable(0, b"toc") + zstd(plain[:half]) + zstd(plain[half:]) + skippable(15, b"end")
open(f"{out}/frames.zst", "wb").write(frames)
open(f"{out}/one-frame.zst", "wb").write(zstd(plain))
PY
ls "$img" | wc -l
