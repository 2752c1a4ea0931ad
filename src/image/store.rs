//! Where an image's files are: an OCI layout directory, or a tarball (`docker save`, an
//! OCI layout archived) indexed once so that each member is read in place, by offset.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::entries::Reader;
use super::tree::split_names;
use super::{ImageError, ImageOptions};
use crate::source::open_regular;

/// Links followed from one member name to the file it stands for.
const MAX_MEMBER_LINKS: usize = 8;

/// A member of the archive: a file's data, or a link to another member.
#[derive(Debug, Clone)]
pub(crate) enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// The files of an image.
#[derive(Debug)]
pub(crate) enum Store {
    /// An OCI image layout directory.
    Dir(PathBuf),
    /// A tarball and its members by normalised name.
    Tar {
        /// The tarball, open from indexing on: members are read from this file, whatever
        /// later happens to the path.
        file: Arc<File>,
        members: HashMap<String, Member>,
    },
}

/// A file of the image held open, as a byte range: a layer read in place.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub(crate) file: Arc<File>,
    /// Where the blob starts in `file` (0 in a layout directory).
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

impl Blob {
    /// The blob from `from` on, as a stream.
    pub(crate) fn reader(&self, from: u64) -> At {
        At {
            file: Arc::clone(&self.file),
            pos: self.offset.saturating_add(from.min(self.size)),
            end: self.offset.saturating_add(self.size),
        }
    }

    /// Fills `buf` from `at` (relative to the blob); an error if the blob ends first.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], at: u64) -> io::Result<()> {
        at.checked_add(buf.len() as u64)
            .filter(|&end| end <= self.size)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        self.file.read_exact_at(buf, self.offset.saturating_add(at))
    }
}

/// A positioned reader over part of a shared file (`pread`: readers never disturb each
/// other's position).
#[derive(Debug)]
pub(crate) struct At {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.file.read_at(buf, self.pos)?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

/// A member's name normalised (`./blobs/x` -> `blobs/x`); `None` with a `..`.
fn key(name: &[u8]) -> Option<String> {
    let names = split_names(name)?;
    let parts: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    Some(parts.join("/"))
}

/// A symbolic link's target, taken relative to the link's directory, normalised
/// lexically inside the archive (`..` stops at its top).
fn link_key(from: &str, target: &[u8]) -> String {
    let mut parts: Vec<&str> = if target.starts_with(b"/") {
        Vec::new()
    } else {
        from.split('/').collect()
    };
    parts.pop();
    let target = String::from_utf8_lossy(target);
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

impl Store {
    /// Indexes a tarball: every member's place, read from its headers (data is skipped
    /// by seeking).
    pub(crate) fn tar(path: &Path, options: &ImageOptions) -> Result<Store, ImageError> {
        let (mut file, _) = open_regular(path).map_err(|e| ImageError::io(path, e))?;
        let mut head = [0u8; 6];
        let n = file.read(&mut head).map_err(|e| ImageError::io(path, e))?;
        let head = head.get(..n).unwrap_or_default();
        if head.starts_with(&[0x1f, 0x8b])
            || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
            || head.starts_with(b"BZh")
            || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z'])
        {
            return Err(ImageError::Unsupported {
                what: "a compressed image archive: decompress it first (the layers inside may be compressed)".into(),
            });
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ImageError::io(path, e))?;
        let kept = Arc::new(file.try_clone().map_err(|e| ImageError::io(path, e))?);
        let mut archive = tar::Archive::new(file);
        let place = "the archive".to_string();
        let mut entries = archive
            .entries_with_seek()
            .map_err(|e| ImageError::Read {
                what: place.clone(),
                source: e,
            })?
            .raw(true);
        let mut reader = Reader {
            place,
            options,
            count: 0,
        };
        let mut members = HashMap::new();
        while let Some((named, entry)) = reader.next(&mut entries)? {
            let Some(name) = key(&named.path) else {
                // A member outside the archive's top is never one an image names.
                continue;
            };
            let member = match named.kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                    offset: entry.raw_file_position(),
                    size: named.size,
                },
                tar::EntryType::Symlink => Member::Link(link_key(&name, &named.link)),
                // A hard link names its target from the archive's top.
                tar::EntryType::Link => Member::Link(link_key("", &named.link)),
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Store::Tar {
            file: kept,
            members,
        })
    }

    /// The file member `name` stands for, links followed.
    fn member(members: &HashMap<String, Member>, name: &str) -> Option<(u64, u64)> {
        let mut current = key(name.as_bytes())?;
        for _ in 0..=MAX_MEMBER_LINKS {
            match members.get(&current)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(to) => current = to.clone(),
            }
        }
        None
    }

