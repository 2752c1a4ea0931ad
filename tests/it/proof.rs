//! Proof by running: for each fixture and the job it does (resolve `localhost`, look up uid
//! 0, convert to UTF-16, cancel a thread, load a time zone, load CA roots), a root
//! filesystem is assembled with only the program, its loader and libraries (dynamic files),
//! and the files `needs` lists; the program must do its job there, in a `chroot`. Then each
//! file marked required is removed in turn and the job must fail; each optional one is
//! removed in turn and the job must still succeed. The list is necessary and sufficient.
//!
//! Needs root (chroot). Without root the tests say so and pass, except in CI (`CI` set),
//! where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use runbase::Report;

use crate::support::{fixture, inspect, require_root};

/// One job: the fixture, how it is run, and the needs (kind, name) the job exercises.
struct Job {
    fixture: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    exercises: &'static [(&'static str, &'static str)],
    /// Conditions of required files that hold for this job (others are left out).
    conditions: &'static [&'static str],
}

/// Copies a host file (following symbolic links) or directory tree to the same path in
/// `root`.
fn copy_in(root: &Path, path: &str) {
    let host = Path::new(path.trim_end_matches('/'));
    let target = root.join(host.strip_prefix("/").expect("absolute path"));
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let status = Command::new("cp")
        .args(["-rL", "--no-preserve=ownership"])
        .arg(host)
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success(), "copy {path} into the root");
}

/// The loader and libraries of a dynamic fixture, as the host's loader resolves them
/// (tests may run the fixtures; the library never does).
fn closure(path: &Path) -> Vec<String> {
    let out = Command::new("ldd").arg(path).output().expect("ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if let Some((_, rest)) = l.split_once("=> ") {
                rest.split_whitespace()
                    .next()
                    .filter(|p| p.starts_with('/'))
            } else {
                l.split_whitespace().next().filter(|p| p.starts_with('/'))
            }
        })
        .map(str::to_string)
        .collect()
}

/// Runs the program in the root; `Ok` when it did its job (exit 0 within the time limit).
fn run(root: &Path, job: &Job) -> Result<(), String> {
    let out = Command::new("timeout")
        .arg("4")
        .arg("/usr/sbin/chroot")
        .arg(root)
        .arg("/prog")
        .args(job.args)
        .env_clear()
        .envs(job.env.iter().copied())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn in_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_end_matches('/').trim_start_matches('/'))
}

/// Proves the needs of one job; returns how many files were shown required and optional.
fn prove(job: &Job) -> (usize, usize) {
    let path = fixture(job.fixture);
    let report: Report = inspect(&path);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(&path, root.join("prog")).unwrap();
    if report.interpreter.is_some() {
        for lib in closure(&path) {
            copy_in(root, &lib);
        }
    }
    let included = |f: &runbase::report::NeedFile| {
        !f.required
            || f.condition
                .as_deref()
                .is_none_or(|c| job.conditions.contains(&c))
    };
    for need in &report.needs {
        for file in need.files.iter().filter(|f| included(f)) {
            if Path::new(file.path.trim_end_matches('/')).exists() {
                copy_in(root, &file.path);
            } else {
                assert!(
                    !file.required,
                    "{}: required {} is not on this host",
                    job.fixture, file.path
                );
            }
        }
    }
    run(root, job).unwrap_or_else(|e| {
        panic!(
            "{}: fails with everything needs lists: {e}\n{:#?}",
            job.fixture, report.needs
        )
    });

    let (mut required, mut optional) = (0, 0);
    for (kind, name) in job.exercises {
        let need = report
            .needs
            .iter()
            .find(|n| n.kind.as_str() == *kind && n.name.as_deref() == Some(*name))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no {kind} need {name:?}: {:#?}",
                    job.fixture, report.needs
                )
            });
        for file in need.files.iter().filter(|f| included(f)) {
            let target = in_root(root, &file.path);
            if !target.exists() && !target.is_symlink() {
                continue;
            }
            // Aside, out of every directory a runtime may scan (Go reads all of
            // /etc/ssl/certs, for one).
            let aside = root.join("removed-by-proof");
            std::fs::rename(&target, &aside).unwrap();
            let result = run(root, job);
            std::fs::rename(&aside, &target).unwrap();
            if file.required {
                assert!(
                    result.is_err(),
                    "{}: runs without required {}",
                    job.fixture,
                    file.path
                );
                required += 1;
            } else {
                result.unwrap_or_else(|e| {
                    panic!("{}: fails without optional {}: {e}", job.fixture, file.path)
                });
                optional += 1;
            }
        }
    }
    (required, optional)
}

const RESOLVE: &[(&str, &str)] = &[("RES_OPTIONS", "timeout:1 attempts:1")];
const BERLIN: &[(&str, &str)] = &[("TZ", "Europe/Berlin")];
const ZONE: &str = "TZ names a zone, e.g. TZ=Europe/Berlin";

