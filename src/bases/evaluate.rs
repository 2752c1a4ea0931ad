//! One base image against one report: can the file run there as is, with files added from
//! the build stage, or not at all, and why.
//!
//! Whether the image can run the program is the one judgement ([`crate::judge`]) asked of
//! the image's catalog facts. What is this module's own is the plan: which files to copy
//! from the build stage, where they go, and what they weigh. The loader and the C library
//! always come from the base (never copied into it). Other libraries of the closure come
//! from the base when it has them with every symbol version their users need, else they
//! are copied; copied libraries bring their own needs, so the copy set grows to a fixed
//! point.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::catalog::{BaseImage, Catalog, musl_loader};
use crate::abi::Abi;
use crate::judge::{self, Finding, NeedFinding, RootFacts, Sentences, Weight};
use crate::report::{
    AddFile, Certainty, Code, FoundVia, LibcFamily, NeedFile, NeedKind, Report, Verdict,
};
use crate::resolve::basename;
use crate::rootfs::{Kind, Root, join_path, parent};
use crate::version::Version;

/// The outcome for one base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub verdict: Verdict,
    pub why: Sentences,
    pub add_files: Vec<AddFile>,
    /// Where the program itself goes in the image.
    pub program_path: String,
    /// Bytes of the program plus the added files (uncompressed).
    pub added_bytes: Option<u64>,
}

/// What the evaluation reads besides the report.
pub(crate) struct Context<'a> {
    pub catalog: &'a Catalog,
    /// The build stage's root: where added files are copied from (`None` when it cannot be
    /// opened: nothing is found in it).
    pub build_root: Option<&'a Root>,
    /// The program's path in the build stage.
    pub program_from: &'a str,
    /// Sizes of build-root paths, measured once for all images (a zoneinfo tree is
    /// planned for many of them).
    pub sizes: RefCell<HashMap<String, Option<u64>>>,
    /// Whether `possible` needs are planned like likely ones.
    pub include_possible: bool,
}

impl Context<'_> {
    fn size_of(&self, path: &str) -> Option<u64> {
        if let Some(size) = self.sizes.borrow().get(path) {
            return *size;
        }
        let size = self.build_root.and_then(|root| size_in_root(root, path));
        self.sizes.borrow_mut().insert(path.to_string(), size);
        size
    }

    fn in_build_root(&self, path: &str) -> bool {
        self.build_root
            .is_some_and(|root| root.canonical(path.trim_end_matches('/')).is_ok())
    }
}

/// A catalog image, as the judgement sees it: the catalog's facts about it.
struct CatalogImage<'a> {
    base: &'a BaseImage,
    catalog: &'a Catalog,
    /// The program's ABI, for the glibc interpreter images have.
    abi: Abi,
    /// The program's platform, for the musl loader images have.
    platform: &'a str,
}

impl RootFacts for CatalogImage<'_> {
    fn libc(&self) -> Option<(LibcFamily, Option<Version>)> {
        self.base.libc.as_ref().map(|l| (l.family, Some(l.version)))
    }

    fn supports(&self, platform: Option<&str>) -> bool {
        self.base.supports(platform)
    }

    /// A glibc image has its ABI's standard interpreter; a musl image musl's loader for the
    /// platform (any, when the platform's is not known).
    fn has_interpreter(&self, path: &str) -> bool {
        if self.base.is_glibc() {
            path == self.abi.glibc_interpreter()
        } else if self.base.is_musl() {
            musl_loader(self.platform).is_none_or(|l| l == path)
        } else {
            false
        }
    }

    fn has_file(&self, path: &str) -> bool {
        self.base.has_file(path)
    }

    fn has_library(&self, name: &str) -> bool {
        self.base.library(name).is_some() || provided_by_libc(self.base, self.catalog, name)
    }

    fn has_shell(&self) -> bool {
        self.base.shell.is_some()
    }

    fn has_ca_bundle(&self) -> bool {
        self.base.ca_certificates.is_some()
    }

    fn covers(&self, kind: NeedKind) -> bool {
        match kind {
            NeedKind::Tzdata => self.base.tzdata,
            NeedKind::Gconv => self.base.gconv,
            _ => false,
        }
    }

    fn nsswitch(&self, db: &str) -> Option<Vec<String>> {
        self.base.nsswitch.as_ref()?.get(db).cloned()
    }

    fn has_nss_module(&self, service: &str) -> bool {
        self.base.nss_modules.iter().any(|m| m == service)
    }

    fn env(&self, name: &str) -> Option<&str> {
        self.base.env.get(name).map(String::as_str)
    }
}

