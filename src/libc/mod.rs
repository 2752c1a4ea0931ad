//! Which C library a file is built for, with evidence, and the glibc floor.
//!
//! Dynamic files say it in their interpreter, their DT_NEEDED names and their `GLIBC_x.y`
//! version needs. Static files say nothing directly; there the signals are structural (the
//! `NT_GNU_ABI_TAG` note and IRELATIVE relocations of glibc's startup code, the startup code
//! itself at the entry point) and, last, marker strings in read-only data found by a bounded
//! scan. Each signal was checked on real binaries; `GLIBC_PRIVATE` and the NSS path
//! `/etc/nsswitch.conf` are deliberately not signals (every static glibc binary has the first,
//! pure Go binaries have the second).

pub(crate) mod signals;

use std::cmp::Ordering;

use object::ReadRef;

use crate::elf::symbols::{Imports, VersionNeed};
use crate::report::{Libc, LibcFamily};
use crate::version::Version;

/// What the static-binary signals found (filled only where the dynamic evidence is silent).
#[derive(Debug, Default, Clone)]
pub(crate) struct StaticSignals {
    /// The `NT_GNU_ABI_TAG` note's minimum kernel, when present.
    pub gnu_abi_tag: Option<String>,
    /// An Android `.note.android.ident` note's API level, when present.
    pub android_api: Option<u32>,
    /// IRELATIVE relocations found (glibc's ifunc-resolved string functions).
    pub irelative: usize,
    /// The C library whose startup code sits at the entry point.
    pub entry_code: Option<(LibcFamily, &'static str)>,
    /// Marker strings found in read-only data.
    pub markers: Vec<(LibcFamily, &'static str)>,
    /// The file is Go and does not call into C.
    pub pure_go: bool,
}

/// Everything libc detection reads.
pub(crate) struct LibcInput<'a, 'data, R: ReadRef<'data>> {
    pub interpreter: Option<&'data [u8]>,
    pub needed: &'a [&'data [u8]],
    pub soname: Option<&'data [u8]>,
    pub version_needs: &'a [VersionNeed<'data>],
    pub imports: &'a Imports<'data, R>,
    pub signals: &'a StaticSignals,
}

/// Marker strings in read-only data that name a C library. Each was seen in real binaries
/// of that library and in none of the others'.
pub(crate) const CONTENT_MARKERS: &[(LibcFamily, &[u8], &str)] = &[
    (
        LibcFamily::Glibc,
        b"GLIBC_TUNABLES",
        "string GLIBC_TUNABLES (glibc tunables)",
    ),
    (
        LibcFamily::Glibc,
        b"glibc.malloc.",
        "glibc.malloc.* tunable names",
    ),
    (
        LibcFamily::Glibc,
        b"Fatal glibc error",
        "string \"Fatal glibc error\"",
    ),
    (
        LibcFamily::Musl,
        b"No error information",
        "musl's strerror text \"No error information\"",
    ),
    (
        LibcFamily::Musl,
        b"/etc/tcb/%s/shadow",
        "musl's shadow path /etc/tcb/%s/shadow",
    ),
    (
        LibcFamily::Musl,
        b"musl libc (",
        "musl's loader banner \"musl libc (<arch>)\"",
    ),
    (LibcFamily::Uclibc, b"uClibc", "string uClibc"),
    (LibcFamily::Klibc, b"klibc", "string klibc"),
];

/// The family a program interpreter path belongs to.
fn family_of_interpreter(path: &[u8]) -> Option<(LibcFamily, &'static str)> {
    let base = basename(path);
    if base.starts_with(b"ld-musl-") {
        return Some((LibcFamily::Musl, "interpreter is musl's loader"));
    }
    if base.starts_with(b"ld-uClibc") || base.starts_with(b"ld64-uClibc") {
        return Some((LibcFamily::Uclibc, "interpreter is uClibc's loader"));
    }
    if base == b"linker"
        || base == b"linker64"
        || base == b"linker_asan"
        || base == b"linker_asan64"
    {
        return Some((LibcFamily::Bionic, "interpreter is Android's linker"));
    }
    if base.starts_with(b"klibc-") && base.ends_with(b".so") {
        return Some((LibcFamily::Klibc, "interpreter is klibc's shared library"));
    }
    if base.starts_with(b"ld-linux") || base.starts_with(b"ld64.so.") || base == b"ld.so.1" {
        return Some((LibcFamily::Glibc, "interpreter is glibc's loader"));
    }
    None
}

