//! The crate's one error type and the limits that bound work on untrusted input.

use std::path::PathBuf;

/// Why a file could not be analysed.
///
/// Messages are static on the hot path; the path and the file offset, where known, say where.
/// Errors inside optional parts of a file (a bad note, an unreadable build-info blob) do not
/// end up here: they are recorded in the report's evidence and the rest of the analysis goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file does not start with the ELF magic bytes.
    #[error("not an ELF file")]
    NotElf,
    /// The file ends before a structure the analysis needs.
    #[error("truncated ELF file: {what} (at offset {offset:#x})")]
    Truncated {
        /// The structure that did not fit.
        what: &'static str,
        /// Where it should have been.
        offset: u64,
    },
    /// A structure is present but its values are impossible.
    #[error("malformed ELF file: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// ELF, but of a kind this crate does not read (e.g. an unknown class).
    #[error("unsupported ELF file: {what}")]
    Unsupported {
        /// What is not supported.
        what: &'static str,
    },
    /// A limit from [`Limits`] was reached.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
    /// Reading the file failed.
    #[error("cannot read {}", crate::path_text(path))]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The kind of error, as the JSON report's `error.kind` names it.
    pub fn kind(&self) -> crate::report::ErrorKind {
        use crate::report::ErrorKind;
        match self {
            Error::NotElf => ErrorKind::NotElf,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::Malformed { .. } => ErrorKind::Malformed,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// A short stable name for the kind of error: [`Error::kind`] spelled as in the JSON
    /// report's `error.kind`.
    pub fn kind_name(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// A specialised `Result` for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a failed read (object's `()` and `object::Error`) or a missing value into one of
/// ours, as object's own `ReadError` does, so the reader says only what and where:
/// `data.read_bytes_at(offset, size).or_truncated("PT_INTERP", offset)?`.
pub(crate) trait ReadError<T> {
    /// [`Error::Truncated`]: the structure does not fit in the data.
    fn or_truncated(self, what: &'static str, offset: u64) -> Result<T>;
    /// [`Error::Malformed`]: the structure is there but its values are impossible.
    fn or_malformed(self, what: &'static str) -> Result<T>;
}

impl<T> ReadError<T> for std::result::Result<T, ()> {
    fn or_truncated(self, what: &'static str, offset: u64) -> Result<T> {
        self.map_err(|()| Error::Truncated { what, offset })
    }

    fn or_malformed(self, what: &'static str) -> Result<T> {
        self.map_err(|()| Error::Malformed { what })
    }
}

impl<T> ReadError<T> for std::result::Result<T, object::Error> {
    fn or_truncated(self, what: &'static str, offset: u64) -> Result<T> {
        self.map_err(|_| Error::Truncated { what, offset })
    }

    fn or_malformed(self, what: &'static str) -> Result<T> {
        self.map_err(|_| Error::Malformed { what })
    }
}

impl<T> ReadError<T> for Option<T> {
    fn or_truncated(self, what: &'static str, offset: u64) -> Result<T> {
        self.ok_or(Error::Truncated { what, offset })
    }

    fn or_malformed(self, what: &'static str) -> Result<T> {
        self.ok_or(Error::Malformed { what })
    }
}

/// Upper bounds on the work done for one file.
///
/// Every count and size read from a file is checked against these before it is used, so a
/// hostile file cannot make the analysis allocate or read without bound. The defaults are
/// generous for real binaries (the largest in the test corpus stays well inside them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Most DT_NEEDED entries read from one file. PT_DYNAMIC is read up to this many
    /// entries plus 1024 for the other tags, whatever size it claims; a table with no
    /// DT_NULL by then is refused.
    pub max_needed: usize,
    /// Longest string (library name, symbol name, path) read from a file.
    pub max_string_bytes: usize,
    /// Most program headers read.
    pub max_program_headers: usize,
    /// Most section headers read.
    pub max_section_headers: usize,
    /// Most dynamic symbols read when collecting imports.
    pub max_dynamic_symbols: usize,
    /// Bytes of version-need data read.
    pub max_version_bytes: usize,
    /// Bytes of notes read in total, over every note segment (or section). An area named
    /// by several program headers is read once; areas past the limit are not read.
    pub max_note_bytes: usize,
    /// Most notes read, over every note segment (or section).
    pub max_notes: usize,
    /// Bytes that content scans (markers in read-only data of static binaries, Go markers)
    /// may read in total. Scans stop here, which keeps large files as cheap as small ones.
    pub scan_budget_bytes: u64,
    /// Largest compressed cargo-auditable `.dep-v0` section accepted.
    pub max_audit_compressed_bytes: usize,
    /// Largest decompressed cargo-auditable JSON accepted.
    pub max_audit_json_bytes: usize,
    /// Largest Go build-info module text accepted.
    pub max_go_modinfo_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 4 << 30,
            max_needed: 4096,
            max_string_bytes: 4096,
            max_program_headers: 4096,
            max_section_headers: 65_536,
            max_dynamic_symbols: 1 << 20,
            max_version_bytes: 1 << 20,
            max_note_bytes: 1 << 20,
            max_notes: 1024,
            scan_budget_bytes: 4 << 20,
            max_audit_compressed_bytes: 4 << 20,
            max_audit_json_bytes: 8 << 20,
            max_go_modinfo_bytes: 4 << 20,
        }
    }
}
