//! The pipeline for one file, as named stages, each a function of what the stages before it
//! found:
//!
//! 1. `read_structure`: section headers, the dynamic facts, notes (a `Structure`);
//! 2. `classify_file`: file type, linkage, whether it starts (`Classified`);
//! 3. `libc_signals`: what a static program's content says of its C library
//!    (`StaticSignals`);
//! 4. `toolchains_of`: Go and Rust (`Toolchains`);
//! 5. `libc_of`: the C library and the glibc floor (`Libc`);
//! 6. `needs_of`: hidden run-time needs (`Need`s);
//! 7. `size::size_facts` and the GNU build id;
//! 8. `assemble`: the [`Report`].
//!
//! A closure, when wanted, starts from the loader's view of the same read
//! ([`LoadInfo::from_facts`]).

use std::path::Path;

use object::elf::{FileHeader32, FileHeader64, NT_GNU_BUILD_ID};
use object::read::elf::FileHeader;
use object::{Endianness, ReadRef};

use crate::abi::{self, Abi};
use crate::classify::{LinkageInput, classify};
use crate::elf::facts::DynamicFacts;
use crate::elf::notes::Notes;
use crate::elf::readonly::ReadOnlyData;
use crate::elf::sections::Sections;
use crate::elf::{ElfFile, Ident};
use crate::error::{Error, Limits, Result};
use crate::libc::signals;
use crate::libc::{LibcInput, StaticSignals};
use crate::needs;
use crate::report::{
    ElfHeader, Endian, FileType, Go, Libc, LibcFamily, Linkage, Need, Report, Rust, SCHEMA_VERSION,
    Size,
};
use crate::resolve::object::LoadInfo;
use crate::rootfs::Content;
use crate::source::FileSource;
use crate::toolchain::{self, GoFindings, go, rust};

/// How an analysis runs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Bounds on the work done per file.
    pub limits: Limits,
}

impl Options {
    /// Options with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        Options { limits }
    }
}

/// Analyses the file at `path`, reading only the byte ranges needed (with `pread`).
///
/// The report's `path` is `path` as given.
pub fn inspect_path(path: &Path, options: &Options) -> Result<Report> {
    let source = FileSource::open(path)?;
    inspect_data(&crate::path_text(path), &source, options)
}

/// Analyses the file at `path` and fills the report's `closure` from `resolver`'s root
/// (reuse one resolver for many files: each library is read once per run).
///
/// `path` is placed as [`crate::Resolver::closure`] says: in an image root, a path inside
/// the image; in a directory root, a path under the root's directory is resolved inside
/// the root (links included), and any other file of this machine is analysed as if
/// copied into the root at the same path. The report's `path` is `path` as given.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be found or opened (or leaves the root through a
/// link), and the errors of [`inspect_path`].
pub fn inspect_in_root(
    path: &Path,
    options: &Options,
    resolver: &mut crate::resolve::Resolver,
) -> Result<Report> {
    let (content, in_root) = resolver.open_named(path)?;
    let label = crate::path_text(path);
    let (mut report, load) = inspect_opened(&label, content, options, true)?;
    // The file was just read: the closure starts from what was found, without reading it
    // again.
    report.closure = load.map(|load| resolver.closure_of(in_root, load));
    if let Some(closure) = &report.closure {
        // The program's needs are its own and those of the libraries it loads.
        let own = std::mem::take(&mut report.needs);
        report.needs = needs::with_closure(own, closure, |lib| resolver.library_needs(lib));
        report.needs_not_read = closure.missing.iter().map(|m| m.soname.clone()).collect();
        needs::runtime_exact(&mut report.needs, closure, |lib, runtime, find| {
            resolver.compiled_path(lib, runtime, find)
        });
    }
    Ok(report)
}

/// Analyses a file opened in a root (no closure).
pub(crate) fn inspect_content(label: &str, content: Content, options: &Options) -> Result<Report> {
    let (mut report, _) = inspect_opened(label, content, options, false)?;
    report.needs_not_read = needs::libraries_not_read(&report.needed);
    Ok(report)
}

fn inspect_opened(
    label: &str,
    content: Content,
    options: &Options,
    want_load: bool,
) -> Result<(Report, Option<LoadInfo>)> {
    match content {
        Content::File(file, len) => {
            let source = FileSource::with_length(file, len).map_err(|source| Error::Io {
                path: label.into(),
                source,
            })?;
            inspect_source(label, &source, options, want_load)
        }
        Content::Bytes(bytes) => inspect_source(label, &*bytes, options, want_load),
    }
}

