//! Images as roots: `docker save` tarballs (legacy and Docker 25 forms), OCI layouts
//! (directory and tarball) and a multi-platform index, built here from stand-in roots with
//! several layers and whiteouts. The trees `Image::open` indexes are checked against the
//! directories umoci unpacks (an independent implementation of the OCI layer rules), written
//! out here and run in a chroot, and checked by `verify`, whose predictions running
//! confirms. Hostile images never make the reader panic or write anything.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use runbase::image::{EntrySummary, Image, ImageError, ImageOptions};
use runbase::report::ImageFormat;
use serde_json::json;

use crate::support::{
    fixture, image, mkfifo, report_in, require_root, stand_in, try_run_in_root, write,
};

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// sha256 by coreutils, not by the code under test.
fn sha256(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    String::from_utf8_lossy(&out)[..64].to_string()
}

/// A layer of every entry below `dir`, by GNU tar.
fn tar_dir(dir: &Path, out: &Path) {
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg("."));
}

fn compress(tool: &str, path: &Path) -> PathBuf {
    let ext = if tool == "gzip" { "gz" } else { "zst" };
    let out = path.with_extension(format!("tar.{ext}"));
    let bytes = if tool == "zstd-frames" {
        zstd_frames(path)
    } else {
        run(Command::new(tool).args(["-c", "-q"]).arg(path))
    };
    std::fs::write(&out, bytes).unwrap();
    out
}

/// A skippable zstd frame of `payload` (magic 0x184D2A5n).
fn skippable(n: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x50 | n, 0x2a, 0x4d, 0x18];
    frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The file at `path` as zstd:chunked-like layers are: a skippable frame, the first half
/// in one frame, the second in another (by stdin with `--long=27`: a 128 MiB window, the
/// most accepted), and a skippable frame at the end (where zstd:chunked keeps its table of
/// contents). `zstd -d` must give the file back.
fn zstd_frames(path: &Path) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let (first, second) = data.split_at(data.len() / 2);
    let part = path.with_extension("first");
    std::fs::write(&part, first).unwrap();
    let mut stream = skippable(0, b"leading");
    stream.extend(run(Command::new("zstd").args(["-c", "-q"]).arg(&part)));
    let mut long = Command::new("zstd")
        .args(["-c", "-q", "--long=27"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = long.stdin.take().unwrap();
    let second = second.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&second).unwrap());
    let out = long.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success());
    // Not single-segment (bit 5 of the descriptor), window descriptor 0x88: 2^27 bytes.
    assert_eq!(out.stdout.get(4).map(|d| d & 0x20), Some(0));
    assert_eq!(out.stdout.get(5), Some(&0x88), "zstd --long=27's window");
    stream.extend(out.stdout);
    stream.extend(skippable(0xe, &[7u8; 1000]));
    let all = path.with_extension("frames");
    std::fs::write(&all, &stream).unwrap();
    assert_eq!(
        run(Command::new("zstd").args(["-d", "-c", "-q"]).arg(&all)),
        data
    );
    stream
}

/// A tar built entry by entry with the tar crate's writer, for what GNU tar cannot make
/// from a directory: hard links to lower layers, entries below a lower layer's link,
/// hostile names.
struct RawTar {
    builder: tar::Builder<Vec<u8>>,
}

impl RawTar {
    fn new() -> RawTar {
        RawTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn entry(&mut self, kind: tar::EntryType, name: &[u8], link: &[u8], mode: u32, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        // Names set as raw bytes: the writer's own path checks would refuse hostile ones.
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        gnu.linkname[..link.len()].copy_from_slice(link);
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.entry(tar::EntryType::Regular, name.as_bytes(), b"", mode, data);
        self
    }
    fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(tar::EntryType::Directory, name.as_bytes(), b"", 0o755, b"");
        self
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(
            tar::EntryType::Symlink,
            name.as_bytes(),
            target.as_bytes(),
            0o777,
            b"",
        );
        self
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(
            tar::EntryType::Link,
            name.as_bytes(),
            target.as_bytes(),
            0o644,
            b"",
        );
        self
    }
    fn write(&mut self, path: &Path) {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        std::fs::write(path, builder.into_inner().unwrap()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Layers of the scenario.

/// The uncompressed layer tars: a Debian bookworm-slim stand-in, the programs on top, and
/// three layers that each break something.
struct Layers {
    base: PathBuf,
    app: PathBuf,
    /// Whiteout of the glibc loader.
    no_interpreter: PathBuf,
    /// Whiteout of libc.so.6.
    no_libc: PathBuf,
    /// Opaque /etc keeping only the /etc/hosts this layer adds.
    opaque_etc: PathBuf,
}

fn layers(work: &Path) -> Layers {
    // Layer 1: the base image, plus shapes for later layers to change.
    let base = work.join("stage-base");
    stand_in(image("debian:bookworm-slim"), &base);
    symlink("usr/lib", base.join("lib")).unwrap();
    write(
        &base,
        "/srv/x",
        "a file that layer 2 turns into a directory\n",
    );
    write(
        &base,
        "/opt/d/inner",
        "a directory that layer 2 turns into a link\n",
    );
    write(&base, "/etc/app/conf", "lower\n");
    write(&base, "/etc/app/old", "lower\n");
    std::fs::create_dir_all(base.join("var/data")).unwrap();
    symlink("var/data", base.join("data")).unwrap();
    std::fs::create_dir_all(base.join("tmp")).unwrap();
    std::fs::set_permissions(base.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let base_tar = work.join("base.tar");
    tar_dir(&base, &base_tar);

    // Layer 2: the programs, and changes of kind.
    let app = work.join("app.tar");
    let hello = std::fs::read(fixture("hello-gcc")).unwrap();
    let resolve = std::fs::read(fixture("getaddrinfo-gcc-static")).unwrap();
    RawTar::new()
        .dir("app/")
        .file("app/hello", 0o755, &hello)
        .file("app/getaddrinfo", 0o755, &resolve)
        .file("app/readonly", 0o444, b"not executable\n")
        .dir("srv/x/")
        .file("srv/x/y", 0o644, b"below the new directory\n")
        .symlink("opt/d", "/srv")
        .hardlink("app/passwd-link", "etc/passwd")
        // Below the base's `lib -> usr/lib` and `data -> var/data`, with no directory entry.
        .file("lib/x86_64-linux-gnu/extra.txt", 0o644, b"through a link\n")
        .file("data/f", 0o600, b"through a relative link\n")
        .file("etc/app/conf", 0o644, b"upper\n")
        .write(&app);

    let no_interpreter = work.join("no-interpreter.tar");
    RawTar::new()
        .file("lib64/.wh.ld-linux-x86-64.so.2", 0o644, b"")
        .write(&no_interpreter);
    let no_libc = work.join("no-libc.tar");
    RawTar::new()
        .file("usr/lib/x86_64-linux-gnu/.wh.libc.so.6", 0o644, b"")
        .write(&no_libc);
    // The opaque marker after the entry it must keep (the spec allows either order).
    let opaque_etc = work.join("opaque-etc.tar");
    RawTar::new()
        .file("etc/hosts", 0o644, b"127.0.0.1 localhost\n")
        .file("etc/.wh..wh..opq", 0o644, b"")
        .write(&opaque_etc);
    Layers {
        base: base_tar,
        app,
        no_interpreter,
        no_libc,
        opaque_etc,
    }
}

// ---------------------------------------------------------------------------------------
// Image writers.

const CONFIG_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn config(platform: (&str, &str), diff_ids: &[String]) -> serde_json::Value {
    json!({
        "architecture": platform.1,
        "os": platform.0,
        "config": {
            "Env": [CONFIG_PATH],
            "Entrypoint": ["/app/hello"],
            "Cmd": ["--greet"],
            "WorkingDir": "/app",
            "User": "1000:1000"
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": diff_ids.iter().map(|d| format!("sha256:{d}")).collect::<Vec<_>>()
        }
    })
}

/// An OCI image layout directory.
struct Oci {
    dir: PathBuf,
}

impl Oci {
    fn new(dir: &Path) -> Oci {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Oci {
            dir: dir.to_path_buf(),
        }
    }

    fn blob_file(&self, file: &Path) -> (String, u64) {
        let hex = sha256(file);
        std::fs::copy(file, self.dir.join("blobs/sha256").join(&hex)).unwrap();
        (
            format!("sha256:{hex}"),
            std::fs::metadata(file).unwrap().len(),
        )
    }

    fn blob_json(&self, value: &serde_json::Value) -> (String, u64) {
        let tmp = self.dir.join("blob.tmp");
        std::fs::write(&tmp, serde_json::to_vec(value).unwrap()).unwrap();
        let out = self.blob_file(&tmp);
        std::fs::remove_file(tmp).unwrap();
        out
    }

    /// An image manifest of these layers (uncompressed tars), compressed with `tool`
    /// (`gzip`, `zstd` or none); its descriptor.
    fn image(
        &self,
        layers: &[&Path],
        tool: Option<&str>,
        platform: (&str, &str),
    ) -> serde_json::Value {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
        let (config_digest, config_size) = self.blob_json(&config(platform, &diff_ids));
        let media = match tool {
            Some("gzip") => "application/vnd.oci.image.layer.v1.tar+gzip",
            Some(_) => "application/vnd.oci.image.layer.v1.tar+zstd",
            None => "application/vnd.oci.image.layer.v1.tar",
        };
        let layer_descriptors: Vec<serde_json::Value> = layers
            .iter()
            .map(|l| {
                let file = match tool {
                    Some(tool) => compress(tool, l),
                    None => l.to_path_buf(),
                };
                let (digest, size) = self.blob_file(&file);
                json!({"mediaType": media, "digest": digest, "size": size})
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": layer_descriptors
        });
        let (digest, size) = self.blob_json(&manifest);
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": size,
            "platform": {"architecture": platform.1, "os": platform.0}
        })
    }

    fn index(&self, manifests: Vec<serde_json::Value>) {
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}

fn tagged(mut descriptor: serde_json::Value, tag: &str) -> serde_json::Value {
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    descriptor
}

/// A tar of a directory's contents, names without `./` (as `docker save` writes them).
fn archive(dir: &Path, out: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    run(Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .args(&names));
}

/// `docker save`, legacy form: `<n>/layer.tar`, `<id>.json`, `manifest.json`.
fn docker_save_legacy(layers: &[&Path], tag: &str, work: &Path) -> PathBuf {
    let dir = work.join("legacy");
    std::fs::create_dir_all(&dir).unwrap();
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let config_text = serde_json::to_vec(&config(("linux", "amd64"), &diff_ids)).unwrap();
    std::fs::write(dir.join("cfg.json"), &config_text).unwrap();
    let id = sha256(&dir.join("cfg.json"));
    std::fs::rename(dir.join("cfg.json"), dir.join(format!("{id}.json"))).unwrap();
    let mut names = Vec::new();
    for (n, layer) in layers.iter().enumerate() {
        let name = format!("{:064x}", n + 1);
        std::fs::create_dir_all(dir.join(&name)).unwrap();
        std::fs::copy(layer, dir.join(&name).join("layer.tar")).unwrap();
        std::fs::write(dir.join(&name).join("VERSION"), "1.0").unwrap();
        names.push(format!("{name}/layer.tar"));
    }
    let manifest = json!([{"Config": format!("{id}.json"), "RepoTags": [tag], "Layers": names}]);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let out = work.join("legacy.tar");
    archive(&dir, &out);
    out
}

/// The path of a descriptor's blob in an OCI layout.
fn blob_path(descriptor: &serde_json::Value) -> String {
    format!(
        "blobs/sha256/{}",
        &descriptor["digest"].as_str().unwrap()[7..]
    )
}

/// Writes the `manifest.json` Docker 25 adds to an OCI layout: the image of `descriptor`
/// (a manifest's descriptor) under `tag`, its config and layers named by blob path.
fn docker25_manifest(dir: &Path, descriptor: &serde_json::Value, tag: &str) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(blob_path(descriptor))).unwrap()).unwrap();
    let legacy = json!([{
        "Config": blob_path(&manifest["config"]),
        "RepoTags": [tag],
        "Layers": manifest["layers"].as_array().unwrap().iter().map(blob_path).collect::<Vec<_>>()
    }]);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&legacy).unwrap(),
    )
    .unwrap();
}

