//! runbase reads an ELF binary, without ever running it, and says what it needs at run time:
//! how it is linked, which C library (and which glibc version) it was built for, which
//! toolchain built it, and the hidden files and libraries `ldd` does not show.
//!
//! # Layers
//!
//! 1. **Raw ELF structures** come from the [`object`] crate (`object::elf`).
//! 2. **Lazy, zero-copy views** (crate-private `elf` module) borrow from a byte source and
//!    read only what is asked for: the file header, program headers, PT_INTERP and, through
//!    PT_DYNAMIC with addresses mapped through PT_LOAD, the dynamic table, its strings,
//!    version needs and imported symbols. Section headers are an optional extra, so files
//!    with stripped or lying section headers give the same answer.
//! 3. **Facts and the owned [`Report`]**: linkage, C library, toolchain and size facts, as a
//!    serde value whose JSON form is a stable contract (see [`report`]).
//!
//! # Example
//!
//! ```no_run
//! use runbase::{inspect_path, Options};
//!
//! let report = inspect_path("/bin/ls".as_ref(), &Options::default())?;
//! println!("{} {} {:?}", report.linkage.as_str(), report.libc.family.as_str(),
//!          report.libc.glibc_required);
//! # Ok::<(), runbase::Error>(())
//! ```
//!
//! # Closures
//!
//! A [`Resolver`] finds, inside a root filesystem (an unpacked image, a sysroot, `/`), the
//! shared libraries a file needs, transitively, by the rules of the root's own loader
//! (glibc or musl), and says how each was found and what is missing:
//!
//! ```no_run
//! use runbase::{inspect_in_root, Limits, Options, ResolveOptions, Resolver};
//!
//! let root = std::path::Path::new("/srv/image");
//! let mut resolver = Resolver::new(root, &Limits::default(), &ResolveOptions::default())?;
//! let report = inspect_in_root(&root.join("usr/bin/curl"), &Options::default(), &mut resolver)?;
//! if let Some(closure) = &report.closure {
//!     for lib in &closure.libraries {
//!         println!("{} => {} ({})", lib.soname, lib.path, lib.found_via);
//!     }
//!     for missing in &closure.missing {
//!         println!("{} not found; tried {}", missing.soname, missing.tried.join(", "));
//!     }
//! }
//! # Ok::<(), runbase::Error>(())
//! ```
//!
//! # Roots
//!
//! A root is a directory of this machine or an image ([`RootFs`]), read as a `chroot`
//! into it sees it: links are followed inside it, `..` stops at its top, and names are
//! bytes. A directory is read race-free (every name looked up from a directory
//! descriptor, files opened with `openat2(RESOLVE_IN_ROOT)`); an image (feature `image`)
//! is read in place, its final tree indexed in memory, nothing unpacked to disk. A file a
//! user names is placed by [`Resolver::closure`]'s rule: in an image, a path inside it; in
//! a directory root, a path under the directory is resolved inside the root, and any other
//! file is analysed as if copied into the root at the same path.
//!
//! # Base images
//!
//! [`bases::recommend`] judges every image of a versioned catalog (compiled into the crate)
//! against a report (its closure resolved in the build stage's root), picks one by
//! [`bases::Policy`], and lists the files to copy and a Dockerfile run stage; [`verify()`]
//! checks a real root filesystem and says what is missing. Both ask one judgement of the
//! root (an image's catalog facts, or a real root's files): the C library family, the
//! interpreter, the glibc floor, the libraries and the hidden needs' files.
//!
//! ```no_run
//! use runbase::bases::{recommend, Policy, RecommendOptions};
//! use runbase::{inspect_in_root, Limits, Options, ResolveOptions, Resolver};
//! use std::path::Path;
//!
//! let build = Path::new("/");
//! let mut resolver = Resolver::new(build, &Limits::default(), &ResolveOptions::default())?;
//! let report = inspect_in_root(Path::new("app"), &Options::default(), &mut resolver)?;
//! let mut options = RecommendOptions::default();
//! options.policy = Policy::Distroless;
//! options.build_root = build;
//! let advice = recommend(&report, &options);
//! println!("{:?}\n{}", advice.base, advice.dockerfile.unwrap_or_default());
//! # Ok::<(), runbase::Error>(())
//! ```
//!
//! # Reason codes
//!
//! Every sentence a tool may act on comes with a [`report::Code`], in a parallel list of
//! the same length and order: `recommendation.why` and `why_codes`, each alternative's
//! `why` and `why_codes`, `verification.problems` and `problem_codes`. The sentence is for
//! people and may be reworded; the code is part of the contract. A build tool matches on
//! the code and reads the particulars (which library, which path) from the sentence or from
//! the report's structured keys (`closure.missing`, `needs[].files`, `libc.glibc_required`).
//!
//! | code | where | meaning |
//! | --- | --- | --- |
//! | `chosen` | recommendation | the image the policy chose, and whether files are added |
//! | `none_fits` | recommendation | no image the policy admits can run the file |
//! | `not_a_program` | alternatives | a library or object file: nothing to start |
//! | `platform_unsupported` | alternatives | the image is not published for the platform |
//! | `static_program` | alternatives | static: no loader or library needed from the image |
//! | `libc_mismatch` | both | glibc program, musl root (or the reverse, or none) |
//! | `libc_unsupported` | both | a C library no root here carries (bionic, uClibc) |
//! | `interpreter_missing` | both | PT_INTERP absent: the kernel's bare "no such file" |
//! | `glibc_too_old` | both | the root's glibc is below the floor (program or copies) |
//! | `glibc_floor_met` | alternatives | the root's glibc is at or above the floor |
//! | `libraries_unresolved` | alternatives | no closure: libraries checked by name only |
//! | `library_missing` | both | a library of the closure is missing and cannot be copied |
//! | `version_missing` | verification | a library lacks a symbol version its users need |
//! | `libc_part_missing` | alternatives | a part of glibc the image's glibc lacks (never copied) |
//! | `need_library_missing` | verification | a library a hidden need names is missing |
//! | `need_file_missing` | verification | a file a hidden need requires is missing |
//! | `not_in_build_root` | alternatives | a needed file is in neither the image nor the build stage |
//! | `shell_missing` | both | `/bin/sh` is needed and missing |
//! | `ca_bundle_missing` | verification | no CA bundle where TLS runtimes look |
//! | `nss_service_unusable` | both | `nsswitch.conf` routes a database to services the program cannot load |
//! | `not_planned` | alternatives | a static program's glibc modules: only its own glibc can load them |
//! | `file_added` | alternatives, recommendation | a file copied from the build stage, and why |
//! | `end_of_life` | alternatives | the image's support ended; it is never chosen |
//!
//! # Guarantees
//!
//! - **Never executes the input**: no loader, no `ldd`, no `dlopen`.
//! - **Bounded**: every count, size and offset read from the file is checked; nothing is
//!   allocated by a count the file declares; [`Limits`] caps the rest, including content
//!   scans, so a 500 MB file costs about what a 20 kB one does.
//! - **No panics** on any input: malformed files give a typed [`Error`], or a report with
//!   `warnings` when only an optional part is damaged.
//!
//! # Byte sources
//!
//! [`inspect_path`] reads with `pread` through [`FileSource`] (only the ranges needed; on a
//! cold page cache this beats a memory map, whose read-ahead pulls in megabytes).
//! [`inspect_bytes`] takes a slice, and [`inspect_data`] any [`ReadRef`]. The crate maps no
//! file itself: a memory map faults (SIGBUS) when the file is truncated while it is read,
//! which ends the whole process. A caller who maps files anyway can pass the map's bytes to
//! [`inspect_bytes`] and accepts that risk.
//!
//! # Paths and names
//!
//! A path from the file system becomes a report string through [`path_text`]: valid UTF-8
//! without backslashes is kept as it is; a backslash is written `\\` and a byte that is not
//! valid UTF-8 as `\xNN`, so two different files never give the same `path`. Names read
//! from inside a file (DT_NEEDED, SONAME, RPATH) are decoded lossily, as the loader's search
//! compares them as text.
//!
//! # Features
//!
//! - `schema`: derives a JSON Schema for the report types (with `schemars`), published by
//!   `report_schema()` and `error_line_schema()`.
//! - `image`: reads container images (`docker save` tarballs, OCI layouts) into a root
//!   filesystem (`image` module; `tar`, `flate2`, `ruzstd`).
//! - `cli`: the `runbase` command-line tool (implies `schema` and `image`).

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![deny(missing_debug_implementations)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

// Every module reads file bytes unless it says otherwise, so the lints through which a
// hostile file could cause a panic or an overflow are denied crate-wide (above); only the
// modules that never see file bytes allow them. Plain `mod` items keep every module in
// reach of `cargo fmt`.
mod abi;
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]
pub mod bases;
mod classify;
mod elf;
mod error;
#[cfg(feature = "image")]
pub mod image;
mod inspect;
mod judge;
mod libc;
mod names;
mod needs;
pub mod report;
mod resolve;
mod rootfs;
mod size;
mod source;
mod toolchain;
mod verify;
mod version;

