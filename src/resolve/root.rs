//! A root filesystem: paths inside it, resolved the way a `chroot` would see them.
//!
//! Symbolic links are followed inside the root: an absolute target starts again at the
//! root, `..` stops at the root, and a chain longer than the kernel's limit (40) is a loop.
//! Nothing outside the root is ever read unless the root is `/`.

use foldhash::{HashMap, HashMapExt};
use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The kernel's limit on symbolic links followed in one lookup (ELOOP).
const MAX_LINKS: usize = 40;
/// The deepest path resolved through its remembered parent directory (a recursion).
const MAX_REMEMBERED_DEPTH: usize = 32;

/// Why an in-root path could not be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootError {
    /// Nothing at that path.
    Missing,
    /// More than 40 symbolic links, or a cycle.
    Loop,
}

/// A root directory on the host, with the answers of earlier lookups (a closure asks for
/// the same directories and libraries over and over).
#[derive(Debug, Clone)]
pub(crate) struct Root {
    dir: PathBuf,
    seen: RefCell<HashMap<String, Lookup>>,
}

/// A remembered lookup: the canonical path, its kind and identity, or why there is none.
type Lookup = Result<(InRoot, Kind, Identity), RootError>;

/// A file's device and inode: the same file under two names is one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
}

/// What a canonical path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Other,
}

/// The most lookups remembered; beyond it, lookups are simply not remembered.
const MAX_REMEMBERED: usize = 1 << 16;

/// A path inside the root, always absolute and normalised (`/usr/lib/libz.so.1`).
pub(crate) type InRoot = String;

impl Root {
    pub fn new(dir: &Path) -> Root {
        Root {
            dir: dir.to_path_buf(),
            seen: RefCell::new(HashMap::new()),
        }
    }

    /// The canonical path, its kind and identity, remembered (under the canonical path
    /// too: the loader facts of a file found are looked up by that path next).
    fn lookup(&self, path: &str) -> Lookup {
        if let Some(known) = self.seen.borrow().get(path) {
            return known.clone();
        }
        let result = self.resolve_with_metadata(path).map(|(canonical, meta)| {
            // The last step's lstat already describes a final name that is not a link.
            let meta = meta.or_else(|| fs::metadata(self.host(&canonical)).ok());
            let kind = match &meta {
                Some(m) if m.is_file() => Kind::File,
                Some(m) if m.is_dir() => Kind::Dir,
                _ => Kind::Other,
            };
            let identity = meta.map_or(Identity { dev: 0, ino: 0 }, |m| Identity {
                dev: m.dev(),
                ino: m.ino(),
            });
            (canonical, kind, identity)
        });
        let mut seen = self.seen.borrow_mut();
        if seen.len() < MAX_REMEMBERED {
            if let Ok((canonical, _, _)) = &result {
                if canonical != path {
                    seen.insert(canonical.clone(), result.clone());
                }
            }
            seen.insert(path.to_string(), result.clone());
        }
        result
    }

