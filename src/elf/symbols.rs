//! Version needs (DT_VERNEED) and imported dynamic symbols (DT_SYMTAB + DT_VERSYM), read
//! through PT_DYNAMIC so that section-stripped files give the same answer.

use std::cell::OnceCell;

use object::elf as raw;
use object::read::elf::{FileHeader, Sym};
use object::{Endianness, ReadRef};

use super::ElfFile;
use super::dynamic::DynamicInfo;
use super::strings::StringTable;
use crate::error::{Error, ReadError, Result};

/// When the whole dynamic symbol table has at most this many entries it is read whole, which
/// also finds imports bound by copy relocation (defined in the file, versioned by a need).
/// Larger tables are read only up to GNU hash's `symoffset`, where linkers put every
/// undefined symbol, so a 60 MB library costs what a small one does.
const FULL_TABLE_SYMBOLS: u64 = 8192;

/// The first read of version-need data; it grows only when the chain runs past it.
const VERSION_WINDOW: u64 = 4096;

/// One library named in DT_VERNEED and the versions needed from it.
#[derive(Debug, Clone)]
pub(crate) struct VersionNeed<'data> {
    pub file: &'data [u8],
    pub versions: Vec<NeededVersion<'data>>,
}

/// One `vernaux` entry.
#[derive(Debug, Clone)]
pub(crate) struct NeededVersion<'data> {
    pub name: &'data [u8],
    /// The index DT_VERSYM uses for it.
    pub index: u16,
}

/// One import as read: 8 bytes, half of the smallest symbol entry, so the list never
/// outgrows the table it came from. Names are looked up when asked for.
#[derive(Debug, Clone, Copy)]
struct ImportEntry {
    name: u32,
    /// Index into `Imports::versions`, or `NO_VERSION`.
    version: u16,
}

const NO_VERSION: u16 = u16::MAX;

/// The imports found, and whether the table could be read to its end.
#[derive(Clone)]
pub(crate) struct Imports<'data, R: ReadRef<'data>> {
    entries: Vec<ImportEntry>,
    versions: Vec<(u16, &'data [u8], &'data [u8])>,
    strings: Option<StringTable<'data, R>>,
    /// False when the symbol count was unknown or over the limit.
    pub complete: bool,
}