/// The condition runbase writes on Go's CA bundle (it lists the other places Go looks).
const GO_CA_SEARCH: &str = "or the first of /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/ca-bundle.pem, /etc/pki/tls/cacert.pem, /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem, /etc/ssl/cert.pem, or files in /etc/ssl/certs, /etc/pki/tls/certs; SSL_CERT_FILE/SSL_CERT_DIR override";

fn jobs() -> Vec<Job> {
    let lookups: &[(&str, &str)] = &[("nss", "hosts"), ("nss", "passwd")];
    vec![
        Job {
            fixture: "getaddrinfo-gcc",
            args: &[],
            env: RESOLVE,
            exercises: lookups,
            conditions: &[],
        },
        Job {
            fixture: "getaddrinfo-gcc-static",
            args: &[],
            env: RESOLVE,
            exercises: lookups,
            conditions: &[],
        },
        Job {
            fixture: "getaddrinfo-gcc-static-stripped",
            args: &[],
            env: RESOLVE,
            exercises: lookups,
            conditions: &[],
        },
        Job {
            fixture: "getaddrinfo-musl-static",
            args: &[],
            env: &[],
            exercises: &[("etc_file", "hosts"), ("etc_file", "passwd")],
            conditions: &[],
        },
        Job {
            fixture: "iconv-gcc",
            args: &[],
            env: &[],
            exercises: &[("gconv", "iconv")],
            conditions: &["charsets other than UTF-8, UCS-2, UCS-4, ASCII and WCHAR_T"],
        },
        Job {
            fixture: "cancel-gcc",
            args: &[],
            env: &[],
            exercises: &[("libgcc_s", "unwinder")],
            conditions: &[],
        },
        Job {
            fixture: "tz-gcc",
            args: &[],
            env: BERLIN,
            exercises: &[("tzdata", "zoneinfo")],
            conditions: &[ZONE],
        },
        Job {
            fixture: "tz-musl-static",
            args: &[],
            env: BERLIN,
            exercises: &[("tzdata", "zoneinfo")],
            conditions: &[ZONE],
        },
        Job {
            fixture: "go-net-netgo",
            args: &[],
            env: &[],
            exercises: &[("etc_file", "go resolver"), ("etc_file", "go os/user")],
            conditions: &["names listed there, such as localhost"],
        },
        Job {
            fixture: "go-net-cgo",
            args: &[],
            env: RESOLVE,
            exercises: &[
                ("etc_file", "go resolver"),
                ("nss", "passwd"),
                ("nss", "group"),
            ],
            conditions: &["names listed there, such as localhost"],
        },
        Job {
            fixture: "go-tls",
            args: &[],
            env: &[],
            exercises: &[("ca_certificates", "go crypto/x509")],
            conditions: &[GO_CA_SEARCH],
        },
        Job {
            fixture: "go-tz",
            args: &[],
            env: &[],
            exercises: &[("tzdata", "go time")],
            conditions: &["zones loaded by name"],
        },
    ]
}

#[test]
fn every_listed_file_is_necessary_and_the_list_sufficient() {
    require_root();
    let mut total = (0, 0);
    for job in jobs() {
        let (required, optional) = prove(&job);
        eprintln!(
            "{}: {required} required and {optional} optional files proven",
            job.fixture
        );
        assert!(
            required > 0,
            "{}: no required file was exercised",
            job.fixture
        );
        total = (total.0 + required, total.1 + optional);
    }
    eprintln!("proofs: {} required, {} optional files", total.0, total.1);
}

/// The seed's hello world needs nothing beyond its loader and libc (and a static musl hello
/// nothing at all); a Go program with embedded time zones loads Berlin in an empty root.
#[test]
fn hello_needs_nothing_hidden() {
    for name in [
        "hello-gcc",
        "hello-gcc-nopie",
        "hello-gcc-static",
        "hello-gcc-static-stripped",
        "hello-gcc-static-pie",
        "hello-musl",
        "hello-musl-static",
        "hello-musl-static-stripped",
        "go-hello-nocgo",
    ] {
        let report = inspect(&fixture(name));
        assert!(report.needs.is_empty(), "{name}: {:#?}", report.needs);
    }
    let embedded = inspect(&fixture("go-tz-embedded"));
    assert!(
        embedded.needs.iter().all(|n| n
            .files
            .iter()
            .all(|f| !f.path.starts_with("/usr/share/zoneinfo"))),
        "{:#?}",
        embedded.needs
    );
    require_root();
    for (name, env) in [
        ("hello-gcc", &[][..]),
        ("hello-gcc-static", &[]),
        ("hello-musl-static", &[]),
        ("go-hello-nocgo", &[]),
        ("go-tz-embedded", &[]),
    ] {
        let job = Job {
            fixture: name,
            args: &[],
            env,
            exercises: &[],
            conditions: &[],
        };
        // Runs in a root holding only the program and its ldd closure (prove fails if
        // it does not); there are no files to prove necessary.
        prove(&job);
    }
}
