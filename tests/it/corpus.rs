//! Differential test over the real third-party binaries of the shared corpus: every fact
//! readelf reports must be equal to ours, for every file, and equal to goblin's where goblin
//! parses the file.

use std::collections::BTreeMap;

use runbase::report::Report;

use crate::fixtures::assert_matches_readelf;
use crate::support::{self, inspect};

/// goblin's view of the facts we compare.
fn goblin_facts(bytes: &[u8]) -> Option<(Report, Vec<String>)> {
    let elf = goblin::elf::Elf::parse(bytes).ok()?;
    let mut versions: Vec<(u16, String)> = Vec::new();
    if let Some(verneed) = &elf.verneed {
        for need in verneed.iter() {
            for aux in need.iter() {
                if let Some(name) = elf.dynstrtab.get_at(aux.vna_name) {
                    versions.push((aux.vna_other & 0x7fff, name.to_string()));
                }
            }
        }
    }
    // The floor, computed here independently of runbase.
    let parse = |v: &str| -> Option<Vec<u32>> {
        let rest = v.strip_prefix("GLIBC_")?;
        if rest == "ABI_DT_RELR" {
            return Some(vec![2, 36]);
        }
        let parts: Option<Vec<u32>> = rest.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| p.len() >= 2)
    };
    let floor = versions
        .iter()
        .filter_map(|(_, v)| parse(v).map(|p| (p, v.clone())))
        .max();
    let mut floor_symbols = Vec::new();
    if let (Some((_, floor_name)), Some(versym)) = (&floor, &elf.versym) {
        let indexes: Vec<u16> = versions
            .iter()
            .filter(|(_, v)| v == floor_name)
            .map(|(i, _)| *i)
            .collect();
        for (i, sym) in elf.dynsyms.iter().enumerate() {
            let Some(vs) = versym.get_at(i) else { continue };
            if indexes.contains(&(vs.vs_val & 0x7fff)) {
                if let Some(name) = elf.dynstrtab.get_at(sym.st_name) {
                    if !name.is_empty() {
                        floor_symbols.push(format!("{name}@{floor_name}"));
                    }
                }
            }
        }
    }
    floor_symbols.sort();
    floor_symbols.dedup();
    let mut report: Report = serde_json::from_value(serde_json::json!({
        "schema_version": 1, "path": "", "platform": null, "linkage": "other",
        "executable": false, "closure": null, "recommendation": null, "build_id": null,
        "warnings": [], "go": null, "rust": null, "needs": [], "needs_not_read": [],
        "elf": {"class": if elf.is_64 {64} else {32},
                "endian": if elf.little_endian {"little"} else {"big"},
                "machine": "", "e_machine": elf.header.e_machine, "type": "other",
                "os_abi": 0, "entry": elf.entry},
        "interpreter": elf.interpreter,
        "needed": elf.libraries,
        "soname": elf.soname,
        "rpath": elf.rpaths.iter().flat_map(|r| r.split(':')).collect::<Vec<_>>(),
        "runpath": elf.runpaths.iter().flat_map(|r| r.split(':')).collect::<Vec<_>>(),
        "libc": {"family": "unknown", "glibc_required":
                 floor.map(|(p, _)| p.iter().map(u32::to_string).collect::<Vec<_>>().join(".")),
                 "glibc_floor_symbols": [], "evidence": []},
        "size": {"file_bytes": 0, "stripped": false, "symtab_bytes": 0, "debug_bytes": 0,
                 "packed": null},
    }))
    .expect("goblin facts as a report");
    report.elf.e_machine = elf.header.e_machine;
    Some((report, floor_symbols))
}

#[test]
fn corpus_matches_readelf_and_goblin() {
    let (_, files) = support::corpus();
    assert!(
        files.len() >= 250,
        "corpus has only {} ELF files",
        files.len()
    );
    let mut goblin_compared = 0usize;
    let mut goblin_refused = Vec::new();
    let mut linkages: BTreeMap<String, usize> = BTreeMap::new();
    for path in &files {
        let report = inspect(path);
        assert_matches_readelf(&report, path);
        *linkages
            .entry(format!(
                "{} {}",
                report.linkage.as_str(),
                report.libc.family.as_str()
            ))
            .or_default() += 1;

        let bytes = std::fs::read(path).unwrap();
        match goblin_facts(&bytes) {
            Some((g, floor_symbols)) => {
                goblin_compared += 1;
                let what = path.display();
                assert_eq!(report.elf.class, g.elf.class, "{what}: class (goblin)");
                assert_eq!(report.elf.endian, g.elf.endian, "{what}: endian (goblin)");
                assert_eq!(
                    report.elf.e_machine, g.elf.e_machine,
                    "{what}: machine (goblin)"
                );
                assert_eq!(report.interpreter, g.interpreter, "{what}: interp (goblin)");
                assert_eq!(report.needed, g.needed, "{what}: needed (goblin)");
                assert_eq!(report.soname, g.soname, "{what}: soname (goblin)");
                assert_eq!(report.rpath, g.rpath, "{what}: rpath (goblin)");
                assert_eq!(report.runpath, g.runpath, "{what}: runpath (goblin)");
                assert_eq!(
                    report.libc.glibc_required, g.libc.glibc_required,
                    "{what}: floor (goblin)"
                );
                // goblin reads the whole dynamic symbol table; runbase reads only the
                // imports (up to GNU hash's symoffset in large tables): same floor symbols.
                assert_eq!(
                    report.libc.glibc_floor_symbols, floor_symbols,
                    "{what}: floor symbols (goblin)"
                );
            }
            None => goblin_refused.push(path.display().to_string()),
        }
    }
    eprintln!(
        "corpus: {} files equal to readelf; {goblin_compared} equal to goblin; goblin refused \
         {}: {goblin_refused:?}\n{linkages:#?}",
        files.len(),
        goblin_refused.len()
    );
    // goblin parsed every file when this was written; a few refusals may come, not many.
    assert!(
        goblin_compared * 10 >= files.len() * 9,
        "goblin compared only {goblin_compared}"
    );
}

