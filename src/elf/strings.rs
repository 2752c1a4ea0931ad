//! NUL-terminated string tables (DT_STRTAB, section name tables).

use object::ReadRef;

use crate::error::{Error, Result};

/// Tables up to this size are read in one go: one read beats one read per string as soon as
/// a few strings are wanted. Larger tables (big C++ or Rust libraries) are read string by
/// string, so their cost follows the number of strings used, not the table's size.
const READ_WHOLE_BYTES: u64 = 256 << 10;

/// Larger tables are read in aligned blocks of this size, so that strings stored side by
/// side (the version names, the NEEDED names) cost one read together.
const BLOCK_BYTES: u64 = 4096;

/// How many of a table's strings the reader will look up, which decides how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringUse {
    /// Most of them (every imported symbol's name): a table up to [`READ_WHOLE_BYTES`] is
    /// read in one go.
    Many,
    /// A handful (the loader's names: NEEDED, SONAME, RPATH, versions): read by blocks
    /// whatever the table's size; a library's table is often 50-250 KiB of symbol names
    /// the closure never looks at.
    Few,
}

/// A string table inside the file.
#[derive(Clone, Copy)]
pub(crate) struct StringTable<'data, R: ReadRef<'data>> {
    data: R,
    offset: u64,
    size: u64,
    max_len: usize,
    whole: Option<&'data [u8]>,
}

impl<'data, R: ReadRef<'data>> StringTable<'data, R> {
    /// A table of `size` bytes at file `offset`.
    pub fn new(data: R, offset: u64, size: u64, max_len: usize, uses: StringUse) -> Self {
        let whole = if uses == StringUse::Many && size <= READ_WHOLE_BYTES {
            data.read_bytes_at(offset, size).ok()
        } else {
            None
        };
        StringTable {
            data,
            offset,
            size,
            max_len,
            whole,
        }
    }

    /// Up to `len` bytes from `index`, without looking for the NUL: a cheap look at a
    /// string's start. `None` outside the table.
    pub fn peek(&self, index: u64, len: u64) -> Option<&'data [u8]> {
        let end = index.checked_add(len)?.min(self.size);
        let count = end.checked_sub(index).filter(|c| *c > 0)?;
        match self.whole {
            Some(whole) => whole.get(usize::try_from(index).ok()?..usize::try_from(end).ok()?),
            None => {
                // From the aligned block holding it (one cached read for its neighbours),
                // unless it straddles two blocks.
                let start = self.offset.checked_add(index)?;
                let block = start & !(BLOCK_BYTES - 1);
                let block_start = block.max(self.offset);
                let block_end = block
                    .checked_add(BLOCK_BYTES)?
                    .min(self.offset.checked_add(self.size)?);
                let stop = start.checked_add(count)?;
                if stop <= block_end {
                    let bytes = self
                        .data
                        .read_bytes_at(block_start, block_end.checked_sub(block_start)?)
                        .ok()?;
                    let from = usize::try_from(start.checked_sub(block_start)?).ok()?;
                    let to = usize::try_from(stop.checked_sub(block_start)?).ok()?;
                    bytes.get(from..to)
                } else {
                    self.data.read_bytes_at(start, count).ok()
                }
            }
        }
    }

    /// The string at `index`, without its NUL.
    ///
    /// `Err` when the index is outside the table, the string has no NUL inside the table, or
    /// it is longer than the string limit.
    pub fn get(&self, index: u64) -> Result<&'data [u8]> {
        if index >= self.size {
            return Err(Error::Malformed {
                what: "string offset outside its string table",
            });
        }
        let max = self.max_len as u64;
        let end = self.size.min(index.saturating_add(max).saturating_add(1));
        let bytes = match self.whole {
            Some(whole) => {
                let start = usize::try_from(index).map_err(|_| too_far())?;
                let stop = usize::try_from(end).map_err(|_| too_far())?;
                let window = whole.get(start..stop).ok_or_else(too_far)?;
                let nul = memchr::memchr(0, window).ok_or_else(|| self.unterminated(window))?;
                window.get(..nul).ok_or_else(too_far)?
            }
            None => {
                let start = self.offset.checked_add(index).ok_or_else(too_far)?;
                let stop = self.offset.checked_add(end).ok_or_else(too_far)?;
                match self.string_in_block(start, stop) {
                    Some(bytes) => bytes,
                    None => self
                        .data
                        .read_bytes_at_until(start..stop, 0)
                        .map_err(|()| self.unterminated(&[]))?,
                }
            }
        };
        Ok(bytes)
    }

    /// Reads the aligned block holding `start`, the same block for every string in it (a
    /// cached source reads it once), and finds the string there. `None` when the string runs
    /// past the block.
    fn string_in_block(&self, start: u64, stop: u64) -> Option<&'data [u8]> {
        let block = start & !(BLOCK_BYTES - 1);
        let table_end = self.offset.checked_add(self.size)?;
        let block_start = block.max(self.offset);
        let block_end = block.checked_add(BLOCK_BYTES)?.min(table_end);
        let bytes = self
            .data
            .read_bytes_at(block_start, block_end.checked_sub(block_start)?)
            .ok()?;
        let from = usize::try_from(start.checked_sub(block_start)?).ok()?;
        let until = usize::try_from(stop.min(block_end).checked_sub(block_start)?).ok()?;
        let window = bytes.get(from..until)?;
        let nul = memchr::memchr(0, window)?;
        window.get(..nul)
    }

    fn unterminated(&self, window: &[u8]) -> Error {
        if window.len() as u64 > self.max_len as u64 {
            Error::LimitExceeded {
                what: "string length",
                limit: self.max_len as u64,
            }
        } else {
            Error::Malformed {
                what: "string without terminating NUL, or longer than the limit",
            }
        }
    }
}

fn too_far() -> Error {
    Error::Malformed {
        what: "string offset outside its string table",
    }
}
