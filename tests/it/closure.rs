//! Closures inside root filesystems, against the real loader.
//!
//! The oracle is each root's own loader in ldd's mode (`LD_TRACE_LOADED_OBJECTS=1`, which
//! lists "not found" and goes on): run in a `chroot` for x86_64 roots, under
//! `qemu-<arch>-static -L ROOT` for foreign ones, and musl's loader under the name `ldd`.
//! Tests may run things; the library never does. Every ELF file of a debootstrap minbase
//! root, the foreign roots, and crafted roots for each search rule must resolve as the
//! loader resolves them, path for path.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use runbase::report::{Closure, FoundVia};
use runbase::{Limits, ResolveOptions, Resolver};

use crate::support::{copy, fixture, readelf, require_root, roots, run_in_root};

/// What the loader printed: DT_NEEDED name -> path (None: not found).
type Trace = BTreeMap<String, Option<String>>;

fn parse_trace(text: &str) -> Trace {
    let mut out = Trace::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((name, rest)) = line.split_once(" => ") else {
            // A library opened by a path (a DT_NEEDED with a slash, its `$ORIGIN`
            // expanded) is printed as that path alone.
            if let Some((path, _)) = line.split_once(" (0x") {
                if path.starts_with('/') {
                    out.insert(path.to_string(), Some(path.to_string()));
                }
            }
            continue;
        };
        if rest.starts_with("not found") {
            out.insert(name.to_string(), None);
        } else if let Some(path) = rest.split(" (0x").next() {
            out.insert(name.to_string(), Some(path.to_string()));
        }
    }
    out
}

/// The real glibc loader's answer, in the root.
fn glibc_trace(root: &Path, loader: &str, file: &str, ld_library_path: Option<&str>) -> Trace {
    let mut env = vec![("LD_TRACE_LOADED_OBJECTS", "1")];
    if let Some(path) = ld_library_path {
        env.push(("LD_LIBRARY_PATH", path));
    }
    let out = run_in_root(root, loader, &[file], &env);
    parse_trace(&String::from_utf8_lossy(&out.stdout))
}

/// Our answer as the same map (the loader itself left out, as it is in ours).
fn ours(closure: &Closure) -> Trace {
    let mut out = Trace::new();
    for lib in &closure.libraries {
        // The loader names a library opened by a path by that path.
        let name = if lib.soname.contains('/') {
            lib.path.clone()
        } else {
            lib.soname.clone()
        };
        out.insert(name, Some(lib.path.clone()));
    }
    for missing in &closure.missing {
        out.insert(missing.soname.clone(), None);
    }
    out
}

/// Normalises `..` and `.`, then resolves what the host can resolve inside the root.
fn canonical_in(root: &Path, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let lexical = format!("/{}", parts.join("/"));
    match std::fs::canonicalize(root.join(lexical.trim_start_matches('/'))) {
        Ok(real) => match real.strip_prefix(std::fs::canonicalize(root).unwrap()) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => lexical,
        },
        Err(_) => lexical,
    }
}

/// Compares, dropping the loader's own entries (ld-linux*, ld64.so*, ld.so.1).
fn assert_same(
    root: &Path,
    what: &str,
    theirs: &Trace,
    ours: &Trace,
    resolve: &dyn Fn(&str) -> String,
) {
    let is_loader = |n: &str| {
        let n = n.rsplit('/').next().unwrap_or(n);
        n.starts_with("ld-linux")
            || n.starts_with("ld64.so")
            || n == "ld.so.1"
            || n.starts_with("ld-musl")
    };
    let theirs: Trace = theirs
        .iter()
        .filter(|(n, _)| !is_loader(n))
        .map(|(n, p)| (n.clone(), p.as_deref().map(resolve)))
        .collect();
    let ours: Trace = ours
        .iter()
        .filter(|(n, _)| !is_loader(n))
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    assert_eq!(ours, theirs, "{what} in {}", root.display());
}

fn resolver(root: &Path, ld_library_path: Option<&str>) -> Resolver {
    let mut options = ResolveOptions::default();
    options.ld_library_path = ld_library_path.map(|p| p.split(':').map(str::to_string).collect());
    Resolver::new(root, &Limits::default(), &options).unwrap()
}

/// A root holding this host's glibc loader and libc, at real (not symlinked) paths.
fn glibc_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        Path::new("/lib64/ld-linux-x86-64.so.2"),
        &dir.path().join("lib64/ld-linux-x86-64.so.2"),
    );
    copy(
        Path::new("/lib/x86_64-linux-gnu/libc.so.6"),
        &dir.path().join("lib/x86_64-linux-gnu/libc.so.6"),
    );
    dir
}

const LOADER: &str = "/lib64/ld-linux-x86-64.so.2";

fn closure_fixture(name: &str) -> PathBuf {
    fixture(&format!("closure/{name}"))
}