    /// Whether the image has a file `name` (relative to its top).
    pub(crate) fn has(&self, name: &str) -> bool {
        match self {
            Store::Dir(dir) => key(name.as_bytes()).is_some_and(|k| dir.join(k).is_file()),
            Store::Tar { members, .. } => Store::member(members, name).is_some(),
        }
    }

    /// Opens the file `name` (relative to the image's top) with its size.
    pub(crate) fn open(&self, name: &str) -> Result<(Box<dyn Read>, u64), ImageError> {
        let blob = self.locate(name)?;
        Ok((Box::new(blob.reader(0)), blob.size))
    }

    /// The file `name` (relative to the image's top), held open for reading in place.
    pub(crate) fn locate(&self, name: &str) -> Result<Blob, ImageError> {
        let missing = || ImageError::MissingBlob {
            name: name.to_string(),
        };
        match self {
            Store::Dir(dir) => {
                let path = dir.join(key(name.as_bytes()).ok_or_else(missing)?);
                // A blob that is not a regular file (a FIFO would block) is no blob.
                match open_regular(&path) {
                    Ok((file, size)) => Ok(Blob {
                        file: Arc::new(file),
                        offset: 0,
                        size,
                    }),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
                        ) =>
                    {
                        Err(missing())
                    }
                    Err(e) => Err(ImageError::io(&path, e)),
                }
            }
            Store::Tar { file, members, .. } => {
                let (offset, size) = Store::member(members, name).ok_or_else(missing)?;
                Ok(Blob {
                    file: Arc::clone(file),
                    offset,
                    size,
                })
            }
        }
    }

    /// Reads a JSON document of the image (manifest, index, configuration), at most
    /// `max_json_bytes`, and parses it.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        options: &ImageOptions,
    ) -> Result<T, ImageError> {
        let (reader, size) = self.open(name)?;
        if size > options.max_json_bytes {
            return Err(ImageError::LimitExceeded {
                what: "JSON document size",
                limit: options.max_json_bytes,
            });
        }
        let mut text = Vec::new();
        reader
            .take(options.max_json_bytes)
            .read_to_end(&mut text)
            .map_err(|e| ImageError::Read {
                what: name.to_string(),
                source: e,
            })?;
        if let Some(expected) = super::digest::Expected::of(name)? {
            expected.check(&text)?;
        }
        serde_json::from_slice(&text).map_err(|e| ImageError::Malformed {
            what: format!("{name}: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_links() {
        assert_eq!(
            link_key("abc/layer.tar", b"../blobs/sha256/x"),
            "blobs/sha256/x"
        );
        assert_eq!(link_key("a/b", b"/c/d"), "c/d");
        assert_eq!(link_key("a", b"../../../../x"), "x");
        let mut members = HashMap::new();
        members.insert("a".to_string(), Member::Link("b".into()));
        members.insert("b".to_string(), Member::Link("a".into()));
        members.insert("c".to_string(), Member::Link("d".into()));
        members.insert(
            "d".to_string(),
            Member::File {
                offset: 512,
                size: 3,
            },
        );
        assert_eq!(Store::member(&members, "a"), None);
        assert_eq!(Store::member(&members, "./c"), Some((512, 3)));
    }
}
