//! Container images as root filesystems: a `docker save` tarball (the legacy form, read
//! through its `manifest.json`, and Docker 25's, an OCI layout inside the tar, read through
//! its `index.json`), an OCI image layout directory, or an OCI layout archived as a tar,
//! opened in place ([`Image::open`]): the layers are read once, in order, into an index of
//! the image's final tree held in memory, and file content is served from the image's own
//! files. Nothing is written to disk, so an interrupted run leaves nothing behind. An
//! image becomes a root for the rest of the crate through [`crate::RootFs::image`].
//!
//! Layers are applied in the manifest's order with the OCI whiteout rules (image-spec
//! `layer.md`): `.wh.<name>` removes `<name>` as lower layers left it, `.wh..wh..opq` removes
//! what lower layers put in its directory, and the current layer's own entries stay either
//! way. A directory replaces a file or link at its path and the other way round; hard links
//! point at earlier paths of the image; symbolic links are kept as they are. Device nodes
//! and FIFOs are skipped (counted in [`ImageInfo::skipped`]); permission bits are kept
//! without setuid and setgid; owners and times are not. Names are bytes throughout.
//!
//! Layers may be plain tar, gzip or zstd, told by their first bytes (`docker save`'s
//! `layer.tar` has no media type). xz and bzip2 give [`ImageError::Unsupported`].
//!
//! # Memory and content
//!
//! Files of uncompressed layers are read back by offset from the image file held open
//! (nothing is kept). Files of compressed layers that start with the ELF magic or lie
//! below `/etc` are kept in memory while [`ImageOptions::max_retained_bytes`] (1 GiB)
//! lasts; a whiteout or overwrite that hides one frees it; any other file is read by
//! decompressing its layer again up to it. The tree itself holds at most
//! [`ImageOptions::max_nodes`] paths, each about 100 bytes plus its name (255 bytes at
//! most). A Debian 12 minbase root (203 MB of files, 6,769 entries, one 93 MB gzip layer)
//! keeps its 68 MB of ELF files and 0.2 MB of `/etc`.
//!
//! # Untrusted input
//!
//! An image is untrusted input. An entry whose path has a `..` name is refused
//! ([`ImageError::UnsafePath`]); the directories of an entry are resolved in the image's
//! tree as a `chroot` would see them (a lower layer's `lib -> /usr/lib` or `x -> ../../..`
//! stays inside); the entry's own name is never followed, whatever is there is replaced;
//! hard-link targets are resolved the same way. [`ImageOptions`] bounds the bytes
//! decompressed (decompression bombs), the entries, the layers, the paths held, the bytes
//! held in memory, the JSON documents read, and path lengths; GNU long names and PAX
//! headers are read at most 64 KiB each. Digests are checked for their form (a digest
//! never names a path outside `blobs/`), blob sizes against their descriptors, and every
//! blob stored by its digest (`blobs/sha256/<hex>`: manifests, configurations, layers)
//! against that digest as it is read ([`ImageError::DigestMismatch`]). Content read later
//! comes from the same open files; a layer decompressed again is not hashed again. The
//! legacy `docker save` form names its layers `<id>/layer.tar`, which no digest covers.
//!
//! # Example
//!
//! ```no_run
//! use runbase::image::{Image, ImageOptions};
//!
//! let mut options = ImageOptions::default();
//! options.platform = Some("linux/arm64".parse()?);
//! let image = Image::open("app.tar".as_ref(), &options)?;
//! let info = image.info();
//! println!("{} layers, {:?}", info.layers, info.platform);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

pub use crate::report::{ImageFormat, ImageInfo};

mod digest;
mod entries;
mod layer;
mod layout;
mod store;
mod tree;
mod zstd;

use store::Store;
pub(crate) use tree::{ImageTree, NodeId, NodeKind};

/// How to choose and open an image, and the limits that bound the work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageOptions {
    /// The platform to read; an image without it is an error
    /// ([`ImageError::NoMatchingPlatform`]).
    pub platform: Option<Platform>,
    /// The platform taken when `platform` is `None` and the image holds several.
    pub default_platform: Option<Platform>,
    /// The image to take from an archive or layout holding several: a tag or name
    /// (`app:1.2`, `docker.io/library/app:1.2`, or an OCI `ref.name` such as `1.2`).
    pub reference: Option<String>,
    /// The most bytes of layer content read after decompression, over every layer (the
    /// bound on decompression bombs); it bounds the bytes of file data too. Lower it to
    /// bound the work of opening an image.
    pub max_bytes: u64,
    /// The most tar entries read, over every layer and the archive itself.
    pub max_entries: u64,
    /// The most layers an image may have (Docker's own limit is 127).
    pub max_layers: usize,
    /// The largest JSON document read (`manifest.json`, indexes, manifests, configurations).
    pub max_json_bytes: u64,
    /// The longest entry path or link target.
    pub max_path_bytes: usize,
    /// The most bytes an opened [`Image`] holds in memory: content of files from
    /// compressed layers (ELF files and files below `/etc`, retained while this lasts;
    /// others are decompressed again when read) and symbolic-link targets.
    pub max_retained_bytes: u64,
    /// The most paths an opened [`Image`]'s tree holds at once: entries, and the
    /// directories their paths imply.
    pub max_nodes: u64,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            platform: None,
            default_platform: None,
            reference: None,
            max_bytes: 16 << 30,
            max_entries: 1 << 20,
            max_layers: 127,
            max_json_bytes: 4 << 20,
            max_path_bytes: 4096,
            max_retained_bytes: 1 << 30,
            max_nodes: 1 << 21,
        }
    }
}