impl<'data, R: ReadRef<'data>> Imports<'data, R> {
    /// No imports.
    pub fn none() -> Self {
        Imports {
            entries: Vec::new(),
            versions: Vec::new(),
            strings: None,
            complete: true,
        }
    }

    /// The names of the imports whose first `peek` bytes pass `head` (a bad name offset
    /// skips that symbol).
    pub fn names_where<'s>(
        &'s self,
        peek: u64,
        head: impl Fn(&[u8]) -> bool + 's,
    ) -> impl Iterator<Item = &'data [u8]> + 's {
        self.entries.iter().filter_map(move |entry| {
            let strings = self.strings.as_ref()?;
            let index = u64::from(entry.name);
            if !head(strings.peek(index, peek)?) {
                return None;
            }
            strings.get(index).ok()
        })
    }

    /// The names of the imports that need version `name` (a bad name offset skips that
    /// symbol).
    pub fn needing_version(&self, name: &[u8]) -> impl Iterator<Item = &'data [u8]> + '_ {
        let wanted: Vec<u16> = self
            .versions
            .iter()
            .enumerate()
            .filter(|(_, (_, v, _))| *v == name)
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        self.entries
            .iter()
            .filter(move |e| wanted.contains(&e.version))
            .filter_map(|entry| self.strings.as_ref()?.get(u64::from(entry.name)).ok())
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Decodes DT_VERNEED. `Ok(empty)` without it.
    pub fn version_needs(
        &self,
        info: &DynamicInfo,
        strings: &StringTable<'data, R>,
    ) -> Result<Vec<VersionNeed<'data>>> {
        let Some(addr) = info.verneed else {
            return Ok(Vec::new());
        };
        let (offset, avail) = self
            .map_address(addr)
            .or_malformed("DT_VERNEED is outside every PT_LOAD segment")?;
        let limit = avail.min(self.limits.max_version_bytes as u64);
        // At most three reads (4 KiB, 64 KiB, 1 MiB by default), each parse bounded by its
        // window's size, so the total stays within about 1.07 times one parse of the limit.
        let mut window_len = VERSION_WINDOW.min(limit);
        loop {
            let window = self
                .data
                .read_bytes_at(offset, window_len)
                .or_truncated("version needs", offset)?;
            match parse_verneed(self.endian, window, info.verneednum, strings)? {
                Some(needs) => return Ok(needs),
                None if window_len < limit => window_len = window_len.saturating_mul(16).min(limit),
                None => {
                    return Err(if limit < avail {
                        Error::LimitExceeded {
                            what: "version need bytes",
                            limit: self.limits.max_version_bytes as u64,
                        }
                    } else {
                        Error::Truncated {
                            what: "version needs",
                            offset,
                        }
                    });
                }
            }
        }
    }

    /// The imported dynamic symbols with their needed versions.
    ///
    /// `dynsym_count` is the entry count of a `.dynsym` section whose address matches
    /// DT_SYMTAB, when section headers are present; it is only a hint.
    pub fn imports(
        &self,
        info: &DynamicInfo,
        strings: &StringTable<'data, R>,
        needs: &[VersionNeed<'data>],
        dynsym_count: Option<u64>,
    ) -> Result<Imports<'data, R>> {
        let Some(symtab) = info.symtab else {
            return Ok(Imports::none());
        };
        let entsize = std::mem::size_of::<H::Sym>() as u64;
        // GNU hash is read only when a count needs it, and a bad one counts as none: the
        // other sources may still have the count.
        let gnu_hash = OnceCell::new();
        let gnu = || {
            gnu_hash
                .get_or_init(|| {
                    info.gnu_hash
                        .and_then(|addr| self.gnu_hash(addr).ok().flatten())
                })
                .as_ref()
                .filter(|gnu| gnu.has_hashed)
        };
        // The exact count, from the cheapest source that has it.
        let total = dynsym_count
            .or_else(|| {
                info.hash
                    .and_then(|addr| self.sysv_hash_count(addr).ok().flatten())
            })
            .or_else(|| gnu().and_then(|gnu| self.gnu_hash_count(gnu)));
        // Without one (no sections, no hashed symbols), the table ends where the next
        // table PT_DYNAMIC points to begins.
        let (total, mut complete) = match total {
            Some(total) => (total, true),
            None => match next_table_after(info, symtab) {
                Some(end) => (
                    end.saturating_sub(symtab).checked_div(entsize).unwrap_or(0),
                    true,
                ),
                None => (0, false),
            },
        };
        // Linkers put every undefined symbol before GNU hash's `symoffset`.
        let count = if total > FULL_TABLE_SYMBOLS {
            gnu().map_or(total, |gnu| gnu.symoffset.min(total))
        } else {
            total
        };
        if count > self.limits.max_dynamic_symbols as u64 {
            complete = false;
        }
        let syms = self.dynamic_symbols(symtab, count)?;
        let count = syms.len() as u64;
        let versym: &'data [u8] = match info.versym {
            Some(addr) => self
                .read_at_address(addr, count.saturating_mul(2), "DT_VERSYM")?
                .unwrap_or(&[]),
            None => &[],
        };
        // Sorted by index, sized by the entries read (not by the indexes they claim), and
        // searched by index: cheaper than a map on this hot path.
        let mut versions: Vec<(u16, &'data [u8], &'data [u8])> = needs
            .iter()
            .flat_map(|need| {
                need.versions
                    .iter()
                    .map(move |v| (v.index, v.name, need.file))
            })
            .take(usize::from(NO_VERSION))
            .collect();
        versions.sort_by_key(|(index, _, _)| *index);
        let mut entries = Vec::new();
        for (i, sym) in syms.iter().enumerate().skip(1) {
            let slot = versym_at(self.endian, versym, i)
                .and_then(|ix| {
                    versions
                        .binary_search_by_key(&ix, |(index, _, _)| *index)
                        .ok()
                })
                .and_then(|at| u16::try_from(at).ok());
            let undefined = sym.st_shndx(self.endian) == raw::SHN_UNDEF;
            // Copy-relocated data (`stdout`, `environ`) is defined here but still needed.
            if !undefined && slot.is_none() {
                continue;
            }
            let name = sym.st_name(self.endian);
            if name == 0 {
                continue;
            }
            entries.push(ImportEntry {
                name,
                version: slot.unwrap_or(NO_VERSION),
            });
        }
        Ok(Imports {
            entries,
            versions,
            strings: Some(*strings),
            complete,
        })
    }

    /// The first `count` dynamic symbols at `symtab`, fewer when `max_dynamic_symbols` or
    /// the symbols' segment ends first. `Err` when DT_SYMTAB maps nowhere or the file is
    /// shorter than its segment.
    fn dynamic_symbols(&self, symtab: u64, count: u64) -> Result<&'data [H::Sym]> {
        let (offset, avail) = self
            .map_address(symtab)
            .or_malformed("DT_SYMTAB is outside every PT_LOAD segment")?;
        let entsize = std::mem::size_of::<H::Sym>() as u64;
        let count = count
            .min(self.limits.max_dynamic_symbols as u64)
            .min(avail.checked_div(entsize).unwrap_or(0));
        self.data
            .read_slice_at(offset, usize::try_from(count).unwrap_or(0))
            .or_truncated("dynamic symbol table", offset)
    }

    /// GNU hash's layout: `symoffset` (the index of the first hashed, defined symbol) and
    /// whether any symbol is hashed at all (with none, `symoffset` means nothing).
    fn gnu_hash(&self, addr: u64) -> Result<Option<GnuHash>> {
        let Some(bytes) = self.read_at_address(addr, 16, "DT_GNU_HASH")? else {
            return Ok(None);
        };
        let header: &raw::GnuHashHeader<Endianness> =
            bytes.read_at(0).or_truncated("DT_GNU_HASH header", 0)?;
        let bucket_count = u64::from(header.bucket_count.get(self.endian));
        if bucket_count > self.limits.max_dynamic_symbols as u64 {
            return Err(Error::LimitExceeded {
                what: "GNU hash buckets",
                limit: self.limits.max_dynamic_symbols as u64,
            });
        }
        // The bloom filter is skipped, never read: nothing here uses it, and its size is
        // whatever the file says.
        let word = if self.header.is_class_64() { 8u64 } else { 4 };
        let past_end = || Error::Malformed {
            what: "DT_GNU_HASH tables run past the end of the address space",
        };
        let buckets_len = bucket_count.checked_mul(4).ok_or_else(past_end)?;
        let buckets_at = u64::from(header.bloom_count.get(self.endian))
            .checked_mul(word)
            .and_then(|bloom| bloom.checked_add(16))
            .ok_or_else(past_end)?;
        let chains_at = buckets_at.checked_add(buckets_len).ok_or_else(past_end)?;
        let buckets_addr = addr.checked_add(buckets_at).ok_or_else(past_end)?;
        let Some(buckets) =
            self.read_at_address(buckets_addr, buckets_len, "DT_GNU_HASH buckets")?
        else {
            return Ok(None);
        };
        let max_bucket = buckets
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(|c| match self.endian {
                Endianness::Little => u32::from_le_bytes(c),
                Endianness::Big => u32::from_be_bytes(c),
            })
            .max()
            .unwrap_or(0);
        Ok(Some(GnuHash {
            addr,
            symoffset: u64::from(header.symbol_base.get(self.endian)),
            has_hashed: max_bucket != 0,
            max_bucket: u64::from(max_bucket),
            chains_at,
        }))
    }

    /// The symbol count from GNU hash: the chain of the highest bucket ends at the last
    /// symbol (its low bit marks the end).
    fn gnu_hash_count(&self, gnu: &GnuHash) -> Option<u64> {
        const CHUNK: u64 = 256;
        let max = self.limits.max_dynamic_symbols as u64;
        let mut index = gnu.max_bucket;
        while index < max {
            let rel = index.checked_sub(gnu.symoffset)?;
            let at = gnu
                .addr
                .checked_add(gnu.chains_at)?
                .checked_add(rel.checked_mul(4)?)?;
            let (offset, avail) = self.map_address(at)?;
            let bytes = self
                .data
                .read_bytes_at(offset, avail.min(CHUNK.saturating_mul(4)))
                .ok()?;
            for chunk in bytes.chunks_exact(4) {
                let value = <[u8; 4]>::try_from(chunk).ok()?;
                let value = match self.endian {
                    Endianness::Little => u32::from_le_bytes(value),
                    Endianness::Big => u32::from_be_bytes(value),
                };
                if value & 1 != 0 {
                    return index.checked_add(1);
                }
                index = index.checked_add(1)?;
            }
            if bytes.len() < 4 {
                return None;
            }
        }
        None
    }

    /// The SysV hash table's chain count, which equals the dynamic symbol count.
    fn sysv_hash_count(&self, addr: u64) -> Result<Option<u64>> {
        let Some(bytes) = self.read_at_address(addr, 8, "DT_HASH")? else {
            return Ok(None);
        };
        let header: &raw::HashHeader<Endianness> =
            bytes.read_at(0).or_truncated("DT_HASH header", 0)?;
        Ok(Some(u64::from(header.chain_count.get(self.endian))))
    }
}