/// One crafted scenario: files placed in a glibc root, then our closure of `file` against
/// the loader's.
fn check_scenario(what: &str, root: &Path, file: &str, ld_library_path: Option<&str>) -> Closure {
    let closure = resolver(root, ld_library_path).closure(&root.join(file.trim_start_matches('/')));
    let theirs = glibc_trace(root, LOADER, file, ld_library_path);
    assert!(!theirs.is_empty(), "{what}: the loader printed nothing");
    assert_same(root, what, &theirs, &ours(&closure), &|p| {
        canonical_in(root, p)
    });
    closure
}

#[test]
fn rpath_is_inherited_runpath_is_not() {
    require_root();
    let root = glibc_root();
    let r = root.path();
    copy(&closure_fixture("prog-rpath"), &r.join("app/prog-rpath"));
    copy(
        &closure_fixture("prog-runpath"),
        &r.join("app/prog-runpath"),
    );
    copy(&closure_fixture("liba.so"), &r.join("opt/rp/liba.so"));
    copy(&closure_fixture("libb.so"), &r.join("opt/rp/libb.so"));

    let c = check_scenario("DT_RPATH", r, "/app/prog-rpath", None);
    let via: BTreeMap<_, _> = c
        .libraries
        .iter()
        .map(|l| (l.soname.as_str(), l.found_via.as_str()))
        .collect();
    assert_eq!(via.get("liba.so"), Some(&"rpath"));
    assert_eq!(
        via.get("libb.so"),
        Some(&"inherited_rpath"),
        "liba has no path of its own"
    );

    let c = check_scenario("DT_RUNPATH", r, "/app/prog-runpath", None);
    assert!(
        c.missing.iter().any(|m| m.soname == "libb.so"),
        "RUNPATH is not inherited"
    );
    let missing = c.missing.iter().find(|m| m.soname == "libb.so").unwrap();
    assert!(
        missing
            .tried
            .iter()
            .any(|t| t.starts_with("/lib/x86_64-linux-gnu")),
        "{:?}",
        missing.tried
    );

    // LD_LIBRARY_PATH comes before RUNPATH and is searched for every object.
    let c = check_scenario("LD_LIBRARY_PATH", r, "/app/prog-runpath", Some("/opt/rp"));
    assert!(
        c.libraries
            .iter()
            .all(|l| l.soname == "libc.so.6" || l.found_via == FoundVia::LdLibraryPath)
    );
}

