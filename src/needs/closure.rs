//! The needs a program gets from the libraries it loads.
//!
//! curl resolves names and verifies TLS peers through libcurl and libssl, not through code
//! of its own: its hidden needs are those of its closure. Each library's needs come from
//! the same rules as a program's (its own imports); here they are carried over to the
//! program, each saying through which chain of libraries it comes (`via`).
//!
//! How sure a carried need is:
//! - from a library the program names in DT_NEEDED, as sure as in that library: the
//!   program calls into it for its work (curl into libcurl, psql into libpq);
//! - from a library further down, one step less sure (`likely` becomes `possible`): only
//!   some of the upper library's paths reach it;
//! - time zones, locales and gconv converters from any library are at most `possible`:
//!   without them a C library still runs (in UTC, in the C locale, with the built-in
//!   charsets), so a library's incidental `localtime` or `iconv` does not make an image
//!   carry `/usr/share/zoneinfo`;
//! - so are a library's NSS lookups other than host names: libselinux's `getpwnam`,
//!   libcurl's home-directory lookup, libwrap's netgroups serve paths a program may never
//!   take, while resolving names is what network libraries (libcurl, libpq, libcrypto's
//!   BIO) are called for;
//! - a TLS library's CA need reached through libcurl is dropped: libcurl hands its TLS
//!   library the bundle compiled into libcurl, which the need libcurl gives its users
//!   (`curl`) names.
//!
//! A need the program has itself is kept as it is; among libraries, the surest need of a
//! kind and name wins, then the shortest chain.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::report::{Certainty, Closure, Need, NeedKind};

/// The program's needs with those of its closure's libraries added, sorted by kind and
/// name. `library_needs` gives the needs of a library by its path inside the root (`None`
/// when it could not be read).
pub(crate) fn with_closure<F, N>(
    own: Vec<Need>,
    closure: &Closure,
    mut library_needs: F,
) -> Vec<Need>
where
    F: FnMut(&str) -> Option<N>,
    N: AsRef<[Need]>,
{
    let links = links(closure);
    let mut carried: BTreeMap<(NeedKind, Option<String>), Need> = BTreeMap::new();
    for (i, lib) in closure.libraries.iter().enumerate() {
        let Some(link) = links.get(i).copied().flatten() else {
            continue;
        };
        if is_c_library_part(&lib.soname) {
            continue;
        }
        let Some(needs) = library_needs(&lib.path) else {
            continue;
        };
        // Spelled out only for a need carried (a chain can be thousands long).
        let mut chain: Option<Vec<String>> = None;
        for need in needs.as_ref() {
            if link.through_curl
                && need.kind == NeedKind::CaCertificates
                && need.name.as_deref() != Some("curl")
            {
                continue;
            }
            let certainty = carried_certainty(need, link.depth);
            let key = (need.kind, need.name.as_deref().map(str::to_string));
            let better = carried
                .get(&key)
                .is_none_or(|have| (certainty, link.depth) < (have.certainty, have.via.len()));
            if better {
                let mut need = need.clone();
                need.certainty = certainty;
                need.via = chain
                    .get_or_insert_with(|| chain_to(closure, &links, i))
                    .clone();
                carried.insert(key, need);
            }
        }
    }
    let mut needs = own;
    for ((kind, name), need) in carried {
        let mine = needs
            .iter()
            .any(|n| n.kind == kind && n.name.as_deref() == name.as_deref());
        if !mine {
            needs.push(need);
        }
    }
    needs.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    needs
}

/// Libraries that give their TLS library the CA bundle themselves.
const CONFIGURES_ITS_TLS: &[&str] = &["libcurl.so.", "libcurl-gnutls.so."];

/// The C library's own files: their hidden needs are the program's own imports, which its
/// rules already read.
const C_LIBRARY_PARTS: &[&str] = &[
    "libc.so",
    "libm.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "libutil.so",
    "libresolv.so",
    "libanl.so",
    "ld-linux",
    "ld64.so",
    "ld-musl-",
    "libc.musl-",
];

fn is_c_library_part(soname: &str) -> bool {
    C_LIBRARY_PARTS.iter().any(|p| soname.starts_with(p))
}

