//! Where a TLS runtime really looks for CA certificates, read from the library in the root.
//!
//! OpenSSL opens `cert.pem` (or the hashed `certs/`) under the OPENSSLDIR compiled into
//! libcrypto, libcurl the bundle compiled into it (`CURL_CA_BUNDLE`), GnuTLS its default
//! trust file. The needs rules write Debian's paths; when a closure resolved in a root holds
//! the library, the path the library itself names replaces them, so an image is judged on
//! the file the runtime will open (an Alpine libcrypto says `/etc/ssl`, a vendored one
//! `/usr/local/ssl`).

use super::tables::{CA_BUNDLE, OPENSSL_DIR};
use crate::report::{Closure, Need, NeedKind};

/// The most bytes of a TLS library read to find its compiled-in paths.
pub(crate) const MAX_LIBRARY_BYTES: u64 = 32 << 20;

/// The longest compiled-in path taken.
const MAX_PATH: usize = 256;

/// Reads one compiled-in path out of a library's bytes.
pub(crate) type PathFinder = fn(&[u8]) -> Option<String>;

/// Rewrites the CA needs' paths to those the closure's TLS libraries name. `found_in`
/// answers what a finder, named by its runtime, reads from the library at a path inside
/// the root (a caller runs it once per library and run: libcrypto is megabytes).
pub(crate) fn runtime_exact<F>(needs: &mut [Need], closure: &Closure, mut found_in: F)
where
    F: FnMut(&str, &'static str, PathFinder) -> Option<String>,
{
    let library = |prefixes: &[&str]| {
        closure
            .libraries
            .iter()
            .find(|l| prefixes.iter().any(|p| l.soname.starts_with(p)))
    };
    let runtimes = [
        Runtime {
            name: "openssl",
            sonames: &["libcrypto.so."],
            default: OPENSSL_DIR,
            find: openssl_dir,
        },
        Runtime {
            name: "curl",
            sonames: &["libcurl.so.", "libcurl-gnutls.so."],
            default: CA_BUNDLE,
            find: bundle_path,
        },
        Runtime {
            name: "gnutls",
            sonames: &["libgnutls.so."],
            default: CA_BUNDLE,
            find: bundle_path,
        },
    ];
    for Runtime {
        name,
        sonames,
        default,
        find,
    } in runtimes
    {
        let wanted =
            |n: &Need| n.kind == NeedKind::CaCertificates && n.name.as_deref() == Some(name);
        if !needs.iter().any(wanted) {
            continue;
        }
        let Some(lib) = library(sonames) else {
            continue;
        };
        let Some(found) = found_in(&lib.path, name, find) else {
            continue;
        };
        for need in needs.iter_mut().filter(|n| wanted(n)) {
            for file in &mut need.files {
                if let Some(rest) = file.path.strip_prefix(default) {
                    file.path = format!("{found}{rest}").into();
                }
            }
            need.evidence.push(format!("{} names {found}", lib.path));
        }
    }
}

/// A TLS runtime: the CA need it gives (by name), the library that holds its path, the
/// path the needs rules assume, and how to read the real one from the library.
struct Runtime {
    name: &'static str,
    sonames: &'static [&'static str],
    default: &'static str,
    find: PathFinder,
}

/// libcrypto's `OPENSSLDIR: "/usr/lib/ssl"` (the text `openssl version -d` prints).
fn openssl_dir(bytes: &[u8]) -> Option<String> {
    let marker = b"OPENSSLDIR: \"";
    let at = memchr::memmem::find(bytes, marker)?;
    let rest = bytes.get(at.checked_add(marker.len())?..)?;
    let end = memchr::memchr(b'"', rest.get(..MAX_PATH.min(rest.len()))?)?;
    path_text(rest.get(..end)?)
}

/// The first NUL-terminated absolute path ending in `.crt` or `.pem` that names a CA
/// bundle (its file name says `ca`): libcurl's `CURL_CA_BUNDLE`, GnuTLS's trust file.
fn bundle_path(bytes: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"/etc/");
    let mut from = 0usize;
    while let Some(found) = finder.find(bytes.get(from..)?) {
        let start = from.checked_add(found)?;
        from = start.checked_add(1)?;
        // A string starts after a NUL.
        if start > 0 && bytes.get(start.checked_sub(1)?) != Some(&0) {
            continue;
        }
        let tail = bytes.get(start..)?;
        let Some(end) = memchr::memchr(0, tail.get(..MAX_PATH.min(tail.len()))?) else {
            continue;
        };
        let Some(text) = path_text(tail.get(..end)?) else {
            continue;
        };
        let name = text.rsplit('/').next().unwrap_or("");
        if (name.ends_with(".crt") || name.ends_with(".pem")) && name.contains("ca") {
            return Some(text);
        }
    }
    None
}

/// An absolute path of plain printable characters, without `..`.
fn path_text(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let plain = text.starts_with('/')
        && text.len() > 1
        && text.bytes().all(|b| b.is_ascii_graphic())
        && !text.split('/').any(|part| part == "..");
    plain.then(|| text.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_compiled_in_paths() {
        let crypto = b"xx\0OPENSSLDIR: \"/etc/ssl\"\0ENGINESDIR: \"/usr/lib/engines-3\"\0";
        assert_eq!(openssl_dir(crypto).as_deref(), Some("/etc/ssl"));
        assert_eq!(openssl_dir(b"OPENSSLDIR: \"../x\""), None);
        let curl = b"\0/etc/ssl/certs\0GET /etc/x.pem\0/etc/pki/tls/certs/ca-bundle.crt\0";
        assert_eq!(
            bundle_path(curl).as_deref(),
            Some("/etc/pki/tls/certs/ca-bundle.crt")
        );
        assert_eq!(bundle_path(b"\0/etc/passwd\0"), None);
    }
}
