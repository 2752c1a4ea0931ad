//! glibc: NSS, gconv, the `libgcc_s` unwinder, locales, time zones, the shell, libidn2.

use super::tables::{self, NSS_DATABASES, NssDatabase, category, markers};
use super::{NeedBuilder, NeedsInput};
use crate::report::{Certainty, Need, NeedKind};

/// The condition of NSS modules, which glibc 2.34 built in ([`super::GLIBC_NSS_BUILT_IN`]).
const BEFORE_2_34: &str = "glibc < 2.34 (separate NSS modules)";

pub(super) fn needs(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    nss(input, out);
    gconv(input, out);
    unwinder(input, out);
    locale(input, out);
    super::musl::time_zones(input, out);
    super::musl::shell(input, out);
    idn(input, out);
}

/// The NSS databases the file uses, from imported or linked functions, or from the
/// `__nss_<db>_lookup2` names that stay in stripped static binaries.
fn nss(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let loader_linked = ev.marker(markers::NSS_LOADER) || ev.marker(markers::NSS_FUNCTION);
    // In a static binary, getaddrinfo links the services lookup (for named services) and
    // gethostbyname2_r: that is not a use of its own, and /etc/services is optional there.
    let getaddrinfo_linked =
        input.is_static && (ev.has("getaddrinfo") || ev.marker(markers::GAI_CONF));
    let mut any = false;
    for (index, db) in NSS_DATABASES.iter().enumerate() {
        let mut functions = ev.found(category::nss(index));
        if getaddrinfo_linked {
            functions.retain(|f| !matches!(*f, "getservbyname_r" | "gethostbyname2_r"));
        }
        let marker = input.is_static && ev.marker(db.static_marker);
        let pulled_by_getaddrinfo =
            getaddrinfo_linked && db.name == "services" && functions.is_empty();
        if (functions.is_empty() && !marker) || pulled_by_getaddrinfo {
            continue;
        }
        any = true;
        let mut evidence = ev.describe(&functions);
        if marker {
            evidence.push(format!(
                "{} in read-only data (the {} lookup is linked)",
                db.static_marker, db.name
            ));
        }
        out.push(database_need(input, db, evidence));
    }
    if input.is_static && loader_linked && !any {
        // Stripped, and no database name survived: say what is known.
        out.push(
            NeedBuilder::new(
                NeedKind::Nss,
                "unknown",
                Certainty::Possible,
                "links glibc's NSS loader, but which databases it uses is not visible",
            )
            .optional("/etc/nsswitch.conf", None)
            .evidence(format!("{} in read-only data", markers::NSS_LOADER))
            .build(),
        );
    }
}

fn database_need(input: &NeedsInput<'_>, db: &NssDatabase, evidence: Vec<String>) -> Need {
    let ev = input.evidence;
    let go_resolver = input.go.is_some()
        && db.name == "hosts"
        && !input
            .go
            .is_some_and(|g| g.tags.iter().any(|t| t == "netcgo"));
    // Netgroups are looked up only where a configuration names one (`@group` in
    // hosts.allow, exports, sudoers); without any, innetgr answers "no" and nothing fails.
    let certainty = if go_resolver || db.name == "netgroup" {
        Certainty::Possible
    } else {
        Certainty::Likely
    };
    let summary = if go_resolver {
        "Go resolves names itself; glibc's hosts lookup (NSS) runs only when GODEBUG=netdns=cgo or the system configuration makes Go defer to it".to_string()
    } else if db.name == "netgroup" {
        "NSS netgroup lookups read /etc/netgroup, when a configuration names a netgroup".to_string()
    } else {
        format!("NSS {} lookups read {}", db.name, db.file)
    };
    let mut need = NeedBuilder::new(NeedKind::Nss, db.name, certainty, summary)
        .required(db.file, None)
        .evidence_all(evidence);
    if db.name == "hosts" {
        need = need
            .optional(
                "/etc/resolv.conf",
                Some("DNS lookups; missing means the name server on 127.0.0.1"),
            )
            .optional("/etc/host.conf", None);
        if ev.has("getaddrinfo") || ev.marker(markers::GAI_CONF) {
            need = need
                .optional(
                    "/etc/gai.conf",
                    Some("address sorting when a name has several addresses"),
                )
                .optional("/etc/services", Some("a service given by name"));
        }
    }
    need = need.optional(
        "/etc/nsswitch.conf",
        Some("services other than files/dns need libnss_<service>.so.2 of the same glibc"),
    );
    if input.is_static {
        let builtin = ev.marker(markers::NSS_FILES_BUILTIN);
        if builtin {
            need = need.evidence(
                "files/dns services built in (glibc >= 2.34): no module is loaded for them",
            );
        } else {
            let same = "the same glibc version the binary was linked with";
            need = need
                .required(input.library_path("libnss_files.so.2"), Some(same))
                .required(input.library_path("libc.so.6"), Some(same))
                .evidence("no files service built in (glibc < 2.34): static NSS loads modules");
            if db.name == "hosts" {
                need = need
                    .optional(input.library_path("libnss_dns.so.2"), Some(same))
                    .optional(input.library_path("libresolv.so.2"), Some(same));
            }
        }
    } else if input.may_run_on_glibc_before_2_34() {
        let below = super::GLIBC_NSS_BUILT_IN;
        need =
            need.required_below_glibc(input.library_path("libnss_files.so.2"), BEFORE_2_34, below);
        if db.name == "hosts" {
            need = need
                .optional_below_glibc(input.library_path("libnss_dns.so.2"), BEFORE_2_34, below)
                .optional_below_glibc(input.library_path("libresolv.so.2"), BEFORE_2_34, below);
        }
    }
    need.build()
}