#[test]
fn wrong_architecture_loops_and_escapes_are_skipped() {
    require_root();
    let root = glibc_root();
    let r = root.path();
    copy(&closure_fixture("prog-rpath"), &r.join("app/prog-rpath"));
    copy(&closure_fixture("liba.so"), &r.join("opt/rp/liba.so"));
    // A 32-bit libb first in the RPATH, the right one in a default directory.
    std::fs::write(
        r.join("opt/rp/libb.so"),
        crate::synth::Synth::new(false, false).build(),
    )
    .unwrap();
    copy(
        &closure_fixture("libb.so"),
        &r.join("usr/lib/x86_64-linux-gnu/libb.so"),
    );
    let c = check_scenario("wrong class first", r, "/app/prog-rpath", None);
    let libb = c
        .libraries
        .iter()
        .find(|l| l.soname == "libb.so")
        .expect("libb found");
    assert_eq!(libb.path, "/usr/lib/x86_64-linux-gnu/libb.so");
    assert_eq!(libb.found_via, FoundVia::DefaultDir);

    // liba.so a symbolic-link loop, then an absolute link out of the root: not found.
    std::fs::remove_file(r.join("opt/rp/liba.so")).unwrap();
    symlink("liba.so", r.join("opt/rp/liba.so")).unwrap();
    check_scenario("symlink loop", r, "/app/prog-rpath", None);
    std::fs::remove_file(r.join("opt/rp/liba.so")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    copy(&closure_fixture("liba.so"), &outside.path().join("liba.so"));
    symlink(outside.path().join("liba.so"), r.join("opt/rp/liba.so")).unwrap();
    let c = check_scenario("absolute link out of the root", r, "/app/prog-rpath", None);
    assert!(c.missing.iter().any(|m| m.soname == "liba.so"));
}

#[test]
fn origin_in_a_wheel_layout() {
    require_root();
    let root = glibc_root();
    let r = root.path();
    copy(&closure_fixture("ext.so"), &r.join("site/pkg/_ext.so"));
    copy(
        &closure_fixture("libb.so"),
        &r.join("site/pkg.libs/libb.so"),
    );
    let c = check_scenario("$ORIGIN", r, "/site/pkg/_ext.so", None);
    let libb = c
        .libraries
        .iter()
        .find(|l| l.soname == "libb.so")
        .expect("libb");
    assert_eq!(libb.path, "/site/pkg.libs/libb.so");
    assert_eq!(libb.found_via, FoundVia::Origin);
    assert_eq!(libb.search_entry.as_deref(), Some("$ORIGIN/../pkg.libs"));
    // The same file outside the root is analysed as if copied to the same path inside.
    let outside = tempfile::tempdir().unwrap();
    let copied = outside.path().join("site/pkg/_ext.so");
    copy(&closure_fixture("ext.so"), &copied);
    let c = resolver(r, None).closure(&copied);
    assert!(
        c.missing.iter().any(|m| m.soname == "libb.so"),
        "no libs next to it in the root"
    );
}

/// A DT_NEEDED naming `$ORIGIN/liba.so` (the Google Cloud SDK's bundled python has such
/// entries): glibc expands the token against the needing object's directory and opens the
/// result.
#[test]
fn origin_in_a_needed_entry() {
    require_root();
    let root = glibc_root();
    let r = root.path();
    let elf = readelf(&closure_fixture("prog-origin-needed"));
    assert!(
        elf.needed.iter().any(|n| n == "$ORIGIN/liba.so"),
        "{:?}",
        elf.needed
    );
    copy(&closure_fixture("prog-origin-needed"), &r.join("app/prog"));
    copy(&closure_fixture("dst/liba.so"), &r.join("app/liba.so"));
    copy(
        &closure_fixture("libb.so"),
        &r.join("usr/lib/x86_64-linux-gnu/libb.so"),
    );
    let c = check_scenario("$ORIGIN in DT_NEEDED", r, "/app/prog", None);
    let liba = c
        .libraries
        .iter()
        .find(|l| l.soname == "$ORIGIN/liba.so")
        .expect("liba found");
    assert_eq!(liba.path, "/app/liba.so");
    assert_eq!(liba.found_via, FoundVia::Origin);
    assert!(c.missing.is_empty(), "{:?}", c.missing);
    // Elsewhere, it is looked for where the token points, and says so.
    std::fs::remove_file(r.join("app/liba.so")).unwrap();
    let c = resolver(r, None).closure(&r.join("app/prog"));
    let missing = c
        .missing
        .iter()
        .find(|m| m.soname == "$ORIGIN/liba.so")
        .expect("missing");
    assert_eq!(missing.tried, ["/app/liba.so"]);
}

#[test]
fn ld_so_conf_counts_only_through_the_cache() {
    require_root();
    let root = glibc_root();
    let r = root.path();
    copy(&closure_fixture("prog-runpath"), &r.join("app/prog"));
    copy(&closure_fixture("liba.so"), &r.join("opt/conf/liba.so"));
    copy(&closure_fixture("libb.so"), &r.join("opt/conf/libb.so"));
    std::fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
    std::fs::write(
        r.join("etc/ld.so.conf"),
        "include /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/ld.so.conf.d/opt.conf"), "/opt/conf\n").unwrap();
    // No cache: the loader never reads ld.so.conf, so /opt/conf is not searched.
    let c = check_scenario("ld.so.conf without a cache", r, "/app/prog", None);
    assert!(c.missing.iter().any(|m| m.soname == "liba.so"));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("/opt/conf") && w.contains("no /etc/ld.so.cache")),
        "{:?}",
        c.warnings
    );
    // With a cache built by ldconfig for this root, both are found through it.
    let status = Command::new("ldconfig")
        .arg("-r")
        .arg(r)
        .status()
        .expect("ldconfig");
    assert!(status.success());
    let c = check_scenario("ld.so.conf through the cache", r, "/app/prog", None);
    assert!(
        c.libraries
            .iter()
            .any(|l| l.soname == "liba.so" && l.found_via == FoundVia::LdSoCache)
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // A directory added to ld.so.conf after the cache was built: the loader does not look
    // there, and runbase says the cache is stale.
    copy(&closure_fixture("libb.so"), &r.join("opt/late/libb.so"));
    std::fs::write(r.join("etc/ld.so.conf.d/late.conf"), "/opt/late\n").unwrap();
    let c = check_scenario("a stale cache", r, "/app/prog", None);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("/opt/late") && w.contains("stale")),
        "{:?}",
        c.warnings
    );
}

