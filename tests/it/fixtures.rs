//! Fixtures compiled from `tests/fixtures/src`: every fact is checked against readelf and
//! against how the fixture was built (the flags in `tests/fixtures/build.sh`).

use std::process::Command;

use runbase::report::{LibcFamily, Linkage};
use runbase::{Options, Report};

use crate::support::{self, fixture, inspect, readelf};

/// Facts readelf also reports must equal readelf's.
pub fn assert_matches_readelf(report: &Report, path: &std::path::Path) {
    let r = readelf(path);
    let what = path.display();
    assert_eq!(report.elf.class, r.class, "{what}: class");
    assert_eq!(
        serde_json::to_value(report.elf.endian).unwrap(),
        serde_json::Value::from(r.endian.as_str()),
        "{what}: endian"
    );
    assert_eq!(
        report.elf.machine,
        support::machine_for_readelf(&r.machine, r.class),
        "{what}: machine"
    );
    assert_eq!(
        serde_json::to_value(report.elf.file_type).unwrap(),
        serde_json::Value::from(support::type_for_readelf(&r.file_type)),
        "{what}: type"
    );
    assert_eq!(report.interpreter, r.interpreter, "{what}: interpreter");
    assert_eq!(report.needed, r.needed, "{what}: needed");
    assert_eq!(report.soname, r.soname, "{what}: soname");
    assert_eq!(report.rpath, r.rpath, "{what}: rpath");
    assert_eq!(report.runpath, r.runpath, "{what}: runpath");
    assert_eq!(
        report.libc.glibc_required.map(|v| v.to_string()),
        r.glibc_floor(),
        "{what}: glibc floor"
    );
}

fn check(name: &str, linkage: Linkage, family: LibcFamily, executable: bool) -> Report {
    let path = fixture(name);
    let report = inspect(&path);
    assert_matches_readelf(&report, &path);
    assert_eq!(report.linkage, linkage, "{name}: linkage");
    assert_eq!(
        report.libc.family, family,
        "{name}: libc {:?}",
        report.libc.evidence
    );
    assert_eq!(report.executable, executable, "{name}: executable");
    assert!(!report.libc.evidence.is_empty(), "{name}: libc evidence");
    assert!(
        report.warnings.is_empty(),
        "{name}: warnings {:?}",
        report.warnings
    );
    report
}

#[test]
fn article_hello_world_every_way() {
    use LibcFamily::{Glibc, Musl};
    use Linkage::{Dynamic, Static, StaticPie};
    let cases = [
        ("hello-gcc", Dynamic, Glibc),
        ("hello-gcc-stripped", Dynamic, Glibc),
        ("hello-gcc-nopie", Dynamic, Glibc),
        ("hello-gcc-static", Static, Glibc),
        ("hello-gcc-static-stripped", Static, Glibc),
        ("hello-gcc-static-pie", StaticPie, Glibc),
        ("hello-gcc-static-pie-stripped", StaticPie, Glibc),
        ("hello-musl", Dynamic, Musl),
        ("hello-musl-static", Static, Musl),
        ("hello-musl-static-stripped", Static, Musl),
        ("getaddrinfo-gcc", Dynamic, Glibc),
        ("getaddrinfo-gcc-static", Static, Glibc),
        ("getaddrinfo-gcc-static-stripped", Static, Glibc),
        ("getaddrinfo-musl-static", Static, Musl),
        ("hello-cxx", Dynamic, Glibc),
        ("hello-runpath", Dynamic, Glibc),
        ("hello-rpath", Dynamic, Glibc),
    ];
    for (name, linkage, family) in cases {
        let report = check(name, linkage, family, true);
        let is_static = matches!(linkage, Static | StaticPie);
        if is_static {
            assert_eq!(
                report.libc.glibc_required, None,
                "{name}: static has no floor"
            );
            assert!(report.needed.is_empty() && report.interpreter.is_none());
        }
        if family == Glibc && !is_static {
            // The floor is set by an imported symbol: __libc_start_main@GLIBC_2.34 on the
            // glibc 2.36 that builds these fixtures.
            let floor = report
                .libc
                .glibc_required
                .expect("dynamic glibc has a floor");
            assert!(
                report
                    .libc
                    .glibc_floor_symbols
                    .iter()
                    .any(|s| s.ends_with(&format!("@GLIBC_{floor}"))),
                "{name}: floor symbols {:?}",
                report.libc.glibc_floor_symbols
            );
        }
        assert!(
            report.go.is_none() && report.rust.is_none(),
            "{name}: no Go/Rust"
        );
        let stripped = name.ends_with("-stripped");
        if stripped {
            assert!(report.size.stripped, "{name}: stripped");
            assert_eq!(report.size.symtab_bytes, 0);
        }
    }
}

