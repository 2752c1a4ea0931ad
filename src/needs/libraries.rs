//! Needs that come with libraries and crates, whatever the C library: TLS libraries and CA
//! certificates, Mozilla NSS's modules, `.note.dlopen` metadata, library names near
//! `dlopen`, and the Rust crates that read the system CA store or time-zone database.

use super::tables::{self, CA_BUNDLE, OPENSSL_DIR, crates};
use super::{NeedBuilder, NeedsInput};
use crate::report::{Certainty, Need, NeedKind};

/// Where openssl-probe 0.2 (rustls-native-certs, native-tls) looks when this bundle is absent.
const PROBE_CA_SEARCH: &str = "or the first of /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem, /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/ca-bundle.pem, /etc/pki/tls/cacert.pem, /etc/ssl/cert.pem, /opt/etc/ssl/certs/ca-certificates.crt, /etc/ssl/certs/cacert.pem; SSL_CERT_FILE/SSL_CERT_DIR override";

pub(super) fn needs(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    openssl(input, out);
    curl(input, out);
    gnutls(input, out);
    openldap(input, out);
    mozilla_nss(input, out);
    dlopen_notes(input, out);
    dlopen_heuristic(input, out);
    rust_crates(input, out);
}

/// Dynamic OpenSSL verifies peers against `cert.pem` (or the hashed `certs/`) under its
/// OPENSSLDIR, compiled into libcrypto (Debian: /usr/lib/ssl, whose cert.pem links to the
/// system bundle); distroless images have the bundle but no OPENSSLDIR. The directory is
/// Debian's here; a closure resolved in a root reads it from that root's libcrypto.
fn openssl(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    // libssl makes the TLS connections that verify peers (libcrypto alone, as ssh uses
    // it, does not). auditwheel renames bundled copies (`libssl-6a9b88ec.so.3`): match the
    // stem.
    let is_openssl = |name: &str| {
        name.strip_prefix("libssl")
            .is_some_and(|rest| rest.starts_with(".so") || rest.starts_with('-'))
    };
    let libs: Vec<&String> = input.needed.iter().filter(|n| is_openssl(n)).collect();
    if libs.is_empty() {
        return;
    }
    out.push(
        NeedBuilder::new(
            NeedKind::CaCertificates,
            "openssl",
            Certainty::Likely,
            "uses OpenSSL, which verifies peers against cert.pem under its OPENSSLDIR unless SSL_CERT_FILE says otherwise",
        )
        .required(
            format!("{OPENSSL_DIR}/cert.pem"),
            Some("or hashed certificates in OPENSSLDIR/certs/, or SSL_CERT_FILE/SSL_CERT_DIR"),
        )
        .evidence_all(libs.iter().map(|l| format!("needs {l}")))
        .build(),
    );
}

/// libcurl opens the CA bundle compiled into it (`CURL_CA_BUNDLE`; Debian:
/// /etc/ssl/certs/ca-certificates.crt) for every TLS transfer, whichever TLS library it
/// uses: curl fails with error 77 without it.
fn curl(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let libs: Vec<&String> = input
        .needed
        .iter()
        .filter(|n| n.starts_with("libcurl.so.") || n.starts_with("libcurl-gnutls.so."))
        .collect();
    if libs.is_empty() {
        return;
    }
    out.push(
        NeedBuilder::new(
            NeedKind::CaCertificates,
            "curl",
            Certainty::Likely,
            "uses libcurl, which opens its compiled-in CA bundle for TLS transfers unless told another (CURL_CA_BUNDLE, --cacert)",
        )
        .required(CA_BUNDLE, None)
        .evidence_all(libs.iter().map(|l| format!("needs {l}")))
        .build(),
    );
}

/// GnuTLS loads the system trust from the file compiled into it (Debian:
/// /etc/ssl/certs/ca-certificates.crt) when the program asks for it.
fn gnutls(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let calls = ev.found(tables::category::GNUTLS_TRUST);
    if calls.is_empty() {
        return;
    }
    out.push(
        NeedBuilder::new(
            NeedKind::CaCertificates,
            "gnutls",
            Certainty::Likely,
            "loads GnuTLS's system trust, the CA bundle compiled into libgnutls",
        )
        .required(CA_BUNDLE, None)
        .evidence_all(ev.describe(&calls))
        .build(),
    );
}

/// OpenLDAP's client library reads /etc/ldap/ldap.conf at its first call, and with GnuTLS
/// trusts only the CA file that configuration names (Debian's names the system bundle):
/// without it, `ldaps://` fails "peer cert untrusted".
fn openldap(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let libs: Vec<&String> = input
        .needed
        .iter()
        .filter(|n| n.starts_with("libldap-2.") || n.starts_with("libldap.so."))
        .collect();
    if libs.is_empty() {
        return;
    }
    out.push(
        NeedBuilder::new(
            NeedKind::EtcFile,
            "ldap.conf",
            Certainty::Likely,
            "uses OpenLDAP, which reads /etc/ldap/ldap.conf for its defaults, TLS_CACERT among them",
        )
        .required("/etc/ldap/ldap.conf", None)
        .evidence_all(libs.iter().map(|l| format!("needs {l}")))
        .build(),
    );
    out.push(
        NeedBuilder::new(
            NeedKind::CaCertificates,
            "ldap",
            Certainty::Likely,
            "uses OpenLDAP, which verifies TLS peers against the TLS_CACERT file of ldap.conf (Debian: the system bundle)",
        )
        .required(CA_BUNDLE, Some("the TLS_CACERT file ldap.conf names"))
        .evidence_all(libs.iter().map(|l| format!("needs {l}")))
        .build(),
    );
}

