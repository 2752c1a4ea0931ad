//! Gathering the evidence the rules read, from the file: imported symbols (dynamic files),
//! the symbol table of unstripped static files, marker strings in read-only data or Go's
//! function-name table (one Aho-Corasick pass, capped by the scan budget), charset and
//! library names near `iconv_open`/`dlopen` users, and `.note.dlopen` metadata.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use object::elf as raw;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{Endianness, ReadRef};
use serde::Deserialize;

use super::tables::{self, markers};
use crate::elf::ElfFile;
use crate::elf::notes::Notes;
use crate::elf::sections::Sections;
use crate::elf::symbols::Imports;
use crate::report::LibcFamily;

/// The systemd ELF dlopen-metadata note: owner `FDO`, this type, a JSON array payload.
const NT_FDO_DLOPEN_METADATA: u32 = 0x407c_0c0a;

/// Most library names the `dlopen` heuristic reports.
const MAX_DLOPEN_CANDIDATES: usize = 32;

/// One `.note.dlopen` entry: a feature, how much it matters, and the sonames that provide it
/// (any one of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DlopenNote {
    pub feature: Option<String>,
    pub description: Option<String>,
    pub priority: String,
    pub sonames: Vec<String>,
}

/// What the file says about its run-time needs.
#[derive(Debug, Default)]
pub(crate) struct Evidence {
    /// Watched function names, imported (dynamic files) or defined in `.symtab` (static
    /// files), each with its categories (`tables::category`).
    pub symbols: Vec<(&'static str, u32)>,
    /// The symbols come from a static file's own symbol table.
    pub symbols_linked: bool,
    /// Marker strings found (see `tables::markers`).
    pub markers: BTreeSet<&'static str>,
    /// Whether read-only data was scanned for markers at all.
    pub scanned: bool,
    pub dlopen_notes: Vec<DlopenNote>,
    /// Library names in read-only data of a file that calls `dlopen` (heuristic).
    pub dlopen_candidates: Vec<String>,
    /// Module charsets named in read-only data of a file that calls `iconv_open`.
    pub charsets: Vec<&'static str>,
    /// The gconv directory compiled into a static glibc binary.
    pub gconv_dir: Option<String>,
    /// What could not be read.
    pub problems: Vec<String>,
}

impl Evidence {
    /// Whether a function is imported or linked.
    pub fn has(&self, name: &str) -> bool {
        self.symbols.iter().any(|(s, _)| *s == name)
    }

    /// The imported or linked functions of a category.
    pub fn found(&self, category: u32) -> Vec<&'static str> {
        self.symbols
            .iter()
            .filter(|(_, bits)| bits & category != 0)
            .map(|(name, _)| *name)
            .collect()
    }

    /// Evidence strings for found symbols: `getaddrinfo imported`.
    pub fn describe(&self, names: &[&str]) -> Vec<String> {
        let how = if self.symbols_linked {
            "linked"
        } else {
            "imported"
        };
        names.iter().map(|n| format!("{n} {how}")).collect()
    }

    pub fn marker(&self, marker: &str) -> bool {
        self.markers.contains(marker)
    }
}