/// Where GNU hash puts things, for counting symbols.
struct GnuHash {
    addr: u64,
    symoffset: u64,
    has_hashed: bool,
    max_bucket: u64,
    /// Offset of the chain array from `addr`.
    chains_at: u64,
}

/// The lowest address of another dynamic table above `symtab`: the symbol table cannot run
/// past it.
fn next_table_after(info: &DynamicInfo, symtab: u64) -> Option<u64> {
    [
        info.strtab,
        info.versym,
        info.verneed,
        info.verdef,
        info.gnu_hash,
        info.hash,
        info.rela,
        info.rel,
        info.jmprel,
    ]
    .into_iter()
    .flatten()
    .filter(|addr| *addr > symtab)
    .min()
}

fn versym_at(endian: Endianness, versym: &[u8], index: usize) -> Option<u16> {
    let at = index.checked_mul(2)?;
    let pair = versym.get(at..at.checked_add(2)?)?;
    let raw_value = match endian {
        Endianness::Little => u16::from_le_bytes([*pair.first()?, *pair.get(1)?]),
        Endianness::Big => u16::from_be_bytes([*pair.first()?, *pair.get(1)?]),
    };
    // The top bit marks a hidden version; indexes 0 and 1 mean local and unversioned.
    let index = raw_value & 0x7fff;
    (index >= 2).then_some(index)
}