/// What the packages themselves say about some corpus files: a musllinux wheel is musl, an
/// npm package for Android is bionic, Debian's klibc-utils is klibc, `e2fsck.static` and
/// `busybox-static` are static glibc, shfmt and esbuild are Go, the uv wheels are Rust with
/// a cargo-auditable crate list that names uv itself.
#[test]
fn corpus_files_are_what_their_packages_say() {
    use runbase::report::{LibcFamily as F, Linkage as L};
    let (dir, files) = support::corpus();
    let x = dir.join("x");
    let find = |pattern: &str| -> Vec<std::path::PathBuf> {
        files
            .iter()
            .filter(|p| {
                p.strip_prefix(&x)
                    .unwrap()
                    .to_string_lossy()
                    .contains(pattern)
            })
            .cloned()
            .collect()
    };
    let expect = |pattern: &str, family: F, linkages: &[L]| {
        let matched = find(pattern);
        assert!(!matched.is_empty(), "no corpus file matches {pattern}");
        for path in matched {
            let report = inspect(&path);
            assert_eq!(
                report.libc.family,
                family,
                "{}: {:?}",
                path.display(),
                report.libc.evidence
            );
            assert!(
                linkages.contains(&report.linkage),
                "{}: {:?}",
                path.display(),
                report.linkage
            );
        }
    };
    expect(
        "whl/musl-",
        F::Musl,
        &[L::StaticPie, L::SharedLibrary, L::Dynamic],
    );
    expect("whl/gnu-", F::Glibc, &[L::Dynamic, L::SharedLibrary]);
    expect("rollup-android-arm64", F::Bionic, &[L::SharedLibrary]);
    expect("klibc-utils_", F::Klibc, &[L::Static, L::Dynamic]);
    expect("e2fsck-static_", F::Glibc, &[L::Static]);
    expect("busybox-static_", F::Glibc, &[L::Static]);
    expect("lightningcss-linux-x64-musl", F::Musl, &[L::SharedLibrary]);
    expect("watcher-linux-x64-glibc", F::Glibc, &[L::SharedLibrary]);
    for pattern in ["usr/bin/shfmt", "esbuild-linux-ia32", "usr/bin/restic"] {
        let found = find(pattern);
        assert!(!found.is_empty(), "no corpus file matches {pattern}");
        for path in found {
            let report = inspect(&path);
            let go = report
                .go
                .as_ref()
                .unwrap_or_else(|| panic!("{} is Go", path.display()));
            assert!(go.version.as_deref().is_some_and(|v| v.starts_with("go1.")));
        }
    }
    let android = inspect(&find("rollup-android-arm64")[0]);
    assert_eq!(android.platform.as_deref(), Some("android/arm64"));

    // Every Debian package names its architecture; its ELF files run on that platform.
    let mut checked = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&x)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let Some(package) = rel.strip_prefix("deb/").and_then(|r| r.split('/').next()) else {
            continue;
        };
        let arch = package.rsplit('_').next().unwrap();
        let platform = match arch {
            "amd64" => "linux/amd64",
            "arm64" => "linux/arm64",
            "i386" => "linux/386",
            "armhf" => "linux/arm",
            "s390x" => "linux/s390x",
            "ppc64el" => "linux/ppc64le",
            "mips64el" => "linux/mips64le",
            other => panic!("unexpected Debian architecture {other}"),
        };
        assert_eq!(inspect(path).platform.as_deref(), Some(platform), "{rel}");
        checked += 1;
    }
    assert!(checked > 200);

    let uv = find("/uv-0.13.9.data/scripts/uv");
    assert!(!uv.is_empty(), "uv is not in the corpus");
    for path in uv {
        let report = inspect(&path);
        let rust = report
            .rust
            .as_ref()
            .unwrap_or_else(|| panic!("{} is Rust", path.display()));
        assert!(
            rust.crates.iter().any(|c| c.name == "uv"),
            "{}",
            path.display()
        );
        assert!(rust.rustc_version.is_some());
    }
}