/// Without a closure the libraries' needs are unknown: the libraries named, but the C
/// library's own.
pub(crate) fn libraries_not_read(needed: &[String]) -> Vec<String> {
    needed
        .iter()
        .filter(|n| !is_c_library_part(n))
        .cloned()
        .collect()
}

/// How sure a library's need is for the program, `depth` libraries down (1: named by the
/// program itself).
fn carried_certainty(need: &Need, depth: usize) -> Certainty {
    let mut certainty = need.certainty;
    if depth > 1 {
        certainty = weaker(certainty);
    }
    let incidental = match need.kind {
        NeedKind::Tzdata | NeedKind::Locale | NeedKind::Gconv => true,
        NeedKind::Nss => need.name.as_deref() != Some("hosts"),
        _ => false,
    };
    if incidental {
        certainty = certainty.max(Certainty::Possible);
    }
    certainty
}

fn weaker(certainty: Certainty) -> Certainty {
    match certainty {
        Certainty::Required => Certainty::Likely,
        _ => Certainty::Possible,
    }
}

/// How a library is reached from the program by the shortest way (breadth first over
/// `needed_by`): the library before it, and how many libraries down it is (1: named by the
/// program itself). Kept as links, not as spelled-out chains: spelling out every chain made a
/// closure of n libraries in a line cost n squared.
#[derive(Debug, Clone, Copy)]
struct Link {
    parent: Option<usize>,
    depth: usize,
    /// Whether a library of the chain (itself included) configures its TLS library.
    through_curl: bool,
}

/// The link of each library of the closure (`None`: not reached from the program).
fn links(closure: &Closure) -> Vec<Option<Link>> {
    let program = closure.file_in_root.as_str();
    let mut loaded_by: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, lib) in closure.libraries.iter().enumerate() {
        for user in &lib.needed_by {
            loaded_by.entry(user.as_str()).or_default().push(i);
        }
    }
    let mut link_of: Vec<Option<Link>> = vec![None; closure.libraries.len()];
    let mut queue: VecDeque<(&str, Option<usize>)> = VecDeque::from([(program, None)]);
    while let Some((user, from)) = queue.pop_front() {
        let above = from.and_then(|f| link_of.get(f).copied().flatten());
        for &i in loaded_by.get(user).map(Vec::as_slice).unwrap_or_default() {
            let (Some(slot), Some(lib)) = (link_of.get_mut(i), closure.libraries.get(i)) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            let curl = CONFIGURES_ITS_TLS.iter().any(|p| lib.soname.starts_with(p));
            *slot = Some(Link {
                parent: from,
                depth: above.map_or(1, |a| a.depth.saturating_add(1)),
                through_curl: curl || above.is_some_and(|a| a.through_curl),
            });
            queue.push_back((lib.path.as_str(), Some(i)));
        }
    }
    link_of
}

