//! Searching one name: the plan the searches of a closure follow, the answers remembered
//! across closures, and the steps both loaders take (a directory tried, a path opened, an
//! RPATH or RUNPATH expanded).

use foldhash::HashSet;
use std::sync::Arc;

use super::closure::Loaded;
use super::object::LoadInfo;
use super::{MAX_REMEMBERED, MAX_SYSTEM_DIRS, Resolver, SharedObject};
use crate::abi::Abi;
use crate::report::{FoundVia, LoaderRules};
use crate::rootfs::{Identity, InRoot, join_path, parent};

/// What the search of one closure uses besides the objects themselves.
#[derive(Debug)]
pub(super) struct SearchPlan {
    /// Unique per plan within a run (the key of remembered searches).
    pub(super) id: usize,
    pub(super) default_dirs: Vec<String>,
    pub(super) default_dirs_from: String,
    pub(super) hwcaps: Vec<String>,
    /// `$LIB` and `$PLATFORM`.
    pub(super) lib: String,
    pub(super) platform: String,
    /// musl's system path (path file or default) and where it came from; `None` under
    /// glibc's rules.
    pub(super) musl_path: Option<SystemDirs<FoundVia>>,
    pub(super) notes: Vec<String>,
}

/// What makes two files search alike: the loader's rules, its path, and the ABI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PlanKey {
    rules: LoaderRules,
    interpreter: Option<String>,
    abi: Abi,
}

/// What a search answers.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Found(Found),
    /// Nothing found; the places tried, in order.
    NotFound {
        tried: Vec<String>,
    },
}

/// An object a search found, and how.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub(super) found_as: Arc<str>,
    pub(super) canonical: Arc<str>,
    pub(super) via: FoundVia,
    pub(super) entry: Option<String>,
    pub(super) info: Arc<LoadInfo>,
    pub(super) identity: Identity,
}

impl Found {
    /// A search that found `hit`, by way of `via` (and its RPATH, RUNPATH or
    /// `LD_LIBRARY_PATH` entry).
    pub(super) fn new(via: FoundVia, entry: Option<String>, hit: Hit) -> Found {
        Found {
            found_as: hit.found_as.into(),
            canonical: hit.canonical.into(),
            via,
            entry,
            info: hit.object.info,
            identity: hit.object.identity,
        }
    }
}

/// A candidate found.
#[derive(Debug)]
pub(super) struct Hit {
    /// The path as found (search directory + name), which gives `$ORIGIN`.
    pub(super) found_as: String,
    pub(super) canonical: InRoot,
    pub(super) object: SharedObject,
}

/// The places a search tried, in order, each once.
#[derive(Debug, Default)]
pub(super) struct Tried {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Tried {
    pub(super) fn add(&mut self, place: &str) {
        if !self.seen.contains(place) {
            self.seen.insert(place.to_string());
            self.list.push(place.to_string());
        }
    }
}

/// A system list of directories.
#[derive(Debug, Clone, Default)]
pub(super) struct SystemDirs<From = String> {
    pub(super) dirs: Vec<String>,
    /// Where the list comes from.
    pub(super) from: From,
    /// Said when the list was cut.
    pub(super) note: Option<String>,
}

impl Resolver {
    /// Searches `name` for the object `loader`, remembering answers that do not depend on
    /// the chain of loaders.
    pub(super) fn search(
        &mut self,
        name: &str,
        loader: usize,
        loaded: &[Loaded],
        main: &LoadInfo,
        rules: LoaderRules,
        plan: &SearchPlan,
    ) -> Outcome {
        let nodeflib = loaded.get(loader).is_some_and(|l| l.info.nodeflib);
        // `$ORIGIN` in a name is the loading object's directory: such a name is answered
        // afresh for each object.
        let context_free = !name.contains('$') && chain_has_no_paths(loaded, loader);
        if context_free {
            if let Some(known) = self
                .memo
                .searches
                .get(&(plan.id, nodeflib))
                .and_then(|m| m.get(name))
            {
                return known.clone();
            }
        }
        let mut tried = Tried::default();
        let found = match rules {
            LoaderRules::Glibc => self.search_glibc(name, loader, loaded, main, plan, &mut tried),
            LoaderRules::Musl => self.search_musl(name, loader, loaded, plan, &mut tried),
        };
        let result = match found {
            Some(found) => Outcome::Found(found),
            None => Outcome::NotFound { tried: tried.list },
        };
        if context_free && self.memo.searches_remembered < MAX_REMEMBERED {
            let per_plan = self.memo.searches.entry((plan.id, nodeflib)).or_default();
            if per_plan.insert(name.into(), result.clone()).is_none() {
                self.memo.searches_remembered = self.memo.searches_remembered.saturating_add(1);
            }
        }
        result
    }

