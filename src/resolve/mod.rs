//! The shared-library closure of a file inside a root filesystem, found the way the target's
//! own loader finds it, without running anything.
//!
//! glibc (`elf/dl-load.c`, `_dl_map_object`): a name with a `/` is opened as is; otherwise
//! the DT_RPATH of the loading object and of its loaders up to the executable (only when
//! the loading object has no DT_RUNPATH), `LD_LIBRARY_PATH` (only when the caller passes
//! one), the loading object's DT_RUNPATH, `/etc/ld.so.cache`, then the loader's default
//! directories (both skipped under DF_1_NODEFLIB); each directory is tried with its
//! `glibc-hwcaps` subdirectories first, and a candidate of another class, byte order or
//! machine is skipped. An object already loaded under that name (or its SONAME, or the same
//! file) satisfies the need.
//!
//! musl (`ldso/dynlink.c`, `load_library`): its reserved names (`libc.so`, `libpthread.so`...)
//! and the loader's own name are the loader itself; otherwise `LD_LIBRARY_PATH`, the RPATH
//! or RUNPATH of the loading object and of every object up the chain that loaded it, then
//! `etc/ld-musl-<arch>.path` next to the loader's directory (entries split on `:` and
//! newlines), else `/lib:/usr/local/lib:/usr/lib`. The first file that opens is taken.

mod ldcache;
mod ldconf;
pub(crate) mod object;
pub(crate) mod root;

// The lookups of a batch hash names and paths a hundred thousand times: foldhash is seeded
// per process like the standard hasher, and several times faster on short strings.
use foldhash::{HashMap, HashMapExt, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::abi::Abi;
use crate::error::Limits;
use crate::report::{
    Closure, ClosureInterpreter, ClosureLibrary, ClosureSearch, MissingLibrary, UnmetVersion,
};
use ldcache::LdCache;
use object::LoadInfo;
use root::{Identity, InRoot, Root, join_path, parent};

/// Said when `/etc/ld.so.cache` is there but not in a format this loader reads.
const UNREADABLE_CACHE: &str = "/etc/ld.so.cache is not a cache this loader reads";

/// Where the default directories come from when the loader could not be read.
const FALLBACK_DIRS_FROM: &str = "Debian's multiarch defaults (the loader could not be read)";
/// musl's built-in system path, for roots without a path file.
const MUSL_DEFAULT_PATH: &[&str] = &["/lib", "/usr/local/lib", "/usr/lib"];

/// The most objects one closure holds; a hostile root cannot make it grow further.
const MAX_OBJECTS: usize = 4096;

/// The objects a closure is sized for at first: of /usr/bin's programs on a Debian system,
/// half load at most 3 libraries and 95% at most 22.
const CLOSURE_CAPACITY: usize = 32;
/// The largest ld.so.cache read.
const MAX_CACHE_BYTES: u64 = 64 << 20;
/// The most entries read from ld.so.cache.
const MAX_CACHE_ENTRIES: usize = 1 << 20;
/// The most search answers and version checks remembered per run.
const MAX_REMEMBERED: usize = 1 << 16;
/// The most bytes of a glibc loader searched for its compiled-in directories (ld.so is a
/// few hundred KiB).
const MAX_LOADER_BYTES: u64 = 8 << 20;
/// The longest directory name in the loader's compiled-in list.
const MAX_SYSTEM_DIR: usize = 256;
/// The most directories kept of a system list (the loader's compiled-in list, musl's path
/// file); real ones hold a handful.
const MAX_SYSTEM_DIRS: usize = 256;

/// How a closure is computed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolveOptions {
    /// `LD_LIBRARY_PATH` as the program would see it; never taken from this process.
    pub ld_library_path: Option<Vec<String>>,
    /// The `glibc-hwcaps` levels the target CPU supports, best first (x86_64:
    /// `x86-64-v4`...). `None`: every level of the architecture, as on a current CPU.
    pub hwcaps: Option<Vec<String>>,
}

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
    pub found_via: Option<String>,
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

/// Which loader's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Glibc,
    Musl,
}

/// A loaded object of the closure.
#[derive(Debug, Clone)]
struct Loaded {
    /// Names that match it: the names it was asked for by and its SONAME.
    names: Vec<Arc<str>>,
    /// The path as found (search directory + name), which gives `$ORIGIN`.
    found_as: Arc<str>,
    /// The path with every symbolic link resolved inside the root.
    canonical: Arc<str>,
    info: Arc<LoadInfo>,
    /// The object that first needed it.
    loader: Option<usize>,
    identity: Option<Identity>,
    /// How it was found (`None` for the file itself and the interpreter).
    via: Option<&'static str>,
    /// Its place in `Closure::libraries`, when listed there (the file itself and the
    /// interpreter are not).
    listed: Option<usize>,
}

/// Resolves closures inside one root, reading each library once per run.
///
/// A resolver remembers what it has read of the root (libraries, directories, links,
/// answers of searches): make a new one after changing the root. For threads, give each
/// its own from [`Resolver::share`]; the libraries read are then shared among them.
#[derive(Debug)]
pub struct Resolver {
    /// What every resolver of the root shares: read once, by the first.
    shared: Arc<Shared>,
    /// The root, with the lookups of this resolver remembered.
    root: Root,
    memo: Memo,
}

/// What the resolvers of one root share (across threads).
#[derive(Debug)]
struct Shared {
    /// The root directory as given, made absolute, and with its links resolved on the
    /// host (to place files inside it).
    dir: PathBuf,
    root_absolute: PathBuf,
    root_canonical: PathBuf,
    limits: Limits,
    options: ResolveOptions,
    cache: Option<LdCache>,
    cache_problem: Option<String>,
    conf_dirs: Option<Vec<String>>,
    conf_problems: Vec<String>,
    /// Every library read.
    objects: Mutex<ObjectCache>,
}