/// `verify` looks for a library the program loads at run time (glibc dlopens libgcc_s.so.1
/// to cancel a thread) where the root's loader looks for it, and running agrees: not in a
/// directory the loader does not search, found through the ld.so.cache and through the
/// `LD_LIBRARY_PATH` the closure was resolved with.
#[test]
fn verify_looks_for_run_time_libraries_where_the_loader_does() {
    require_root();
    let root = glibc_root();
    let r = root.path();
    copy(&fixture("cancel-gcc"), &r.join("app/cancel"));
    let host_libgcc = Path::new("/lib/x86_64-linux-gnu/libgcc_s.so.1");
    let check = |what: &str, ld_library_path: Option<&str>, runs: bool| {
        let file = r.join("app/cancel");
        let mut resolver = resolver(r, ld_library_path);
        let report = runbase::inspect_in_root(&file, &runbase::Options::default(), &mut resolver)
            .expect("inspect");
        let v = runbase::verify(&report, r).unwrap();
        let env: Vec<(&str, &str)> = ld_library_path
            .map(|p| ("LD_LIBRARY_PATH", p))
            .into_iter()
            .collect();
        let out = run_in_root(r, "/app/cancel", &[], &env);
        assert_eq!(
            out.status.success(),
            runs,
            "{what}: the program {}: {}",
            if runs { "should run" } else { "should abort" },
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(v.runs, runs, "{what}: {:?}", v.problems);
        let missing = v
            .problems
            .iter()
            .any(|p| p.contains("libgcc_s.so.1 is missing"));
        assert_eq!(missing, !runs, "{what}: {:?}", v.problems);
    };

    // /usr/lib64 is not among the directories Debian's loader searches.
    copy(host_libgcc, &r.join("usr/lib64/libgcc_s.so.1"));
    check("libgcc_s in /usr/lib64", None, false);
    // In a directory of ld.so.conf, once ldconfig has put it in the cache.
    std::fs::remove_file(r.join("usr/lib64/libgcc_s.so.1")).unwrap();
    copy(host_libgcc, &r.join("opt/gcc/libgcc_s.so.1"));
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/ld.so.conf"), "/opt/gcc\n").unwrap();
    check("libgcc_s in ld.so.conf without a cache", None, false);
    let status = Command::new("ldconfig")
        .arg("-r")
        .arg(r)
        .status()
        .expect("ldconfig");
    assert!(status.success());
    check("libgcc_s through the cache", None, true);
    // In a directory of LD_LIBRARY_PATH.
    std::fs::remove_file(r.join("etc/ld.so.cache")).unwrap();
    check("libgcc_s without the cache", None, false);
    check("libgcc_s through LD_LIBRARY_PATH", Some("/opt/gcc"), true);
}

#[test]
fn version_needs_unmet_by_the_library_found() {
    // A library named libc.so.6 that defines no GLIBC versions (the 32-bit synthesized one
    // will not do: make a 64-bit one from libb by copying it under libc's name).
    let root = glibc_root();
    let r = root.path();
    copy(&closure_fixture("prog-rpath"), &r.join("app/prog"));
    copy(&closure_fixture("liba.so"), &r.join("opt/rp/liba.so"));
    copy(&closure_fixture("libb.so"), &r.join("opt/rp/libb.so"));
    copy(&closure_fixture("libb.so"), &r.join("opt/rp/libc.so.6"));
    let c = resolver(r, None).closure(&r.join("app/prog"));
    let libc = c
        .libraries
        .iter()
        .find(|l| l.soname == "libc.so.6")
        .expect("libc");
    assert_eq!(
        libc.path, "/opt/rp/libc.so.6",
        "found through the RPATH, first"
    );
    let needed = readelf(&closure_fixture("prog-rpath"));
    let floor = needed.glibc_floor().expect("a GLIBC version need");
    assert!(
        c.unmet_versions
            .iter()
            .any(|u| u.soname == "libc.so.6" && u.version == format!("GLIBC_{floor}")),
        "{:?}",
        c.unmet_versions
    );
}

#[test]
fn a_32_bit_program_in_a_64_bit_root() {
    let (dir, files) = crate::support::corpus();
    let hello = files
        .iter()
        .find(|p| {
            p.to_string_lossy()
                .contains("hello_2.10-3_i386/usr/bin/hello")
        })
        .expect("i386 hello in the corpus");
    let root = glibc_root();
    let r = root.path();
    copy(hello, &r.join("usr/bin/hello"));
    let c = resolver(r, None).closure(&r.join("usr/bin/hello"));
    // The only libc.so.6 is 64-bit: the loader of a 32-bit process skips it.
    assert_eq!(c.interpreter.as_ref().map(|i| i.found), Some(false));
    assert!(c.missing.iter().any(|m| m.soname == "libc.so.6"), "{c:?}");
    let _ = dir;
}

/// Every ELF file of a Debian minbase root (debootstrap), against its own loader.
#[test]
fn debian_minbase_root_matches_its_loader() {
    require_root();
    let root = roots().join("minbase-amd64");
    let files = elf_files(&root);
    assert!(files.len() > 500, "{} ELF files", files.len());
    let mut resolver = resolver(&root, None);
    let mut compared = 0;
    for file in &files {
        let theirs = glibc_trace(&root, LOADER, file, None);
        if theirs.is_empty() {
            // Only files with nothing to load but the loader may leave it silent (static
            // programs, the loader itself, libc.so.6).
            let elf = readelf(&root.join(file.trim_start_matches('/')));
            assert!(
                elf.needed
                    .iter()
                    .all(|n| n.starts_with("ld-") || n.starts_with("ld64")),
                "{file}: the loader printed nothing for {:?}",
                elf.needed
            );
            continue;
        }
        let closure = resolver.closure(&root.join(file.trim_start_matches('/')));
        let canon = |p: &str| {
            let out = run_in_root(&root, "/usr/bin/realpath", &["-m", p], &[]);
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_same(&root, file, &theirs, &ours(&closure), &canon);
        compared += 1;
    }
    eprintln!(
        "minbase: {compared} of {} ELF files compared with the loader, all equal",
        files.len()
    );
    assert!(compared > 500);
}

/// Foreign roots unpacked with dpkg -x (no ld.so.cache), against their loaders under qemu.
#[test]
fn foreign_roots_match_their_loaders_under_qemu() {
    for (arch, qemu, loader) in [
        (
            "armhf",
            "qemu-arm-static",
            "/lib/arm-linux-gnueabihf/ld-linux-armhf.so.3",
        ),
        (
            "ppc64el",
            "qemu-ppc64le-static",
            "/lib/powerpc64le-linux-gnu/ld64.so.2",
        ),
    ] {
        let root = roots().join(arch);
        let mut resolver = resolver(&root, None);
        let mut compared = 0;
        for file in elf_files(&root) {
            let out = Command::new(qemu)
                .arg("-L")
                .arg(&root)
                .args(["-E", "LD_TRACE_LOADED_OBJECTS=1"])
                .arg(root.join(loader.trim_start_matches('/')))
                .arg(&file)
                .output()
                .expect("qemu-user-static (scripts/test-all installs it)");
            let theirs = parse_trace(&String::from_utf8_lossy(&out.stdout));
            if theirs.is_empty() {
                let elf = readelf(&root.join(file.trim_start_matches('/')));
                assert!(
                    elf.needed
                        .iter()
                        .all(|n| n.starts_with("ld-") || n.starts_with("ld64")),
                    "{file}: the loader printed nothing for {:?}",
                    elf.needed
                );
                continue;
            }
            let closure = resolver.closure(&root.join(file.trim_start_matches('/')));
            assert_same(&root, &file, &theirs, &ours(&closure), &|p| {
                canonical_in(&root, p)
            });
            compared += 1;
        }
        eprintln!("{arch}: {compared} ELF files compared with the loader under qemu");
        assert!(compared >= 5, "{arch}: {compared}");
    }
}

/// A synthesized x86_64 object of type `e_type` needing `needed` (no loader: none runs it).
fn synth_object(e_type: u16, needed: &[String]) -> Vec<u8> {
    synth_dynamic(e_type, needed, None)
}

/// A synthesized x86_64 object of type `e_type` needing `needed`, with an RPATH when given.
fn synth_dynamic(e_type: u16, needed: &[String], rpath: Option<&str>) -> Vec<u8> {
    use crate::synth::{DynamicParts, Segment, Synth};
    let mut synth = Synth::new(true, false);
    synth.e_type = e_type;
    let mut parts = DynamicParts::new();
    let offsets: Vec<u32> = needed.iter().map(|n| parts.add(n)).collect();
    let mut dynamic: Vec<(u64, u64)> = offsets.iter().map(|&o| (1, u64::from(o))).collect();
    if let Some(rpath) = rpath {
        dynamic.push((15, u64::from(parts.add(rpath))));
    }
    synth.segments.push(Segment {
        p_type: 1,
        flags: 4,
        data: parts.strtab.clone(),
    });
    synth.segments.push(Segment {
        p_type: 2,
        flags: 6,
        data: vec![0; 16 * (dynamic.len() + 3)],
    });
    dynamic.extend([
        (5, synth.addr_of(0)),
        (10, parts.strtab.len() as u64),
        (0, 0),
    ]);
    synth.segments[1].data = synth.dynamic(&dynamic);
    synth.build()
}

/// A closure larger than the cap stops there, and says so once (it said so once per
/// object still queued).
#[test]
fn closure_cut_is_said_once() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("lib")).unwrap();
    std::fs::create_dir_all(r.join("app")).unwrap();
    // The program needs 4000 libraries, each needing one of its own: 8001 objects.
    let libs: Vec<String> = (0..4000).map(|i| format!("lib{i}.so")).collect();
    for (i, lib) in libs.iter().enumerate() {
        std::fs::write(
            r.join("lib").join(lib),
            synth_object(3, &[format!("libx{i}.so")]),
        )
        .unwrap();
        std::fs::write(r.join(format!("lib/libx{i}.so")), synth_object(3, &[])).unwrap();
    }
    std::fs::write(r.join("app/main"), synth_object(2, &libs)).unwrap();
    let closure = resolver(r, None).closure(&r.join("app/main"));
    let cuts = closure
        .warnings
        .iter()
        .filter(|w| *w == "closure cut at 4096 objects")
        .count();
    assert_eq!(cuts, 1);
    // Every object but the program itself is listed.
    assert_eq!(closure.libraries.len(), 4095);
    assert!(closure.missing.is_empty());
}

