//! A directory of this machine as a root: every name looked up from a directory descriptor,
//! never from a path string that was checked and then opened.
//!
//! A lookup reads one name at a time with `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)` and
//! steps into a directory by opening it relative to its parent (`O_PATH | O_NOFOLLOW`),
//! so a root that changes meanwhile can change the answer but never point it at a file
//! outside. Files are opened with `openat2(root, path, RESOLVE_IN_ROOT)` (Linux 5.6), the
//! kernel's own chroot-exact resolution; where that call is missing (an older kernel, or a
//! sandbox that refuses it), relative to the parent directory's descriptor with
//! `O_NOFOLLOW`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use super::{Child, Content, Identity};
use crate::source;

/// A directory on this machine, opened once.
#[derive(Debug)]
pub(crate) struct DirRoot {
    top: Arc<OwnedFd>,
    /// Whether `openat2` may still be tried (cleared the first time it is missing).
    openat2: AtomicBool,
}

/// Flags of every descriptor that only walks (it reads nothing, and a FIFO or device is
/// never opened).
fn walk_flags() -> OFlags {
    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Flags of a file opened for reading: never waits on a FIFO, never becomes the controlling
/// terminal, never follows a link in its last name.
fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

impl DirRoot {
    /// Opens `path` (followed on this machine: the user named it) as a root; it must be a
    /// directory.
    pub(crate) fn open(path: &Path) -> io::Result<DirRoot> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(DirRoot {
            top: Arc::new(fd),
            openat2: AtomicBool::new(true),
        })
    }

    /// The root's own descriptor.
    pub(crate) fn top(&self) -> Arc<OwnedFd> {
        Arc::clone(&self.top)
    }

    /// The root's device and inode.
    pub(crate) fn identity(&self) -> io::Result<Identity> {
        let stat = rustix::fs::fstat(&*self.top)?;
        Ok(identity_of(&stat))
    }

    /// What `name` is in the directory `dir`, without following it.
    pub(crate) fn child(dir: &OwnedFd, name: &[u8]) -> Child {
        let Ok(stat) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            return Child::Missing;
        };
        let identity = identity_of(&stat);
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => Child::Dir(identity),
            FileType::RegularFile => {
                Child::File(identity, u64::try_from(stat.st_size).unwrap_or(0))
            }
            FileType::Symlink => match rustix::fs::readlinkat(dir, name, Vec::new()) {
                Ok(target) => Child::Link(target.into_bytes()),
                Err(_) => Child::Missing,
            },
            FileType::Fifo => Child::Other(identity, source::FIFO),
            FileType::Socket => Child::Other(identity, source::SOCKET),
            FileType::CharacterDevice => Child::Other(identity, source::CHAR_DEVICE),
            FileType::BlockDevice => Child::Other(identity, source::BLOCK_DEVICE),
            _ => Child::Other(identity, source::SOMETHING_ELSE),
        }
    }

    /// Steps into the directory `name` of `dir`; `None` if it is no longer a directory.
    pub(crate) fn enter(dir: &OwnedFd, name: &[u8]) -> Option<OwnedFd> {
        rustix::fs::openat(dir, name, walk_flags() | OFlags::DIRECTORY, Mode::empty()).ok()
    }

    /// Opens the regular file at `canonical` (an in-root path with no link left), whose
    /// directory is `parent` and last name `name`.
    pub(crate) fn open_file(
        &self,
        canonical: &[u8],
        parent: &OwnedFd,
        name: &[u8],
    ) -> io::Result<Content> {
        let relative = trim_slashes(canonical);
        let fd = if self.openat2.load(Ordering::Relaxed) && !relative.is_empty() {
            let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&*self.top, relative, read_flags(), Mode::empty(), resolve) {
                Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => {
                    self.openat2.store(false, Ordering::Relaxed);
                    rustix::fs::openat(parent, name, read_flags(), Mode::empty())
                }
                other => other,
            }
        } else {
            rustix::fs::openat(parent, name, read_flags(), Mode::empty())
        }?;
        regular(fd)
    }

    /// The names in the directory `name` of `parent` (or `parent` itself when `name` is
    /// empty), unsorted.
    pub(crate) fn names(parent: &OwnedFd, name: &[u8], max: usize) -> io::Result<Vec<Vec<u8>>> {
        let path: &[u8] = if name.is_empty() { b"." } else { name };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(parent, path, flags, Mode::empty())?;
        let dir = rustix::fs::Dir::new(fd)?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry?;
            let bytes = entry.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                if names.len() >= max {
                    break;
                }
                names.push(bytes.to_vec());
            }
        }
        Ok(names)
    }
}

/// Keeps `fd` if it is a regular file; its length.
fn regular(fd: OwnedFd) -> io::Result<Content> {
    let stat = rustix::fs::fstat(fd.as_fd())?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let len = u64::try_from(stat.st_size).unwrap_or(0);
    Ok(Content::File(File::from(fd), len))
}

fn identity_of(stat: &rustix::fs::Stat) -> Identity {
    Identity {
        dev: stat.st_dev,
        ino: stat.st_ino,
    }
}

fn trim_slashes(path: &[u8]) -> &[u8] {
    let start = path.iter().position(|&b| b != b'/').unwrap_or(path.len());
    path.get(start..).unwrap_or_default()
}
