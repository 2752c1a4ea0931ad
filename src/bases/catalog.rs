//! The catalog of base images: versioned data (`catalog.json`, compiled into the crate),
//! read once. Facts live in the data file, with their sources and which of them were checked
//! against the image's own files, so updating an image is a data change, not a code change.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::report::LibcFamily;
use crate::version::Version;

const CATALOG_JSON: &str = include_str!("catalog.json");

/// Every base image runbase knows, with the facts a recommendation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Catalog {
    /// Bumped whenever a fact changes (`2026.11.1`).
    pub catalog_version: String,
    /// When the facts were last reviewed.
    pub updated: String,
    /// What the catalog is.
    pub about: String,
    /// The libraries that are part of glibc itself: they come with the image's glibc and are
    /// never copied from another glibc.
    pub glibc_sonames: Vec<String>,
    /// The images, smallest first within each family.
    pub images: Vec<BaseImage>,
}

/// One base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BaseImage {
    /// The name used in reports (`busybox:glibc`, `gcr.io/distroless/base-debian12`).
    pub name: String,
    /// The reference for a Dockerfile's `FROM`.
    pub from: String,
    /// Which family of images.
    pub kind: BaseKind,
    /// Year and month of the release the facts describe; newer wins a tie.
    pub released: String,
    /// Year and month its support ends (security updates stop), when known.
    pub end_of_life: Option<String>,
    /// Compressed size of the linux/amd64 image, in bytes.
    pub compressed_bytes: u64,
    /// OCI platforms it is published for (`*`: any).
    pub architectures: Vec<String>,
    /// Its C library, or `None` when it has none.
    pub libc: Option<BaseLibc>,
    /// The glibc libraries present; `None` means all of [`Catalog::glibc_sonames`].
    pub glibc_libraries: Option<Vec<String>>,
    /// Other shared libraries present, with the highest symbol version of each prefix.
    pub libraries: Vec<BaseLibrary>,
    /// Where copied libraries go so the image's loader finds them by default (`{triplet}`
    /// stands for the multiarch triplet).
    pub library_dir: Option<String>,
    /// The shell's path, when there is one.
    pub shell: Option<String>,
    /// The CA bundle's path, when there is one.
    pub ca_certificates: Option<String>,
    /// Whether `/usr/share/zoneinfo` is present.
    pub tzdata: bool,
    /// Other files present that needs refer to (`/etc/passwd`, `/etc/nsswitch.conf`...).
    pub files: Vec<String>,
    /// The services `nsswitch.conf` lists per database, when the file exists.
    pub nsswitch: Option<BTreeMap<String, Vec<String>>>,
    /// glibc NSS modules present (`compat` for `libnss_compat.so.2`).
    pub nss_modules: Vec<String>,
    /// Whether glibc's gconv modules are present.
    pub gconv: bool,
    /// User names in `/etc/passwd`.
    pub users: Vec<String>,
    /// The environment its configuration sets (`SSL_CERT_FILE`...).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the facts come from.
    pub sources: Vec<String>,
    /// Which facts were checked against the image's own files.
    pub verified: Vec<String>,
}

/// A family of base images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BaseKind {
    /// The empty image.
    Scratch,
    /// BusyBox on one C library.
    Busybox,
    /// Alpine Linux (musl).
    Alpine,
    /// Google's distroless images.
    Distroless,
    /// Debian.
    Debian,
    /// Ubuntu.
    Ubuntu,
}

/// The C library of a base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BaseLibc {
    /// `glibc` or `musl`.
    pub family: LibcFamily,
    /// Its version (`2.36`, `1.2.5`).
    pub version: Version,
}

/// A shared library of a base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BaseLibrary {
    /// Its SONAME.
    pub soname: String,
    /// The highest version it defines per version prefix (`GLIBCXX` -> `3.4.30`); a prefix
    /// not listed is not checked.
    pub versions: BTreeMap<String, Version>,
}