/// Walks the verneed chain inside `window`. `Ok(None)` means the chain runs past the window.
fn parse_verneed<'data, R: ReadRef<'data>>(
    endian: Endianness,
    window: &'data [u8],
    count: Option<u64>,
    strings: &StringTable<'data, R>,
) -> Result<Option<Vec<VersionNeed<'data>>>> {
    // Each entry, a need or one of its versions, takes 16 bytes of its own, so an honest
    // chain has at most this many. One budget for both kinds: needs that share one array of
    // versions would otherwise cost needs x versions.
    let max_entries = (window.len() / 16) as u64;
    let mut budget = max_entries;
    let mut spend = || -> Result<()> {
        budget = budget.checked_sub(1).ok_or(Error::LimitExceeded {
            what: "version need entries (more than their bytes can hold)",
            limit: max_entries,
        })?;
        Ok(())
    };
    let wanted = count.unwrap_or(max_entries).min(max_entries);
    let mut needs = Vec::new();
    let mut at: u64 = 0;
    for _ in 0..wanted {
        let Ok(need) = window.read_at::<raw::Verneed<Endianness>>(at) else {
            return Ok(None);
        };
        spend()?;
        let file = strings.get(u64::from(need.vn_file.get(endian)))?;
        let mut versions = Vec::new();
        let mut aux_at = at.checked_add(u64::from(need.vn_aux.get(endian)));
        for _ in 0..need.vn_cnt.get(endian) {
            let Some(pos) = aux_at else {
                return Err(bad_chain());
            };
            let Ok(aux) = window.read_at::<raw::Vernaux<Endianness>>(pos) else {
                return Ok(None);
            };
            spend()?;
            versions.push(NeededVersion {
                name: strings.get(u64::from(aux.vna_name.get(endian)))?,
                index: aux.vna_other.get(endian).0 & 0x7fff,
            });
            let next = aux.vna_next.get(endian);
            if next == 0 {
                break;
            }
            aux_at = pos.checked_add(u64::from(next));
        }
        needs.push(VersionNeed { file, versions });
        let next = need.vn_next.get(endian);
        if next == 0 {
            break;
        }
        at = at.checked_add(u64::from(next)).ok_or_else(bad_chain)?;
    }
    Ok(Some(needs))
}

