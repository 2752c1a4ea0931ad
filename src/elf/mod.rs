//! Lazy, zero-copy views of an ELF file, read the way the loader reads it.
//!
//! Everything here borrows from the byte source and reads only what it is asked for: the file
//! header, the program headers, and through PT_DYNAMIC (with addresses mapped through
//! PT_LOAD) the dynamic table, its strings, version needs and imported symbols. Section
//! headers are an optional extra ([`sections`]), used only for facts that live nowhere else
//! (`.comment`, `.dep-v0`, symbol tables): they can be stripped or lie.
//!
//! Accessors follow one rule: `Ok(None)` means absent, `Err` means malformed, `Ok(Some)`
//! means present.

pub(crate) mod dynamic;
pub(crate) mod facts;
pub(crate) mod notes;
pub(crate) mod readonly;
pub(crate) mod sections;
pub(crate) mod strings;
pub(crate) mod symbols;

use object::elf as raw;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, ReadRef};

use crate::error::{Error, Limits, ReadError, Result};

/// The identification bytes at the start of every ELF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ident {
    pub is_64: bool,
    pub big_endian: bool,
    pub os_abi: u8,
}

impl Ident {
    /// Reads `e_ident`. Rejects files that are not ELF, and ELF classes and encodings that
    /// do not exist.
    pub fn parse<'data, R: ReadRef<'data>>(data: R) -> Result<Ident> {
        let ident = data
            .read_bytes_at(0, 16)
            .ok()
            .or_else(|| {
                // A file shorter than e_ident may still start with the magic bytes.
                let len = data.len().ok()?.min(16);
                data.read_bytes_at(0, len).ok()
            })
            .unwrap_or(&[]);
        if !ident.starts_with(&raw::ELFMAG) {
            return Err(Error::NotElf);
        }
        let (Some(&class), Some(&encoding), Some(&os_abi)) =
            (ident.get(4), ident.get(5), ident.get(7))
        else {
            return Err(Error::Truncated {
                what: "e_ident",
                offset: 0,
            });
        };
        let is_64 = match class {
            1 => false,
            2 => true,
            _ => {
                return Err(Error::Unsupported {
                    what: "ELF class (EI_CLASS) is neither 32 nor 64 bit",
                });
            }
        };
        let big_endian = match encoding {
            1 => false,
            2 => true,
            _ => {
                return Err(Error::Unsupported {
                    what: "ELF data encoding (EI_DATA) is neither little nor big endian",
                });
            }
        };
        Ok(Ident {
            is_64,
            big_endian,
            os_abi,
        })
    }
}

/// One ELF file: its header and program headers, borrowed from the source.
pub(crate) struct ElfFile<'data, H: FileHeader<Endian = Endianness>, R: ReadRef<'data>> {
    pub data: R,
    pub header: &'data H,
    pub endian: Endianness,
    pub phdrs: &'data [H::ProgramHeader],
    pub len: u64,
    pub limits: Limits,
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Parses the file header and the program headers.
    pub fn parse(data: R, limits: &Limits) -> Result<Self> {
        let len = data
            .len()
            .or_malformed("cannot tell the length of the data")?;
        if len > limits.max_file_bytes {
            return Err(Error::LimitExceeded {
                what: "file size",
                limit: limits.max_file_bytes,
            });
        }
        let header = H::parse(data).or_truncated("ELF file header", 0)?;
        let endian = header.endian().map_err(|_| Error::Unsupported {
            what: "ELF data encoding",
        })?;
        let phnum = header
            .phnum(endian, data)
            .or_malformed("program header count (extended e_phnum without section 0)")?;
        if usize::try_from(phnum).map_or(true, |n| n > limits.max_program_headers) {
            return Err(Error::LimitExceeded {
                what: "program headers",
                limit: limits.max_program_headers as u64,
            });
        }
        let phdrs = header
            .program_headers(endian, data)
            .or_truncated("program header table", header.e_phoff(endian).into())?;
        Ok(ElfFile {
            data,
            header,
            endian,
            phdrs,
            len,
            limits: limits.clone(),
        })
    }

    /// `e_type`.
    pub fn e_type(&self) -> u16 {
        self.header.e_type(self.endian).0
    }

    /// `e_machine`.
    pub fn e_machine(&self) -> u16 {
        self.header.e_machine(self.endian).0
    }

    /// `e_entry`.
    pub fn entry(&self) -> u64 {
        self.header.e_entry(self.endian).into()
    }

