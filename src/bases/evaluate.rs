//! One base image against one report: can the file run there as is, with files added from
//! the build stage, or not at all, and why.
//!
//! The loader and the C library always come from the base (never copied into it): a glibc
//! program needs a glibc image at or above its floor with the program's interpreter, a
//! musl program a musl image. Other libraries of the closure come from the base when it has
//! them with every symbol version their users need, else they are copied; copied libraries
//! bring their own needs, so the copy set grows to a fixed point.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::catalog::{BaseImage, Catalog, musl_loader};
use crate::libc::GlibcVersion;
use crate::needs::debian_triplet;
use crate::report::{AddFile, Certainty, Endian, Linkage, NeedFile, Report};
use crate::resolve::basename;
use crate::resolve::root::{Root, join_path, parent};
use crate::version::compare_dotted;

/// The outcome for one base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub verdict: Verdict,
    pub why: Vec<String>,
    pub add_files: Vec<AddFile>,
    /// Where the program itself goes in the image.
    pub program_path: String,
    /// Bytes of the program plus the added files (uncompressed).
    pub added_bytes: Option<u64>,
}

/// The three verdicts of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    Works,
    WorksWithFiles,
    Fails,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Works => "works",
            Verdict::WorksWithFiles => "works_with_files",
            Verdict::Fails => "fails",
        }
    }
}

/// What the evaluation reads besides the report.
pub(crate) struct Context<'a> {
    pub catalog: &'a Catalog,
    /// The build stage's root: where added files are copied from.
    pub build_root: &'a Root,
    /// The program's path in the build stage.
    pub program_from: &'a str,
    /// Sizes of build-root paths, measured once for all images (a zoneinfo tree is
    /// planned for many of them).
    pub sizes: RefCell<HashMap<String, Option<u64>>>,
}

impl Context<'_> {
    fn size_of(&self, path: &str) -> Option<u64> {
        if let Some(size) = self.sizes.borrow().get(path) {
            return *size;
        }
        let size = size_in_root(self.build_root, path);
        self.sizes.borrow_mut().insert(path.to_string(), size);
        size
    }

    fn in_build_root(&self, path: &str) -> bool {
        self.build_root
            .canonical(path.trim_end_matches('/'))
            .is_ok()
    }
}

struct Plan<'a> {
    base: &'a BaseImage,
    ctx: &'a Context<'a>,
    fails: Vec<String>,
    why: Vec<String>,
    add: Vec<AddFile>,
}

impl Plan<'_> {
    fn fail(&mut self, reason: String) {
        if !self.fails.contains(&reason) {
            self.fails.push(reason);
        }
    }

    /// Adds a file unless the base has it or it is already planned; a file the build root
    /// does not have cannot be copied, so the base fails.
    fn ensure_file(&mut self, path: &str, why: String) {
        if self.base.has_file(self.ctx.catalog, path) || self.add.iter().any(|a| a.path == path) {
            return;
        }
        if !self.ctx.in_build_root(path) {
            self.fail(format!(
                "{why}: {path} is not in the build root, so it cannot be copied"
            ));
            return;
        }
        self.add.push(AddFile {
            path: path.to_string(),
            from: path.to_string(),
            why,
        });
    }

    /// A library a need names: from the image when it has it; glibc's own parts only ever
    /// from the image's glibc; anything else copied.
    fn ensure_library(&mut self, file: &NeedFile, is_static: bool, why: String) {
        let path: &str = file.path.as_ref();
        let name = basename(path);
        let catalog = self.ctx.catalog;
        if self.base.library(name).is_some() || provided_by_libc(self.base, catalog, name) {
            return;
        }
        if is_libc_part(catalog, name) {
            self.fail(if is_static {
                format!("{why}: {name} must be of the glibc the program was linked with; no image is known to carry it")
            } else {
                format!("{why}: {name} is part of glibc and {} does not carry it", self.base.name)
            });
            return;
        }
        self.ensure_file(path, why);
    }

    /// Whether a need file's condition holds for this image: `glibc < X` holds for a glibc
    /// image older than X and for a static program (linked with a glibc of unknown age);
    /// other conditions are circumstances of use, taken as holding.
    fn condition_holds(&self, file: &NeedFile, is_static: bool) -> bool {
        let Some(bound) = file.glibc_below() else {
            return true;
        };
        if is_static {
            return true;
        }
        match &self.base.libc {
            Some(l) if l.family == "glibc" => compare_dotted(&l.version, bound).is_lt(),
            _ => true,
        }
    }
}

