//! Hidden run-time needs: what `ldd` does not show, derived from the facts with evidence and
//! a certainty (see `../shared/research/hidden-deps.md` for the sources of every rule).
//!
//! Rules are per C library: glibc's lookups go through NSS (modules, `nsswitch.conf`), gconv
//! and a `dlopen`ed `libgcc_s`; musl has none of these, so its lookups are plain `/etc`
//! files; a pure Go program has its own list; Rust crates and TLS libraries add CA
//! certificates and time zones. Certainty follows the contract: `likely` when the code for
//! the operation is imported or linked, `possible` for weaker hints, `required` when the
//! program fails at start (a `.note.dlopen` entry marked required).

mod closure;
mod gather;
mod glibc;
mod go;
mod libraries;
mod musl;
mod tables;
mod trust;

pub(crate) use closure::{libraries_not_read, with_closure};
pub(crate) use gather::{Evidence, GatherInput, gather};
pub(crate) use tables::CA_SEARCHES_A_LIST;
pub(crate) use trust::{MAX_LIBRARY_BYTES, PathFinder, runtime_exact};

use crate::report::{Certainty, Go, LibcFamily, Need, NeedFile, NeedKind, Rust, Text};
use crate::version::Version;

/// glibc 2.34 moved the `files` and `dns` NSS services into libc itself.
pub(crate) const GLIBC_NSS_BUILT_IN: Version = Version::of(2, 34);

/// What the rules read.
pub(crate) struct NeedsInput<'a> {
    pub family: LibcFamily,
    /// No program interpreter: the C library (if any) is linked in.
    pub is_static: bool,
    /// The glibc floor of a dynamic file (`2.34`).
    pub glibc_floor: Option<Version>,
    /// Debian's multiarch triplet for the machine (`x86_64-linux-gnu`).
    pub triplet: Option<&'static str>,
    pub needed: &'a [String],
    pub evidence: &'a Evidence,
    pub go: Option<&'a Go>,
    pub rust: Option<&'a Rust>,
}

impl NeedsInput<'_> {
    /// Where Debian-based images keep one of the libraries these rules know by name.
    pub fn library_path(&self, soname: &'static str) -> String {
        self.in_library_dir(soname)
    }

    /// Where a library named by the file itself is looked for: an absolute path as
    /// written, a plain name in the library directory. Such names are untrusted: anything
    /// else (`..`, a relative path, control characters) gives `None`, so no need can point
    /// outside the library directories.
    pub fn named_library_path(&self, name: &str) -> Option<String> {
        let plain = |part: &str| {
            !part.is_empty() && part != "." && part != ".." && !part.chars().any(char::is_control)
        };
        if let Some(rest) = name.strip_prefix('/') {
            return rest.split('/').all(plain).then(|| name.to_string());
        }
        (plain(name) && !name.contains('/')).then(|| self.in_library_dir(name))
    }

    fn in_library_dir(&self, name: &str) -> String {
        match self.triplet {
            Some(triplet) => format!("/usr/lib/{triplet}/{name}"),
            None => name.to_string(),
        }
    }

    /// Whether the file needs this library by name already (then nothing is hidden).
    pub fn needs_library(&self, soname: &str) -> bool {
        self.needed.iter().any(|n| n == soname)
    }

    /// Whether the glibc the file runs on may be older than 2.34 (separate NSS modules):
    /// a dynamic file whose floor is below 2.34, or whose floor is unknown.
    pub fn may_run_on_glibc_before_2_34(&self) -> bool {
        self.glibc_floor
            .is_none_or(|floor| floor < GLIBC_NSS_BUILT_IN)
    }
}

/// Builds one need.
pub(crate) struct NeedBuilder {
    need: Need,
}

impl NeedBuilder {
    pub fn new(
        kind: NeedKind,
        name: impl Into<Text>,
        certainty: Certainty,
        summary: impl Into<Text>,
    ) -> Self {
        NeedBuilder {
            need: Need {
                kind,
                name: Some(name.into()),
                certainty,
                summary: summary.into(),
                files: Vec::new(),
                evidence: Vec::new(),
                via: Vec::new(),
            },
        }
    }

    /// A file the operation fails without.
    pub fn required(mut self, path: impl Into<Text>, condition: Option<&'static str>) -> Self {
        self.push(path.into(), true, condition.map(Text::Borrowed), None);
        self
    }

    /// A file read when present, whose absence the operation survives.
    pub fn optional(mut self, path: impl Into<Text>, condition: Option<&'static str>) -> Self {
        self.push(path.into(), false, condition.map(Text::Borrowed), None);
        self
    }

    /// A required file whose condition is composed at run time.
    pub fn required_when(mut self, path: impl Into<Text>, condition: Option<String>) -> Self {
        self.push(path.into(), true, condition.map(Text::Owned), None);
        self
    }

    /// An optional file whose condition is composed at run time.
    pub fn optional_when(mut self, path: impl Into<Text>, condition: Option<String>) -> Self {
        self.push(path.into(), false, condition.map(Text::Owned), None);
        self
    }

    /// A required file that matters only with a glibc older than `below`; `condition`
    /// says so in words.
    pub fn required_below_glibc(
        mut self,
        path: impl Into<Text>,
        condition: &'static str,
        below: Version,
    ) -> Self {
        self.push(
            path.into(),
            true,
            Some(Text::Borrowed(condition)),
            Some(below),
        );
        self
    }

    /// An optional file that matters only with a glibc older than `below`.
    pub fn optional_below_glibc(
        mut self,
        path: impl Into<Text>,
        condition: &'static str,
        below: Version,
    ) -> Self {
        self.push(
            path.into(),
            false,
            Some(Text::Borrowed(condition)),
            Some(below),
        );
        self
    }

    fn push(
        &mut self,
        path: Text,
        required: bool,
        condition: Option<Text>,
        glibc_below: Option<Version>,
    ) {
        if !self.need.files.iter().any(|f| f.path == path) {
            self.need.files.push(NeedFile {
                path,
                required,
                condition,
                glibc_below,
            });
        }
    }

    pub fn evidence(mut self, why: impl Into<String>) -> Self {
        let why = why.into();
        if !self.need.evidence.contains(&why) {
            self.need.evidence.push(why);
        }
        self
    }

    pub fn evidence_all<I: IntoIterator<Item = String>>(mut self, whys: I) -> Self {
        for why in whys {
            self = self.evidence(why);
        }
        self
    }

    pub fn build(self) -> Need {
        self.need
    }
}

/// Every need the facts support, sorted by kind and name.
pub(crate) fn derive(input: &NeedsInput<'_>) -> Vec<Need> {
    let mut needs = Vec::new();
    match input.family {
        LibcFamily::Glibc => glibc::needs(input, &mut needs),
        LibcFamily::Musl => musl::needs(input, &mut needs),
        _ => {}
    }
    if let Some(go) = input.go {
        go::needs(input, go, &mut needs);
    }
    libraries::needs(input, &mut needs);
    needs.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    needs
}
