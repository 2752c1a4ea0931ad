//! Verify: can a file run in a given root filesystem (an unpacked image), and if not, what
//! exactly is missing. The root is judged by the one judgement ([`crate::judge`]) from its
//! own files: its C library version (read from the library, not from a catalog), the closure
//! already resolved in it, and the files the hidden needs ask for. The libraries those needs
//! name are looked for by the root's loader ([`Resolver`]), as it would search them for the
//! program.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use crate::error::Limits;
use crate::judge::{self, Finding, NeedFinding, RootFacts, Sentences, Weight};
use crate::report::{Code, LibcFamily, NeedKind, Report, RootLibc, Verification};
use crate::resolve::object::LoadInfo;
use crate::resolve::{ResolveOptions, Resolver, basename};
use crate::rootfs::{Root, join_path};
use crate::version::Version;

/// The most bytes read of a root's libc or loader to find its version.
const MAX_LIBC_BYTES: u64 = 32 << 20;

/// The most bytes of `nsswitch.conf` read.
const MAX_NSSWITCH_BYTES: u64 = 1 << 20;

/// Where CA bundles are looked for by the common runtimes (OpenSSL, Go, rustls-native-certs).
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Checks `report` (inspected with its closure in `root`, see [`crate::inspect_in_root`])
/// against the root filesystem `root`, a directory.
///
/// The libraries the hidden needs name are searched by the root's loader with the
/// `LD_LIBRARY_PATH` the closure was resolved with, if any.
///
/// # Errors
///
/// [`crate::Error::Io`] when `root` cannot be opened as a directory.
///
/// # Examples
///
/// ```no_run
/// use runbase::{Limits, Options, ResolveOptions, Resolver, inspect_in_root, verify};
///
/// let root = std::path::Path::new("/srv/rootfs");
/// let mut resolver = Resolver::new(root, &Limits::default(), &ResolveOptions::default())?;
/// let report = inspect_in_root("/srv/rootfs/usr/bin/app".as_ref(), &Options::default(), &mut resolver)?;
/// let verification = verify(&report, root)?;
/// println!("runs: {}", verification.runs);
/// # Ok::<(), runbase::Error>(())
/// ```
pub fn verify(report: &Report, root: &Path) -> crate::Result<Verification> {
    let ld_library_path = report
        .closure
        .as_ref()
        .and_then(|c| c.search.as_ref())
        .map(|s| s.ld_library_path.clone())
        .filter(|dirs| !dirs.is_empty());
    let options = ResolveOptions {
        ld_library_path,
        ..ResolveOptions::default()
    };
    let mut resolver = Resolver::new(root, &Limits::default(), &options)?;
    Ok(verify_with(report, &mut resolver))
}