pub(crate) fn evaluate(report: &Report, base: &BaseImage, ctx: &Context<'_>) -> Evaluation {
    let mut plan = Plan {
        base,
        ctx,
        fails: Vec::new(),
        why: Vec::new(),
        add: Vec::new(),
    };
    if !report.executable {
        plan.fail(format!(
            "not a program ({}): a run stage starts a program",
            report.linkage.as_str()
        ));
    }
    let platform = report.platform.as_deref();
    if !base.supports(platform) {
        plan.fail(format!(
            "not published for {}",
            platform.unwrap_or("this platform")
        ));
    }
    let is_static = is_static(report);
    let mut keep_program_path = false;
    if is_static {
        plan.why.push(format!(
            "{} program: needs no loader or shared library from the image",
            report.linkage.as_str()
        ));
    } else {
        keep_program_path = plan_libraries(report, &mut plan);
    }
    plan_needs(report, is_static, &mut plan);

    let program_path = if keep_program_path {
        ctx.program_from.to_string()
    } else {
        format!("/usr/local/bin/{}", basename(&report.path))
    };
    let added_bytes = plan
        .add
        .iter()
        .map(|a| ctx.size_of(&a.from))
        .try_fold(report.size.file_bytes, |sum, size| {
            size.map(|s| sum.saturating_add(s))
        });
    let verdict = if !plan.fails.is_empty() {
        Verdict::Fails
    } else if plan.add.is_empty() {
        Verdict::Works
    } else {
        Verdict::WorksWithFiles
    };
    let mut why = plan.fails;
    why.extend(plan.why);
    for a in &plan.add {
        why.push(format!("add {}: {}", a.path, a.why));
    }
    Evaluation {
        verdict,
        why,
        add_files: plan.add,
        program_path,
        added_bytes,
    }
}

/// A program that maps no loader and no shared library.
fn is_static(report: &Report) -> bool {
    report.interpreter.is_none() && matches!(report.linkage, Linkage::Static | Linkage::StaticPie)
}