    /// The host directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The host path of an in-root path, without resolving anything.
    pub fn host(&self, in_root: &str) -> PathBuf {
        let relative = in_root.trim_start_matches('/');
        if relative.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(relative)
        }
    }

    /// Resolves every symbolic link of `path` (in-root, absolute or not) inside the root.
    /// Returns the canonical in-root path of an existing file or directory.
    pub fn canonical(&self, path: &str) -> Result<InRoot, RootError> {
        self.resolve_with_metadata(path)
            .map(|(canonical, _)| canonical)
    }

    /// [`Root::canonical`], with the final name's metadata when the walk read it.
    fn resolve_with_metadata(
        &self,
        path: &str,
    ) -> Result<(InRoot, Option<fs::Metadata>), RootError> {
        let parts = components(path);
        // Without `..`, a path resolves as its (remembered) directory plus its last name:
        // one lstat instead of one per component. (Links are then counted per step rather
        // than per path; a loop still ends.) Deep paths walk without recursing.
        let shallow = parts.len() <= MAX_REMEMBERED_DEPTH && !parts.iter().any(|p| p == "..");
        if let (Some((last, dir)), true) = (parts.split_last(), shallow) {
            if !dir.is_empty() {
                let (dir_canonical, kind, _) = self.lookup(&join(dir))?;
                if kind != Kind::Dir {
                    return Err(RootError::Missing);
                }
                let start = components(&dir_canonical);
                return self.resolve(start, vec![last.clone()]);
            }
        }
        self.resolve(Vec::new(), parts.into_iter().rev().collect())
    }

    /// Walks `pending` (reversed components) from the canonical directory `resolved`; the
    /// canonical path, and the metadata of its final name when the last step read it.
    fn resolve(
        &self,
        mut resolved: Vec<String>,
        mut pending: Vec<String>,
    ) -> Result<(InRoot, Option<fs::Metadata>), RootError> {
        let mut links = 0usize;
        let mut last_meta = None;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." | "" => continue,
                ".." => {
                    resolved.pop();
                    last_meta = None;
                    continue;
                }
                _ => {}
            }
            resolved.push(part);
            let current = join(&resolved);
            let host = self.host(&current);
            let meta = fs::symlink_metadata(&host).map_err(|_| RootError::Missing)?;
            if meta.file_type().is_symlink() {
                links = links.saturating_add(1);
                if links > MAX_LINKS {
                    return Err(RootError::Loop);
                }
                let target = fs::read_link(&host).map_err(|_| RootError::Missing)?;
                let target = target.to_string_lossy().into_owned();
                resolved.pop();
                if target.starts_with('/') {
                    resolved.clear();
                }
                pending.extend(components(&target).into_iter().rev());
                last_meta = None;
            } else {
                last_meta = Some(meta);
            }
        }
        Ok((join(&resolved), last_meta))
    }

    /// Whether `path` resolves to a regular file inside the root; its canonical path.
    pub fn file(&self, path: &str) -> Result<InRoot, RootError> {
        match self.lookup(path)? {
            (canonical, Kind::File, _) => Ok(canonical),
            _ => Err(RootError::Missing),
        }
    }

    /// The device and inode of the regular file `path` resolves to.
    pub fn identity(&self, path: &str) -> Option<Identity> {
        match self.lookup(path) {
            Ok((_, Kind::File, identity)) => Some(identity),
            _ => None,
        }
    }

    /// Whether `path` resolves to a directory inside the root.
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.lookup(path), Ok((_, Kind::Dir, _)))
    }

    /// The names in a directory inside the root, sorted (for glob includes).
    pub fn list(&self, dir: &str) -> Vec<String> {
        let Ok(canonical) = self.canonical(dir) else {
            return Vec::new();
        };
        let Ok(entries) = fs::read_dir(self.host(&canonical)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Reads a small file inside the root (configuration), up to `max` bytes.
    pub fn read(&self, path: &str, max: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        let canonical = self.file(path).ok()?;
        let (file, len) = crate::source::open_regular(&self.host(&canonical)).ok()?;
        // Read into a buffer sized from the file's length (within `max`): growing one from
        // empty took four reads and as many copies for a 33 KiB ld.so.cache. Whatever the
        // length said, the file is read to its end and never past `max`.
        let expected = len.min(max);
        let expected = usize::try_from(expected).ok()?;
        let mut out = vec![0; expected];
        let mut reader = file.take(max);
        let mut filled = 0;
        while let Some(rest) = out.get_mut(filled..).filter(|r| !r.is_empty()) {
            match reader.read(rest) {
                Ok(0) => break,
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        out.truncate(filled);
        if filled == expected {
            reader.read_to_end(&mut out).ok()?;
        }
        Some(out)
    }
}

/// The components of a path, as strings.
fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn join(parts: &[String]) -> InRoot {
    let mut out = String::from("/");
    out.push_str(&parts.join("/"));
    out
}

/// The directory part of an in-root path (`/usr/bin/ls` -> `/usr/bin`).
pub(crate) fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path.get(..i).unwrap_or("/").to_string(),
    }
}

/// Joins a directory and a name into an in-root path, normalising `.` and `..` lexically
/// (symbolic links are resolved later, inside the root).
pub(crate) fn join_path(dir: &str, name: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in components(dir).into_iter().chain(components(name)) {
        if part == ".." {
            parts.pop();
        } else if part != "." {
            parts.push(part);
        }
    }
    join(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_whole_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        fs::write(dir.path().join("etc/ld.so.cache"), &bytes).unwrap();
        fs::write(dir.path().join("etc/empty"), b"").unwrap();
        assert_eq!(
            root.read("/etc/ld.so.cache", 1 << 20).as_deref(),
            Some(&bytes[..])
        );
        assert_eq!(
            root.read("/etc/ld.so.cache", 1000).as_deref(),
            Some(&bytes[..1000])
        );
        assert_eq!(root.read("/etc/empty", 1000).as_deref(), Some(&[][..]));
        assert_eq!(root.read("/etc/absent", 1000), None);
        // Only regular files are read: a device's length says nothing of what it yields.
        assert_eq!(Root::new(Path::new("/")).read("/dev/zero", 5000), None);
    }

    #[test]
    fn links_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        fs::write(dir.path().join("usr/lib/libz.so.1.2"), b"x").unwrap();
        symlink("libz.so.1.2", dir.path().join("usr/lib/libz.so.1")).unwrap();
        symlink("/usr/lib", dir.path().join("lib")).unwrap();
        // An absolute link to /etc/passwd means the root's /etc/passwd, which is absent.
        symlink("/etc/passwd", dir.path().join("usr/lib/escape")).unwrap();
        symlink(
            "../../../../../../etc/passwd",
            dir.path().join("usr/lib/dotdot"),
        )
        .unwrap();
        symlink("loop2", dir.path().join("usr/lib/loop1")).unwrap();
        symlink("loop1", dir.path().join("usr/lib/loop2")).unwrap();
        assert_eq!(
            root.file("/lib/libz.so.1"),
            Ok("/usr/lib/libz.so.1.2".to_string())
        );
        assert_eq!(root.file("/usr/lib/escape"), Err(RootError::Missing));
        assert_eq!(root.file("/usr/lib/dotdot"), Err(RootError::Missing));
        assert_eq!(root.file("/usr/lib/loop1"), Err(RootError::Loop));
        assert_eq!(
            root.canonical("/usr/../lib/./libz.so.1"),
            Ok("/usr/lib/libz.so.1.2".to_string())
        );
    }

    #[test]
    fn joins() {
        assert_eq!(join_path("/usr/bin", "../lib"), "/usr/lib");
        assert_eq!(join_path("/", "../../x"), "/x");
        assert_eq!(parent("/usr/bin/ls"), "/usr/bin");
        assert_eq!(parent("/ls"), "/");
    }
}
