//! Section headers: an optional extra source.
//!
//! Nothing the loader needs comes from here, and sections can be stripped or lie; they are
//! read for facts found nowhere else: `.comment`, `.dep-v0`, `.go.buildinfo`, symbol tables
//! and debug data (what `strip` would remove).

use object::elf as raw;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, ReadRef};

use super::ElfFile;
use crate::error::{Error, ReadError, Result};

/// The largest section-name table read.
const MAX_SECTION_NAMES: u64 = 1 << 20;

/// The section header table and its names.
pub(crate) struct Sections<'data, H: FileHeader> {
    headers: &'data [H::SectionHeader],
    names: &'data [u8],
    endian: Endianness,
}

impl<'data, H> Sections<'data, H>
where
    H: FileHeader<Endian = Endianness>,
{
    /// Every section with its name (empty when the name cannot be read).
    pub fn iter(&self) -> impl Iterator<Item = (&'data [u8], &'data H::SectionHeader)> + '_ {
        self.headers.iter().map(move |sh| (self.name_of(sh), sh))
    }

    /// The first section with this name.
    pub fn by_name(&self, name: &[u8]) -> Option<&'data H::SectionHeader> {
        // Compares in place (name, then its NUL) instead of measuring every name first.
        self.headers.iter().find(|sh| {
            usize::try_from(sh.sh_name(self.endian))
                .ok()
                .and_then(|start| self.names.get(start..))
                .is_some_and(|rest| {
                    rest.starts_with(name) && rest.get(name.len()).is_none_or(|b| *b == 0)
                })
        })
    }

    fn name_of(&self, sh: &H::SectionHeader) -> &'data [u8] {
        let Ok(start) = usize::try_from(sh.sh_name(self.endian)) else {
            return &[];
        };
        let Some(rest) = self.names.get(start..) else {
            return &[];
        };
        let end = memchr::memchr(0, rest).unwrap_or(0);
        rest.get(..end).unwrap_or(&[])
    }

    /// The section's file range, `None` for SHT_NOBITS or ranges outside `len`.
    pub fn file_range(&self, sh: &H::SectionHeader, len: u64) -> Option<(u64, u64)> {
        let (offset, size) = sh.file_range(self.endian)?;
        (offset.checked_add(size)? <= len).then_some((offset, size))
    }

    /// The section whose address is `addr`, if any (to match DT_* values to sections).
    pub fn by_address(
        &self,
        addr: u64,
        sh_type: raw::SectionType,
    ) -> Option<&'data H::SectionHeader> {
        self.headers.iter().find(|sh| {
            sh.sh_type(self.endian) == sh_type && Into::<u64>::into(sh.sh_addr(self.endian)) == addr
        })
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// The section headers and their names.
    ///
    /// `Ok(None)` when the file has none (stripped with `sstrip`, or never had any); `Err`
    /// when the table or its names lie outside the file.
    pub fn sections(&self) -> Result<Option<Sections<'data, H>>> {
        let shoff: u64 = self.header.e_shoff(self.endian).into();
        if shoff == 0 {
            return Ok(None);
        }
        let shnum = self
            .header
            .shnum(self.endian, self.data)
            .or_malformed("section header count")?;
        if usize::try_from(shnum).map_or(true, |n| n > self.limits.max_section_headers) {
            return Err(Error::LimitExceeded {
                what: "section headers",
                limit: self.limits.max_section_headers as u64,
            });
        }
        let headers = self
            .header
            .section_headers(self.endian, self.data)
            .or_truncated("section header table", shoff)?;
        if headers.is_empty() {
            return Ok(None);
        }
        let names = match self.header.shstrndx(self.endian, self.data) {
            Ok(index) => usize::try_from(index)
                .ok()
                .and_then(|i| headers.get(i))
                .and_then(|sh| sh.file_range(self.endian))
                .filter(|(_, size)| *size <= MAX_SECTION_NAMES)
                .and_then(|(offset, size)| self.data.read_bytes_at(offset, size).ok())
                .unwrap_or(&[]),
            Err(_) => &[],
        };
        Ok(Some(Sections {
            headers,
            names,
            endian: self.endian,
        }))
    }
}