    /// The search plan for files of this loader and ABI, made once per run.
    pub(super) fn plan(&mut self, rules: LoaderRules, main: &LoadInfo) -> Arc<SearchPlan> {
        let key = PlanKey {
            rules,
            interpreter: main.interpreter.clone(),
            abi: main.abi(),
        };
        if let Some(plan) = self.memo.plans.get(&key) {
            return Arc::clone(plan);
        }
        let mut plan = self.search_summary(rules, main);
        plan.id = self.memo.plans.len();
        let plan = Arc::new(plan);
        self.memo.plans.insert(key, Arc::clone(&plan));
        plan
    }

    /// What the searches of files of this loader and ABI follow.
    fn search_summary(&mut self, rules: LoaderRules, main: &LoadInfo) -> SearchPlan {
        let mut notes = Vec::new();
        let defaults = match rules {
            LoaderRules::Glibc => self.glibc_default_dirs(main),
            LoaderRules::Musl => SystemDirs::default(),
        };
        let default_dirs = defaults.dirs;
        let hwcaps = self
            .shared
            .options
            .hwcaps
            .clone()
            .unwrap_or_else(|| main.abi().hwcaps().iter().map(|s| s.to_string()).collect());
        let lib = default_dirs
            .first()
            .map(|d| d.trim_start_matches('/').trim_end_matches('/').to_string())
            .unwrap_or_else(|| "lib".to_string());
        let platform = main.abi().platform().to_string();
        let mut musl_path = (rules == LoaderRules::Musl).then(|| self.musl_sys_path(main));
        if rules == LoaderRules::Glibc {
            notes = match self.memo.notes.get(&default_dirs) {
                Some(known) => known.clone(),
                None => {
                    let computed = self.configuration_notes(&default_dirs);
                    self.memo
                        .notes
                        .insert(default_dirs.clone(), computed.clone());
                    computed
                }
            };
        }
        let musl_note = musl_path.as_mut().and_then(|m| m.note.take());
        notes.extend(defaults.note.into_iter().chain(musl_note));
        SearchPlan {
            id: 0,
            default_dirs,
            default_dirs_from: defaults.from,
            hwcaps,
            lib,
            platform,
            musl_path,
            notes,
        }
    }

    /// Tries `name` in `dir` (its `glibc-hwcaps` subdirectories first); the first candidate
    /// of the right ABI.
    pub(super) fn try_dir(
        &self,
        dir: &str,
        name: &str,
        main: &LoadInfo,
        hwcaps: &[String],
        check_abi: bool,
        tried: &mut Tried,
    ) -> Option<Hit> {
        tried.add(dir);
        let mut candidates: Vec<String> = hwcaps
            .iter()
            .map(|level| join_path(dir, &format!("glibc-hwcaps/{level}")))
            .filter(|d| self.root.is_dir(d))
            .collect();
        candidates.push(join_path(dir, ""));
        for candidate_dir in candidates {
            let path = join_path(&candidate_dir, name);
            let Ok(canonical) = self.root.file(&path) else {
                continue;
            };
            let Some(object) = self.load(&canonical) else {
                if check_abi {
                    continue;
                }
                return None;
            };
            if !check_abi || object.info.compatible_with(main) {
                return Some(Hit {
                    found_as: path,
                    canonical,
                    object,
                });
            }
        }
        None
    }

