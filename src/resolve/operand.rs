//! The files a user names (a program to inspect, verify or show as a tree), placed in the
//! root.
//!
//! - In an **image**, a path is always a path inside the image.
//! - In a **directory** root, a path that lies under the root's directory (as written, or
//!   once this machine's links are followed) is a path inside the root, resolved there,
//!   links included, as a `chroot` would see it. Any other path is a file of this machine,
//!   analysed as if it were copied into the root at the same path.
//!
//! Inside the root, a `..` that would climb above it (written in the path or met in a
//! link) is an error that names the link, never a way out.

use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use super::Resolver;
use crate::error::{Error, Result};
use crate::rootfs::{Content, Found, Kind, RootError};

/// The most files [`Resolver::files_below`] lists.
const MAX_FILES_LISTED: usize = 1 << 20;

/// Where a named file is.
#[derive(Debug)]
pub(crate) enum Place {
    /// Inside the root: what the path resolved to.
    InRoot(Found),
    /// A file of this machine, to be placed at this in-root path.
    Host(PathBuf, String),
}

impl Place {
    /// The path inside the root, as text (`$ORIGIN`, `file_in_root`).
    pub(crate) fn in_root(&self) -> String {
        match self {
            Place::InRoot(found) => {
                crate::path_text(Path::new(std::ffi::OsStr::from_bytes(&found.canonical)))
            }
            Place::Host(_, in_root) => in_root.clone(),
        }
    }
}

impl Resolver {
    /// Places the file a user named (see the module docs).
    pub(crate) fn place(&self, file: &Path) -> Result<Place> {
        let in_root = match self.shared.fs.host_dir() {
            _ if self.shared.options.files_from_host => None,
            None => Some(file.as_os_str().as_bytes().to_vec()),
            Some(_) => self.relative_to_root(file),
        };
        let Some(path) = in_root else {
            let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| lexical(file));
            let shown = crate::path_text(&canonical);
            return Ok(Place::Host(
                file.to_path_buf(),
                super::join_path("/", &shown),
            ));
        };
        match self.root.lookup_strict(&path) {
            Ok(found) => Ok(Place::InRoot(found)),
            Err(e) => Err(self.root_error(file, e)),
        }
    }

    /// Opens the file a user named; where it sits in the root.
    pub(crate) fn open_named(&self, file: &Path) -> Result<(Content, String)> {
        let place = self.place(file)?;
        let in_root = place.in_root();
        let content = match &place {
            Place::Host(host, _) => {
                let (handle, len) =
                    crate::source::open_regular(host).map_err(|source| Error::Io {
                        path: host.clone(),
                        source,
                    })?;
                Content::File(handle, len)
            }
            Place::InRoot(found) => {
                if found.kind != Kind::File {
                    let what = match found.kind {
                        Kind::Dir => "a directory",
                        _ => found.what,
                    };
                    return Err(Error::Io {
                        path: file.to_path_buf(),
                        source: io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("not a regular file but {what}"),
                        ),
                    });
                }
                self.root
                    .open(&found.canonical)
                    .map_err(|source| Error::Io {
                        path: file.to_path_buf(),
                        source,
                    })?
            }
        };
        Ok((content, in_root))
    }

    /// The regular files below the directory `dir` of the root, in path order, without
    /// following links below it (`dir` itself is resolved in the root, links included).
    /// In a directory root, `dir` is a path under the root's directory or else a path
    /// inside the root (`/usr/bin`); in an image, a path inside it. The files are named as
    /// [`crate::inspect_in_root`] takes them: under the root's directory, or in the image.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `dir` is not a directory of the root, or leaves it through a link.
    pub fn files_below(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let in_root = match self.shared.fs.host_dir() {
            Some(_) => self
                .relative_to_root(dir)
                .unwrap_or_else(|| dir.as_os_str().as_bytes().to_vec()),
            None => dir.as_os_str().as_bytes().to_vec(),
        };
        let found = self
            .root
            .lookup_strict(&in_root)
            .map_err(|e| self.root_error(dir, e))?;
        if found.kind != Kind::Dir {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
            });
        }
        let files = self.root.files_below(found.canonical, MAX_FILES_LISTED);
        let host = self.shared.fs.host_dir();
        Ok(files
            .into_iter()
            .map(|path| {
                let path = PathBuf::from(std::ffi::OsString::from_vec(path));
                match host {
                    Some(host) => host.join(path.strip_prefix("/").unwrap_or(&path)),
                    None => path,
                }
            })
            .collect())
    }

    /// The in-root path of `file` when it lies under a directory root.
    fn relative_to_root(&self, file: &Path) -> Option<Vec<u8>> {
        let absolute = lexical(file);
        let roots = [&self.shared.root_absolute, &self.shared.root_canonical];
        for root in roots.into_iter().flatten() {
            if let Ok(rel) = absolute.strip_prefix(root) {
                return Some(rel.as_os_str().as_bytes().to_vec());
            }
        }
        // Through this machine's links (a link to the root, or into it).
        let canonical = std::fs::canonicalize(file).ok()?;
        let root = self.shared.root_canonical.as_ref()?;
        let rel = canonical.strip_prefix(root).ok()?;
        Some(rel.as_os_str().as_bytes().to_vec())
    }

    fn root_error(&self, file: &Path, e: RootError) -> Error {
        let what = if self.shared.fs.host_dir().is_some() {
            "the root"
        } else {
            "the image"
        };
        let kind = match e {
            RootError::Missing => io::ErrorKind::NotFound,
            _ => io::ErrorKind::InvalidInput,
        };
        let message = match e {
            RootError::Missing => format!("no such file in {what}"),
            RootError::Loop => "too many levels of symbolic links".to_string(),
            RootError::Escapes(Some(link)) => format!(
                "the link {} leads out of {what}",
                crate::path_text(Path::new(std::ffi::OsStr::from_bytes(&link))).escape_debug()
            ),
            RootError::Escapes(None) => format!("`..` leads out of {what}"),
        };
        Error::Io {
            path: file.to_path_buf(),
            source: io::Error::new(kind, message),
        }
    }
}

/// `path` made absolute, with `.` and `..` resolved by name (this machine's links are not
/// followed: `root/../x` is beside the root, not in it).
pub(crate) fn lexical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
