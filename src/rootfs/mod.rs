//! A root filesystem, read the way a `chroot` into it would see it: the one model of "a
//! path inside the root" that the resolver, the needs' file checks, `verify`, `scan` and
//! the command line's operands all use.
//!
//! Symbolic links are followed inside the root: an absolute target starts again at the
//! root, `..` stops at the root, and a chain longer than the kernel's limit (40) is a loop.
//! Names are bytes from end to end. Two backends serve the lookups:
//!
//! - a **directory** of this machine ([`RootFs::dir`]), walked from directory descriptors
//!   and opened with `openat2(RESOLVE_IN_ROOT)`, so that nothing outside it is read even
//!   while it changes (see `dir.rs`);
//! - an **image** read in place ([`RootFs::image`], feature `image`): its final tree is an
//!   index in memory and nothing is unpacked to disk.

mod dir;
#[cfg(feature = "image")]
mod image;

use foldhash::{HashMap, HashMapExt};
use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};

/// The kernel's limit on symbolic links followed in one lookup (ELOOP).
const MAX_LINKS: usize = 40;
/// The deepest path resolved through its remembered parent directory (a recursion).
const MAX_REMEMBERED_DEPTH: usize = 32;
/// The most lookups one reader remembers; beyond it, lookups are simply not remembered.
const MAX_REMEMBERED: usize = 1 << 16;
/// The most directory descriptors kept open per root (shared by its threads): well under
/// the usual limit of 1,024 open files.
const MAX_DIR_HANDLES: usize = 256;
/// The most names listed in one directory.
const MAX_LISTED: usize = 1 << 20;

/// A root filesystem: a directory of this machine or an image, cheap to clone and shared
/// by threads.
///
/// # Examples
///
/// ```no_run
/// use runbase::{Limits, ResolveOptions, Resolver, RootFs};
///
/// let root = RootFs::dir("/srv/rootfs".as_ref())?;
/// let resolver = Resolver::with_root(root, &Limits::default(), &ResolveOptions::default());
/// # Ok::<(), runbase::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RootFs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The root as the user named it.
    label: PathBuf,
    source: Source,
    /// Descriptors of directories reached, by canonical in-root path (a lookup then costs
    /// one `fstatat` instead of one per directory above the file).
    handles: Mutex<HashMap<Vec<u8>, Handle>>,
}

#[derive(Debug)]
enum Source {
    Dir(dir::DirRoot),
    #[cfg(feature = "image")]
    Image(Arc<crate::image::Image>),
}

/// Where a walk stands: an open directory, or a node of an image's tree.
#[derive(Debug, Clone)]
enum Handle {
    Fd(Arc<OwnedFd>),
    #[cfg(feature = "image")]
    Node(crate::image::NodeId),
}

/// What a name in a directory is, without following it.
#[derive(Debug)]
enum Child {
    Dir(Identity),
    File(Identity, u64),
    Link(Vec<u8>),
    /// Not a file, directory or link: what it is, for messages (`a FIFO`).
    Other(Identity, &'static str),
    Missing,
}

/// A file's content, opened for reading.
#[derive(Debug)]
pub(crate) enum Content {
    /// A file of this machine, and its length.
    File(File, u64),
    /// Bytes held in memory (a file of an image).
    Bytes(Arc<[u8]>),
}

/// A file's identity: the same file under two names is one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// Why an in-root path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootError {
    /// Nothing at that path (or a name under something that is not a directory).
    Missing,
    /// More than 40 symbolic links, or a cycle.
    Loop,
    /// A `..` climbing above the root, through the link at this canonical path (or in the
    /// path itself when `None`); reported only by strict lookups (operands).
    Escapes(Option<Vec<u8>>),
}

/// What a canonical path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Other,
}

/// A path resolved: its canonical form, kind, identity and size (files).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) canonical: Vec<u8>,
    pub(crate) kind: Kind,
    pub(crate) identity: Identity,
    pub(crate) size: u64,
    /// For [`Kind::Other`], what it is (`a FIFO`), for messages.
    pub(crate) what: &'static str,
}

/// A walk's end: what was found, and the directory holding it with its name there.
struct Walked {
    found: Found,
    parent: Handle,
    name: Vec<u8>,
}

