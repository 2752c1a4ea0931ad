//! Base-image advice: the article's matrix, the catalog against a real Debian root, proof by
//! running each recommendation in a root built to stand for the chosen image, and `verify`
//! predicting failures that running confirms.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use runbase::bases::{BaseImage, Policy, RecommendOptions, catalog, recommend};
use runbase::report::{Code, Recommendation};

use crate::support::{
    Overlay, ProcMount, copy, copy_tree, fixture, image, report_in, require_root, roots, stand_in,
    try_run_in_root,
};

/// The recommendation for a fixture built on this machine (build root `/`).
fn advise(file: &Path, policy: Policy) -> Recommendation {
    let report = report_in(file, Path::new("/"));
    recommend(&report, &options(policy))
}

/// The options for a build stage that is this machine.
fn options(policy: Policy) -> RecommendOptions<'static> {
    options_in(policy, Path::new("/"))
}

/// The options for a build stage at `build`.
fn options_in(policy: Policy, build: &Path) -> RecommendOptions<'_> {
    let mut options = RecommendOptions::default();
    options.policy = policy;
    options.build_root = build;
    options
}

/// Whether a sentence containing `text` stands with the code spelled `code` beside it. The
/// contract's parallel lists (`why`/`why_codes`, `problems`/`problem_codes`) must have one
/// code per sentence.
fn said(sentences: &[String], codes: &[Code], code: &str, text: &str) -> bool {
    assert_eq!(
        sentences.len(),
        codes.len(),
        "one code per sentence: {sentences:?} {codes:?}"
    );
    sentences
        .iter()
        .zip(codes)
        .any(|(s, c)| s.contains(text) && c.as_str() == code)
}

fn alternative<'a>(rec: &'a Recommendation, base: &str) -> &'a runbase::report::Alternative {
    rec.alternatives
        .iter()
        .find(|a| a.base == base)
        .unwrap_or_else(|| panic!("{base} not evaluated"))
}