/// A marker scan: an automaton over anchors, each anchor standing for the markers that
/// hold it (and where), checked where the anchor is found. A marker is its own anchor
/// unless it holds the shared one: glibc's fifteen NSS markers all hold `nss_`, which
/// one SIMD substring search finds at memory speed, where an automaton over all eighteen
/// markers falls back to a slow start-byte prefilter (`/`, `_` and `l` are everywhere).
/// A DFA: scans cover up to the whole scan budget, where its speed pays for its build.
/// No anchor occurs inside or overlapping another, so leftmost-first (non-overlapping)
/// matching hides none.
struct Markers {
    ac: AhoCorasick,
    /// Per anchor: (marker, offset of the anchor in it).
    anchors: Vec<Vec<(&'static str, usize)>>,
}

fn build_markers(markers: Vec<&'static str>, shared: Option<&'static str>) -> Option<Markers> {
    let mut patterns: Vec<&'static str> = Vec::new();
    let mut anchors: Vec<Vec<(&'static str, usize)>> = Vec::new();
    for marker in markers {
        match shared.and_then(|a| marker.find(a).map(|at| (a, at))) {
            Some((anchor, at)) => match patterns.iter().position(|p| *p == anchor) {
                Some(i) => anchors.get_mut(i)?.push((marker, at)),
                None => {
                    patterns.push(anchor);
                    anchors.push(vec![(marker, at)]);
                }
            },
            None => {
                patterns.push(marker);
                anchors.push(vec![(marker, 0)]);
            }
        }
    }
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .ok()?;
    Some(Markers { ac, anchors })
}

fn glibc_markers() -> Option<&'static Markers> {
    static AC: OnceLock<Option<Markers>> = OnceLock::new();
    AC.get_or_init(|| build_markers(markers::glibc(), Some(markers::NSS_ANCHOR)))
        .as_ref()
}

fn musl_markers() -> Option<&'static Markers> {
    static AC: OnceLock<Option<Markers>> = OnceLock::new();
    AC.get_or_init(|| build_markers(markers::musl(), None))
        .as_ref()
}

fn rust_markers() -> Option<&'static Markers> {
    static AC: OnceLock<Option<Markers>> = OnceLock::new();
    AC.get_or_init(|| build_markers(markers::RUST_SYSTEM_ROOTS.to_vec(), None))
        .as_ref()
}

fn go_markers() -> Option<&'static Markers> {
    static AC: OnceLock<Option<Markers>> = OnceLock::new();
    AC.get_or_init(|| build_markers(markers::go(), None))
        .as_ref()
}

/// Adds every marker of `automaton` found in `data`.
fn scan(data: &[u8], automaton: Option<&Markers>, found: &mut BTreeSet<&'static str>) {
    let Some(markers) = automaton else { return };
    for m in markers.ac.find_iter(data) {
        for (marker, at) in markers
            .anchors
            .get(m.pattern().as_usize())
            .into_iter()
            .flatten()
        {
            let holds = m
                .start()
                .checked_sub(*at)
                .and_then(|start| data.get(start..))
                .is_some_and(|rest| rest.starts_with(marker.as_bytes()));
            if holds {
                found.insert(marker);
            }
        }
    }
}

/// FNV-1a: symbol names are short and not attacker-chosen keys into a long-lived table, so
/// a simple hash beats the default SipHash on this hot path.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

type WatchedMap = HashMap<&'static [u8], (&'static str, u32), BuildHasherDefault<Fnv>>;

/// The first four bytes of every watched name, hashed into a 64 Ki-bit set: about 150 names
/// set 0.2% of the bits, so nearly every other import is rejected on a four-byte look.
struct PrefixSet(Vec<u64>);

/// How many leading bytes the prefix set looks at (every watched name is at least this long).
const PREFIX_BYTES: u64 = 4;

impl PrefixSet {
    /// The four bytes as one word, spread by a multiplicative hash over 16 bits.
    fn key(head: &[u8]) -> usize {
        let word = match <[u8; 4]>::try_from(head) {
            Ok(bytes) => u32::from_le_bytes(bytes),
            Err(_) => head.iter().fold(0u32, |w, b| w << 8 | u32::from(*b)),
        };
        usize::try_from(word.wrapping_mul(0x9e37_79b1) >> 16).unwrap_or(0)
    }

    fn contains(&self, head: &[u8]) -> bool {
        let k = Self::key(head);
        self.0
            .get(k / 64)
            .is_some_and(|word| word & (1u64 << (k % 64)) != 0)
    }
}

/// The function names the rules look at with their categories (for tagging symbols in one
/// hash lookup each), and their first bytes (to reject most imports before that), made
/// once per process from one list.
fn watched() -> &'static (WatchedMap, PrefixSet) {
    static WATCHED: OnceLock<(WatchedMap, PrefixSet)> = OnceLock::new();
    WATCHED.get_or_init(|| {
        let names = tables::watched_functions();
        let mut bits = vec![0u64; 1024];
        for (name, _) in &names {
            let head = name.as_bytes().get(..4).unwrap_or(name.as_bytes());
            let k = PrefixSet::key(head);
            if let Some(word) = bits.get_mut(k / 64) {
                *word |= 1u64 << (k % 64);
            }
        }
        let map = names
            .into_iter()
            .map(|(name, bits)| (name.as_bytes(), (name, bits)))
            .collect();
        (map, PrefixSet(bits))
    })
}

