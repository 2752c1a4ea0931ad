//! A file's read-only data, read lazily and at most once for all the heuristics that look
//! for strings in it (C library markers, Go's pclntab and version, charset and library
//! names): most files never need it, and those that do should not pay for it twice.

use std::cell::OnceCell;

use object::read::elf::FileHeader;
use object::{Endianness, ReadRef};

use super::ElfFile;
use super::sections::Sections;

/// The most the heuristics of dynamic files read (charset names near `iconv_open`, library
/// names near `dlopen`): they are hints, not worth a read up to the whole scan budget.
const HEAD_BYTES: u64 = 32 << 10;

/// Read-only data ([`ElfFile::readonly_data`]), read on first use.
pub(crate) struct ReadOnlyData<'a, 'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    elf: &'a ElfFile<'data, H, R>,
    sections: Option<&'a Sections<'data, H>>,
    full: OnceCell<Option<&'data [u8]>>,
    head: OnceCell<Option<&'data [u8]>>,
}

impl<'a, 'data, H, R> ReadOnlyData<'a, 'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Nothing is read yet.
    pub fn new(elf: &'a ElfFile<'data, H, R>, sections: Option<&'a Sections<'data, H>>) -> Self {
        ReadOnlyData {
            elf,
            sections,
            full: OnceCell::new(),
            head: OnceCell::new(),
        }
    }

    /// Up to the scan budget (`Limits::scan_budget_bytes`), read once.
    pub fn full(&self) -> Option<&'data [u8]> {
        *self.full.get_or_init(|| {
            self.elf
                .readonly_data(self.sections, self.elf.limits.scan_budget_bytes)
        })
    }

    /// Up to [`HEAD_BYTES`] (within the budget), read once; all of it when [`full`] has
    /// been read already.
    ///
    /// [`full`]: ReadOnlyData::full
    pub fn head(&self) -> Option<&'data [u8]> {
        match self.full.get() {
            Some(data) => *data,
            None => *self.head.get_or_init(|| {
                let max = self.elf.limits.scan_budget_bytes.min(HEAD_BYTES);
                self.elf.readonly_data(self.sections, max)
            }),
        }
    }

    /// What [`full`] has read already, without reading: for checks not worth a read of
    /// their own.
    ///
    /// [`full`]: ReadOnlyData::full
    pub fn if_read(&self) -> Option<&'data [u8]> {
        self.full.get().copied().flatten()
    }
}