impl BaseImage {
    /// Whether the image is published for `platform` (an unknown platform matches).
    pub fn supports(&self, platform: Option<&str>) -> bool {
        match platform {
            None => true,
            Some(p) => self.architectures.iter().any(|a| a == "*" || a == p),
        }
    }

    /// Whether the image carries this glibc library.
    pub fn has_glibc_library(&self, catalog: &Catalog, soname: &str) -> bool {
        match &self.glibc_libraries {
            None => catalog.glibc_sonames.iter().any(|s| s == soname),
            Some(list) => list.iter().any(|s| s == soname),
        }
    }

    /// The non-libc library of this SONAME, if present.
    pub fn library(&self, soname: &str) -> Option<&BaseLibrary> {
        self.libraries.iter().find(|l| l.soname == soname)
    }

    /// Whether a file (or a directory, written with a trailing `/`) is present.
    pub fn has_file(&self, path: &str) -> bool {
        let trimmed = path.trim_end_matches('/');
        crate::judge::RUNTIME_INJECTED.contains(&trimmed)
            || self.files.iter().any(|f| f == trimmed)
            || self.shell.as_deref() == Some(trimmed)
            || self.ca_certificates.as_deref() == Some(trimmed)
            || (self.tzdata
                && (trimmed == "/usr/share/zoneinfo"
                    || trimmed.starts_with("/usr/share/zoneinfo/")))
    }

    /// Whether its support ended by the catalog's review date.
    pub fn ended(&self, catalog: &Catalog) -> bool {
        self.end_of_life
            .as_deref()
            .is_some_and(|eol| catalog.updated.as_str() >= eol)
    }

    /// Whether it is a glibc image.
    pub fn is_glibc(&self) -> bool {
        self.libc
            .as_ref()
            .is_some_and(|l| l.family == LibcFamily::Glibc)
    }

    /// Whether it is a musl image.
    pub fn is_musl(&self) -> bool {
        self.libc
            .as_ref()
            .is_some_and(|l| l.family == LibcFamily::Musl)
    }
}

impl BaseLibrary {
    /// The needed versions this library does not define, by the catalog's maxima.
    pub fn lacks<'v>(&self, needed: &'v [String]) -> Vec<&'v str> {
        needed
            .iter()
            .filter(|v| {
                let Some((prefix, number)) = v.rsplit_once('_') else {
                    return false;
                };
                // A version that is not numbers is not checked, as a prefix not listed.
                match (self.versions.get(prefix), Version::parse(number)) {
                    (Some(max), Some(number)) => number > *max,
                    _ => false,
                }
            })
            .map(String::as_str)
            .collect()
    }
}

/// The catalog compiled into this crate.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The data file is part of the crate and checked by the test suite; an unreadable
        // one yields an empty catalog rather than a panic.
        serde_json::from_str(CATALOG_JSON).unwrap_or_else(|_| Catalog {
            catalog_version: "unreadable".into(),
            updated: String::new(),
            about: String::new(),
            glibc_sonames: Vec::new(),
            images: Vec::new(),
        })
    })
}

/// musl's loader path for an OCI platform.
pub fn musl_loader(platform: &str) -> Option<&'static str> {
    crate::abi::musl_loader(platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_reads() {
        let c = catalog();
        assert_eq!(c.images.len(), 21, "{}", c.catalog_version);
        assert!(
            c.images
                .iter()
                .any(|i| i.name == "scratch" && i.compressed_bytes == 0)
        );
    }

    #[test]
    fn versions_by_prefix() {
        let lib = BaseLibrary {
            soname: "libstdc++.so.6".into(),
            versions: [("GLIBCXX".to_string(), Version::parse("3.4.30").unwrap())]
                .into_iter()
                .collect(),
        };
        let needed = vec![
            "GLIBCXX_3.4.9".to_string(),
            "GLIBCXX_3.4.32".to_string(),
            "CXXABI_1.3.15".to_string(),
        ];
        assert_eq!(lib.lacks(&needed), vec!["GLIBCXX_3.4.32"]);
    }
}