    /// A name with a `/` is opened at that path (a relative one from the root: the
    /// program's working directory is unknown), never searched.
    ///
    /// glibc's `open_verify` refuses a file of another class, byte order or machine
    /// (`check_abi`). musl's `load_library` opens the path and maps it (`map_library`)
    /// without comparing class or machine, so any file is taken. musl maps a searched
    /// candidate the same way, yet there `musl::usable` models a file of another ABI as a
    /// failed load: the two musl branches answer differently for such a file, as before.
    pub(super) fn direct(&self, name: &str, main: &LoadInfo, check_abi: bool) -> Option<Found> {
        let path = join_path("/", name);
        let canonical = self.root.file(&path).ok()?;
        let object = self.load(&canonical)?;
        let hit = Hit {
            found_as: path,
            canonical,
            object,
        };
        (!check_abi || hit.object.info.compatible_with(main))
            .then(|| Found::new(FoundVia::Direct, None, hit))
    }
}

/// Keeps the first [`MAX_SYSTEM_DIRS`] of a system list; the note saying so when it was
/// longer.
pub(super) fn cut_system_dirs(dirs: &mut Vec<String>, what: &str) -> Option<String> {
    (dirs.len() > MAX_SYSTEM_DIRS).then(|| {
        dirs.truncate(MAX_SYSTEM_DIRS);
        format!(
            "{what} lists more than {MAX_SYSTEM_DIRS} directories; \
             only the first {MAX_SYSTEM_DIRS} are searched"
        )
    })
}

/// Whether no RPATH or RUNPATH can take part in a search by `loader`: the loader's own,
/// those of the chain that loaded it, and the executable's (known when it was loaded).
fn chain_has_no_paths(loaded: &[Loaded], loader: usize) -> bool {
    loaded.get(loader).is_some_and(|l| !l.chain_paths)
}

/// `origin` for a library found through an RPATH or RUNPATH entry relative to its object
/// (`$ORIGIN/../lib`, the layout of bundles and wheels), else `via`.
pub(super) fn origin_or(via: FoundVia, entry: &str) -> FoundVia {
    if entry.contains("$ORIGIN") || entry.contains("${ORIGIN}") {
        FoundVia::Origin
    } else {
        via
    }
}

/// Expands glibc's dynamic string tokens: `$ORIGIN` (the directory of the object, as it
/// was found), `$LIB` and `$PLATFORM`, also in `${...}` form.
pub(super) fn expand_tokens(text: &str, origin: &str, plan: &SearchPlan) -> String {
    text.replace("${ORIGIN}", origin)
        .replace("$ORIGIN", origin)
        .replace("${LIB}", &plan.lib)
        .replace("$LIB", &plan.lib)
        .replace("${PLATFORM}", &plan.platform)
        .replace("$PLATFORM", &plan.platform)
}

/// Splits an RPATH/RUNPATH on `:` and expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also in
/// `${...}` form); returns (entry as written, directory).
pub(super) fn expand_path_list(
    list: &str,
    object_path: &str,
    plan: &SearchPlan,
) -> Vec<(String, String)> {
    let origin = parent(object_path);
    list.split(':')
        .map(|entry| {
            let dir = expand_tokens(entry, &origin, plan);
            // An empty entry means the current directory; in a root that is `/`.
            let dir = if dir.is_empty() {
                "/".to_string()
            } else {
                join_path("/", &dir)
            };
            (entry.to_string(), dir)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tried_places_are_kept_once_in_order() {
        let mut tried = Tried::default();
        for _ in 0..3 {
            for i in 0..10_000 {
                tried.add(&format!("/opt/{i}"));
            }
        }
        tried.add("ld.so.cache");
        assert_eq!(tried.list.len(), 10_001);
        assert_eq!(tried.list[1], "/opt/1");
    }
}
