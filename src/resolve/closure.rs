//! The closure walk: breadth first from the file, each DT_NEEDED entry met by an object
//! already loaded (by name, SONAME or file) or by a search, into the report's closure and,
//! when asked, a tree of the same edges.

use foldhash::{HashMap, HashMapExt};
use std::path::Path;
use std::sync::Arc;

use super::musl::musl_reserved;
use super::object::{self, LoadInfo};
use super::search::Outcome;
use super::{MAX_OBJECTS, Resolver, SharedObject, basename, rules_of};
use crate::report::{
    Closure, ClosureInterpreter, ClosureLibrary, ClosureSearch, FoundVia, LoaderRules,
    MissingLibrary,
};
use crate::rootfs::{Identity, join_path};

/// The objects a closure is sized for at first: of /usr/bin's programs on a Debian system,
/// half load at most 3 libraries and 95% at most 22.
const CLOSURE_CAPACITY: usize = 32;

/// What one DT_NEEDED entry resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeTarget {
    /// Another object of the tree (its index in [`ClosureTree::nodes`]).
    Node(usize),
    /// The loader itself (the interpreter, or a name musl folds into its loader).
    Loader,
    /// Not found.
    Missing,
}

/// One object of a closure and what each of its DT_NEEDED entries resolved to, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TreeNode {
    /// The canonical path inside the root.
    pub path: String,
    /// How it was found (`None` for the file itself and the interpreter).
    pub found_via: Option<FoundVia>,
    /// (DT_NEEDED name, what it resolved to).
    pub needed: Vec<(String, TreeTarget)>,
}

/// A closure as a tree (node 0 is the file), with the directories tried for missing names.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClosureTree {
    /// Every object loaded, in load order.
    pub nodes: Vec<TreeNode>,
}

/// A loaded object of the closure.
#[derive(Debug, Clone)]
pub(super) struct Loaded {
    /// Names that match it: the names it was asked for by and its SONAME.
    names: Vec<Arc<str>>,
    /// The path as found (search directory + name), which gives `$ORIGIN`.
    pub(super) found_as: Arc<str>,
    /// The path with every symbolic link resolved inside the root.
    pub(super) canonical: Arc<str>,
    pub(super) info: Arc<LoadInfo>,
    /// The object that first needed it.
    pub(super) loader: Option<usize>,
    pub(super) identity: Option<Identity>,
    /// How it was found (`None` for the file itself and the interpreter).
    via: Option<FoundVia>,
    /// Its place in `Closure::libraries`, when listed there (the file itself and the
    /// interpreter are not).
    listed: Option<usize>,
    /// Whether an RPATH or RUNPATH takes part in its searches: its own, those of the chain
    /// that loaded it, or the executable's (set once when it is loaded, so that a search
    /// need not walk the chain).
    pub(super) chain_paths: bool,
    /// The last object recorded among its users (`needed_by`): the walk takes one object
    /// at a time, so a user met again is the last one recorded.
    last_user: Option<usize>,
}

/// Whether an object has an RPATH or a RUNPATH.
fn has_paths(info: &LoadInfo) -> bool {
    info.rpath.is_some() || info.runpath.is_some()
}

impl Resolver {
    /// The closure of `file`: in an image, a path inside it; in a directory root, a path
    /// under the root's directory (resolved inside the root) or any other file of this
    /// machine (analysed as about to be copied to the same path inside the root).
    ///
    /// A file that cannot be found or read gives a closure with a warning saying so.
    pub fn closure(&mut self, file: &Path) -> Closure {
        self.closure_tree(file).0
    }

    /// The closure of the file at `in_root`, whose loader facts are already known.
    pub(crate) fn closure_of(&mut self, in_root: String, main: LoadInfo) -> Closure {
        self.closure_from(in_root, Ok(main), false).0
    }

