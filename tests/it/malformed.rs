//! Malformed input: truncations, bit flips, extreme header and dynamic values, tiny limits.
//! Each case gives `Ok` or a typed `Err`, never a panic, and never allocates more than the
//! input's size (or 4 KiB for tiny inputs, where the report's own strings are larger).

use std::io::Write;

use proptest::prelude::*;
use runbase::{Error, Limits, Options};

use crate::support::{fixture, largest_allocation};
use crate::synth::{self, Segment, Synth};

/// Small fixtures of every flavour (glibc, musl, static, static-pie, C++, library).
const SMALL: &[&str] = &[
    "hello-gcc",
    "hello-gcc-nopie",
    "hello-musl",
    "hello-musl-static",
    "hello-musl-static-stripped",
    "hello-cxx",
    "libgreet.so.1",
    "hello-rpath",
    "getaddrinfo-gcc",
    "getaddrinfo-musl-static",
];

/// Large ones: static glibc, static-pie, Go (with cgo), Rust.
const LARGE: &[&str] = &[
    "hello-gcc-static-pie",
    "getaddrinfo-gcc-static-stripped",
    "go-net-cgo",
    "go-net-netgo",
    "rust-hello-static",
];

/// Inspects `bytes`; a panic fails the test, an allocation over the bound too.
fn survives(label: &str, bytes: &[u8]) -> Result<(), Error> {
    let (result, largest) = largest_allocation(|| {
        runbase::inspect_bytes(label, bytes, &Options::default()).map(|report| {
            // The report must serialize whatever the input.
            serde_json::to_string(&report).expect("serialize");
        })
    });
    let bound = bytes.len().max(4096);
    assert!(
        largest <= bound,
        "{label}: allocated {largest} bytes for a {} byte input",
        bytes.len()
    );
    result
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

#[test]
fn every_prefix_of_small_fixtures() {
    let mut cases = 0usize;
    let mut errors = 0usize;
    for name in SMALL {
        let bytes = load(name);
        for len in 0..=bytes.len() {
            cases += 1;
            if survives(name, &bytes[..len]).is_err() {
                errors += 1;
            }
        }
        // The whole file analyses without error.
        survives(name, &bytes).unwrap();
    }
    eprintln!("prefixes: {cases} cases, {errors} typed errors, no panics");
    assert!(cases > 100_000);
}

#[test]
fn dense_sample_of_prefixes_of_large_fixtures() {
    let mut cases = 0usize;
    for name in LARGE {
        let bytes = load(name);
        // Every length inside the headers, then a sample that lands in every structure.
        let mut lengths: Vec<usize> = (0..8192.min(bytes.len())).collect();
        lengths.extend((8192..bytes.len()).step_by(509));
        lengths.push(bytes.len());
        for len in lengths {
            cases += 1;
            let _ = survives(name, &bytes[..len]);
        }
    }
    eprintln!("large prefixes: {cases} cases, no panics");
}

/// Prefixes read through `pread` (the path the CLI uses) behave like slices.
#[test]
fn prefixes_through_pread() {
    let bytes = load("hello-gcc");
    let dir = tempfile::tempdir().unwrap();
    for len in (0..bytes.len()).step_by(97) {
        let path = dir.path().join(format!("p{len}"));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&bytes[..len])
            .unwrap();
        let from_file = runbase::inspect_path(&path, &Options::default());
        let label = path.to_string_lossy().into_owned();
        let from_slice = runbase::inspect_bytes(&label, &bytes[..len], &Options::default());
        match (from_file, from_slice) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "length {len}"),
            (Err(a), Err(b)) => assert_eq!(a.kind_name(), b.kind_name(), "length {len}"),
            (a, b) => panic!("length {len}: pread {a:?} vs slice {b:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Random bit flips, most of them where the headers and tables are.
    #[test]
    fn random_bit_flips(
        which in 0..SMALL.len(),
        flips in proptest::collection::vec((any::<bool>(), any::<u32>(), 0u8..8), 1..24),
    ) {
        let mut bytes = load(SMALL[which]);
        let len = bytes.len() as u32;
        for (near_start, at, bit) in flips {
            let pos = if near_start { at % len.min(8192) } else { at % len };
            bytes[pos as usize] ^= 1 << bit;
        }
        let _ = survives(SMALL[which], &bytes);
    }
}

/// Writes `value` into an `size`-byte little-endian field at `at`.
fn put(bytes: &mut [u8], at: usize, size: usize, value: u64) {
    bytes[at..at + size].copy_from_slice(&value.to_le_bytes()[..size]);
}

const EXTREMES: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    u64::MAX / 2,
    u64::MAX,
];