struct Plan<'a> {
    base: &'a BaseImage,
    ctx: &'a Context<'a>,
    fails: Sentences,
    why: Sentences,
    add: Vec<AddFile>,
}

impl Plan<'_> {
    fn fail(&mut self, code: Code, reason: String) {
        self.fails.push_once(code, reason);
    }

    /// Adds a file unless the base has it or it is already planned. The account databases
    /// are never copied: they are written with only `root` and `nobody`. A file the build
    /// stage does not have cannot be copied: that fails the base for a `required` need; a
    /// `likely` one is only warned about, since the program runs without it where it was
    /// built.
    fn ensure_file(&mut self, path: &str, certainty: Certainty, why: String) {
        if self.base.has_file(path) || self.add.iter().any(|a| a.path == path) {
            return;
        }
        if let Some(content) = generated(path) {
            self.add.push(AddFile {
                path: path.to_string(),
                from: String::new(),
                why: format!("{why} (written with root and nobody only, not copied)"),
                content: Some(content.to_string()),
            });
            return;
        }
        if !self.ctx.in_build_root(path) {
            if certainty == Certainty::Required {
                self.fail(
                    Code::NotInBuildRoot,
                    format!("{why}: {path} is not in the build root, so it cannot be copied"),
                );
            } else {
                self.why.push_once(
                    Code::BuildStageLacks,
                    format!(
                        "{why}: {path} is not in the build stage either, so it is not added \
                         (the program runs without it there)"
                    ),
                );
            }
            return;
        }
        self.add.push(AddFile {
            path: path.to_string(),
            from: path.to_string(),
            why,
            content: None,
        });
    }

    /// A library a need names that the image lacks: glibc's own parts only ever come with
    /// the image's glibc; anything else is copied.
    fn ensure_library(
        &mut self,
        file: &NeedFile,
        certainty: Certainty,
        is_static: bool,
        why: String,
    ) {
        let path: &str = file.path.as_ref();
        let name = basename(path);
        if is_libc_part(self.ctx.catalog, name) {
            let reason = if is_static {
                format!(
                    "{why}: {name} must be of the glibc the program was linked with; no image \
                     is known to carry it"
                )
            } else {
                format!(
                    "{why}: {name} is part of glibc and {} does not carry it",
                    self.base.name
                )
            };
            self.fail(Code::LibcPartMissing, reason);
            return;
        }
        self.ensure_file(path, certainty, why);
    }
}

/// The account databases an image gets when a program looks up users or groups: `root`
/// and `nobody` (Debian's ids), and no password (`*` in the shadow files: no login). The
/// build stage's own files are never copied: they list its accounts, and the shadow files
/// their password hashes.
fn generated(path: &str) -> Option<&'static str> {
    Some(match path {
        "/etc/passwd" => {
            "root:x:0:0:root:/root:/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
        }
        "/etc/group" => "root:x:0:\nnogroup:x:65534:\n",
        "/etc/shadow" => "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
        "/etc/gshadow" => "root:*::\nnogroup:*::\n",
        _ => return None,
    })
}