#[test]
fn the_articles_matrix() {
    // Static programs, whatever their libc, need nothing from the image.
    for name in [
        "hello-gcc-static",
        "hello-gcc-static-pie",
        "hello-musl-static",
        "go-hello-nocgo",
    ] {
        let rec = advise(&fixture(name), Policy::Smallest);
        assert_eq!(
            rec.base.as_deref(),
            Some("scratch"),
            "{name}: {:?}",
            rec.why
        );
        assert!(rec.add_files.is_empty(), "{name}: {:?}", rec.add_files);
        assert_eq!(alternative(&rec, "scratch").verdict.as_str(), "works");
    }

    // Dynamic glibc hello: the smallest glibc image, never scratch, alpine or distroless/static.
    let rec = advise(&fixture("hello-gcc"), Policy::Smallest);
    assert_eq!(rec.base.as_deref(), Some("busybox:glibc"), "{:?}", rec.why);
    for other in [
        "scratch",
        "alpine:3.22",
        "gcr.io/distroless/static-debian12",
    ] {
        let alt = alternative(&rec, other);
        assert_eq!(alt.verdict.as_str(), "fails", "{other}");
        assert!(
            alt.why[0].contains("a glibc program"),
            "{other}: {:?}",
            alt.why
        );
        assert_eq!(alt.why_codes[0].as_str(), "libc_mismatch", "{other}");
    }
    let dockerfile = rec.dockerfile.as_deref().expect("dockerfile");
    assert!(dockerfile.contains("FROM busybox:glibc\n"), "{dockerfile}");
    assert!(
        dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/hello-gcc\"]"),
        "{dockerfile}"
    );
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY")) {
        let from = line.split_whitespace().nth(2).expect("source");
        assert!(from.starts_with('/'), "relative COPY source: {line}");
    }
    let rec = advise(&fixture("hello-gcc"), Policy::Distroless);
    assert!(
        rec.base
            .as_deref()
            .is_some_and(|b| b.starts_with("gcr.io/distroless/base")),
        "{:?}",
        rec.base
    );

    // Dynamic musl: Alpine, and a supported one (3.19-3.21 reached their end of life by
    // November 2026 per alpinelinux.org/releases; 3.22 is the smallest of the rest).
    let rec = advise(&fixture("hello-musl"), Policy::Smallest);
    assert_eq!(rec.base.as_deref(), Some("alpine:3.22"), "{:?}", rec.why);
    assert_eq!(alternative(&rec, "busybox:glibc").verdict.as_str(), "fails");

    // Static glibc with NSS: scratch with the files it reads, never distroless/static.
    let rec = advise(&fixture("getaddrinfo-gcc-static"), Policy::Smallest);
    assert_eq!(rec.base.as_deref(), Some("scratch"), "{:?}", rec.why);
    assert!(
        rec.add_files.iter().any(|f| f.path == "/etc/passwd"),
        "{:?}",
        rec.add_files
    );
    for distroless in [
        "gcr.io/distroless/static-debian12",
        "gcr.io/distroless/static-debian13",
    ] {
        let alt = alternative(&rec, distroless);
        assert_eq!(alt.verdict.as_str(), "fails");
        assert!(
            said(
                &alt.why,
                &alt.why_codes,
                "nss_service_unusable",
                "passwd: compat"
            ),
            "{:?}",
            alt.why
        );
    }

    // Go with cgo's net: a glibc image; Go with crypto/x509: CA certificates provided.
    let rec = advise(&fixture("go-net-cgo"), Policy::Smallest);
    assert_eq!(rec.base.as_deref(), Some("busybox:glibc"), "{:?}", rec.why);
    let rec = advise(&fixture("go-tls"), Policy::Smallest);
    assert_eq!(rec.base.as_deref(), Some("scratch"), "{:?}", rec.why);
    assert!(
        rec.add_files
            .iter()
            .any(|f| f.path == "/etc/ssl/certs/ca-certificates.crt"),
        "{:?}",
        rec.add_files
    );

    // C++: libstdc++ and libgcc_s come along when the image lacks them; the loader and libc
    // never do.
    let rec = advise(&fixture("hello-cxx"), Policy::Smallest);
    let copied: Vec<&str> = rec
        .add_files
        .iter()
        .map(|f| f.path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(rec.base.as_deref(), Some("busybox:glibc"), "{:?}", rec.why);
    assert!(
        copied.contains(&"libstdc++.so.6") && copied.contains(&"libgcc_s.so.1"),
        "{copied:?}"
    );
    assert!(
        !copied
            .iter()
            .any(|c| c.starts_with("libc.so") || c.starts_with("ld-linux")),
        "{copied:?}"
    );

    // Debuggable: a shell.
    let rec = advise(&fixture("hello-musl-static"), Policy::Debuggable);
    assert_eq!(rec.base.as_deref(), Some("busybox:uclibc"), "{:?}", rec.why);
}

#[test]
fn a_glibc_floor_above_bookworm_rules_out_bookworm_images() {
    let mut report = report_in(&fixture("hello-gcc"), Path::new("/"));
    report.libc.glibc_required = Some("2.38".parse().unwrap());
    let rec = recommend(&report, &options(Policy::Smallest));
    for old in [
        "debian:bookworm-slim",
        "gcr.io/distroless/base-debian12",
        "gcr.io/distroless/cc-debian12",
        "ubuntu:22.04",
    ] {
        let alt = alternative(&rec, old);
        assert_eq!(alt.verdict.as_str(), "fails", "{old}");
        assert!(
            said(&alt.why, &alt.why_codes, "glibc_too_old", "glibc >= 2.38"),
            "{old}: {:?}",
            alt.why
        );
    }
    for new in [
        "debian:trixie-slim",
        "ubuntu:24.04",
        "gcr.io/distroless/base-debian13",
    ] {
        assert_ne!(alternative(&rec, new).verdict.as_str(), "fails", "{new}");
    }
}

// ---------------------------------------------------------------------------------------
// The catalog against a real Debian bookworm root (debootstrap minbase: what
// debian:bookworm-slim is built from).