/// cargo-auditable data is capped twice: compressed size and inflated size.
#[test]
fn cargo_auditable_limits() {
    let (_, files) = support::corpus();
    let uv = files
        .iter()
        .find(|p| p.to_string_lossy().ends_with("gnu-uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64/uv-0.13.9.data/scripts/uv"))
        .expect("uv wheel in the corpus");
    let bytes = std::fs::read(uv).unwrap();
    for set in [
        |l: &mut runbase::Limits| l.max_audit_compressed_bytes = 16,
        |l: &mut runbase::Limits| l.max_audit_json_bytes = 16,
    ] {
        let mut limits = runbase::Limits::default();
        set(&mut limits);
        let report =
            runbase::inspect_bytes("uv", &bytes, &runbase::Options::with_limits(limits)).unwrap();
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("cargo-auditable data larger than the limit")),
            "{:?}",
            report.warnings
        );
        assert!(report.rust.as_ref().is_some_and(|r| r.crates.is_empty()));
    }
}

/// Needs from third-party binaries, against what their packages are known to contain: uv's
/// crate list has rustls-native-certs and openssl-probe (system CA store) and jiff (system
/// time zones); restic is Go with crypto/x509; psycopg's libpq links a bundled OpenSSL;
/// e2fsck.static looks users up through static NSS; every file's needs validate.
#[test]
fn corpus_needs() {
    let (_, files) = support::corpus();
    let report_of = |suffix: &str| {
        let path = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} in the corpus"));
        inspect(path)
    };
    let has = |r: &Report, kind: &str, name: &str| {
        r.needs
            .iter()
            .any(|n| n.kind.as_str() == kind && n.name.as_deref() == Some(name))
    };
    for uv in [
        "gnu-uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64/uv-0.13.9.data/scripts/uv",
        "musl-uv-0.13.9-py3-none-musllinux_1_1_x86_64/uv-0.13.9.data/scripts/uv",
    ] {
        let r = report_of(uv);
        assert!(
            has(&r, "ca_certificates", "rust system roots"),
            "{uv}: {:#?}",
            r.needs
        );
        assert!(has(&r, "tzdata", "rust time zones"), "{uv}");
    }
    // Without cargo-auditable's list (the section removed with objcopy), uv's CA need is
    // still seen, from the SSL_CERT_FILE name rustls-native-certs reads; the list of the
    // untouched file says that crate is there.
    let uv = files
        .iter()
        .find(|p| p.to_string_lossy().ends_with("gnu-uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64/uv-0.13.9.data/scripts/uv"))
        .expect("uv");
    let listed = inspect(uv);
    assert!(
        listed
            .rust
            .as_ref()
            .is_some_and(|r| r.crates.iter().any(|c| c.name == "rustls-native-certs"))
    );
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("uv");
    let status = std::process::Command::new("objcopy")
        .args(["--remove-section", ".dep-v0"])
        .arg(uv)
        .arg(&bare)
        .status()
        .expect("objcopy (binutils)");
    assert!(status.success());
    let r = inspect(&bare);
    assert!(r.rust.as_ref().is_some_and(|r| r.crates.is_empty()));
    let ca = r
        .needs
        .iter()
        .find(|n| n.kind.as_str() == "ca_certificates")
        .unwrap_or_else(|| panic!("{:#?}", r.needs));
    assert_eq!(ca.certainty.as_str(), "likely");
    assert!(
        ca.evidence.iter().any(|e| e.contains("SSL_CERT_FILE")),
        "{:?}",
        ca.evidence
    );
    // The musl build has no NSS: its needs are never "nss".
    let musl_uv =
        report_of("musl-uv-0.13.9-py3-none-musllinux_1_1_x86_64/uv-0.13.9.data/scripts/uv");
    assert!(musl_uv.needs.iter().all(|n| n.kind.as_str() != "nss"));
    let restic = report_of("usr/bin/restic");
    assert!(has(&restic, "ca_certificates", "go crypto/x509"));
    assert!(has(&restic, "etc_file", "go resolver"));
    let libpq = report_of("psycopg_binary.libs/libpq-e9b5c9ac.so.5.18");
    assert!(
        has(&libpq, "ca_certificates", "openssl"),
        "{:#?}",
        libpq.needs
    );
    let e2fsck = report_of("sbin/e2fsck.static");
    assert!(has(&e2fsck, "nss", "passwd"), "{:#?}", e2fsck.needs);
    // Every need of every file has evidence and a summary.
    for path in &files {
        for need in inspect(path).needs {
            assert!(
                !need.evidence.is_empty() && !need.summary.is_empty(),
                "{}: {need:?}",
                path.display()
            );
        }
    }
}