/// Checks `report` against the root of `resolver` (a directory or an image), which finds
/// the libraries the hidden needs name as the root's loader would for the program.
pub fn verify_with(report: &Report, resolver: &mut Resolver) -> Verification {
    let root = resolver.root().to_path_buf();
    let r = Root::new(resolver.root_fs().clone());
    let mut problems = Sentences::default();
    let mut notes = Vec::new();
    let loader = Loader::new(report, resolver);
    let libc = root_libc(&r, report, &loader);
    match &libc {
        Some(l) => notes.push(format!(
            "the root's C library: {} {} ({})",
            l.family,
            l.version
                .map_or_else(|| "of unknown version".to_string(), |v| v.to_string()),
            l.path
        )),
        None => notes.push("the root has no glibc or musl C library".into()),
    }
    let facts = RealRoot {
        r: &r,
        report,
        loader,
        libc: libc.as_ref().map(|l| (l.family, l.version)),
        nsswitch: r
            .read("/etc/nsswitch.conf", MAX_NSSWITCH_BYTES)
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    };
    let findings = judge::judge(report, &facts);

    // The program as a whole: its interpreter, then its C library, then its glibc floor.
    for finding in &findings {
        match finding {
            Finding::InterpreterPresent(interp) => {
                notes.push(format!("the interpreter {interp} is present"));
            }
            Finding::InterpreterMissing(interp) => problems.push(
                Code::InterpreterMissing,
                format!(
                    "the interpreter {interp} is absent: the kernel refuses to start the program \
                     with \"no such file or directory\""
                ),
            ),
            _ => {}
        }
    }
    for finding in &findings {
        match finding {
            Finding::LibcMismatch { program, root } => problems.push(
                Code::LibcMismatch,
                format!("a {program} program; the root has {}", root_has(*root)),
            ),
            Finding::LibcUnsupported(program) => problems.push(
                Code::LibcUnsupported,
                format!(
                    "a {program} program; the root has {}",
                    root_has(facts.family())
                ),
            ),
            _ => {}
        }
    }
    if let Some(floor) = report
        .libc
        .glibc_required
        .filter(|_| !judge::is_static(report))
    {
        match judge::glibc_floor(floor, &facts) {
            Some(Err(have)) => problems.push(
                Code::GlibcTooOld,
                format!(
                    "needs glibc >= {floor} (set by {}); the root's glibc is {have}",
                    report.libc.glibc_floor_symbols.join(", ")
                ),
            ),
            Some(Ok(have)) => notes.push(format!("glibc {have} >= the floor {floor}")),
            None => {}
        }
    }

    // The libraries, as the closure resolved them in this root.
    if let Some(closure) = &report.closure {
        for m in &closure.missing {
            problems.push(
                Code::LibraryMissing,
                format!(
                    "{} is not found (needed by {}; searched {})",
                    m.soname,
                    m.needed_by.join(", "),
                    if m.tried.is_empty() {
                        "nothing".to_string()
                    } else {
                        m.tried.join(", ")
                    }
                ),
            );
        }
        // The first library listed under each name, looked up once per unmet version.
        let mut path_of: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for l in &closure.libraries {
            path_of.entry(l.soname.as_str()).or_insert(l.path.as_str());
        }
        for u in &closure.unmet_versions {
            let at = path_of
                .get(u.soname.as_str())
                .map(|path| format!(" at {path}"))
                .unwrap_or_default();
            problems.push(
                Code::VersionMissing,
                format!(
                    "{}{at} does not define {} (needed by {})",
                    u.soname,
                    u.version,
                    u.needed_by.join(", ")
                ),
            );
        }
        if closure.missing.is_empty() && closure.unmet_versions.is_empty() {
            notes.push(format!(
                "all {} libraries found with every version needed",
                closure.libraries.len()
            ));
        }
    } else if !report.needed.is_empty() {
        notes.push("libraries not resolved (no closure in the report)".into());
    }

    // The hidden needs: what a `possible` one lacks is a warning, the rest problems.
    let mut warnings = Sentences::default();
    for finding in &findings {
        let Finding::Need(need, what) = finding else {
            continue;
        };
        let label = judge::label(need);
        let summary = &need.summary;
        let problems = match judge::weighs(need, false) {
            Weight::Fails => &mut problems,
            Weight::Warning => &mut warnings,
        };
        match what {
            NeedFinding::ShellMissing => problems.push(
                Code::ShellMissing,
                format!("{label}: /bin/sh is missing ({summary})"),
            ),
            NeedFinding::CaBundleMissing(_) => problems.push(
                Code::CaBundleMissing,
                format!("{label}: no CA bundle ({summary})"),
            ),
            NeedFinding::NotPlanned => notes.push(format!(
                "{label}: a static program loads it only with its own glibc; not checked"
            )),
            NeedFinding::RuntimeInjected(path) => {
                notes.push(format!(
                    "{path}: created by the container engine at run time"
                ));
            }
            NeedFinding::LibraryMissing(file) => problems.push(
                Code::NeedLibraryMissing,
                format!("{label}: {} is missing ({summary})", basename(&file.path)),
            ),
            NeedFinding::FileMissing(file) => problems.push(
                Code::NeedFileMissing,
                format!("{label}: {} is missing ({summary})", file.path),
            ),
            NeedFinding::NssUnusable { db, services } => problems.push(
                Code::NssServiceUnusable,
                format!(
                    "{label}: the root's nsswitch.conf says `{db}: {}`{}",
                    services.join(" "),
                    if judge::is_static(report) {
                        "; a static glibc program has only the built-in files and dns services"
                    } else {
                        " and the root has no such NSS module"
                    }
                ),
            ),
        }
    }

    Verification {
        root: crate::path_text(&root),
        runs: problems.is_empty(),
        libc,
        problems: problems.text,
        problem_codes: problems.codes,
        warnings: warnings.text,
        warning_codes: warnings.codes,
        notes,
        image: None,
    }
}

/// How a root's C library is named in sentences.
fn root_has(family: Option<LibcFamily>) -> String {
    family.map_or("no C library".to_string(), |f| format!("{f}'s C library"))
}

