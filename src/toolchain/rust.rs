//! Rust facts: the rustc version from `.comment` and cargo-auditable's crate list.
//!
//! rustc 1.73 and later write `rustc version 1.73.0 (cc66ad468 2023-10-03)` into `.comment`.
//! cargo-auditable puts a zlib-compressed JSON list of the crates built in into `.dep-v0`;
//! both sizes are capped before anything is allocated (a small section can inflate to a
//! bomb).

use serde::Deserialize;

use crate::report::{CrateKind, RustCrate};

/// The rustc version in a `.comment` section's NUL-separated strings.
pub(crate) fn rustc_version(comment: &[u8]) -> Option<String> {
    const PREFIX: &[u8] = b"rustc version ";
    comment.split(|b| *b == 0).find_map(|entry| {
        let at = memchr::memmem::find(entry, PREFIX)?;
        let rest = entry.get(at.saturating_add(PREFIX.len())..)?;
        let version = rest.split(|b| *b == b' ').next()?;
        (!version.is_empty()).then(|| String::from_utf8_lossy(version).into_owned())
    })
}

#[derive(Deserialize)]
struct AuditData {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Why a `.dep-v0` section could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditError {
    TooLarge,
    Inflate,
    Json,
}

impl AuditError {
    pub fn message(self) -> &'static str {
        match self {
            AuditError::TooLarge => "cargo-auditable data larger than the limit",
            AuditError::Inflate => "cargo-auditable data is not valid zlib",
            AuditError::Json => "cargo-auditable data is not the expected JSON",
        }
    }
}

/// Decompresses (at most `max_json` bytes) and parses a `.dep-v0` section.
pub(crate) fn audit_crates(
    compressed: &[u8],
    max_json: usize,
) -> Result<Vec<RustCrate>, AuditError> {
    let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(compressed, max_json)
        .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => AuditError::TooLarge,
            _ => AuditError::Inflate,
        })?;
    let data: AuditData = serde_json::from_slice(&json).map_err(|_| AuditError::Json)?;
    let mut crates: Vec<RustCrate> = data
        .packages
        .into_iter()
        .map(|p| RustCrate {
            name: p.name,
            version: p.version,
            source: p.source.unwrap_or_else(|| "crates.io".into()),
            kind: match p.kind.as_deref() {
                Some("build") => CrateKind::Build,
                _ => CrateKind::Runtime,
            },
        })
        .collect();
    crates.sort();
    crates.dedup();
    Ok(crates)
}

/// Finds a `/rustc/<40 hex digits>/` path (panic locations of the standard library), which
/// survives stripping; returns the commit hash.
pub(crate) fn find_rustc_commit(data: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"/rustc/");
    for at in finder.find_iter(data) {
        let start = at.saturating_add(7);
        let Some(hash) = data.get(start..start.saturating_add(40)) else {
            continue;
        };
        let slash = data.get(start.saturating_add(40));
        if hash.iter().all(u8::is_ascii_hexdigit) && slash == Some(&b'/') {
            return Some(String::from_utf8_lossy(hash).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_versions() {
        let comment =
            b"GCC: (Debian 12.2.0-14) 12.2.0\0rustc version 1.95.0 (59807616e 2026-04-14)\0";
        assert_eq!(rustc_version(comment).as_deref(), Some("1.95.0"));
        assert_eq!(rustc_version(b"GCC: (GNU) 13.1\0"), None);
    }

    #[test]
    fn audit_data_is_capped() {
        let json = br#"{"packages":[{"name":"b","version":"1.0.0","source":"crates.io"},{"name":"a","version":"0.1.0","source":"local","kind":"build","root":true}]}"#;
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(json, 6);
        let crates = audit_crates(&compressed, 1 << 20).expect("parses");
        assert_eq!(crates.len(), 2);
        assert_eq!(crates[0].name, "a");
        assert_eq!(crates[0].kind, CrateKind::Build);
        assert_eq!(crates[1].kind, CrateKind::Runtime);
        assert_eq!(audit_crates(&compressed, 16), Err(AuditError::TooLarge));
        assert_eq!(audit_crates(b"not zlib", 1 << 20), Err(AuditError::Inflate));
    }

    #[test]
    fn rustc_commit_paths() {
        let data = b"xx/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/fmt/mod.rs";
        assert_eq!(
            find_rustc_commit(data).as_deref(),
            Some("90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf")
        );
        assert_eq!(find_rustc_commit(b"/rustc/short/"), None);
    }
}