/// musl: RUNPATH is searched up the chain of loaders (unlike glibc), then the path file.
#[test]
fn musl_rules_match_its_loader() {
    require_root();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // Debian's musl: the loader is libc.so, reached through /lib/ld-musl-x86_64.so.1.
    copy(
        Path::new("/usr/lib/x86_64-linux-musl/libc.so"),
        &r.join("usr/lib/x86_64-linux-musl/libc.so"),
    );
    std::fs::create_dir_all(r.join("lib")).unwrap();
    symlink(
        "/usr/lib/x86_64-linux-musl/libc.so",
        r.join("lib/ld-musl-x86_64.so.1"),
    )
    .unwrap();
    symlink("/lib/ld-musl-x86_64.so.1", r.join("ldd")).unwrap();
    for name in ["prog-runpath", "liba.so", "libb.so", "hello"] {
        let from = closure_fixture(&format!("musl-{name}"));
        let to = if name == "prog-runpath" || name == "hello" {
            format!("app/{name}")
        } else {
            format!("opt/rp/{name}")
        };
        copy(&from, &r.join(&to));
    }
    let trace = |file: &str| {
        parse_trace(&String::from_utf8_lossy(
            &run_in_root(r, "/ldd", &[file], &[]).stdout,
        ))
    };
    // musl's ldd also lists its folded-in names (libc.so) at the loader's path; the
    // closure leaves the loader out.
    let loader = "/usr/lib/x86_64-linux-musl/libc.so";
    let trace = |file: &str| -> Trace {
        trace(file)
            .into_iter()
            .filter(|(_, p)| {
                let p = p.as_deref().unwrap_or("");
                p != "/lib/ld-musl-x86_64.so.1" && canonical_in(r, p) != loader
            })
            .collect()
    };
    for file in ["/app/prog-runpath", "/app/hello"] {
        let c = resolver(r, None).closure(&r.join(file.trim_start_matches('/')));
        assert_same(r, file, &trace(file), &ours(&c), &|p| canonical_in(r, p));
    }
    let c = resolver(r, None).closure(&r.join("app/prog-runpath"));
    let libb = c
        .libraries
        .iter()
        .find(|l| l.soname == "libb.so")
        .expect("libb");
    assert_eq!(
        libb.found_via,
        FoundVia::InheritedRpath,
        "musl searches the loaders' paths too"
    );
    // The path file replaces the default directories.
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::rename(r.join("opt/rp"), r.join("opt/mp")).unwrap();
    std::fs::write(r.join("etc/ld-musl-x86_64.path"), "/opt/nothing:/opt/mp\n").unwrap();
    let c = resolver(r, None).closure(&r.join("app/prog-runpath"));
    assert_same(
        r,
        "path file",
        &trace("/app/prog-runpath"),
        &ours(&c),
        &|p| canonical_in(r, p),
    );
    assert!(
        c.libraries
            .iter()
            .all(|l| l.found_via == FoundVia::MuslPathFile),
        "{:?}",
        c.libraries
    );
}

