//! One judgement of "can this root run this program", written once.
//!
//! `verify` asks it of a real root filesystem, the base-image advice of every catalog image.
//! A root is described by [`RootFacts`] (its C library, files, libraries, shell, CA bundle,
//! `nsswitch.conf`), and [`judge`] reads a [`Report`] against it: the C library family, the
//! interpreter, and every hidden need that is `required` or `likely`. It returns typed
//! [`Finding`]s; each caller words them for people and acts on them in its own way (`verify`
//! lists problems, the advice plans the files it can copy). [`glibc_floor`] is the floor
//! rule, which the advice also applies to the libraries it copies.
//!
//! The libraries of the closure are not judged here: `verify` reads them from the closure
//! resolved in the root itself, and the advice plans which to copy (its own business).

use crate::abi::Abi;
use crate::report::{
    Certainty, Code, Endian, LibcFamily, Linkage, Need, NeedFile, NeedKind, Report,
};
use crate::resolve::basename;
use crate::version::Version;

/// Files a container engine creates at run time in every image, scratch included.
pub(crate) const RUNTIME_INJECTED: &[&str] = &["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"];

/// What a root filesystem holds, as far as running a program goes.
pub(crate) trait RootFacts {
    /// Its C library family and version, when it has glibc or musl.
    fn libc(&self) -> Option<(LibcFamily, Option<Version>)>;
    /// Whether it is published for this OCI platform (a real root is what it is: yes).
    fn supports(&self, platform: Option<&str>) -> bool;
    /// Whether the program interpreter `path` is there.
    fn has_interpreter(&self, path: &str) -> bool;
    /// Whether a file (or a directory, written with a trailing `/`) is there.
    fn has_file(&self, path: &str) -> bool;
    /// Whether a library of this file name is where the program's loader looks.
    fn has_library(&self, name: &str) -> bool;
    /// Whether `/bin/sh` is there.
    fn has_shell(&self) -> bool;
    /// Whether a CA bundle is where TLS runtimes look.
    fn has_ca_bundle(&self) -> bool;
    /// Whether every file of this kind of need is there as a whole (time zones, gconv
    /// modules), as a catalog knows of an image; a real root answers file by file.
    fn covers(&self, kind: NeedKind) -> bool;
    /// The services `nsswitch.conf` names for `db`, when the file names the database.
    fn nsswitch(&self, db: &str) -> Option<Vec<String>>;
    /// Whether the glibc NSS module of this service (`libnss_<service>.so.2`) is there.
    fn has_nss_module(&self, service: &str) -> bool;
    /// A variable the root's configuration sets for every program (an image's `Env`).
    fn env(&self, name: &str) -> Option<&str>;
}

