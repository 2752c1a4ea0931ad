//! Hostile files: small inputs shaped to make a parser do work or allocate memory out of
//! proportion to their size (tables that share entries, headers that repeat one area,
//! counts and sizes that claim most of a sparse file). Each is written here byte by byte;
//! the expected answers follow from how it was written, and the cost is measured.

use std::path::Path;

use runbase::report::{Linkage, Need};
use runbase::{Limits, Options, Report};

use crate::support::{Readelf, largest_allocation, readelf, total_allocation};

// ---------------------------------------------------------------------------------------
// A little-endian x86-64 ELF64 file laid out by hand.

const EHDR: usize = 64;
const PHDR: usize = 56;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_NOTE: u32 = 4;

const DT_NEEDED: u64 = 1;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_DEBUG: u64 = 21;
const DT_GNU_HASH: u64 = 0x6fff_fef5;
const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;

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

    /// Writes the file at `path` without the zeros between its parts, which the file
    /// system keeps as holes: a file of hundreds of megabytes costs a few pages.
    fn write_sparse(&self, path: &Path) {
        use std::os::unix::fs::FileExt;
        let headers = Raw {
            e_type: self.e_type,
            entry: self.entry,
            phdrs: self.phdrs.clone(),
            parts: Vec::new(),
            len: 0,
        };
        let file = std::fs::File::create(path).unwrap();
        file.write_all_at(&headers.build(), 0).unwrap();
        for (offset, bytes) in &self.parts {
            file.write_all_at(bytes, *offset as u64).unwrap();
        }
        file.set_len(self.len as u64).unwrap();
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

/// Where [`dynamic_file`] puts its parts; tables go from `TABLES` on.
const DYNAMIC_AT: usize = 0x1000;
const STRINGS_AT: usize = 0x2000;
const TABLES: usize = 0x3000;

/// A shared object (no interpreter) whose PT_LOAD covers the whole file: PT_DYNAMIC at
/// `DYNAMIC_AT` with `entries` after DT_STRTAB and DT_STRSZ, the strings at `STRINGS_AT`,
/// and `tables` at their offsets (which are their addresses).
fn dynamic_file(strings: &Strings, entries: &[(u64, u64)], tables: Vec<(usize, Vec<u8>)>) -> Raw {
    let mut raw = Raw::new(3);
    let mut all = vec![
        (DT_STRTAB, STRINGS_AT as u64),
        (DT_STRSZ, strings.bytes.len() as u64),
    ];
    all.extend_from_slice(entries);
    all.push((0, 0));
    let table = dynamic(&all);
    raw.phdrs.push(Phdr {
        p_type: PT_LOAD,
        offset: 0,
        filesz: 0,
    });
    raw.phdrs.push(Phdr {
        p_type: PT_DYNAMIC,
        offset: DYNAMIC_AT as u64,
        filesz: table.len() as u64,
    });
    raw.put(DYNAMIC_AT, table);
    raw.put(STRINGS_AT, strings.bytes.clone());
    for (offset, bytes) in tables {
        raw.put(offset, bytes);
    }
    raw.phdrs[0].filesz = raw.len as u64;
    raw
}

/// A dynamic string table being built.
struct Strings {
    bytes: Vec<u8>,
}

impl Strings {
    fn new() -> Self {
        Strings { bytes: vec![0] }
    }

    /// Adds `name` and returns its offset.
    fn add(&mut self, name: &str) -> u64 {
        let at = self.bytes.len() as u64;
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        at
    }
}

/// A dynamic table of (tag, value) pairs.
fn dynamic(entries: &[(u64, u64)]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|(tag, value)| [tag.to_le_bytes(), value.to_le_bytes()])
        .flatten()
        .collect()
}

/// An `Elf64_Verneed`: version, count, file name, offset of the first vernaux, next.
fn verneed(cnt: u16, file: u64, aux: u32, next: u32) -> Vec<u8> {
    let mut out = 1u16.to_le_bytes().to_vec();
    out.extend_from_slice(&cnt.to_le_bytes());
    out.extend(u32s(&[file as u32, aux, next]));
    out
}