fn highest_version(lib: &Path, prefix: &str) -> String {
    let out = Command::new("readelf")
        .arg("-V")
        .arg("-W")
        .arg(lib)
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    // Compared as lists of numbers here, not with the crate's own comparison.
    let mut best: Option<(Vec<u32>, String)> = None;
    for word in text.split_whitespace() {
        let Some(v) = word.strip_prefix(&format!("{prefix}_")) else {
            continue;
        };
        let Some(parts) = v
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u32>>>()
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| parts > *b) {
            best = Some((parts, v.to_string()));
        }
    }
    best.map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {prefix} version in {}", lib.display()))
}

/// The upstream version of `package` in the dpkg database of `root`.
fn dpkg_version(root: &Path, package: &str) -> String {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).expect("dpkg status");
    let block = status
        .split("\n\n")
        .find(|b| b.lines().next() == Some(&format!("Package: {package}")))
        .unwrap_or_else(|| panic!("{package} not installed"));
    let version = block
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .expect("Version");
    upstream(version)
}

/// "2.36-9+deb12u14" -> "2.36"; "1:2.3-1" -> "2.3".
fn upstream(version: &str) -> String {
    let v = version.split_once(':').map(|(_, v)| v).unwrap_or(version);
    v.split('-').next().unwrap_or(v).to_string()
}

