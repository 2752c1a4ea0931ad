//! musl: no NSS, no gconv, no libgcc_s; its lookups read `/etc` files directly (musl
//! `src/passwd/getpw_a.c`, `src/network/lookup_name.c`, `lookup_serv.c`, `resolvconf.c`).
//! Also the time-zone and shell rules, which glibc shares.

use super::tables::{NSS_DATABASES, category, markers};
use super::{NeedBuilder, NeedsInput};
use crate::report::{Certainty, Need, NeedKind};

pub(super) fn needs(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    lookups(input, out);
    time_zones(input, out);
    shell(input, out);
}

/// The files musl's user, group, host and service lookups read.
fn lookups(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    for (db, required, optional) in [
        ("passwd", &["/etc/passwd"][..], &[][..]),
        ("group", &["/etc/group"][..], &[][..]),
        ("shadow", &["/etc/shadow"][..], &[][..]),
        ("hosts", &["/etc/hosts"][..], &["/etc/resolv.conf"][..]),
        ("services", &["/etc/services"][..], &[][..]),
    ] {
        let functions = NSS_DATABASES
            .iter()
            .position(|d| d.name == db)
            .map(|index| ev.found(category::nss(index)))
            .unwrap_or_default();
        // Stripped static musl keeps the paths its lookups open, and nothing else of them.
        let path_markers: Vec<&str> = required
            .iter()
            .chain(optional)
            .copied()
            .filter(|p| input.is_static && !ev.symbols_linked && ev.marker(p))
            .collect();
        if functions.is_empty() && path_markers.is_empty() {
            continue;
        }
        let summary = match db {
            "hosts" => "resolves names: musl reads /etc/hosts, then asks the name servers in /etc/resolv.conf (127.0.0.1 when missing)".to_string(),
            _ => format!("looks up {db} entries: musl reads {} directly (no NSS)", required.join(", ")),
        };
        let mut need = NeedBuilder::new(NeedKind::EtcFile, db, Certainty::Likely, summary)
            .evidence_all(ev.describe(&functions));
        for path in required {
            need = need.required(*path, None);
        }
        for path in optional {
            need = need.optional(*path, Some("DNS lookups; missing means 127.0.0.1"));
        }
        if db == "hosts" && ev.has("getaddrinfo") {
            need = need.optional("/etc/services", Some("a service given by name"));
        }
        for path in path_markers {
            need = need.evidence(format!("path {path} in read-only data"));
        }
        out.push(need.build());
    }
}

/// Local time and named zones: `/etc/localtime`, `/usr/share/zoneinfo` (glibc and musl).
pub(super) fn time_zones(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let found = ev.found(category::TZ);
    let marker = input.is_static && !ev.symbols_linked && ev.marker(markers::ZONEINFO);
    if found.is_empty() && !marker {
        return;
    }
    let mut need = NeedBuilder::new(
        NeedKind::Tzdata,
        "zoneinfo",
        Certainty::Likely,
        "local time reads /etc/localtime, or TZ's zone under /usr/share/zoneinfo; UTC without them",
    )
    .optional("/etc/localtime", Some("a local time zone other than UTC"))
    .required(
        "/usr/share/zoneinfo/",
        Some("TZ names a zone, e.g. TZ=Europe/Berlin"),
    )
    .evidence_all(ev.describe(&found));
    if marker {
        need = need.evidence("zoneinfo path in read-only data");
    }
    out.push(need.build());
}

/// system(), popen() and wordexp() run `/bin/sh`; scratch and distroless have none.
pub(super) fn shell(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let found = ev.found(category::SHELL);
    let marker = input.is_static && !ev.symbols_linked && ev.marker(markers::BIN_SH);
    if found.is_empty() && !marker {
        return;
    }
    let (certainty, extra) = if found.is_empty() {
        (
            Certainty::Possible,
            Some("/bin/sh in read-only data".to_string()),
        )
    } else {
        (Certainty::Likely, None)
    };
    let mut need = NeedBuilder::new(
        NeedKind::Shell,
        "/bin/sh",
        certainty,
        "system/popen/wordexp run /bin/sh; they fail (status 127) without it",
    )
    .required("/bin/sh", None)
    .evidence_all(ev.describe(&found));
    if let Some(extra) = extra {
        need = need.evidence(extra);
    }
    out.push(need.build());
}