fn bad_chain() -> Error {
    Error::Malformed {
        what: "version need chain points outside its data",
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Whether the file exports (defines) dynamic symbols: a loader or library does, a
    /// static-pie program does not. Reads the GNU hash buckets or, with only a SysV hash
    /// (or a GNU hash that cannot be read), the symbols themselves, as many as the symbols'
    /// segment holds.
    pub fn exports_symbols(&self, info: &DynamicInfo) -> bool {
        if let Some(Ok(Some(gnu))) = info.gnu_hash.map(|addr| self.gnu_hash(addr)) {
            // Only defined symbols are hashed: any non-empty bucket means exports.
            return gnu.has_hashed;
        }
        let (Some(hash), Some(symtab)) = (info.hash, info.symtab) else {
            return false;
        };
        let Ok(Some(count)) = self.sysv_hash_count(hash) else {
            return false;
        };
        let Ok(syms) = self.dynamic_symbols(symtab, count) else {
            return false;
        };
        syms.iter().skip(1).any(|sym| {
            sym.st_shndx(self.endian) != raw::SHN_UNDEF
                && matches!(sym.st_bind(), raw::STB_GLOBAL | raw::STB_WEAK)
                && matches!(sym.st_type(), raw::STT_FUNC | raw::STT_OBJECT)
        })
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// The version names the file defines (DT_VERDEF): what its users may need from it.
    /// `Ok(empty)` without DT_VERDEF.
    pub fn version_definitions(
        &self,
        info: &DynamicInfo,
        strings: &StringTable<'data, R>,
    ) -> Result<Vec<&'data [u8]>> {
        let Some(addr) = info.verdef else {
            return Ok(Vec::new());
        };
        let (offset, avail) = self
            .map_address(addr)
            .or_malformed("DT_VERDEF is outside every PT_LOAD segment")?;
        // Version definitions are small (a few dozen entries for glibc itself).
        let window_len = avail
            .min(self.limits.max_version_bytes as u64)
            .min(VERSION_WINDOW.saturating_mul(16));
        let window = self
            .data
            .read_bytes_at(offset, window_len)
            .or_truncated("version definitions", offset)?;
        let endian = self.endian;
        // Each entry takes at least 20 bytes, which bounds the loop whatever the count says.
        let max_entries = (window.len() / 20) as u64;
        let wanted = info.verdefnum.unwrap_or(max_entries).min(max_entries);
        let mut names = Vec::new();
        let mut at: u64 = 0;
        for _ in 0..wanted {
            let Ok(def) = window.read_at::<raw::Verdef<Endianness>>(at) else {
                break;
            };
            let aux_at = at.checked_add(u64::from(def.vd_aux.get(endian)));
            if let Some(aux) =
                aux_at.and_then(|a| window.read_at::<raw::Verdaux<Endianness>>(a).ok())
            {
                if let Ok(name) = strings.get(u64::from(aux.vda_name.get(endian))) {
                    names.push(name);
                }
            }
            let next = def.vd_next.get(endian);
            if next == 0 {
                break;
            }
            at = at.checked_add(u64::from(next)).ok_or_else(bad_chain)?;
        }
        Ok(names)
    }
}