#[test]
fn extreme_header_fields() {
    // (offset, size) of each ELF64 header field after e_ident.
    let fields64: &[(usize, usize)] = &[
        (0x10, 2),
        (0x12, 2),
        (0x14, 4),
        (0x18, 8),
        (0x20, 8),
        (0x28, 8),
        (0x30, 4),
        (0x34, 2),
        (0x36, 2),
        (0x38, 2),
        (0x3a, 2),
        (0x3c, 2),
        (0x3e, 2),
    ];
    let mut cases = 0;
    for name in [
        "hello-gcc",
        "hello-musl-static",
        "libgreet.so.1",
        "go-hello-nocgo",
    ] {
        let original = load(name);
        for &(at, size) in fields64 {
            for &value in EXTREMES {
                let mut bytes = original.clone();
                put(&mut bytes, at, size, value);
                let _ = survives(name, &bytes);
                cases += 1;
            }
        }
        for at in 4..16 {
            for value in [0u8, 1, 2, 3, 0xff] {
                let mut bytes = original.clone();
                bytes[at] = value;
                let _ = survives(name, &bytes);
                cases += 1;
            }
        }
    }
    eprintln!("header fields: {cases} cases, no panics");
}

/// Every field of every program header, and every value of every dynamic entry, set to
/// extreme values.
#[test]
fn extreme_program_header_and_dynamic_values() {
    let mut cases = 0;
    for name in [
        "hello-gcc",
        "hello-cxx",
        "go-net-cgo",
        "hello-gcc-static-pie",
    ] {
        let original = load(name);
        let phoff = u64::from_le_bytes(original[0x20..0x28].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes(original[0x38..0x3a].try_into().unwrap()) as usize;
        for i in 0..phnum {
            let base = phoff + i * 56;
            for (field, size) in [
                (0usize, 4usize),
                (4, 4),
                (8, 8),
                (16, 8),
                (32, 8),
                (40, 8),
                (48, 8),
            ] {
                for &value in EXTREMES {
                    let mut bytes = original.clone();
                    put(&mut bytes, base + field, size, value);
                    let _ = survives(name, &bytes);
                    cases += 1;
                }
            }
        }
        // The dynamic table: find PT_DYNAMIC and overwrite each entry's value.
        for i in 0..phnum {
            let base = phoff + i * 56;
            if u32::from_le_bytes(original[base..base + 4].try_into().unwrap()) != 2 {
                continue;
            }
            let offset =
                u64::from_le_bytes(original[base + 8..base + 16].try_into().unwrap()) as usize;
            let size =
                u64::from_le_bytes(original[base + 32..base + 40].try_into().unwrap()) as usize;
            for entry in (offset..offset + size).step_by(16) {
                for &value in EXTREMES {
                    let mut bytes = original.clone();
                    put(&mut bytes, entry + 8, 8, value);
                    let _ = survives(name, &bytes);
                    cases += 1;
                }
            }
        }
    }
    eprintln!("program header and dynamic values: {cases} cases, no panics");
    assert!(cases > 1000);
}

#[test]
fn limits_are_enforced_through_the_public_api() {
    let cxx = load("hello-cxx");
    let needed = crate::support::readelf(&fixture("hello-cxx")).needed.len();
    assert!(needed >= 2);
    let mut limits = Limits::default();
    limits.max_needed = needed - 1;
    let err = runbase::inspect_bytes("cxx", &cxx, &Options::with_limits(limits)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                what: "DT_NEEDED entries",
                ..
            }
        ),
        "{err}"
    );

    let mut limits = Limits::default();
    limits.max_file_bytes = cxx.len() as u64 - 1;
    let err = runbase::inspect_bytes("cxx", &cxx, &Options::with_limits(limits)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                what: "file size",
                ..
            }
        ),
        "{err}"
    );

    let mut limits = Limits::default();
    limits.max_program_headers = 2;
    let err = runbase::inspect_bytes("cxx", &cxx, &Options::with_limits(limits)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                what: "program headers",
                ..
            }
        ),
        "{err}"
    );

    let mut limits = Limits::default();
    limits.max_string_bytes = 8; // shorter than /lib64/ld-linux-x86-64.so.2
    let err = runbase::inspect_bytes("cxx", &cxx, &Options::with_limits(limits)).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");

    let mut limits = Limits::default();
    limits.max_section_headers = 3;
    let report = runbase::inspect_bytes("cxx", &cxx, &Options::with_limits(limits)).unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("section headers")),
        "{:?}",
        report.warnings
    );

    // A zero scan budget still classifies stripped static binaries by their structure.
    let musl = load("hello-musl-static-stripped");
    let mut limits = Limits::default();
    limits.scan_budget_bytes = 0;
    let report = runbase::inspect_bytes("musl", &musl, &Options::with_limits(limits)).unwrap();
    assert_eq!(report.libc.family, runbase::report::LibcFamily::Musl);

    // The version-need limit: libstdc++ users need more than a few bytes of it.
    let mut limits = Limits::default();
    limits.max_version_bytes = 16;
    let report = runbase::inspect_bytes("cxx", &cxx, &Options::with_limits(limits)).unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("version needs")),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.libc.glibc_required, None);
}

