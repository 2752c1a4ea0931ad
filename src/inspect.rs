//! The pipeline for one file: ELF views -> facts -> needs -> [`Report`].

use std::path::Path;

use object::elf::{EF_ARM_ABI_FLOAT_HARD, FileHeader32, FileHeader64};
use object::read::elf::FileHeader;
use object::{Endianness, ReadRef};

use crate::classify::{LinkageInput, classify};
use crate::elf::machine::{machine_name, oci_arch, os_of_osabi};
use crate::elf::readonly::ReadOnlyData;
use crate::elf::{ElfFile, Ident};
use crate::error::{Error, Limits, Result};
use crate::libc::signals;
use crate::libc::{LibcInput, StaticSignals};
use crate::needs;
use crate::resolve::object::LoadInfo;
use crate::report::{
    ElfHeader, Endian, FileType, LibcFamily, Linkage, Report, Rust, SCHEMA_VERSION,
};
use crate::source::FileSource;
use crate::toolchain::{self, go, rust};

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
    inspect_data(&path.to_string_lossy(), &source, options)
}

/// Analyses the file at `path` and fills the report's `closure` from `resolver`'s root
/// (reuse one resolver for many files: each library is read once per run).
pub fn inspect_in_root(
    path: &Path,
    options: &Options,
    resolver: &mut crate::resolve::Resolver,
) -> Result<Report> {
    let source = FileSource::open(path)?;
    let mut load = LoadInfo::default();
    let mut report = inspect_source(&path.to_string_lossy(), &source, options, Some(&mut load))?;
    // The file was just read: the closure starts from what was found, without reading it
    // again.
    report.closure = Some(resolver.closure_of(path, load));
    Ok(report)
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
    inspect_source(label, data, options, None)
}