/// The family a DT_NEEDED (or DT_SONAME) name belongs to. A plain `libc.so` is musl or
/// bionic; the caller decides which.
fn family_of_library(name: &[u8]) -> Option<(LibcFamily, &'static str)> {
    match name {
        b"libc.so.6" | b"libc.so.6.1" | b"libc.so.7" => {
            Some((LibcFamily::Glibc, "needs glibc's libc.so.6"))
        }
        b"libc.so.0" | b"libc.so.1" => Some((LibcFamily::Uclibc, "needs uClibc's libc.so.0/1")),
        _ if name.starts_with(b"libc.musl-") => Some((
            LibcFamily::Musl,
            "needs Alpine's musl libc.musl-<arch>.so.1",
        )),
        _ if name.starts_with(b"ld-musl-") => Some((LibcFamily::Musl, "needs musl's loader")),
        _ if name.starts_with(b"ld-linux") || name.starts_with(b"ld64.so.") => {
            Some((LibcFamily::Glibc, "needs glibc's loader"))
        }
        _ => None,
    }
}

fn basename(path: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', path) {
        Some(i) => path.get(i.saturating_add(1)..).unwrap_or(path),
        None => path,
    }
}

/// The first family found wins; every signal is kept as evidence.
#[derive(Default)]
struct Findings {
    family: Option<LibcFamily>,
    evidence: Vec<String>,
}

impl Findings {
    fn add(&mut self, family: LibcFamily, why: String) {
        if self.family.is_none() {
            self.family = Some(family);
        }
        if !self.evidence.contains(&why) {
            self.evidence.push(why);
        }
    }
}

/// Detects the family and the glibc floor.
pub(crate) fn detect<'data, R: ReadRef<'data>>(input: &LibcInput<'_, 'data, R>) -> Libc {
    let mut found = Findings::default();

    if let Some(interp) = input.interpreter {
        match family_of_interpreter(interp) {
            Some((f, why)) => found.add(f, format!("{why} ({})", lossy(interp))),
            None => found
                .evidence
                .push(format!("unrecognised interpreter {}", lossy(interp))),
        }
    }

    let signals = input.signals;
    let android = signals.android_api.is_some()
        || found.family == Some(LibcFamily::Bionic)
        || input
            .needed
            .iter()
            .any(|n| matches!(*n, b"liblog.so" | b"libdl.so" | b"libandroid.so"));
    for name in input.needed.iter().copied().chain(input.soname) {
        if name == b"libc.so" {
            if android {
                found.add(
                    LibcFamily::Bionic,
                    "needs libc.so with Android markers (bionic)".into(),
                );
            } else {
                found.add(
                    LibcFamily::Musl,
                    "needs plain libc.so without Android markers (musl)".into(),
                );
            }
        } else if let Some((f, why)) = family_of_library(name) {
            found.add(f, format!("{why} ({})", lossy(name)));
        }
    }

    let floor = glibc_floor(input.version_needs);
    if let Some((_, name)) = &floor {
        found.add(
            LibcFamily::Glibc,
            format!("needs symbol version {} (glibc)", lossy(name)),
        );
    }
    if let Some(api) = signals.android_api {
        found.add(
            LibcFamily::Bionic,
            format!("Android ident note (API level {api})"),
        );
    }
    if let Some(kernel) = &signals.gnu_abi_tag {
        found.add(
            LibcFamily::Glibc,
            format!("NT_GNU_ABI_TAG note (glibc startup code; minimum kernel {kernel})"),
        );
    }
    if signals.irelative > 0 {
        found.add(
            LibcFamily::Glibc,
            format!("{} IRELATIVE relocations (glibc ifuncs)", signals.irelative),
        );
    }
    if let Some((f, why)) = signals.entry_code {
        found.add(f, why.to_string());
    }
    for (f, why) in &signals.markers {
        found.add(*f, (*why).to_string());
    }
    if signals.pure_go && found.family.is_none() {
        found.add(
            LibcFamily::None,
            "Go program that does not call into C (no loader, no libraries, no C startup code)"
                .into(),
        );
    }

    let family = found.family.unwrap_or(LibcFamily::Unknown);
    let mut evidence = found.evidence;
    if family == LibcFamily::Unknown && input.interpreter.is_none() && input.needed.is_empty() {
        evidence.push("no interpreter, no libraries and no C library markers found".into());
    }
    let (glibc_required, glibc_floor_symbols) = match floor {
        Some((version, name)) => {
            let mut symbols: Vec<String> = input
                .imports
                .needing_version(name)
                .map(|symbol| format!("{}@{}", lossy(symbol), lossy(name)))
                .collect();
            symbols.sort();
            symbols.dedup();
            (Some(version), symbols)
        }
        None => (None, Vec::new()),
    };
    Libc {
        family,
        glibc_required,
        glibc_floor_symbols,
        evidence,
    }
}