/// What `gather` needs besides the file.
pub(crate) struct GatherInput<'a, 'data, R: ReadRef<'data>> {
    pub family: LibcFamily,
    pub is_static: bool,
    pub is_go: bool,
    /// A Rust program without cargo-auditable's crate list: its crates are looked for in
    /// its read-only data instead.
    pub rust_without_crates: bool,
    pub imports: &'a Imports<'data, R>,
    pub notes: &'a Notes<'data>,
    pub needed: &'a [&'data [u8]],
}

/// Collects the evidence. `readonly` gives the file's read-only data (read once, capped by
/// the scan budget) and is called only when a rule needs it; `readonly_head` gives at most
/// its first 32 KiB, for the heuristics of dynamic files (charset and library names).
pub(crate) fn gather<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&Sections<'data, H>>,
    input: &GatherInput<'_, 'data, R>,
    readonly: &dyn Fn() -> Option<&'data [u8]>,
    readonly_head: &dyn Fn() -> Option<&'data [u8]>,
) -> Evidence
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let mut ev = Evidence::default();
    let c_library = matches!(input.family, LibcFamily::Glibc | LibcFamily::Musl);

    let (watched, prefixes) = watched();
    if !input.is_static {
        // Most imports are rejected on their first bytes, before their name is measured.
        ev.symbols = input
            .imports
            .names_where(PREFIX_BYTES, |head| prefixes.contains(head))
            .filter_map(|n| watched.get(n).copied())
            .collect();
    } else if c_library && !input.is_go {
        if let Some(sections) = sections {
            match static_symbols(elf, sections) {
                Ok(symbols) => {
                    ev.symbols = symbols
                        .into_iter()
                        .filter_map(|n| watched.get(n).copied())
                        .collect();
                    ev.symbols_linked = true;
                }
                Err(why) => ev.problems.push(why.to_string()),
            }
        }
    }
    if ev.symbols_linked && input.family == LibcFamily::Glibc {
        ev.symbols
            .retain(|(_, bits)| bits & tables::category::STATIC_GLIBC_ALWAYS == 0);
    }
    ev.symbols.sort_unstable();
    ev.symbols.dedup();

    // Markers: Go programs in their function names (`.gopclntab`, else read-only data),
    // static C programs (Go with cgo linked statically too) in their read-only data.
    if input.is_go {
        let pclntab = sections
            .and_then(|s| {
                s.by_name(b".gopclntab")
                    .and_then(|sh| s.file_range(sh, elf.len))
            })
            .and_then(|(offset, size)| {
                elf.read_up_to(offset, size.min(elf.limits.scan_budget_bytes))
            });
        if let Some(data) = pclntab.or_else(readonly) {
            ev.scanned = true;
            scan(data, go_markers(), &mut ev.markers);
        }
    }
    // A Rust program keeps its crates' registry paths (`rustls-native-certs-0.8.1/src/...`,
    // in panic locations) and, unstripped, their names in symbols.
    if input.rust_without_crates {
        if let Some(data) = readonly() {
            ev.scanned = true;
            scan(data, rust_markers(), &mut ev.markers);
        }
    }
    if input.is_static && c_library {
        if let Some(data) = readonly() {
            ev.scanned = true;
            let automaton = match input.family {
                LibcFamily::Musl => musl_markers(),
                _ => glibc_markers(),
            };
            scan(data, automaton, &mut ev.markers);
        }
    }

    // Charsets and library names, only for files that convert charsets or load code.
    let converts = !ev.found(tables::category::ICONV).is_empty();
    let loads = !ev.found(tables::category::DLOPEN).is_empty();
    // The gconv directory matters only to the iconv rule.
    let static_glibc = input.is_static && input.family == LibcFamily::Glibc && converts;
    if converts || loads {
        let data = if input.is_static {
            readonly()
        } else {
            readonly_head()
        };
        if let Some(data) = data {
            if converts {
                ev.charsets = charsets_in(data);
            }
            if loads {
                ev.dlopen_candidates = library_names_in(data, input.needed);
            }
            if static_glibc {
                ev.gconv_dir = gconv_dir_in(data);
            }
        }
    }

    for note in &input.notes.notes {
        if note.owner == b"FDO" && note.n_type == NT_FDO_DLOPEN_METADATA {
            match parse_dlopen_note(note.desc) {
                Some(entries) => ev.dlopen_notes.extend(entries),
                None => ev.problems.push("unreadable .note.dlopen metadata".into()),
            }
        }
    }
    ev
}

