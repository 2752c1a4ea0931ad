//! Go: its own resolver and user lookups (without cgo), CA certificates for `crypto/x509`,
//! time zones for `time` (unless `time/tzdata` is embedded). Evidence is the function names
//! in Go's symbol table (`pclntab`), which survive `-ldflags=-s -w`, and the build info
//! (go `net/conf.go`, `os/user/lookup.go`, `crypto/x509/root_linux.go`,
//! `time/zoneinfo_unix.go`).

use super::tables::{CA_BUNDLE, markers};
use super::{NeedBuilder, NeedsInput};
use crate::report::{Certainty, Go, Need, NeedKind};

/// Where Go looks when this bundle is absent (go `crypto/x509/root_linux.go`).
pub(crate) const GO_CA_SEARCH: &str = "or the first of /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/ca-bundle.pem, /etc/pki/tls/cacert.pem, /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem, /etc/ssl/cert.pem, or files in /etc/ssl/certs, /etc/pki/tls/certs; SSL_CERT_FILE/SSL_CERT_DIR override";

pub(super) fn needs(input: &NeedsInput<'_>, go: &Go, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let has_tag = |tag: &str| go.tags.iter().any(|t| t == tag);
    let found = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|n| ev.marker(n))
            .map(|n| format!("Go function {n}"))
            .collect()
    };

    let resolver = found(&[
        markers::GO_DNS_CONFIG,
        markers::GO_LOOKUP_IP,
        markers::GO_HOSTS_ORDER,
    ]);
    if !resolver.is_empty() && !has_tag("netcgo") {
        let mut need = NeedBuilder::new(
            NeedKind::EtcFile,
            "go resolver",
            Certainty::Likely,
            "resolves names with Go's own resolver: /etc/hosts first, then the name servers of /etc/resolv.conf",
        )
        .required("/etc/hosts", Some("names listed there, such as localhost"))
        .optional("/etc/resolv.conf", Some("DNS lookups; missing means 127.0.0.1:53 and [::1]:53"))
        .optional("/etc/nsswitch.conf", Some("its hosts line orders files and dns"))
        .evidence_all(resolver);
        if ev.marker(markers::GO_READ_SERVICES) {
            need = need
                .optional(
                    "/etc/services",
                    Some("service names beyond Go's built-in list"),
                )
                .evidence(format!("Go function {}", markers::GO_READ_SERVICES));
        }
        if ev.marker(markers::GO_READ_PROTOCOLS) {
            need = need.optional(
                "/etc/protocols",
                Some("protocol names beyond Go's built-in list"),
            );
        }
        if has_tag("netgo") {
            need = need.evidence("built with -tags netgo");
        }
        out.push(need.build());
    }

    // os/user: without cgo (or with osusergo) Go parses /etc/passwd and /etc/group itself;
    // with cgo it calls getpwuid_r and friends (glibc NSS, found from the imports).
    let user = found(&[markers::GO_USER_LOOKUP, markers::GO_USER_CURRENT]);
    if !user.is_empty() && !ev.marker(markers::GO_USER_CGO) {
        let mut need = NeedBuilder::new(
            NeedKind::EtcFile,
            "go os/user",
            Certainty::Likely,
            "looks up users and groups with Go's own parser of /etc/passwd and /etc/group",
        )
        .required("/etc/passwd", None)
        .evidence_all(user);
        // The linker keeps lookupGroupId only when the program looks groups up.
        need = if ev.marker(markers::GO_GROUP_LOOKUP) {
            need.required("/etc/group", None)
                .evidence(format!("Go function {}", markers::GO_GROUP_LOOKUP))
        } else {
            need.optional("/etc/group", Some("group lookups"))
        };
        if has_tag("osusergo") {
            need = need.evidence("built with -tags osusergo");
        }
        out.push(need.build());
    }

    let roots = found(&[markers::GO_X509_ROOTS]);
    if !roots.is_empty() {
        let fallback = ev.marker(markers::GO_X509_FALLBACK)
            || go
                .deps
                .iter()
                .any(|d| d.path.starts_with("golang.org/x/crypto/x509roots/fallback"));
        let (certainty, summary) = if fallback {
            (
                Certainty::Possible,
                "verifies TLS peers with the system CA store, falling back to roots built into the binary",
            )
        } else {
            (
                Certainty::Likely,
                "verifies TLS peers with the system CA store; without a bundle every certificate is unknown",
            )
        };
        out.push(
            NeedBuilder::new(
                NeedKind::CaCertificates,
                "go crypto/x509",
                certainty,
                summary,
            )
            .required(CA_BUNDLE, Some(GO_CA_SEARCH))
            .evidence_all(roots)
            .build(),
        );
    }

    let load = found(&[markers::GO_LOAD_LOCATION]);
    let local = found(&[markers::GO_INIT_LOCAL]);
    let embedded = ev.marker(markers::GO_TZDATA) || has_tag("timetzdata");
    if !load.is_empty() || !local.is_empty() {
        let mut need = if !load.is_empty() && !embedded {
            NeedBuilder::new(
                NeedKind::Tzdata,
                "go time",
                Certainty::Likely,
                "loads time zones by name from /usr/share/zoneinfo (LoadLocation fails without it)",
            )
            .required("/usr/share/zoneinfo/", Some("zones loaded by name"))
        } else {
            NeedBuilder::new(
                NeedKind::Tzdata,
                "go time",
                Certainty::Possible,
                if embedded {
                    "time zones are embedded (time/tzdata); only the local zone is read from the system"
                } else {
                    "reads the local time zone; silently UTC without it"
                },
            )
        };
        need = need
            .optional("/etc/localtime", Some("a local time zone other than UTC"))
            .evidence_all(load)
            .evidence_all(local);
        if embedded {
            need = need.evidence("time/tzdata embedded");
        }
        out.push(need.build());
    }
}