/// Analyses an ELF file held in memory; `label` becomes the report's `path`.
pub fn inspect_bytes(label: &str, bytes: &[u8], options: &Options) -> Result<Report> {
    inspect_data(label, bytes, options)
}

/// Analyses an ELF file from any byte source: a slice, a memory map, a [`FileSource`], or
/// another implementation of object's [`ReadRef`].
pub fn inspect_data<'data, R: ReadRef<'data>>(
    label: &str,
    data: R,
    options: &Options,
) -> Result<Report> {
    let (mut report, _) = inspect_source(label, data, options, false)?;
    report.needs_not_read = needs::libraries_not_read(&report.needed);
    Ok(report)
}

/// The analysis; with `want_load`, also what the loader reads of the file (for its closure).
fn inspect_source<'data, R: ReadRef<'data>>(
    label: &str,
    data: R,
    options: &Options,
    want_load: bool,
) -> Result<(Report, Option<LoadInfo>)> {
    let ident = Ident::parse(data)?;
    if ident.is_64 {
        let elf = ElfFile::<FileHeader64<Endianness>, R>::parse(data, &options.limits)?;
        analyze(label, &elf, ident, want_load)
    } else {
        let elf = ElfFile::<FileHeader32<Endianness>, R>::parse(data, &options.limits)?;
        analyze(label, &elf, ident, want_load)
    }
}

/// The stages, in order (see the module docs).
fn analyze<'data, H, R>(
    label: &str,
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    want_load: bool,
) -> Result<(Report, Option<LoadInfo>)>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let mut warnings = Vec::new();
    let file = read_structure(elf, &mut warnings)?;
    let load = want_load.then(|| LoadInfo::from_facts(elf, ident, &file.dynamic));
    let class = classify_file(elf, &file.dynamic);
    let readonly = ReadOnlyData::new(elf, file.sections.as_ref());
    // Toolchains and static-binary signals, cheapest first.
    let mut go_found = toolchain::find_go(elf, file.sections.as_ref(), &file.notes);
    let mut signals = libc_signals(elf, ident, &file, &class, &readonly, &mut go_found);
    let toolchains = toolchains_of(elf, &file, go_found, &mut signals, &readonly, &mut warnings);
    let libc = libc_of(&file.dynamic, &signals);
    let needs = needs_of(
        elf,
        ident,
        &file,
        &libc,
        &toolchains,
        &readonly,
        &mut warnings,
    );
    let found = Findings {
        class,
        libc,
        toolchains,
        needs,
        size: crate::size::size_facts(elf, file.sections.as_ref()),
        build_id: file
            .notes
            .find(b"GNU", NT_GNU_BUILD_ID.0)
            .map(|note| hex(note.desc)),
        warnings,
    };
    Ok((assemble(label, elf, ident, &file.dynamic, found), load))
}

/// What the file's structure says (stage 1).
struct Structure<'data, H: FileHeader, R: ReadRef<'data>> {
    sections: Option<Sections<'data, H>>,
    dynamic: DynamicFacts<'data, R>,
    notes: Notes<'data>,
}

/// Stage 1: section headers, the dynamic facts and the notes. Sections, notes, version
/// needs and symbols are optional: damaged, they become warnings.
fn read_structure<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    warnings: &mut Vec<String>,
) -> Result<Structure<'data, H, R>>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let sections = elf.sections().unwrap_or_else(|e| {
        warnings.push(format!("section headers ignored: {e}"));
        None
    });
    let mut dynamic = elf.dynamic_facts(sections.as_ref())?;
    warnings.append(&mut dynamic.problems);
    let notes = elf.notes(sections.as_ref());
    if notes.unreadable_areas > 0 {
        warnings.push(format!(
            "{} note area(s) could not be read",
            notes.unreadable_areas
        ));
    }
    if notes.count_limited {
        let limit = Error::LimitExceeded {
            what: "notes",
            limit: elf.limits.max_notes as u64,
        };
        warnings.push(format!("later notes not read: {limit}"));
    }
    Ok(Structure {
        sections,
        dynamic,
        notes,
    })
}