/// The sonames from the program down to library `i`, by its links.
fn chain_to(closure: &Closure, links: &[Option<Link>], i: usize) -> Vec<String> {
    let mut chain = Vec::new();
    let mut at = Some(i);
    // Links form a tree (each set once, from an earlier one): at most one step per library.
    while let Some(index) = at.filter(|_| chain.len() < links.len()) {
        let (Some(lib), Some(link)) = (
            closure.libraries.get(index),
            links.get(index).copied().flatten(),
        ) else {
            break;
        };
        chain.push(lib.soname.clone());
        at = link.parent;
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ClosureLibrary;

    fn need(kind: NeedKind, name: &str, certainty: Certainty) -> Need {
        super::super::NeedBuilder::new(kind, name.to_string(), certainty, "s").build()
    }

    fn lib(soname: &str, path: &str, needed_by: &[&str]) -> ClosureLibrary {
        serde_json::from_value(serde_json::json!({
            "soname": soname, "path": path, "found_via": "ld_so_cache", "search_entry": null,
            "needed_by": needed_by, "version_needs": []
        }))
        .unwrap()
    }

    fn closure(libraries: Vec<ClosureLibrary>) -> Closure {
        serde_json::from_value(serde_json::json!({
            "root": "/", "file_in_root": "/usr/bin/curl", "interpreter": null,
            "libraries": libraries, "missing": [], "unmet_versions": [], "search": null,
            "warnings": [], "version_needs": []
        }))
        .unwrap()
    }

    #[test]
    fn carried_with_their_chain_and_certainty() {
        let c = closure(vec![
            lib("libpq.so.5", "/lib/libpq.so.5", &["/usr/bin/curl"]),
            lib("libssl.so.3", "/lib/libssl.so.3", &["/lib/libpq.so.5"]),
        ]);
        let needs = with_closure(Vec::new(), &c, |path| match path {
            "/lib/libpq.so.5" => Some(vec![
                need(NeedKind::Nss, "hosts", Certainty::Likely),
                need(NeedKind::Tzdata, "zoneinfo", Certainty::Likely),
            ]),
            "/lib/libssl.so.3" => Some(vec![need(
                NeedKind::CaCertificates,
                "openssl",
                Certainty::Likely,
            )]),
            _ => None,
        });
        let got: Vec<(&str, Certainty, Vec<String>)> = needs
            .iter()
            .map(|n| (n.kind.as_str(), n.certainty, n.via.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "ca_certificates",
                    Certainty::Possible,
                    vec!["libpq.so.5".to_string(), "libssl.so.3".to_string()]
                ),
                ("nss", Certainty::Likely, vec!["libpq.so.5".to_string()]),
                (
                    "tzdata",
                    Certainty::Possible,
                    vec!["libpq.so.5".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn the_programs_own_need_and_the_surest_library_win() {
        let c = closure(vec![
            lib("libpq.so.5", "/lib/libpq.so.5", &["/usr/bin/curl"]),
            lib(
                "libssl.so.3",
                "/lib/libssl.so.3",
                &["/lib/libpq.so.5", "/usr/bin/curl"],
            ),
        ]);
        let own = vec![need(NeedKind::Nss, "hosts", Certainty::Possible)];
        let needs = with_closure(own, &c, |_| {
            Some(vec![
                need(NeedKind::Nss, "hosts", Certainty::Likely),
                need(NeedKind::CaCertificates, "openssl", Certainty::Likely),
            ])
        });
        assert_eq!(needs.len(), 2);
        assert_eq!(needs[0].kind, NeedKind::CaCertificates);
        // Named by the program itself, libssl is as near as libcurl: the first one found.
        assert_eq!(needs[0].via, ["libpq.so.5"]);
        assert_eq!(needs[0].certainty, Certainty::Likely);
        assert_eq!(
            (needs[1].kind, needs[1].certainty, needs[1].via.len()),
            (NeedKind::Nss, Certainty::Possible, 0)
        );
    }

    #[test]
    fn libcurl_brings_its_own_bundle_to_its_tls_library() {
        let c = closure(vec![
            lib("libcurl.so.4", "/lib/libcurl.so.4", &["/usr/bin/curl"]),
            lib("libssl.so.3", "/lib/libssl.so.3", &["/lib/libcurl.so.4"]),
        ]);
        let needs = with_closure(Vec::new(), &c, |_| {
            Some(vec![
                need(NeedKind::CaCertificates, "openssl", Certainty::Likely),
                need(NeedKind::Nss, "hosts", Certainty::Likely),
            ])
        });
        let kinds: Vec<&str> = needs.iter().map(|n| n.kind.as_str()).collect();
        assert_eq!(kinds, ["nss"]);
    }

    #[test]
    fn a_library_cycle_ends() {
        let c = closure(vec![
            lib(
                "liba.so",
                "/lib/liba.so",
                &["/usr/bin/curl", "/lib/libb.so"],
            ),
            lib("libb.so", "/lib/libb.so", &["/lib/liba.so"]),
        ]);
        let needs = with_closure(Vec::new(), &c, |path| {
            (path == "/lib/libb.so")
                .then(|| vec![need(NeedKind::Shell, "/bin/sh", Certainty::Likely)])
        });
        assert_eq!(needs.len(), 1);
        assert_eq!(needs[0].via, ["liba.so", "libb.so"]);
    }
}
