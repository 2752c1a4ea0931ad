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

mod closure;
mod glibc;
mod glob;
mod ldcache;
mod ldconf;
mod musl;
pub(crate) mod object;
mod operand;
mod search;
mod versions;

// The lookups of a batch hash names and paths a hundred thousand times: foldhash is seeded
// per process like the standard hasher, and several times faster on short strings.
use foldhash::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::Limits;
use crate::report::{LoaderRules, Need};
use crate::rootfs::{Identity, Root, RootFs, join_path};
use ldcache::LdCache;
use object::LoadInfo;
use search::{Outcome, PlanKey, SearchPlan, SystemDirs};

pub use closure::{ClosureTree, TreeNode, TreeTarget};

/// Said when `/etc/ld.so.cache` is there but not in a format this loader reads.
const UNREADABLE_CACHE: &str = "/etc/ld.so.cache is not a cache this loader reads";

/// The most objects one closure holds; a hostile root cannot make it grow further.
const MAX_OBJECTS: usize = 4096;
/// The largest ld.so.cache read.
const MAX_CACHE_BYTES: u64 = 64 << 20;
/// The most entries read from ld.so.cache.
const MAX_CACHE_ENTRIES: usize = 1 << 20;
/// The most search answers and version checks remembered per run.
const MAX_REMEMBERED: usize = 1 << 16;
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
    /// The files named to [`crate::inspect_in_root`] and [`Resolver::closure`] are files of
    /// this machine, analysed as if copied into the root at the same path, even in an
    /// image or under the root's directory.
    pub files_from_host: bool,
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
    /// The root.
    fs: RootFs,
    /// A directory root's path made absolute, and with its links resolved on this machine
    /// (to tell the files a user names inside it).
    root_absolute: Option<PathBuf>,
    root_canonical: Option<PathBuf>,
    limits: Limits,
    options: ResolveOptions,
    cache: Option<LdCache>,
    cache_problem: Option<String>,
    conf_dirs: Option<Vec<String>>,
    conf_problems: Vec<String>,
    /// Every library read.
    objects: Mutex<ObjectCache>,
    /// The hidden needs of each library read for them, by path inside the root (`None`:
    /// it could not be analysed).
    library_needs: Mutex<HashMap<String, Option<Arc<[Need]>>>>,
    /// Paths compiled into libraries (OPENSSLDIR, a CA bundle), by library path and the
    /// runtime that reads them.
    compiled_paths: Mutex<HashMap<(String, &'static str), Option<String>>>,
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

impl Shared {
    /// The libraries read so far (still usable after a panic elsewhere).
    fn objects(&self) -> MutexGuard<'_, ObjectCache> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }
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

impl Resolver {
    /// A resolver for the root directory `root` (`/` for the running system).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] when `root` cannot be opened as a directory: a mistyped root
    /// would otherwise show every library as missing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use runbase::{Limits, ResolveOptions, Resolver};
    ///
    /// let mut resolver = Resolver::new("/".as_ref(), &Limits::default(), &ResolveOptions::default())?;
    /// let closure = resolver.closure("/usr/bin/ls".as_ref());
    /// println!("{} libraries", closure.libraries.len());
    /// # Ok::<(), runbase::Error>(())
    /// ```
    pub fn new(root: &Path, limits: &Limits, options: &ResolveOptions) -> crate::Result<Resolver> {
        Ok(Resolver::with_root(RootFs::dir(root)?, limits, options))
    }

    /// A resolver for a root already opened: a directory or an image.
    pub fn with_root(fs: RootFs, limits: &Limits, options: &ResolveOptions) -> Resolver {
        let root = Root::new(fs.clone());
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
        let dir = fs.host_dir().map(Path::to_path_buf);
        let shared = Shared {
            root_canonical: dir
                .as_ref()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
            root_absolute: dir
                .as_ref()
                .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())),
            fs,
            limits: limits.clone(),
            options: options.clone(),
            cache,
            cache_problem,
            conf_dirs,
            conf_problems,
            objects: Mutex::default(),
            library_needs: Mutex::default(),
            compiled_paths: Mutex::default(),
        };
        Resolver {
            shared: Arc::new(shared),
            root,
            memo: Memo::default(),
        }
    }

    /// The root as it was named (a directory, or an image's file).
    pub fn root(&self) -> &Path {
        self.shared.fs.path()
    }

    /// The root.
    pub fn root_fs(&self) -> &RootFs {
        &self.shared.fs
    }

    /// The hidden needs of the library at `path` inside the root (a closure's library:
    /// its path has no links left), analysed once per run and shared by every resolver of
    /// the root; `None` when it cannot be analysed.
    pub(crate) fn library_needs(&self, path: &str) -> Option<Arc<[Need]>> {
        let lock = || {
            self.shared
                .library_needs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(known) = lock().get(path) {
            return known.clone();
        }
        let options = crate::Options::with_limits(self.shared.limits.clone());
        let needs = self
            .root
            .open(path.as_bytes())
            .ok()
            .and_then(|content| crate::inspect::inspect_content(path, content, &options).ok())
            .map(|report| Arc::from(report.needs));
        lock().insert(path.to_string(), needs.clone());
        needs
    }

    /// What `find` reads for `runtime` from the library at `path` inside the root (links
    /// resolved inside it, at most [`crate::needs::MAX_LIBRARY_BYTES`] read), once per run
    /// and library for all the resolvers of the root.
    pub(crate) fn compiled_path(
        &self,
        path: &str,
        runtime: &'static str,
        find: crate::needs::PathFinder,
    ) -> Option<String> {
        let lock = || {
            self.shared
                .compiled_paths
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        let key = (path.to_string(), runtime);
        if let Some(known) = lock().get(&key) {
            return known.clone();
        }
        let found = self
            .root
            .read(path, crate::needs::MAX_LIBRARY_BYTES)
            .and_then(|bytes| find(&bytes));
        lock().insert(key, found.clone());
        found
    }

    /// Another resolver for the same root and options that shares the libraries this one
    /// has read and will read (for another thread: each keeps its own lookups).
    pub fn share(&self) -> Resolver {
        Resolver {
            shared: Arc::clone(&self.shared),
            root: Root::new(self.shared.fs.clone()),
            memo: Memo::default(),
        }
    }

    /// Reads an object found at an in-root path, once per file (device and inode), and
    /// remembers it by path too (a run asks for the same libraries over and over).
    fn load(&self, canonical: &str) -> Option<SharedObject> {
        let known = self.shared.objects().by_path.get(canonical).cloned();
        if known.is_some() {
            return known;
        }
        let identity = self.root.identity(canonical)?;
        let known = self.shared.objects().by_identity.get(&identity).cloned();
        let info = match known {
            Some(info) => info,
            // Read without holding the lock; two threads may both read a library once.
            None => {
                let content = self.root.open(canonical.as_bytes()).ok()?;
                Arc::new(object::read_content(content, &self.shared.limits).ok()?)
            }
        };
        let mut cache = self.shared.objects();
        if cache.by_identity.len() < MAX_OBJECTS.saturating_mul(4) {
            cache
                .by_identity
                .entry(identity)
                .or_insert_with(|| Arc::clone(&info));
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
}

/// The last component of a path.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Which loader's rules a file follows: musl's when its interpreter is musl's loader, or
/// when it has none and needs musl's libc by name.
fn rules_of(info: &LoadInfo) -> LoaderRules {
    let musl_interp = info
        .interpreter
        .as_deref()
        .is_some_and(|i| basename(i).starts_with("ld-musl-"));
    let musl_needed = info
        .needed
        .iter()
        .any(|n| &**n == "libc.so" || n.starts_with("libc.musl-"));
    if musl_interp || (info.interpreter.is_none() && musl_needed) {
        LoaderRules::Musl
    } else {
        LoaderRules::Glibc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_resolvers_move_to_threads() {
        fn send<T: Send>() {}
        send::<Resolver>();
        let dir = tempfile::tempdir().unwrap();
        let first =
            Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default()).unwrap();
        let second = first.share();
        assert!(Arc::ptr_eq(&first.shared, &second.shared));
        assert_eq!(second.root(), dir.path());
        // A root that is not there is refused rather than showing every library missing.
        let missing = dir.path().join("absent");
        let refused = Resolver::new(&missing, &Limits::default(), &ResolveOptions::default());
        assert!(matches!(refused, Err(crate::Error::Io { .. })));
    }
}