/// What kind of file it is (stage 2).
struct Classified {
    file_type: FileType,
    linkage: Linkage,
    executable: bool,
}

/// Stage 2: the file type, the linkage, and whether the file can be started.
fn classify_file<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    dynamic: &DynamicFacts<'data, R>,
) -> Classified
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let file_type = match elf.e_type() {
        1 => FileType::Rel,
        2 => FileType::Exec,
        3 => FileType::Dyn,
        4 => FileType::Core,
        _ => FileType::Other,
    };
    let mut input = LinkageInput {
        file_type,
        has_interpreter: dynamic.interpreter.is_some(),
        has_dynamic: dynamic.dynamic.is_some(),
        has_soname: dynamic.soname.is_some(),
        has_needed: !dynamic.needed.is_empty(),
        df_1_pie: dynamic.is_pie(),
        entry: elf.entry(),
        exports_symbols: None,
    };
    if input.needs_export_check() {
        input.exports_symbols = dynamic.dynamic.as_ref().map(|d| elf.exports_symbols(d));
    }
    let (linkage, executable) = classify(&input);
    Classified {
        file_type,
        linkage,
        executable,
    }
}

/// Stage 3: what a static program's own content says of its C library, cheapest signal
/// first. A static program with no such signal may be Go without its sections: Go's
/// pclntab header in read-only data says so, and its build info is then read into
/// `go_found`.
fn libc_signals<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    file: &Structure<'data, H, R>,
    class: &Classified,
    readonly: &ReadOnlyData<'_, 'data, H, R>,
    go_found: &mut GoFindings,
) -> StaticSignals
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let dynamic = &file.dynamic;
    let mut signals = StaticSignals {
        gnu_abi_tag: signals::gnu_abi_tag(&file.notes, elf.endian),
        android_api: signals::android_api_level(&file.notes, elf.endian),
        ..StaticSignals::default()
    };
    let static_like = dynamic.interpreter.is_none()
        && dynamic.needed.is_empty()
        && dynamic.version_needs.is_empty();
    // Runnable libraries without dependencies are C library loaders themselves (ld.so,
    // musl's libc.so): their own content says which.
    let is_program =
        matches!(class.linkage, Linkage::Static | Linkage::StaticPie) || class.executable;
    if !(static_like && is_program) {
        return signals;
    }
    let sections = file.sections.as_ref();
    if signals.gnu_abi_tag.is_none() {
        signals.irelative = signals::count_irelative(elf, dynamic.dynamic.as_ref(), sections);
        if signals.irelative == 0 && !go_found.is_go() {
            signals.entry_code = signals::entry_code(elf);
        }
    }
    let undecided = signals.gnu_abi_tag.is_none()
        && signals.irelative == 0
        && signals.entry_code.is_none()
        && signals.android_api.is_none();
    if undecided && !go_found.is_go() {
        if let Some(data) = readonly.full() {
            signals.markers = signals::content_markers(data);
            if signals.markers.is_empty() && go::find_pclntab(data, ident.big_endian) {
                go_found
                    .evidence
                    .push("Go pclntab header in read-only data".into());
                toolchain::read_build_info(elf, sections, go_found);
            }
        }
    }
    signals
}

/// The toolchains that built the file (stage 4).
struct Toolchains {
    go: Option<Go>,
    rust: Option<Rust>,
}

/// Stage 4: Go, from what the earlier stages found of it, and Rust. Whether Go calls into
/// C decides `signals.pure_go`.
fn toolchains_of<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    file: &Structure<'data, H, R>,
    mut go_found: GoFindings,
    signals: &mut StaticSignals,
    readonly: &ReadOnlyData<'_, 'data, H, R>,
    warnings: &mut Vec<String>,
) -> Toolchains
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    warnings.append(&mut go_found.problems);
    let go = go_found
        .is_go()
        .then(|| go_facts(go_found, &file.dynamic, signals, readonly));
    signals.pure_go = go.as_ref().is_some_and(|g| !g.cgo_used);
    // Rust's panic paths are looked for only in read-only data already read for another
    // reason: reading it for every file without `.comment` would cost more than the rest.
    let rust = rust_facts(elf, file.sections.as_ref(), readonly.if_read(), warnings);
    Toolchains { go, rust }
}

