//! The dynamic table (PT_DYNAMIC), decoded into the handful of values the analysis uses.

use object::elf as raw;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Endianness, ReadRef};

use super::ElfFile;
use super::strings::{StringTable, StringUse};
use crate::error::{Error, ReadError, Result};

/// PT_DYNAMIC is read up to `Limits::max_needed` entries plus this many for the other tags
/// (real tables have a few dozen): its size in the program header is the file's word.
const OTHER_DYNAMIC_ENTRIES: usize = 1024;

/// The values of PT_DYNAMIC that matter here. Addresses are virtual addresses, as in the
/// file; strings are offsets into DT_STRTAB.
#[derive(Debug, Default, Clone)]
pub(crate) struct DynamicInfo {
    /// DT_NEEDED string offsets, in file order.
    pub needed: Vec<u64>,
    pub soname: Option<u64>,
    pub rpath: Option<u64>,
    pub runpath: Option<u64>,
    pub flags: u64,
    pub flags_1: u64,
    pub strtab: Option<u64>,
    pub strsz: Option<u64>,
    pub symtab: Option<u64>,
    pub syment: Option<u64>,
    pub hash: Option<u64>,
    pub gnu_hash: Option<u64>,
    pub versym: Option<u64>,
    pub verneed: Option<u64>,
    pub verneednum: Option<u64>,
    pub verdef: Option<u64>,
    pub verdefnum: Option<u64>,
    pub rela: Option<u64>,
    pub relasz: Option<u64>,
    pub rel: Option<u64>,
    pub relsz: Option<u64>,
    pub jmprel: Option<u64>,
    pub pltrelsz: Option<u64>,
    pub pltrel: Option<u64>,
    /// Number of entries before DT_NULL (or the end of the segment).
    pub entries: usize,
}

impl DynamicInfo {
    /// Whether DF_1_PIE is set.
    pub fn is_pie(&self) -> bool {
        self.flags_1 & raw::DF_1_PIE.0 != 0
    }

    /// Whether DF_1_NODEFLIB is set.
    pub fn nodeflib(&self) -> bool {
        self.flags_1 & raw::DF_1_NODEFLIB.0 != 0
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Decodes the first PT_DYNAMIC segment, up to DT_NULL.
    ///
    /// `Ok(None)` without PT_DYNAMIC; `Err` when it lies outside the file, holds more
    /// DT_NEEDED entries than the limit allows, or has no DT_NULL within that limit plus
    /// `OTHER_DYNAMIC_ENTRIES` (only that much of it is read, whatever its size).
    pub fn dynamic(&self) -> Result<Option<DynamicInfo>> {
        let Some(ph) = self.segments_of(raw::PT_DYNAMIC).next() else {
            return Ok(None);
        };
        let (offset, size) = ph.file_range(self.endian);
        let entry_size = std::mem::size_of::<H::Dyn>() as u64;
        let in_segment = size.checked_div(entry_size).unwrap_or(0);
        let cap = self.limits.max_needed.saturating_add(OTHER_DYNAMIC_ENTRIES);
        let count = usize::try_from(in_segment).map_or(cap, |n| n.min(cap));
        let entries: &'data [H::Dyn] = self
            .data
            .read_slice_at(offset, count)
            .or_truncated("PT_DYNAMIC", offset)?;
        let cut_short = count < usize::try_from(in_segment).unwrap_or(usize::MAX);
        let mut info = DynamicInfo::default();
        let mut ended = false;
        for entry in entries {
            let tag = entry.tag(self.endian);
            let val = entry.val(self.endian);
            if tag == raw::DT_NULL {
                ended = true;
                break;
            }
            info.entries = info.entries.saturating_add(1);
            let first = |slot: &mut Option<u64>| {
                slot.get_or_insert(val);
            };
            match tag {
                raw::DT_NEEDED => {
                    if info.needed.len() >= self.limits.max_needed {
                        return Err(Error::LimitExceeded {
                            what: "DT_NEEDED entries",
                            limit: self.limits.max_needed as u64,
                        });
                    }
                    info.needed.push(val);
                }
                raw::DT_SONAME => first(&mut info.soname),
                raw::DT_RPATH => first(&mut info.rpath),
                raw::DT_RUNPATH => first(&mut info.runpath),
                raw::DT_FLAGS => info.flags |= val,
                raw::DT_FLAGS_1 => info.flags_1 |= val,
                raw::DT_STRTAB => first(&mut info.strtab),
                raw::DT_STRSZ => first(&mut info.strsz),
                raw::DT_SYMTAB => first(&mut info.symtab),
                raw::DT_SYMENT => first(&mut info.syment),
                raw::DT_HASH => first(&mut info.hash),
                raw::DT_GNU_HASH => first(&mut info.gnu_hash),
                raw::DT_VERSYM => first(&mut info.versym),
                raw::DT_VERNEED => first(&mut info.verneed),
                raw::DT_VERNEEDNUM => first(&mut info.verneednum),
                raw::DT_VERDEF => first(&mut info.verdef),
                raw::DT_VERDEFNUM => first(&mut info.verdefnum),
                raw::DT_RELA => first(&mut info.rela),
                raw::DT_RELASZ => first(&mut info.relasz),
                raw::DT_REL => first(&mut info.rel),
                raw::DT_RELSZ => first(&mut info.relsz),
                raw::DT_JMPREL => first(&mut info.jmprel),
                raw::DT_PLTRELSZ => first(&mut info.pltrelsz),
                raw::DT_PLTREL => first(&mut info.pltrel),
                _ => {}
            }
        }
        if cut_short && !ended {
            return Err(Error::LimitExceeded {
                what: "dynamic entries before DT_NULL",
                limit: cap as u64,
            });
        }
        Ok(Some(info))
    }

    /// The dynamic string table (DT_STRTAB, DT_STRSZ), mapped through PT_LOAD.
    ///
    /// `Ok(None)` when the file has no DT_STRTAB; `Err` when it points outside the file.
    pub fn dynamic_strings(
        &self,
        info: &DynamicInfo,
        uses: StringUse,
    ) -> Result<Option<StringTable<'data, R>>> {
        let Some(addr) = info.strtab else {
            return Ok(None);
        };
        let (offset, avail) = self
            .map_address(addr)
            .or_malformed("DT_STRTAB is outside every PT_LOAD segment")?;
        // DT_STRSZ can be missing or wrong; the segment bounds the table either way.
        let size = info.strsz.map_or(avail, |sz| sz.min(avail));
        Ok(Some(StringTable::new(
            self.data,
            offset,
            size,
            self.limits.max_string_bytes,
            uses,
        )))
    }
}