fn exists(r: &Root, path: &str) -> bool {
    r.canonical(path.trim_end_matches('/')).is_ok()
}

/// The root's loader, asked where it finds a library for the program.
struct Loader<'a> {
    resolver: RefCell<&'a mut Resolver>,
    /// The program as the loader sees it, known by its report: one view per float ABI when
    /// that matters (ARM), as a report does not say which the program has.
    programs: Vec<Arc<LoadInfo>>,
    /// The same under glibc's rules (a musl program's loader left out), to find the root's
    /// glibc whatever the program's C library.
    glibc_programs: Vec<Arc<LoadInfo>>,
    /// The program's path inside the root (its `$ORIGIN`).
    in_root: String,
}

impl<'a> Loader<'a> {
    fn new(report: &Report, resolver: &'a mut Resolver) -> Loader<'a> {
        let in_root = match &report.closure {
            Some(closure) => closure.file_in_root.clone(),
            None => resolver.in_root_path(Path::new(&report.path)),
        };
        let programs = if crate::abi::float_abi_matters(report.elf.e_machine) {
            vec![true, false]
        } else {
            vec![false]
        };
        let programs: Vec<Arc<LoadInfo>> = programs
            .into_iter()
            .map(|hard_float| Arc::new(LoadInfo::from_report(report, hard_float)))
            .collect();
        let glibc_programs = programs
            .iter()
            .map(|program| {
                let musl = program
                    .interpreter
                    .as_deref()
                    .is_some_and(|i| basename(i).starts_with("ld-musl-"));
                Arc::new(LoadInfo {
                    interpreter: program.interpreter.clone().filter(|_| !musl),
                    // Needing `libc.so` without a loader is what would make it musl's.
                    needed: Vec::new(),
                    ..LoadInfo::clone(program)
                })
            })
            .collect();
        Loader {
            resolver: RefCell::new(resolver),
            programs,
            glibc_programs,
            in_root,
        }
    }

    /// Where the loader finds `name` for the program (of either float ABI, when the report
    /// cannot tell), as a canonical in-root path.
    fn find(&self, name: &str) -> Option<String> {
        self.find_for(&self.programs, name)
    }

    /// Where glibc's loader would find `libc.so.6` for a program of this ABI and paths.
    fn find_glibc(&self) -> Option<String> {
        self.find_for(&self.glibc_programs, "libc.so.6")
    }

    fn find_for(&self, programs: &[Arc<LoadInfo>], name: &str) -> Option<String> {
        let mut resolver = self.resolver.borrow_mut();
        programs
            .iter()
            .find_map(|program| resolver.find_library(program, &self.in_root, name))
    }
}

/// A real root filesystem, as the judgement sees it: its own files, read now.
struct RealRoot<'a> {
    r: &'a Root,
    report: &'a Report,
    /// The root's loader, which finds libraries.
    loader: Loader<'a>,
    libc: Option<(LibcFamily, Option<Version>)>,
    /// `/etc/nsswitch.conf`, when the root has one.
    nsswitch: Option<String>,
}

impl RealRoot<'_> {
    fn family(&self) -> Option<LibcFamily> {
        self.libc.map(|(f, _)| f)
    }

    /// Whether the program would have a library of this name: one of its closure loaded
    /// under that name, else one the root's loader finds for it.
    fn library_present(&self, name: &str) -> bool {
        let loaded = self
            .report
            .closure
            .as_ref()
            .is_some_and(|c| c.libraries.iter().any(|l| l.soname == name));
        loaded || self.loader.find(name).is_some()
    }
}

