//! Tar entries with their full names. The tar crate reads headers in raw mode; GNU long
//! names and PAX records, which it would read whole into memory whatever size they
//! declare, are read here, each at most 64 KiB (or the path limit, when larger).

use std::io::{self, Read};

use super::{ImageError, ImageOptions};

/// The most bytes of a PAX extended header or a GNU long name or link entry read.
const MAX_EXTENSION_BYTES: u64 = 64 << 10;

/// One entry's facts, its names from any extension entries before it.
#[derive(Debug)]
pub(crate) struct Named {
    pub(crate) kind: tar::EntryType,
    /// The path, up to its first NUL.
    pub(crate) path: Vec<u8>,
    /// The link target of a symbolic or hard link, up to its first NUL.
    pub(crate) link: Vec<u8>,
    pub(crate) size: u64,
    pub(crate) mode: u32,
}

/// What extension entries say about the entry after them.
#[derive(Debug, Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
}

/// Reads entries one by one, counting them against the entry limit.
pub(crate) struct Reader<'o> {
    /// Where the entries are: "layer 2", "the archive".
    pub(crate) place: String,
    pub(crate) options: &'o ImageOptions,
    /// Entries read so far (shared by every layer of an image).
    pub(crate) count: u64,
}

impl Reader<'_> {
    fn read_error(&self, e: io::Error) -> ImageError {
        ImageError::Read {
            what: self.place.clone(),
            source: e,
        }
    }

    fn bad(&self, path: &[u8], what: &'static str) -> ImageError {
        ImageError::Entry {
            place: self.place.clone(),
            path: String::from_utf8_lossy(path).into_owned(),
            what,
        }
    }

    /// The next entry that is not an extension, with its full names, and the entry to
    /// read its data from; `None` at the end of the archive.
    pub(crate) fn next<'a, R: Read>(
        &mut self,
        entries: &mut tar::Entries<'a, R>,
    ) -> Result<Option<(Named, tar::Entry<'a, R>)>, ImageError> {
        let mut pending = Pending::default();
        loop {
            let Some(entry) = entries.next() else {
                if pending.path.is_some() || pending.link.is_some() {
                    return Err(self.bad(b"", "the archive ends after a long-name entry"));
                }
                return Ok(None);
            };
            let mut entry = entry.map_err(|e| self.read_error(e))?;
            self.count = self.count.saturating_add(1);
            if self.count > self.options.max_entries {
                return Err(ImageError::LimitExceeded {
                    what: "tar entries",
                    limit: self.options.max_entries,
                });
            }
            let kind = entry.header().entry_type();
            let size = entry.size();
            match kind {
                tar::EntryType::GNULongName => {
                    pending.path = Some(trim_nul(self.extension(&mut entry, size)?));
                    continue;
                }
                tar::EntryType::GNULongLink => {
                    pending.link = Some(trim_nul(self.extension(&mut entry, size)?));
                    continue;
                }
                tar::EntryType::XHeader => {
                    let data = self.extension(&mut entry, size)?;
                    pax_records(&data, &mut pending).map_err(|what| self.bad(b"", what))?;
                    continue;
                }
                tar::EntryType::XGlobalHeader => continue,
                _ => {}
            }
            let header = entry.header();
            let path = pending
                .path
                .take()
                .unwrap_or_else(|| trim_nul(header.path_bytes().into_owned()));
            let link = pending
                .link
                .take()
                .or_else(|| header.link_name_bytes().map(|l| trim_nul(l.into_owned())))
                .unwrap_or_default();
            let max_path = self.options.max_path_bytes;
            if path.len() > max_path || link.len() > max_path {
                return Err(ImageError::LimitExceeded {
                    what: "path length",
                    limit: max_path as u64,
                });
            }
            if pending.size.is_some_and(|s| s != size) {
                return Err(ImageError::Unsupported {
                    what: format!(
                        "a PAX size different from the tar header's in {} (files of 8 GiB or more)",
                        self.place
                    ),
                });
            }
            if kind == tar::EntryType::GNUSparse {
                return Err(ImageError::Unsupported {
                    what: format!("a sparse file in {}", self.place),
                });
            }
            let mode = header.mode().unwrap_or(0o644);
            let named = Named {
                kind,
                path,
                link,
                size,
                mode,
            };
            return Ok(Some((named, entry)));
        }
    }

    /// Reads a PAX header or a GNU long name: small, bounded entries.
    fn extension(&self, entry: &mut dyn Read, size: u64) -> Result<Vec<u8>, ImageError> {
        let limit = MAX_EXTENSION_BYTES.max(self.options.max_path_bytes as u64);
        if size > limit {
            return Err(ImageError::LimitExceeded {
                what: "tar extension entry",
                limit,
            });
        }
        let mut data = Vec::new();
        entry
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| self.read_error(e))?;
        Ok(data)
    }
}

fn trim_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(end) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(end);
    }
    bytes
}

/// PAX records, `<length> <key>=<value>\n`: `path`, `linkpath` and `size` are taken (the
/// raw reader sizes an entry by its header, so a different PAX size is refused by the
/// caller); a sparse map is refused.
fn pax_records(data: &[u8], pending: &mut Pending) -> Result<(), &'static str> {
    const MALFORMED: &str = "a malformed PAX header";
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ').ok_or(MALFORMED)?;
        let length: usize = std::str::from_utf8(rest.get(..space).ok_or(MALFORMED)?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(MALFORMED)?;
        let record = rest.get(..length).ok_or(MALFORMED)?;
        rest = rest.get(length..).ok_or(MALFORMED)?;
        // A record holds at least its length, the space and the newline.
        let body = record
            .get(space.saturating_add(1)..)
            .and_then(|b| b.strip_suffix(b"\n"))
            .ok_or(MALFORMED)?;
        let eq = body.iter().position(|&b| b == b'=').ok_or(MALFORMED)?;
        let key = body.get(..eq).unwrap_or_default();
        let value = body.get(eq.saturating_add(1)..).unwrap_or_default();
        match key {
            b"path" => pending.path = Some(value.to_vec()),
            b"linkpath" => pending.link = Some(value.to_vec()),
            b"size" => {
                let size = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(MALFORMED)?;
                pending.size = Some(size);
            }
            _ if key.starts_with(b"GNU.sparse.") => return Err("a sparse file (PAX sparse map)"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_paths() {
        let mut p = Pending::default();
        pax_records(b"15 path=a/b/cd\n19 linkpath=../x/y\n11 size=10\n", &mut p).unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a/b/cd"[..]));
        assert_eq!(p.link.as_deref(), Some(&b"../x/y"[..]));
        assert_eq!(p.size, Some(10));
        assert!(pax_records(b"99 path=x\n", &mut p).is_err());
        assert!(pax_records(b"x", &mut p).is_err());
        assert!(pax_records(b"0 path=x\n", &mut p).is_err());
        assert!(pax_records(b"2 \n", &mut p).is_err());
        assert!(pax_records(b"22 GNU.sparse.map=0,1\n", &mut p).is_err());
    }
}