/// Go's facts; the version from read-only data when no build info gives it.
fn go_facts<'data, H, R>(
    found: GoFindings,
    dynamic: &DynamicFacts<'data, R>,
    signals: &StaticSignals,
    readonly: &ReadOnlyData<'_, 'data, H, R>,
) -> Go
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let cgo_used = dynamic.interpreter.is_some()
        || !dynamic.needed.is_empty()
        || signals.gnu_abi_tag.is_some()
        || signals.irelative > 0;
    let GoFindings {
        version,
        modinfo,
        mut evidence,
        ..
    } = found;
    let build_info_found = version.is_some() || modinfo.is_some();
    let version = version.or_else(|| {
        let v = readonly.full().and_then(go::find_version_string)?;
        evidence.push(format!("version string {v} in read-only data (heuristic)"));
        Some(v)
    });
    go::facts(version, modinfo, build_info_found, cgo_used, evidence)
}

/// Stage 5: the C library, from the loader's names, the version needs, the imports and the
/// signals.
fn libc_of<'data, R: ReadRef<'data>>(
    dynamic: &DynamicFacts<'data, R>,
    signals: &StaticSignals,
) -> Libc {
    crate::libc::detect(&LibcInput {
        interpreter: dynamic.interpreter,
        needed: &dynamic.needed,
        soname: dynamic.soname,
        version_needs: &dynamic.version_needs,
        imports: &dynamic.imports,
        signals,
    })
}

/// Stage 6: the hidden run-time needs, from evidence gathered in the file.
fn needs_of<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    file: &Structure<'data, H, R>,
    libc: &Libc,
    toolchains: &Toolchains,
    readonly: &ReadOnlyData<'_, 'data, H, R>,
    warnings: &mut Vec<String>,
) -> Vec<Need>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let dynamic = &file.dynamic;
    // Static: no loader and no libraries, so the C library (if any) is linked in.
    let is_static = dynamic.interpreter.is_none() && dynamic.needed.is_empty();
    let mut evidence = needs::gather(
        elf,
        file.sections.as_ref(),
        &needs::GatherInput {
            family: libc.family,
            is_static,
            is_go: toolchains.go.is_some(),
            rust_without_crates: toolchains
                .rust
                .as_ref()
                .is_some_and(|r| r.crates.is_empty()),
            imports: &dynamic.imports,
            notes: &file.notes,
            needed: &dynamic.needed,
        },
        &|| readonly.full(),
        &|| readonly.head(),
    );
    warnings.append(&mut evidence.problems);
    let needed: Vec<String> = dynamic
        .needed
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    needs::derive(&needs::NeedsInput {
        family: libc.family,
        is_static,
        glibc_floor: libc.glibc_required,
        // ARM's hard-float flag picks Debian's armhf triplet.
        triplet: abi_of(elf, ident).debian_triplet(),
        needed: &needed,
        evidence: &evidence,
        go: toolchains.go.as_ref(),
        rust: toolchains.rust.as_ref(),
    })
}

/// Everything the stages found, for the report.
struct Findings {
    class: Classified,
    libc: Libc,
    toolchains: Toolchains,
    needs: Vec<Need>,
    size: Size,
    build_id: Option<String>,
    warnings: Vec<String>,
}

/// Stage 8: the report. Names are decoded here, each that needed replacement characters a
/// warning.
fn assemble<'data, H, R>(
    label: &str,
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    dynamic: &DynamicFacts<'data, R>,
    found: Findings,
) -> Report
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let Findings {
        class,
        libc,
        toolchains: Toolchains { go, rust },
        needs,
        size,
        build_id,
        mut warnings,
    } = found;
    let w = &mut warnings;
    let interpreter = dynamic.interpreter.map(|i| text(i, "PT_INTERP", w));
    let needed = dynamic
        .needed
        .iter()
        .map(|n| text(n, "a DT_NEEDED name", w))
        .collect();
    let soname = dynamic.soname.map(|s| text(s, "DT_SONAME", w));
    let rpath = split_path_list(dynamic.rpath.map(|r| text(r, "DT_RPATH", w)));
    let runpath = split_path_list(dynamic.runpath.map(|r| text(r, "DT_RUNPATH", w)));
    let platform = platform_of(elf, ident, go.as_ref(), &libc);
    Report {
        schema_version: SCHEMA_VERSION,
        path: label.to_string(),
        elf: elf_header(elf, ident, class.file_type),
        platform,
        linkage: class.linkage,
        executable: class.executable,
        interpreter,
        needed,
        soname,
        rpath,
        runpath,
        libc,
        go,
        rust,
        size,
        needs,
        closure: None,
        recommendation: None,
        verification: None,
        build_id,
        warnings,
        needs_not_read: Vec::new(),
    }
}