impl RootFacts for RealRoot<'_> {
    fn libc(&self) -> Option<(LibcFamily, Option<Version>)> {
        self.libc
    }

    fn supports(&self, _: Option<&str>) -> bool {
        true
    }

    /// The closure resolved in this root knows; without one, the file is looked for.
    fn has_interpreter(&self, path: &str) -> bool {
        self.report
            .closure
            .as_ref()
            .and_then(|c| c.interpreter.as_ref())
            .map(|i| i.found)
            .unwrap_or_else(|| self.r.file(path).is_ok())
    }

    fn has_file(&self, path: &str) -> bool {
        exists(self.r, path)
    }

    fn has_library(&self, name: &str) -> bool {
        self.library_present(name)
    }

    fn has_shell(&self) -> bool {
        exists(self.r, "/bin/sh")
    }

    fn has_ca_bundle(&self) -> bool {
        CA_BUNDLES.iter().any(|p| exists(self.r, p)) || !self.r.list("/etc/ssl/certs").is_empty()
    }

    fn covers(&self, _: NeedKind) -> bool {
        false
    }

    /// The first line of `nsswitch.conf` for `db`, its `[action]` items left out. Without
    /// the file, glibc's defaults apply: files (and dns for hosts), built in since 2.34.
    fn nsswitch(&self, db: &str) -> Option<Vec<String>> {
        self.nsswitch.as_deref()?.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let (name, rest) = line.split_once(':')?;
            (name.trim() == db).then(|| {
                rest.split_whitespace()
                    .filter(|w| !w.starts_with('['))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
        })
    }

    /// A directory has no configuration of its own: the environment is the caller's.
    fn env(&self, _: &str) -> Option<&str> {
        None
    }

    fn has_nss_module(&self, service: &str) -> bool {
        self.library_present(&format!("libnss_{service}.so.2"))
    }
}

/// The root's C library: the one the program loads (its closure's `libc.so.6`, or its
/// musl loader), else whatever the root has: the `libc.so.6` its loader finds for the
/// program (glibc's banner names the version), then a musl loader `/lib/ld-musl-<arch>.so.1`
/// (which holds its version).
fn root_libc(r: &Root, report: &Report, loader: &Loader<'_>) -> Option<RootLibc> {
    let glibc_at = |path: String| RootLibc {
        family: LibcFamily::Glibc,
        version: r
            .read(&path, MAX_LIBC_BYTES)
            .and_then(|b| glibc_version(&b)),
        path,
    };
    let musl_at = |path: String| RootLibc {
        family: LibcFamily::Musl,
        version: r.read(&path, MAX_LIBC_BYTES).and_then(|b| musl_version(&b)),
        path,
    };
    let closure = report.closure.as_ref();
    if let Some(lib) = closure.and_then(|c| c.libraries.iter().find(|l| l.soname == "libc.so.6")) {
        return Some(glibc_at(lib.path.clone()));
    }
    if let Some(interp) = report.interpreter.as_deref() {
        if basename(interp).starts_with("ld-musl-") {
            if let Ok(found) = r.file(interp) {
                return Some(musl_at(found));
            }
        }
    }
    if let Some(found) = loader.find_glibc() {
        return Some(glibc_at(found));
    }
    let mut loaders: Vec<String> = r
        .list("/lib")
        .into_iter()
        .filter(|n| n.starts_with("ld-musl-") && n.ends_with(".so.1"))
        .collect();
    loaders.sort();
    let found = r.file(&join_path("/lib", loaders.first()?)).ok()?;
    Some(musl_at(found))
}

/// glibc's banner: "... stable release version 2.36." (or "release version").
fn glibc_version(bytes: &[u8]) -> Option<Version> {
    let marker = b"release version ";
    let at = memchr::memmem::find(bytes, marker)?;
    let rest = bytes.get(at.checked_add(marker.len())?..)?;
    let text: String = rest
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|&b| char::from(b))
        .collect();
    let text = text.trim_end_matches('.');
    Version::parse(text).filter(|v| v.parts().len() >= 2)
}

/// musl keeps its version as a bare string ("1.2.3") in its read-only data, the only
/// NUL-terminated string there made of three dotted numbers; the first after
/// "musl libc" (its `ldd` banner) is taken.
fn musl_version(bytes: &[u8]) -> Option<Version> {
    let start = memchr::memmem::find(bytes, b"musl libc").unwrap_or(0);
    let tail = bytes.get(start..)?;
    tail.split(|&b| b == 0).find_map(|s| {
        let text = std::str::from_utf8(s).ok()?;
        let parts: Vec<&str> = text.split('.').collect();
        let numeric = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
        numeric.then(|| Version::parse(text)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings() {
        let banner =
            b"xx\0GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\n";
        assert_eq!(
            glibc_version(banner).map(|v| v.to_string()).as_deref(),
            Some("2.36")
        );
        let musl = b"1.0.0x\0musl libc (x86_64)\0Version %s\n\0abc\x001.2.3\0";
        assert_eq!(
            musl_version(musl).map(|v| v.to_string()).as_deref(),
            Some("1.2.3")
        );
        assert_eq!(musl_version(b"nothing here\0"), None);
    }
}