/// `docker save` of Docker 25 and later: an OCI layout with uncompressed layers, and a
/// `manifest.json` naming the blobs.
fn docker_save_25(layers: &[&Path], tag: &str, work: &Path) -> PathBuf {
    let dir = work.join("docker25");
    let oci = Oci::new(&dir);
    let descriptor = oci.image(layers, None, ("linux", "amd64"));
    let mut top = tagged(descriptor.clone(), "latest");
    top["annotations"]["io.containerd.image.name"] = json!(format!("docker.io/library/{tag}"));
    oci.index(vec![top]);
    docker25_manifest(&dir, &descriptor, tag);
    let out = work.join("docker25.tar");
    archive(&dir, &out);
    out
}

// ---------------------------------------------------------------------------------------
// Trees compared.

#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir,
    /// Permission bits, length, content hash.
    File(u32, u64, u64),
    Link(PathBuf),
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Every path below `root` with its kind, symbolic-link target, file mode and content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let node = if meta.file_type().is_symlink() {
                Node::Link(std::fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                stack.push(path.clone());
                Node::Dir
            } else {
                let bytes = std::fs::read(&path).unwrap();
                Node::File(meta.mode() & 0o777, meta.len(), fnv(&bytes))
            };
            out.insert(rel, node);
        }
    }
    out
}

fn umoci(layout: &Path, tag: &str, out: &Path) -> PathBuf {
    let rootfs = out.join("rootfs");
    std::fs::create_dir_all(out).unwrap();
    run(Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:{tag}", layout.display()))
        .arg(&rootfs));
    rootfs
}

fn ours(image: &Path, options: &ImageOptions) -> Image {
    Image::open(image, options).unwrap_or_else(|e| panic!("{}: {e}", image.display()))
}

/// `program` (a path inside the image) inspected and verified in the image read in place,
/// checked to agree with the same done in the image written out to `dest`: the root model's
/// image backend answers as the directory backend does.
fn verify_in_place(path: &Path, dest: &Path, program: &str) -> runbase::report::Verification {
    let image = ours(path, &ImageOptions::default());
    let root = runbase::RootFs::image(path, image);
    let mut resolver = runbase::Resolver::with_root(
        root,
        &runbase::Limits::default(),
        &runbase::ResolveOptions::default(),
    );
    let report = runbase::inspect_in_root(
        Path::new(program),
        &runbase::Options::default(),
        &mut resolver,
    )
    .unwrap();
    let in_place = runbase::verify_with(&report, &mut resolver);
    let written = report_in(&dest.join(program.trim_start_matches('/')), dest);
    let on_disk = runbase::verify(&written, dest).unwrap();
    let paths = |r: &runbase::Report| -> Vec<String> {
        let closure = r.closure.as_ref().unwrap();
        closure.libraries.iter().map(|l| l.path.clone()).collect()
    };
    assert_eq!(paths(&report), paths(&written), "{program}");
    assert_eq!(in_place.runs, on_disk.runs, "{program}");
    assert_eq!(in_place.problem_codes, on_disk.problem_codes, "{program}");
    assert_eq!(in_place.problems, on_disk.problems, "{program}");
    in_place
}

/// The image's tree as [`snapshot`] sees a directory.
fn snapshot_image(image: &Image) -> BTreeMap<PathBuf, Node> {
    let path = |bytes: &[u8]| PathBuf::from(OsStr::from_bytes(bytes));
    image
        .listing()
        .unwrap()
        .into_iter()
        .map(|(name, entry)| {
            let node = match entry {
                EntrySummary::Dir { .. } => Node::Dir,
                EntrySummary::File {
                    mode,
                    size,
                    content,
                    ..
                } => {
                    assert_eq!(content.len() as u64, size, "{}", path(&name).display());
                    Node::File(mode & 0o777, size, fnv(&content))
                }
                EntrySummary::Symlink { target } => Node::Link(path(&target)),
                other => panic!("{other:?}"),
            };
            (path(&name), node)
        })
        .collect()
}