    /// The closure of `file` (named as for [`Resolver::closure`]), and the same as a tree
    /// (for display).
    pub fn closure_tree(&mut self, file: &Path) -> (Closure, ClosureTree) {
        match self.open_named(file) {
            Ok((content, in_root)) => {
                let main = object::read_content(content, &self.shared.limits);
                self.closure_from(in_root, main, true)
            }
            Err(e) => {
                let in_root = self.in_root_path(file);
                let (mut closure, tree) = self.closure_from(in_root, Err(e), true);
                closure.warnings.truncate(0);
                closure
                    .warnings
                    .push("the file could not be found or read".into());
                (closure, tree)
            }
        }
    }

    /// The closure of a file whose loader facts are `main`; the tree only when wanted.
    fn closure_from(
        &mut self,
        in_root: String,
        main: crate::error::Result<LoadInfo>,
        want_tree: bool,
    ) -> (Closure, ClosureTree) {
        let mut closure = Closure {
            root: crate::path_text(self.shared.fs.path()),
            file_in_root: in_root.clone(),
            interpreter: None,
            libraries: Vec::new(),
            missing: Vec::new(),
            unmet_versions: Vec::new(),
            search: None,
            warnings: Vec::new(),
            version_needs: Arc::default(),
        };
        let Ok(main_info) = main else {
            closure
                .warnings
                .push("the file's dynamic section could not be read".into());
            return (closure, ClosureTree { nodes: Vec::new() });
        };
        let main_info = Arc::new(main_info);
        let main_paths = has_paths(&main_info);
        closure.version_needs = Arc::clone(&main_info.version_needs);
        let rules = rules_of(&main_info);
        let in_root: Arc<str> = in_root.into();
        // Sized for a typical closure (a few dozen objects), so it rarely grows.
        let mut loaded: Vec<Loaded> = Vec::with_capacity(CLOSURE_CAPACITY);
        loaded.push(Loaded {
            names: main_info.soname.iter().cloned().collect(),
            found_as: Arc::clone(&in_root),
            canonical: in_root,
            info: Arc::clone(&main_info),
            loader: None,
            identity: None,
            via: None,
            listed: None,
            chain_paths: main_paths,
            last_user: None,
        });

        // The interpreter is loaded before anything; it satisfies needs of its own name.
        let mut interpreter_index = None;
        if let Some(interp) = &main_info.interpreter {
            let found = self.root.file(interp);
            closure.interpreter = Some(ClosureInterpreter {
                path: interp.clone(),
                found: found.is_ok(),
            });
            if let Ok(canonical) = found {
                if let Some(SharedObject { info, identity }) = self.load(&canonical) {
                    let mut names: Vec<Arc<str>> = vec![basename(interp).into()];
                    names.extend(info.soname.iter().cloned());
                    interpreter_index = Some(loaded.len());
                    let chain_paths = main_paths || has_paths(&info);
                    loaded.push(Loaded {
                        names,
                        found_as: interp.as_str().into(),
                        canonical: canonical.into(),
                        info,
                        loader: None,
                        identity: Some(identity),
                        via: None,
                        listed: None,
                        chain_paths,
                        last_user: None,
                    });
                }
            }
        }

        let search = self.plan(rules, &main_info);
        // Every name that matches a loaded object: the names it was asked for by, its
        // SONAME, and the path it was found at.
        let mut by_name: HashMap<Arc<str>, usize> = HashMap::with_capacity(CLOSURE_CAPACITY * 2);
        // Every loaded file by identity (device and inode), the first object loaded from it:
        // a lookup per library found, where scanning the objects made a closure of n
        // objects cost n squared.
        let mut by_identity: HashMap<Identity, usize> = HashMap::with_capacity(CLOSURE_CAPACITY);
        for (index, l) in loaded.iter().enumerate() {
            for name in l.names.iter().chain(std::iter::once(&l.found_as)) {
                by_name.entry(Arc::clone(name)).or_insert(index);
            }
            if let Some(identity) = l.identity {
                by_identity.entry(identity).or_insert(index);
            }
        }
        // Each missing name's place in `closure.missing`.
        let mut missing_at: HashMap<Arc<str>, usize> = HashMap::new();
        let mut edges: Vec<Vec<(String, TreeTarget)>> = Vec::new();
        let mut queue = Vec::with_capacity(CLOSURE_CAPACITY);
        queue.push(0usize);
        let mut next = 0usize;
        // Set when the closure reached MAX_OBJECTS: the walk stops (and says so once).
        let mut cut = false;
        while let Some(&current) = queue.get(next) {
            next = next.saturating_add(1);
            let Some((current_info, needer, current_paths)) = loaded
                .get(current)
                .map(|l| (Arc::clone(&l.info), Arc::clone(&l.canonical), l.chain_paths))
            else {
                break;
            };
            let mut own: Vec<(String, TreeTarget)> = Vec::new();
            let mut edge = |name: &str, target: TreeTarget| {
                if want_tree {
                    own.push((name.to_string(), target));
                }
            };
            for name in &current_info.needed {
                // Already loaded under this name, its SONAME, or (for a path) its path.
                if let Some(&index) = by_name.get(name) {
                    add_needed_by(&mut loaded, index, current, &needer, &mut closure.libraries);
                    edge(
                        name,
                        if Some(index) == interpreter_index {
                            TreeTarget::Loader
                        } else {
                            TreeTarget::Node(index)
                        },
                    );
                    continue;
                }
                if rules == LoaderRules::Musl
                    && musl_reserved(name, main_info.interpreter.as_deref())
                {
                    if let Some(index) = interpreter_index {
                        if let Some(l) = loaded.get_mut(index) {
                            l.names.push(Arc::clone(name));
                        }
                        by_name.insert(Arc::clone(name), index);
                    }
                    edge(name, TreeTarget::Loader);
                    continue;
                }
                let found = self.search(name, current, &loaded, &main_info, rules, &search);
                let found = match found {
                    Outcome::Found(found) => found,
                    Outcome::NotFound { tried } => {
                        edge(name, TreeTarget::Missing);
                        match missing_at
                            .get(name)
                            .and_then(|&at| closure.missing.get_mut(at))
                        {
                            Some(m) => m.needed_by.push(needer.to_string()),
                            None => {
                                missing_at.insert(Arc::clone(name), closure.missing.len());
                                closure.missing.push(MissingLibrary {
                                    soname: name.to_string(),
                                    needed_by: vec![needer.to_string()],
                                    tried,
                                });
                            }
                        }
                        continue;
                    }
                };
                // The same file under another name is the same object.
                if let Some(&index) = by_identity.get(&found.identity) {
                    if let Some(l) = loaded.get_mut(index) {
                        l.names.push(Arc::clone(name));
                    }
                    by_name.insert(Arc::clone(name), index);
                    add_needed_by(&mut loaded, index, current, &needer, &mut closure.libraries);
                    edge(name, TreeTarget::Node(index));
                    continue;
                }
                if loaded.len() >= MAX_OBJECTS {
                    cut = true;
                    break;
                }
                let mut names = vec![Arc::clone(name)];
                names.extend(found.info.soname.iter().cloned());
                let index = loaded.len();
                let chain_paths = current_paths || has_paths(&found.info);
                for n in names.iter().chain(std::iter::once(&found.found_as)) {
                    by_name.entry(Arc::clone(n)).or_insert(index);
                }
                by_identity.entry(found.identity).or_insert(index);
                edge(name, TreeTarget::Node(index));
                let listed = closure.libraries.len();
                closure.libraries.push(ClosureLibrary {
                    soname: name.to_string(),
                    path: found.canonical.to_string(),
                    found_via: found.via,
                    search_entry: found.entry,
                    needed_by: vec![needer.to_string()],
                    version_needs: Arc::clone(&found.info.version_needs),
                });
                loaded.push(Loaded {
                    names,
                    found_as: found.found_as,
                    canonical: found.canonical,
                    info: found.info,
                    loader: Some(current),
                    identity: Some(found.identity),
                    via: Some(found.via),
                    listed: Some(listed),
                    chain_paths,
                    last_user: Some(current),
                });
                queue.push(index);
            }
            if want_tree {
                if edges.len() <= current {
                    edges.resize(current.saturating_add(1), Vec::new());
                }
                if let Some(slot) = edges.get_mut(current) {
                    *slot = own;
                }
            }
            if cut {
                closure
                    .warnings
                    .push(format!("closure cut at {MAX_OBJECTS} objects"));
                break;
            }
        }

        closure.unmet_versions = self.unmet_versions(&loaded, &by_name);
        closure.warnings.extend(search.notes.iter().cloned());
        closure.search = Some(ClosureSearch {
            flavor: rules,
            ld_so_cache: self.shared.cache.as_ref().map(|c| c.format.to_string()),
            default_dirs: search.default_dirs.clone(),
            default_dirs_from: search.default_dirs_from.clone(),
            ld_library_path: self
                .shared
                .options
                .ld_library_path
                .clone()
                .unwrap_or_default(),
        });
        let nodes = if want_tree {
            loaded
                .iter()
                .enumerate()
                .map(|(i, l)| TreeNode {
                    path: l.canonical.to_string(),
                    found_via: l.via,
                    needed: edges.get_mut(i).map(std::mem::take).unwrap_or_default(),
                })
                .collect()
        } else {
            Vec::new()
        };
        (closure, ClosureTree { nodes })
    }

