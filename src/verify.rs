//! Verify: can a file run in a given root filesystem (an unpacked image), and if not, what
//! exactly is missing. It reads the closure already resolved in that root, the root's own
//! C library version (from its files, not from a catalog), and checks the hidden needs
//! against the files the root really has.

use std::path::Path;

use crate::bases::catalog;
use crate::error::Limits;
use crate::needs::debian_triplet;
use crate::report::{Certainty, Endian, LibcFamily, Need, NeedFile, Report, RootLibc, Verification};
use crate::resolve::basename;
use crate::resolve::root::{Root, join_path, parent};
use crate::version::compare_dotted;

/// The most bytes read of a root's libc or loader to find its version.
const MAX_LIBC_BYTES: u64 = 32 << 20;

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
/// against the root filesystem `root`.
pub fn verify(report: &Report, root: &Path) -> Verification {
    let r = Root::new(root);
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let dirs = library_dirs(report);
    let libc = root_libc(&r, report, &dirs);
    match &libc {
        Some(l) => notes.push(format!(
            "the root's C library: {} {} ({})",
            l.family,
            l.version.as_deref().unwrap_or("of unknown version"),
            l.path
        )),
        None => notes.push("the root has no glibc or musl C library".into()),
    }

    let dynamic = report.interpreter.is_some();
    if let Some(interp) = &report.interpreter {
        let found = report
            .closure
            .as_ref()
            .and_then(|c| c.interpreter.as_ref())
            .map(|i| i.found)
            .unwrap_or_else(|| r.file(interp).is_ok());
        if found {
            notes.push(format!("the interpreter {interp} is present"));
        } else {
            problems.push(format!(
                "the interpreter {interp} is absent: the kernel refuses to start the program with \"no such file or directory\""
            ));
        }
        let family = report.libc.family;
        let root_family = libc.as_ref().map(|l| l.family.as_str());
        if matches!(family, LibcFamily::Glibc | LibcFamily::Musl) && root_family != Some(family.as_str()) {
            problems.push(format!(
                "a {} program; the root has {}",
                family.as_str(),
                root_family.map_or("no C library".to_string(), |f| format!("{f}'s C library"))
            ));
        }
    }
    if let (Some(floor), Some(RootLibc { family, version: Some(have), .. })) =
        (&report.libc.glibc_required, &libc)
    {
        if dynamic && family == "glibc" {
            if compare_dotted(floor, have).is_gt() {
                problems.push(format!(
                    "needs glibc >= {floor} (set by {}); the root's glibc is {have}",
                    report.libc.glibc_floor_symbols.join(", ")
                ));
            } else {
                notes.push(format!("glibc {have} >= the floor {floor}"));
            }
        }
    }
    if let Some(closure) = &report.closure {
        for m in &closure.missing {
            problems.push(format!(
                "{} is not found (needed by {}; searched {})",
                m.soname,
                m.needed_by.join(", "),
                if m.tried.is_empty() { "nothing".to_string() } else { m.tried.join(", ") }
            ));
        }
        for u in &closure.unmet_versions {
            let at = closure
                .libraries
                .iter()
                .find(|l| l.soname == u.soname)
                .map(|l| format!(" at {}", l.path))
                .unwrap_or_default();
            problems.push(format!(
                "{}{at} does not define {} (needed by {})",
                u.soname,
                u.version,
                u.needed_by.join(", ")
            ));
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

    let checker = NeedChecker {
        r: &r,
        report,
        dirs: &dirs,
        is_static: !dynamic,
        glibc: libc
            .as_ref()
            .filter(|l| l.family == "glibc")
            .and_then(|l| l.version.clone()),
    };
    for need in report.needs.iter().filter(|n| n.certainty != Certainty::Possible) {
        checker.check(need, &mut problems, &mut notes);
    }

    Verification {
        root: root.to_string_lossy().into_owned(),
        runs: problems.is_empty(),
        libc,
        problems,
        notes,
        image: None,
    }
}

fn label(need: &Need) -> String {
    match &need.name {
        Some(n) => format!("{} ({n}, {})", need.kind, need.certainty.as_str()),
        None => format!("{} ({})", need.kind, need.certainty.as_str()),
    }
}

fn exists(r: &Root, path: &str) -> bool {
    r.canonical(path.trim_end_matches('/')).is_ok()
}

/// Checks hidden needs against the files a root really has.
struct NeedChecker<'a> {
    r: &'a Root,
    report: &'a Report,
    dirs: &'a [String],
    is_static: bool,
    /// The root's glibc version, when it has one.
    glibc: Option<String>,
}

impl NeedChecker<'_> {
    fn check(&self, need: &Need, problems: &mut Vec<String>, notes: &mut Vec<String>) {
        let r = self.r;
        let label = label(need);
        match need.kind.as_ref() {
            "shell" => {
                if !exists(r, "/bin/sh") {
                    problems.push(format!("{label}: /bin/sh is missing ({})", need.summary));
                }
            }
            "ca_certificates" => {
                let bundle = CA_BUNDLES.iter().any(|p| exists(r, p));
                if !bundle && r.list("/etc/ssl/certs").is_empty() {
                    problems.push(format!("{label}: no CA bundle ({})", need.summary));
                }
            }
            kind => {
                let injected = &catalog().runtime_injected;
                for f in need.files.iter().filter(|f| f.required && self.condition_holds(f)) {
                    let path: &str = f.path.as_ref();
                    if injected.iter().any(|i| i == path) {
                        notes.push(format!("{path}: created by the container engine at run time"));
                    } else if basename(path).contains(".so") {
                        // A library: anywhere the loader looks will do.
                        let name = basename(path);
                        if !self.library_present(name) {
                            problems.push(format!("{label}: {name} is missing ({})", need.summary));
                        }
                    } else if !exists(r, path) {
                        problems.push(format!("{label}: {path} is missing ({})", need.summary));
                    }
                }
                if kind == "nss" {
                    if let Some(db) = need.name.as_deref() {
                        self.check_nsswitch(db, &label, problems);
                    }
                }
            }
        }
    }

    /// `glibc < X` holds for a root glibc older than X, and always for a static program
    /// (linked with a glibc of unknown age); other conditions are taken as holding.
    fn condition_holds(&self, file: &NeedFile) -> bool {
        let Some(bound) = file.glibc_below() else {
            return true;
        };
        match (&self.glibc, self.is_static) {
            (Some(have), false) => compare_dotted(have, bound).is_lt(),
            _ => true,
        }
    }

    /// The services the root's nsswitch.conf names for `db` must be usable by the program.
    fn check_nsswitch(&self, db: &str, label: &str, problems: &mut Vec<String>) {
        let Some(text) = self.r.read("/etc/nsswitch.conf", 1 << 20) else {
            return; // glibc's defaults: files (and dns for hosts), built in since 2.34.
        };
        let text = String::from_utf8_lossy(&text);
        let Some(services) = text.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let (name, rest) = line.split_once(':')?;
            (name.trim() == db).then(|| {
                rest.split_whitespace()
                    .filter(|w| !w.starts_with('['))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
        }) else {
            return;
        };
        let builtin = |s: &str| s == "files" || (s == "dns" && db == "hosts");
        let usable = services.iter().any(|s| {
            builtin(s) || (!self.is_static && self.library_present(&format!("libnss_{s}.so.2")))
        });
        if !usable {
            problems.push(format!(
                "{label}: the root's nsswitch.conf says `{db}: {}`{}",
                services.join(" "),
                if self.is_static {
                    "; a static glibc program has only the built-in files and dns services"
                } else {
                    " and the root has no such NSS module"
                }
            ));
        }
    }

    /// Whether a library of this name that the loader would take for the program (the
    /// resolver's rule, bar ARM's float ABI, which a report does not carry) is in one of
    /// the directories the loader searches.
    fn library_present(&self, name: &str) -> bool {
        let elf = &self.report.elf;
        self.dirs.iter().any(|dir| {
            let Ok(found) = self.r.file(&join_path(dir, name)) else {
                return false;
            };
            crate::resolve::object::read(&self.r.host(&found), &Limits::default())
                .is_ok_and(|info| info.loadable_for(elf.e_machine, elf.class == 64, elf.endian == Endian::Big))
        })
    }
}