/// Every regular ELF file in a root, as in-root paths.
fn elf_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                let mut head = [0u8; 4];
                let is_elf = std::fs::File::open(entry.path())
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                    .is_ok()
                    && head == *b"\x7fELF";
                if is_elf {
                    out.push(format!(
                        "/{}",
                        entry.path().strip_prefix(root).unwrap().display()
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

/// The command line over a crafted root: `inspect --root` (threads or not, same lines),
/// `tree` and `scan`, with their exit statuses. Expected paths are where the files were
/// placed; expected names come from readelf.
#[test]
fn command_line_inspect_tree_and_scan() {
    let root = glibc_root();
    let r = root.path();
    copy(&closure_fixture("prog-rpath"), &r.join("app/prog-rpath"));
    copy(
        &closure_fixture("prog-runpath"),
        &r.join("app/prog-runpath"),
    );
    copy(&closure_fixture("liba.so"), &r.join("opt/rp/liba.so"));
    copy(&closure_fixture("libb.so"), &r.join("opt/rp/libb.so"));
    use crate::support::{json_lines as lines, runbase};
    let prog_needed = readelf(&closure_fixture("prog-rpath")).needed;
    assert!(prog_needed.contains(&"liba.so".to_string()));

    let inspect = |jobs: &str| {
        runbase()
            .args(["inspect", "--json", "-r", "-j", jobs, "--root"])
            .arg(r)
            .arg(r)
            .output()
            .unwrap()
    };
    let one = inspect("1");
    let two = inspect("2");
    assert_eq!(
        one.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert_eq!(
        one.stdout, two.stdout,
        "threads change nothing, order included"
    );
    let reports = lines(&one.stdout);
    assert_eq!(
        reports.len(),
        6,
        "loader, libc, two programs, two libraries"
    );
    for report in &reports {
        crate::support::check_value(report);
        assert_eq!(report["closure"]["root"], r.to_string_lossy().as_ref());
    }
    let by_path = |suffix: &str| {
        reports
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(suffix))
            .unwrap()
    };
    let found: BTreeMap<String, (String, String)> =
        by_path("/app/prog-rpath")["closure"]["libraries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let s = |k: &str| l[k].as_str().unwrap().to_string();
                (s("soname"), (s("path"), s("found_via")))
            })
            .collect();
    let expected: BTreeMap<String, (String, String)> = [
        ("liba.so", "/opt/rp/liba.so", "rpath"),
        ("libb.so", "/opt/rp/libb.so", "inherited_rpath"),
        (
            "libc.so.6",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "default_dir",
        ),
    ]
    .iter()
    .map(|(n, p, v)| (n.to_string(), (p.to_string(), v.to_string())))
    .collect();
    assert_eq!(found, expected);
    let runpath = &by_path("/app/prog-runpath")["closure"];
    assert_eq!(runpath["missing"][0]["soname"], "libb.so");
    assert_eq!(runpath["missing"][0]["needed_by"][0], "/opt/rp/liba.so");

    // tree: exit 0 when everything is found, 1 when not, 2 without a root.
    let tree = runbase()
        .args(["tree", "--root"])
        .arg(r)
        .arg(r.join("app/prog-rpath"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tree.stdout);
    assert_eq!(tree.status.code(), Some(0), "{text}");
    assert!(
        text.contains("liba.so => /opt/rp/liba.so [rpath]"),
        "{text}"
    );
    assert!(
        text.contains("libb.so => /opt/rp/libb.so [inherited_rpath]"),
        "{text}"
    );
    let tree = runbase()
        .args(["tree", "-v", "--root"])
        .arg(r)
        .arg(r.join("app/prog-runpath"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tree.stdout);
    assert_eq!(tree.status.code(), Some(1), "{text}");
    assert!(text.contains("libb.so not found"), "{text}");
    assert!(
        text.contains("tried: ") && text.contains("/lib/x86_64-linux-gnu/"),
        "{text}"
    );
    let tree = runbase()
        .arg("tree")
        .arg(r.join("app/prog-rpath"))
        .output()
        .unwrap();
    assert_eq!(tree.status.code(), Some(2));

    // scan: only the program that cannot start, exit 1; --json: every ELF file.
    let scan = runbase()
        .arg("scan")
        .arg(r)
        .arg("--root")
        .arg(r)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&scan.stdout);
    assert_eq!(scan.status.code(), Some(1), "{text}");
    assert!(
        text.contains("/app/prog-runpath") && text.contains("missing libb.so"),
        "{text}"
    );
    assert!(!text.contains("prog-rpath"), "{text}");
    let scan = runbase()
        .args(["scan", "--json", "--jobs", "2"])
        .arg(r)
        .arg("--root")
        .arg(r)
        .output()
        .unwrap();
    let scanned = lines(&scan.stdout);
    assert_eq!(scanned.len(), 6);
    assert_eq!(
        scanned
            .iter()
            .map(|l| l["path"].clone())
            .collect::<Vec<_>>(),
        reports
            .iter()
            .map(|l| l["path"].clone())
            .collect::<Vec<_>>(),
        "the same walk, in the same order"
    );
}

/// `tree` over N libraries that each need all the others: every library's needs are shown
/// once, under the object that loaded it; its other appearances are one line each saying
/// where it is shown. The text grows with the edges (N squared), not with N cubed: shown at
/// first sight depth first, the libraries nested N deep and the indentation alone grew with
/// N cubed.
#[cfg(feature = "cli")]
#[test]
fn tree_shows_each_library_once_and_stays_quadratic() {
    const N: usize = 300;
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("lib")).unwrap();
    std::fs::create_dir_all(r.join("app")).unwrap();
    let libs: Vec<String> = (0..N).map(|i| format!("lib{i}.so")).collect();
    for lib in &libs {
        let others: Vec<String> = libs.iter().filter(|l| *l != lib).cloned().collect();
        std::fs::write(r.join("lib").join(lib), synth_object(3, &others)).unwrap();
    }
    std::fs::write(r.join("app/main"), synth_object(2, &libs[..1])).unwrap();
    let out = crate::support::runbase()
        .args(["tree", "--root"])
        .arg(r)
        .arg(r.join("app/main"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The program's line, its one need, lib0's N-1 needs, and the N-1 needs of each of the
    // N-1 others: one line per DT_NEEDED entry.
    assert_eq!(lines.len(), 1 + 1 + (N - 1) + (N - 1) * (N - 1));
    // Each library is shown in full exactly once.
    let full: Vec<&&str> = lines
        .iter()
        .skip(1)
        .filter(|l| !l.contains("(shown "))
        .collect();
    assert_eq!(full.len(), N, "{full:?}");
    for lib in &libs {
        let at = format!(" {lib} => /lib/{lib} [default_dir]");
        assert_eq!(full.iter().filter(|l| l.ends_with(&at)).count(), 1, "{lib}");
    }
    // No deeper than the loader's walk: lib0 under the program, the rest under lib0 (two
    // levels of indentation).
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap();
    let widest = format!("        ├── lib{N}.so => /lib/lib{N}.so [default_dir] (shown above)");
    assert!(longest <= widest.chars().count(), "{longest}");
}

/// Text output escapes control characters read from files and file names: a name, a
/// DT_NEEDED entry and an RPATH holding a terminal escape and a newline print neither raw,
/// in `inspect`, `tree` and `scan`. JSON keeps them as they are (serde escapes them).
#[cfg(feature = "cli")]
#[test]
fn text_output_escapes_control_characters_from_files() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("app")).unwrap();
    let hostile = "lib\x1b[31mred\nnext.so";
    let file = r.join("app/prog\x1b[31m\nevil");
    std::fs::write(
        &file,
        synth_dynamic(2, &[hostile.to_string()], Some("/opt/\x1b[31m\nx")),
    )
    .unwrap();
    let check = |what: &str, out: std::process::Output| {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!bytes.contains(&0x1b), "{what} {stream}: {text}");
            for line in text.lines() {
                assert!(
                    !line.starts_with("red")
                        && !line.starts_with("next")
                        && !line.starts_with("evil")
                        && !line.starts_with('x'),
                    "{what} {stream}: a name was split over lines: {text}"
                );
            }
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains(r"\u{1b}[31m"), "{what}: {text}");
        text
    };
    let runbase = crate::support::runbase;
    let inspect = check(
        "inspect",
        runbase().arg("inspect").arg(&file).output().unwrap(),
    );
    assert!(inspect.contains(r"lib\u{1b}[31mred\nnext.so"), "{inspect}");
    assert!(inspect.contains(r"/opt/\u{1b}[31m\nx"), "{inspect}");
    let tree = check(
        "tree",
        runbase()
            .args(["tree", "-v", "--root"])
            .arg(r)
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert!(
        tree.contains(r"lib\u{1b}[31mred\nnext.so not found"),
        "{tree}"
    );
    let scan = check(
        "scan",
        runbase()
            .arg("scan")
            .arg(r)
            .arg("--root")
            .arg(r)
            .output()
            .unwrap(),
    );
    assert!(
        scan.contains(r"missing lib\u{1b}[31mred\nnext.so"),
        "{scan}"
    );
    let recommend = runbase().arg("recommend").arg(&file).output().unwrap();
    check("recommend", recommend);
    // JSON carries the names exactly.
    let json = runbase()
        .args(["inspect", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let line = &crate::support::json_lines(&json.stdout)[0];
    assert_eq!(line["needed"][0], hostile);
    assert_eq!(line["rpath"][0], "/opt/\x1b[31m\nx");
}

/// File names that are not UTF-8 are written injectively: an invalid byte as `\xNN` (and a
/// backslash as `\\`), so two different files never print the same path.
#[cfg(feature = "cli")]
#[test]
fn file_names_that_are_not_utf8_stay_distinct() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in [&b"a\xff"[..], b"a\xfe", b"a\\xff"] {
        copy(&fixture("hello-gcc"), &d.join(OsStr::from_bytes(name)));
    }
    let prefix = d.to_str().unwrap();
    let expected = [
        format!(r"{prefix}/a\\xff"),
        format!(r"{prefix}/a\xfe"),
        format!(r"{prefix}/a\xff"),
    ];
    let runbase = crate::support::runbase;
    let scan = runbase()
        .args(["scan", "--json", d.to_str().unwrap(), "--root"])
        .arg(d)
        .output()
        .unwrap();
    let mut paths: Vec<String> = crate::support::json_lines(&scan.stdout)
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, expected);
    let inspect = runbase()
        .args(["inspect", "--json", "-r"])
        .arg(d)
        .output()
        .unwrap();
    let mut paths: Vec<String> = crate::support::json_lines(&inspect.stdout)
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, expected);
    // The closure's own path of the file, and the text lines, too.
    let lines = crate::support::json_lines(&scan.stdout);
    let mut in_root: Vec<&str> = lines
        .iter()
        .map(|l| l["closure"]["file_in_root"].as_str().unwrap())
        .collect();
    in_root.sort();
    assert_eq!(in_root, [r"/a\\xff", r"/a\xfe", r"/a\xff"]);
    let text = runbase()
        .args(["scan", d.to_str().unwrap(), "--root"])
        .arg(d)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    for path in &expected {
        assert!(text.lines().any(|l| l == path), "{path}: {text}");
    }
}