    /// `e_flags`.
    pub fn e_flags(&self) -> u32 {
        self.header.e_flags(self.endian).0
    }

    /// Program headers of one type.
    pub fn segments_of(
        &self,
        p_type: raw::ProgramType,
    ) -> impl Iterator<Item = &'data H::ProgramHeader> + use<'data, H, R> {
        let endian = self.endian;
        self.phdrs
            .iter()
            .filter(move |ph| ph.p_type(endian) == p_type)
    }

    /// The PT_INTERP string, without its terminating NUL.
    ///
    /// `Ok(None)` without PT_INTERP; `Err` when the segment lies outside the file.
    pub fn interpreter(&self) -> Result<Option<&'data [u8]>> {
        let Some(ph) = self.segments_of(raw::PT_INTERP).next() else {
            return Ok(None);
        };
        let (offset, size) = ph.file_range(self.endian);
        let max = self.limits.max_string_bytes as u64;
        let bytes = self
            .data
            .read_bytes_at(offset, size.min(max.saturating_add(1)))
            .or_truncated("PT_INTERP", offset)?;
        // The string ends at its first NUL; a missing NUL is tolerated (the kernel would
        // reject it, but the name is still the best evidence of the intended loader).
        let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
        if end as u64 > max {
            return Err(Error::LimitExceeded {
                what: "PT_INTERP length",
                limit: max,
            });
        }
        Ok(bytes.get(..end))
    }

    /// Maps a virtual address to a file offset through the PT_LOAD segments, with the number
    /// of bytes of that segment present in the file from there on.
    pub fn map_address(&self, addr: u64) -> Option<(u64, u64)> {
        let endian = self.endian;
        self.segments_of(raw::PT_LOAD).find_map(|ph| {
            let vaddr: u64 = ph.p_vaddr(endian).into();
            let filesz: u64 = ph.p_filesz(endian).into();
            let delta = addr.checked_sub(vaddr)?;
            if delta >= filesz {
                return None;
            }
            let offset = Into::<u64>::into(ph.p_offset(endian)).checked_add(delta)?;
            let avail = filesz.checked_sub(delta)?;
            // The segment may claim more bytes than the file has.
            let in_file = self.len.checked_sub(offset)?;
            Some((offset, avail.min(in_file)))
        })
    }

    /// Reads `size` bytes at virtual address `addr`.
    ///
    /// `Ok(None)` when the address is in no PT_LOAD segment's file image; `Err` when the
    /// range runs past the segment or the file.
    pub fn read_at_address(
        &self,
        addr: u64,
        size: u64,
        what: &'static str,
    ) -> Result<Option<&'data [u8]>> {
        let Some((offset, avail)) = self.map_address(addr) else {
            return Ok(None);
        };
        if size > avail {
            return Err(Error::Truncated { what, offset });
        }
        self.data
            .read_bytes_at(offset, size)
            .map(Some)
            .or_truncated(what, offset)
    }

    /// Reads up to `size` bytes of file data at `offset`, fewer if the file ends first.
    pub fn read_up_to(&self, offset: u64, size: u64) -> Option<&'data [u8]> {
        let avail = self.len.checked_sub(offset)?;
        self.data.read_bytes_at(offset, size.min(avail)).ok()
    }

    /// Up to `max` bytes of read-only data, where marker strings live: the `.rodata`
    /// section when sections say where it is, else the first read-only PT_LOAD segment
    /// (neither writable nor executable), else the first executable one (older layouts put
    /// read-only data with the code).
    pub fn readonly_data(
        &self,
        sections: Option<&sections::Sections<'data, H>>,
        max: u64,
    ) -> Option<&'data [u8]> {
        if let Some(sections) = sections {
            if let Some(sh) = sections.by_name(b".rodata") {
                if let Some((offset, size)) = sections.file_range(sh, self.len) {
                    return self.read_up_to(offset, size.min(max));
                }
            }
        }
        let endian = self.endian;
        let loads = || self.segments_of(raw::PT_LOAD);
        let flags = |ph: &H::ProgramHeader| ph.p_flags(endian).0;
        let pick = loads()
            .find(|ph| flags(ph) & (raw::PF_W.0 | raw::PF_X.0) == 0 && flags(ph) & raw::PF_R.0 != 0)
            .or_else(|| loads().find(|ph| flags(ph) & raw::PF_X.0 != 0))?;
        let (offset, size) = pick.file_range(endian);
        self.read_up_to(offset, size.min(max))
    }
}