/// iconv: everything but UTF-8, UCS-2/4, ASCII and WCHAR_T is a module.
fn gconv(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let functions = ev.found(category::ICONV);
    if functions.is_empty() {
        return;
    }
    let dir = ev.gconv_dir.clone().unwrap_or_else(|| match input.triplet {
        Some(triplet) => format!("/usr/lib/{triplet}/gconv"),
        None => "/usr/lib/gconv".to_string(),
    });
    let condition = "charsets other than UTF-8, UCS-2, UCS-4, ASCII and WCHAR_T";
    let mut need = NeedBuilder::new(
        NeedKind::Gconv,
        "iconv",
        Certainty::Likely,
        "iconv loads a gconv module for each charset glibc does not build in",
    )
    .required(format!("{dir}/gconv-modules.cache"), Some(condition))
    .evidence_all(ev.describe(&functions));
    let mut modules: Vec<&str> = ev
        .charsets
        .iter()
        .filter_map(|c| {
            tables::MODULE_CHARSETS
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, m)| *m)
        })
        .collect();
    modules.sort_unstable();
    modules.dedup();
    for charset in &ev.charsets {
        need = need.evidence(format!("charset name {charset} in read-only data"));
    }
    if modules.is_empty() {
        need = need.optional(
            format!("{dir}/"),
            Some("the modules of the charsets converted"),
        );
    }
    for module in modules {
        need = need.required(format!("{dir}/{module}"), None);
    }
    if input.is_static {
        need =
            need.evidence("static binary: the modules must come from the glibc it was linked with");
    }
    out.push(need.build());
}

/// pthread_cancel and pthread_exit abort unless glibc can dlopen libgcc_s.so.1.
fn unwinder(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    // Static binaries link the unwinder; a file that needs libgcc_s by name hides nothing.
    if input.is_static || input.needs_library("libgcc_s.so.1") {
        return;
    }
    let ev = input.evidence;
    let aborts = ev.found(category::UNWIND_ABORTS);
    let degrades = ev.found(category::UNWIND_DEGRADES);
    let path = input.library_path("libgcc_s.so.1");
    if !aborts.is_empty() {
        out.push(
            NeedBuilder::new(
                NeedKind::LibgccS,
                "unwinder",
                Certainty::Likely,
                "glibc dlopens libgcc_s.so.1 to unwind a cancelled or exiting thread, and aborts without it",
            )
            .required(path, None)
            .evidence_all(ev.describe(&aborts))
            .build(),
        );
    } else if !degrades.is_empty() {
        out.push(
            NeedBuilder::new(
                NeedKind::LibgccS,
                "unwinder",
                Certainty::Possible,
                "backtrace() dlopens libgcc_s.so.1 and returns no frames without it",
            )
            .optional(path, None)
            .evidence_all(ev.describe(&degrades))
            .build(),
        );
    }
}

/// setlocale with a locale other than C reads compiled locale data; without it the program
/// stays in the C locale.
fn locale(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let functions = ev.found(category::LOCALE);
    let marker = input.is_static && !ev.symbols_linked && ev.marker(markers::LOCALE_ARCHIVE);
    if functions.is_empty() && !marker {
        return;
    }
    let mut need = NeedBuilder::new(
        NeedKind::Locale,
        "locale data",
        Certainty::Possible,
        "locales other than C need glibc's locale data; stays in C without it",
    )
    .optional(
        "/usr/lib/locale/locale-archive",
        Some("locales compiled with localedef"),
    )
    .optional(
        "/usr/lib/locale/C.utf8/",
        Some("LANG=C.UTF-8 (not built into glibc)"),
    )
    .evidence_all(ev.describe(&functions));
    if marker {
        need = need.evidence("locale-archive path in read-only data");
    }
    out.push(need.build());
}

/// getaddrinfo with AI_IDN and a non-ASCII name dlopens libidn2.
fn idn(input: &NeedsInput<'_>, out: &mut Vec<Need>) {
    let ev = input.evidence;
    let functions = ev.found(category::IDN);
    let marker = input.is_static && ev.marker(markers::LIBIDN2);
    if functions.is_empty() && !marker {
        return;
    }
    let mut evidence = ev.describe(&functions);
    if marker {
        evidence.push(format!("{} in read-only data", markers::LIBIDN2));
    }
    out.push(
        NeedBuilder::new(
            NeedKind::Dlopen,
            "libidn2",
            Certainty::Possible,
            "AI_IDN/NI_IDN lookups of non-ASCII names dlopen libidn2",
        )
        .optional(
            input.library_path("libidn2.so.0"),
            Some("AI_IDN or NI_IDN with a non-ASCII name"),
        )
        .evidence_all(evidence)
        .build(),
    );
}
