//! Gathering the signals that name the C library of a static binary.
//!
//! Cheap, structural signals come first: notes, IRELATIVE relocations (glibc resolves its
//! string functions through ifuncs; musl has no ifuncs), and the startup code at the entry
//! point. Marker strings in read-only data ([`super::CONTENT_MARKERS`]) come last, from a
//! read capped by the scan budget.

use object::elf as raw;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, ReadRef};

use crate::elf::ElfFile;
use crate::elf::dynamic::DynamicInfo;
use crate::elf::notes::Notes;
use crate::elf::sections::Sections;
use crate::report::LibcFamily;

/// The most relocation bytes read when looking for IRELATIVE (glibc puts them last).
const RELOCATION_BYTES: u64 = 64 << 10;

/// The minimum kernel from an `NT_GNU_ABI_TAG` note (`3.2.0`), which glibc's startup code
/// carries and musl's and Go's do not.
pub(crate) fn gnu_abi_tag(notes: &Notes<'_>, endian: Endianness) -> Option<String> {
    let note = notes.find(b"GNU", raw::NT_GNU_ABI_TAG.0)?;
    let words: Vec<u32> = note
        .desc
        .chunks_exact(4)
        .take(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .map(|c| match endian {
            Endianness::Little => u32::from_le_bytes(c),
            Endianness::Big => u32::from_be_bytes(c),
        })
        .collect();
    match words.as_slice() {
        // OS 0 is Linux; others (Hurd, Solaris, FreeBSD) are still glibc.
        [_, major, minor, sub] => Some(format!("{major}.{minor}.{sub}")),
        _ => None,
    }
}

/// The API level in Android's `.note.android.ident` (owner `Android`, type 1).
pub(crate) fn android_api_level(notes: &Notes<'_>, endian: Endianness) -> Option<u32> {
    let note = notes.find(b"Android", 1)?;
    let word = <[u8; 4]>::try_from(note.desc.get(..4)?).ok()?;
    Some(match endian {
        Endianness::Little => u32::from_le_bytes(word),
        Endianness::Big => u32::from_be_bytes(word),
    })
}

/// Counts IRELATIVE relocations: through PT_DYNAMIC for static-pie files, through the
/// `.rela.plt`/`.rela.iplt` sections (which static executables keep) otherwise.
pub(crate) fn count_irelative<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    dynamic: Option<&DynamicInfo>,
    sections: Option<&Sections<'data, H>>,
) -> usize
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let Some(wanted) = crate::abi::irelative_type(elf.e_machine()) else {
        return 0;
    };
    let is_64 = elf.header.is_class_64();
    let mut tables: Vec<(u64, u64, bool)> = Vec::new();
    if let Some(info) = dynamic {
        for (addr, size, rela) in [
            (info.rela, info.relasz, true),
            (info.rel, info.relsz, false),
            // DT_PLTREL says REL (17) or RELA (7) for the PLT relocations.
            (info.jmprel, info.pltrelsz, info.pltrel != Some(17)),
        ] {
            if let (Some(addr), Some(size)) = (addr, size) {
                if let Some((offset, avail)) = elf.map_address(addr) {
                    tables.push((offset, size.min(avail), rela));
                }
            }
        }
    } else if let Some(sections) = sections {
        for (name, sh) in sections.iter() {
            let rela = sh.sh_type(elf.endian) == raw::SHT_RELA;
            let rel = sh.sh_type(elf.endian) == raw::SHT_REL;
            if (rela || rel) && (name.ends_with(b".plt") || name.ends_with(b".iplt")) {
                if let Some((offset, size)) = sections.file_range(sh, elf.len) {
                    tables.push((offset, size, rela));
                }
            }
        }
    }
    let mut count = 0usize;
    for (offset, size, rela) in tables {
        let entry: u64 = match (is_64, rela) {
            (true, true) => 24,
            (true, false) => 16,
            (false, true) => 12,
            (false, false) => 8,
        };
        // Read the tail: linkers sort IRELATIVE after the other dynamic relocations.
        let whole = size.min(RELOCATION_BYTES).checked_div(entry).unwrap_or(0);
        let len = whole.saturating_mul(entry);
        let start = offset.saturating_add(size.saturating_sub(len));
        let Ok(bytes) = elf.data.read_bytes_at(start, len) else {
            continue;
        };
        for chunk in bytes.chunks_exact(usize::try_from(entry).unwrap_or(24)) {
            if relocation_type(chunk, is_64, elf.endian) == Some(wanted) {
                count = count.saturating_add(1);
            }
        }
    }
    count
}