/// Where the root's loader looks for libraries: its own default directories (from the
/// closure's search), where the closure found libraries, and the Debian multiarch and
/// plain directories for the program's ABI.
fn library_dirs(report: &Report) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    if let Some(closure) = &report.closure {
        if let Some(search) = &closure.search {
            dirs.extend(search.default_dirs.iter().cloned());
        }
        dirs.extend(closure.libraries.iter().map(|l| parent(&l.path)));
    }
    let elf = &report.elf;
    // Container images for linux/arm are hard-float.
    if let Some(t) = debian_triplet(elf.e_machine, elf.class == 64, elf.endian == Endian::Big, true) {
        dirs.push(format!("/lib/{t}"));
        dirs.push(format!("/usr/lib/{t}"));
    }
    dirs.extend(["/lib", "/usr/lib", "/lib64", "/usr/lib64"].map(String::from));
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// The root's C library: the one the program loads (its closure's `libc.so.6`, or its
/// musl loader), else whatever the root has: glibc's `libc.so.6` (its banner names the
/// version), then a musl loader `/lib/ld-musl-<arch>.so.1` (which holds its version).
fn root_libc(r: &Root, report: &Report, dirs: &[String]) -> Option<RootLibc> {
    let glibc_at = |path: String| RootLibc {
        family: "glibc".into(),
        version: r.read(&path, MAX_LIBC_BYTES).and_then(|b| glibc_version(&b)),
        path,
    };
    let musl_at = |path: String| RootLibc {
        family: "musl".into(),
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
    if let Some(found) = dirs.iter().find_map(|d| r.file(&join_path(d, "libc.so.6")).ok()) {
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
fn glibc_version(bytes: &[u8]) -> Option<String> {
    let marker = b"release version ";
    let at = memchr::memmem::find(bytes, marker)?;
    let rest = bytes.get(at.checked_add(marker.len())?..)?;
    let text: String = rest
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|&b| char::from(b))
        .collect();
    let text = text.trim_end_matches('.').to_string();
    (text.contains('.') && !text.is_empty()).then_some(text)
}

/// musl keeps its version as a bare string ("1.2.3") in its read-only data, the only
/// NUL-terminated string there made of three dotted numbers; the first after
/// "musl libc" (its `ldd` banner) is taken.
fn musl_version(bytes: &[u8]) -> Option<String> {
    let start = memchr::memmem::find(bytes, b"musl libc").unwrap_or(0);
    let tail = bytes.get(start..)?;
    tail.split(|&b| b == 0).find_map(|s| {
        let text = std::str::from_utf8(s).ok()?;
        let parts: Vec<&str> = text.split('.').collect();
        let numeric = parts.len() == 3
            && parts.iter().all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
        numeric.then(|| text.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings() {
        let banner = b"xx\0GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\n";
        assert_eq!(glibc_version(banner).as_deref(), Some("2.36"));
        assert_eq!(musl_version(b"1.0.0x\0musl libc (x86_64)\0Version %s\n\0abc\x001.2.3\0").as_deref(), Some("1.2.3"));
        assert_eq!(musl_version(b"nothing here\0"), None);
    }
}
