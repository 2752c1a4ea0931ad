//! One layer: its compression found from its first bytes, its tar entries read one by one
//! and applied to the destination with the OCI whiteout rules (image-spec `layer.md`):
//! `.wh.<name>` removes `<name>` as lower layers left it, `.wh..wh..opq` empties its
//! directory of what lower layers put there, and neither is written itself.
//!
//! Entries come from [`super::entries`], which bounds every name. [`index`] reads them
//! into the in-memory tree ([`super::tree`]); [`apply`], the older way, writes them to a
//! directory through [`super::dest`].

use std::io::{self, BufRead, BufReader, Read};

use super::digest;
use super::entries::Reader;
use super::store::Blob;
use super::tree::{self, Builder, Source, split_names};
use super::zstd;
use super::{ImageError, ImageOptions};

/// How a layer's bytes are compressed, as its first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Finds the compression from the magic bytes (media types can be wrong or absent, as in
/// `docker save`'s `layer.tar`). Formats no image tool writes for layers are refused.
pub(crate) fn sniff(head: &[u8]) -> Result<Compression, ImageError> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if zstd::starts_stream(head) {
        Ok(Compression::Zstd)
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(ImageError::Unsupported {
            what: "an xz-compressed layer".into(),
        })
    } else if starts(b"BZh") {
        Err(ImageError::Unsupported {
            what: "a bzip2-compressed layer".into(),
        })
    } else {
        Ok(Compression::None)
    }
}

/// Counts what the layers so far have cost, against the options' limits.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Bytes of layer content read after decompression, over all layers.
    pub(crate) bytes: u64,
    /// Tar entries read, over all layers.
    pub(crate) entries: u64,
    /// Bytes of regular-file data the layers hold.
    pub(crate) written: u64,
    /// Device nodes, FIFOs and entry kinds with no meaning in an image, not written.
    pub(crate) skipped: u64,
}

/// Counts decompressed bytes and fails past the limit: a layer that inflates without end
/// (a decompression bomb) stops there.
struct Counted<'a, R> {
    inner: R,
    used: &'a mut u64,
    limit: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.used = self.used.saturating_add(n as u64);
        if *self.used > self.limit {
            return Err(io::Error::other(LimitHit));
        }
        Ok(n)
    }
}

/// The marker inside the I/O error that [`Counted`] returns.
#[derive(Debug)]
struct LimitHit;

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("byte limit reached")
    }
}

impl std::error::Error for LimitHit {}

/// Reads the layer `name` (the blob `blob`, compressed or not, checked against the digest
/// its name gives) into `tree`: the tree's one pass over it.
pub(crate) fn index(
    blob: &Blob,
    name: &str,
    index: usize,
    tree: &mut Builder<'_>,
    options: &ImageOptions,
    budget: &mut Budget,
) -> Result<(), ImageError> {
    let place = format!("layer {index}");
    let mut verifying = digest::Verifying::new(blob.reader(0), digest::Expected::of(name)?);
    let mut input = BufReader::with_capacity(64 << 10, &mut verifying);
    let head = input.fill_buf().map_err(|e| ImageError::Read {
        what: place.clone(),
        source: e,
    })?;
    let compression = sniff(head)?;
    tree.begin_layer(tree::Layer {
        blob: blob.clone(),
        compression,
    });
    let decoded: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::Frames::new(input)),
    };
    let mut used = budget.bytes;
    let counted = Counted {
        inner: decoded,
        used: &mut used,
        limit: options.max_bytes,
    };
    let mut archive = tar::Archive::new(counted);
    let result = match archive.entries() {
        Ok(entries) => {
            let mut entries = entries.raw(true);
            let mut reader = Reader {
                place: place.clone(),
                options,
                count: budget.entries,
            };
            let layer = Layer {
                compression,
                size: blob.size,
            };
            let result = index_entries(&mut reader, &mut entries, layer, tree, budget);
            budget.entries = reader.count;
            result.map_err(|e| e.in_place(&place))
        }
        Err(e) => Err(ImageError::Read {
            what: place.clone(),
            source: e,
        }),
    };
    drop(archive);
    budget.bytes = used;
    if result.is_err() && used > options.max_bytes {
        // The counting reader's error, perhaps wrapped by the tar reader.
        return Err(ImageError::LimitExceeded {
            what: "bytes unpacked",
            limit: options.max_bytes,
        });
    }
    result?;
    verifying.finish()
}