/// Defined function and object names from `.symtab` (unstripped static binaries), within
/// the scan budget.
fn static_symbols<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: &Sections<'data, H>,
) -> Result<Vec<&'data [u8]>, &'static str>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let endian = elf.endian;
    let Some((_, symtab)) = sections
        .iter()
        .find(|(_, sh)| sh.sh_type(endian) == raw::SHT_SYMTAB)
    else {
        return Ok(Vec::new());
    };
    let (offset, size) = sections
        .file_range(symtab, elf.len)
        .ok_or("symbol table outside the file")?;
    let link = usize::try_from(symtab.sh_link(endian)).map_err(|_| "bad symbol table link")?;
    let strtab = sections
        .iter()
        .nth(link)
        .map(|(_, sh)| sh)
        .ok_or("symbol table without strings")?;
    let (str_offset, str_size) = sections
        .file_range(strtab, elf.len)
        .ok_or("symbol strings outside the file")?;
    if size.saturating_add(str_size) > elf.limits.scan_budget_bytes {
        return Err("symbol table larger than the scan budget; not read");
    }
    let entsize = std::mem::size_of::<H::Sym>() as u64;
    let count = usize::try_from(size.checked_div(entsize).unwrap_or(0)).unwrap_or(0);
    let syms: &'data [H::Sym] = elf
        .data
        .read_slice_at(offset, count)
        .map_err(|()| "symbol table unreadable")?;
    let strings = elf
        .data
        .read_bytes_at(str_offset, str_size)
        .map_err(|()| "symbol strings unreadable")?;
    let mut names = Vec::new();
    for sym in syms {
        let defined = sym.st_shndx(endian) != raw::SHN_UNDEF;
        let global = matches!(sym.st_bind(), raw::STB_GLOBAL | raw::STB_WEAK);
        let kind = matches!(
            sym.st_type(),
            raw::STT_FUNC | raw::STT_OBJECT | raw::STT_GNU_IFUNC
        );
        if !(defined && global && kind) {
            continue;
        }
        let start = usize::try_from(sym.st_name(endian)).unwrap_or(usize::MAX);
        let Some(rest) = strings.get(start..) else {
            continue;
        };
        let end = memchr::memchr(0, rest).unwrap_or(rest.len());
        if let Some(name) = rest.get(..end) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A NUL-delimited string containing `at`, bounded to 256 bytes either way.
fn string_around(data: &[u8], at: usize) -> Option<&[u8]> {
    let before = data.get(at.saturating_sub(256)..at)?;
    let start = memchr::memrchr(0, before).map_or(at.saturating_sub(before.len()), |i| {
        at.saturating_sub(before.len())
            .saturating_add(i)
            .saturating_add(1)
    });
    let after = data.get(at..at.saturating_add(256).min(data.len()))?;
    let end = at.saturating_add(memchr::memchr(0, after)?);
    data.get(start..end)
}

/// Charset names, longest first (`UTF-16LE` is not `UTF-16`), behind the automaton's
/// vectorised prefilter: their first bytes are rare in read-only data.
fn charset_automaton() -> Option<&'static AhoCorasick> {
    static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(tables::MODULE_CHARSETS.iter().map(|(name, _)| name))
            .ok()
    })
    .as_ref()
}