#[test]
fn catalog_facts_hold_on_a_bookworm_root() {
    let root = roots().join("minbase-amd64");
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    let slim = image("debian:bookworm-slim");
    let libc = slim.libc.as_ref().expect("libc");
    assert_eq!(libc.family.as_str(), "glibc");
    assert_eq!(libc.version.to_string(), dpkg_version(&root, "libc6"));
    let glibc_debian12: Vec<&BaseImage> = catalog()
        .images
        .iter()
        .filter(|i| i.name.ends_with("-debian12") && i.libc.is_some())
        .collect();
    // distroless base-nossl, base and cc.
    assert_eq!(glibc_debian12.len(), 3);
    for image in glibc_debian12 {
        assert_eq!(
            image.libc.as_ref().map(|l| l.version),
            Some(libc.version),
            "{}",
            image.name
        );
    }
    // Library versions, by readelf on the root's own files.
    for (soname, prefix) in [
        ("libstdc++.so.6", "GLIBCXX"),
        ("libstdc++.so.6", "CXXABI"),
        ("libgcc_s.so.1", "GCC"),
    ] {
        let in_root = highest_version(&lib.join(soname), prefix);
        for name in ["debian:bookworm-slim", "gcr.io/distroless/cc-debian12"] {
            let have = image(name)
                .library(soname)
                .unwrap_or_else(|| panic!("{name} {soname}"));
            assert_eq!(
                have.versions.get(prefix).map(|v| v.to_string()),
                Some(in_root.clone()),
                "{name} {soname} {prefix}"
            );
        }
    }
    assert!(slim.library("libssl.so.3").is_none() && !lib.join("libssl.so.3").exists());
    // Every glibc library the catalog names is there (slim carries the whole libc6).
    for soname in &catalog().glibc_sonames {
        assert!(lib.join(soname).exists(), "{soname}");
    }
    let modules: Vec<String> = std::fs::read_dir(&lib)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            Some(
                name.strip_prefix("libnss_")?
                    .strip_suffix(".so.2")?
                    .to_string(),
            )
        })
        .collect();
    let mut modules = modules;
    modules.sort();
    assert_eq!(modules, slim.nss_modules);
    // nsswitch.conf, word for word.
    let text = std::fs::read_to_string(root.join("etc/nsswitch.conf")).unwrap();
    let table: BTreeMap<String, Vec<String>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (db, rest) = l.split_once(':')?;
            Some((
                db.trim().to_string(),
                rest.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect();
    assert_eq!(Some(&table), slim.nsswitch.as_ref());
    assert!(slim.tzdata && root.join("usr/share/zoneinfo/Europe").is_dir());
    assert!(
        slim.ca_certificates.is_none() && !root.join("etc/ssl/certs/ca-certificates.crt").exists()
    );
    assert!(slim.shell.is_some() && root.join("bin/sh").exists());
}

// ---------------------------------------------------------------------------------------
// Proof by running: a root standing for the chosen image, the copy plan applied, the
// program run in a chroot of it.

/// Applies a recommendation: the stand-in root, the added files, the program.
fn apply(rec: &Recommendation, program: &Path, dir: &Path) -> String {
    let base = image(rec.base.as_deref().expect("a base"));
    stand_in(base, dir);
    for add in &rec.add_files {
        let to = dir.join(add.path.trim_start_matches('/'));
        match &add.content {
            Some(text) => {
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::write(&to, text).unwrap();
            }
            None => copy_tree(Path::new(&add.from), &to),
        }
    }
    let at = rec.program_path.clone().expect("program path");
    copy(program, &dir.join(at.trim_start_matches('/')));
    at
}

/// The copy plan is enough, given the catalog's facts: each recommendation, applied to a
/// root built as the catalog describes the image, runs. (The facts themselves are checked
/// against a real root in `catalog_facts_hold_on_a_bookworm_root`.)
#[test]
fn recommendations_run_in_their_images() {
    require_root();
    let cases: &[(&str, &[&str], &str)] = &[
        ("hello-gcc", &[], "Hello, world!"),
        ("hello-gcc-static", &[], "Hello, world!"),
        ("hello-gcc-static-pie", &[], "Hello, world!"),
        ("hello-musl", &[], "Hello, world!"),
        ("hello-musl-static", &[], "Hello, world!"),
        ("hello-cxx", &[], "Hello from C++"),
        ("getaddrinfo-gcc-static", &["localhost"], "uid 0 is root"),
        ("go-hello-nocgo", &[], "Hello, world!"),
        ("go-net-cgo", &[], "root"),
    ];
    for (name, args, expect) in cases {
        for policy in [Policy::Smallest, Policy::Debuggable, Policy::Distroless] {
            let program = fixture(name);
            let rec = advise(&program, policy);
            if rec.base.is_none() {
                // No distroless image carries musl, and all of them say `passwd: compat`,
                // which a static glibc program cannot use.
                assert!(
                    policy == Policy::Distroless
                        && ["hello-musl", "getaddrinfo-gcc-static"].contains(name),
                    "{name}: {:?}",
                    rec.why
                );
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let at = apply(&rec, &program, dir.path());
            let out = try_run_in_root(dir.path(), &at, args, &[]).expect("exec");
            let base = rec.base.as_deref().unwrap_or("?");
            assert!(
                out.status.success(),
                "{name} in {base} ({}): {:?} {}",
                policy.as_str(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(expect),
                "{name} in {base}"
            );
            // And verify agrees.
            let report = report_in(&dir.path().join(at.trim_start_matches('/')), dir.path());
            let v = runbase::verify(&report, dir.path()).unwrap();
            assert!(v.runs, "{name} in {base}: verify says {:?}", v.problems);
            eprintln!("{name}: {} -> {base}, ran", policy.as_str());
        }
    }
}

// ---------------------------------------------------------------------------------------
// verify: failures predicted with their reasons, then confirmed by running.

#[test]
fn verify_predicts_failures_that_running_confirms() {
    require_root();
    // A glibc program in a musl image: the interpreter is missing, exec fails with ENOENT.
    let musl = tempfile::tempdir().unwrap();
    stand_in(image("alpine:3.22"), musl.path());
    copy(&fixture("hello-gcc"), &musl.path().join("app/hello"));
    let report = report_in(&musl.path().join("app/hello"), musl.path());
    let v = runbase::verify(&report, musl.path()).unwrap();
    assert!(!v.runs);
    assert!(
        said(
            &v.problems,
            &v.problem_codes,
            "interpreter_missing",
            "interpreter /lib64/ld-linux-x86-64.so.2 is absent"
        ),
        "{:?}",
        v.problems
    );
    assert!(said(
        &v.problems,
        &v.problem_codes,
        "libc_mismatch",
        "a glibc program; the root has musl"
    ));
    let err = try_run_in_root(musl.path(), "/app/hello", &[], &[]).expect_err("must not start");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    // The root's musl version, read from its loader, is the package's.
    let musl_version = dpkg_version(Path::new("/"), "musl");
    let libc = v.libc.expect("root libc");
    assert_eq!(
        (
            libc.family.as_str(),
            libc.version.map(|v| v.to_string()).as_deref()
        ),
        ("musl", Some(musl_version.as_str()))
    );

    // A glibc floor above the root's glibc: a copy of hello whose version need says 2.99.
    let overlay = Overlay::new(&roots().join("minbase-amd64"));
    let minbase = overlay.path();
    let bytes = std::fs::read(fixture("hello-gcc")).unwrap();
    let patched = replace_all(&bytes, b"GLIBC_2.34", b"GLIBC_2.99");
    let target = minbase.join("tmp/runbase-floor-test");
    std::fs::write(&target, patched).unwrap();
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let readelf = Command::new("readelf")
        .args(["-V", "-W"])
        .arg(&target)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&readelf.stdout).contains("GLIBC_2.99"));
    let report = report_in(&target, minbase);
    let v = runbase::verify(&report, minbase).unwrap();
    let root_glibc = dpkg_version(minbase, "libc6");
    assert_eq!(
        v.libc
            .as_ref()
            .and_then(|l| l.version)
            .map(|v| v.to_string()),
        Some(root_glibc.clone())
    );
    assert!(!v.runs);
    assert!(
        said(
            &v.problems,
            &v.problem_codes,
            "glibc_too_old",
            "needs glibc >= 2.99"
        ) && v
            .problems
            .iter()
            .any(|p| p.ends_with(&format!("glibc is {root_glibc}"))),
        "{:?}",
        v.problems
    );
    let out = try_run_in_root(minbase, "/tmp/runbase-floor-test", &[], &[]).expect("exec");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("GLIBC_2.99' not found"));

    // Static glibc NSS in a distroless/static stand-in: `passwd: compat` and no module.
    let distroless = tempfile::tempdir().unwrap();
    stand_in(
        image("gcr.io/distroless/static-debian12"),
        distroless.path(),
    );
    copy(
        &fixture("getaddrinfo-gcc-static"),
        &distroless.path().join("app/prog"),
    );
    let report = report_in(&distroless.path().join("app/prog"), distroless.path());
    let v = runbase::verify(&report, distroless.path()).unwrap();
    assert!(!v.runs);
    assert!(
        said(
            &v.problems,
            &v.problem_codes,
            "nss_service_unusable",
            "`passwd: compat`"
        ),
        "{:?}",
        v.problems
    );
    let out = try_run_in_root(distroless.path(), "/app/prog", &["localhost"], &[]).expect("exec");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The command says so with exit status 3.
    #[cfg(feature = "cli")]
    {
        let out = crate::support::run_expecting(
            crate::support::runbase()
                .args(["verify", "--root"])
                .arg(musl.path())
                .arg(musl.path().join("app/hello")),
            3,
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("cannot run"));
    }
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = haystack.to_vec();
    let mut i = 0;
    let mut found = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0);
    out
}