    /// Where the root's loader would find the library `name` for the program `main`, whose
    /// in-root path (its `$ORIGIN`) is `in_root`: the canonical in-root path of the object
    /// found. The name is searched as a DT_NEEDED entry of the program is: its RPATH or
    /// RUNPATH, `LD_LIBRARY_PATH` when given, then `/etc/ld.so.cache` and the default
    /// directories (glibc), or the path file or default path (musl); a candidate of another
    /// ABI is skipped (glibc) or fails the load (musl). A name musl folds into its loader is
    /// the loader, when the root has it.
    pub(crate) fn find_library(
        &mut self,
        main: &Arc<LoadInfo>,
        in_root: &str,
        name: &str,
    ) -> Option<String> {
        let rules = rules_of(main);
        let interpreter = main.interpreter.as_deref();
        if rules == LoaderRules::Musl && musl_reserved(name, interpreter) {
            return interpreter.and_then(|i| self.root.file(i).ok());
        }
        let program = Loaded {
            names: main.soname.iter().cloned().collect(),
            found_as: in_root.into(),
            canonical: in_root.into(),
            info: Arc::clone(main),
            loader: None,
            identity: None,
            via: None,
            listed: None,
            chain_paths: has_paths(main),
            last_user: None,
        };
        let plan = self.plan(rules, main);
        match self.search(name, 0, &[program], main, rules, &plan) {
            Outcome::Found(found) => Some(found.canonical.to_string()),
            Outcome::NotFound { .. } => None,
        }
    }

    /// The in-root path of a file a user named (see [`Resolver::closure`]); the path as
    /// written when it cannot be placed.
    pub(crate) fn in_root_path(&self, file: &Path) -> String {
        match self.place(file) {
            Ok(place) => place.in_root(),
            Err(_) => join_path("/", &crate::path_text(file)),
        }
    }
}

/// Records that `needer` (the object `user`) needs the loaded object `index`, when it is a
/// listed library (the file itself and the interpreter are not), once per user.
fn add_needed_by(
    loaded: &mut [Loaded],
    index: usize,
    user: usize,
    needer: &str,
    out: &mut [ClosureLibrary],
) {
    let Some(l) = loaded.get_mut(index) else {
        return;
    };
    if l.last_user == Some(user) {
        return;
    }
    l.last_user = Some(user);
    if let Some(lib) = l.listed.and_then(|pos| out.get_mut(pos)) {
        lib.needed_by.push(needer.to_string());
    }
}
