//! Symbol versions the closure does not define: a `GLIBC_2.34` needed of a libc that
//! stops at 2.31 keeps the program from starting.

use foldhash::HashMap;
use std::sync::Arc;

use super::closure::Loaded;
use super::object::LoadInfo;
use super::{MAX_REMEMBERED, Resolver};
use crate::report::UnmetVersion;

impl Resolver {
    /// Every `GLIBC_2.34`-style version an object needs and the library it names does not
    /// define (the loader refuses to start such a program).
    pub(super) fn unmet_versions(
        &mut self,
        loaded: &[Loaded],
        by_name: &HashMap<Arc<str>, usize>,
    ) -> Vec<UnmetVersion> {
        let mut out: Vec<UnmetVersion> = Vec::new();
        let mut at: HashMap<(&str, &str), usize> = HashMap::default();
        for user in loaded {
            for (need_index, need) in user.info.version_needs.iter().enumerate() {
                let Some(provider) = by_name
                    .get(need.soname.as_str())
                    .and_then(|i| loaded.get(*i))
                else {
                    continue;
                };
                let versions = &need.versions;
                let missing = match (user.identity, provider.identity) {
                    (Some(u), Some(p)) => match self.memo.version_checks.get(&(u, need_index, p)) {
                        Some(known) => known.clone(),
                        None => {
                            let computed = missing_versions(versions, &provider.info);
                            if self.memo.version_checks.len() < MAX_REMEMBERED {
                                self.memo
                                    .version_checks
                                    .insert((u, need_index, p), computed.clone());
                            }
                            computed
                        }
                    },
                    _ => missing_versions(versions, &provider.info),
                };
                for version in missing.iter().filter_map(|&i| versions.get(i)) {
                    // One entry per (library, version): found by a map, where scanning the
                    // entries made many unmet versions cost their square.
                    let key = (need.soname.as_str(), version.as_str());
                    match at.get(&key).and_then(|&i| out.get_mut(i)) {
                        Some(u) => {
                            // Objects are taken one at a time: a user met again is the last.
                            if u.needed_by.last().is_none_or(|n| **n != *user.canonical) {
                                u.needed_by.push(user.canonical.to_string());
                            }
                        }
                        None => {
                            at.insert(key, out.len());
                            out.push(UnmetVersion {
                                soname: need.soname.clone(),
                                version: version.clone(),
                                needed_by: vec![user.canonical.to_string()],
                            });
                        }
                    }
                }
            }
        }
        out
    }
}

/// The versions of `needed` that `provider` does not define (their indexes).
fn missing_versions(needed: &[String], provider: &LoadInfo) -> Vec<usize> {
    needed
        .iter()
        .enumerate()
        // Sorted when read.
        .filter(|(_, v)| provider.defined_versions.binary_search(v).is_err())
        .map(|(i, _)| i)
        .collect()
}