impl RootFs {
    /// The directory `path` of this machine as a root (`/` for the running system).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `path` cannot be opened or is not a directory.
    pub fn dir(path: &Path) -> Result<RootFs> {
        let source = dir::DirRoot::open(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(RootFs::with_source(path, Source::Dir(source)))
    }

    /// An image, read in place, as a root.
    #[cfg(feature = "image")]
    pub fn image(path: &Path, image: crate::image::Image) -> RootFs {
        RootFs::with_source(path, Source::Image(Arc::new(image)))
    }

    fn with_source(label: &Path, source: Source) -> RootFs {
        RootFs {
            inner: Arc::new(Inner {
                label: label.to_path_buf(),
                source,
                handles: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The root as it was named.
    pub fn path(&self) -> &Path {
        &self.inner.label
    }

    /// The directory of this machine this root is, if it is one.
    pub fn host_dir(&self) -> Option<&Path> {
        match &self.inner.source {
            Source::Dir(_) => Some(&self.inner.label),
            #[cfg(feature = "image")]
            Source::Image(_) => None,
        }
    }

    /// The image this root is, if it is one.
    #[cfg(feature = "image")]
    pub fn image_info(&self) -> Option<&crate::image::ImageInfo> {
        match &self.inner.source {
            Source::Dir(_) => None,
            Source::Image(image) => Some(image.info()),
        }
    }

    /// Whether `path`, inside the root, resolves (links included) to a regular file.
    pub fn is_file(&self, path: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        self.walk(path.as_os_str().as_bytes(), false)
            .is_ok_and(|w| w.found.kind == Kind::File)
    }

    fn top(&self) -> Handle {
        match &self.inner.source {
            Source::Dir(d) => Handle::Fd(d.top()),
            #[cfg(feature = "image")]
            Source::Image(_) => Handle::Node(crate::image::ImageTree::ROOT),
        }
    }

    fn top_identity(&self) -> Identity {
        match &self.inner.source {
            Source::Dir(d) => d.identity().unwrap_or(Identity { dev: 0, ino: 0 }),
            #[cfg(feature = "image")]
            Source::Image(i) => image::identity(i, crate::image::ImageTree::ROOT),
        }
    }

    fn child(&self, dir: &Handle, name: &[u8]) -> Child {
        match (&self.inner.source, dir) {
            (Source::Dir(_), Handle::Fd(fd)) => dir::DirRoot::child(fd, name),
            #[cfg(feature = "image")]
            (Source::Image(i), Handle::Node(node)) => image::child(i, *node, name),
            #[cfg(feature = "image")]
            _ => Child::Missing,
        }
    }

    fn enter(&self, dir: &Handle, name: &[u8]) -> Option<Handle> {
        match (&self.inner.source, dir) {
            (Source::Dir(_), Handle::Fd(fd)) => {
                dir::DirRoot::enter(fd, name).map(|fd| Handle::Fd(Arc::new(fd)))
            }
            #[cfg(feature = "image")]
            (Source::Image(i), Handle::Node(node)) => {
                image::enter(i, *node, name).map(Handle::Node)
            }
            #[cfg(feature = "image")]
            _ => None,
        }
    }

    fn open_at(&self, canonical: &[u8], parent: &Handle, name: &[u8]) -> io::Result<Content> {
        match (&self.inner.source, parent) {
            (Source::Dir(d), Handle::Fd(fd)) => d.open_file(canonical, fd, name),
            #[cfg(feature = "image")]
            (Source::Image(i), Handle::Node(node)) => image::open(i, *node, name),
            #[cfg(feature = "image")]
            _ => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn names_at(&self, parent: &Handle, name: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        match (&self.inner.source, parent) {
            (Source::Dir(_), Handle::Fd(fd)) => dir::DirRoot::names(fd, name, MAX_LISTED),
            #[cfg(feature = "image")]
            (Source::Image(i), Handle::Node(node)) => image::names(i, *node, name),
            #[cfg(feature = "image")]
            _ => Err(io::ErrorKind::NotFound.into()),
        }
    }

    /// Walks `path` from the root, following links inside it. `strict`: a `..` above the
    /// root is an error instead of staying at the root (for paths a user names).
    fn walk(&self, path: &[u8], strict: bool) -> std::result::Result<Walked, RootError> {
        let top = self.top();
        // The canonical directories entered so far, from the root down.
        let mut stack: Vec<Step> = Vec::new();
        let mut pending: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
        let mut links = 0usize;
        let mut last_link: Option<Vec<u8>> = None;
        while let Some(part) = pending.pop() {
            if part == b".." {
                if stack.pop().is_none() && strict {
                    return Err(RootError::Escapes(last_link));
                }
                continue;
            }
            let dir = stack.last().map_or(&top, |s| &s.handle);
            let (kind, identity, size, what) = match self.child(dir, &part) {
                Child::Missing => return Err(RootError::Missing),
                Child::Link(target) => {
                    links = links.saturating_add(1);
                    if links > MAX_LINKS {
                        return Err(RootError::Loop);
                    }
                    last_link = Some(canonical_of(&stack, Some(&part)));
                    if target.first() == Some(&b'/') {
                        stack.clear();
                    }
                    pending.extend(components(&target).rev().map(<[u8]>::to_vec));
                    continue;
                }
                Child::Dir(identity) => {
                    let canonical = canonical_of(&stack, Some(&part));
                    let known = self.handles().get(&canonical).cloned();
                    let handle = match known {
                        Some(handle) => handle,
                        None => {
                            let handle = self.enter(dir, &part).ok_or(RootError::Missing)?;
                            self.remember_handle(&canonical, &handle);
                            handle
                        }
                    };
                    stack.push(Step {
                        name: part,
                        handle,
                        identity,
                    });
                    continue;
                }
                Child::File(identity, size) => (Kind::File, identity, size, ""),
                Child::Other(identity, what) => (Kind::Other, identity, 0, what),
            };
            // A name below something that is not a directory: ENOTDIR, nothing there.
            if !pending.is_empty() {
                return Err(RootError::Missing);
            }
            return Ok(Walked {
                found: Found {
                    canonical: canonical_of(&stack, Some(&part)),
                    kind,
                    identity,
                    size,
                    what,
                },
                parent: dir.clone(),
                name: part,
            });
        }
        let canonical = canonical_of(&stack, None);
        let (identity, name, parent) = match stack.split_last() {
            Some((last, above)) => (
                last.identity,
                last.name.clone(),
                above
                    .last()
                    .map_or_else(|| top.clone(), |s| s.handle.clone()),
            ),
            None => (self.top_identity(), Vec::new(), top.clone()),
        };
        Ok(Walked {
            found: Found {
                canonical,
                kind: Kind::Dir,
                identity,
                size: 0,
                what: "",
            },
            parent,
            name,
        })
    }

    /// The directory at the canonical in-root path `dir` (`/` for the root), opened once
    /// per root while descriptors are left.
    fn dir_handle(&self, dir: &[u8]) -> Option<Handle> {
        if components(dir).next().is_none() {
            return Some(self.top());
        }
        let known = self.handles().get(dir).cloned();
        if known.is_some() {
            return known;
        }
        let walked = self.walk(dir, false).ok()?;
        if walked.found.kind != Kind::Dir {
            return None;
        }
        let handle = if walked.name.is_empty() {
            self.top()
        } else {
            self.enter(&walked.parent, &walked.name)?
        };
        self.remember_handle(&walked.found.canonical, &handle);
        Some(handle)
    }

    fn remember_handle(&self, canonical: &[u8], handle: &Handle) {
        let mut handles = self.handles();
        if handles.len() < MAX_DIR_HANDLES && !handles.contains_key(canonical) {
            handles.insert(canonical.to_vec(), handle.clone());
        }
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Handle>> {
        self.inner
            .handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One directory entered by a walk.
struct Step {
    name: Vec<u8>,
    handle: Handle,
    identity: Identity,
}

/// The canonical path of the directories entered, plus a last name.
fn canonical_of(stack: &[Step], last: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for name in stack.iter().map(|s| s.name.as_slice()).chain(last) {
        out.push(b'/');
        out.extend_from_slice(name);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The names of a path: empty names and `.` dropped, `..` kept.
pub(crate) fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|name| !name.is_empty() && *name != b".")
}

/// A path inside the root, always absolute and normalised (`/usr/lib/libz.so.1`).
pub(crate) type InRoot = String;

/// A remembered lookup.
type Lookup = std::result::Result<Found, RootError>;

/// A root with the answers of earlier lookups, for one thread (a closure asks for the same
/// directories and libraries over and over).
#[derive(Debug)]
pub(crate) struct Root {
    fs: RootFs,
    seen: RefCell<HashMap<Vec<u8>, Lookup>>,
}

impl Root {
    pub(crate) fn new(fs: RootFs) -> Root {
        Root {
            fs,
            seen: RefCell::new(HashMap::new()),
        }
    }

    /// Resolves `path` (in-root, absolute or not) inside the root, remembered (under the
    /// canonical path too: a file found is looked up by that path next).
    pub(crate) fn lookup(&self, path: &[u8]) -> Lookup {
        self.lookup_within(path, 0)
    }

    fn lookup_within(&self, path: &[u8], links: usize) -> Lookup {
        if let Some(known) = self.seen.borrow().get(path) {
            return known.clone();
        }
        let result = self.resolve_within(path, links);
        let mut seen = self.seen.borrow_mut();
        if seen.len() < MAX_REMEMBERED {
            if let Ok(found) = &result {
                if found.canonical != path {
                    seen.insert(found.canonical.clone(), result.clone());
                }
            }
            seen.insert(path.to_vec(), result.clone());
        }
        result
    }

    /// [`Root::resolve`] after `links` links were followed to reach `path`.
    fn resolve_within(&self, path: &[u8], links: usize) -> Lookup {
        let parts: Vec<&[u8]> = components(path).collect();
        // Without `..`, a path resolves as its (remembered) directory plus its last name:
        // one `fstatat` instead of one per component. Deep paths walk without recursing.
        let shallow = parts.len() <= MAX_REMEMBERED_DEPTH && !parts.iter().any(|p| *p == b"..");
        if let (Some((last, dir)), true) = (parts.split_last(), shallow) {
            if !dir.is_empty() {
                let dir_found = self.lookup_within(&join(dir), links)?;
                if dir_found.kind != Kind::Dir {
                    return Err(RootError::Missing);
                }
                let Some(handle) = self.fs.dir_handle(&dir_found.canonical) else {
                    return self.fs.walk(path, false).map(|w| w.found);
                };
                let mut canonical = dir_found.canonical.clone();
                if canonical != b"/" {
                    canonical.push(b'/');
                }
                canonical.extend_from_slice(last);
                let (kind, identity, size, what) = match self.fs.child(&handle, last) {
                    Child::Missing => return Err(RootError::Missing),
                    // A link: its target, from its directory (whose path has no link left,
                    // so a `..` in the target is that directory's parent by name).
                    Child::Link(target) => {
                        let links = links.saturating_add(1);
                        if links > MAX_LINKS {
                            return Err(RootError::Loop);
                        }
                        let mut next = if target.first() == Some(&b'/') {
                            Vec::new()
                        } else {
                            dir_found.canonical.clone()
                        };
                        next.push(b'/');
                        next.extend_from_slice(&target);
                        return self.lookup_within(&normalise(&next), links);
                    }
                    Child::Dir(identity) => (Kind::Dir, identity, 0, ""),
                    Child::File(identity, size) => (Kind::File, identity, size, ""),
                    Child::Other(identity, what) => (Kind::Other, identity, 0, what),
                };
                return Ok(Found {
                    canonical,
                    kind,
                    identity,
                    size,
                    what,
                });
            }
        }
        self.fs.walk(path, false).map(|w| w.found)
    }

    /// Resolves a path a user named: like [`Root::lookup`], but a `..` above the root is
    /// an error naming the link that led there.
    pub(crate) fn lookup_strict(&self, path: &[u8]) -> Lookup {
        self.fs.walk(path, true).map(|w| w.found)
    }

    /// Resolves every link of `path` inside the root: the canonical in-root path of an
    /// existing file or directory.
    pub(crate) fn canonical(&self, path: &str) -> std::result::Result<InRoot, RootError> {
        let found = self.lookup(path.as_bytes())?;
        String::from_utf8(found.canonical).map_err(|_| RootError::Missing)
    }

    /// Whether `path` resolves to a regular file inside the root; its canonical path.
    pub(crate) fn file(&self, path: &str) -> std::result::Result<InRoot, RootError> {
        match self.lookup(path.as_bytes())? {
            found if found.kind == Kind::File => {
                String::from_utf8(found.canonical).map_err(|_| RootError::Missing)
            }
            _ => Err(RootError::Missing),
        }
    }

    /// The identity of the regular file `path` resolves to.
    pub(crate) fn identity(&self, path: &str) -> Option<Identity> {
        match self.lookup(path.as_bytes()) {
            Ok(found) if found.kind == Kind::File => Some(found.identity),
            _ => None,
        }
    }

    /// Whether `path` resolves to a directory inside the root.
    pub(crate) fn is_dir(&self, path: &str) -> bool {
        matches!(self.lookup(path.as_bytes()), Ok(f) if f.kind == Kind::Dir)
    }

    /// The names in a directory inside the root, sorted bytewise (names that are not UTF-8
    /// are left out: the callers match them against text).
    pub(crate) fn list(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .names(dir.as_bytes())
            .into_iter()
            .filter_map(|n| String::from_utf8(n).ok())
            .collect();
        names.sort();
        names
    }

    /// The names in a directory inside the root, sorted bytewise.
    pub(crate) fn names(&self, dir: &[u8]) -> Vec<Vec<u8>> {
        let Ok(found) = self.lookup(dir) else {
            return Vec::new();
        };
        if found.kind != Kind::Dir {
            return Vec::new();
        }
        let Some(handle) = self.fs.dir_handle(&found.canonical) else {
            return Vec::new();
        };
        let mut names = self.fs.names_at(&handle, b"").unwrap_or_default();
        names.sort();
        names
    }

    /// The regular files below the canonical directory `dir`, sorted, links below it not
    /// followed; at most `max`.
    pub(crate) fn files_below(&self, dir: Vec<u8>, max: usize) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            let mut below = Vec::new();
            for name in self.names(&dir) {
                let mut child = dir.clone();
                if child != b"/" {
                    child.push(b'/');
                }
                child.extend_from_slice(&name);
                // A name that resolves to another path is a link: skipped.
                match self.lookup(&child) {
                    Ok(f) if f.canonical == child && f.kind == Kind::Dir => {
                        below.push(child);
                    }
                    Ok(f) if f.canonical == child && f.kind == Kind::File => {
                        if files.len() >= max {
                            return files;
                        }
                        files.push(child);
                    }
                    _ => {}
                }
            }
            // Depth first, in name order.
            stack.extend(below.into_iter().rev());
        }
        files.sort();
        files
    }

    /// Opens the regular file `path` resolves to.
    pub(crate) fn open(&self, path: &[u8]) -> io::Result<Content> {
        let found = self
            .lookup(path)
            .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
        if found.kind != Kind::File {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        // The canonical path has no link left: its directory's descriptor (remembered per
        // root) and its last name.
        let split = found
            .canonical
            .iter()
            .rposition(|&b| b == b'/')
            .unwrap_or(0);
        let (dir, name) = found.canonical.split_at(split);
        let name = name.get(1..).unwrap_or_default();
        let parent = self
            .fs
            .dir_handle(if dir.is_empty() { b"/" } else { dir })
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        self.fs.open_at(&found.canonical, &parent, name)
    }

    /// Reads a small file inside the root (configuration), up to `max` bytes.
    pub(crate) fn read(&self, path: &str, max: u64) -> Option<Vec<u8>> {
        match self.open(path.as_bytes()).ok()? {
            Content::Bytes(bytes) => {
                let len = usize::try_from(max).unwrap_or(usize::MAX).min(bytes.len());
                Some(bytes.get(..len)?.to_vec())
            }
            Content::File(file, len) => read_file(file, len, max),
        }
    }
}

/// Reads an open file to its end, never past `max`: into a buffer sized from its length
/// (a file growing or shrinking meanwhile is read as it is).
fn read_file(file: File, len: u64, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let expected = usize::try_from(len.min(max)).ok()?;
    let mut out = vec![0; expected];
    let mut reader = file.take(max);
    let mut filled = 0;
    while let Some(rest) = out.get_mut(filled..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    out.truncate(filled);
    if filled == expected {
        reader.read_to_end(&mut out).ok()?;
    }
    Some(out)
}

/// An absolute path with `.` and `..` resolved by name, `..` stopping at the top.
fn normalise(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in components(path) {
        if part == b".." {
            parts.pop();
        } else {
            parts.push(part);
        }
    }
    join(&parts)
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
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
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(name.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let mut out = String::from("/");
    out.push_str(&parts.join("/"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    fn root_of(dir: &Path) -> Root {
        Root::new(RootFs::dir(dir).unwrap())
    }

    #[test]
    fn reads_whole_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_of(dir.path());
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
        assert_eq!(root_of(Path::new("/")).read("/dev/zero", 5000), None);
    }

    #[test]
    fn links_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_of(dir.path());
        fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        fs::create_dir_all(dir.path().join("usr/bin")).unwrap();
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
        // A program that is a link to this machine's /usr/bin/env: the root's, absent.
        symlink("/usr/bin/env", dir.path().join("usr/bin/app")).unwrap();
        symlink("loop2", dir.path().join("usr/lib/loop1")).unwrap();
        symlink("loop1", dir.path().join("usr/lib/loop2")).unwrap();
        assert_eq!(
            root.file("/lib/libz.so.1"),
            Ok("/usr/lib/libz.so.1.2".to_string())
        );
        assert_eq!(root.file("/usr/lib/escape"), Err(RootError::Missing));
        assert_eq!(root.file("/usr/lib/dotdot"), Err(RootError::Missing));
        assert_eq!(root.file("/usr/bin/app"), Err(RootError::Missing));
        assert!(root.open(b"/usr/bin/app").is_err());
        assert_eq!(root.file("/usr/lib/loop1"), Err(RootError::Loop));
        assert_eq!(
            root.canonical("/usr/../lib/./libz.so.1"),
            Ok("/usr/lib/libz.so.1.2".to_string())
        );
        // Strict lookups (names a user gave) refuse a climb above the root, naming the link.
        assert_eq!(
            root.lookup_strict(b"/usr/lib/dotdot").map(|f| f.canonical),
            Err(RootError::Escapes(Some(b"/usr/lib/dotdot".to_vec())))
        );
        assert_eq!(
            root.lookup_strict(b"/../etc").map(|f| f.canonical),
            Err(RootError::Escapes(None))
        );
        assert_eq!(
            root.lookup_strict(b"/lib/libz.so.1").map(|f| f.canonical),
            Ok(b"/usr/lib/libz.so.1.2".to_vec())
        );
    }

    #[test]
    fn names_are_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_of(dir.path());
        for name in [&b"a\xff"[..], b"a\xfe", b"a\xef\xbf\xbd"] {
            fs::write(dir.path().join(OsStr::from_bytes(name)), name).unwrap();
        }
        let names = root.names(b"/");
        assert_eq!(names.len(), 3);
        for name in &names {
            let mut path = b"/".to_vec();
            path.extend_from_slice(name);
            let found = root.lookup(&path).unwrap();
            assert_eq!(found.canonical, path);
            let Content::File(file, len) = root.open(&path).unwrap() else {
                panic!("a file of this machine");
            };
            assert_eq!(len, name.len() as u64);
            drop(file);
        }
    }

    #[test]
    fn directories_and_operands() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("usr/sbin")).unwrap();
        fs::write(dir.path().join("usr/sbin/tool"), b"t").unwrap();
        symlink("usr/sbin", dir.path().join("sbin")).unwrap();
        symlink("../../..", dir.path().join("usr/sbin/up")).unwrap();
        let root = root_of(dir.path());
        assert!(root.is_dir("/sbin"));
        assert_eq!(root.canonical("/sbin/up"), Ok("/".to_string()));
        assert_eq!(root.list("/sbin"), ["tool", "up"]);
        assert_eq!(
            root.lookup_strict(b"/sbin/up/x").map(|f| f.canonical),
            Err(RootError::Escapes(Some(b"/usr/sbin/up".to_vec())))
        );
        // A directory is found, but it is not a file.
        assert!(root.open(b"/sbin").is_err());
        assert!(RootFs::dir(&dir.path().join("usr/sbin/tool")).is_err());
        assert!(RootFs::dir(&dir.path().join("absent")).is_err());
    }
}