/// What the entry pass needs to know of its layer.
#[derive(Clone, Copy)]
struct Layer {
    compression: Compression,
    size: u64,
}

fn index_entries<R: Read>(
    reader: &mut Reader<'_>,
    entries: &mut tar::Entries<'_, R>,
    layer: Layer,
    tree: &mut Builder<'_>,
    budget: &mut Budget,
) -> Result<(), ImageError> {
    let options = reader.options;
    let place = reader.place.clone();
    let unsafe_path = |path: &[u8]| ImageError::UnsafePath {
        place: place.clone(),
        path: String::from_utf8_lossy(path).into_owned(),
    };
    while let Some((named, mut entry)) = reader.next(entries)? {
        let Some(names) = split_names(&named.path) else {
            return Err(unsafe_path(&named.path));
        };
        // Whiteouts: the last name says.
        if let Some((&last, dir)) = names.split_last() {
            if last == b".wh..wh..opq" {
                tree.opaque(dir)?;
                continue;
            }
            if last.starts_with(b".wh..wh.") {
                // Other AUFS metadata: nothing to apply.
                budget.skipped = budget.skipped.saturating_add(1);
                continue;
            }
            if let Some(hidden) = last.strip_prefix(b".wh.") {
                if hidden.is_empty() || hidden == b"." || hidden == b".." {
                    return Err(unsafe_path(&named.path));
                }
                let mut target = dir.to_vec();
                target.push(hidden);
                tree.whiteout(&target)?;
                continue;
            }
        }
        match named.kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let remaining = options.max_bytes.saturating_sub(budget.written);
                if named.size > remaining {
                    return Err(ImageError::LimitExceeded {
                        what: "bytes unpacked",
                        limit: options.max_bytes,
                    });
                }
                let offset = entry.raw_file_position();
                let source = if layer.compression == Compression::None {
                    // Read back in place later: the data must lie inside the blob.
                    if offset
                        .checked_add(named.size)
                        .is_none_or(|end| end > layer.size)
                    {
                        return Err(tree::entry_error(
                            &names,
                            "the layer ends inside the file's data",
                        ));
                    }
                    Source::Blob(offset)
                } else {
                    Source::Stream {
                        offset,
                        data: &mut entry,
                    }
                };
                tree.file(&names, named.mode, named.size, source, &place)?;
                budget.written = budget.written.saturating_add(named.size);
            }
            tar::EntryType::Directory => tree.dir(&names, named.mode)?,
            tar::EntryType::Symlink => {
                if named.link.is_empty() {
                    return Err(tree::entry_error(
                        &names,
                        "a symbolic link without a target",
                    ));
                }
                tree.symlink(&names, &named.link)?;
            }
            tar::EntryType::Link => {
                let Some(target) = split_names(&named.link) else {
                    return Err(unsafe_path(&named.link));
                };
                tree.hardlink(&names, &target)?;
            }
            // Devices and FIFOs mean nothing to the questions asked here; other kinds
            // (volume labels...) have no file.
            _ => budget.skipped = budget.skipped.saturating_add(1),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8]).unwrap(), Compression::Gzip);
        assert_eq!(
            sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]).unwrap(),
            Compression::Zstd
        );
        assert_eq!(sniff(b"etc/\0\0\0").unwrap(), Compression::None);
        assert!(matches!(
            sniff(b"BZh91AY"),
            Err(ImageError::Unsupported { .. })
        ));
        assert!(matches!(
            sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Err(ImageError::Unsupported { .. })
        ));
    }
}