/// What one resolver remembers of its searches (each thread its own, no locking).
#[derive(Debug, Default)]
struct Memo {
    /// Per loader path: its default directories, where they come from, and a note when
    /// the list was cut.
    default_dirs: HashMap<String, SystemDirs>,
    /// The configuration notes, per set of default directories (the same for every file).
    notes: HashMap<Vec<String>, Vec<String>>,
    /// Search plans per loader and ABI.
    plans: HashMap<PlanKey, Arc<SearchPlan>>,
    /// Searches whose answer does not depend on the loading chain (no RPATH or RUNPATH
    /// involved): per (plan, DF_1_NODEFLIB), per name, the object found or the places
    /// tried. Keyed in two levels so that a lookup by `&str` allocates nothing.
    searches: HashMap<(usize, bool), HashMap<Box<str>, Outcome>>,
    /// How many searches are remembered in all.
    searches_remembered: usize,
    /// The versions a library needs that another does not define, per (user, index of the
    /// need in the user, provider): libraries meet the same partners in every closure.
    version_checks: HashMap<(Identity, usize, Identity), Vec<usize>>,
}

/// What makes two files search alike: the loader's rules, its path, and the ABI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PlanKey {
    musl: bool,
    interpreter: Option<String>,
    abi: Abi,
}

/// The libraries read in a run, by identity and by the canonical path they were read at.
#[derive(Debug, Default)]
struct ObjectCache {
    by_identity: HashMap<Identity, Arc<LoadInfo>>,
    by_path: HashMap<String, SharedObject>,
}

/// A shared object read: its loader facts and the file they were read from.
#[derive(Debug, Clone)]
struct SharedObject {
    info: Arc<LoadInfo>,
    identity: Identity,
}

/// What a search answers.
#[derive(Debug, Clone)]
enum Outcome {
    Found(Found),
    /// Nothing found; the places tried, in order.
    NotFound { tried: Vec<String> },
}

/// An object a search found, and how.
#[derive(Debug, Clone)]
struct Found {
    found_as: Arc<str>,
    canonical: Arc<str>,
    via: &'static str,
    entry: Option<String>,
    info: Arc<LoadInfo>,
    identity: Identity,
}