/// Charsets from `MODULE_CHARSETS` named as whole NUL-delimited strings in `data`.
fn charsets_in(data: &[u8]) -> Vec<&'static str> {
    let Some(ac) = charset_automaton() else {
        return Vec::new();
    };
    let mut found = BTreeSet::new();
    for m in ac.find_iter(data) {
        let starts =
            m.start() == 0 || m.start().checked_sub(1).and_then(|i| data.get(i)) == Some(&0);
        let ends = data.get(m.end()) == Some(&0);
        if let (true, true, Some((name, _))) = (
            starts,
            ends,
            tables::MODULE_CHARSETS.get(m.pattern().as_usize()),
        ) {
            found.insert(*name);
        }
    }
    found.into_iter().collect()
}

/// Library names (`libfoo.so.1`, `/usr/lib/foo/libbar.so`) stored as whole strings in
/// `data`, other than the file's own DT_NEEDED.
fn library_names_in(data: &[u8], needed: &[&[u8]]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for at in memchr::memmem::find_iter(data, b".so") {
        if found.len() >= MAX_DLOPEN_CANDIDATES {
            break;
        }
        let Some(text) = string_around(data, at) else {
            continue;
        };
        if looks_like_library(text) && !needed.contains(&text) && !is_c_library(text) {
            found.insert(String::from_utf8_lossy(text).into_owned());
        }
    }
    found.into_iter().collect()
}

/// The C library and its loader, which every dynamic program has already.
fn is_c_library(name: &[u8]) -> bool {
    name.starts_with(b"libc.so") || name.starts_with(b"ld-linux") || name.starts_with(b"libc.musl-")
}

/// `lib<name>.so` or `lib<name>.so.<digits>[.<digits>...]`, optionally with a directory.
fn looks_like_library(text: &[u8]) -> bool {
    let base = match memchr::memrchr(b'/', text) {
        Some(i) => text.get(i.saturating_add(1)..).unwrap_or(&[]),
        None => text,
    };
    let Some(rest) = base.strip_prefix(b"lib") else {
        return false;
    };
    let Some(at) = memchr::memmem::find(rest, b".so") else {
        return false;
    };
    let (stem, suffix) = rest.split_at(at);
    let version = suffix.get(3..).unwrap_or(&[]);
    !stem.is_empty()
        && stem
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.'))
        && (version.is_empty()
            || (version.first() == Some(&b'.')
                && version.get(1..).is_some_and(|v| {
                    !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.')
                })))
        && text.iter().all(|b| b.is_ascii_graphic())
}