pub use error::{Error, Limits, Result};
pub use inspect::{Options, inspect_bytes, inspect_data, inspect_in_root, inspect_path};
pub use names::path_text;
pub use report::Report;
pub use resolve::{ClosureTree, ResolveOptions, Resolver, TreeNode, TreeTarget};
pub use rootfs::RootFs;
pub use source::{FileSource, ReadRef};
pub use verify::{verify, verify_with};
pub use version::{ParseVersionError, Version};

/// The JSON Schema of a report line, generated from the Rust types.
///
/// Every key is required: the contract writes absent values as `null` or `[]`, never by
/// leaving the key out.
#[cfg(feature = "schema")]
pub fn report_schema() -> schemars::Schema {
    let mut value = schemars::schema_for!(Report).to_value();
    require_every_property(&mut value);
    schemars::Schema::try_from(value).unwrap_or_default()
}

/// The JSON Schema of an error line, generated from the Rust types.
#[cfg(feature = "schema")]
pub fn error_line_schema() -> schemars::Schema {
    let mut value = schemars::schema_for!(report::ErrorLine).to_value();
    require_every_property(&mut value);
    schemars::Schema::try_from(value).unwrap_or_default()
}

/// Marks every property of every object schema as required (nullable ones stay nullable).
#[cfg(feature = "schema")]
fn require_every_property(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let keys: Option<Vec<serde_json::Value>> = map
                .get("properties")
                .and_then(|p| p.as_object())
                .map(|p| p.keys().cloned().map(serde_json::Value::String).collect());
            // Maps (`additionalProperties` only) have no fixed keys to require.
            if let Some(keys) = keys {
                map.insert("required".into(), serde_json::Value::Array(keys));
            }
            map.values_mut().for_each(require_every_property);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(require_every_property),
        _ => {}
    }
}