#[cfg(feature = "cli")]
#[test]
fn command_line_recommend_and_verify() {
    use crate::support::{json_line_expecting, run_expecting, runbase};
    let hello = fixture("hello-gcc");
    let line = json_line_expecting(runbase().args(["recommend", "--json"]).arg(&hello), 0);
    assert_eq!(line["recommendation"]["base"], "busybox:glibc");
    assert_eq!(line["recommendation"]["policy"], "smallest");
    // No --root: the contract keeps `closure` null.
    assert!(line["closure"].is_null());
    let alternatives = line["recommendation"]["alternatives"].as_array().unwrap();
    assert_eq!(alternatives.len(), catalog().images.len());
    assert!(
        alternatives
            .iter()
            .all(|a| a["estimated_image_bytes"].as_u64().is_some())
    );

    let out = run_expecting(
        runbase()
            .args(["recommend", "--dockerfile", "--policy", "distroless"])
            .arg(&hello),
        0,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FROM gcr.io/distroless/base"), "{text}");
    assert!(
        text.contains("ENTRYPOINT [\"/usr/local/bin/hello-gcc\"]"),
        "{text}"
    );

    let out = run_expecting(
        runbase()
            .args(["recommend"])
            .arg(fixture("getaddrinfo-gcc-static")),
        0,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("base         scratch"), "{text}");
    assert!(
        text.contains("/etc/passwd  <-  (written: root and nobody only)"),
        "{text}"
    );

    run_expecting(
        runbase()
            .args(["recommend", "--policy", "tiny"])
            .arg(&hello),
        2,
    );

    // verify against this machine: hello runs here.
    let line = json_line_expecting(
        runbase()
            .args(["verify", "--json", "--root", "/"])
            .arg(&hello),
        0,
    );
    assert_eq!(line["verification"]["runs"], true);
    assert_eq!(line["verification"]["libc"]["family"], "glibc");
}

// ---------------------------------------------------------------------------------------
// What the plan must never do, and what cannot be planned.

#[test]
fn glibc_parts_are_never_copied_and_old_nss_modules_only_matter_before_2_34() {
    // Built without start files: readelf shows only GLIBC_2.2.5 needs, so on a glibc older
    // than 2.34 it would need libnss_files.so.2; every catalog glibc is newer.
    let program = fixture("getpwnam-old-floor");
    let elf = crate::support::readelf(&program);
    assert_eq!(elf.glibc_floor().as_deref(), Some("2.2.5"));
    let rec = advise(&program, Policy::Smallest);
    assert_eq!(rec.base.as_deref(), Some("busybox:glibc"), "{:?}", rec.why);
    for alt in &rec.alternatives {
        for add in &alt.add_files {
            let name = add.path.rsplit('/').next().unwrap();
            assert!(
                !name.starts_with("libnss_")
                    && !name.starts_with("libc.so")
                    && !name.starts_with("ld-linux"),
                "{}: {add:?}",
                alt.base
            );
        }
    }
    require_root();
    let overlay = Overlay::new(&roots().join("minbase-amd64"));
    let root = overlay.path();
    let target = root.join("tmp/runbase-old-floor");
    copy(&program, &target);
    let v = runbase::verify(&report_in(&target, root), root).unwrap();
    let out = try_run_in_root(root, "/tmp/runbase-old-floor", &[], &[]).expect("exec");
    assert!(v.runs, "{:?}", v.problems);
    assert!(
        out.status.success(),
        "getpwnam(\"root\") failed in the bookworm root"
    );
}

#[test]
fn a_copied_library_raises_the_glibc_floor() {
    // hello needs glibc 2.34; its DT_RELR-packed library needs GLIBC_ABI_DT_RELR (2.36).
    let program = fixture("hello-relr");
    let library = fixture("librelr.so.1");
    assert_eq!(
        crate::support::readelf(&program).glibc_floor().as_deref(),
        Some("2.34")
    );
    assert_eq!(
        crate::support::readelf(&library).glibc_floor().as_deref(),
        Some("2.36")
    );
    let rec = advise(&program, Policy::Smallest);
    let ubuntu = alternative(&rec, "ubuntu:22.04");
    assert_eq!(ubuntu.verdict.as_str(), "fails");
    assert!(
        said(
            &ubuntu.why,
            &ubuntu.why_codes,
            "glibc_too_old",
            "glibc >= 2.36"
        ),
        "{:?}",
        ubuntu.why
    );
    assert_ne!(alternative(&rec, "ubuntu:24.04").verdict.as_str(), "fails");
    // Found through $ORIGIN: the library is copied beside the program, which keeps its path.
    assert_eq!(rec.base.as_deref(), Some("busybox:glibc"), "{:?}", rec.why);
    let at = rec.program_path.clone().unwrap();
    assert_eq!(Path::new(&at), program.canonicalize().unwrap());
    assert!(
        rec.add_files
            .iter()
            .any(|f| Path::new(&f.path) == library.canonicalize().unwrap())
    );
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let at = apply(&rec, &program, dir.path());
    // glibc finds $ORIGIN through /proc/self/exe, which a container has.
    let proc = ProcMount::new(dir.path());
    let out = try_run_in_root(dir.path(), &at, &[], &[]).expect("exec");
    drop(proc);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn what_cannot_be_planned_fails() {
    // A shared library is no program to start.
    let rec = advise(&fixture("libgreet.so.1"), Policy::Smallest);
    assert_eq!(rec.base, None);
    assert!(rec.dockerfile.is_none());
    assert!(
        rec.alternatives
            .iter()
            .all(|a| a.verdict.as_str() == "fails"
                && a.why[0].contains("not a program")
                && a.why_codes[0].as_str() == "not_a_program")
    );

    // A build stage without /etc/passwd: the file is written (root and nobody), not
    // copied, so scratch still takes the program, and nothing comes from the build stage.
    let build = tempfile::tempdir().unwrap();
    let report = report_in(&fixture("getaddrinfo-gcc-static"), build.path());
    let rec = recommend(&report, &options_in(Policy::Smallest, build.path()));
    assert_eq!(rec.base.as_deref(), Some("scratch"), "{:?}", rec.why);
    let passwd = rec
        .add_files
        .iter()
        .find(|a| a.path == "/etc/passwd")
        .expect("/etc/passwd written");
    assert!(
        passwd.from.is_empty() && passwd.content.is_some(),
        "{passwd:?}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn dockerfile_copies_from_absolute_paths_and_verify_finds_the_programs_libc() {
    use crate::support::{json_line_expecting, run_expecting, runbase};
    let dir = crate::support::fixtures();
    for name in ["hello-musl", "hello-gcc-static-pie", "hello-gcc"] {
        let out = run_expecting(
            runbase()
                .args(["recommend", "--dockerfile", name])
                .current_dir(dir),
            0,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let expected = format!(
            "COPY --from=build {} ",
            dir.join(name).canonicalize().unwrap().display()
        );
        assert!(text.contains(&expected), "{name}: {text}");
    }
    // This machine has glibc and (musl-tools) musl's loader: a musl program is judged by musl.
    let line = json_line_expecting(
        runbase()
            .args(["verify", "--json", "--root", "/"])
            .arg(fixture("hello-musl")),
        0,
    );
    assert_eq!(line["verification"]["libc"]["family"], "musl");
    assert_eq!(
        line["verification"]["libc"]["version"],
        dpkg_version(Path::new("/"), "musl").as_str()
    );
}

/// User and group databases are written with root and nobody only: the build stage's own
/// files (its accounts, and the shadow files' password hashes) never reach an image.
#[test]
fn account_files_are_written_never_copied() {
    // Looks up uid 0 in /etc/passwd; the same need for the shadow database is what a
    // program calling getspnam has.
    let mut report = report_in(&fixture("getaddrinfo-gcc-static"), Path::new("/"));
    let passwd = report
        .needs
        .iter()
        .find(|n| n.kind.as_str() == "nss" && n.name.as_deref() == Some("passwd"))
        .expect("an nss passwd need")
        .clone();
    let mut shadow = passwd.clone();
    shadow.name = Some("shadow".into());
    for file in &mut shadow.files {
        if file.path == "/etc/passwd" {
            file.path = "/etc/shadow".into();
        }
    }
    report.needs.push(shadow);
    let rec = recommend(&report, &options(Policy::Smallest));
    let mut written = 0;
    for alt in &rec.alternatives {
        for add in &alt.add_files {
            let account = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"];
            assert!(
                !account.contains(&add.from.as_str()),
                "{}: {add:?}",
                alt.base
            );
            if !account.contains(&add.path.as_str()) {
                continue;
            }
            written += 1;
            let text = add.content.as_deref().expect("written, not copied");
            let names: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
            assert!(
                names == ["root", "nobody"] || names == ["root", "nogroup"],
                "{text}"
            );
            if add.path.ends_with("shadow") {
                // No password: `*` never matches a hash.
                assert!(
                    text.lines().all(|l| l.split(':').nth(1) == Some("*")),
                    "{text}"
                );
            }
        }
    }
    assert!(
        written >= 2,
        "scratch needs both /etc/passwd and /etc/shadow"
    );
    let dockerfile = rec.dockerfile.as_deref().expect("a Dockerfile");
    assert!(
        dockerfile.contains("COPY <<EOF /etc/passwd\nroot:x:0:0:"),
        "{dockerfile}"
    );
    assert!(
        !dockerfile.contains("--from=build /etc/shadow"),
        "{dockerfile}"
    );
}

/// What the build stage lacks cannot fail an image for a `likely` need: the program runs
/// without it where it was built. The recommendation says so, with its code.
#[test]
fn a_likely_file_the_build_stage_lacks_is_a_warning() {
    // tz-musl-static loads zones by name: tzdata likely, /usr/share/zoneinfo/ required.
    let empty = tempfile::tempdir().unwrap();
    let report = report_in(&fixture("tz-musl-static"), empty.path());
    let tz = report
        .needs
        .iter()
        .find(|n| n.kind.as_str() == "tzdata")
        .expect("a tzdata need");
    assert_eq!(tz.certainty.as_str(), "likely");
    let rec = recommend(&report, &options_in(Policy::Smallest, empty.path()));
    assert_eq!(rec.base.as_deref(), Some("scratch"), "{:?}", rec.why);
    let scratch = alternative(&rec, "scratch");
    assert_eq!(scratch.verdict.as_str(), "works");
    assert!(
        said(
            &scratch.why,
            &scratch.why_codes,
            "build_stage_lacks",
            "/usr/share/zoneinfo/ is not in the build stage either"
        ),
        "{:?}",
        scratch.why
    );
    // With the build stage holding the zones, they are added.
    let rec = advise(&fixture("tz-musl-static"), Policy::Smallest);
    assert!(
        rec.add_files
            .iter()
            .any(|a| a.path == "/usr/share/zoneinfo/"),
        "{:?}",
        rec.add_files
    );
}

/// A `possible` need is said, with its code, and planned only when asked for; verify lists
/// what it lacks as a warning, and the program still counts as running.
#[test]
fn possible_needs_are_warnings_unless_included() {
    let mut report = report_in(&fixture("tz-musl-static"), Path::new("/"));
    for need in &mut report.needs {
        need.certainty = "possible".parse_certainty();
    }
    let rec = recommend(&report, &options(Policy::Smallest));
    let scratch = alternative(&rec, "scratch");
    assert_eq!(scratch.verdict.as_str(), "works", "{:?}", scratch.why);
    assert!(scratch.add_files.is_empty());
    assert!(
        said(
            &scratch.why,
            &scratch.why_codes,
            "possible_not_planned",
            "scratch lacks /usr/share/zoneinfo/"
        ),
        "{:?}",
        scratch.why
    );
    let rec = recommend(&report, &{
        let mut o = options(Policy::Smallest);
        o.include_possible = true;
        o
    });
    assert!(
        rec.add_files
            .iter()
            .any(|a| a.path == "/usr/share/zoneinfo/"),
        "{:?}",
        rec.add_files
    );

    // verify: a root with the program and nothing else it needs (a static program).
    let root = tempfile::tempdir().unwrap();
    copy(&fixture("tz-musl-static"), &root.path().join("app/tz"));
    let mut report = report_in(&root.path().join("app/tz"), root.path());
    for need in &mut report.needs {
        need.certainty = "possible".parse_certainty();
    }
    let v = runbase::verify(&report, root.path()).unwrap();
    assert!(v.runs, "{:?}", v.problems);
    assert!(
        said(
            &v.warnings,
            &v.warning_codes,
            "need_file_missing",
            "/usr/share/zoneinfo/ is missing"
        ),
        "{:?}",
        v.warnings
    );
}

/// The contract's word for a certainty, parsed through serde as a tool reading the JSON
/// would.
trait ParseCertainty {
    fn parse_certainty(self) -> runbase::report::Certainty;
}

impl ParseCertainty for &str {
    fn parse_certainty(self) -> runbase::report::Certainty {
        serde_json::from_value(serde_json::Value::String(self.to_string())).unwrap()
    }
}
