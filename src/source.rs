//! Byte sources: where the ELF layer gets its bytes from.
//!
//! Everything above this module reads through object's [`ReadRef`] trait, so the same code
//! runs over a byte slice, a memory map, or a file read by positioned reads. The last one is
//! the default for paths: it reads only the ranges the analysis asks for, which measured
//! faster than a memory map on a cold page cache (the kernel's read-ahead makes every mapped
//! page fault pull in megabytes) and keeps memory flat whatever the file size.

use std::cell::OnceCell;
use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use object::read::{ReadCache, ReadCacheOps};

pub use object::read::ReadRef;

use crate::error::{Error, Result};

/// The first bytes of a file are read in one go when it is opened: they hold the file
/// header, the program headers, the interpreter, the notes and, for most programs, the
/// dynamic symbols, their strings and version needs, so one read serves a dozen lookups.
const PREFIX_BYTES: u64 = 16 << 10;

/// Strings beyond the prefix are read in aligned blocks of this size (a power of two), each
/// once.
const STRING_BLOCK_BYTES: u64 = 4 << 10;

/// Ranges at least this long (the read-only data a content scan reads) are read in one
/// positioned read into a buffer of their own, reused by the next source on the thread.
const LARGE_READ_BYTES: u64 = 64 << 10;

/// The largest buffer kept for reuse once its source is dropped (the default scan budget
/// is 4 MiB; a larger buffer is freed).
const MAX_SPARE_BYTES: usize = 16 << 20;

thread_local! {
    /// A large read's buffer, handed back by a dropped source for the next one on this
    /// thread: a batch scans megabytes per static file, and fresh memory for each costs
    /// page faults and the kernel's zeroing on every page, every time.
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    /// The first-bytes buffer of the thread's last dropped source: a batch opens every
    /// program and library once, and a fresh 16 KiB each time was allocated and zeroed.
    static SPARE_PREFIX: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// How many large ranges a source keeps; further ones go through the general cache.
const LARGE_SLOTS: usize = 4;

/// A file read with `pread`, caching each range it returns.
///
/// `&FileSource` implements [`ReadRef`]. Only the byte ranges the analysis asks for are read
/// (plus the first 16 KiB, read at once, and strings by 4 KiB blocks); each is read once
/// and kept until the source is dropped, so memory follows what the analysis reads, not the file's size.
/// A dropped source leaves its largest read buffer (at most 16 MiB; the default scan
/// budget reads at most 4 MiB) to the next source on the same thread.
#[derive(Debug)]
pub struct FileSource {
    prefix: Vec<u8>,
    cache: ReadCache<PositionedFile>,
    /// Large ranges read so far: (offset, buffer, length read). A buffer may be longer
    /// than the range (it was reused).
    large: [OnceCell<(u64, Vec<u8>, usize)>; LARGE_SLOTS],
    file: Arc<File>,
    len: u64,
}

/// Opens a regular file for reading, with its length; anything else is refused.
///
/// `open` itself would wait forever on a FIFO nobody writes to (and a terminal could become
/// the process's controlling one): the file is opened with `O_NONBLOCK | O_NOCTTY`, which
/// regular files ignore, and kept only if `fstat` then says it is a regular file.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file but {}", kind_of(meta.file_type())),
        ));
    }
    Ok((file, meta.len()))
}

/// What a file that is not a regular one is, for messages.
fn kind_of(kind: FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        FIFO
    } else if kind.is_socket() {
        SOCKET
    } else if kind.is_char_device() {
        CHAR_DEVICE
    } else if kind.is_block_device() {
        BLOCK_DEVICE
    } else {
        SOMETHING_ELSE
    }
}

/// The words for files that are neither regular files, directories nor links (the root
/// model names them the same way).
pub(crate) const FIFO: &str = "a FIFO (a pipe: save what it carries to a file first)";
pub(crate) const SOCKET: &str = "a socket";
pub(crate) const CHAR_DEVICE: &str = "a character device";
pub(crate) const BLOCK_DEVICE: &str = "a block device";
pub(crate) const SOMETHING_ELSE: &str = "something else";

