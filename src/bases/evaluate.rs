//! One base image against one report: can the file run there as is, with files added from
//! the build stage, or not at all, and why.
//!
//! The loader and the C library always come from the base (never copied into it): a glibc
//! program needs a glibc image at or above its floor with the program's interpreter, a
//! musl program a musl image. Other libraries of the closure come from the base when it has
//! them with every symbol version their users need, else they are copied; copied libraries
//! bring their own needs, so the copy set grows to a fixed point.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{BaseImage, Catalog, compare_versions, musl_loader, triplet};
use crate::report::{AddFile, Certainty, Linkage, Report};
use crate::resolve::root::Root;

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

    /// Adds a file unless the base has it or it is already planned.
    fn ensure_file(&mut self, path: &str, why: String) {
        if self.base.has_file(self.ctx.catalog, path) || self.add.iter().any(|a| a.path == path) {
            return;
        }
        self.add.push(AddFile {
            path: path.to_string(),
            from: path.to_string(),
            why,
        });
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
    let platform = report.platform.as_deref();
    if !base.supports(platform) {
        plan.fail(format!(
            "not published for {}",
            platform.unwrap_or("this platform")
        ));
    }
    let dynamic = report.interpreter.is_some()
        || matches!(report.linkage, Linkage::Dynamic | Linkage::SharedLibrary);
    let mut keep_program_path = false;
    if dynamic {
        keep_program_path = plan_libraries(report, &mut plan);
    } else {
        plan.why.push(format!(
            "{} program: needs no loader or shared library from the image",
            report.linkage.as_str()
        ));
    }
    plan_needs(report, &mut plan);

    let name = report.path.rsplit('/').next().unwrap_or("program");
    let program_path = if keep_program_path {
        ctx.program_from.to_string()
    } else {
        format!("/usr/local/bin/{name}")
    };
    let added_bytes = plan
        .add
        .iter()
        .map(|a| size_in_root(ctx.build_root, &a.from))
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

/// The loader, libc and libraries of a dynamic file. Returns whether the program must keep
/// its build-stage path (libraries found through `$ORIGIN` are copied beside it).
fn plan_libraries(report: &Report, plan: &mut Plan<'_>) -> bool {
    let base = plan.base;
    let catalog = plan.ctx.catalog;
    let family = report.libc.family.as_str();
    let platform = report.platform.as_deref().unwrap_or("");
    match family {
        "glibc" => {
            if !base.is_glibc() {
                plan.fail(format!(
                    "a glibc program; {} has {}",
                    base.name,
                    libc_of(base)
                ));
            } else if let Some(interp) = &report.interpreter {
                let standard = crate::resolve::standard_interpreter(
                    report.elf.e_machine,
                    report.elf.class == 64,
                );
                if interp != standard {
                    plan.fail(format!(
                        "asks for the interpreter {interp}; glibc images have {standard}"
                    ));
                }
            }
        }
        "musl" => {
            if !base.is_musl() {
                plan.fail(format!(
                    "a musl program; {} has {}",
                    base.name,
                    libc_of(base)
                ));
            } else if let Some(interp) = &report.interpreter {
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

    let Some(closure) = &report.closure else {
        // Without a closure only the direct needs can be checked.
        plan.why
            .push("libraries checked by name only (no build root to resolve them in)".into());
        for soname in &report.needed {
            if !provided_by_libc(base, catalog, soname) && base.library(soname).is_none() {
                plan.fail(format!(
                    "{soname} is not in {} and its build-stage path is unknown",
                    base.name
                ));
            }
        }
        return false;
    };
    let program = closure_program_path(report);
    // A DT_NEEDED naming the interpreter is the image's loader.
    let interpreter_name = report
        .interpreter
        .as_deref()
        .map(|i| i.rsplit('/').next().unwrap_or(i));
    for m in &closure.missing {
        if Some(m.soname.as_str()) == interpreter_name {
            continue;
        }
        if !provided_by_libc(base, catalog, &m.soname) && base.library(&m.soname).is_none() {
            plan.fail(format!(
                "{} is not in {} and was not found in the build root either",
                m.soname, base.name
            ));
        }
    }

    // Copy set to a fixed point: a library is demanded by the program or a copied library.
    let mut copied: BTreeSet<usize> = BTreeSet::new();
    let mut reasons: BTreeMap<usize, String> = BTreeMap::new();
    loop {
        let mut users: BTreeSet<&str> = BTreeSet::new();
        users.insert(program.as_str());
        let mut demanded: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for need in &closure.version_needs {
            demanded
                .entry(need.soname.as_str())
                .or_default()
                .extend(need.versions.iter().cloned());
        }
        for &i in &copied {
            if let Some(lib) = closure.libraries.get(i) {
                users.insert(lib.path.as_str());
                for need in &lib.version_needs {
                    demanded
                        .entry(need.soname.as_str())
                        .or_default()
                        .extend(need.versions.iter().cloned());
                }
            }
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
            grew = true;
        }
        if !grew {
            break;
        }
    }

    // The glibc floor over the program and what is copied (the image's own libraries match
    // its glibc).
    if let Some(have) = base.libc.as_ref().filter(|_| base.is_glibc()) {
        let mut floor = report
            .libc
            .glibc_required
            .clone()
            .map(|v| (v, report.path.clone()));
        for &i in &copied {
            let Some(lib) = closure.libraries.get(i) else {
                continue;
            };
            for need in &lib.version_needs {
                for v in &need.versions {
                    if let Some(n) = v
                        .strip_prefix("GLIBC_")
                        .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
                    {
                        if floor
                            .as_ref()
                            .is_none_or(|(f, _)| compare_versions(n, f).is_gt())
                        {
                            floor = Some((n.to_string(), lib.path.clone()));
                        }
                    }
                }
            }
        }
        if let Some((f, by)) = floor {
            if compare_versions(&f, &have.version).is_gt() {
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

    let lib_dir = base
        .library_dir
        .as_deref()
        .map(|d| d.replace("{triplet}", triplet(platform).unwrap_or("")));
    let mut keep = false;
    for (&i, reason) in &reasons {
        let Some(lib) = closure.libraries.get(i) else {
            continue;
        };
        let file_name = lib.soname.rsplit('/').next().unwrap_or(&lib.soname);
        let dest = match lib.found_via.as_str() {
            "origin" => {
                keep = true;
                join(parent(&lib.path), file_name)
            }
            "rpath" | "runpath" | "inherited_rpath" | "direct" => match &lib.search_entry {
                Some(entry) if entry.starts_with('/') && !entry.contains('$') => {
                    join(entry, file_name)
                }
                _ if lib.found_via == "direct" => lib.soname.clone(),
                _ => join(parent(&lib.path), file_name),
            },
            _ => match &lib_dir {
                Some(dir) => join(dir, file_name),
                None => join(parent(&lib.path), file_name),
            },
        };
        if !plan.add.iter().any(|a| a.path == dest) {
            plan.add.push(AddFile {
                path: dest,
                from: lib.path.clone(),
                why: reason.clone(),
            });
        }
    }
    keep
}

/// The hidden needs: files the base lacks are added; what cannot be added fails.
fn plan_needs(report: &Report, plan: &mut Plan<'_>) {
    let base = plan.base;
    let is_static = report.interpreter.is_none()
        && matches!(report.linkage, Linkage::Static | Linkage::StaticPie);
    for need in &report.needs {
        if need.certainty == Certainty::Possible {
            continue;
        }
        let kind = need.kind.as_ref();
        let label = match &need.name {
            Some(n) => format!("{kind} ({n}, {})", need.certainty.as_str()),
            None => format!("{kind} ({})", need.certainty.as_str()),
        };
        let required = || need.files.iter().filter(|f| f.required);
        match kind {
            "shell" => {
                if base.shell.is_none() {
                    plan.fail(format!(
                        "{label}: needs /bin/sh; {} has no shell",
                        base.name
                    ));
                }
            }
            "ca_certificates" => {
                if base.ca_certificates.is_none() {
                    if let Some(f) = required().next().or(need.files.first()) {
                        plan.ensure_file(f.path.as_ref(), format!("{label}: {}", need.summary));
                    }
                }
            }
            "tzdata" => {
                if !base.tzdata {
                    for f in required() {
                        plan.ensure_file(f.path.as_ref(), format!("{label}: {}", need.summary));
                    }
                }
            }
            "nss" => {
                for f in required() {
                    plan.ensure_file(f.path.as_ref(), format!("{label}: {}", need.summary));
                }
                if let (Some(db), Some(table)) = (need.name.as_deref(), base.nsswitch.as_ref()) {
                    if let Some(services) = table.get(db) {
                        check_nss_services(plan, db, services, is_static, &label);
                    }
                }
            }
            "libgcc_s" | "gconv" if is_static => {
                plan.why.push(format!(
                    "{label}: a static program loads it only with its own glibc; not planned"
                ));
            }
            "libgcc_s" => {
                if base.library("libgcc_s.so.1").is_none() {
                    for f in required() {
                        plan.ensure_file(f.path.as_ref(), format!("{label}: {}", need.summary));
                    }
                }
            }
            "gconv" => {
                if !base.gconv {
                    for f in required() {
                        plan.ensure_file(f.path.as_ref(), format!("{label}: {}", need.summary));
                    }
                }
            }
            "dlopen" => {
                for f in required() {
                    let path: &str = f.path.as_ref();
                    let soname = path.rsplit('/').next().unwrap_or(path);
                    if base.library(soname).is_none()
                        && !provided_by_libc(base, plan.ctx.catalog, soname)
                    {
                        plan.ensure_file(path, format!("{label}: {}", need.summary));
                    }
                }
            }
            _ => {
                for f in required() {
                    plan.ensure_file(f.path.as_ref(), format!("{label}: {}", need.summary));
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
    let name = soname.rsplit('/').next().unwrap_or(soname);
    catalog.glibc_sonames.iter().any(|s| s == name)
        || name.starts_with("ld-linux")
        || name.starts_with("ld64.so")
        || name.starts_with("libc.musl-")
        || name.starts_with("ld-musl-")
        || name == "libc.so"
}

fn provided_by_libc(base: &BaseImage, catalog: &Catalog, soname: &str) -> bool {
    let name = soname.rsplit('/').next().unwrap_or(soname);
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

/// The program's own path as the closure's `needed_by` names it.
pub(crate) fn closure_program_path(report: &Report) -> String {
    let Some(closure) = &report.closure else {
        return report.path.clone();
    };
    // The program is the one needer that is not itself a listed library.
    let libraries: BTreeSet<&str> = closure.libraries.iter().map(|l| l.path.as_str()).collect();
    closure
        .libraries
        .iter()
        .flat_map(|l| l.needed_by.iter())
        .chain(closure.missing.iter().flat_map(|m| m.needed_by.iter()))
        .find(|n| !libraries.contains(n.as_str()))
        .cloned()
        .unwrap_or_else(|| report.path.clone())
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => "/",
    }
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
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