impl Found {
    /// A search that found `hit`, by way of `via` (and its RPATH, RUNPATH or
    /// `LD_LIBRARY_PATH` entry).
    fn new(via: &'static str, entry: Option<String>, hit: Hit) -> Found {
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

impl Resolver {
    /// A resolver for the root directory `root` (`/` for the running system).
    pub fn new(root: &Path, limits: &Limits, options: &ResolveOptions) -> Resolver {
        let root = Root::new(root);
        let (cache, cache_problem) = match root.read("/etc/ld.so.cache", MAX_CACHE_BYTES) {
            None => (None, None),
            Some(bytes) => match LdCache::parse(bytes, MAX_CACHE_ENTRIES) {
                Some(cache) => (Some(cache), None),
                None => (None, Some(UNREADABLE_CACHE.to_string())),
            },
        };
        let conf = ldconf::read(&root);
        let (conf_dirs, conf_problems) = match conf {
            Some(c) => (Some(c.dirs), c.problems),
            None => (None, Vec::new()),
        };
        let dir = root.dir().to_path_buf();
        let shared = Shared {
            root_canonical: std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone()),
            root_absolute: std::path::absolute(&dir).unwrap_or_else(|_| dir.clone()),
            dir,
            limits: limits.clone(),
            options: options.clone(),
            cache,
            cache_problem,
            conf_dirs,
            conf_problems,
            objects: Mutex::default(),
        };
        Resolver {
            shared: Arc::new(shared),
            root,
            memo: Memo::default(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.root.dir()
    }

    /// Another resolver for the same root and options that shares the libraries this one
    /// has read and will read (for another thread: each keeps its own lookups).
    pub fn share(&self) -> Resolver {
        Resolver {
            shared: Arc::clone(&self.shared),
            root: Root::new(&self.shared.dir),
            memo: Memo::default(),
        }
    }

    /// Reads an object found at an in-root path, once per file (device and inode), and
    /// remembers it by path too (a run asks for the same libraries over and over).
    fn load(&self, canonical: &str) -> Option<SharedObject> {
        let known = self.shared.objects.lock().unwrap_or_else(PoisonError::into_inner).by_path.get(canonical).cloned();
        if known.is_some() {
            return known;
        }
        let host = self.root.host(canonical);
        let identity = self.root.identity(canonical)?;
        let known = self.shared.objects.lock().unwrap_or_else(PoisonError::into_inner).by_identity.get(&identity).cloned();
        let info = match known {
            Some(info) => info,
            // Read without holding the lock; two threads may both read a library once.
            None => Arc::new(object::read(&host, &self.shared.limits).ok()?),
        };
        let mut cache = self.shared.objects.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.by_identity.len() < MAX_OBJECTS.saturating_mul(4) {
            cache.by_identity.entry(identity).or_insert_with(|| Arc::clone(&info));
        }
        if cache.by_path.len() < MAX_OBJECTS.saturating_mul(16) {
            let object = SharedObject {
                info: Arc::clone(&info),
                identity,
            };
            cache.by_path.insert(canonical.to_string(), object);
        }
        Some(SharedObject { info, identity })
    }

    /// The closure of `file`: a host path, inside the root or not (a file outside is
    /// analysed as about to be copied to the same path inside the root).
    pub fn closure(&mut self, file: &Path) -> Closure {
        self.closure_tree(file).0
    }

    /// The closure of `file`, whose loader facts are already known.
    pub(crate) fn closure_of(&mut self, file: &Path, main: LoadInfo) -> Closure {
        self.closure_from(file, Ok(main), false).0
    }

    /// The closure of `file`, and the same as a tree (for display).
    pub fn closure_tree(&mut self, file: &Path) -> (Closure, ClosureTree) {
        let main = object::read(file, &self.shared.limits);
        self.closure_from(file, main, true)
    }

    /// The closure of a file whose loader facts are `main`; the tree only when wanted.
    fn closure_from(
        &mut self,
        file: &Path,
        main: crate::error::Result<LoadInfo>,
        want_tree: bool,
    ) -> (Closure, ClosureTree) {
        let in_root = self.in_root_path(file);
        let mut closure = Closure {
            root: self.root.dir().to_string_lossy().into_owned(),
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
            closure.warnings.push("the file's dynamic section could not be read".into());
            return (closure, ClosureTree { nodes: Vec::new() });
        };
        let main_info = Arc::new(main_info);
        closure.version_needs = Arc::clone(&main_info.version_needs);
        let flavor = flavor_of(&main_info);
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
                    loaded.push(Loaded {
                        names,
                        found_as: interp.as_str().into(),
                        canonical: canonical.into(),
                        info,
                        loader: None,
                        identity: Some(identity),
                        via: None,
                        listed: None,
                    });
                }
            }
        }

        let search = self.plan(flavor, &main_info);
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
        let mut edges: Vec<Vec<(String, TreeTarget)>> = Vec::new();
        let mut queue = Vec::with_capacity(CLOSURE_CAPACITY);
        queue.push(0usize);
        let mut next = 0usize;
        // Set when the closure reached MAX_OBJECTS: the walk stops (and says so once).
        let mut cut = false;
        while let Some(&current) = queue.get(next) {
            next = next.saturating_add(1);
            let Some((current_info, needer)) =
                loaded.get(current).map(|l| (Arc::clone(&l.info), Arc::clone(&l.canonical)))
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
                    add_needed_by(&loaded, index, &needer, &mut closure.libraries);
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
                if flavor == Flavor::Musl && musl_reserved(name, main_info.interpreter.as_deref()) {
                    if let Some(index) = interpreter_index {
                        if let Some(l) = loaded.get_mut(index) {
                            l.names.push(Arc::clone(name));
                        }
                        by_name.insert(Arc::clone(name), index);
                    }
                    edge(name, TreeTarget::Loader);
                    continue;
                }
                let found = self.search(name, current, &loaded, &main_info, flavor, &search);
                let found = match found {
                    Outcome::Found(found) => found,
                    Outcome::NotFound { tried } => {
                        edge(name, TreeTarget::Missing);
                        match closure.missing.iter_mut().find(|m| *m.soname == **name) {
                            Some(m) => m.needed_by.push(needer.to_string()),
                            None => closure.missing.push(MissingLibrary {
                                soname: name.to_string(),
                                needed_by: vec![needer.to_string()],
                                tried,
                            }),
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
                    add_needed_by(&loaded, index, &needer, &mut closure.libraries);
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
                for n in names.iter().chain(std::iter::once(&found.found_as)) {
                    by_name.entry(Arc::clone(n)).or_insert(index);
                }
                by_identity.entry(found.identity).or_insert(index);
                edge(name, TreeTarget::Node(index));
                let listed = closure.libraries.len();
                closure.libraries.push(ClosureLibrary {
                    soname: name.to_string(),
                    path: found.canonical.to_string(),
                    found_via: found.via.to_string(),
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
                closure.warnings.push(format!("closure cut at {MAX_OBJECTS} objects"));
                break;
            }
        }

        closure.unmet_versions = self.unmet_versions(&loaded, &by_name);
        closure.warnings.extend(search.notes.iter().cloned());
        closure.search = Some(ClosureSearch {
            flavor: match flavor {
                Flavor::Glibc => "glibc",
                Flavor::Musl => "musl",
            }
            .to_string(),
            ld_so_cache: self.shared.cache.as_ref().map(|c| c.format.to_string()),
            default_dirs: search.default_dirs.clone(),
            default_dirs_from: search.default_dirs_from.clone(),
            ld_library_path: self.shared.options.ld_library_path.clone().unwrap_or_default(),
        });
        let nodes = if want_tree {
            loaded
                .iter()
                .enumerate()
                .map(|(i, l)| TreeNode {
                    path: l.canonical.to_string(),
                    found_via: l.via.map(str::to_string),
                    needed: edges.get_mut(i).map(std::mem::take).unwrap_or_default(),
                })
                .collect()
        } else {
            Vec::new()
        };
        (closure, ClosureTree { nodes })
    }

    /// The in-root path of a host file: its path relative to the root when it lies inside,
    /// else the same path (as if copied there).
    fn in_root_path(&self, file: &Path) -> String {
        // A file under the root's path resolves inside the root, as the loader in a chroot
        // would see it (and with the lookups remembered).
        if let Ok(absolute) = std::path::absolute(file) {
            let plain = !absolute.components().any(|c| c == std::path::Component::ParentDir);
            for root in [&self.shared.root_absolute, &self.shared.root_canonical] {
                let inside = absolute.strip_prefix(root).ok().filter(|_| plain);
                if let Some(Ok(path)) = inside.map(|rel| self.root.canonical(&rel.to_string_lossy())) {
                    return path;
                }
            }
        }
        let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        match absolute.strip_prefix(&self.shared.root_canonical) {
            Ok(rel) => join_path("/", &rel.to_string_lossy()),
            Err(_) => join_path("/", &absolute.to_string_lossy()),
        }
    }
}

/// Records that `needer` needs the loaded object `index`, when it is a listed library (the
/// file itself and the interpreter are not).
fn add_needed_by(loaded: &[Loaded], index: usize, needer: &str, out: &mut [ClosureLibrary]) {
    if let Some(lib) = loaded.get(index).and_then(|l| l.listed).and_then(|pos| out.get_mut(pos)) {
        if !lib.needed_by.iter().any(|n| n == needer) {
            lib.needed_by.push(needer.to_string());
        }
    }
}

pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// musl's own names: the loader's path, and the libraries folded into it.
fn musl_reserved(name: &str, interpreter: Option<&str>) -> bool {
    if interpreter.is_some_and(|i| i == name || basename(i) == name) {
        return true;
    }
    let Some(rest) = name.strip_prefix("lib") else {
        return false;
    };
    ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
        .iter()
        .any(|r| rest.starts_with(r))
}

fn flavor_of(info: &LoadInfo) -> Flavor {
    let musl_interp = info
        .interpreter
        .as_deref()
        .is_some_and(|i| basename(i).starts_with("ld-musl-"));
    let musl_needed = info
        .needed
        .iter()
        .any(|n| &**n == "libc.so" || n.starts_with("libc.musl-"));
    if musl_interp || (info.interpreter.is_none() && musl_needed) {
        Flavor::Musl
    } else {
        Flavor::Glibc
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

/// Whether no RPATH or RUNPATH can take part in a search by `loader`: the loader's own,
/// those of the chain that loaded it, and the executable's.
fn chain_has_no_paths(loaded: &[Loaded], loader: usize) -> bool {
    let has_paths = |l: &Loaded| l.info.rpath.is_some() || l.info.runpath.is_some();
    if loaded.first().is_none_or(has_paths) {
        return false;
    }
    let mut chain = Some(loader);
    let mut steps = 0usize;
    while let Some(index) = chain {
        let Some(obj) = loaded.get(index) else { return false };
        if has_paths(obj) {
            return false;
        }
        chain = obj.loader;
        steps = steps.saturating_add(1);
        if steps > MAX_OBJECTS {
            return false;
        }
    }
    true
}

/// What the search of one closure uses besides the objects themselves.
#[derive(Debug)]
struct SearchPlan {
    /// Unique per plan within a run (the key of remembered searches).
    id: usize,
    default_dirs: Vec<String>,
    default_dirs_from: String,
    hwcaps: Vec<String>,
    /// `$LIB` and `$PLATFORM`.
    lib: String,
    platform: String,
    /// musl's system path (path file or default) and where it came from.
    musl_path: Vec<String>,
    musl_path_from: &'static str,
    notes: Vec<String>,
}

impl Resolver {
    /// Every `GLIBC_2.34`-style version an object needs and the library it names does not
    /// define (the loader refuses to start such a program).
    fn unmet_versions(&mut self, loaded: &[Loaded], by_name: &HashMap<Arc<str>, usize>) -> Vec<UnmetVersion> {
        let mut out: Vec<UnmetVersion> = Vec::new();
        for user in loaded {
            for (need_index, need) in user.info.version_needs.iter().enumerate() {
                let Some(provider) = by_name.get(need.soname.as_str()).and_then(|i| loaded.get(*i)) else {
                    continue;
                };
                let versions = &need.versions;
                let missing = match (user.identity, provider.identity) {
                    (Some(u), Some(p)) => match self.memo.version_checks.get(&(u, need_index, p)) {
                        Some(known) => known.clone(),
                        None => {
                            let computed = missing_versions(versions, &provider.info);
                            if self.memo.version_checks.len() < MAX_REMEMBERED {
                                self.memo.version_checks.insert((u, need_index, p), computed.clone());
                            }
                            computed
                        }
                    },
                    _ => missing_versions(versions, &provider.info),
                };
                for version in missing.iter().filter_map(|&i| versions.get(i)) {
                    match out.iter_mut().find(|u| u.soname == need.soname && &u.version == version) {
                        Some(u) => {
                            if !u.needed_by.iter().any(|n| **n == *user.canonical) {
                                u.needed_by.push(user.canonical.to_string());
                            }
                        }
                        None => out.push(UnmetVersion {
                            soname: need.soname.clone(),
                            version: version.clone(),
                            needed_by: vec![user.canonical.to_string()],
                        }),
                    }
                }
            }
        }
        out
    }

    /// Searches `name` for the object `loader`, remembering answers that do not depend on
    /// the chain of loaders; `Err` holds the places tried.
    fn search(
        &mut self,
        name: &str,
        loader: usize,
        loaded: &[Loaded],
        main: &LoadInfo,
        flavor: Flavor,
        plan: &SearchPlan,
    ) -> Outcome {
        let nodeflib = loaded.get(loader).is_some_and(|l| l.info.nodeflib);
        let context_free = chain_has_no_paths(loaded, loader);
        if context_free {
            if let Some(known) = self.memo.searches.get(&(plan.id, nodeflib)).and_then(|m| m.get(name)) {
                return known.clone();
            }
        }
        let mut tried = Tried::default();
        let found = match flavor {
            Flavor::Glibc => self.search_glibc(name, loader, loaded, main, plan, &mut tried),
            Flavor::Musl => self.search_musl(name, loader, loaded, plan, &mut tried),
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
    fn plan(&mut self, flavor: Flavor, main: &LoadInfo) -> Arc<SearchPlan> {
        let key = PlanKey {
            musl: flavor == Flavor::Musl,
            interpreter: main.interpreter.clone(),
            abi: main.abi(),
        };
        if let Some(plan) = self.memo.plans.get(&key) {
            return Arc::clone(plan);
        }
        let mut plan = self.search_summary(flavor, main);
        plan.id = self.memo.plans.len();
        let plan = Arc::new(plan);
        self.memo.plans.insert(key, Arc::clone(&plan));
        plan
    }

    fn search_summary(&mut self, flavor: Flavor, main: &LoadInfo) -> SearchPlan {
        let mut notes = Vec::new();
        let defaults = match flavor {
            Flavor::Glibc => self.glibc_default_dirs(main),
            Flavor::Musl => SystemDirs::default(),
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
        let musl_path = match flavor {
            Flavor::Musl => self.musl_sys_path(main),
            Flavor::Glibc => SystemDirs::default(),
        };
        if flavor == Flavor::Glibc {
            notes = match self.memo.notes.get(&default_dirs) {
                Some(known) => known.clone(),
                None => {
                    let computed = self.configuration_notes(&default_dirs);
                    self.memo.notes.insert(default_dirs.clone(), computed.clone());
                    computed
                }
            };
        }
        notes.extend(defaults.note.into_iter().chain(musl_path.note));
        SearchPlan {
            id: 0,
            default_dirs,
            default_dirs_from: defaults.from,
            hwcaps,
            lib,
            platform,
            musl_path: musl_path.dirs,
            musl_path_from: musl_path.from,
            notes,
        }
    }

    /// What the root's configuration suggests but the loader will not do: ld.so.conf
    /// directories (holding libraries) that the cache does not cover, or no cache at all.
    fn configuration_notes(&self, default_dirs: &[String]) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(problem) = &self.shared.cache_problem {
            notes.push(problem.clone());
        }
        notes.extend(self.shared.conf_problems.iter().cloned());
        let Some(conf_dirs) = &self.shared.conf_dirs else {
            return notes;
        };
        for dir in conf_dirs {
            let is_default = default_dirs.iter().any(|d| d.trim_end_matches('/') == dir);
            let covered = self.shared.cache.as_ref().is_some_and(|c| c.covers(dir));
            let has_libraries = || self.root.list(dir).iter().any(|n| n.contains(".so"));
            if !is_default && !covered && has_libraries() {
                notes.push(match self.shared.cache {
                    Some(_) => format!("{dir} is listed in ld.so.conf but not in /etc/ld.so.cache (stale cache: run ldconfig in the image)"),
                    None => format!("{dir} is listed in ld.so.conf, but there is no /etc/ld.so.cache: the loader reads ld.so.conf only through the cache, so it will not search {dir}"),
                });
            }
        }
        notes
    }

    /// The default directories compiled into the root's glibc loader (its string table),
    /// else the Debian multiarch defaults for the ABI.
    fn glibc_default_dirs(&mut self, main: &LoadInfo) -> SystemDirs {
        let interp = main
            .interpreter
            .clone()
            .unwrap_or_else(|| main.abi().glibc_interpreter().to_string());
        if let Some(cached) = self.memo.default_dirs.get(&interp) {
            return cached.clone();
        }
        let from_loader = self
            .root
            .read(&interp, MAX_LOADER_BYTES)
            .and_then(|bytes| system_dirs_in(&bytes));
        let result = match from_loader {
            Some(mut dirs) => SystemDirs {
                note: cut_system_dirs(&mut dirs, &format!("{interp}'s compiled-in list")),
                dirs,
                from: format!("{interp} (its compiled-in list)"),
            },
            None => SystemDirs {
                dirs: fallback_dirs(main.abi()),
                from: FALLBACK_DIRS_FROM.to_string(),
                note: None,
            },
        };
        self.memo.default_dirs.insert(interp, result.clone());
        result
    }

    /// musl's `etc/ld-musl-<arch>.path`, found next to the loader's directory.
    fn musl_sys_path(&self, main: &LoadInfo) -> SystemDirs<&'static str> {
        let default = || SystemDirs {
            dirs: MUSL_DEFAULT_PATH.iter().map(|d| d.to_string()).collect(),
            from: "musl_default",
            note: None,
        };
        let Some(interp) = main.interpreter.as_deref() else {
            return default();
        };
        let arch = basename(interp)
            .strip_prefix("ld-musl-")
            .and_then(|r| r.strip_suffix(".so.1"))
            .unwrap_or("");
        // The prefix is the loader's directory's parent: /lib/ld-musl-x.so.1 -> "".
        let prefix = parent(&parent(interp));
        let prefix = if prefix == "/" { String::new() } else { prefix };
        let path_file = format!("{prefix}/etc/ld-musl-{arch}.path");
        match self.root.read(&path_file, 1 << 20) {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let mut dirs: Vec<String> = text
                    .split([':', '\n'])
                    .filter(|s| !s.is_empty())
                    .take(MAX_SYSTEM_DIRS.saturating_add(1))
                    .map(str::to_string)
                    .collect();
                SystemDirs {
                    note: cut_system_dirs(&mut dirs, &path_file),
                    dirs,
                    from: "musl_path_file",
                }
            }
            None => default(),
        }
    }

    /// Tries `name` in `dir` (its `glibc-hwcaps` subdirectories first); the first candidate
    /// of the right ABI.
    fn try_dir(
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
    /// candidate the same way, yet there [`usable`] models a file of another ABI as a
    /// failed load: the two musl branches answer differently for such a file, as before.
    fn direct(&self, name: &str, main: &LoadInfo, check_abi: bool) -> Option<Found> {
        let path = join_path("/", name);
        let canonical = self.root.file(&path).ok()?;
        let object = self.load(&canonical)?;
        let hit = Hit {
            found_as: path,
            canonical,
            object,
        };
        (!check_abi || hit.object.info.compatible_with(main)).then(|| Found::new("direct", None, hit))
    }

    #[allow(clippy::too_many_arguments)]
    fn search_glibc(
        &self,
        name: &str,
        loader: usize,
        loaded: &[Loaded],
        main: &LoadInfo,
        plan: &SearchPlan,
        tried: &mut Tried,
    ) -> Option<Found> {
        if name.contains('/') {
            // `open_verify` refuses a file of another class, byte order or machine.
            return self.direct(name, main, true);
        }
        let loader_obj = loaded.get(loader)?;
        // RPATH of the loading object and of its loaders, unless it has a RUNPATH.
        if loader_obj.info.runpath.is_none() {
            let mut chain = Some(loader);
            let mut saw_main = false;
            while let Some(index) = chain {
                let Some(obj) = loaded.get(index) else { break };
                saw_main |= index == 0;
                if let Some(rpath) = &obj.info.rpath {
                    let via = if index == loader { "rpath" } else { "inherited_rpath" };
                    for (entry, dir) in expand_path_list(rpath, &obj.found_as, plan) {
                        if let Some(hit) = self.try_dir(&dir, name, main, &plan.hwcaps, true, tried) {
                            return Some(Found::new(origin_or(via, &entry), Some(entry), hit));
                        }
                    }
                }
                chain = obj.loader;
            }
            if !saw_main {
                if let Some(exe) = loaded.first() {
                    if let Some(rpath) = &exe.info.rpath {
                        for (entry, dir) in expand_path_list(rpath, &exe.found_as, plan) {
                            if let Some(hit) = self.try_dir(&dir, name, main, &plan.hwcaps, true, tried) {
                                return Some(Found::new(origin_or("inherited_rpath", &entry), Some(entry), hit));
                            }
                        }
                    }
                }
            }
        }
        if let Some(dirs) = &self.shared.options.ld_library_path {
            for dir in dirs.iter().filter(|d| !d.is_empty()) {
                if let Some(hit) = self.try_dir(dir, name, main, &plan.hwcaps, true, tried) {
                    return Some(Found::new("ld_library_path", Some(dir.clone()), hit));
                }
            }
        }
        if let Some(runpath) = &loader_obj.info.runpath {
            for (entry, dir) in expand_path_list(runpath, &loader_obj.found_as, plan) {
                if let Some(hit) = self.try_dir(&dir, name, main, &plan.hwcaps, true, tried) {
                    return Some(Found::new(origin_or("runpath", &entry), Some(entry), hit));
                }
            }
        }
        let nodeflib = loader_obj.info.nodeflib;
        let flags = ldcache::accepted_flags(main.abi());
        if self.shared.cache.is_some() {
            tried.add("ld.so.cache");
        }
        // The first entry for the ABI wins (ldconfig sorts the best first); entries in a
        // glibc-hwcaps level the CPU lacks are skipped, as are, under DF_1_NODEFLIB,
        // entries in the default directories.
        let mut cached = self.shared.cache.iter().flat_map(|c| c.lookup(name, &flags));
        if let Some(entry) = cached.find(|e| {
            let level_ok = !e.is_hwcaps()
                || plan.hwcaps.iter().any(|level| e.path.contains(&format!("glibc-hwcaps/{level}/")));
            let in_default = plan.default_dirs.iter().any(|d| parent(&e.path) == d.trim_end_matches('/'));
            level_ok && !(nodeflib && in_default)
        }) {
            if let Ok(canonical) = self.root.file(&entry.path) {
                if let Some(object) = self.load(&canonical) {
                    if object.info.compatible_with(main) {
                        let hit = Hit {
                            found_as: entry.path.to_string(),
                            canonical,
                            object,
                        };
                        return Some(Found::new("ld_so_cache", None, hit));
                    }
                }
            }
        }
        if !nodeflib {
            for dir in &plan.default_dirs {
                if let Some(hit) = self.try_dir(dir, name, main, &plan.hwcaps, true, tried) {
                    return Some(Found::new("default_dir", None, hit));
                }
            }
        }
        None
    }

    fn search_musl(
        &self,
        name: &str,
        loader: usize,
        loaded: &[Loaded],
        plan: &SearchPlan,
        tried: &mut Tried,
    ) -> Option<Found> {
        let main = loaded.first().map(|l| Arc::clone(&l.info))?;
        if name.contains('/') {
            // `load_library` opens the path and maps it without comparing its ABI.
            return self.direct(name, &main, false);
        }
        // musl takes the first file that opens, whatever its machine (mapping then fails).
        let take = |dir: &str, tried: &mut Tried| self.try_dir(dir, name, &main, &[], false, tried);
        if let Some(dirs) = &self.shared.options.ld_library_path {
            for dir in dirs.iter().filter(|d| !d.is_empty()) {
                if let Some(hit) = take(dir, tried) {
                    return usable(hit, &main).map(|h| Found::new("ld_library_path", Some(dir.clone()), h));
                }
            }
        }
        let mut chain = Some(loader);
        while let Some(index) = chain {
            let Some(obj) = loaded.get(index) else { break };
            // RUNPATH replaces RPATH, and both are searched up the chain of loaders.
            let (list, kind) = match (&obj.info.runpath, &obj.info.rpath) {
                (Some(r), _) => (Some(r), "runpath"),
                (None, Some(r)) => (Some(r), "rpath"),
                _ => (None, ""),
            };
            if let Some(list) = list {
                let via = if index == loader { kind } else { "inherited_rpath" };
                for (entry, dir) in expand_path_list(list, &obj.found_as, plan) {
                    if let Some(hit) = take(&dir, tried) {
                        return usable(hit, &main).map(|h| Found::new(origin_or(via, &entry), Some(entry), h));
                    }
                }
            }
            chain = obj.loader;
        }
        for dir in &plan.musl_path {
            if let Some(hit) = take(dir, tried) {
                return usable(hit, &main).map(|h| Found::new(plan.musl_path_from, None, h));
            }
        }
        None
    }
}


/// The places a search tried, in order, each once.
#[derive(Debug, Default)]
struct Tried {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Tried {
    fn add(&mut self, place: &str) {
        if !self.seen.contains(place) {
            self.seen.insert(place.to_string());
            self.list.push(place.to_string());
        }
    }
}

/// A candidate found.
#[derive(Debug)]
struct Hit {
    /// The path as found (search directory + name), which gives `$ORIGIN`.
    found_as: String,
    canonical: InRoot,
    object: SharedObject,
}

/// `origin` for a library found through an RPATH or RUNPATH entry relative to its object
/// (`$ORIGIN/../lib`, the layout of bundles and wheels), else `via`.
fn origin_or(via: &'static str, entry: &str) -> &'static str {
    if entry.contains("$ORIGIN") || entry.contains("${ORIGIN}") {
        "origin"
    } else {
        via
    }
}

/// musl fails (rather than searching on) when the first file found cannot be mapped.
fn usable(hit: Hit, main: &LoadInfo) -> Option<Hit> {
    hit.object.info.compatible_with(main).then_some(hit)
}

/// Splits an RPATH/RUNPATH on `:` and expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also in
/// `${...}` form); returns (entry as written, directory).
fn expand_path_list(list: &str, object_path: &str, plan: &SearchPlan) -> Vec<(String, String)> {
    let origin = parent(object_path);
    list.split(':')
        .map(|entry| {
            let dir = entry
                .replace("${ORIGIN}", &origin)
                .replace("$ORIGIN", &origin)
                .replace("${LIB}", &plan.lib)
                .replace("$LIB", &plan.lib)
                .replace("${PLATFORM}", &plan.platform)
                .replace("$PLATFORM", &plan.platform);
            // An empty entry means the current directory; in a root that is `/`.
            let dir = if dir.is_empty() { "/".to_string() } else { join_path("/", &dir) };
            (entry.to_string(), dir)
        })
        .collect()
}

// kept for callers being rewritten; use crate::abi
/// The standard glibc loader of an ABI, for files that name none (shared libraries).
pub(crate) fn standard_interpreter(machine: u16, is_64: bool) -> &'static str {
    let abi = Abi {
        machine,
        is_64,
        big_endian: false,
        hard_float: false,
    };
    abi.glibc_interpreter()
}

/// Debian's multiarch default directories for an ABI (what its ld.so compiles in); the
/// triplet of either byte order.
fn fallback_dirs(abi: Abi) -> Vec<String> {
    let little = Abi {
        big_endian: false,
        ..abi
    };
    let big = Abi {
        big_endian: true,
        ..abi
    };
    let triplet = little.debian_triplet().or_else(|| big.debian_triplet());
    let mut dirs = Vec::new();
    if let Some(t) = triplet {
        dirs.push(format!("/lib/{t}/"));
        dirs.push(format!("/usr/lib/{t}/"));
    }
    dirs.push("/lib/".to_string());
    dirs.push("/usr/lib/".to_string());
    dirs
}

/// A system list of directories.
#[derive(Debug, Clone, Default)]
struct SystemDirs<From = String> {
    dirs: Vec<String>,
    /// Where the list comes from.
    from: From,
    /// Said when the list was cut.
    note: Option<String>,
}

/// Keeps the first [`MAX_SYSTEM_DIRS`] of a system list; the note saying so when it was
/// longer.
fn cut_system_dirs(dirs: &mut Vec<String>, what: &str) -> Option<String> {
    (dirs.len() > MAX_SYSTEM_DIRS).then(|| {
        dirs.truncate(MAX_SYSTEM_DIRS);
        format!("{what} lists more than {MAX_SYSTEM_DIRS} directories; only the first {MAX_SYSTEM_DIRS} are searched")
    })
}

/// The loader's compiled-in list of system directories: consecutive NUL-terminated
/// absolute directory names ending in `/` (`/lib/x86_64-linux-gnu/\0/usr/lib/...\0/lib/\0
/// /usr/lib/\0`), the run that ends with `/lib/` or `/usr/lib*/`; at most one more than
/// [`MAX_SYSTEM_DIRS`] of them.
fn system_dirs_in(bytes: &[u8]) -> Option<Vec<String>> {
    let finder = memchr::memmem::Finder::new(b"/usr/lib");
    for at in finder.find_iter(bytes) {
        // Walk back to the first string of the run this one belongs to.
        let mut start = at;
        while let Some(prev_end) = start.checked_sub(1) {
            if bytes.get(prev_end) != Some(&0) {
                break;
            }
            // The string before ends at that NUL and starts after the last byte that cannot
            // be part of a path (the list may follow code, not another string).
            let before = bytes.get(..prev_end).unwrap_or(&[]);
            let printable_from = before
                .iter()
                .rposition(|b| !b.is_ascii_graphic())
                .map_or(0, |i| i.saturating_add(1));
            let run = bytes.get(printable_from..prev_end).unwrap_or(&[]);
            let Some(slash) = run.iter().position(|b| *b == b'/') else { break };
            let prev_start = printable_from.saturating_add(slash);
            let prev = bytes.get(prev_start..prev_end).unwrap_or(&[]);
            if is_dir_string(prev) {
                start = prev_start;
            } else {
                break;
            }
        }
        let mut dirs = Vec::new();
        let mut pos = start;
        while let (Some(rest), true) = (bytes.get(pos..), dirs.len() <= MAX_SYSTEM_DIRS) {
            // A directory string is shorter than MAX_SYSTEM_DIR: look no further for its
            // end (searching to the end of the file for each match was quadratic).
            let window = rest.get(..MAX_SYSTEM_DIR).unwrap_or(rest);
            let Some(end) = memchr::memchr(0, window) else { break };
            let Some(s) = rest.get(..end) else { break };
            if !is_dir_string(s) {
                break;
            }
            dirs.push(String::from_utf8_lossy(s).into_owned());
            pos = pos.checked_add(end)?.checked_add(1)?;
        }
        if dirs.len() >= 2 && dirs.iter().any(|d| d == "/lib/" || d.starts_with("/usr/lib")) {
            return Some(dirs);
        }
    }
    None
}

fn is_dir_string(s: &[u8]) -> bool {
    s.len() >= 3
        && s.starts_with(b"/")
        && s.ends_with(b"/")
        && s.len() < MAX_SYSTEM_DIR
        && s.iter().all(|b| b.is_ascii_graphic())
        && memchr::memmem::find(s, b"lib").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_dirs() {
        let data = b"xx\0/lib64/ld-linux.so\0/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0tail";
        let after_code = b"\x0f\xf0\xff\xff/lib/arm-linux-gnueabihf/\0/usr/lib/arm-linux-gnueabihf/\0/lib/\0/usr/lib/\0\x19";
        assert_eq!(
            system_dirs_in(after_code).expect("found"),
            ["/lib/arm-linux-gnueabihf/", "/usr/lib/arm-linux-gnueabihf/", "/lib/", "/usr/lib/"]
        );
        assert_eq!(
            system_dirs_in(data).expect("found"),
            ["/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/"]
        );
        assert!(system_dirs_in(b"nothing here").is_none());
    }

    #[test]
    fn compiled_in_dirs_search_is_linear() {
        // Every match's string runs to the end of the data: each used to be searched to the
        // end for its NUL (4 MiB: a minute).
        let no_nul = b"/usr/lib".repeat(512 * 1024);
        assert!(system_dirs_in(&no_nul).is_none());
        // A directory string between two that are not directories, over and over.
        let runs = b"/usr/lib/\0/usr/libx\0".repeat(200_000);
        assert!(system_dirs_in(&runs).is_none());
    }

    #[test]
    fn loader_is_read_up_to_a_cap() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib64")).unwrap();
        // The list lies past the cap: the loader is not read that far.
        let cap = usize::try_from(MAX_LOADER_BYTES).unwrap();
        let mut loader = vec![0u8; cap + 16];
        loader.extend_from_slice(b"/lib/far/\0/usr/lib/far/\0/lib/\0/usr/lib/\0");
        std::fs::write(dir.path().join("lib64/ld-linux-x86-64.so.2"), &loader).unwrap();
        let mut resolver = Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default());
        let main = LoadInfo {
            is_64: true,
            machine: 62,
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".to_string()),
            ..LoadInfo::default()
        };
        let SystemDirs { dirs, from, .. } = resolver.glibc_default_dirs(&main);
        assert!(from.starts_with("Debian's multiarch defaults"), "{from}");
        assert!(!dirs.iter().any(|d| d.contains("far")), "{dirs:?}");
        // Within the cap, the list is found.
        std::fs::write(dir.path().join("lib64/ld-linux-x86-64.so.2"), &loader[cap..]).unwrap();
        let mut resolver = Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default());
        let dirs = resolver.glibc_default_dirs(&main).dirs;
        assert_eq!(dirs, ["/lib/far/", "/usr/lib/far/", "/lib/", "/usr/lib/"]);
    }

    #[test]
    fn system_lists_are_capped() {
        let mut data = b"\0".to_vec();
        for i in 0..1000 {
            data.extend_from_slice(format!("/usr/lib/{i}/\0").as_bytes());
        }
        let dirs = system_dirs_in(&data).expect("found");
        assert_eq!(dirs.len(), MAX_SYSTEM_DIRS + 1, "one more than kept, to tell it was cut");
        let mut dirs = dirs;
        let note = cut_system_dirs(&mut dirs, "ld.so");
        assert_eq!(dirs.len(), MAX_SYSTEM_DIRS);
        assert!(note.is_some_and(|n| n.contains("more than 256")));

        // musl's path file, 100,000 entries long.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let path_file: String = (0..100_000).map(|i| format!("/opt/{i}:")).collect();
        std::fs::write(dir.path().join("etc/ld-musl-x86_64.path"), path_file).unwrap();
        let resolver = Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default());
        let main = LoadInfo {
            is_64: true,
            machine: 62,
            interpreter: Some("/lib/ld-musl-x86_64.so.1".to_string()),
            ..LoadInfo::default()
        };
        let SystemDirs { dirs, from, note } = resolver.musl_sys_path(&main);
        assert_eq!(from, "musl_path_file");
        assert_eq!(dirs.len(), MAX_SYSTEM_DIRS);
        assert_eq!(dirs.last().map(String::as_str), Some("/opt/255"));
        assert!(note.is_some_and(|n| n.starts_with("/etc/ld-musl-x86_64.path lists more than 256")));
    }

    #[test]
    fn shared_resolvers_move_to_threads() {
        fn send<T: Send>() {}
        send::<Resolver>();
        let dir = tempfile::tempdir().unwrap();
        let first = Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default());
        let second = first.share();
        assert!(Arc::ptr_eq(&first.shared, &second.shared));
        assert_eq!(second.root(), dir.path());
    }

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

    #[test]
    fn musl_reserved_names() {
        assert!(musl_reserved("libc.so", None));
        assert!(musl_reserved("libpthread.so.0", None));
        assert!(musl_reserved("ld-musl-x86_64.so.1", Some("/lib/ld-musl-x86_64.so.1")));
        assert!(!musl_reserved("libcrypto.so.3", None));
        assert!(!musl_reserved("libz.so.1", None));
    }
}