impl FileSource {
    /// Opens `path` for positioned reads: a regular file (a FIFO, a device or a directory
    /// is refused at once, without waiting on it).
    pub fn open(path: &Path) -> Result<Self> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let (file, len) = open_regular(path).map_err(io_error)?;
        Self::with_length(file, len).map_err(io_error)
    }

    /// Wraps an open file; its current length is taken as the data's length.
    pub fn from_file(file: File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Self::with_length(file, len)
    }

    pub(crate) fn with_length(file: File, len: u64) -> std::io::Result<Self> {
        // One positioned read, into the buffer the thread's last source left (its old bytes
        // are overwritten, so only growth is zeroed; zeroing a fresh one costs less than the
        // extra reads of `read_to_end`, which starts small and doubles).
        let want = usize::try_from(len.min(PREFIX_BYTES)).unwrap_or(0);
        let mut prefix = SPARE_PREFIX.take();
        prefix.truncate(want);
        prefix.resize(want, 0);
        file.read_exact_at(&mut prefix, 0)?;
        let file = Arc::new(file);
        Ok(FileSource {
            prefix,
            cache: ReadCache::new(PositionedFile {
                file: Arc::clone(&file),
                pos: 0,
                len,
            }),
            large: Default::default(),
            file,
            len,
        })
    }

    /// A large range, read once with one positioned read (into the thread's spare buffer
    /// when there is one, zeroing only what it lacks); `None` when every slot is taken.
    fn read_large(&self, offset: u64, size: u64) -> Option<Result<&[u8], ()>> {
        for slot in &self.large {
            if let Some((at, bytes, len)) = slot.get() {
                if *at == offset && *len as u64 >= size {
                    return Some(bytes.get(..usize::try_from(size).ok()?).ok_or(()));
                }
                continue;
            }
            let end = offset.checked_add(size)?;
            if end > self.len {
                return Some(Err(()));
            }
            let len = usize::try_from(size).ok()?;
            let mut bytes = SPARE.take();
            if bytes.len() < len {
                bytes
                    .try_reserve_exact(len.saturating_sub(bytes.len()))
                    .ok()?;
                bytes.resize(len, 0);
            }
            let Some(target) = bytes.get_mut(..len) else {
                return Some(Err(()));
            };
            if self.file.read_exact_at(target, offset).is_err() {
                SPARE.set(bytes);
                return Some(Err(()));
            }
            let (_, bytes, _) = slot.get_or_init(|| (offset, bytes, len));
            return Some(bytes.get(..len).ok_or(()));
        }
        None
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for FileSource {
    /// Hands the prefix and the largest read buffer back to the thread for the next source.
    fn drop(&mut self) {
        let prefix = std::mem::take(&mut self.prefix);
        let kept = SPARE_PREFIX.take();
        SPARE_PREFIX.set(if kept.capacity() >= prefix.capacity() {
            kept
        } else {
            prefix
        });
        let largest = self
            .large
            .iter_mut()
            .filter_map(|slot| slot.take().map(|(_, bytes, _)| bytes))
            .filter(|bytes| bytes.len() <= MAX_SPARE_BYTES)
            .max_by_key(Vec::len);
        if let Some(bytes) = largest {
            let spare = SPARE.take();
            SPARE.set(if spare.len() > bytes.len() {
                spare
            } else {
                bytes
            });
        }
    }
}

impl<'a> ReadRef<'a> for &'a FileSource {
    fn len(self) -> Result<u64, ()> {
        Ok(self.len)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        let in_prefix = offset
            .checked_add(size)
            .and_then(|end| usize::try_from(end).ok())
            .and_then(|end| self.prefix.get(usize::try_from(offset).ok()?..end));
        if let Some(bytes) = in_prefix {
            return Ok(bytes);
        }
        if size >= LARGE_READ_BYTES {
            if let Some(result) = self.read_large(offset, size) {
                return result;
            }
        }
        (&self.cache).read_bytes_at(offset, size)
    }

    fn read_bytes_at_until(self, range: Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        if let (Ok(start), Ok(end)) = (usize::try_from(range.start), usize::try_from(range.end)) {
            let stop = end.min(self.prefix.len());
            if let Some(window) = self.prefix.get(start..stop) {
                if let Some(at) = memchr::memchr(delimiter, window) {
                    return window.get(..at).ok_or(());
                }
                if stop == end {
                    // The whole range is in the prefix and has no delimiter.
                    return Err(());
                }
            }
        }
        // Strings beyond the prefix are read a block at a time: names read together (the
        // version names of a library, the imports of a program) tend to lie together.
        let block_start = range.start & !(STRING_BLOCK_BYTES - 1);
        let block_end = block_start.saturating_add(STRING_BLOCK_BYTES).min(self.len);
        if range.start < block_end && range.start < range.end {
            if let Ok(block) =
                (&self.cache).read_bytes_at(block_start, block_end.saturating_sub(block_start))
            {
                let from = usize::try_from(range.start.checked_sub(block_start).ok_or(())?)
                    .map_err(|_| ())?;
                let to = usize::try_from(
                    range
                        .end
                        .min(block_end)
                        .checked_sub(block_start)
                        .ok_or(())?,
                )
                .map_err(|_| ())?;
                if let Some(window) = block.get(from..to) {
                    if let Some(at) = memchr::memchr(delimiter, window) {
                        return window.get(..at).ok_or(());
                    }
                    if range.end <= block_end {
                        return Err(());
                    }
                }
            }
        }
        (&self.cache).read_bytes_at_until(range, delimiter)
    }
}

