//! `/etc/ld.so.conf` and its `include` globs, read inside the root.
//!
//! glibc's loader never reads this file: `ldconfig` turns it into `/etc/ld.so.cache`. It is
//! parsed here only to say which directories the cache does not cover (a stale or missing
//! cache changes what the loader finds). Includes are depth- and cycle-guarded, each file is
//! read once, and the files, bytes and glob work are capped (each cap hit is a problem).

use std::collections::HashSet;

use super::glob::matches;
use crate::rootfs::{Root, join_path, parent};

/// How deep includes may nest.
const MAX_DEPTH: usize = 16;
/// The largest configuration file read.
const MAX_FILE: u64 = 1 << 20;
/// The most configuration files read (each file is read once, however often included).
const MAX_FILES: usize = 256;
/// The most bytes read over all configuration files (one file may end past it).
const MAX_TOTAL_BYTES: u64 = 16 << 20;
/// The most paths one step of a glob keeps.
const MAX_GLOB_RESULTS: usize = 1024;
/// The most glob work over the whole configuration: directories listed, names matched
/// and paths made.
const MAX_GLOB_WORK: usize = 1 << 14;
/// The longest path (PATH_MAX): a longer include pattern or expansion names nothing.
const MAX_PATH: usize = 4096;
/// The most components of an include pattern (deeper paths are refused: each level of a
/// glob lists directories, and deep ones are resolved component by component).
const MAX_PATTERN_COMPONENTS: usize = 32;
/// The longest name a directory entry can have (NAME_MAX); a longer pattern component is
/// refused rather than matched.
const MAX_COMPONENT: usize = 255;
/// The most problems listed (each once).
const MAX_PROBLEMS: usize = 64;
/// The most directories kept.
const MAX_DIRS: usize = 256;

/// The directories `ld.so.conf` lists, in order, and what went wrong reading it.
#[derive(Debug, Default, Clone)]
pub(crate) struct LdConf {
    pub dirs: Vec<String>,
    pub problems: Vec<String>,
}

/// Reads `/etc/ld.so.conf` inside the root, following includes.
pub(crate) fn read(root: &Root) -> Option<LdConf> {
    read_all(root).map(|reader| reader.conf)
}

/// Reads `/etc/ld.so.conf` inside the root; the reader, with what it read.
fn read_all(root: &Root) -> Option<Reader<'_>> {
    if root.file("/etc/ld.so.conf").is_err() {
        return None;
    }
    let mut reader = Reader {
        root,
        conf: LdConf::default(),
        visiting: Vec::new(),
        done: HashSet::new(),
        bytes_read: 0,
        glob_work: 0,
        problems: HashSet::new(),
        dirs: HashSet::new(),
    };
    reader.read_file("/etc/ld.so.conf", 0);
    Some(reader)
}

/// One reading of the configuration, with its budgets.
struct Reader<'a> {
    root: &'a Root,
    conf: LdConf,
    /// The files being read (an include of one of them is a cycle).
    visiting: Vec<String>,
    /// The files read (or being read): each is read once.
    done: HashSet<String>,
    bytes_read: u64,
    glob_work: usize,
    /// The problems already listed.
    problems: HashSet<String>,
    /// The directories already listed.
    dirs: HashSet<String>,
}