/// The type field of one REL/RELA entry (`r_info` follows `r_offset`).
fn relocation_type(entry: &[u8], is_64: bool, endian: Endianness) -> Option<u32> {
    if is_64 {
        let info = <[u8; 8]>::try_from(entry.get(8..16)?).ok()?;
        let info = match endian {
            Endianness::Little => u64::from_le_bytes(info),
            Endianness::Big => u64::from_be_bytes(info),
        };
        u32::try_from(info & 0xffff_ffff).ok()
    } else {
        let info = <[u8; 4]>::try_from(entry.get(4..8)?).ok()?;
        let info = match endian {
            Endianness::Little => u32::from_le_bytes(info),
            Endianness::Big => u32::from_be_bytes(info),
        };
        Some(info & 0xff)
    }
}

/// A byte pattern; `None` matches any byte.
type Pattern = &'static [Option<u8>];

macro_rules! pat {
    (@ _) => { None };
    (@ $b:literal) => { Some($b) };
    ($($b:tt)*) => { &[$(pat!(@ $b)),*] };
}

/// Startup code (`_start` of crt1.o) of the C libraries, per machine, each checked on real
/// binaries: glibc's x86_64/i386/aarch64 `_start` (PIE and not), musl's and klibc's x86_64
/// `_start`.
const ENTRY_SIGNATURES: &[(raw::Machine, LibcFamily, &[Pattern], Pattern, &str)] = &[
    (
        raw::EM_X86_64,
        LibcFamily::Glibc,
        &[pat!(0xf3 0x0f 0x1e 0xfa)],
        pat!(0x31 0xed 0x49 0x89 0xd1 0x5e 0x48 0x89 0xe2 0x48 0x83 0xe4 0xf0 0x50 0x54),
        "entry point is glibc's x86_64 _start",
    ),
    (
        raw::EM_X86_64,
        LibcFamily::Musl,
        &[],
        pat!(0x48 0x31 0xed 0x48 0x89 0xe7 0x48 0x8d 0x35 _ _ _ _ 0x48 0x83 0xe4 0xf0 0xe8),
        "entry point is musl's x86_64 _start",
    ),
    (
        raw::EM_X86_64,
        LibcFamily::Klibc,
        &[],
        pat!(0x48 0x89 0xe7 0x48 0x89 0xd6 0xe8 _ _ _ _ 0xf4),
        "entry point is klibc's x86_64 _start",
    ),
    (
        raw::EM_386,
        LibcFamily::Glibc,
        &[pat!(0xf3 0x0f 0x1e 0xfb)],
        pat!(0x31 0xed 0x5e 0x89 0xe1 0x83 0xe4 0xf0 0x50 0x54 0x52),
        "entry point is glibc's i386 _start",
    ),
    (
        raw::EM_AARCH64,
        LibcFamily::Glibc,
        &[pat!(0x1f 0x20 0x03 0xd5), pat!(0x5f 0x24 0x03 0xd5)],
        pat!(0x1d 0x00 0x80 0xd2 0x1e 0x00 0x80 0xd2 0xe5 0x03 0x00 0xaa),
        "entry point is glibc's aarch64 _start",
    ),
];

fn matches_at(code: &[u8], pattern: Pattern) -> bool {
    code.len() >= pattern.len()
        && pattern
            .iter()
            .zip(code)
            .all(|(want, have)| want.is_none_or(|w| w == *have))
}

/// The C library whose `_start` sits at the entry point, for little-endian machines with a
/// known signature.
pub(crate) fn entry_code<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
) -> Option<(LibcFamily, &'static str)>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let machine = raw::Machine(elf.e_machine());
    if elf.endian != Endianness::Little || !ENTRY_SIGNATURES.iter().any(|s| s.0 == machine) {
        return None;
    }
    let (offset, avail) = elf.map_address(elf.entry())?;
    let code = elf.data.read_bytes_at(offset, avail.min(48)).ok()?;
    ENTRY_SIGNATURES.iter().filter(|s| s.0 == machine).find_map(
        |(_, family, prefixes, body, why)| {
            let start = prefixes
                .iter()
                .find(|p| matches_at(code, p))
                .map_or(0, |p| p.len());
            matches_at(code.get(start..)?, body).then_some((*family, *why))
        },
    )
}

/// The marker strings of [`super::CONTENT_MARKERS`] found in `data`.
pub(crate) fn content_markers(data: &[u8]) -> Vec<(LibcFamily, &'static str)> {
    super::CONTENT_MARKERS
        .iter()
        .filter(|(_, needle, _)| memchr::memmem::find(data, needle).is_some())
        .map(|(family, _, why)| (*family, *why))
        .collect()
}