/// Mozilla NSS (`libnss3.so`) dlopens its crypto and root-certificate modules.
fn mozilla_nss(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    if !input.needs_library("libnss3.so") {
        return;
    }
    out.push(
        NeedBuilder::new(
            NeedKind::Dlopen,
            "mozilla nss",
            Certainty::Likely,
            "Mozilla NSS loads its crypto (softokn, freebl) and built-in roots (nssckbi) with dlopen",
        )
        .required(input.library_path("libsoftokn3.so"), None)
        .required(input.library_path("libfreeblpriv3.so"), None)
        .required(input.library_path("libnssckbi.so"), Some("the built-in root certificates"))
        .optional(input.library_path("libnssdbm3.so"), Some("legacy dbm certificate databases"))
        .evidence("needs libnss3.so")
        .build(),
    );
}

/// The systemd `.note.dlopen` metadata: what the file itself says it loads.
fn dlopen_notes(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    for note in &input.evidence.dlopen_notes {
        let certainty = match note.priority.as_str() {
            "required" => Certainty::Required,
            "suggested" => Certainty::Possible,
            _ => Certainty::Likely,
        };
        let Some(first) = note.sonames.first() else {
            continue;
        };
        let Some(path) = input.named_library_path(first) else {
            continue;
        };
        let name = note.feature.clone().unwrap_or_else(|| first.clone());
        let summary = match &note.description {
            Some(d) => format!("loads {first} at run time ({d})"),
            None => format!("loads {first} at run time"),
        };
        let alternatives = note.sonames.get(1..).unwrap_or(&[]).join(", ");
        let condition = (!alternatives.is_empty()).then(|| format!("or one of: {alternatives}"));
        let mut need = NeedBuilder::new(NeedKind::Dlopen, name, certainty, summary)
            .evidence(format!(".note.dlopen entry, priority {}", note.priority));
        need = if certainty == Certainty::Required {
            need.required_when(path, condition)
        } else {
            need.optional_when(path, condition)
        };
        out.push(need.build());
    }
}

/// Library names stored in a file that calls dlopen: candidates only.
fn dlopen_heuristic(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let functions = ev.found(tables::category::DLOPEN);
    if functions.is_empty() || ev.dlopen_candidates.is_empty() {
        return;
    }
    let noted: Vec<&String> = ev.dlopen_notes.iter().flat_map(|n| &n.sonames).collect();
    let mut need = NeedBuilder::new(
        NeedKind::Dlopen,
        "candidates",
        Certainty::Possible,
        "calls dlopen; these library names appear in its data (a heuristic: which are loaded depends on the run)",
    )
    .evidence_all(ev.describe(&functions));
    let mut any = false;
    for name in &ev.dlopen_candidates {
        if noted.contains(&name) {
            continue;
        }
        if let Some(path) = input.named_library_path(name) {
            need = need.optional(path, None);
            any = true;
        }
    }
    if any {
        out.push(need.build());
    }
}

/// Crates from cargo-auditable's list that decide CA-certificate and time-zone needs.
fn rust_crates(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let Some(rust) = input.rust else { return };
    let has = |names: &[&str]| -> Vec<String> {
        let mut found: Vec<String> = rust
            .crates
            .iter()
            .filter(|c| names.contains(&c.name.as_str()))
            .map(|c| format!("crate {} {}", c.name, c.version))
            .collect();
        found.dedup();
        found
    };
    let mut system_roots = has(crates::SYSTEM_ROOTS);
    if rust.crates.is_empty() {
        // Without cargo-auditable's list, the crates' own names in the file.
        system_roots.extend(
            tables::markers::RUST_SYSTEM_ROOTS
                .iter()
                .filter(|m| input.evidence.marker(m))
                .map(|m| format!("`{}` in read-only data", m.trim_end_matches('-'))),
        );
    }
    let embedded_roots = has(crates::EMBEDDED_ROOTS);
    let vendored = has(&[crates::VENDORED_OPENSSL]);
    if !system_roots.is_empty() {
        out.push(
            NeedBuilder::new(
                NeedKind::CaCertificates,
                "rust system roots",
                Certainty::Likely,
                "reads the system CA store (rustls-native-certs, openssl-probe or native-tls)",
            )
            .required(CA_BUNDLE, Some(PROBE_CA_SEARCH))
            .evidence_all(system_roots.clone())
            .build(),
        );
    } else if !vendored.is_empty() && embedded_roots.is_empty() {
        out.push(
            NeedBuilder::new(
                NeedKind::CaCertificates,
                "vendored openssl",
                Certainty::Likely,
                "OpenSSL built into the binary looks under /usr/local/ssl unless SSL_CERT_FILE is set",
            )
            .required("/usr/local/ssl/cert.pem", Some("unless SSL_CERT_FILE points at a bundle"))
            .evidence_all(vendored)
            .build(),
        );
    }
    let embedded_tz = has(crates::EMBEDDED_TZ);
    let system_tz = has(crates::SYSTEM_TZ);
    if !system_tz.is_empty() && embedded_tz.is_empty() {
        out.push(
            NeedBuilder::new(
                NeedKind::Tzdata,
                "rust time zones",
                Certainty::Likely,
                "reads the system time-zone database",
            )
            .required("/usr/share/zoneinfo/", Some("zones loaded by name"))
            .optional("/etc/localtime", Some("a local time zone other than UTC"))
            .evidence_all(system_tz)
            .build(),
        );
    }
    let loaders = has(crates::DLOPEN);
    if !loaders.is_empty() {
        out.push(
            NeedBuilder::new(
                NeedKind::Dlopen,
                "rust libloading",
                Certainty::Possible,
                "links a crate that loads libraries at run time",
            )
            .evidence_all(loaders)
            .build(),
        );
    }
}