/// The loader, libc and libraries of a dynamic file. Returns whether the program must keep
/// its build-stage path (libraries found through its `$ORIGIN` are copied beside it).
fn plan_libraries(report: &Report, plan: &mut Plan<'_>) -> bool {
    let base = plan.base;
    let catalog = plan.ctx.catalog;
    let platform = report.platform.as_deref().unwrap_or("");
    match report.libc.family.as_str() {
        "glibc" if !base.is_glibc() => {
            plan.fail(format!(
                "a glibc program; {} has {}",
                base.name,
                libc_of(base)
            ));
        }
        "glibc" => {
            let standard =
                crate::resolve::standard_interpreter(report.elf.e_machine, report.elf.class == 64);
            if let Some(interp) = report.interpreter.as_deref().filter(|i| *i != standard) {
                plan.fail(format!(
                    "asks for the interpreter {interp}; glibc images have {standard}"
                ));
            }
        }
        "musl" if !base.is_musl() => {
            plan.fail(format!(
                "a musl program; {} has {}",
                base.name,
                libc_of(base)
            ));
        }
        "musl" => {
            if let Some(interp) = report.interpreter.as_deref() {
                if musl_loader(platform).is_some_and(|l| l != interp) {
                    plan.fail(format!(
                        "asks for the interpreter {interp}, which {} does not have",
                        base.name
                    ));
                }
            }
        }
        other => plan.fail(format!(
            "a {other} program; no catalog image carries that C library"
        )),
    }
    if !plan.fails.is_empty() {
        return false;
    }
    // A DT_NEEDED naming the interpreter is the image's loader.
    let interpreter_name = report.interpreter.as_deref().map(basename);
    let from_image = |soname: &str| {
        Some(soname) == interpreter_name
            || provided_by_libc(base, catalog, soname)
            || base.library(soname).is_some()
    };

    let Some(closure) = &report.closure else {
        // Without a closure only the direct needs can be checked.
        plan.why
            .push("libraries checked by name only (no build root to resolve them in)".into());
        for soname in report.needed.iter().filter(|s| !from_image(s)) {
            plan.fail(format!(
                "{soname} is not in {} and its build-stage path is unknown",
                base.name
            ));
        }
        return false;
    };

    // Copy set to a fixed point: a library is demanded by the program or a copied library,
    // and copied when the image lacks it or lacks a version its users need.
    let program = closure.file_in_root.as_str();
    let mut copied: BTreeSet<usize> = BTreeSet::new();
    let mut reasons: BTreeMap<usize, String> = BTreeMap::new();
    let mut users: BTreeSet<&str> = BTreeSet::from([program]);
    loop {
        let mut demanded: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let needs = closure.version_needs.iter().chain(
            copied
                .iter()
                .filter_map(|&i| closure.libraries.get(i))
                .flat_map(|lib| lib.version_needs.iter()),
        );
        for need in needs {
            demanded
                .entry(need.soname.as_str())
                .or_default()
                .extend(need.versions.iter().cloned());
        }
        let mut grew = false;
        for (i, lib) in closure.libraries.iter().enumerate() {
            if copied.contains(&i) || !lib.needed_by.iter().any(|n| users.contains(n.as_str())) {
                continue;
            }
            let soname = lib.soname.as_str();
            if is_libc_part(catalog, soname) {
                if base.is_glibc() && !provided_by_libc(base, catalog, soname) {
                    plan.fail(format!(
                        "{} carries no {soname} (part of glibc: it must come with the image's own glibc)",
                        base.name
                    ));
                }
                continue;
            }
            let reason = match base.library(soname) {
                Some(have) => {
                    let needed = demanded.get(soname).cloned().unwrap_or_default();
                    let lacks = have.lacks(&needed);
                    if lacks.is_empty() {
                        continue;
                    }
                    format!("{}'s {soname} lacks {}", base.name, lacks.join(", "))
                }
                None => format!("{soname} is not in {}", base.name),
            };
            copied.insert(i);
            reasons.insert(i, reason);
            users.insert(lib.path.as_str());
            grew = true;
        }
        if !grew {
            break;
        }
    }
    // Libraries the build root lacks matter only when nothing the image provides needs them.
    for m in &closure.missing {
        if m.needed_by.iter().any(|n| users.contains(n.as_str())) && !from_image(&m.soname) {
            plan.fail(format!(
                "{} is not in {} and was not found in the build root either",
                m.soname, base.name
            ));
        }
    }

    // The glibc floor over the program and what is copied (the image's own libraries match
    // its glibc).
    if let Some(have) = base.libc.as_ref().filter(|_| base.is_glibc()) {
        let mut floor: Option<(GlibcVersion, String)> = report
            .libc
            .glibc_required
            .as_deref()
            .and_then(|v| GlibcVersion::from_version_name(format!("GLIBC_{v}").as_bytes()))
            .map(|v| (v, report.path.clone()));
        for lib in copied.iter().filter_map(|&i| closure.libraries.get(i)) {
            let versions = lib.version_needs.iter().flat_map(|n| n.versions.iter());
            for v in versions.filter_map(|v| GlibcVersion::from_version_name(v.as_bytes())) {
                if floor.as_ref().is_none_or(|(f, _)| v > *f) {
                    floor = Some((v, lib.path.clone()));
                }
            }
        }
        if let Some((f, by)) = floor {
            let f = f.to_dotted();
            if compare_dotted(&f, &have.version).is_gt() {
                plan.fail(format!(
                    "needs glibc >= {f} (set by {by}); {} has glibc {}",
                    base.name, have.version
                ));
            } else {
                plan.why
                    .push(format!("glibc {} >= the floor {f}", have.version));
            }
        }
    }

    // Where copies go: found through an RPATH/RUNPATH directory -> that directory; through
    // `$ORIGIN` -> where they were, beside whatever needed them, which then stays in place
    // too; otherwise the image's default library directory.
    let triplet = debian_triplet(
        report.elf.e_machine,
        report.elf.class == 64,
        report.elf.endian == Endian::Big,
        // Container images for linux/arm are hard-float.
        true,
    );
    let lib_dir = base
        .library_dir
        .as_deref()
        .map(|d| d.replace("{triplet}", triplet.unwrap_or("")));
    let origin_needers: BTreeSet<&str> = reasons
        .keys()
        .filter_map(|&i| closure.libraries.get(i))
        .filter(|lib| lib.found_via == "origin")
        .flat_map(|lib| lib.needed_by.iter().map(String::as_str))
        .collect();
    for (&i, reason) in &reasons {
        let Some(lib) = closure.libraries.get(i) else {
            continue;
        };
        let file_name = basename(&lib.soname);
        let keep = lib.found_via == "origin" || origin_needers.contains(lib.path.as_str());
        let dest = match (lib.found_via.as_str(), &lib.search_entry) {
            _ if keep => join_path(&parent(&lib.path), file_name),
            ("direct", _) => lib.soname.clone(),
            ("rpath" | "runpath" | "inherited_rpath", Some(entry))
                if entry.starts_with('/') && !entry.contains('$') =>
            {
                join_path(entry, file_name)
            }
            ("rpath" | "runpath" | "inherited_rpath", _) => {
                join_path(&parent(&lib.path), file_name)
            }
            _ => join_path(lib_dir.as_deref().unwrap_or(&parent(&lib.path)), file_name),
        };
        if !plan.add.iter().any(|a| a.path == dest) {
            plan.add.push(AddFile {
                path: dest,
                from: lib.path.clone(),
                why: reason.clone(),
            });
        }
    }
    origin_needers.contains(program)
}