#[test]
fn typed_errors_for_what_is_not_elf() {
    assert!(matches!(survives("empty", b""), Err(Error::NotElf)));
    assert!(matches!(
        survives("text", b"#!/bin/sh\necho hi\n"),
        Err(Error::NotElf)
    ));
    assert!(matches!(
        survives("magic", b"\x7fELF"),
        Err(Error::Truncated { .. })
    ));
    let mut bad_class = load("hello-gcc");
    bad_class[4] = 3;
    assert!(matches!(
        survives("class", &bad_class),
        Err(Error::Unsupported { .. })
    ));
}

/// A dynamic table whose string, symbol, hash and version pointers lead nowhere or loop.
#[test]
fn crafted_dynamic_tables() {
    let tags: &[u64] = &[
        1,
        5,
        6,
        10,
        4,
        0x6fff_fef5,
        0x6fff_fff0,
        0x6fff_fffe,
        0x6fff_ffff,
        14,
        15,
        29,
        7,
        8,
        23,
        2,
    ];
    let mut cases = 0;
    for &tag in tags {
        for &value in EXTREMES
            .iter()
            .chain(&[synth::BASE, synth::BASE + 0x40, synth::BASE + 0x200])
        {
            for is_64 in [true, false] {
                let mut s = Synth::new(is_64, false);
                s.e_type = 3;
                let mut strtab = b"\0libc.so.6\0".to_vec();
                strtab.resize(64, b'x');
                s.segments.push(Segment {
                    p_type: 1,
                    flags: 4,
                    data: strtab,
                });
                s.segments.push(Segment {
                    p_type: 2,
                    flags: 6,
                    data: Vec::new(),
                });
                let strtab_addr = s.addr_of(0);
                s.segments[1].data =
                    s.dynamic(&[(1, 1), (5, strtab_addr), (10, 64), (tag, value), (0, 0)]);
                let bytes = s.build();
                let _ = survives("crafted", &bytes);
                cases += 1;
            }
        }
    }
    eprintln!("crafted dynamic tables: {cases} cases, no panics");
}

/// The limits not covered above, each tripped through the public API: the report says what
/// was cut short instead of failing.
#[test]
fn remaining_limits_are_enforced() {
    let with = |name: &str, set: &dyn Fn(&mut Limits)| {
        let mut limits = Limits::default();
        set(&mut limits);
        let bytes = load(name);
        runbase::inspect_bytes(name, &bytes, &Options::with_limits(limits)).unwrap()
    };
    let has = |report: &runbase::Report, text: &str| {
        assert!(
            report.warnings.iter().any(|w| w.contains(text)),
            "{text:?} not in {:?}",
            report.warnings
        )
    };

    // Notes over the limit are not read: a static glibc binary loses its ABI-tag note.
    let report = with("hello-gcc-static-stripped", &|l| l.max_note_bytes = 8);
    has(&report, "note area");
    assert!(
        !report
            .libc
            .evidence
            .iter()
            .any(|e| e.contains("NT_GNU_ABI_TAG"))
    );

    // Dynamic symbols over the limit: the import list is cut (or, when even the hash table
    // is over it, not read) and the report says so; the rest of the analysis stands.
    let report = with("hello-cxx", &|l| l.max_dynamic_symbols = 2);
    has(&report, "symbols");
    assert_eq!(report.libc.family, runbase::report::LibcFamily::Glibc);
    let report = with("hello-gcc-nopie", &|l| l.max_dynamic_symbols = 2);
    has(&report, "imported symbols may be incomplete");

    // Go module text over the limit: the build info cannot be read whole.
    let report = with("go-net-cgo", &|l| l.max_go_modinfo_bytes = 8);
    has(&report, "Go module string");
    assert!(report.go.is_some(), "still Go");

    // Content scans: with no budget, no marker string is read.
    let report = with("hello-musl-static-stripped", &|l| l.scan_budget_bytes = 0);
    assert!(!report.libc.evidence.iter().any(|e| e.contains("strerror")));
}