impl Reader<'_> {
    /// Lists a problem, once, and at most [`MAX_PROBLEMS`] of them.
    fn problem(&mut self, problem: String) {
        if self.problems.len() > MAX_PROBLEMS || self.problems.contains(&problem) {
            return;
        }
        if self.problems.len() == MAX_PROBLEMS {
            self.conf.problems.push(format!(
                "ld.so.conf: more than {MAX_PROBLEMS} problems; the rest are not listed"
            ));
        } else {
            self.conf.problems.push(problem.clone());
        }
        self.problems.insert(problem);
    }

    /// Lists a directory, once, and at most [`MAX_DIRS`] of them.
    fn dir(&mut self, dir: &str) {
        if self.dirs.contains(dir) {
            return;
        }
        if self.dirs.len() >= MAX_DIRS {
            self.problem(format!(
                "ld.so.conf: more than {MAX_DIRS} directories; the rest are not considered"
            ));
            return;
        }
        self.dirs.insert(dir.to_string());
        self.conf.dirs.push(dir.to_string());
    }

    /// Takes one unit of glob work; `false` once the budget is spent.
    fn glob_step(&mut self) -> bool {
        if self.glob_work >= MAX_GLOB_WORK {
            self.problem(format!(
                "ld.so.conf: include globs cut after {MAX_GLOB_WORK} steps \
                 (directories listed, names matched, paths made)"
            ));
            return false;
        }
        self.glob_work = self.glob_work.saturating_add(1);
        true
    }

    fn read_file(&mut self, path: &str, depth: usize) {
        let canonical = self
            .root
            .canonical(path)
            .unwrap_or_else(|_| path.to_string());
        if self.visiting.contains(&canonical) {
            self.problem(format!("{path}: include cycle"));
            return;
        }
        // Already read: its directories are listed already (ldconfig would read it again
        // and add nothing, as every directory is kept once).
        if self.done.contains(&canonical) {
            return;
        }
        if depth > MAX_DEPTH {
            self.problem(format!("{path}: includes nested deeper than {MAX_DEPTH}"));
            return;
        }
        if self.done.len() >= MAX_FILES {
            self.problem(format!(
                "ld.so.conf: more than {MAX_FILES} configuration files included; \
                 the rest were not read"
            ));
            return;
        }
        if self.bytes_read >= MAX_TOTAL_BYTES {
            self.problem(format!(
                "ld.so.conf: more than {} MiB of configuration included; the rest was not read",
                MAX_TOTAL_BYTES >> 20
            ));
            return;
        }
        let Some(bytes) = self.root.read(&canonical, MAX_FILE) else {
            return;
        };
        self.done.insert(canonical.clone());
        self.bytes_read = self
            .bytes_read
            .saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        self.visiting.push(canonical.clone());
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(patterns) = line
                .strip_prefix("include")
                .filter(|r| r.starts_with([' ', '\t']))
            {
                for pattern in patterns.split_whitespace() {
                    let pattern = if pattern.starts_with('/') {
                        pattern.to_string()
                    } else {
                        join_path(&parent(&canonical), pattern)
                    };
                    for file in self.glob(&pattern) {
                        self.read_file(&file, depth.saturating_add(1));
                    }
                }
            } else if line.starts_with("hwcap")
                && line.get(5..6).is_some_and(|c| c == " " || c == "\t")
            {
                // Legacy hardware-capability lines name no directory.
            } else {
                // `dir=TYPE` (libc5 era) keeps only the directory.
                let dir = line.split('=').next().unwrap_or(line).trim_end_matches('/');
                let dir = if dir.is_empty() { "/" } else { dir };
                self.dir(dir);
            }
        }
        self.visiting.pop();
    }

    /// Expands a glob (`*`, `?`, `[...]` in any component) inside the root, sorted per
    /// directory, as glibc's `glob` does; within the glob budgets.
    fn glob(&mut self, pattern: &str) -> Vec<String> {
        if pattern.len() > MAX_PATH {
            self.problem(format!(
                "include {}: a pattern longer than {MAX_PATH} bytes names nothing",
                shortened(pattern)
            ));
            return Vec::new();
        }
        if pattern
            .split('/')
            .filter(|c| !c.is_empty())
            .nth(MAX_PATTERN_COMPONENTS)
            .is_some()
        {
            self.problem(format!(
                "include {}: a pattern of more than {MAX_PATTERN_COMPONENTS} components \
                 is not expanded",
                shortened(pattern)
            ));
            return Vec::new();
        }
        let mut current = vec!["/".to_string()];
        for component in pattern.split('/').filter(|c| !c.is_empty()) {
            if component.len() > MAX_COMPONENT {
                self.problem(format!(
                    "include {}: a path component longer than {MAX_COMPONENT} bytes names nothing",
                    shortened(pattern)
                ));
                return Vec::new();
            }
            let wild = component.contains(['*', '?', '[']);
            let mut next = Vec::new();
            'dirs: for dir in &current {
                let names = if wild {
                    if !self.glob_step() {
                        break;
                    }
                    self.root.list(dir)
                } else {
                    vec![component.to_string()]
                };
                for name in names {
                    if !self.glob_step() {
                        break 'dirs;
                    }
                    if wild
                        && (name.starts_with('.')
                            || !matches(component.as_bytes(), name.as_bytes()))
                    {
                        continue;
                    }
                    let path = join_path(dir, &name);
                    if path.len() > MAX_PATH {
                        continue;
                    }
                    if next.len() >= MAX_GLOB_RESULTS {
                        self.problem(format!(
                            "include {}: more than {MAX_GLOB_RESULTS} paths matched; \
                             the rest were not read",
                            shortened(pattern)
                        ));
                        break 'dirs;
                    }
                    next.push(path);
                }
            }
            current = next;
        }
        current.retain(|p| self.root.file(p).is_ok());
        current
    }
}