pub(crate) fn evaluate(report: &Report, base: &BaseImage, ctx: &Context<'_>) -> Evaluation {
    let facts = CatalogImage {
        base,
        catalog: ctx.catalog,
        abi: judge::image_abi(report),
        platform: report.platform.as_deref().unwrap_or(""),
    };
    let findings = judge::judge(report, &facts);
    let mut plan = Plan {
        base,
        ctx,
        fails: Sentences::default(),
        why: Sentences::default(),
        add: Vec::new(),
    };
    let is_static = judge::is_static(report);
    for finding in &findings {
        match finding {
            Finding::NotAProgram => plan.fail(
                Code::NotAProgram,
                format!(
                    "not a program ({}): a run stage starts a program",
                    report.linkage
                ),
            ),
            Finding::PlatformUnsupported => plan.fail(
                Code::PlatformUnsupported,
                format!(
                    "not published for {}",
                    report.platform.as_deref().unwrap_or("this platform")
                ),
            ),
            Finding::Static => plan.why.push(
                Code::StaticProgram,
                format!(
                    "{} program: needs no loader or shared library from the image",
                    report.linkage
                ),
            ),
            _ => {}
        }
    }
    let keep_program_path = !is_static && plan_libraries(report, &findings, &facts, &mut plan);
    plan_needs(&findings, is_static, &mut plan);

    let program_path = if keep_program_path {
        ctx.program_from.to_string()
    } else {
        format!("/usr/local/bin/{}", basename(&report.path))
    };
    let added_bytes = plan
        .add
        .iter()
        .map(|a| match &a.content {
            Some(text) => Some(text.len() as u64),
            None => ctx.size_of(&a.from),
        })
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
    why.append(&plan.why);
    for a in &plan.add {
        why.push(Code::FileAdded, format!("add {}: {}", a.path, a.why));
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
/// its build-stage path (libraries found through its `$ORIGIN` are copied beside it).
fn plan_libraries(
    report: &Report,
    findings: &[Finding<'_>],
    facts: &CatalogImage<'_>,
    plan: &mut Plan<'_>,
) -> bool {
    let base = plan.base;
    let catalog = plan.ctx.catalog;
    let libc_wrong = findings.iter().find_map(|f| match f {
        Finding::LibcMismatch { program, .. } => Some((
            Code::LibcMismatch,
            format!("a {program} program; {} has {}", base.name, libc_of(base)),
        )),
        Finding::LibcUnsupported(program) => Some((
            Code::LibcUnsupported,
            format!("a {program} program; no catalog image carries that C library"),
        )),
        _ => None,
    });
    if let Some((code, reason)) = libc_wrong {
        plan.fail(code, reason);
    } else if let Some(interp) = findings.iter().find_map(|f| match f {
        Finding::InterpreterMissing(interp) => Some(*interp),
        _ => None,
    }) {
        let reason = if base.is_glibc() {
            let standard = judge::image_abi(report).glibc_interpreter();
            format!("asks for the interpreter {interp}; glibc images have {standard}")
        } else {
            format!(
                "asks for the interpreter {interp}, which {} does not have",
                base.name
            )
        };
        plan.fail(Code::InterpreterMissing, reason);
    }
    if !plan.fails.is_empty() {
        return false;
    }
    // A DT_NEEDED naming the interpreter is the image's loader.
    let interpreter_name = report.interpreter.as_deref().map(basename);
    let from_image = |soname: &str| Some(soname) == interpreter_name || facts.has_library(soname);

    let Some(closure) = &report.closure else {
        // Without a closure only the direct needs can be checked.
        plan.why.push(
            Code::LibrariesUnresolved,
            "libraries checked by name only (no build root to resolve them in)".into(),
        );
        for soname in report.needed.iter().filter(|s| !from_image(s)) {
            plan.fail(
                Code::LibraryMissing,
                format!(
                    "{soname} is not in {} and its build-stage path is unknown",
                    base.name
                ),
            );
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
                    plan.fail(
                        Code::LibcPartMissing,
                        format!(
                            "{} carries no {soname} (part of glibc: it must come with the \
                             image's own glibc)",
                            base.name
                        ),
                    );
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
            plan.fail(
                Code::LibraryMissing,
                format!(
                    "{} is not in {} and was not found in the build root either",
                    m.soname, base.name
                ),
            );
        }
    }

    // The glibc floor over the program and what is copied (the image's own libraries match
    // its glibc).
    let mut floor: Option<(Version, &str)> = report
        .libc
        .glibc_required
        .map(|v| (v, report.path.as_str()));
    for lib in copied.iter().filter_map(|&i| closure.libraries.get(i)) {
        let versions = lib.version_needs.iter().flat_map(|n| n.versions.iter());
        for v in versions.filter_map(|v| Version::of_glibc_symbol(v.as_bytes())) {
            if floor.is_none_or(|(f, _)| v > f) {
                floor = Some((v, lib.path.as_str()));
            }
        }
    }
    if let Some((f, by)) = floor {
        match judge::glibc_floor(f, facts) {
            Some(Err(have)) => plan.fail(
                Code::GlibcTooOld,
                format!(
                    "needs glibc >= {f} (set by {by}); {} has glibc {have}",
                    base.name
                ),
            ),
            Some(Ok(have)) => plan.why.push(
                Code::GlibcFloorMet,
                format!("glibc {have} >= the floor {f}"),
            ),
            None => {}
        }
    }

    // Where copies go: found through an RPATH/RUNPATH directory -> that directory; through
    // `$ORIGIN` -> where they were, beside whatever needed them, which then stays in place
    // too; otherwise the image's default library directory.
    let triplet = judge::triplet(report);
    let lib_dir = base
        .library_dir
        .as_deref()
        .map(|d| d.replace("{triplet}", triplet.unwrap_or("")));
    let origin_needers: BTreeSet<&str> = reasons
        .keys()
        .filter_map(|&i| closure.libraries.get(i))
        .filter(|lib| lib.found_via == FoundVia::Origin)
        .flat_map(|lib| lib.needed_by.iter().map(String::as_str))
        .collect();
    for (&i, reason) in &reasons {
        let Some(lib) = closure.libraries.get(i) else {
            continue;
        };
        let file_name = basename(&lib.soname);
        let keep = lib.found_via == FoundVia::Origin || origin_needers.contains(lib.path.as_str());
        let dest = match (lib.found_via, &lib.search_entry) {
            _ if keep => join_path(&parent(&lib.path), file_name),
            (FoundVia::Direct, _) => lib.soname.clone(),
            (FoundVia::Rpath | FoundVia::Runpath | FoundVia::InheritedRpath, Some(entry))
                if entry.starts_with('/') && !entry.contains('$') =>
            {
                join_path(entry, file_name)
            }
            (FoundVia::Rpath | FoundVia::Runpath | FoundVia::InheritedRpath, _) => {
                join_path(&parent(&lib.path), file_name)
            }
            _ => join_path(lib_dir.as_deref().unwrap_or(&parent(&lib.path)), file_name),
        };
        if !plan.add.iter().any(|a| a.path == dest) {
            plan.add.push(AddFile {
                path: dest,
                from: lib.path.clone(),
                why: reason.clone(),
                content: None,
            });
        }
    }
    origin_needers.contains(program)
}

/// The hidden needs the judgement found unmet: files the image lacks are added, what
/// cannot be added fails the image. A `possible` need is only said, unless possible needs
/// are included.
fn plan_needs(findings: &[Finding<'_>], is_static: bool, plan: &mut Plan<'_>) {
    let base = plan.base;
    for finding in findings {
        let Finding::Need(need, what) = finding else {
            continue;
        };
        let label = judge::label(need);
        if judge::weighs(need, plan.ctx.include_possible) == Weight::Warning {
            let lacks = match what {
                NeedFinding::ShellMissing => "/bin/sh".to_string(),
                NeedFinding::CaBundleMissing(_) => "a CA bundle".to_string(),
                NeedFinding::LibraryMissing(file) => basename(&file.path).to_string(),
                NeedFinding::FileMissing(file) => file.path.to_string(),
                NeedFinding::NssUnusable { db, .. } => format!("a usable `{db}` service"),
                NeedFinding::NotPlanned | NeedFinding::RuntimeInjected(_) => continue,
            };
            plan.why.push_once(
                Code::PossibleNotPlanned,
                format!(
                    "{label}: {} lacks {lacks}; not planned, as the need is only possible \
                     ({})",
                    base.name, need.summary
                ),
            );
            continue;
        }
        let certainty = need.certainty;
        let why = || format!("{label}: {}", need.summary);
        match what {
            // Only a required shell fails the image: a likely one serves system() and popen(),
            // which then fail (status 127) while the rest of the program runs.
            NeedFinding::ShellMissing if certainty == Certainty::Required => plan.fail(
                Code::ShellMissing,
                format!("{label}: needs /bin/sh; {} has no shell", base.name),
            ),
            NeedFinding::ShellMissing => plan.why.push(
                Code::ShellMissing,
                format!(
                    "{label}: {} has no /bin/sh, so those calls fail (status 127); the rest \
                     of the program runs",
                    base.name
                ),
            ),
            NeedFinding::NotPlanned => plan.why.push(
                Code::NotPlanned,
                format!("{label}: a static program loads it only with its own glibc; not planned"),
            ),
            NeedFinding::RuntimeInjected(_) => {}
            // A CA bundle is one file among the paths each runtime tries: the first will do.
            NeedFinding::CaBundleMissing(first) => {
                if let Some(file) = first {
                    if judge::is_library(&file.path) {
                        plan.ensure_library(file, certainty, is_static, why());
                    } else {
                        plan.ensure_file(&file.path, certainty, why());
                    }
                }
            }
            NeedFinding::LibraryMissing(file) => {
                plan.ensure_library(file, certainty, is_static, why());
            }
            NeedFinding::FileMissing(file) => plan.ensure_file(&file.path, certainty, why()),
            // glibc >= 2.34 has `files` and `dns` built in; any other service is a module
            // that a static program can load only from its own glibc version.
            NeedFinding::NssUnusable { db, services } => {
                let reason = if is_static {
                    format!(
                        "{label}: {}'s nsswitch.conf says `{db}: {}`; a static glibc program \
                         has only the built-in files and dns services (libnss_{} would have \
                         to come from its own glibc)",
                        base.name,
                        services.join(" "),
                        services.first().map(String::as_str).unwrap_or("?"),
                    )
                } else {
                    format!(
                        "{label}: {}'s nsswitch.conf says `{db}: {}` and it has no such NSS \
                         module",
                        base.name,
                        services.join(" ")
                    )
                };
                plan.fail(Code::NssServiceUnusable, reason);
            }
        }
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

/// Bytes of a file or directory tree inside the build root (links below it not
/// followed), or `None` when it is not there.
fn size_in_root(root: &Root, path: &str) -> Option<u64> {
    const MAX_ENTRIES: usize = 200_000;
    let found = root.lookup(path.as_bytes()).ok()?;
    if found.kind != Kind::Dir {
        return Some(found.size);
    }
    let mut total = 0u64;
    let mut seen = 0usize;
    let mut stack = vec![found.canonical];
    while let Some(dir) = stack.pop() {
        for name in root.names(&dir) {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Some(total);
            }
            let mut child = dir.clone();
            if child != b"/" {
                child.push(b'/');
            }
            child.extend_from_slice(&name);
            // Only what is really below `dir`: a link resolves elsewhere.
            match root.lookup(&child) {
                Ok(f) if f.canonical == child && f.kind == Kind::Dir => stack.push(child),
                Ok(f) if f.canonical == child && f.kind == Kind::File => {
                    total = total.saturating_add(f.size);
                }
                _ => {}
            }
        }
    }
    Some(total)
}
