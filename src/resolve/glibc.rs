//! glibc's search (`elf/dl-load.c`, `_dl_map_object`): RPATH up the chain of loaders,
//! `LD_LIBRARY_PATH`, RUNPATH, `/etc/ld.so.cache`, then the default directories compiled
//! into the loader, read from its string table; and what the root's ld.so.conf suggests
//! that the loader will not do.

use super::closure::Loaded;
use super::ldcache;
use super::object::LoadInfo;
use super::search::{
    Found, Hit, SearchPlan, SystemDirs, Tried, cut_system_dirs, expand_path_list, expand_tokens,
    origin_or,
};
use super::{MAX_SYSTEM_DIRS, Resolver};
use crate::abi::Abi;
use crate::report::FoundVia;
use crate::rootfs::{join_path, parent};

/// Where the default directories come from when the loader could not be read.
const FALLBACK_DIRS_FROM: &str = "Debian's multiarch defaults (the loader could not be read)";
/// The most bytes of a glibc loader searched for its compiled-in directories (ld.so is a
/// few hundred KiB).
const MAX_LOADER_BYTES: u64 = 8 << 20;
/// The longest directory name in the loader's compiled-in list.
const MAX_SYSTEM_DIR: usize = 256;

impl Resolver {
    /// What the root's configuration suggests but the loader will not do: ld.so.conf
    /// directories (holding libraries) that the cache does not cover, or no cache at all.
    pub(super) fn configuration_notes(&self, default_dirs: &[String]) -> Vec<String> {
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
                    Some(_) => format!(
                        "{dir} is listed in ld.so.conf but not in /etc/ld.so.cache \
                         (stale cache: run ldconfig in the image)"
                    ),
                    None => format!(
                        "{dir} is listed in ld.so.conf, but there is no /etc/ld.so.cache: \
                         the loader reads ld.so.conf only through the cache, so it will not \
                         search {dir}"
                    ),
                });
            }
        }
        notes
    }

    /// The default directories compiled into the root's glibc loader (its string table),
    /// else the Debian multiarch defaults for the ABI.
    pub(super) fn glibc_default_dirs(&mut self, main: &LoadInfo) -> SystemDirs {
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

    /// glibc's search for `name`, needed by the object `loader`.
    pub(super) fn search_glibc(
        &self,
        name: &str,
        loader: usize,
        loaded: &[Loaded],
        main: &LoadInfo,
        plan: &SearchPlan,
        tried: &mut Tried,
    ) -> Option<Found> {
        let loader_obj = loaded.get(loader)?;
        if name.contains('/') {
            // A name with a slash is opened as it is, after glibc expands its dynamic
            // string tokens (`$ORIGIN/libfoo.so`, relative to the object that needs it:
            // `expand_dynamic_string_token` in `_dl_map_object`). `open_verify` refuses a
            // file of another class, byte order or machine.
            if !name.contains('$') {
                tried.add(&join_path("/", name));
                return self.direct(name, main, true);
            }
            let path = expand_tokens(name, &parent(&loader_obj.found_as), plan);
            tried.add(&join_path("/", &path));
            let mut found = self.direct(&path, main, true)?;
            found.via = origin_or(FoundVia::Direct, name);
            found.entry = Some(name.to_string());
            return Some(found);
        }
        // The first directory of an RPATH or RUNPATH of `obj` that holds the name.
        let search_list = |list: &str, obj: &Loaded, via: FoundVia, tried: &mut Tried| {
            let dirs = expand_path_list(list, &obj.found_as, plan);
            dirs.into_iter().find_map(|(entry, dir)| {
                let hit = self.try_dir(&dir, name, main, &plan.hwcaps, true, tried)?;
                Some(Found::new(origin_or(via, &entry), Some(entry), hit))
            })
        };
        // RPATH of the loading object and of its loaders, unless it has a RUNPATH.
        if loader_obj.info.runpath.is_none() {
            let mut chain = Some(loader);
            let mut saw_main = false;
            while let Some(index) = chain {
                let Some(obj) = loaded.get(index) else { break };
                saw_main |= index == 0;
                if let Some(rpath) = &obj.info.rpath {
                    let via = if index == loader {
                        FoundVia::Rpath
                    } else {
                        FoundVia::InheritedRpath
                    };
                    if let Some(found) = search_list(rpath, obj, via, tried) {
                        return Some(found);
                    }
                }
                chain = obj.loader;
            }
            // The executable's, when the chain did not reach it.
            let exe = loaded.first().filter(|_| !saw_main);
            if let Some((exe, rpath)) = exe.and_then(|e| Some((e, e.info.rpath.as_ref()?))) {
                if let Some(found) = search_list(rpath, exe, FoundVia::InheritedRpath, tried) {
                    return Some(found);
                }
            }
        }
        if let Some(dirs) = &self.shared.options.ld_library_path {
            for dir in dirs.iter().filter(|d| !d.is_empty()) {
                if let Some(hit) = self.try_dir(dir, name, main, &plan.hwcaps, true, tried) {
                    return Some(Found::new(FoundVia::LdLibraryPath, Some(dir.clone()), hit));
                }
            }
        }
        if let Some(runpath) = &loader_obj.info.runpath {
            if let Some(found) = search_list(runpath, loader_obj, FoundVia::Runpath, tried) {
                return Some(found);
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
        let mut cached = self
            .shared
            .cache
            .iter()
            .flat_map(|c| c.lookup(name, &flags));
        if let Some(entry) = cached.find(|e| {
            let level_ok = !e.is_hwcaps()
                || plan
                    .hwcaps
                    .iter()
                    .any(|level| e.path.contains(&format!("glibc-hwcaps/{level}/")));
            let in_default = plan
                .default_dirs
                .iter()
                .any(|d| parent(&e.path) == d.trim_end_matches('/'));
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
                        return Some(Found::new(FoundVia::LdSoCache, None, hit));
                    }
                }
            }
        }
        if !nodeflib {
            for dir in &plan.default_dirs {
                if let Some(hit) = self.try_dir(dir, name, main, &plan.hwcaps, true, tried) {
                    return Some(Found::new(FoundVia::DefaultDir, None, hit));
                }
            }
        }
        None
    }
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
            let Some(slash) = run.iter().position(|b| *b == b'/') else {
                break;
            };
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
            let Some(end) = memchr::memchr(0, window) else {
                break;
            };
            let Some(s) = rest.get(..end) else { break };
            if !is_dir_string(s) {
                break;
            }
            dirs.push(String::from_utf8_lossy(s).into_owned());
            pos = pos.checked_add(end)?.checked_add(1)?;
        }
        if dirs.len() >= 2
            && dirs
                .iter()
                .any(|d| d == "/lib/" || d.starts_with("/usr/lib"))
        {
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
    use crate::error::Limits;
    use crate::resolve::ResolveOptions;

    #[test]
    fn compiled_in_dirs() {
        let data = b"xx\0/lib64/ld-linux.so\0/lib/x86_64-linux-gnu/\0\
            /usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0tail";
        let after_code = b"\x0f\xf0\xff\xff/lib/arm-linux-gnueabihf/\0\
            /usr/lib/arm-linux-gnueabihf/\0/lib/\0/usr/lib/\0\x19";
        assert_eq!(
            system_dirs_in(after_code).expect("found"),
            [
                "/lib/arm-linux-gnueabihf/",
                "/usr/lib/arm-linux-gnueabihf/",
                "/lib/",
                "/usr/lib/"
            ]
        );
        assert_eq!(
            system_dirs_in(data).expect("found"),
            [
                "/lib/x86_64-linux-gnu/",
                "/usr/lib/x86_64-linux-gnu/",
                "/lib/",
                "/usr/lib/"
            ]
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
        let mut resolver =
            Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default()).unwrap();
        let main = LoadInfo {
            is_64: true,
            machine: ::object::elf::EM_X86_64.0,
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".to_string()),
            ..LoadInfo::default()
        };
        let SystemDirs { dirs, from, .. } = resolver.glibc_default_dirs(&main);
        assert!(from.starts_with("Debian's multiarch defaults"), "{from}");
        assert!(!dirs.iter().any(|d| d.contains("far")), "{dirs:?}");
        // Within the cap, the list is found.
        std::fs::write(
            dir.path().join("lib64/ld-linux-x86-64.so.2"),
            &loader[cap..],
        )
        .unwrap();
        let mut resolver =
            Resolver::new(dir.path(), &Limits::default(), &ResolveOptions::default()).unwrap();
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
        assert_eq!(
            dirs.len(),
            MAX_SYSTEM_DIRS + 1,
            "one more than kept, to tell it was cut"
        );
        let mut dirs = dirs;
        let note = cut_system_dirs(&mut dirs, "ld.so");
        assert_eq!(dirs.len(), MAX_SYSTEM_DIRS);
        assert!(note.is_some_and(|n| n.contains("more than 256")));
    }
}
