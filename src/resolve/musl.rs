//! musl's search (`ldso/dynlink.c`, `load_library`): its reserved names are the loader
//! itself; otherwise `LD_LIBRARY_PATH`, the RPATH or RUNPATH of every object up the chain,
//! then the path file next to the loader (or musl's default path). The first file that
//! opens is taken.

use std::sync::Arc;

use super::closure::Loaded;
use super::object::LoadInfo;
use super::search::{
    Found, Hit, SearchPlan, SystemDirs, Tried, cut_system_dirs, expand_path_list, origin_or,
};
use super::{MAX_SYSTEM_DIRS, Resolver, basename};
use crate::report::FoundVia;
use crate::rootfs::parent;

/// musl's built-in system path, for roots without a path file.
const MUSL_DEFAULT_PATH: &[&str] = &["/lib", "/usr/local/lib", "/usr/lib"];
/// The libraries musl's libc holds itself (`lib<name>.so...`): the loader answers for them.
const FOLDED_LIBRARIES: &[&str] = &["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."];

impl Resolver {
    /// musl's `etc/ld-musl-<arch>.path`, found next to the loader's directory.
    pub(super) fn musl_sys_path(&self, main: &LoadInfo) -> SystemDirs<FoundVia> {
        let default = || SystemDirs {
            dirs: MUSL_DEFAULT_PATH.iter().map(|d| d.to_string()).collect(),
            from: FoundVia::MuslDefault,
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
                    from: FoundVia::MuslPathFile,
                }
            }
            None => default(),
        }
    }

    /// musl's search for `name`, needed by the object `loader`.
    pub(super) fn search_musl(
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
                    return usable(hit, &main)
                        .map(|h| Found::new(FoundVia::LdLibraryPath, Some(dir.clone()), h));
                }
            }
        }
        let mut chain = Some(loader);
        while let Some(index) = chain {
            let Some(obj) = loaded.get(index) else { break };
            // RUNPATH replaces RPATH, and both are searched up the chain of loaders.
            let list = match (&obj.info.runpath, &obj.info.rpath) {
                (Some(r), _) => Some((r, FoundVia::Runpath)),
                (None, Some(r)) => Some((r, FoundVia::Rpath)),
                _ => None,
            };
            if let Some((list, kind)) = list {
                let via = if index == loader {
                    kind
                } else {
                    FoundVia::InheritedRpath
                };
                for (entry, dir) in expand_path_list(list, &obj.found_as, plan) {
                    if let Some(hit) = take(&dir, tried) {
                        return usable(hit, &main)
                            .map(|h| Found::new(origin_or(via, &entry), Some(entry), h));
                    }
                }
            }
            chain = obj.loader;
        }
        let system = plan.musl_path.as_ref();
        for dir in system.iter().flat_map(|s| &s.dirs) {
            if let Some(hit) = take(dir, tried) {
                let via = system.map_or(FoundVia::MuslDefault, |s| s.from);
                return usable(hit, &main).map(|h| Found::new(via, None, h));
            }
        }
        None
    }
}

/// musl's own names: the loader's path, and the libraries folded into it.
pub(super) fn musl_reserved(name: &str, interpreter: Option<&str>) -> bool {
    if interpreter.is_some_and(|i| i == name || basename(i) == name) {
        return true;
    }
    let Some(rest) = name.strip_prefix("lib") else {
        return false;
    };
    FOLDED_LIBRARIES.iter().any(|r| rest.starts_with(r))
}

/// musl fails (rather than searching on) when the first file found cannot be mapped.
fn usable(hit: Hit, main: &LoadInfo) -> Option<Hit> {
    hit.object.info.compatible_with(main).then_some(hit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Limits;
    use crate::resolve::ResolveOptions;

    #[test]
    fn musl_reserved_names() {
        assert!(musl_reserved("libc.so", None));
        assert!(musl_reserved("libpthread.so.0", None));
        assert!(musl_reserved(
            "ld-musl-x86_64.so.1",
            Some("/lib/ld-musl-x86_64.so.1")
        ));
        assert!(!musl_reserved("libcrypto.so.3", None));
        assert!(!musl_reserved("libz.so.1", None));
    }

    #[test]
    fn path_file_is_capped() {
        // musl's path file, 100,000 entries long.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let path_file: String = (0..100_000).map(|i| format!("/opt/{i}:")).collect();
        std::fs::write(dir.path().join("etc/ld-musl-x86_64.path"), path_file).unwrap();
        let resolver =
            Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default()).unwrap();
        let main = LoadInfo {
            is_64: true,
            machine: ::object::elf::EM_X86_64.0,
            interpreter: Some("/lib/ld-musl-x86_64.so.1".to_string()),
            ..LoadInfo::default()
        };
        let SystemDirs { dirs, from, note } = resolver.musl_sys_path(&main);
        assert_eq!(from, FoundVia::MuslPathFile);
        assert_eq!(dirs.len(), MAX_SYSTEM_DIRS);
        assert_eq!(dirs.last().map(String::as_str), Some("/opt/255"));
        assert!(
            note.is_some_and(|n| n.starts_with("/etc/ld-musl-x86_64.path lists more than 256"))
        );
    }
}