fn elf_header<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    file_type: FileType,
) -> ElfHeader
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    ElfHeader {
        class: if ident.is_64 { 64 } else { 32 },
        endian: if ident.big_endian {
            Endian::Big
        } else {
            Endian::Little
        },
        machine: abi_of(elf, ident).rust_arch(),
        e_machine: elf.e_machine(),
        file_type,
        os_abi: ident.os_abi,
        entry: elf.entry(),
    }
}

/// The file's ABI, as its header states it (with ARM's float ABI from `e_flags`).
fn abi_of<'data, H, R>(elf: &ElfFile<'data, H, R>, ident: Ident) -> Abi
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    Abi {
        machine: elf.e_machine(),
        is_64: ident.is_64,
        big_endian: ident.big_endian,
        hard_float: abi::hard_float(elf.e_flags()),
    }
}

/// The OCI platform. The OS: Go's GOOS when stamped, Android for bionic, else what
/// EI_OSABI says.
fn platform_of<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    go: Option<&Go>,
    libc: &Libc,
) -> Option<String>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let os = go
        .and_then(|g| g.settings.get("GOOS").cloned())
        .or_else(|| (libc.family == LibcFamily::Bionic).then(|| "android".to_string()))
        .or_else(|| abi::os_of_osabi(ident.os_abi).map(str::to_string))?;
    let arch = abi_of(elf, ident).oci_arch()?;
    Some(format!("{os}/{arch}"))
}

/// Lossy UTF-8, with a warning when bytes had to be replaced.
fn text(bytes: &[u8], what: &str, warnings: &mut Vec<String>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            warnings.push(format!(
                "{what} is not valid UTF-8; shown with replacement characters"
            ));
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
    out
}

fn split_path_list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| v.split(':').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Rust facts from `.comment` and `.dep-v0`; without `.comment`, the standard library's
/// `/rustc/<commit>/` paths in `readonly` (read-only data, when already read).
fn rust_facts<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&Sections<'data, H>>,
    readonly: Option<&'data [u8]>,
    warnings: &mut Vec<String>,
) -> Option<Rust>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let limits = &elf.limits;
    let section_bytes = |name: &[u8], max: u64| -> Option<Result<&'data [u8], ()>> {
        let sections = sections?;
        let sh = sections.by_name(name)?;
        let (offset, size) = sections.file_range(sh, elf.len)?;
        Some(if size > max {
            Err(())
        } else {
            elf.data.read_bytes_at(offset, size)
        })
    };
    let mut evidence = Vec::new();
    let comment = section_bytes(b".comment", 64 << 10).and_then(Result::ok);
    let rustc_version = comment.and_then(rust::rustc_version);
    if let Some(v) = &rustc_version {
        evidence.push(format!("`.comment` says rustc version {v}"));
    }
    let mut crates = Vec::new();
    match section_bytes(b".dep-v0", limits.max_audit_compressed_bytes as u64) {
        None => {}
        Some(Err(())) => {
            warnings.push("cargo-auditable data larger than the limit or unreadable".into())
        }
        Some(Ok(compressed)) => match rust::audit_crates(compressed, limits.max_audit_json_bytes) {
            Ok(list) => {
                evidence.push(format!(
                    "cargo-auditable `.dep-v0` lists {} crates",
                    list.len()
                ));
                crates = list;
            }
            Err(e) => warnings.push(e.message().to_string()),
        },
    }
    if rustc_version.is_none() && crates.is_empty() && comment.is_none() {
        if let Some(commit) = readonly.and_then(rust::find_rustc_commit) {
            evidence.push(format!("standard library paths of rustc commit {commit}"));
        }
    }
    if evidence.is_empty() {
        return None;
    }
    if crates.is_empty() {
        evidence.push(
            "no crate list (cargo-auditable's .dep-v0): its crates' needs (the CA store, time \
             zones) are seen only where their names stay in the file; `cargo auditable build` \
             records them"
                .into(),
        );
    }
    Some(Rust {
        rustc_version,
        crates,
        evidence,
    })
}