/// The highest `GLIBC_x.y` over all version needs, whichever library they name.
pub(crate) fn glibc_floor<'data>(needs: &[VersionNeed<'data>]) -> Option<(Version, &'data [u8])> {
    let mut best: Option<(Version, &'data [u8])> = None;
    for version in needs.iter().flat_map(|n| n.versions.iter()) {
        let Some(parsed) = Version::of_glibc_symbol(version.name) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((current, _)) => parsed.cmp(current) == Ordering::Greater,
        };
        if better {
            best = Some((parsed, version.name));
        }
    }
    best
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::symbols::NeededVersion;

    fn need<'a>(file: &'a [u8], versions: &[&'a [u8]]) -> VersionNeed<'a> {
        VersionNeed {
            file,
            versions: versions
                .iter()
                .enumerate()
                .map(|(i, name)| NeededVersion {
                    name,
                    index: u16::try_from(i).unwrap_or(0).saturating_add(2),
                })
                .collect(),
        }
    }

    #[test]
    fn floor_compares_numerically_over_all_libraries() {
        let needs = [
            need(
                b"libc.so.6",
                &[b"GLIBC_2.2.5", b"GLIBC_2.14", b"GLIBC_PRIVATE"],
            ),
            need(b"ld-linux-x86-64.so.2", &[b"GLIBC_2.3"]),
            need(b"libstdc++.so.6", &[b"GLIBCXX_3.4.30"]),
        ];
        let (version, name) = glibc_floor(&needs).expect("a floor");
        assert_eq!(version.to_string(), "2.14");
        assert_eq!(name, b"GLIBC_2.14");
    }

    #[test]
    fn dt_relr_version_means_2_36() {
        let needs = [need(b"libc.so.6", &[b"GLIBC_2.34", b"GLIBC_ABI_DT_RELR"])];
        assert_eq!(glibc_floor(&needs).expect("floor").0.to_string(), "2.36");
    }

    #[test]
    fn interpreters_name_their_family() {
        let cases: &[(&[u8], LibcFamily)] = &[
            (b"/lib64/ld-linux-x86-64.so.2", LibcFamily::Glibc),
            (b"/lib/ld-linux-aarch64.so.1", LibcFamily::Glibc),
            (b"/lib/ld-linux-armhf.so.3", LibcFamily::Glibc),
            (b"/lib64/ld64.so.2", LibcFamily::Glibc),
            (b"/lib/ld64.so.1", LibcFamily::Glibc),
            (b"/lib/ld.so.1", LibcFamily::Glibc),
            (b"/lib/ld-musl-x86_64.so.1", LibcFamily::Musl),
            (b"/lib/ld-musl-armhf.so.1", LibcFamily::Musl),
            (b"/system/bin/linker64", LibcFamily::Bionic),
            (b"/lib/ld-uClibc.so.0", LibcFamily::Uclibc),
            (b"/lib/klibc-ABCDEF.so", LibcFamily::Klibc),
        ];
        for (path, family) in cases {
            assert_eq!(
                family_of_interpreter(path).map(|(f, _)| f),
                Some(*family),
                "{}",
                String::from_utf8_lossy(path)
            );
        }
        assert_eq!(family_of_interpreter(b"/usr/bin/env"), None);
    }
}
