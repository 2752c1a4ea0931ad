//! Hostile files: small inputs shaped to make a parser do work or allocate memory out of
//! proportion to their size (tables that share entries, headers that repeat one area,
//! counts and sizes that claim most of a sparse file). Each is written here byte by byte;
//! the expected answers follow from how it was written, and the cost is measured.

use runbase::report::Need;
use runbase::{Limits, Options, Report};

use crate::support::largest_allocation;

// ---------------------------------------------------------------------------------------
// A little-endian x86-64 ELF64 file laid out by hand.

const EHDR: usize = 64;
const PHDR: usize = 56;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;

/// One program header; the segment's address is its file offset.
#[derive(Clone, Copy)]
struct Phdr {
    p_type: u32,
    offset: u64,
    filesz: u64,
}

/// The file: its header, the program headers right after it, and byte strings at chosen
/// offsets. `len` (at least the end of the last part) is the file's length.
struct Raw {
    e_type: u16,
    entry: u64,
    phdrs: Vec<Phdr>,
    parts: Vec<(usize, Vec<u8>)>,
    len: usize,
}

impl Raw {
    fn new(e_type: u16) -> Self {
        Raw {
            e_type,
            entry: 0,
            phdrs: Vec::new(),
            parts: Vec::new(),
            len: 0,
        }
    }

    /// The first file offset after the program headers.
    fn after_headers(&self) -> usize {
        (EHDR + PHDR * self.phdrs.len()).next_multiple_of(16)
    }

    fn put(&mut self, offset: usize, bytes: Vec<u8>) {
        self.len = self.len.max(offset + bytes.len());
        self.parts.push((offset, bytes));
    }

    fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        out.extend_from_slice(b"\x7fELF\x02\x01\x01");
        out.resize(16, 0);
        out.extend_from_slice(&self.e_type.to_le_bytes());
        out.extend_from_slice(&62u16.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&self.entry.to_le_bytes());
        out.extend_from_slice(&(EHDR as u64).to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for half in [EHDR, PHDR, self.phdrs.len(), 64, 0, 0] {
            out.extend_from_slice(&(half as u16).to_le_bytes());
        }
        for ph in &self.phdrs {
            let flags: u32 = if ph.p_type == PT_LOAD { 5 } else { 4 };
            let align: u64 = if ph.p_type == PT_LOAD { 0x1000 } else { 8 };
            out.extend_from_slice(&ph.p_type.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            for word in [ph.offset, ph.offset, ph.offset, ph.filesz, ph.filesz, align] {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        out.resize(self.len.max(out.len()), 0);
        for (offset, bytes) in &self.parts {
            out[*offset..*offset + bytes.len()].copy_from_slice(bytes);
        }
        out
    }
}

fn u32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A systemd `.note.dlopen` note (owner `FDO`) for one feature loading `lib<feature>.so.1`.
fn dlopen_note(feature: &str) -> Vec<u8> {
    let mut desc =
        format!(r#"[{{"feature":"{feature}","soname":["lib{feature}.so.1"]}}]"#).into_bytes();
    desc.resize(desc.len().next_multiple_of(4), 0);
    let mut note = u32s(&[4, desc.len() as u32, 0x407c_0c0a]);
    note.extend_from_slice(b"FDO\0");
    note.extend_from_slice(&desc);
    note
}

/// The features of the report's `.note.dlopen` needs, sorted.
fn dlopen_features(report: &Report) -> Vec<String> {
    let mut features: Vec<String> = report
        .needs
        .iter()
        .filter(|n: &&Need| n.kind == "dlopen")
        .filter_map(|n| n.name.as_deref().map(str::to_string))
        .collect();
    features.sort();
    features
}

fn inspect_with(label: &str, bytes: &[u8], limits: Limits) -> (Report, usize) {
    let (report, largest) = largest_allocation(|| {
        runbase::inspect_bytes(label, bytes, &Options::with_limits(limits)).unwrap()
    });
    crate::support::check_schema(&report);
    (report, largest)
}

fn has_warning(report: &Report, text: &str) -> bool {
    report.warnings.iter().any(|w| w.contains(text))
}

// ---------------------------------------------------------------------------------------
// Notes.

/// 4096 PT_NOTE headers naming one area: a dlopen note, then 8 KiB of zeros, which read as
/// 682 empty 12-byte notes. Read once per header that is 2.8 million notes (112 MB of note
/// records) and 4096 copies of the need; read once, one need and 683 notes, under the
/// note count limit.
#[test]
fn a_note_area_named_by_many_headers_is_read_once() {
    let headers = 4096;
    let mut raw = Raw::new(2);
    raw.phdrs = vec![
        Phdr {
            p_type: PT_NOTE,
            offset: 0,
            filesz: 0,
        };
        headers
    ];
    let area = raw.after_headers();
    let mut notes = dlopen_note("zstd");
    notes.resize(notes.len() + (8 << 10), 0);
    for ph in &mut raw.phdrs {
        ph.offset = area as u64;
        ph.filesz = notes.len() as u64;
    }
    raw.put(area, notes);
    let bytes = raw.build();
    let (report, largest) = inspect_with("dup-notes", &bytes, Limits::default());
    assert!(
        largest <= bytes.len(),
        "largest allocation {largest} for a {} byte file",
        bytes.len()
    );
    let features = dlopen_features(&report);
    assert_eq!(features.len(), 1, "{} dlopen needs", features.len());
    assert_eq!(features, ["zstd"]);
    assert!(!has_warning(&report, "note"), "{:?}", report.warnings);
}

/// One area of a dlopen note and 64 KiB of zeros: 5462 notes, over the default limit of
/// 1024, so the list stops there and says so; the note before the limit still counts.
#[test]
fn the_note_count_is_capped() {
    let mut raw = Raw::new(2);
    raw.phdrs.push(Phdr {
        p_type: PT_NOTE,
        offset: 0,
        filesz: 0,
    });
    let area = raw.after_headers();
    let mut notes = dlopen_note("zstd");
    notes.resize(notes.len() + (64 << 10), 0);
    raw.phdrs[0].offset = area as u64;
    raw.phdrs[0].filesz = notes.len() as u64;
    raw.put(area, notes);
    let bytes = raw.build();
    let (report, largest) = inspect_with("many-notes", &bytes, Limits::default());
    assert_eq!(dlopen_features(&report), ["zstd"]);
    assert!(
        has_warning(&report, "limit exceeded: notes (limit 1024)"),
        "{:?}",
        report.warnings
    );
    // 1024 note records (40 bytes each on 64-bit hosts), under the file's 65 KiB; all 5462
    // would take a 320 KiB vector.
    assert!(
        largest <= bytes.len(),
        "largest allocation {largest} for a {} byte file",
        bytes.len()
    );

    // Two dlopen notes: a limit of two reads both and says nothing, a limit of one the first.
    let mut raw = Raw::new(2);
    raw.phdrs.push(Phdr {
        p_type: PT_NOTE,
        offset: 0,
        filesz: 0,
    });
    let area = raw.after_headers();
    let mut notes = dlopen_note("zstd");
    notes.extend(dlopen_note("idn"));
    raw.phdrs[0].offset = area as u64;
    raw.phdrs[0].filesz = notes.len() as u64;
    raw.put(area, notes);
    let bytes = raw.build();
    let (report, _) = inspect_with("two-notes", &bytes, Limits::default());
    assert_eq!(dlopen_features(&report), ["idn", "zstd"]);
    assert!(!has_warning(&report, "note"), "{:?}", report.warnings);
    let mut limits = Limits::default();
    limits.max_notes = 2;
    let (report, _) = inspect_with("two-notes", &bytes, limits.clone());
    assert_eq!(dlopen_features(&report), ["idn", "zstd"]);
    assert!(!has_warning(&report, "note"), "{:?}", report.warnings);
    limits.max_notes = 1;
    let (report, _) = inspect_with("two-notes", &bytes, limits);
    assert_eq!(dlopen_features(&report), ["zstd"]);
    assert!(has_warning(&report, "limit exceeded: notes (limit 1)"));
}

/// `max_note_bytes` bounds all note areas together: three areas of one dlopen note each
/// (the first named twice) and a limit of two areas' bytes read the first two areas.
#[test]
fn note_bytes_are_capped_over_all_areas() {
    let features = ["aaaa", "bbbb", "cccc"];
    let size = dlopen_note("aaaa").len();
    let mut raw = Raw::new(2);
    raw.phdrs = vec![
        Phdr {
            p_type: PT_NOTE,
            offset: 0,
            filesz: size as u64,
        };
        4
    ];
    let first = raw.after_headers();
    for (i, feature) in features.iter().enumerate() {
        let note = dlopen_note(feature);
        assert_eq!(note.len(), size);
        raw.put(first + i * size, note);
    }
    for (ph, area) in raw.phdrs.iter_mut().zip([0, 0, 1, 2]) {
        ph.offset = (first + area * size) as u64;
    }
    let bytes = raw.build();
    let (report, _) = inspect_with("areas", &bytes, Limits::default());
    assert_eq!(dlopen_features(&report), features);
    assert!(!has_warning(&report, "note"), "{:?}", report.warnings);

    let mut limits = Limits::default();
    limits.max_note_bytes = 2 * size;
    let (report, _) = inspect_with("areas", &bytes, limits);
    assert_eq!(dlopen_features(&report), ["aaaa", "bbbb"]);
    assert!(
        has_warning(&report, "1 note area(s) could not be read"),
        "{:?}",
        report.warnings
    );
}