/// One thing the judgement found, in the order it checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding<'r> {
    /// The file is a library or an object file: nothing to start.
    NotAProgram,
    /// The root is not published for the file's platform.
    PlatformUnsupported,
    /// A static program: nothing to load from the root.
    Static,
    /// The program's C library family is not the root's.
    LibcMismatch {
        /// The program's.
        program: LibcFamily,
        /// The root's.
        root: Option<LibcFamily>,
    },
    /// A C library no root here carries (bionic, uClibc...).
    LibcUnsupported(LibcFamily),
    /// The interpreter is not there.
    InterpreterMissing(&'r str),
    /// The interpreter is there.
    InterpreterPresent(&'r str),
    /// What a hidden need found.
    Need(&'r Need, NeedFinding<'r>),
}

/// What the judgement found for one hidden need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NeedFinding<'r> {
    /// `/bin/sh` is missing.
    ShellMissing,
    /// No CA bundle; the first file the need names (where runtimes look first) would do.
    CaBundleMissing(Option<&'r NeedFile>),
    /// A static program loads these only with its own glibc: nothing to check or plan.
    NotPlanned,
    /// A file the container engine creates at run time.
    RuntimeInjected(&'r str),
    /// A library the need names is not where the loader looks.
    LibraryMissing(&'r NeedFile),
    /// A file the need names is missing.
    FileMissing(&'r NeedFile),
    /// `nsswitch.conf` routes the database only to services the program cannot load.
    NssUnusable {
        /// The database.
        db: &'r str,
        /// The services named for it.
        services: Vec<String>,
    },
}

/// A program that maps no loader and no shared library.
pub(crate) fn is_static(report: &Report) -> bool {
    report.interpreter.is_none() && matches!(report.linkage, Linkage::Static | Linkage::StaticPie)
}

/// Judges `report` against `root`: the program as a whole first (whether it is one, the
/// platform, the C library family, the interpreter), then each hidden need. What a finding
/// weighs is the caller's, by the need's certainty (see [`weighs`]).
pub(crate) fn judge<'r>(report: &'r Report, root: &dyn RootFacts) -> Vec<Finding<'r>> {
    let mut findings = Vec::new();
    if !report.executable {
        findings.push(Finding::NotAProgram);
    }
    if !root.supports(report.platform.as_deref()) {
        findings.push(Finding::PlatformUnsupported);
    }
    let is_static = is_static(report);
    if is_static {
        findings.push(Finding::Static);
    } else {
        let family = report.libc.family;
        let root_family = root.libc().map(|(f, _)| f);
        match family {
            LibcFamily::Glibc | LibcFamily::Musl if root_family != Some(family) => {
                findings.push(Finding::LibcMismatch {
                    program: family,
                    root: root_family,
                });
            }
            LibcFamily::Glibc | LibcFamily::Musl => {}
            other => findings.push(Finding::LibcUnsupported(other)),
        }
    }
    if let Some(interp) = report.interpreter.as_deref() {
        findings.push(if root.has_interpreter(interp) {
            Finding::InterpreterPresent(interp)
        } else {
            Finding::InterpreterMissing(interp)
        });
    }
    let glibc = root
        .libc()
        .filter(|(f, _)| *f == LibcFamily::Glibc)
        .and_then(|(_, v)| v);
    for need in &report.needs {
        judge_need(need, is_static, glibc, root, &mut findings);
    }
    findings
}

fn judge_need<'r>(
    need: &'r Need,
    is_static: bool,
    glibc: Option<Version>,
    root: &dyn RootFacts,
    out: &mut Vec<Finding<'r>>,
) {
    let mut found = |what| out.push(Finding::Need(need, what));
    match need.kind {
        kind if root.covers(kind) => return,
        NeedKind::Shell if !root.has_shell() => {
            found(NeedFinding::ShellMissing);
            return;
        }
        // OpenSSL, dynamic or built into the program, takes SSL_CERT_FILE over its
        // OPENSSLDIR (distroless sets it).
        NeedKind::CaCertificates
            if matches!(need.name.as_deref(), Some("openssl" | "vendored openssl"))
                && root.env("SSL_CERT_FILE").is_some_and(|f| root.has_file(f)) =>
        {
            return;
        }
        // Runtimes that search a list take any bundle of it; the others open the path
        // compiled into them, judged below as any required file.
        NeedKind::CaCertificates if searches_a_list(need) => {
            if !root.has_ca_bundle() {
                let first = need
                    .files
                    .iter()
                    .find(|f| f.required && condition_holds(f, glibc, is_static));
                found(NeedFinding::CaBundleMissing(first));
            }
            return;
        }
        NeedKind::LibgccS | NeedKind::Gconv if is_static => {
            found(NeedFinding::NotPlanned);
            return;
        }
        _ => {}
    }
    for file in need
        .files
        .iter()
        .filter(|f| f.required && condition_holds(f, glibc, is_static))
    {
        let path: &str = file.path.as_ref();
        if RUNTIME_INJECTED.contains(&path) {
            found(NeedFinding::RuntimeInjected(path));
        } else if is_library(path) {
            if !root.has_library(basename(path)) {
                found(NeedFinding::LibraryMissing(file));
            }
        } else if !root.has_file(path) {
            found(NeedFinding::FileMissing(file));
        }
    }
    if need.kind == NeedKind::Nss {
        if let Some(db) = need.name.as_deref() {
            if let Some(services) = root.nsswitch(db) {
                let usable = services
                    .iter()
                    .any(|s| nss_builtin(s, db) || (!is_static && root.has_nss_module(s)));
                if !usable {
                    found(NeedFinding::NssUnusable { db, services });
                }
            }
        }
    }
}

/// Whether a CA need's runtime takes the first bundle it finds in a list of places (Go,
/// openssl-probe), rather than the one path compiled into it (OpenSSL, GnuTLS, libcurl).
fn searches_a_list(need: &Need) -> bool {
    need.name
        .as_deref()
        .is_some_and(|n| crate::needs::CA_SEARCHES_A_LIST.contains(&n))
}

/// What an unmet need weighs, by its certainty: a `required` or `likely` one fails the
/// root; a `possible` one (weaker hints) is a warning, unless the caller asked to include
/// possible needs.
pub(crate) fn weighs(need: &Need, include_possible: bool) -> Weight {
    if need.certainty == Certainty::Possible && !include_possible {
        Weight::Warning
    } else {
        Weight::Fails
    }
}

/// See [`weighs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Fails,
    Warning,
}