/// The image's tree by path, as listed.
fn listed(image: &Image) -> BTreeMap<Vec<u8>, EntrySummary> {
    image.listing().unwrap().into_iter().collect()
}

/// A file's content as the image serves it.
fn text(image: &Image, path: &str) -> String {
    let bytes = image
        .read_path(path.as_bytes(), u64::MAX)
        .unwrap()
        .unwrap_or_else(|| panic!("no file {path}"));
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The image written out as a directory (by this test, from the listing), to run its
/// programs in a chroot and to `verify` against.
fn written_out(image: &Image) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut modes = Vec::new();
    for (name, entry) in image.listing().unwrap() {
        let at = dir.path().join(OsStr::from_bytes(&name));
        match entry {
            EntrySummary::Dir { mode } => {
                std::fs::create_dir(&at).unwrap();
                modes.push((at, mode));
            }
            EntrySummary::File { mode, content, .. } => {
                std::fs::write(&at, &content).unwrap();
                std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            EntrySummary::Symlink { target } => symlink(OsStr::from_bytes(&target), &at).unwrap(),
            other => panic!("{other:?}"),
        }
    }
    for (at, mode) in modes.into_iter().rev() {
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

fn assert_same_tree(ours: &Image, theirs: &Path) -> usize {
    let a = snapshot_image(ours);
    let b = snapshot(theirs);
    let only_ours: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_theirs: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only ours: {only_ours:?}\nonly umoci's: {only_theirs:?}"
    );
    for (path, node) in &a {
        assert_eq!(Some(node), b.get(path), "{}", path.display());
    }
    a.len()
}

#[test]
fn image_trees_equal_umocis_unpacking() {
    let work = tempfile::tempdir().unwrap();
    let l = layers(work.path());
    let mut compared = 0;
    for (name, stack, tool) in [
        (
            "gzip, opaque /etc",
            vec![&l.base, &l.app, &l.opaque_etc],
            Some("gzip"),
        ),
        (
            "plain tar, libc whiteout",
            vec![&l.base, &l.app, &l.no_libc],
            None,
        ),
        (
            "gzip, loader whiteout",
            vec![&l.base, &l.app, &l.no_interpreter],
            Some("gzip"),
        ),
    ] {
        let dir = work.path().join(format!("oci-{compared}"));
        let oci = Oci::new(&dir);
        let stack: Vec<&Path> = stack.iter().map(|p| p.as_path()).collect();
        let descriptor = oci.image(&stack, tool, ("linux", "amd64"));
        oci.index(vec![tagged(descriptor, "v1")]);
        let theirs = umoci(&dir, "v1", &work.path().join(format!("umoci-{compared}")));
        let image = ours(&dir, &ImageOptions::default());
        let info = image.info();
        assert_eq!(info.format, ImageFormat::OciLayout);
        assert_eq!(info.layers, 3);
        let n = assert_same_tree(&image, &theirs);
        eprintln!("{name}: {n} paths equal to umoci's");
        compared += n;
    }
    assert!(compared > 3000, "{compared}");

    // What the layers say, checked directly as well (umoci could share a mistake).
    let dir = work.path().join("oci-0");
    let image = ours(&dir, &ImageOptions::default());
    let info = image.info();
    let tree = listed(&image);
    let read = |p: &str| text(&image, p);
    assert!(!tree.contains_key(&b"etc/passwd"[..]) && !tree.contains_key(&b"etc/app"[..]));
    assert_eq!(read("etc/hosts"), "127.0.0.1 localhost\n");
    assert_eq!(
        read("usr/lib/x86_64-linux-gnu/extra.txt"),
        "through a link\n"
    );
    assert_eq!(read("var/data/f"), "through a relative link\n");
    assert_eq!(read("srv/x/y"), "below the new directory\n");
    assert_eq!(
        tree[&b"opt/d"[..]],
        EntrySummary::Symlink {
            target: b"/srv".to_vec()
        }
    );
    assert_eq!(
        read("app/passwd-link").as_bytes(),
        std::fs::read("/etc/passwd").unwrap()
    );
    let mode = |p: &str| match &tree[p.as_bytes()] {
        EntrySummary::Dir { mode } | EntrySummary::File { mode, .. } => *mode,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (mode("app/hello"), mode("app/readonly"), mode("tmp")),
        (0o755, 0o444, 0o1777)
    );
    assert_eq!(info.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(info.reference.as_deref(), Some("v1"));
    assert_eq!(info.entrypoint, ["/app/hello"]);
    assert_eq!(info.cmd, ["--greet"]);
    assert_eq!(info.env_path.as_deref(), Some(&CONFIG_PATH[5..]));
    assert_eq!(info.user.as_deref(), Some("1000:1000"));
    assert_eq!(info.working_dir.as_deref(), Some("/app"));
    let loose = snapshot_image(&image)
        .values()
        .filter(|n| matches!(n, Node::File(..)))
        .count();
    assert!(
        info.entries as usize > loose && info.bytes > 1 << 20,
        "{info:?}"
    );
}

#[test]
fn zstd_layers_read_like_gzip_ones() {
    let work = tempfile::tempdir().unwrap();
    let l = layers(work.path());
    let stack = [l.base.as_path(), l.app.as_path(), l.no_libc.as_path()];
    let mut trees = Vec::new();
    for tool in ["gzip", "zstd", "zstd-frames"] {
        let dir = work.path().join(tool);
        let oci = Oci::new(&dir);
        let d = oci.image(&stack, Some(tool), ("linux", "amd64"));
        oci.index(vec![tagged(d, "v1")]);
        trees.push(snapshot_image(&ours(&dir, &ImageOptions::default())));
    }
    let gz = &trees[0];
    assert!(gz.len() > 1000);
    assert_eq!(*gz, trees[1]);
    assert_eq!(*gz, trees[2], "several frames and skippable ones");
}

/// A zstd frame asking for a window over 128 MiB is refused before anything is decoded,
/// as `zstd -d` refuses it: a single-segment frame's window is its whole content, which
/// the decoder would hold (a 17 KB layer of 512 MiB zeros held 1 GiB).
#[test]
fn zstd_windows_over_the_limit_are_refused_like_zstd_does() {
    // A single-segment frame of 512 MiB + 1 KiB: a raw block of a tar header for a file of
    // 512 MiB, then zeros in RLE blocks.
    let mut header = tar::Header::new_gnu();
    header.set_path("zeros").unwrap();
    header.set_size(512 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let total: u64 = 512 + (512 << 20) + 1024;
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
    frame.extend_from_slice(&total.to_le_bytes());
    let block = |last: bool, kind: u32, size: u64| {
        let word = u32::from(last) | (kind << 1) | (u32::try_from(size).unwrap() << 3);
        word.to_le_bytes()[..3].to_vec()
    };
    frame.extend(block(false, 0, 512));
    frame.extend_from_slice(header.as_bytes());
    let mut rest = total - 512;
    while rest > 0 {
        let n = rest.min(128 << 10);
        rest -= n;
        frame.extend(block(rest == 0, 1, n));
        frame.push(0);
    }
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("bomb.zst");
    std::fs::write(&file, &frame).unwrap();
    let theirs = Command::new("zstd")
        .args(["-d", "-c", "-q"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!theirs.status.success());
    assert!(String::from_utf8_lossy(&theirs.stderr).contains("too much memory"));

    let (result, _work) = hostile(&[frame], &ImageOptions::default());
    match result {
        Err(e @ ImageError::Read { .. }) => {
            let cause = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(cause.contains("512 MiB window"), "{cause}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Every form, run in a chroot, and verify's predictions.

struct Forms {
    _work: tempfile::TempDir,
    /// (what, image path, the expected format) for base + app.
    good: Vec<(&'static str, PathBuf, ImageFormat)>,
    /// base + app + a breaking layer, as OCI layout directories.
    no_interpreter: PathBuf,
    no_libc: PathBuf,
    opaque_etc: PathBuf,
}

fn forms() -> Forms {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let l = layers(w);
    let good = [l.base.as_path(), l.app.as_path()];
    let oci_dir = w.join("oci");
    let oci = Oci::new(&oci_dir);
    let d = oci.image(&good, Some("gzip"), ("linux", "amd64"));
    oci.index(vec![tagged(d, "v1")]);
    let oci_tar = w.join("oci.tar");
    archive(&oci_dir, &oci_tar);
    let broken = |name: &str, layer: &Path| {
        let dir = w.join(name);
        let oci = Oci::new(&dir);
        let d = oci.image(&[&l.base, &l.app, layer], Some("gzip"), ("linux", "amd64"));
        oci.index(vec![tagged(d, "v1")]);
        dir
    };
    Forms {
        good: vec![
            (
                "docker save (legacy)",
                docker_save_legacy(&good, "app:1", w),
                ImageFormat::DockerSave,
            ),
            (
                "docker save (Docker 25)",
                docker_save_25(&good, "app:1", w),
                ImageFormat::DockerSave,
            ),
            ("OCI layout, gzip", oci_dir, ImageFormat::OciLayout),
            ("OCI archive", oci_tar, ImageFormat::OciArchive),
        ],
        no_interpreter: broken("no-interpreter", &l.no_interpreter),
        no_libc: broken("no-libc", &l.no_libc),
        opaque_etc: broken("opaque-etc", &l.opaque_etc),
        _work: work,
    }
}

#[test]
fn every_form_gives_a_root_that_runs_the_programs() {
    // Running the programs needs root.
    require_root();
    let f = forms();
    let mut first: Option<BTreeMap<PathBuf, Node>> = None;
    for (what, path, format) in &f.good {
        let image = ours(path, &ImageOptions::default());
        let info = image.info();
        assert_eq!(info.format, *format, "{what}");
        assert_eq!(info.layers, 2, "{what}");
        // The same layers give the same tree whatever the container format.
        let tree = snapshot_image(&image);
        let dest = written_out(&image);
        match &first {
            None => first = Some(tree),
            Some(t) => assert!(*t == tree, "{what} differs"),
        }
        let out = try_run_in_root(dest.path(), "/app/hello", &[], &[]).expect("exec");
        assert!(out.status.success(), "{what}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Hello, world!");
        let out = try_run_in_root(dest.path(), "/app/getaddrinfo", &["localhost"], &[]).unwrap();
        assert!(out.status.success(), "{what}: {out:?}");
        let report = report_in(&dest.path().join("app/hello"), dest.path());
        let v = runbase::verify(&report, dest.path()).unwrap();
        assert!(v.runs, "{what}: {:?}", v.problems);
        assert!(
            verify_in_place(path, dest.path(), "/app/hello").runs,
            "{what}"
        );
        eprintln!("{what}: read, ran, verified");
    }
}

#[test]
fn whiteouts_break_images_as_verify_predicts_and_running_confirms() {
    // Running the programs needs root.
    require_root();
    let f = forms();
    let options = ImageOptions::default();

    let image = ours(&f.no_interpreter, &options);
    assert!(!listed(&image).contains_key(&b"lib64/ld-linux-x86-64.so.2"[..]));
    let dest = written_out(&image);
    let v = runbase::verify(
        &report_in(&dest.path().join("app/hello"), dest.path()),
        dest.path(),
    )
    .unwrap();
    assert!(!v.runs);
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("interpreter /lib64/ld-linux-x86-64.so.2 is absent")),
        "{:?}",
        v.problems
    );
    let err = try_run_in_root(dest.path(), "/app/hello", &[], &[]).expect_err("no loader");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(!verify_in_place(&f.no_interpreter, dest.path(), "/app/hello").runs);

    let dest = written_out(&ours(&f.no_libc, &options));
    let v = runbase::verify(
        &report_in(&dest.path().join("app/hello"), dest.path()),
        dest.path(),
    )
    .unwrap();
    assert!(!v.runs);
    assert!(
        v.problems
            .iter()
            .any(|p| p.starts_with("libc.so.6 is not found")),
        "{:?}",
        v.problems
    );
    let out = try_run_in_root(dest.path(), "/app/hello", &[], &[]).unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("libc.so.6"),
        "{out:?}"
    );
    assert!(!verify_in_place(&f.no_libc, dest.path(), "/app/hello").runs);

    // The static resolver program looks up uid 0 in /etc/passwd, which the opaque /etc
    // layer removed (keeping only its own /etc/hosts).
    let dest = written_out(&ours(&f.opaque_etc, &options));
    let report = report_in(&dest.path().join("app/getaddrinfo"), dest.path());
    let v = runbase::verify(&report, dest.path()).unwrap();
    assert!(!v.runs);
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("/etc/passwd is missing")),
        "{:?}",
        v.problems
    );
    assert!(!verify_in_place(&f.opaque_etc, dest.path(), "/app/getaddrinfo").runs);
    let out = try_run_in_root(dest.path(), "/app/getaddrinfo", &["localhost"], &[]).unwrap();
    assert!(!out.status.success(), "{out:?}");
    // And the hello program, which needs none of /etc, still runs there.
    let out = try_run_in_root(dest.path(), "/app/hello", &[], &[]).unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn multi_platform_index_is_chosen_by_platform() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let layer = |name: &str, text: &str| {
        let path = w.join(format!("{name}.tar"));
        RawTar::new()
            .file("platform", 0o644, text.as_bytes())
            .write(&path);
        path
    };
    let (amd, arm, armv7) = (
        layer("amd", "amd64\n"),
        layer("arm", "arm64\n"),
        layer("armv7", "arm v7\n"),
    );
    let dir = w.join("multi");
    let oci = Oci::new(&dir);
    let mut v7 = oci.image(&[&armv7], Some("gzip"), ("linux", "arm"));
    v7["platform"]["variant"] = json!("v7");
    let amd_manifest = oci.image(&[&amd], Some("gzip"), ("linux", "amd64"));
    let children = vec![
        amd_manifest.clone(),
        oci.image(&[&arm], Some("gzip"), ("linux", "arm64")),
        v7,
    ];
    let nested = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children});
    let (digest, size) = oci.blob_json(&nested);
    // umoci 0.4 reads no nested index: the amd64 manifest is also tagged on its own.
    oci.index(vec![
        json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "multi"}
        }),
        tagged(amd_manifest.clone(), "amd64"),
    ]);
    let with = |platform: Option<&str>, default: Option<&str>| {
        let mut o = ImageOptions::default();
        o.platform = platform.map(|p| p.parse().unwrap());
        o.default_platform = default.map(|p| p.parse().unwrap());
        o
    };
    for (wanted, expect) in [
        ("linux/amd64", "amd64\n"),
        ("linux/arm64", "arm64\n"),
        ("linux/arm/v7", "arm v7\n"),
        ("linux/arm", "arm v7\n"),
    ] {
        let image = ours(&dir, &with(Some(wanted), None));
        assert_eq!(text(&image, "platform"), expect, "{wanted}");
        assert_eq!(image.info().reference.as_deref(), Some("multi"));
    }
    // umoci agrees on the amd64 image, which the default platform picks out of "multi".
    let theirs = umoci(&dir, "amd64", &w.join("umoci"));
    let mut options = with(None, Some("linux/amd64"));
    options.reference = Some("multi".into());
    assert_eq!(assert_same_tree(&ours(&dir, &options), &theirs), 1);

    // The same layout saved by Docker 25: its manifest.json names the amd64 image only;
    // the other platforms are reached through index.json.
    docker25_manifest(&dir, &amd_manifest, "multi:latest");
    let saved = w.join("docker25-multi.tar");
    archive(&dir, &saved);
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    for (wanted, expect) in [("linux/arm64", "arm64\n"), ("linux/amd64", "amd64\n")] {
        let mut options = with(Some(wanted), None);
        options.reference = Some("multi".into());
        let image = ours(&saved, &options);
        assert_eq!(image.info().format, ImageFormat::DockerSave);
        assert_eq!(
            text(&image, "platform"),
            expect,
            "Docker 25 archive, {wanted}"
        );
    }

    match Image::open(&dir, &with(Some("linux/s390x"), None)) {
        Err(ImageError::NoMatchingPlatform { wanted, available }) => {
            assert_eq!(wanted, "linux/s390x");
            assert_eq!(available, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        }
        other => panic!("{other:?}"),
    }
    match Image::open(&dir, &with(None, None)) {
        Err(ImageError::Ambiguous { available, .. }) => {
            assert_eq!(available.len(), 4);
            assert!(
                available.contains(&"multi linux/arm64".to_string()),
                "{available:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn archives_of_several_images_are_chosen_by_tag() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let dir = w.join("two");
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = Vec::new();
    for (n, tag) in ["one:1", "two:2"].iter().enumerate() {
        let layer = dir.join(format!("{n}.tar"));
        RawTar::new()
            .file("which", 0o644, tag.as_bytes())
            .write(&layer);
        std::fs::write(
            dir.join(format!("{n}.json")),
            serde_json::to_vec(&config(("linux", "amd64"), &[])).unwrap(),
        )
        .unwrap();
        manifest.push(json!({"Config": format!("{n}.json"), "RepoTags": [tag], "Layers": [format!("{n}.tar")]}));
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let tarball = w.join("two.tar");
    archive(&dir, &tarball);
    match Image::open(&tarball, &ImageOptions::default()) {
        Err(ImageError::Ambiguous { available, .. }) => assert_eq!(available, ["one:1", "two:2"]),
        other => panic!("{other:?}"),
    }
    let mut options = ImageOptions::default();
    options.reference = Some("docker.io/library/two:2".into());
    let image = ours(&tarball, &options);
    assert_eq!(text(&image, "which"), "two:2");
    assert_eq!(image.info().reference.as_deref(), Some("two:2"));
    options.reference = Some("three".into());
    match Image::open(&tarball, &options) {
        Err(ImageError::NoSuchReference { wanted, available }) => {
            assert_eq!((wanted.as_str(), available.len()), ("three", 2));
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Hostile images.

/// A one-image `docker save` tarball of these layer tars (bytes), in `dir`.
fn saved(dir: &Path, layers: &[Vec<u8>]) -> PathBuf {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    let mut names = Vec::new();
    for (n, bytes) in layers.iter().enumerate() {
        std::fs::write(stage.join(format!("{n}.tar")), bytes).unwrap();
        names.push(format!("{n}.tar"));
    }
    std::fs::write(
        stage.join("c.json"),
        serde_json::to_vec(&config(("linux", "amd64"), &[])).unwrap(),
    )
    .unwrap();
    let manifest = json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": names}]);
    std::fs::write(
        stage.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let out = dir.join("image.tar");
    archive(&stage, &out);
    out
}

fn layer_bytes(build: impl FnOnce(&mut RawTar)) -> Vec<u8> {
    let mut t = RawTar::new();
    build(&mut t);
    t.builder.into_inner().unwrap()
}

/// Opens the image with `<work>/outside` beside it; asserts nothing appeared anywhere.
fn hostile(
    layers: &[Vec<u8>],
    options: &ImageOptions,
) -> (Result<Image, ImageError>, tempfile::TempDir) {
    hostile_with(|_| layers.to_vec(), options)
}

/// [`hostile`] with layers that know the absolute path of the outside directory.
fn hostile_with(
    build: impl FnOnce(&Path) -> Vec<Vec<u8>>,
    options: &ImageOptions,
) -> (Result<Image, ImageError>, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside");
    let image = saved(work.path(), &build(&outside));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "host file\n").unwrap();
    let result = Image::open(&image, options);
    let left: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["secret"], "written outside the destination");
    assert_eq!(
        std::fs::metadata(outside.join("secret")).unwrap().nlink(),
        1,
        "linked from inside"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "host file\n"
    );
    let top: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top.len(), 3, "{top:?}"); // stage, image.tar, outside
    (result, work)
}

#[test]
fn hostile_layers_stay_inside_the_image() {
    let options = ImageOptions::default();
    let mut cases = 0;

    // `..` in a path or a hard-link target: refused.
    for bytes in [
        layer_bytes(|t| {
            t.file("../outside/evil", 0o644, b"x");
        }),
        layer_bytes(|t| {
            t.file("a/../../outside/evil", 0o644, b"x");
        }),
        layer_bytes(|t| {
            t.hardlink("h", "../outside/secret");
        }),
        layer_bytes(|t| {
            t.file("etc/.wh..", 0o644, b"");
        }),
    ] {
        let (result, _work) = hostile(&[bytes], &options);
        assert!(
            matches!(result, Err(ImageError::UnsafePath { .. })),
            "{result:?}"
        );
        cases += 1;
    }

    // Absolute paths land inside.
    let (result, _work) = hostile(
        &[layer_bytes(|t| {
            t.file("/abs/file", 0o644, b"x");
        })],
        &options,
    );
    assert_eq!(text(&result.unwrap(), "abs/file"), "x");
    cases += 1;

    // A link out of the destination, then an entry below it: resolved inside, as in a
    // chroot; the same with the link in a lower layer, and with a directory of that name
    // walked before the link replaces it (a walk must not take it for a directory still).
    for (absolute, split, dir_first) in (0..8).map(|n| (n & 1 == 0, n & 2 != 0, n & 4 != 0)) {
        let (result, work) = hostile_with(
            |outside| {
                let link = if absolute {
                    outside.to_string_lossy().into_owned()
                } else {
                    "../../../../../../../..".to_string()
                };
                let link_layer = layer_bytes(|t| {
                    if dir_first {
                        t.dir("evil");
                        t.file("evil/walked", 0o644, b"x");
                    }
                    t.symlink("evil", &link);
                });
                let file_layer = layer_bytes(|t| {
                    t.file("evil/file", 0o644, b"x");
                });
                if split {
                    vec![link_layer, file_layer]
                } else {
                    let mut both = link_layer;
                    both.truncate(both.len() - 1024); // drop the end-of-archive blocks
                    both.extend(file_layer);
                    vec![both]
                }
            },
            &options,
        );
        let image = result.unwrap();
        let lands = if absolute {
            work.path().join("outside/file")
        } else {
            PathBuf::from("/file")
        };
        assert!(
            image
                .read_path(lands.as_os_str().as_bytes(), 10)
                .unwrap()
                .is_some(),
            "absolute {absolute}, dir first {dir_first}: {lands:?}"
        );
        cases += 1;
    }
    // A directory whose mode is applied at the end, turned into a link out by a later
    // layer: the mode must not reach through the link (nor may `./` set the destination's).
    // (`a/outside` is recorded; `a -> ..` then makes that path the real outside directory.)
    let (result, work) = hostile(
        &[
            layer_bytes(|t| {
                t.entry(tar::EntryType::Directory, b"./", b"", 0o777, b"");
                t.entry(tar::EntryType::Directory, b"a/outside", b"", 0o700, b"");
            }),
            layer_bytes(|t| {
                t.symlink("a", "..");
            }),
        ],
        &options,
    );
    let tree = listed(&result.unwrap());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    // It was made as a fresh directory is made here.
    let probe = work.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    assert_eq!(
        mode(&work.path().join("outside")),
        mode(&probe),
        "mode applied through a link"
    );
    // In the image, `a` is the link; the directory below the old `a` went with it.
    assert_eq!(tree.len(), 1, "{tree:?}");
    assert_eq!(
        tree[&b"a"[..]],
        EntrySummary::Symlink {
            target: b"..".to_vec()
        }
    );
    cases += 1;

    // A hard link through a link that points outside: the target resolves inside, where
    // it does not exist.
    let (result, _work) = hostile_with(
        |outside| {
            vec![layer_bytes(|t| {
                t.symlink("evil", &outside.to_string_lossy());
                t.hardlink("stolen", "evil/secret");
            })]
        },
        &options,
    );
    assert!(
        matches!(
            result,
            Err(ImageError::Entry {
                what: "a hard link whose target is absent",
                ..
            })
        ),
        "{result:?}"
    );
    cases += 1;

    // A file's name that is a link: the link is replaced, never written through.
    let (result, _work) = hostile(
        &[
            layer_bytes(|t| {
                t.symlink("etc/passwd", "/etc/shadow");
            }),
            layer_bytes(|t| {
                t.file("etc/passwd", 0o644, b"root:x:0:0::/:/bin/sh\n");
            }),
        ],
        &options,
    );
    assert_eq!(
        text(&result.unwrap(), "etc/passwd"),
        "root:x:0:0::/:/bin/sh\n"
    );
    cases += 1;

    // Symbolic-link loops in a path (an error, not a hang), and a file in the way of a
    // directory (an error, as with Docker and tar).
    let refused: [fn(&mut RawTar); 3] = [
        |t| {
            t.symlink("a", "b");
            t.symlink("b", "a");
            t.file("a/file", 0o644, b"x");
        },
        |t| {
            t.symlink("self", "self/x");
            t.file("self/y", 0o644, b"x");
        },
        |t| {
            t.file("f", 0o644, b"x");
            t.file("f/g", 0o644, b"y");
        },
    ];
    for build in refused {
        let (result, _work) = hostile(&[layer_bytes(build)], &options);
        assert!(
            matches!(result, Err(ImageError::Entry { .. })),
            "{result:?}"
        );
        cases += 1;
    }

    // Device nodes and FIFOs are skipped and counted.
    let (result, _work) = hostile(
        &[layer_bytes(|t| {
            t.entry(tar::EntryType::Char, b"dev/null", b"", 0o666, b"");
            t.entry(tar::EntryType::Fifo, b"run/fifo", b"", 0o644, b"");
        })],
        &options,
    );
    let image = result.unwrap();
    assert_eq!(image.info().skipped, 2);
    assert!(listed(&image).is_empty());
    cases += 1;

    eprintln!("{cases} hostile layer cases");
}

/// A layout's blob that is a FIFO (which `open` would wait on forever) is a missing blob,
/// reported at once.
#[test]
fn a_fifo_blob_is_missing_not_waited_on() {
    let work = tempfile::tempdir().unwrap();
    let layer = work.path().join("layer.tar");
    std::fs::write(
        &layer,
        layer_bytes(|t| {
            t.file("etc/hello", 0o644, b"hello\n");
        }),
    )
    .unwrap();
    let layout = work.path().join("layout");
    let oci = Oci::new(&layout);
    let descriptor = oci.image(&[&layer], None, ("linux", "amd64"));
    oci.index(vec![descriptor]);
    let blob = layout.join("blobs/sha256").join(sha256(&layer));
    std::fs::remove_file(&blob).unwrap();
    mkfifo(&blob);
    let (tx, rx) = std::sync::mpsc::channel();
    let from = layout.clone();
    std::thread::spawn(move || {
        tx.send(Image::open(&from, &ImageOptions::default())).ok();
    });
    // A liveness deadline, not a measure of speed.
    let result = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("opening still waiting on the FIFO after 60 s");
    match result {
        Err(ImageError::MissingBlob { name }) => assert!(name.contains(&sha256(&layer)), "{name}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn damaged_and_oversized_images_are_typed_errors() {
    let small = layer_bytes(|t| {
        t.file("etc/hello", 0o644, b"hello\n");
        t.file("bin/x", 0o755, &[7u8; 5000]);
    });

    // Truncated at every 512-byte block and at odd places: an error or fewer files, never
    // a panic, never outside.
    let mut errors = 0;
    for cut in (0..small.len()).step_by(512).chain([100, 700, 3000, 5000]) {
        let (result, _work) = hostile(&[small[..cut].to_vec()], &ImageOptions::default());
        errors += usize::from(result.is_err());
    }
    assert!(errors >= 8, "{errors}");

    // A gzip bomb: 64 MiB of zeros in a file, against a 16 MiB limit.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut t = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(64 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    t.append_data(&mut header, "zeros", std::io::repeat(0).take(64 << 20))
        .unwrap();
    enc.write_all(&t.into_inner().unwrap()).unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let mut options = ImageOptions::default();
    options.max_bytes = 16 << 20;
    let (result, _work) = hostile(&[bomb], &options);
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "bytes unpacked",
                ..
            })
        ),
        "{result:?}"
    );
    // The same bytes as the data of an entry that is never written (a FIFO with a size).
    let mut t = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Fifo);
    header.set_size(64 << 20);
    header.set_cksum();
    t.append_data(&mut header, "fifo", std::io::repeat(0).take(64 << 20))
        .unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&t.into_inner().unwrap()).unwrap();
    let (result, _work) = hostile(&[enc.finish().unwrap()], &options);
    assert!(
        matches!(result, Err(ImageError::LimitExceeded { .. })),
        "{result:?}"
    );

    // Entry and path limits.
    options = ImageOptions::default();
    options.max_entries = 10;
    let many = layer_bytes(|t| {
        for i in 0..20 {
            t.file(&format!("f{i}"), 0o644, b"");
        }
    });
    let (result, _work) = hostile(&[many], &options);
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "tar entries",
                ..
            })
        ),
        "{result:?}"
    );
    options = ImageOptions::default();
    options.max_path_bytes = 50;
    let long = layer_bytes(|t| {
        t.file(&"d/".repeat(40), 0o644, b"");
    });
    let (result, _work) = hostile(&[long], &options);
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "path length",
                ..
            })
        ),
        "{result:?}"
    );
    // A GNU long name past the extension limit, declared 1 GiB, with 1 KiB present.
    let mut raw = Vec::new();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::GNULongName);
    header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    header.set_size(1 << 30);
    header.set_cksum();
    raw.extend_from_slice(header.as_bytes());
    raw.extend_from_slice(&[b'a'; 1024]);
    let (result, _work) = hostile(&[raw], &ImageOptions::default());
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "tar extension entry",
                ..
            })
        ),
        "{result:?}"
    );

    // Too many layers: refused before any is read.
    options = ImageOptions::default();
    let layers: Vec<Vec<u8>> = (0..128).map(|_| Vec::new()).collect();
    let (result, _work) = hostile(&layers, &options);
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "layers",
                limit: 127
            })
        ),
        "{result:?}"
    );

    // manifest.json past the JSON limit.
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut text = b"[".to_vec();
    text.extend(std::iter::repeat_n(b' ', 5 << 20));
    text.extend_from_slice(b"]");
    std::fs::write(big.join("manifest.json"), &text).unwrap();
    archive(&big, &work.path().join("big.tar"));
    let result = Image::open(&work.path().join("big.tar"), &ImageOptions::default());
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "JSON document size",
                ..
            })
        ),
        "{result:?}"
    );

    // A layer listed but absent, a digest naming a path outside blobs/, a blob of the wrong
    // size, malformed JSON, something that is not an image.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let stage = w.join("missing");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("c.json"), b"{}").unwrap();
    std::fs::write(
        stage.join("manifest.json"),
        br#"[{"Config":"c.json","Layers":["gone/layer.tar"]}]"#,
    )
    .unwrap();
    archive(&stage, &w.join("missing.tar"));
    let result = Image::open(&w.join("missing.tar"), &ImageOptions::default());
    assert!(
        matches!(&result, Err(ImageError::MissingBlob { name }) if name == "gone/layer.tar"),
        "{result:?}"
    );

    let oci = Oci::new(&w.join("oci"));
    let layer = w.join("l.tar");
    RawTar::new().file("x", 0o644, b"x").write(&layer);
    let d = oci.image(&[&layer], Some("gzip"), ("linux", "amd64"));
    let mut escape = d.clone();
    escape["digest"] = json!("sha256:../../../etc/passwd");
    oci.index(vec![escape]);
    let result = Image::open(&oci.dir, &ImageOptions::default());
    assert!(
        matches!(result, Err(ImageError::Malformed { .. })),
        "{result:?}"
    );
    let mut wrong_size = d.clone();
    wrong_size["size"] = json!(d["size"].as_u64().unwrap() + 1);
    oci.index(vec![wrong_size]);
    let result = Image::open(&oci.dir, &ImageOptions::default());
    assert!(
        matches!(result, Err(ImageError::Malformed { .. })),
        "{result:?}"
    );
    // Blobs of the right size whose content is not what their digest names (sha256sum, not
    // the code under test, named them): a config, then a layer changed in its end-of-archive
    // blocks, which the tar reader stops before (the digest check reads on to the end).
    let blob = |digest: &serde_json::Value| {
        oci.dir
            .join("blobs/sha256")
            .join(&digest.as_str().unwrap()[7..])
    };
    let flip_last = |path: &Path| {
        let mut bytes = std::fs::read(path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(path, bytes).unwrap();
    };
    let plain = oci.image(&[&layer], None, ("linux", "amd64"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&plain["digest"])).unwrap()).unwrap();
    let (config_blob, layer_blob) = (
        blob(&manifest["config"]["digest"]),
        blob(&manifest["layers"][0]["digest"]),
    );
    for (what, path) in [("config", &config_blob), ("layer", &layer_blob)] {
        oci.index(vec![plain.clone()]);
        assert!(
            Image::open(&oci.dir, &ImageOptions::default()).is_ok(),
            "{what} before"
        );
        flip_last(path);
        let result = Image::open(&oci.dir, &ImageOptions::default());
        assert!(
            matches!(&result, Err(ImageError::DigestMismatch { name, .. }) if path.ends_with(name)),
            "{what}: {result:?}"
        );
        flip_last(path);
    }
    std::fs::write(oci.dir.join("index.json"), b"{\"manifests\": [").unwrap();
    let result = Image::open(&oci.dir, &ImageOptions::default());
    assert!(
        matches!(result, Err(ImageError::Malformed { .. })),
        "{result:?}"
    );
    std::fs::write(w.join("notes.txt"), b"not a tar at all").unwrap();
    let result = Image::open(&w.join("notes.txt"), &ImageOptions::default());
    assert!(
        matches!(
            result,
            Err(ImageError::NotAnImage { .. } | ImageError::Read { .. })
        ),
        "{result:?}"
    );
    let gz = compress("gzip", &w.join("missing.tar"));
    let result = Image::open(&gz, &ImageOptions::default());
    assert!(
        matches!(result, Err(ImageError::Unsupported { .. })),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Read in place: deep trees, byte names, content from compressed and plain layers.

#[test]
fn a_thousand_deep_entries_open_in_one_pass() {
    // Unpacking to disk took 41 s for this shape (every entry walked its whole path again).
    let mut t = tar::Builder::new(Vec::new());
    let mut dir = String::new();
    let header = |kind: tar::EntryType, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(size);
        h
    };
    for _ in 0..1000 {
        dir.push_str("d/");
        let mut h = header(tar::EntryType::Directory, 0);
        t.append_data(&mut h, &dir, &[][..]).unwrap();
    }
    for i in 0..1000 {
        let mut h = header(tar::EntryType::Regular, 5);
        t.append_data(&mut h, format!("{dir}f{i}"), &b"deep\n"[..])
            .unwrap();
    }
    let layer = t.into_inner().unwrap();
    let (result, _work) = hostile(&[layer], &ImageOptions::default());
    let image = result.unwrap();
    assert_eq!(listed(&image).len(), 2000);
    // Entries past 100 bytes of path come with a GNU long name before them.
    assert!(
        (3900..4000).contains(&image.info().entries),
        "{:?}",
        image.info()
    );
    assert_eq!(text(&image, &format!("{dir}f999")), "deep\n");
}