/// An OCI platform: `linux/amd64`, `linux/arm64`, `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// In OCI (Go `GOARCH`) spelling: `amd64`, `arm64`, `arm`, `386`, `ppc64le`...
    pub architecture: String,
    /// `v7`, `v8`..., when given.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of the machine this code was built for (`linux/amd64` on x86-64 Linux).
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            "mips" if cfg!(target_endian = "little") => "mipsle",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.to_string(),
            variant: None,
        }
    }

    fn of_config(config: &layout::Config) -> Option<Platform> {
        (!config.os.is_empty() && !config.architecture.is_empty()).then(|| Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone().filter(|v| !v.is_empty()),
        })
    }

    /// Whether an image of this platform serves `wanted`: same OS and architecture, and
    /// the same variant when `wanted` names one (`arm64` is `arm64/v8`).
    pub fn matches(&self, wanted: &Platform) -> bool {
        let variant = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(str::to_string),
        };
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && (wanted.variant.is_none() || variant(self) == variant(wanted))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A platform string that is not `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a platform (os/architecture[/variant], e.g. linux/arm64): {0:?}")]
pub struct BadPlatform(pub String);

impl FromStr for Platform {
    type Err = BadPlatform;
    fn from_str(s: &str) -> Result<Platform, BadPlatform> {
        let parts: Vec<&str> = s.split('/').collect();
        let word = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(word) {
            return Err(BadPlatform(s.to_string()));
        }
        let mut parts = parts.into_iter().map(str::to_string);
        Ok(Platform {
            os: parts.next().unwrap_or_default(),
            architecture: parts.next().unwrap_or_default(),
            variant: parts.next(),
        })
    }
}

/// Why an image could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A file on this machine could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A stream inside the image could not be read: truncated, or its compression is
    /// corrupt.
    #[error("cannot read {what}")]
    Read {
        /// What was read: `layer 2`, `the archive`, a document's name.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Neither a `docker save` archive nor an OCI layout.
    #[error("not an image: {what}")]
    NotAnImage {
        /// What is missing.
        what: &'static str,
    },
    /// A document or structure of the image is wrong.
    #[error("malformed image: {what}")]
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// The image uses something this reader does not support.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What.
        what: String,
    },
    /// A file the image's documents name is not in it.
    #[error("the image has no {name}")]
    MissingBlob {
        /// The name, relative to the image's top.
        name: String,
    },
    /// No image of the platform asked for.
    #[error("no image for {wanted}; the image has: {}", available.join(", "))]
    NoMatchingPlatform {
        /// The platform asked for.
        wanted: String,
        /// The platforms the image has.
        available: Vec<String>,
    },
    /// No image of the name asked for.
    #[error("no image named {wanted}; the names are: {}", available.join(", "))]
    NoSuchReference {
        /// The name asked for.
        wanted: String,
        /// The names there are.
        available: Vec<String>,
    },
    /// Several images and nothing to choose by.
    #[error("several {what}: {}", available.join(", "))]
    Ambiguous {
        /// What there are several of.
        what: &'static str,
        /// Them.
        available: Vec<String>,
    },
    /// An entry whose path or hard-link target has a `..` name: it would reach outside the
    /// image.
    #[error("{place}: an entry reaching outside the image: {path:?}")]
    UnsafePath {
        /// `layer 2`, `the archive`.
        place: String,
        /// The path as the entry gives it.
        path: String,
    },
    /// An entry that cannot be applied.
    #[error("{place}: {path}: {what}")]
    Entry {
        /// `layer 2`.
        place: String,
        /// The entry's path.
        path: String,
        /// What is wrong.
        what: &'static str,
    },
    /// A blob's content does not hash to the digest that names it.
    #[error("{name}: content hashes to {actual}, not to the digest that names it")]
    DigestMismatch {
        /// The blob's path in the image (`blobs/sha256/<hex>`).
        name: String,
        /// The digest of what was read.
        actual: String,
    },
    /// A limit of [`ImageOptions`] was reached.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
}

impl ImageError {
    /// A short stable name for the kind of error.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ImageError::Io { .. } => "io",
            ImageError::Read { .. } => "read",
            ImageError::NotAnImage { .. } => "not_an_image",
            ImageError::Malformed { .. } => "malformed",
            ImageError::Unsupported { .. } => "unsupported",
            ImageError::MissingBlob { .. } => "missing_blob",
            ImageError::NoMatchingPlatform { .. } => "no_matching_platform",
            ImageError::NoSuchReference { .. } => "no_such_reference",
            ImageError::Ambiguous { .. } => "ambiguous",
            ImageError::UnsafePath { .. } => "unsafe_path",
            ImageError::Entry { .. } => "entry",
            ImageError::DigestMismatch { .. } => "digest_mismatch",
            ImageError::LimitExceeded { .. } => "limit_exceeded",
        }
    }

    fn io(path: &Path, source: io::Error) -> ImageError {
        ImageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Fills in where an entry error happened.
    fn in_place(self, place: &str) -> ImageError {
        match self {
            ImageError::Entry {
                place: p,
                path,
                what,
            } if p.is_empty() => ImageError::Entry {
                place: place.to_string(),
                path,
                what,
            },
            other => other,
        }
    }
}

/// What `path` is: an OCI layout directory, an image tarball, or `None` for a plain
/// directory (a root filesystem). A regular file that is not an image tarball is an error.
pub fn detect(path: &Path) -> Result<Option<ImageFormat>, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
    if meta.is_dir() {
        let layout = path.join("oci-layout").is_file() && path.join("index.json").is_file();
        return Ok(layout.then_some(ImageFormat::OciLayout));
    }
    let store = Store::tar(path, &ImageOptions::default())?;
    tar_format(&store).map(Some)
}

fn tar_format(store: &Store) -> Result<ImageFormat, ImageError> {
    if store.has("manifest.json") {
        Ok(ImageFormat::DockerSave)
    } else if store.has("oci-layout") && store.has("index.json") {
        Ok(ImageFormat::OciArchive)
    } else {
        Err(ImageError::NotAnImage {
            what: "no manifest.json (docker save) or oci-layout and index.json (OCI layout)",
        })
    }
}

/// The image chosen in the file or directory at `path`, every layer checked to be there
/// and of its stated size.
fn choose(
    path: &Path,
    options: &ImageOptions,
) -> Result<(Store, ImageFormat, layout::Chosen), ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
    let (store, format) = if meta.is_dir() {
        let store = Store::Dir(path.to_path_buf());
        if !store.has("oci-layout") || !store.has("index.json") {
            return Err(ImageError::NotAnImage {
                what: "a directory without oci-layout and index.json",
            });
        }
        (store, ImageFormat::OciLayout)
    } else {
        let store = Store::tar(path, options)?;
        let format = tar_format(&store)?;
        (store, format)
    };
    // Docker 25 and later save an OCI layout beside `manifest.json`: its index is read, as
    // it alone holds every platform of a multi-platform image (and digests for everything).
    let docker_25 =
        format == ImageFormat::DockerSave && store.has("oci-layout") && store.has("index.json");
    let chosen = match format {
        ImageFormat::DockerSave if !docker_25 => layout::docker_save(&store, options)?,
        _ => layout::oci(&store, options)?,
    };
    // Every layer is there, of its stated size, before any is read.
    for layer in &chosen.layers {
        layout::check_layer(&store, layer)?;
    }
    Ok((store, format, chosen))
}

/// What the image's documents and its layer pass say.
fn info_of(format: ImageFormat, chosen: layout::Chosen, budget: &layer::Budget) -> ImageInfo {
    let config = chosen.config;
    let run = config.config.as_ref();
    let env_path = run.and_then(|r| r.env.as_ref()).and_then(|env| {
        env.iter()
            .find_map(|e| e.strip_prefix("PATH=").map(str::to_string))
    });
    let media_types = chosen
        .layers
        .iter()
        .map(|l| l.media_type.clone())
        .filter(|m| !m.is_empty());
    let mut layer_media_types: Vec<String> = media_types.collect();
    layer_media_types.dedup();
    ImageInfo {
        format,
        reference: chosen.reference,
        manifest_digest: chosen.manifest_digest,
        platform: Platform::of_config(&config).map(|p| p.to_string()),
        layers: chosen.layers.len(),
        entrypoint: run.and_then(|r| r.entrypoint.clone()).unwrap_or_default(),
        cmd: run.and_then(|r| r.cmd.clone()).unwrap_or_default(),
        env_path,
        user: run.and_then(|r| r.user.clone()).filter(|u| !u.is_empty()),
        working_dir: run
            .and_then(|r| r.working_dir.clone())
            .filter(|w| !w.is_empty()),
        entries: budget.entries,
        bytes: budget.written,
        skipped: budget.skipped,
    }
}

/// An image opened for reading: its facts and its final tree, held in memory.
///
/// Nothing is unpacked: the layers are read once, in order, into an index of the paths
/// they leave, and file content is served from the image's own files (see the module
/// docs for what is held in memory and the bound on it).
#[derive(Debug)]
pub struct Image {
    info: ImageInfo,
    tree: ImageTree,
}

impl Image {
    /// Opens the image at `path` (docker save tarball, OCI layout dir or OCI layout tarball).
    pub fn open(path: &Path, options: &ImageOptions) -> Result<Image, ImageError> {
        let (store, format, chosen) = choose(path, options)?;
        let mut builder = tree::Builder::new(options);
        let mut budget = layer::Budget::default();
        for (index, l) in chosen.layers.iter().enumerate() {
            let blob = store.locate(&l.name)?;
            layer::index(
                &blob,
                &l.name,
                index.saturating_add(1),
                &mut builder,
                options,
                &mut budget,
            )?;
        }
        Ok(Image {
            info: info_of(format, chosen, &budget),
            tree: builder.finish(),
        })
    }

    /// What the image is and how it starts.
    pub fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// The image's final tree.
    #[allow(dead_code)] // The integrator's resolver reads through it.
    pub(crate) fn tree(&self) -> &ImageTree {
        &self.tree
    }

    /// Every path of the tree (relative, bytes), sorted, with what it is; files with their
    /// content. For tests that compare the tree with another unpacker's.
    #[doc(hidden)]
    pub fn listing(&self) -> io::Result<Vec<(Vec<u8>, EntrySummary)>> {
        let tree = &self.tree;
        let contents = tree.read_all()?;
        let mut out = Vec::new();
        let mut stack: Vec<(Vec<u8>, NodeId)> = vec![(Vec::new(), ImageTree::ROOT)];
        while let Some((path, dir)) = stack.pop() {
            for name in tree.names(dir) {
                let Some(node) = tree.child(dir, name) else {
                    continue;
                };
                let mut child = path.clone();
                if !child.is_empty() {
                    child.push(b'/');
                }
                child.extend_from_slice(name);
                let mode = tree.mode(node);
                let summary = match tree.kind(node) {
                    NodeKind::Dir => {
                        stack.push((child.clone(), node));
                        EntrySummary::Dir { mode }
                    }
                    NodeKind::File { size } => EntrySummary::File {
                        mode,
                        size,
                        identity: tree.identity(node),
                        content: contents
                            .get(&tree.identity(node))
                            .cloned()
                            .unwrap_or_else(|| Arc::from(&[][..])),
                    },
                    NodeKind::Symlink(target) => EntrySummary::Symlink {
                        target: target.to_vec(),
                    },
                    NodeKind::Other => EntrySummary::Other,
                };
                out.push((child, summary));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The content of the regular file at `path` (relative or absolute, no link followed),
    /// at most `max` bytes; `Ok(None)` when no regular file is there. For tests.
    #[doc(hidden)]
    pub fn read_path(&self, path: &[u8], max: u64) -> io::Result<Option<Arc<[u8]>>> {
        let tree = &self.tree;
        let Some(names) = tree::split_names(path) else {
            return Ok(None);
        };
        let node = names
            .iter()
            .try_fold(ImageTree::ROOT, |dir, name| tree.child(dir, name));
        match node {
            Some(node) if matches!(tree.kind(node), NodeKind::File { .. }) => {
                tree.read(node, max).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// One path of [`Image::listing`].
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntrySummary {
    /// A directory and its permission bits.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A regular file.
    File {
        /// Permission bits.
        mode: u32,
        /// Its length.
        size: u64,
        /// Shared by hard links to one file.
        identity: u64,
        /// Its bytes.
        content: Arc<[u8]>,
    },
    /// A symbolic link and its target.
    Symlink {
        /// The target, as stored.
        target: Vec<u8>,
    },
    /// Anything else.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()),
            ("linux", "arm", Some("v7"))
        );
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/amd64/v1/x".parse::<Platform>().is_err());
        assert!("linux//x".parse::<Platform>().is_err());
        let arm64: Platform = "linux/arm64".parse().unwrap();
        assert!(arm64.matches(&"linux/arm64/v8".parse().unwrap()));
        assert!(p.matches(&"linux/arm".parse().unwrap()));
        assert!(!p.matches(&"linux/arm/v6".parse().unwrap()));
        assert!(!arm64.matches(&"linux/amd64".parse().unwrap()));
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert_eq!(Platform::host().to_string(), "linux/amd64");
    }
}