/// The hidden needs that are required or likely: files the image lacks are added, what
/// cannot be added fails the image.
fn plan_needs(report: &Report, is_static: bool, plan: &mut Plan<'_>) {
    let base = plan.base;
    for need in report
        .needs
        .iter()
        .filter(|n| n.certainty != Certainty::Possible)
    {
        let kind = need.kind.as_ref();
        let label = match &need.name {
            Some(n) => format!("{kind} ({n}, {})", need.certainty.as_str()),
            None => format!("{kind} ({})", need.certainty.as_str()),
        };
        let why = format!("{label}: {}", need.summary);
        // What the image already covers as a whole.
        let covered = match kind {
            "ca_certificates" => base.ca_certificates.is_some(),
            "tzdata" => base.tzdata,
            "gconv" => base.gconv,
            _ => false,
        };
        if covered {
            continue;
        }
        match kind {
            "shell" if base.shell.is_none() => {
                plan.fail(format!(
                    "{label}: needs /bin/sh; {} has no shell",
                    base.name
                ));
                continue;
            }
            "libgcc_s" | "gconv" if is_static => {
                plan.why.push(format!(
                    "{label}: a static program loads it only with its own glibc; not planned"
                ));
                continue;
            }
            _ => {}
        }
        let mut files = need
            .files
            .iter()
            .filter(|f| f.required && plan.condition_holds(f, is_static))
            .peekable();
        // A CA bundle is one file among the paths each runtime tries: the first will do.
        let files: Vec<&NeedFile> = if kind == "ca_certificates" {
            files.next().into_iter().collect()
        } else {
            files.collect()
        };
        for f in files {
            let path: &str = f.path.as_ref();
            if basename(path).contains(".so") {
                plan.ensure_library(f, is_static, why.clone());
            } else {
                plan.ensure_file(path, why.clone());
            }
        }
        if kind == "nss" {
            if let (Some(db), Some(table)) = (need.name.as_deref(), base.nsswitch.as_ref()) {
                if let Some(services) = table.get(db) {
                    check_nss_services(plan, db, services, is_static, &label);
                }
            }
        }
    }
}

/// An NSS database the image's nsswitch.conf routes to services the program cannot use.
fn check_nss_services(
    plan: &mut Plan<'_>,
    db: &str,
    services: &[String],
    is_static: bool,
    label: &str,
) {
    let base = plan.base;
    let builtin = |s: &str| s == "files" || (s == "dns" && db == "hosts");
    if is_static {
        // glibc >= 2.34 has `files` and `dns` built in; any other service is a module that a
        // static program can load only from its own glibc version.
        if !services.iter().any(|s| builtin(s)) {
            plan.fail(format!(
                "{label}: {}'s nsswitch.conf says `{db}: {}`; a static glibc program has only the built-in files and dns services (libnss_{} would have to come from its own glibc)",
                base.name,
                services.join(" "),
                services.first().map(String::as_str).unwrap_or("?"),
            ));
        }
        return;
    }
    let usable = services
        .iter()
        .any(|s| builtin(s) || base.nss_modules.iter().any(|m| m == s));
    if !usable {
        plan.fail(format!(
            "{label}: {}'s nsswitch.conf says `{db}: {}` and it has no such NSS module",
            base.name,
            services.join(" ")
        ));
    }
}

fn libc_of(base: &BaseImage) -> String {
    match &base.libc {
        Some(l) => format!("{} {}", l.family, l.version),
        None => "no C library".into(),
    }
}

/// glibc's own libraries and loaders, and musl's names for its one library.
fn is_libc_part(catalog: &Catalog, soname: &str) -> bool {
    let name = basename(soname);
    catalog.glibc_sonames.iter().any(|s| s == name)
        || name.starts_with("ld-linux")
        || name.starts_with("ld64.so")
        || name.starts_with("libc.musl-")
        || name.starts_with("ld-musl-")
        || name == "libc.so"
}

fn provided_by_libc(base: &BaseImage, catalog: &Catalog, soname: &str) -> bool {
    let name = basename(soname);
    if base.is_glibc() {
        base.has_glibc_library(catalog, name)
            || name.starts_with("ld-linux")
            || name.starts_with("ld64.so")
    } else if base.is_musl() {
        name == "libc.so" || name.starts_with("libc.musl-") || name.starts_with("ld-musl-")
    } else {
        false
    }
}

/// Bytes of a file or directory tree inside the build root (symlinks not followed), or
/// `None` when it is not there.
fn size_in_root(root: &Root, path: &str) -> Option<u64> {
    const MAX_ENTRIES: usize = 200_000;
    let canonical = root.canonical(path).ok()?;
    let host = root.host(&canonical);
    let meta = std::fs::symlink_metadata(&host).ok()?;
    if !meta.is_dir() {
        return Some(meta.len());
    }
    let mut total = 0u64;
    let mut seen = 0usize;
    let mut stack = vec![host];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Some(total);
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Some(total)
}