/// The analysis; with `load`, also what the loader reads of the file (for its closure).
fn inspect_source<'data, R: ReadRef<'data>>(
    label: &str,
    data: R,
    options: &Options,
    load: Option<&mut LoadInfo>,
) -> Result<Report> {
    let ident = Ident::parse(data)?;
    if ident.is_64 {
        let elf = ElfFile::<FileHeader64<Endianness>, R>::parse(data, &options.limits)?;
        analyze(label, &elf, ident, load)
    } else {
        let elf = ElfFile::<FileHeader32<Endianness>, R>::parse(data, &options.limits)?;
        analyze(label, &elf, ident, load)
    }
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

fn analyze<'data, H, R>(
    label: &str,
    elf: &ElfFile<'data, H, R>,
    ident: Ident,
    load: Option<&mut LoadInfo>,
) -> Result<Report>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let mut warnings = Vec::new();
    let limits = &elf.limits;

    let sections = elf.sections().unwrap_or_else(|e| {
        warnings.push(format!("section headers ignored: {e}"));
        None
    });
    let mut facts = elf.dynamic_facts(sections.as_ref())?;
    warnings.append(&mut facts.problems);
    let interpreter_raw = facts.interpreter;
    let dynamic = &facts.dynamic;
    let needed_raw = &facts.needed;
    let soname_raw = facts.soname;
    let version_needs = &facts.version_needs;
    let imports = &facts.imports;
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
            limit: limits.max_notes as u64,
        };
        warnings.push(format!("later notes not read: {limit}"));
    }

    // Linkage.
    let file_type = match elf.e_type() {
        1 => FileType::Rel,
        2 => FileType::Exec,
        3 => FileType::Dyn,
        4 => FileType::Core,
        _ => FileType::Other,
    };
    let mut linkage_input = LinkageInput {
        file_type,
        has_interpreter: interpreter_raw.is_some(),
        has_dynamic: dynamic.is_some(),
        has_soname: soname_raw.is_some(),
        has_needed: !needed_raw.is_empty(),
        df_1_pie: facts.is_pie(),
        entry: elf.entry(),
        exports_symbols: None,
    };
    if linkage_input.needs_export_check() {
        linkage_input.exports_symbols = dynamic.as_ref().map(|d| elf.exports_symbols(d));
    }
    let (linkage, executable) = classify(&linkage_input);

    // Toolchains and static-binary signals, cheapest first.
    let mut go_found = toolchain::find_go(elf, sections.as_ref(), &notes);
    warnings.append(&mut go_found.problems);
    let readonly = ReadOnlyData::new(elf, sections.as_ref());

    let mut signals = StaticSignals {
        gnu_abi_tag: signals::gnu_abi_tag(&notes, elf.endian),
        android_api: signals::android_api_level(&notes, elf.endian),
        ..StaticSignals::default()
    };
    let static_like =
        interpreter_raw.is_none() && needed_raw.is_empty() && version_needs.is_empty();
    // Runnable libraries without dependencies are C library loaders themselves (ld.so,
    // musl's libc.so): their own content says which.
    let is_program = matches!(linkage, Linkage::Static | Linkage::StaticPie) || executable;
    if static_like && is_program && signals.gnu_abi_tag.is_none() {
        signals.irelative = signals::count_irelative(elf, dynamic.as_ref(), sections.as_ref());
        if signals.irelative == 0 && !go_found.is_go() {
            signals.entry_code = signals::entry_code(elf);
        }
    }
    let undecided = signals.gnu_abi_tag.is_none()
        && signals.irelative == 0
        && signals.entry_code.is_none()
        && signals.android_api.is_none();
    if static_like && is_program && undecided && !go_found.is_go() {
        if let Some(data) = readonly.full() {
            signals.markers = signals::content_markers(data);
            if signals.markers.is_empty() && go::find_pclntab(data, ident.big_endian) {
                go_found
                    .evidence
                    .push("Go pclntab header in read-only data".into());
                toolchain::read_build_info(elf, sections.as_ref(), &mut go_found);
                warnings.append(&mut go_found.problems);
            }
        }
    }

    let go = if go_found.is_go() {
        let cgo_used = interpreter_raw.is_some()
            || !needed_raw.is_empty()
            || signals.gnu_abi_tag.is_some()
            || signals.irelative > 0;
        signals.pure_go = !cgo_used;
        let mut evidence = std::mem::take(&mut go_found.evidence);
        let build_info_found = go_found.version.is_some() || go_found.modinfo.is_some();
        let mut version = go_found.version.take();
        if version.is_none() {
            version = readonly.full().and_then(go::find_version_string);
            if let Some(v) = &version {
                evidence.push(format!("version string {v} in read-only data (heuristic)"));
            }
        }
        Some(go::facts(
            version,
            go_found.modinfo.take(),
            build_info_found,
            cgo_used,
            evidence,
        ))
    } else {
        None
    };

    // Rust's panic paths are looked for only in read-only data already read for another
    // reason: reading it for every file without `.comment` would cost more than the rest.
    let rust = rust_facts(
        elf,
        sections.as_ref(),
        readonly.if_read(),
        &mut warnings,
    );

    let libc = crate::libc::detect(&LibcInput {
        interpreter: interpreter_raw,
        needed: needed_raw,
        soname: soname_raw,
        version_needs,
        imports,
        signals: &signals,
    });

    // Hidden run-time needs.
    // Static: no loader and no libraries, so the C library (if any) is linked in.
    let is_static = interpreter_raw.is_none() && needed_raw.is_empty();
    let needed_text: Vec<String> = needed_raw
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let mut evidence = needs::gather(
        elf,
        sections.as_ref(),
        &needs::GatherInput {
            family: libc.family,
            is_static,
            is_go: go.is_some(),
            imports,
            notes: &notes,
            needed: needed_raw,
        },
        &|| readonly.full(),
        &|| readonly.head(),
    );
    warnings.append(&mut evidence.problems);
    // ARM's hard-float flag picks Debian's armhf triplet.
    let hard_float = elf.e_flags() & EF_ARM_ABI_FLOAT_HARD != 0;
    let needs = needs::derive(&needs::NeedsInput {
        family: libc.family,
        is_static,
        glibc_floor: libc.glibc_required.as_deref(),
        triplet: needs::debian_triplet(elf.e_machine(), ident.is_64, ident.big_endian, hard_float),
        needed: &needed_text,
        evidence: &evidence,
        go: go.as_ref(),
        rust: rust.as_ref(),
    });

    let size = crate::size::size_facts(elf, sections.as_ref());
    let build_id = notes
        .find(b"GNU", object::elf::NT_GNU_BUILD_ID.0)
        .map(|note| hex(note.desc));

    if let Some(load) = load {
        *load = LoadInfo::from_facts(elf, ident, &facts);
    }
    let interpreter = interpreter_raw.map(|i| text(i, "PT_INTERP", &mut warnings));
    let needed = needed_raw
        .iter()
        .map(|n| text(n, "a DT_NEEDED name", &mut warnings))
        .collect();
    let soname = soname_raw.map(|s| text(s, "DT_SONAME", &mut warnings));
    let rpath = split_path_list(facts.rpath.map(|r| text(r, "DT_RPATH", &mut warnings)));
    let runpath = split_path_list(facts.runpath.map(|r| text(r, "DT_RUNPATH", &mut warnings)));
    let is_64 = ident.is_64;
    // The OS: Go's GOOS when stamped, Android for bionic, else what EI_OSABI says.
    let os = go
        .as_ref()
        .and_then(|g| g.settings.get("GOOS").cloned())
        .or_else(|| (libc.family == LibcFamily::Bionic).then(|| "android".to_string()))
        .or_else(|| os_of_osabi(ident.os_abi).map(str::to_string));
    let platform = match (os, oci_arch(elf.e_machine(), is_64, ident.big_endian)) {
        (Some(os), Some(arch)) => Some(format!("{os}/{arch}")),
        _ => None,
    };
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        path: label.to_string(),
        elf: ElfHeader {
            class: if is_64 { 64 } else { 32 },
            endian: if ident.big_endian {
                Endian::Big
            } else {
                Endian::Little
            },
            machine: machine_name(elf.e_machine(), is_64),
            e_machine: elf.e_machine(),
            file_type,
            os_abi: ident.os_abi,
            entry: elf.entry(),
        },
        platform,
        linkage,
        executable,
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
    })
}

/// Rust facts from `.comment` and `.dep-v0`; without `.comment`, the standard library's
/// `/rustc/<commit>/` paths in `readonly` (read-only data, when already read).
fn rust_facts<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&crate::elf::sections::Sections<'data, H>>,
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
    Some(Rust {
        rustc_version,
        crates,
        evidence,
    })
}