/// An `Elf64_Vernaux`: hash, flags, version index (`vna_other`), name, next.
fn vernaux(index: u16, name: u64, next: u32) -> Vec<u8> {
    let mut out = 0u32.to_le_bytes().to_vec();
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend(u32s(&[name as u32, next]));
    out
}

/// An `Elf64_Sym`: name, info (binding and type), section index; value and size zero.
fn sym(name: u64, info: u8, shndx: u16) -> Vec<u8> {
    let mut out = (name as u32).to_le_bytes().to_vec();
    out.push(info);
    out.push(0);
    out.extend_from_slice(&shndx.to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out
}

/// `st_info` of a global function.
const GLOBAL_FUNC: u8 = 0x12;

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
        .filter(|n: &&Need| n.kind.as_str() == "dlopen")
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

/// readelf's reading of `bytes` (headers, program headers, dynamic table), which must
/// come without a warning or error.
fn readelf_of(bytes: &[u8]) -> Readelf {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("readelf")
        .args(["-hldW"])
        .arg(&path)
        .env("LC_ALL", "C")
        .output()
        .expect("run readelf (binutils)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    readelf(&path)
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

// ---------------------------------------------------------------------------------------
// Version needs.

/// Two needs, libc.so.6 (GLIBC_2.2.5, GLIBC_2.14) and libm.so.6 (GLIBC_2.29), written the
/// way linkers do (each need followed by its own versions) at the very end of the segment,
/// so the entries fill the bytes the parser may read exactly.
#[test]
fn honest_version_needs_that_fill_their_bytes_are_read() {
    let mut strings = Strings::new();
    let libc = strings.add("libc.so.6");
    let libm = strings.add("libm.so.6");
    let v225 = strings.add("GLIBC_2.2.5");
    let v214 = strings.add("GLIBC_2.14");
    let v229 = strings.add("GLIBC_2.29");
    let mut needs = verneed(2, libc, 16, 48);
    needs.extend(vernaux(2, v225, 16));
    needs.extend(vernaux(3, v214, 0));
    needs.extend(verneed(1, libm, 16, 0));
    needs.extend(vernaux(4, v229, 0));
    assert_eq!(needs.len(), 80);
    let raw = dynamic_file(
        &strings,
        &[
            (DT_NEEDED, libc),
            (DT_NEEDED, libm),
            (DT_VERNEED, TABLES as u64),
            (DT_VERNEEDNUM, 2),
        ],
        vec![(TABLES, needs)],
    );
    assert_eq!(raw.len, TABLES + 80);
    let bytes = raw.build();
    // The writer, checked by readelf: the headers and dynamic table say what was meant.
    let theirs = readelf_of(&bytes);
    assert_eq!((theirs.class, theirs.file_type.as_str()), (64, "DYN"));
    assert!(theirs.machine.contains("X86-64"), "{}", theirs.machine);
    assert_eq!(theirs.needed, ["libc.so.6", "libm.so.6"]);
    let (report, _) = inspect_with("honest-needs", &bytes, Limits::default());
    assert_eq!(report.needed, ["libc.so.6", "libm.so.6"]);
    assert_eq!(
        report.libc.glibc_required.map(|v| v.to_string()).as_deref(),
        Some("2.29")
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// 1024 needs whose `vn_aux` all lead to one array of 1024 versions: 32 KiB of entries
/// that, walked naively, are a million versions. Each entry has 16 bytes of its own in an
/// honest chain, so the walk stops when it has visited more entries than that: the needs
/// are unreadable (a warning), the rest of the report stands, and the work is small.
#[test]
fn needs_sharing_one_version_array_stop_at_the_entry_budget() {
    let (n, m) = (1024u32, 1024u32);
    let mut strings = Strings::new();
    let libc = strings.add("libc.so.6");
    let version = strings.add("GLIBC_2.2.5");
    let mut table = Vec::new();
    for k in 0..n {
        let next = if k + 1 < n { 16 } else { 0 };
        table.extend(verneed(m as u16, libc, 16 * (n - k), next));
    }
    for j in 0..m {
        let next = if j + 1 < m { 16 } else { 0 };
        table.extend(vernaux(2 + (j % 1000) as u16, version, next));
    }
    let raw = dynamic_file(
        &strings,
        &[
            (DT_NEEDED, libc),
            (DT_VERNEED, TABLES as u64),
            (DT_VERNEEDNUM, u64::from(n)),
        ],
        vec![(TABLES, table)],
    );
    let bytes = raw.build();
    let (report, total) = total_allocation(|| {
        runbase::inspect_bytes("shared-versions", &bytes, &Options::default()).unwrap()
    });
    crate::support::check_schema(&report);
    assert_eq!(report.needed, ["libc.so.6"]);
    assert_eq!(report.libc.glibc_required, None);
    assert!(
        has_warning(
            &report,
            "version needs unreadable: limit exceeded: version need entries"
        ),
        "{:?}",
        report.warnings
    );
    // A million 24-byte version records would be 24 MB and more.
    assert!(
        total <= 4 * bytes.len(),
        "{total} bytes allocated in total for a {} byte file",
        bytes.len()
    );
}

// ---------------------------------------------------------------------------------------
// GNU hash.

/// A 256 MiB sparse file whose GNU hash declares a bloom filter of 2^25 words (256 MiB)
/// before its one bucket. Symbols: 0 null, 1 `puts` (undefined), 2 `foo` (defined, the
/// first hashed: `symoffset` 2); bucket 0 holds 2, and chain entry 0 ends the chain. The
/// bucket, read where the header puts it, says the file exports a symbol (an ET_DYN
/// without interpreter or needs that exports is a library, not a static-pie), and the
/// chain gives the symbol count (no "incomplete" warning). The bloom filter is not read.
#[test]
fn the_gnu_hash_bloom_filter_is_not_read() {
    let bloom_words: u32 = 1 << 25;
    let mut strings = Strings::new();
    let puts = strings.add("puts");
    let foo = strings.add("foo");
    let symtab = TABLES;
    let hash = TABLES + 0x1000;
    let buckets = hash + 16 + 8 * bloom_words as usize;
    let mut symbols = sym(0, 0, 0);
    symbols.extend(sym(puts, GLOBAL_FUNC, 0));
    symbols.extend(sym(foo, GLOBAL_FUNC, 7));
    let mut raw = dynamic_file(
        &strings,
        &[
            (DT_SYMTAB, symtab as u64),
            (DT_SYMENT, 24),
            (DT_GNU_HASH, hash as u64),
        ],
        vec![
            (symtab, symbols),
            (hash, u32s(&[1, 2, bloom_words, 6])),
            (buckets, u32s(&[2, 1])),
        ],
    );
    raw.entry = symtab as u64;
    assert!(raw.len > 256 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bloom");
    raw.write_sparse(&path);
    let (report, largest) = largest_allocation(|| crate::support::inspect(&path));
    assert_eq!(report.linkage, Linkage::SharedLibrary);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The content scan of read-only data reads up to its own limit (4 MiB); without it,
    // what is left is the 8 KiB first read. The bloom filter alone would be 256 MiB.
    let scan = Limits::default().scan_budget_bytes as usize;
    assert!(largest <= scan, "largest allocation {largest}");
    let mut limits = Limits::default();
    limits.scan_budget_bytes = 0;
    let (report, largest) =
        largest_allocation(|| runbase::inspect_path(&path, &Options::with_limits(limits)).unwrap());
    assert_eq!(report.linkage, Linkage::SharedLibrary);
    assert!(largest <= 64 << 10, "largest allocation {largest}");
}

// ---------------------------------------------------------------------------------------
// The dynamic table.

/// A program with its strings at 0x1000 (PT_LOAD over them) and PT_DYNAMIC at 0x2000:
/// DT_NEEDED libc.so.6, DT_STRTAB, DT_STRSZ, then `entries`. The segment is `segment`
/// bytes long, whatever the table's length.
fn program_with_dynamic(entries: &[(u64, u64)], segment: u64) -> Raw {
    let mut strings = Strings::new();
    let libc = strings.add("libc.so.6");
    let mut table = vec![
        (DT_NEEDED, libc),
        (DT_STRTAB, 0x1000),
        (DT_STRSZ, strings.bytes.len() as u64),
    ];
    table.extend_from_slice(entries);
    let mut raw = Raw::new(2);
    raw.phdrs.push(Phdr {
        p_type: PT_LOAD,
        offset: 0,
        filesz: 0x1000 + strings.bytes.len() as u64,
    });
    raw.phdrs.push(Phdr {
        p_type: PT_DYNAMIC,
        offset: 0x2000,
        filesz: segment,
    });
    raw.put(0x1000, strings.bytes);
    raw.put(0x2000, dynamic(&table));
    raw.len = raw.len.max(0x2000 + segment as usize);
    raw
}

/// A 512 MiB sparse PT_DYNAMIC: a four-entry table, then zeros. Reading it whole took as
/// much memory as it claims; now at most `max_needed` + 1024 entries are read (80 KiB),
/// and the table ends at its DT_NULL as before.
#[test]
fn a_huge_dynamic_segment_is_read_only_up_to_the_entry_cap() {
    let raw = program_with_dynamic(&[(0, 0)], 512 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bigdyn");
    raw.write_sparse(&path);
    let mut limits = Limits::default();
    limits.scan_budget_bytes = 0;
    let (report, largest) =
        largest_allocation(|| runbase::inspect_path(&path, &Options::with_limits(limits)).unwrap());
    crate::support::check_schema(&report);
    assert_eq!(report.needed, ["libc.so.6"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(largest <= 128 << 10, "largest allocation {largest}");
}

/// With `max_needed = 2` the cap is 1026 entries: a DT_NULL at index 1025 of a longer
/// segment ends the table; a segment of 2000 entries without DT_NULL is refused.
#[test]
fn a_dynamic_table_without_dt_null_within_the_cap_is_refused() {
    let mut limits = Limits::default();
    limits.max_needed = 2;
    let inspect = |raw: &Raw| {
        runbase::inspect_bytes("dyn", &raw.build(), &Options::with_limits(limits.clone()))
    };

    // Indexes 0-2 are NEEDED, STRTAB, STRSZ; 3-1024 DT_DEBUG; 1025 DT_NULL; then more.
    let mut entries = vec![(DT_DEBUG, 0); 1022];
    entries.push((0, 0));
    entries.extend(vec![(DT_DEBUG, 0); 1000]);
    let raw = program_with_dynamic(&entries, 16 * (3 + entries.len() as u64));
    let report = inspect(&raw).unwrap();
    assert_eq!(report.needed, ["libc.so.6"]);

    // One DT_DEBUG more pushes DT_NULL to index 1026, past the cap.
    let mut entries = vec![(DT_DEBUG, 0); 1023];
    entries.push((0, 0));
    let raw = program_with_dynamic(&entries, 16 * (3 + entries.len() as u64));
    let err = inspect(&raw).unwrap_err();
    assert!(
        matches!(
            err,
            runbase::Error::LimitExceeded {
                what: "dynamic entries before DT_NULL",
                limit: 1026
            }
        ),
        "{err}"
    );
    // Without DT_NULL in a segment no longer than the cap, the table ends with the segment,
    // as before.
    let raw = program_with_dynamic(&entries, 16 * 1026);
    let report = inspect(&raw).unwrap();
    assert_eq!(report.needed, ["libc.so.6"]);
}

// ---------------------------------------------------------------------------------------
// Symbol counts.

/// A library needing libc.so.6 with symbols 0 null, 1 `memcpy` (undefined, version index 2
/// = GLIBC_2.14 by DT_VERNEED and DT_VERSYM), 2 `greet` (defined); DT_HASH says 3 symbols.
/// `gnu_hash` is the GNU hash header, or none.
fn library_with_hashes(gnu_hash: Option<[u32; 4]>) -> Raw {
    let mut strings = Strings::new();
    let libc = strings.add("libc.so.6");
    let memcpy = strings.add("memcpy");
    let greet = strings.add("greet");
    let v214 = strings.add("GLIBC_2.14");
    let (symtab, versym, verneed_at, hash, gnu) = (
        TABLES,
        TABLES + 0x100,
        TABLES + 0x200,
        TABLES + 0x300,
        TABLES + 0x400,
    );
    let mut symbols = sym(0, 0, 0);
    symbols.extend(sym(memcpy, GLOBAL_FUNC, 0));
    symbols.extend(sym(greet, GLOBAL_FUNC, 7));
    let mut needs = verneed(1, libc, 16, 0);
    needs.extend(vernaux(2, v214, 0));
    let versyms: Vec<u8> = [0u16, 2, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut entries = vec![
        (DT_NEEDED, libc),
        (DT_SYMTAB, symtab as u64),
        (DT_SYMENT, 24),
        (DT_VERSYM, versym as u64),
        (DT_VERNEED, verneed_at as u64),
        (DT_VERNEEDNUM, 1),
        (DT_HASH, hash as u64),
    ];
    let mut tables = vec![
        (symtab, symbols),
        (versym, versyms),
        (verneed_at, needs),
        // nbucket 1, nchain 3, bucket 0 -> symbol 2, chains.
        (hash, u32s(&[1, 3, 2, 0, 0, 0])),
    ];
    if let Some(header) = gnu_hash {
        entries.push((DT_GNU_HASH, gnu as u64));
        tables.push((gnu, u32s(&header)));
    }
    dynamic_file(&strings, &entries, tables)
}

/// DT_HASH gives the symbol count, so a GNU hash that cannot be read (more buckets than
/// `max_dynamic_symbols`, or a bloom filter that runs past the file) costs nothing: the
/// import of memcpy@GLIBC_2.14 is still found.
#[test]
fn an_unreadable_gnu_hash_does_not_lose_the_imports() {
    for gnu in [None, Some([u32::MAX, 1, 1, 6]), Some([1, 1, 1 << 28, 6])] {
        let bytes = library_with_hashes(gnu).build();
        let (report, _) = inspect_with("hashes", &bytes, Limits::default());
        assert_eq!(report.needed, ["libc.so.6"], "{gnu:?}");
        assert_eq!(
            report.libc.glibc_required.map(|v| v.to_string()).as_deref(),
            Some("2.14"),
            "{gnu:?}"
        );
        assert_eq!(
            report.libc.glibc_floor_symbols,
            ["memcpy@GLIBC_2.14"],
            "{gnu:?}"
        );
        assert!(report.warnings.is_empty(), "{gnu:?}: {:?}", report.warnings);
    }
}

/// An ET_DYN with an entry point and no interpreter, needs or soname is a library only if
/// it exports: here symbol 1 `greet` is a defined global function, the last bytes of the
/// file. DT_HASH claims 2^20 symbols (24 MiB of them); the symbols the segment holds are
/// read, as for imports, and a GNU hash that cannot be read (2^32-1 buckets) gives way to
/// DT_HASH. With `greet` undefined instead, nothing is exported: a static-pie.
#[test]
fn exports_are_read_from_the_symbols_the_segment_holds() {
    let cases = [
        (None, 7, Linkage::SharedLibrary),
        (Some([u32::MAX, 1, 1, 6]), 7, Linkage::SharedLibrary),
        (None, 0, Linkage::StaticPie),
        (Some([u32::MAX, 1, 1, 6]), 0, Linkage::StaticPie),
    ];
    for (gnu, shndx, linkage) in cases {
        let mut strings = Strings::new();
        let greet = strings.add("greet");
        let (hash, gnu_at, symtab) = (TABLES, TABLES + 0x100, TABLES + 0x200);
        let mut symbols = sym(0, 0, 0);
        symbols.extend(sym(greet, GLOBAL_FUNC, shndx));
        let mut entries = vec![
            (DT_SYMTAB, symtab as u64),
            (DT_SYMENT, 24),
            (DT_HASH, hash as u64),
        ];
        let mut tables = vec![(hash, u32s(&[1, 1 << 20, 1])), (symtab, symbols)];
        if let Some(header) = gnu {
            entries.push((DT_GNU_HASH, gnu_at as u64));
            tables.push((gnu_at, u32s(&header)));
        }
        let mut raw = dynamic_file(&strings, &entries, tables);
        raw.entry = symtab as u64;
        assert_eq!(raw.len, symtab + 48);
        let (report, _) = inspect_with("exports", &raw.build(), Limits::default());
        assert_eq!(report.linkage, linkage, "{gnu:?} {shndx}");
    }
}
