//! Which toolchain built the file: Go (build info and markers) and Rust (rustc version,
//! cargo-auditable crate list).

pub(crate) mod go;
pub(crate) mod rust;

use object::elf as raw;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, ReadRef};

use crate::elf::ElfFile;
use crate::elf::notes::Notes;
use crate::elf::sections::Sections;

/// What Go detection found in the file's structure (no content scan).
#[derive(Debug, Default)]
pub(crate) struct GoFindings {
    pub version: Option<String>,
    pub modinfo: Option<go::ModInfo>,
    pub evidence: Vec<String>,
    pub problems: Vec<String>,
}

impl GoFindings {
    /// Whether anything says the file is Go.
    pub fn is_go(&self) -> bool {
        !self.evidence.is_empty()
    }
}

/// Looks for the Go build-ID note and Go sections and, when they say Go, the build info.
pub(crate) fn find_go<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&Sections<'data, H>>,
    notes: &Notes<'data>,
) -> GoFindings
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let mut found = GoFindings::default();
    if notes.find(b"Go", 4).is_some() {
        found.evidence.push("Go build ID note".into());
    }
    if let Some(sections) = sections {
        for name in [&b".gopclntab"[..], b".go.buildinfo", b".gosymtab"] {
            if sections.by_name(name).is_some() {
                found
                    .evidence
                    .push(format!("section {}", String::from_utf8_lossy(name)));
            }
        }
    }
    // Only Go programs are searched for build info: the search reads 64 KiB.
    if found.is_go() {
        read_build_info(elf, sections, &mut found);
    }
    found
}

/// Reads the build-info blob into `found`.
pub(crate) fn read_build_info<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&Sections<'data, H>>,
    found: &mut GoFindings,
) where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let Some((blob_offset, blob)) = locate_blob(elf, sections) else {
        return;
    };
    found
        .evidence
        .push(format!("Go build info at file offset {blob_offset:#x}"));
    match go::parse_blob(blob) {
        Ok(go::BlobStrings::Inline { version, modinfo }) => {
            found.version = Some(String::from_utf8_lossy(version).into_owned());
            let text = String::from_utf8_lossy(go::strip_sentinels(modinfo));
            found.modinfo = Some(go::parse_modinfo(&text));
        }
        Ok(go::BlobStrings::Pointers {
            ptr_size,
            big_endian,
            version_ptr,
            modinfo_ptr,
        }) => {
            let read = |ptr| read_go_string(elf, ptr, ptr_size, big_endian);
            found.version = read(version_ptr).map(|v| String::from_utf8_lossy(v).into_owned());
            found.modinfo = read(modinfo_ptr)
                .map(|m| go::parse_modinfo(&String::from_utf8_lossy(go::strip_sentinels(m))));
            if found.version.is_none() {
                found
                    .problems
                    .push("Go build info (pre-1.18 format) points outside the file".into());
            }
        }
        Err(why) => found.problems.push(why.to_string()),
    }
}

/// Finds the build-info blob: in `.go.buildinfo`, else in the first 64 KiB of the first
/// writable PT_LOAD segment. Returns its file offset and the bytes from there on (as many as
/// the inline strings can need, capped by the limit).
fn locate_blob<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&Sections<'data, H>>,
) -> Option<(u64, &'data [u8])>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let max = (elf.limits.max_go_modinfo_bytes as u64).saturating_add(64);
    let section = sections.and_then(|s| {
        s.by_name(b".go.buildinfo")
            .and_then(|sh| s.file_range(sh, elf.len))
    });
    let (start, size) = match section {
        Some(range) => range,
        None => {
            let endian = elf.endian;
            let ph = elf.segments_of(raw::PT_LOAD).find(|ph| {
                ph.p_flags(endian).0 & (raw::PF_R.0 | raw::PF_W.0 | raw::PF_X.0)
                    == (raw::PF_R.0 | raw::PF_W.0)
            })?;
            ph.file_range(endian)
        }
    };
    let window = elf.read_up_to(start, size.min(go::BUILDINFO_SEARCH))?;
    let blob = go::find_blob(window)?;
    let at = (window.len().checked_sub(blob.len())?) as u64;
    let offset = start.checked_add(at)?;
    let rest = size.checked_sub(at)?;
    let whole = elf.read_up_to(offset, rest.min(max))?;
    Some((offset, whole))
}

/// Reads a Go string header `{data, len}` at `ptr` and then its bytes.
fn read_go_string<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    ptr: u64,
    ptr_size: u8,
    big_endian: bool,
) -> Option<&'data [u8]>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let size = usize::from(ptr_size);
    let header = elf
        .read_at_address(
            ptr,
            u64::from(ptr_size).saturating_mul(2),
            "Go string header",
        )
        .ok()??;
    let data = go::read_ptr(Some(header), size, big_endian)?;
    let len = go::read_ptr(header.get(size..), size, big_endian)?;
    if len > go::MAX_OLD_STRING {
        return None;
    }
    elf.read_at_address(data, len, "Go string").ok()?
}