#[test]
fn names_stay_bytes() {
    let lossy = "caf\u{fffd}";
    let (result, _work) = hostile(
        &[layer_bytes(|t| {
            t.entry(
                tar::EntryType::Regular,
                b"caf\xe9",
                b"",
                0o644,
                b"latin-1\n",
            );
            t.entry(
                tar::EntryType::Regular,
                lossy.as_bytes(),
                b"",
                0o644,
                b"twin\n",
            );
            t.entry(tar::EntryType::Symlink, b"l\xff", b"caf\xe9", 0o777, b"");
        })],
        &ImageOptions::default(),
    );
    let image = result.unwrap();
    let tree = listed(&image);
    assert_eq!(tree.len(), 3, "{tree:?}");
    let read = |p: &[u8]| image.read_path(p, 100).unwrap().unwrap().to_vec();
    assert_eq!(read(b"caf\xe9"), b"latin-1\n");
    assert_eq!(read(lossy.as_bytes()), b"twin\n");
    assert_eq!(
        tree[&b"l\xff"[..]],
        EntrySummary::Symlink {
            target: b"caf\xe9".to_vec()
        }
    );
}

#[test]
fn the_tree_is_bounded_by_paths_and_bytes_held() {
    // Paths held: entries and the directories their paths imply.
    let mut options = ImageOptions::default();
    options.max_nodes = 10;
    let layer = layer_bytes(|t| {
        t.file("a/b/c/d/e/f/g/h/i/j/k", 0o644, b"");
    });
    let (result, _work) = hostile(std::slice::from_ref(&layer), &options);
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "paths in the tree",
                limit: 10
            })
        ),
        "{result:?}"
    );
    options.max_nodes = 12;
    assert!(hostile(&[layer], &options).0.is_ok());
    // Link targets are held whatever the budget; past it, an error.
    options = ImageOptions::default();
    options.max_retained_bytes = 100;
    let links = layer_bytes(|t| {
        for i in 0..20 {
            t.symlink(&format!("l{i}"), "0123456789");
        }
    });
    let (result, _work) = hostile(&[links], &options);
    assert!(
        matches!(
            result,
            Err(ImageError::LimitExceeded {
                what: "bytes held in memory",
                limit: 100
            })
        ),
        "{result:?}"
    );
    // A name no file system takes.
    let mut long = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(0);
    long.append_data(&mut header, format!("d/{}", "n".repeat(256)), &[][..])
        .unwrap();
    let (result, _work) = hostile(&[long.into_inner().unwrap()], &ImageOptions::default());
    assert!(
        matches!(result, Err(ImageError::Entry { .. })),
        "{result:?}"
    );
}