#[test]
fn unstripped_static_binaries_say_what_strip_saves() {
    let path = fixture("hello-gcc-static");
    let stripped = fixture("hello-gcc-static-stripped");
    let report = inspect(&path);
    assert!(!report.size.stripped);
    assert!(report.size.symtab_bytes > 0);
    // strip removes the symbol tables (and debug data): the files' size difference is at
    // least what we say the tables hold.
    let saved =
        std::fs::metadata(&path).unwrap().len() - std::fs::metadata(&stripped).unwrap().len();
    let claimed = report.size.symtab_bytes + report.size.debug_bytes;
    assert!(claimed <= saved, "claimed {claimed} > saved {saved}");
    assert!(
        claimed * 10 >= saved * 8,
        "claimed {claimed} is far below saved {saved}"
    );
}

#[test]
fn shared_library_and_search_paths() {
    let lib = check(
        "libgreet.so.1",
        Linkage::SharedLibrary,
        LibcFamily::Glibc,
        false,
    );
    assert_eq!(lib.soname.as_deref(), Some("libgreet.so.1"));
    let runpath = inspect(&fixture("hello-runpath"));
    assert_eq!(runpath.runpath, ["$ORIGIN/../lib", "/opt/greet/lib"]);
    assert!(runpath.rpath.is_empty());
    let rpath = inspect(&fixture("hello-rpath"));
    assert_eq!(rpath.rpath, ["/opt/a", "/opt/b"]);
    assert!(rpath.runpath.is_empty());
}

fn go_version() -> String {
    let out = Command::new("go")
        .args(["env", "GOVERSION"])
        .output()
        .expect("go");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Compares the build info with what `go version -m` (the Go tool's own reader) prints.
fn assert_matches_go_tool(report: &Report, name: &str) {
    let out = Command::new("go")
        .args(["version", "-m"])
        .arg(fixture(name))
        .output()
        .expect("go version -m");
    let text = String::from_utf8(out.stdout).unwrap();
    let go = report.go.as_ref().expect("go facts");
    let mut settings = std::collections::BTreeMap::new();
    let mut deps = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.trim_start().split('\t').collect();
        match fields.as_slice() {
            ["path", p] => assert_eq!(go.main_package.as_deref(), Some(*p), "{name}"),
            ["mod", p, v, ..] => {
                let m = go.main_module.as_ref().expect("main module");
                assert_eq!(
                    (m.path.as_str(), m.version.as_deref()),
                    (*p, Some(*v)),
                    "{name}"
                );
            }
            ["dep", p, v, ..] => deps.push((p.to_string(), v.to_string())),
            ["build", kv] => {
                let (k, v) = kv.split_once('=').unwrap();
                settings.insert(k.to_string(), v.trim_matches('"').to_string());
            }
            _ => {}
        }
    }
    assert_eq!(go.settings, settings, "{name}: build settings");
    let ours: Vec<(String, String)> = go
        .deps
        .iter()
        .map(|d| (d.path.clone(), d.version.clone().unwrap_or_default()))
        .collect();
    assert_eq!(ours, deps, "{name}: deps");
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.ends_with(go.version.as_deref().unwrap_or("?")),
        "{name}: {first}"
    );
}

#[test]
fn go_programs() {
    let version = go_version();
    let nocgo = check("go-hello-nocgo", Linkage::Static, LibcFamily::None, true);
    let go = nocgo.go.as_ref().expect("go facts");
    assert_eq!(go.version.as_deref(), Some(version.as_str()));
    assert_eq!(go.cgo_enabled, Some(false));
    assert!(!go.cgo_used);
    assert_eq!(
        go.main_package.as_deref(),
        Some("example.com/runbase-fixtures/hello")
    );
    assert_eq!(
        go.main_module.as_ref().map(|m| m.path.as_str()),
        Some("example.com/runbase-fixtures")
    );
    assert_eq!(go.settings.get("GOOS").map(String::as_str), Some("linux"));
    assert_eq!(go.settings.get("GOARCH").map(String::as_str), Some("amd64"));

    // CGO_ENABLED=1 is stamped, but nothing calls into C: still a static, libc-free program.
    let stamped = check(
        "go-hello-cgo-enabled",
        Linkage::Static,
        LibcFamily::None,
        true,
    );
    let go = stamped.go.as_ref().expect("go facts");
    assert_eq!(go.cgo_enabled, Some(true));
    assert!(!go.cgo_used);

    let net = check("go-net-cgo", Linkage::Dynamic, LibcFamily::Glibc, true);
    let go = net.go.as_ref().expect("go facts");
    assert_eq!(go.cgo_enabled, Some(true));
    assert!(go.cgo_used);
    assert_eq!(go.version.as_deref(), Some(version.as_str()));

    let netgo = check("go-net-netgo", Linkage::Static, LibcFamily::None, true);
    let go = netgo.go.as_ref().expect("go facts");
    assert_eq!(go.tags, ["netgo", "osusergo"]);
    assert_eq!(
        go.settings.get("-trimpath").map(String::as_str),
        Some("true")
    );
    assert!(!go.cgo_used);
    assert!(netgo.size.stripped, "-s removes the symbol table");

    let cgo_static = check(
        "go-net-cgo-static",
        Linkage::Static,
        LibcFamily::Glibc,
        true,
    );
    assert!(cgo_static.go.as_ref().expect("go facts").cgo_used);

    for (report, name) in [
        (&nocgo, "go-hello-nocgo"),
        (&stamped, "go-hello-cgo-enabled"),
        (&net, "go-net-cgo"),
        (&netgo, "go-net-netgo"),
        (&cgo_static, "go-net-cgo-static"),
    ] {
        assert_matches_go_tool(report, name);
    }
}