/// Whether a need's file matters in a root with this glibc: `glibc < X` holds for a glibc
/// older than X, and always for a static program (linked with a glibc of unknown age) or
/// when the root's glibc version is unknown; other conditions are circumstances of use,
/// taken as holding.
pub(crate) fn condition_holds(file: &NeedFile, glibc: Option<Version>, is_static: bool) -> bool {
    match (file.glibc_below, glibc) {
        (Some(below), Some(have)) if !is_static => have < below,
        _ => true,
    }
}

/// The glibc floor against a root's glibc: `Some(Ok(have))` when met, `Some(Err(have))`
/// when the root's glibc is older, `None` when the root has no glibc of known version.
pub(crate) fn glibc_floor(
    floor: Version,
    root: &dyn RootFacts,
) -> Option<Result<Version, Version>> {
    let (family, have) = root.libc()?;
    let have = have.filter(|_| family == LibcFamily::Glibc)?;
    Some(if floor > have { Err(have) } else { Ok(have) })
}

/// glibc's NSS services that need no module: `files`, and `dns` for hosts (built in since
/// 2.34, and all a static program has).
pub(crate) fn nss_builtin(service: &str, db: &str) -> bool {
    service == "files" || (service == "dns" && db == "hosts")
}

/// Whether a need's file is a shared library (looked for where the loader looks, and
/// never copied when it is part of glibc).
pub(crate) fn is_library(path: &str) -> bool {
    basename(path).contains(".so")
}

/// How a need is named in sentences: `nss (passwd, likely)`.
pub(crate) fn label(need: &Need) -> String {
    match &need.name {
        Some(n) => format!("{} ({n}, {})", need.kind, need.certainty),
        None => format!("{} ({})", need.kind, need.certainty),
    }
}

/// The file's ABI in a container image: as its header says, hard-float on ARM (a report
/// does not carry the float ABI, and `linux/arm` images are hard-float).
pub(crate) fn image_abi(report: &Report) -> Abi {
    let elf = &report.elf;
    Abi {
        machine: elf.e_machine,
        is_64: elf.class == 64,
        big_endian: elf.endian == Endian::Big,
        hard_float: true,
    }
}

/// The Debian multiarch triplet of the file's ABI in a container image.
pub(crate) fn triplet(report: &Report) -> Option<&'static str> {
    image_abi(report).debian_triplet()
}

/// Sentences for people, each with the [`Code`] a tool matches on: the two parallel lists
/// of the contract (`why` and `why_codes`, `problems` and `problem_codes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sentences {
    pub text: Vec<String>,
    pub codes: Vec<Code>,
}

impl Sentences {
    pub fn push(&mut self, code: Code, text: String) {
        self.text.push(text);
        self.codes.push(code);
    }

    /// Adds the sentence unless the same one is already there.
    pub fn push_once(&mut self, code: Code, text: String) {
        if !self.text.contains(&text) {
            self.push(code, text);
        }
    }