/// Run by [`a_zstd_bomb_stops_at_a_lowered_max_bytes_writing_nothing`] in a process whose
/// TMPDIR is an empty directory of its own.
#[test]
#[ignore = "run by a_zstd_bomb_stops_at_a_lowered_max_bytes_writing_nothing"]
fn zstd_bomb_in_a_process_of_its_own() {
    let Some(image) = std::env::var_os("RUNBASE_TEST_BOMB") else {
        return;
    };
    let mut options = ImageOptions::default();
    options.max_bytes = 16 << 20;
    match Image::open(Path::new(&image), &options) {
        Err(ImageError::LimitExceeded {
            what: "bytes unpacked",
            limit,
        }) => assert_eq!(limit, 16 << 20),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_zstd_bomb_stops_at_a_lowered_max_bytes_writing_nothing() {
    let work = tempfile::tempdir().unwrap();
    // 256 MiB of zeros in one file, compressed by zstd to a few KB.
    let plain = work.path().join("zeros.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&plain).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(256 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    t.append_data(&mut header, "zeros", std::io::repeat(0).take(256 << 20))
        .unwrap();
    t.into_inner().unwrap();
    let bomb = std::fs::read(compress("zstd", &plain)).unwrap();
    std::fs::remove_file(&plain).unwrap();
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let image = saved(work.path(), &[bomb]);
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "image::zstd_bomb_in_a_process_of_its_own",
            "--ignored",
            "--test-threads=1",
        ])
        .env("TMPDIR", &tmp)
        .env("RUNBASE_TEST_BOMB", &image)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The files of the content tests: an ELF program, a file below /etc, and one that is
/// neither (never retained).
fn content_layer(work: &Path) -> (PathBuf, Vec<(&'static str, Vec<u8>)>) {
    let files = vec![
        ("app/hello", std::fs::read(fixture("hello-gcc")).unwrap()),
        ("etc/app.conf", b"key = value\n".to_vec()),
        (
            "usr/share/doc/notes",
            b"MARKER-in-place-0123456789\n".repeat(50),
        ),
    ];
    let path = work.join("content.tar");
    let mut t = RawTar::new();
    for (name, bytes) in &files {
        t.file(name, 0o644, bytes);
    }
    t.write(&path);
    (path, files)
}

#[test]
fn content_of_compressed_layers_is_served_retained_or_not() {
    let work = tempfile::tempdir().unwrap();
    let (layer, files) = content_layer(work.path());
    let mut tiny = ImageOptions::default();
    tiny.max_retained_bytes = 16;
    for tool in ["gzip", "zstd"] {
        let dir = work.path().join(tool);
        let oci = Oci::new(&dir);
        let d = oci.image(&[&layer], Some(tool), ("linux", "amd64"));
        oci.index(vec![d]);
        for (what, options) in [
            ("default", ImageOptions::default()),
            ("tiny budget", tiny.clone()),
        ] {
            let image = ours(&dir, &options);
            for (name, bytes) in &files {
                for _ in 0..2 {
                    let got = image.read_path(name.as_bytes(), u64::MAX).unwrap().unwrap();
                    assert!(*got == **bytes, "{tool}, {what}: {name}");
                }
                let head = image.read_path(name.as_bytes(), 10).unwrap().unwrap();
                assert_eq!(*head, bytes[..10], "{tool}, {what}: {name}");
            }
            // The listing reads each layer once for every file not held.
            let tree = listed(&image);
            for (name, bytes) in &files {
                match &tree[name.as_bytes()] {
                    EntrySummary::File { content, .. } => assert!(**content == **bytes),
                    other => panic!("{other:?}"),
                }
            }
        }
    }
}

#[test]
fn plain_docker_save_layers_are_read_in_place() {
    let work = tempfile::tempdir().unwrap();
    let (layer, files) = content_layer(work.path());
    let saved = docker_save_legacy(&[&layer], "app:1", work.path());
    let mut options = ImageOptions::default();
    options.max_retained_bytes = 0;
    let image = ours(&saved, &options);
    for (name, bytes) in &files {
        let got = image.read_path(name.as_bytes(), u64::MAX).unwrap().unwrap();
        assert!(*got == **bytes, "{name}");
    }
    // Read by offset from the archive held open: a change made in place shows.
    let archive = std::fs::read(&saved).unwrap();
    let at = archive.windows(9).position(|w| w == b"MARKER-in").unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&saved)
        .unwrap();
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(at as u64)).unwrap();
    file.write_all(b"CHANGED").unwrap();
    drop(file);
    let got = image
        .read_path(b"usr/share/doc/notes", 16)
        .unwrap()
        .unwrap();
    assert_eq!(&*got, b"CHANGEDin-place-");
}

/// The time to open a Debian minbase root saved as one gzip layer (`docker save` legacy
/// form), against `gzip -dc` of that layer. Run by hand: `cargo test --release
/// --all-features --test it image::time_ -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn time_opening_a_debian_minbase_image() {
    let root = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cache/runbase-roots/minbase-amd64"))
        .filter(|p| p.is_dir())
        .expect("the minbase root the real tests debootstrap");
    let work = tempfile::tempdir().unwrap();
    let layer = work.path().join("layer.tar");
    tar_dir(&root, &layer);
    let gz = compress("gzip", &layer);
    std::fs::rename(&gz, &layer).unwrap();
    let saved = docker_save_legacy(&[&layer], "minbase:1", work.path());
    let start = std::time::Instant::now();
    run(Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -dc < '{}' > /dev/null", layer.display())));
    let gunzip = start.elapsed();
    let start = std::time::Instant::now();
    let image = ours(&saved, &ImageOptions::default());
    let open = start.elapsed();
    let start = std::time::Instant::now();
    let all = image.listing().unwrap();
    let listing = start.elapsed();
    eprintln!(
        "layer {} bytes gzip, {} bytes of files, {} entries: gzip -dc {gunzip:?}, Image::open {open:?}, listing with all content {listing:?} ({} paths)",
        std::fs::metadata(&layer).unwrap().len(),
        image.info().bytes,
        image.info().entries,
        all.len()
    );
}

// ---------------------------------------------------------------------------------------
// The command line.

#[cfg(feature = "cli")]
#[test]
fn command_line_verify_and_friends_take_images() {
    use crate::support::{json_line_expecting, run_expecting, runbase};
    let f = forms();
    let hello = fixture("hello-gcc");
    let (_, docker, _) = &f.good[0];

    // A file of this machine, checked as if copied into the image.
    let verify_json = |root: &Path, status: i32| {
        json_line_expecting(
            runbase()
                .args(["verify", "--json", "--host-file", "--root"])
                .arg(root)
                .arg(&hello),
            status,
        )
    };
    let line = verify_json(docker, 0);
    let v = &line["verification"];
    assert_eq!(v["root"], docker.to_string_lossy().as_ref());
    assert_eq!(line["closure"]["root"], docker.to_string_lossy().as_ref());
    assert_eq!(v["image"]["format"], "docker-save");
    assert_eq!(v["image"]["layers"], 2);
    assert_eq!(v["image"]["platform"], "linux/amd64");
    assert_eq!(v["image"]["reference"], "app:1");

    let line = verify_json(&f.no_libc, 3);
    assert_eq!(line["verification"]["image"]["format"], "oci-layout");
    assert_eq!(line["verification"]["runs"], false);

    // Without FILE, the program the image starts (its ENTRYPOINT, /app/hello: the same
    // bytes as the fixture), read inside the image.
    for (root, status) in [(docker, 0), (&f.no_libc, 3)] {
        let line = json_line_expecting(
            runbase().args(["verify", "--json", "--root"]).arg(root),
            status,
        );
        assert_eq!(line["path"], "/app/hello");
        assert_eq!(line["closure"]["file_in_root"], "/app/hello");
        assert_eq!(line["verification"]["runs"], status == 0);
    }
    // A FILE is a path inside the image: the image's own program, or an error saying the
    // image has no such file (this machine's file of that name is never read).
    let line = json_line_expecting(
        runbase()
            .args(["verify", "--json", "--root"])
            .arg(docker)
            .arg("/app/hello"),
        0,
    );
    assert_eq!(line["path"], "/app/hello");
    let out = run_expecting(
        runbase().args(["verify", "--root"]).arg(docker).arg(&hello),
        1,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such file in the image"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run_expecting(
        runbase()
            .args(["verify", "--host-file", "--root"])
            .arg(&f.no_interpreter)
            .arg(&hello),
        3,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "cannot run in image {} (v1, oci-layout, 3 layers, linux/amd64)",
            f.no_interpreter.display()
        )),
        "{text}"
    );

    // A platform the image lacks: an error naming what it has.
    let out = run_expecting(
        runbase()
            .args([
                "verify",
                "--host-file",
                "--platform",
                "linux/arm64",
                "--root",
            ])
            .arg(docker)
            .arg(&hello),
        1,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no image for linux/arm64; the image has: linux/amd64")
    );

    // Plain directories keep `image` null.
    let line = verify_json(Path::new("/"), 0);
    assert!(line["verification"]["image"].is_null());

    // scan walks the image, naming files as the image does; inspect and tree resolve in it.
    let out = run_expecting(
        runbase()
            .args(["scan", "--json", "--root"])
            .arg(&f.no_libc)
            .arg("/app"),
        1,
    );
    let lines = crate::support::json_lines(&out.stdout);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/app/getaddrinfo", "/app/hello"]);
    assert_eq!(lines[1]["closure"]["missing"][0]["soname"], "libc.so.6");
    let line = json_line_expecting(
        runbase()
            .args(["inspect", "--json", "--host-file", "--root"])
            .arg(&f.good[2].1)
            .arg(&hello),
        0,
    );
    assert_eq!(
        line["closure"]["libraries"][0]["path"],
        "/usr/lib/x86_64-linux-gnu/libc.so.6"
    );
    let out = run_expecting(
        runbase()
            .args(["tree", "--root"])
            .arg(&f.no_libc)
            .arg("/app/hello"),
        1,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("libc.so.6 not found"));

    // No temporary directory is left behind.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("runbase-image-")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