#[test]
fn rust_programs() {
    let out = Command::new("rustc")
        .arg("--version")
        .output()
        .expect("rustc");
    let text = String::from_utf8(out.stdout).unwrap();
    let version = text.split_whitespace().nth(1).expect("version").to_string();
    for (name, linkage) in [
        ("rust-hello", Linkage::Dynamic),
        ("rust-hello-static", Linkage::StaticPie),
    ] {
        let report = check(name, linkage, LibcFamily::Glibc, true);
        let rust = report.rust.as_ref().expect("rust facts");
        assert_eq!(
            rust.rustc_version.as_deref(),
            Some(version.as_str()),
            "{name}"
        );
    }
}

/// Every fixture, with its section header table removed (as `sstrip` does): the facts that
/// come from PT_DYNAMIC and PT_LOAD must not change.
#[test]
fn section_headers_removed() {
    let mut names: Vec<String> = std::fs::read_dir(support::fixtures())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "fixtures: {names:?}");
    for name in names {
        let path = fixture(&name);
        let bytes = std::fs::read(&path).unwrap();
        let full = runbase::inspect_bytes(&name, &bytes, &Options::default()).unwrap();
        let cut = crate::synth::without_section_headers(&bytes);
        let bare = runbase::inspect_bytes(&name, &cut, &Options::default()).unwrap();
        support::check_schema(&bare);
        assert_eq!(bare.linkage, full.linkage, "{name}");
        assert_eq!(bare.executable, full.executable, "{name}");
        assert_eq!(bare.interpreter, full.interpreter, "{name}");
        assert_eq!(bare.needed, full.needed, "{name}");
        assert_eq!(bare.soname, full.soname, "{name}");
        assert_eq!(bare.rpath, full.rpath, "{name}");
        assert_eq!(bare.runpath, full.runpath, "{name}");
        assert_eq!(bare.libc.family, full.libc.family, "{name}");
        assert_eq!(bare.libc.glibc_required, full.libc.glibc_required, "{name}");
        assert_eq!(
            bare.libc.glibc_floor_symbols, full.libc.glibc_floor_symbols,
            "{name}"
        );
        assert_eq!(bare.go.is_some(), full.go.is_some(), "{name}");
        if let (Some(a), Some(b)) = (&bare.go, &full.go) {
            assert_eq!(a.version, b.version, "{name}");
            assert_eq!(a.settings, b.settings, "{name}");
            assert_eq!(a.cgo_used, b.cgo_used, "{name}");
        }
        assert!(bare.size.stripped, "{name}: no sections means stripped");
    }
}

/// The three byte sources (pread, memory map, slice) give the same report.
#[test]
fn byte_sources_agree() {
    for name in [
        "hello-gcc",
        "hello-musl-static",
        "go-net-cgo",
        "rust-hello-static",
    ] {
        let path = fixture(name);
        let label = path.to_string_lossy().into_owned();
        let pread = inspect(&path);
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a fixture nothing rewrites while the test reads it.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let mapped = runbase::inspect_data(&label, &map[..], &Options::default()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let sliced = runbase::inspect_bytes(&label, &bytes, &Options::default()).unwrap();
        assert_eq!(pread, mapped, "{name}");
        assert_eq!(pread, sliced, "{name}");
    }
}

/// A Go program whose build info was removed (its magic overwritten) is still Go: its build
/// ID note says so, and its version is read from the runtime's version string.
#[test]
fn go_without_build_info() {
    let bytes = std::fs::read(fixture("go-hello-nocgo")).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"\xff Go buildinf:")
        .expect("build info present");
    let mut cut = bytes.clone();
    cut[at..at + 14].fill(0);
    for data in [cut.clone(), crate::synth::without_section_headers(&cut)] {
        let report = runbase::inspect_bytes("go", &data, &Options::default()).unwrap();
        support::check_schema(&report);
        let go = report.go.as_ref().expect("still Go");
        assert!(!go.build_info_found);
        assert_eq!(go.version.as_deref(), Some(go_version().as_str()));
        assert_eq!(report.libc.family, LibcFamily::None);
    }
}
