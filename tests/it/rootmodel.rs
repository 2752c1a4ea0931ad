//! The root model: every path a user names or a library search meets resolves inside the
//! root, as a `chroot` sees it, even while the root changes; nothing of this machine is
//! read in its place, and nothing read from a file is echoed raw.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use runbase::{Limits, ResolveOptions, Resolver};

use crate::support::{fixture, readelf};

/// Compiles a C source with gcc; the flags are the test's, and so are the facts expected.
fn gcc(dir: &Path, source: &str, out: &str, flags: &[&str]) {
    let c = dir.join(format!("{out}.c"));
    std::fs::write(&c, source).unwrap();
    let status = Command::new("gcc")
        .arg(&c)
        .arg("-o")
        .arg(dir.join(out))
        .args(flags)
        .current_dir(dir)
        .status()
        .expect("gcc");
    assert!(status.success(), "gcc {out}");
}

/// A program whose file in the root is a link to this machine's `/usr/bin/env` is the
/// root's `/usr/bin/env`, never this machine's.
#[test]
fn a_program_linked_out_of_the_root_is_the_roots_own() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    symlink("/usr/bin/env", root.join("usr/bin/app")).unwrap();
    let mut resolver = Resolver::new(root, &Limits::default(), &ResolveOptions::default()).unwrap();
    let options = runbase::Options::default();
    // The root has no /usr/bin/env: not found, although this machine has one.
    assert!(Path::new("/usr/bin/env").exists());
    let err = runbase::inspect_in_root(&root.join("usr/bin/app"), &options, &mut resolver)
        .expect_err("the root's /usr/bin/env is absent");
    assert!(err.to_string().contains("usr/bin/app"), "{err}");
    assert!(
        runbase::report::message_with_causes(&err).contains("no such file in the root"),
        "{}",
        runbase::report::message_with_causes(&err)
    );
    // With a static program at the root's /usr/bin/env, the facts are that program's
    // (readelf says it has no interpreter; this machine's env has one).
    let own = fixture("hello-musl-static");
    std::fs::copy(&own, root.join("usr/bin/env")).unwrap();
    let mut resolver = Resolver::new(root, &Limits::default(), &ResolveOptions::default()).unwrap();
    let report =
        runbase::inspect_in_root(&root.join("usr/bin/app"), &options, &mut resolver).unwrap();
    assert_eq!(readelf(&own).interpreter, None);
    assert!(readelf(Path::new("/usr/bin/env")).interpreter.is_some());
    assert_eq!(report.interpreter, None);
    assert_eq!(report.closure.unwrap().file_in_root, "/usr/bin/env");
}