    pub fn append(&mut self, other: &Sentences) {
        self.text.extend(other.text.iter().cloned());
        self.codes.extend(other.codes.iter().copied());
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::NeedBuilder;

    /// A root of a few files, a bundle flag and an environment.
    #[derive(Default)]
    struct Fake {
        files: Vec<&'static str>,
        any_bundle: bool,
        ssl_cert_file: Option<&'static str>,
    }

    impl RootFacts for Fake {
        fn libc(&self) -> Option<(LibcFamily, Option<Version>)> {
            Some((LibcFamily::Glibc, Version::parse("2.36")))
        }
        fn supports(&self, _: Option<&str>) -> bool {
            true
        }
        fn has_interpreter(&self, _: &str) -> bool {
            true
        }
        fn has_file(&self, path: &str) -> bool {
            self.files.contains(&path)
        }
        fn has_library(&self, _: &str) -> bool {
            true
        }
        fn has_shell(&self) -> bool {
            false
        }
        fn has_ca_bundle(&self) -> bool {
            self.any_bundle
        }
        fn covers(&self, _: NeedKind) -> bool {
            false
        }
        fn nsswitch(&self, _: &str) -> Option<Vec<String>> {
            None
        }
        fn has_nss_module(&self, _: &str) -> bool {
            false
        }
        fn env(&self, name: &str) -> Option<&str> {
            (name == "SSL_CERT_FILE")
                .then_some(self.ssl_cert_file)
                .flatten()
        }
    }

    fn ca(name: &'static str, path: &'static str) -> Need {
        NeedBuilder::new(NeedKind::CaCertificates, name, Certainty::Likely, "s")
            .required(path, None)
            .build()
    }

    fn findings(need: &Need, root: &Fake) -> Vec<String> {
        let mut out = Vec::new();
        judge_need(need, false, Version::parse("2.36"), root, &mut out);
        out.iter().map(|f| format!("{f:?}")).collect()
    }

    #[test]
    fn each_runtime_is_judged_where_it_opens_its_bundle() {
        let bundle = "/etc/ssl/certs/ca-certificates.crt";
        let distroless = Fake {
            files: vec![bundle],
            any_bundle: true,
            ssl_cert_file: None,
        };
        // OpenSSL opens cert.pem under its OPENSSLDIR: a bundle elsewhere does not do.
        let openssl = ca("openssl", "/usr/lib/ssl/cert.pem");
        let found = findings(&openssl, &distroless);
        assert!(
            found.len() == 1 && found[0].contains("FileMissing"),
            "{found:?}"
        );
        // ...unless SSL_CERT_FILE names a file the root has.
        let with_env = Fake {
            ssl_cert_file: Some(bundle),
            ..distroless
        };
        assert!(findings(&openssl, &with_env).is_empty());
        let dangling = Fake {
            files: Vec::new(),
            any_bundle: false,
            ssl_cert_file: Some(bundle),
        };
        assert_eq!(findings(&openssl, &dangling).len(), 1);
        // Go takes the first bundle of its list.
        let go = ca("go crypto/x509", bundle);
        let elsewhere = Fake {
            any_bundle: true,
            ..Fake::default()
        };
        assert!(findings(&go, &elsewhere).is_empty());
        let found = findings(&go, &Fake::default());
        assert!(
            found.len() == 1 && found[0].contains("CaBundleMissing"),
            "{found:?}"
        );
    }

    #[test]
    fn glibc_conditions_hold_below_their_version() {
        let module = NeedBuilder::new(NeedKind::Nss, "passwd", Certainty::Likely, "s")
            .required_below_glibc("/lib/libnss_files.so.2", "glibc < 2.34", Version::of(2, 34))
            .build();
        let file = &module.files[0];
        assert!(!condition_holds(file, Version::parse("2.36"), false));
        assert!(condition_holds(file, Version::parse("2.31"), false));
        // A static program was linked with a glibc of unknown age; so is an unknown root.
        assert!(condition_holds(file, Version::parse("2.36"), true));
        assert!(condition_holds(file, None, false));
    }

    #[test]
    fn a_missing_shell_is_found_and_weighed_by_certainty() {
        let shell = |certainty| {
            NeedBuilder::new(NeedKind::Shell, "/bin/sh", certainty, "s")
                .required("/bin/sh", None)
                .build()
        };
        let likely = shell(Certainty::Likely);
        let found = findings(&likely, &Fake::default());
        assert!(
            found.len() == 1 && found[0].contains("ShellMissing"),
            "{found:?}"
        );
        assert_eq!(weighs(&likely, false), Weight::Fails);
        let possible = shell(Certainty::Possible);
        assert_eq!(weighs(&possible, false), Weight::Warning);
        assert_eq!(weighs(&possible, true), Weight::Fails);
    }
}