/// A program over a NEEDED chain: the work of its closure (searches, the libraries' needs
/// carried along each chain) grows with the chain, not with its square. Measured as the
/// bytes allocated, which follow the work: spelling out each library's chain of sonames
/// allocated about n squared over 2 strings.
#[test]
fn a_needed_chain_costs_its_length() {
    let work = |n: usize| {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("lib")).unwrap();
        std::fs::create_dir_all(r.join("app")).unwrap();
        for i in 0..n {
            let next: Vec<String> = (i + 1 < n)
                .then(|| format!("lib{}.so", i + 1))
                .into_iter()
                .collect();
            std::fs::write(r.join(format!("lib/lib{i}.so")), synth_object(3, &next)).unwrap();
        }
        std::fs::write(
            r.join("app/main"),
            synth_object(2, &["lib0.so".to_string()]),
        )
        .unwrap();
        let mut resolver = resolver(r, None);
        let main = r.join("app/main");
        // Once to read the libraries, then measured.
        runbase::inspect_in_root(&main, &runbase::Options::default(), &mut resolver).unwrap();
        let (report, bytes) = crate::support::total_allocation(|| {
            runbase::inspect_in_root(&main, &runbase::Options::default(), &mut resolver).unwrap()
        });
        assert_eq!(report.closure.unwrap().libraries.len(), n);
        bytes
    };
    let small = work(250);
    let large = work(2000);
    // Eight times the chain: about eight times the work (quadratic would be 64 times).
    assert!(
        large < small * 16,
        "{small} bytes for 250, {large} for 2000"
    );
}