/// The gconv directory baked into a static glibc binary (`/usr/lib/x86_64-linux-gnu/gconv`).
fn gconv_dir_in(data: &[u8]) -> Option<String> {
    for at in memchr::memmem::find_iter(data, b"/gconv") {
        let Some(text) = string_around(data, at) else {
            continue;
        };
        if text.starts_with(b"/")
            && text.ends_with(b"/gconv")
            && text.iter().all(u8::is_ascii_graphic)
        {
            return Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    None
}

#[derive(Deserialize)]
struct DlopenEntry {
    feature: Option<String>,
    description: Option<String>,
    priority: Option<String>,
    #[serde(default)]
    soname: Vec<String>,
}

/// Parses the systemd `.note.dlopen` payload (a NUL-padded JSON array).
fn parse_dlopen_note(desc: &[u8]) -> Option<Vec<DlopenNote>> {
    let end = memchr::memchr(0, desc).unwrap_or(desc.len());
    let entries: Vec<DlopenEntry> = serde_json::from_slice(desc.get(..end)?).ok()?;
    Some(
        entries
            .into_iter()
            .map(|e| DlopenNote {
                feature: e.feature,
                description: e.description,
                priority: e.priority.unwrap_or_else(|| "recommended".into()),
                sonames: e.soname,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_anchor_hides_another() {
        // Leftmost-first scanning would miss an anchor inside another, or one that starts
        // within another's match (a suffix of one that is a prefix of the other). Go's
        // function names lie NUL-separated in their table, so only containment matters there.
        for (markers, overlaps_matter) in [
            (glibc_markers(), true),
            (musl_markers(), true),
            (go_markers(), false),
        ] {
            let markers = markers.expect("built");
            let anchors: Vec<&str> = markers
                .anchors
                .iter()
                .map(|group| {
                    let (marker, at) = group[0];
                    let len = if group.len() > 1 {
                        markers::NSS_ANCHOR.len()
                    } else {
                        marker.len()
                    };
                    &marker[at..at + len]
                })
                .collect();
            for a in &anchors {
                for b in &anchors {
                    if a == b {
                        continue;
                    }
                    assert!(!a.contains(b), "{b:?} is inside {a:?}");
                    for cut in (1..a.len()).filter(|_| overlaps_matter) {
                        assert!(!b.starts_with(&a[cut..]), "{b:?} can start within {a:?}");
                    }
                }
            }
        }
        // Every glibc NSS marker goes through the shared anchor, once.
        let glibc = glibc_markers().expect("built");
        let shared = glibc
            .anchors
            .iter()
            .find(|g| g.len() > 1)
            .expect("a shared anchor");
        assert_eq!(shared.len(), 15);
        assert!(
            shared
                .iter()
                .all(|(m, at)| m.matches(markers::NSS_ANCHOR).count() == 1
                    && m[*at..].starts_with(markers::NSS_ANCHOR))
        );
    }

    #[test]
    fn markers_found_side_by_side() {
        let mut found = BTreeSet::new();
        scan(
            b"x/etc/passwd/etc/hosts\0_nss_files_\0/bin/sh",
            musl_markers(),
            &mut found,
        );
        assert_eq!(
            found.iter().copied().collect::<Vec<_>>(),
            ["/bin/sh", "/etc/hosts", "/etc/passwd"]
        );
        found.clear();
        scan(
            b"x/etc/gai.conf__nss_hosts_lookup2\0_nss_files_\0/bin/sh",
            glibc_markers(),
            &mut found,
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["/etc/gai.conf", "__nss_hosts_lookup2", "_nss_files_"]
        );
    }

    #[test]
    fn library_names() {
        for good in [
            &b"libfoo.so"[..],
            b"libfoo.so.1",
            b"libidn2.so.0",
            b"/usr/lib/x/libssl.so.3",
            b"libstdc++.so.6",
        ] {
            assert!(
                looks_like_library(good),
                "{}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b"foo.so"[..],
            b"libfoo.sox",
            b"lib.so",
            b"libfoo.so.",
            b"libfoo.so.1a",
            b"lib foo.so",
        ] {
            assert!(!looks_like_library(bad), "{}", String::from_utf8_lossy(bad));
        }
        let data = b"\0libcrypt.so.1\0hello\0libc.so.6\0%s.so\0";
        assert_eq!(library_names_in(data, &[b"libc.so.6"]), ["libcrypt.so.1"]);
    }

    #[test]
    fn charsets_are_whole_strings() {
        let data = b"\0UTF-16\0XUTF-32\0LATIN1\0";
        assert_eq!(charsets_in(data), ["LATIN1", "UTF-16"]);
    }

    #[test]
    fn dlopen_note_payload() {
        let desc = br#"[{"feature":"idn","description":"IDN support","priority":"suggested","soname":["libidn2.so.0"]},{"soname":["libz.so.1"]}]"#;
        let mut padded = desc.to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        let notes = parse_dlopen_note(&padded).expect("parses");
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].priority, "suggested");
        assert_eq!(notes[1].priority, "recommended");
        assert_eq!(notes[1].sonames, ["libz.so.1"]);
        assert!(parse_dlopen_note(b"not json").is_none());
    }

    #[test]
    fn gconv_dir() {
        let data = b"\0gconv-modules\0/usr/lib/x86_64-linux-gnu/gconv\0GCONV_PATH\0";
        assert_eq!(
            gconv_dir_in(data).as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/gconv")
        );
    }
}