/// A file plus a cursor, read with `pread` so that a "seek" costs no system call.
#[derive(Debug)]
pub struct PositionedFile {
    file: Arc<File>,
    pos: u64,
    len: u64,
}

impl ReadCacheOps for PositionedFile {
    fn len(&mut self) -> Result<u64, ()> {
        Ok(self.len)
    }

    fn seek(&mut self, pos: u64) -> Result<u64, ()> {
        self.pos = pos;
        Ok(pos)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ()> {
        let n = self.file.read_at(buf, self.pos).map_err(|_| ())?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ()> {
        self.file.read_exact_at(buf, self.pos).map_err(|_| ())?;
        self.pos = self.pos.saturating_add(buf.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of `len` bytes whose byte at `i` is `(i * seed) as u8`.
    fn file_of(len: usize, seed: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let bytes: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i.wrapping_mul(seed) % 251).unwrap())
            .collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        (file, bytes)
    }

    /// A source's first bytes come from the buffer the last one left: a shorter file after
    /// a longer one, and a longer after a shorter, each see exactly their own bytes.
    #[test]
    fn prefixes_reuse_a_buffer_without_showing_its_old_bytes() {
        let (long, long_bytes) = file_of(40 << 10, 7);
        let (short, short_bytes) = file_of(5000, 13);
        let (longer, longer_bytes) = file_of(20 << 10, 11);
        for (file, bytes) in [
            (&long, &long_bytes),
            (&short, &short_bytes),
            (&longer, &longer_bytes),
        ] {
            let source = FileSource::open(file.path()).unwrap();
            let whole = bytes.len().min(usize::try_from(PREFIX_BYTES).unwrap());
            assert_eq!(source.prefix.len(), whole);
            assert_eq!(
                (&source).read_bytes_at(0, whole as u64).unwrap(),
                &bytes[..whole]
            );
            // The byte after a short file's end is not there, whatever the buffer held.
            assert!((&source).read_bytes_at(0, bytes.len() as u64 + 1).is_err());
        }
    }

    #[test]
    fn large_reads_reuse_a_buffer_without_showing_its_old_bytes() {
        let (big, big_bytes) = file_of(600 << 10, 7);
        let (small, small_bytes) = file_of(300 << 10, 13);
        let range = |bytes: &[u8], from: usize, len: usize| bytes[from..from + len].to_vec();
        {
            let source = FileSource::open(big.path()).unwrap();
            let read = (&source).read_bytes_at(4096, 500 << 10).unwrap();
            assert_eq!(read, range(&big_bytes, 4096, 500 << 10));
        }
        // The next source on this thread gets the (longer) buffer back: its reads must
        // show its own bytes and stop at their own length.
        let source = FileSource::open(small.path()).unwrap();
        let read = (&source).read_bytes_at(1000, 200 << 10).unwrap();
        assert_eq!(read.len(), 200 << 10);
        assert_eq!(read, range(&small_bytes, 1000, 200 << 10));
        // A second large range of the same source uses its own buffer.
        let other = (&source).read_bytes_at(100 << 10, 150 << 10).unwrap();
        assert_eq!(other, range(&small_bytes, 100 << 10, 150 << 10));
        // Past the end: refused.
        assert!((&source).read_bytes_at(200 << 10, 200 << 10).is_err());
    }
}