/// A pattern as quoted in a problem: its first 64 characters.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", text.get(..at).unwrap_or(text)),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn long_pattern_components_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc/c")).unwrap();
        fs::write(dir.path().join("etc/c/a.conf"), "/opt/a\n").unwrap();
        let stars = "*".repeat(300_000);
        let component = "*".repeat(256);
        fs::write(
            dir.path().join("etc/ld.so.conf"),
            format!(
                "include /etc/c/{stars}\ninclude /etc/c/{component}\n\
                 include /etc/c/*a*a*a*a*a*a*a*a*a*a*ab\ninclude /etc/c/*.conf\n"
            ),
        )
        .unwrap();
        let conf = read(&root).expect("present");
        assert_eq!(conf.dirs, ["/opt/a"]);
        assert_eq!(conf.problems.len(), 2, "{:?}", conf.problems);
        assert!(
            conf.problems[0].contains("longer than 4096 bytes"),
            "{:?}",
            conf.problems
        );
        assert!(
            conf.problems[1].contains("longer than 255 bytes"),
            "{:?}",
            conf.problems
        );
        assert!(
            conf.problems[0].len() < 200,
            "the pattern is quoted shortened"
        );
    }

    /// Nine files that each include all nine: every file is read once (not 9! times).
    #[test]
    fn include_fan_out_reads_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc/c")).unwrap();
        fs::write(dir.path().join("etc/ld.so.conf"), "include /etc/c/*.conf\n").unwrap();
        for i in 0..9 {
            fs::write(
                dir.path().join(format!("etc/c/{i}.conf")),
                format!("include /etc/c/*.conf\n/opt/{i}\n"),
            )
            .unwrap();
        }
        let reader = read_all(&root).expect("present");
        assert_eq!(reader.done.len(), 10, "ld.so.conf and the nine, once each");
        // Depth first: 0.conf includes 1.conf before its own line, and so on.
        let expected: Vec<String> = (0..9).rev().map(|i| format!("/opt/{i}")).collect();
        assert_eq!(reader.conf.dirs, expected);
        // Each file's include of itself (and of those still being read) is a cycle.
        assert_eq!(reader.conf.problems.len(), 9, "{:?}", reader.conf.problems);
        assert!(
            reader
                .conf
                .problems
                .iter()
                .all(|p| p.ends_with("include cycle"))
        );
    }

    #[test]
    fn files_and_glob_results_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc/c")).unwrap();
        fs::write(dir.path().join("etc/ld.so.conf"), "include /etc/c/*.conf\n").unwrap();
        for i in 0..1100 {
            fs::write(
                dir.path().join(format!("etc/c/{i:04}.conf")),
                format!("/opt/{i}\n"),
            )
            .unwrap();
        }
        let reader = read_all(&root).expect("present");
        assert_eq!(reader.done.len(), MAX_FILES);
        let problems = &reader.conf.problems;
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("more than 1024 paths matched")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("more than 256 configuration files")),
            "{problems:?}"
        );
        assert_eq!(reader.conf.dirs.first().map(String::as_str), Some("/opt/0"));
    }

    #[test]
    fn glob_work_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc/c")).unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("etc/c/l1")).unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("etc/c/l2")).unwrap();
        fs::write(dir.path().join("etc/c/a.conf"), "/opt/a\n").unwrap();
        // Two links back to the directory: each level doubles the paths.
        let deep = format!("/etc/c/{}*.conf", "*/".repeat(29));
        let too_deep = format!("/etc/c/{}*.conf", "*/".repeat(40));
        let too_long = format!("/etc/c/{}*.conf", "l1/".repeat(1400));
        fs::write(
            dir.path().join("etc/ld.so.conf"),
            format!("include {deep}\ninclude {too_deep}\ninclude {too_long}\n"),
        )
        .unwrap();
        let reader = read_all(&root).expect("present");
        let problems = &reader.conf.problems;
        assert!(
            problems
                .iter()
                .any(|p| p.contains("include globs cut after 16384 steps")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("more than 1024 paths matched")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("more than 32 components")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("longer than 4096 bytes")),
            "{problems:?}"
        );
    }

    #[test]
    fn directories_are_listed_once_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        let mut conf = String::new();
        for round in 0..3 {
            for i in 0..(MAX_DIRS + 100) {
                conf.push_str(&format!("/opt/{i}{}\n", if round == 1 { "/" } else { "" }));
            }
        }
        fs::write(dir.path().join("etc/ld.so.conf"), conf).unwrap();
        let conf = read(&root).expect("present");
        let expected: Vec<String> = (0..MAX_DIRS).map(|i| format!("/opt/{i}")).collect();
        assert_eq!(conf.dirs, expected);
        assert_eq!(
            conf.problems,
            ["ld.so.conf: more than 256 directories; the rest are not considered"]
        );
    }

    #[test]
    fn problems_are_listed_once_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        let mut conf = "include /etc/ld.so.conf\n".repeat(1000);
        for i in 0..100 {
            conf.push_str(&format!("include /{i:03}{}\n", "x".repeat(256)));
        }
        fs::write(dir.path().join("etc/ld.so.conf"), conf).unwrap();
        let problems = read(&root).expect("present").problems;
        assert_eq!(problems.len(), MAX_PROBLEMS + 1, "{problems:?}");
        assert_eq!(
            problems
                .iter()
                .filter(|p| p.ends_with("include cycle"))
                .count(),
            1
        );
        assert!(
            problems
                .last()
                .is_some_and(|p| p.contains("the rest are not listed"))
        );
    }

    #[test]
    fn includes_relative_cycles_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(crate::rootfs::RootFs::dir(dir.path()).unwrap());
        fs::create_dir_all(dir.path().join("etc/ld.so.conf.d")).unwrap();
        fs::write(
            dir.path().join("etc/ld.so.conf"),
            "# comment\ninclude ld.so.conf.d/*.conf\n/opt/first # trailing\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("etc/ld.so.conf.d/a.conf"),
            "/usr/local/lib\n/opt/libc5=libc5\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("etc/ld.so.conf.d/b.conf"),
            "include /etc/ld.so.conf\n/opt/b\n",
        )
        .unwrap();
        let conf = read(&root).expect("present");
        assert_eq!(
            conf.dirs,
            ["/usr/local/lib", "/opt/libc5", "/opt/b", "/opt/first"]
        );
        assert_eq!(conf.problems.len(), 1, "{:?}", conf.problems);
    }
}