/// A library that flips between a file of the root and a link to this machine's C
/// library, while closures are resolved: no resolution ever reads this machine's file.
#[test]
fn a_root_changing_meanwhile_never_leads_out() {
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    gcc(
        &build,
        "int only_in_root(void) { return 1; }\n",
        "libroot-only.so",
        &["-shared", "-fPIC", "-Wl,-soname,libroot-only.so"],
    );
    gcc(
        &build,
        "int only_in_root(void); int x(void) { return only_in_root(); }\n",
        "libx.so.1",
        &[
            "-shared",
            "-fPIC",
            "-Wl,-soname,libx.so.1",
            "-Wl,--no-as-needed",
            "-L.",
            "-lroot-only",
        ],
    );
    gcc(
        &build,
        "int x(void); int main(void) { return x(); }\n",
        "app",
        &[
            "-Wl,--no-as-needed",
            "-L.",
            "-l:libx.so.1",
            "-Wl,-rpath-link,.",
            "-Wl,-rpath,/lib",
            "-Wl,--enable-new-dtags",
        ],
    );
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("lib")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(build.join("app"), root.join("bin/app")).unwrap();
    let real = root.join("lib/libx.real");
    std::fs::copy(build.join("libx.so.1"), &real).unwrap();
    // This machine's C library, which needs its loader: a read of it would show
    // ld-linux-x86-64.so.2 among the closure's names.
    let host_libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    assert!(
        readelf(Path::new(host_libc))
            .needed
            .iter()
            .any(|n| n.starts_with("ld-linux"))
    );
    let lib = root.join("lib/libx.so.1");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (lib, real, stop) = (lib.clone(), real.clone(), stop.clone());
        let tmp = root.join("lib/.flip");
        std::thread::spawn(move || {
            let mut link = false;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&tmp);
                if link {
                    let _ = symlink(host_libc, &tmp);
                } else {
                    let _ = std::fs::hard_link(&real, &tmp);
                }
                let _ = std::fs::rename(&tmp, &lib);
                link = !link;
            }
        })
    };
    let mut seen_found = 0;
    for _ in 0..400 {
        let mut resolver =
            Resolver::new(&root, &Limits::default(), &ResolveOptions::default()).unwrap();
        let closure = resolver.closure(&root.join("bin/app"));
        let names: Vec<&str> = closure
            .libraries
            .iter()
            .map(|l| l.soname.as_str())
            .chain(closure.missing.iter().map(|m| m.soname.as_str()))
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("ld-linux")),
            "this machine's libc was read: {names:?}"
        );
        if closure.libraries.iter().any(|l| l.soname == "libx.so.1") {
            seen_found += 1;
            assert!(
                closure
                    .missing
                    .iter()
                    .any(|m| m.soname == "libroot-only.so"),
                "{names:?}"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    // The race was real: the root's file was found in some runs.
    assert!(seen_found > 0);
}

#[cfg(feature = "cli")]
mod command_line {
    use super::*;
    use crate::support::{json_lines, run_expecting, runbase};

    fn root_with_sbin_link() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
        std::fs::copy(fixture("hello-musl-static"), root.join("usr/sbin/tool")).unwrap();
        symlink("/usr/sbin", root.join("sbin")).unwrap();
        symlink("../../../../../../../..", root.join("usr/up")).unwrap();
        dir
    }

    /// scan's DIR is a directory of the root: `/sbin -> /usr/sbin` is the root's, a link
    /// climbing out is an error naming it, and no DIR means the whole root, not `/`.
    #[test]
    fn scan_walks_the_root_only() {
        let dir = root_with_sbin_link();
        let root = dir.path();
        let scan = |args: &[&str], status| {
            let out = run_expecting(
                runbase()
                    .args(["scan", "--json", "--root"])
                    .arg(root)
                    .args(args),
                status,
            );
            let paths: Vec<String> = json_lines(&out.stdout)
                .iter()
                .map(|l| l["path"].as_str().unwrap().to_string())
                .collect();
            (paths, String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let tool = root.join("usr/sbin/tool").to_string_lossy().into_owned();
        assert_eq!(scan(&["/sbin"], 0).0, vec![tool.clone()]);
        assert_eq!(scan(&[], 0).0, vec![tool.clone()]);
        assert_eq!(scan(&["/"], 0).0, vec![tool.clone()]);
        let under = root.join("sbin").to_string_lossy().into_owned();
        assert_eq!(scan(&[&under], 0).0, vec![tool.clone()]);
        let (paths, err) = scan(&["/usr/up/etc"], 2);
        assert!(paths.is_empty());
        assert!(
            err.contains("the link /usr/up leads out of the root"),
            "{err}"
        );
        // A lexical `..` above the root names no directory of the root.
        let above = format!("{}/../..", root.display());
        let (paths, err) = scan(&[&above], 2);
        assert!(paths.is_empty(), "{paths:?}");
        assert!(err.contains("no such file in the root"), "{err}");
    }

    /// A --root that is neither a directory nor an image says so, and quotes none of it.
    #[test]
    fn a_root_that_is_a_secret_is_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ca.key");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n",
        )
        .unwrap();
        for command in ["tree", "inspect", "verify"] {
            let out = run_expecting(
                runbase()
                    .args([command, "--root"])
                    .arg(&key)
                    .arg(fixture("hello-gcc")),
                1,
            );
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!text.contains("BEGIN"), "{text}");
            assert!(!text.contains("MIIE"), "{text}");
            assert!(text.contains("neither a directory nor an image"), "{text}");
        }
    }
}
