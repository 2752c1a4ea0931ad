//! `/etc/ld.so.conf` and its `include` globs, read inside the root.
//!
//! glibc's loader never reads this file: `ldconfig` turns it into `/etc/ld.so.cache`. It is
//! parsed here only to say which directories the cache does not cover (a stale or missing
//! cache changes what the loader finds). Includes are depth- and cycle-guarded.

use super::root::{Root, join_path, parent};

/// How deep includes may nest.
const MAX_DEPTH: usize = 16;
/// The largest configuration file read.
const MAX_FILE: u64 = 1 << 20;

/// The directories `ld.so.conf` lists, in order, and what went wrong reading it.
#[derive(Debug, Default, Clone)]
pub(crate) struct LdConf {
    pub dirs: Vec<String>,
    pub problems: Vec<String>,
}

/// Reads `/etc/ld.so.conf` inside the root, following includes.
pub(crate) fn read(root: &Root) -> Option<LdConf> {
    let mut conf = LdConf::default();
    let mut visiting = Vec::new();
    if root.file("/etc/ld.so.conf").is_err() {
        return None;
    }
    read_file(root, "/etc/ld.so.conf", 0, &mut visiting, &mut conf);
    Some(conf)
}

fn read_file(root: &Root, path: &str, depth: usize, visiting: &mut Vec<String>, conf: &mut LdConf) {
    if depth > MAX_DEPTH {
        conf.problems.push(format!("{path}: includes nested deeper than {MAX_DEPTH}"));
        return;
    }
    let canonical = root.canonical(path).unwrap_or_else(|_| path.to_string());
    if visiting.contains(&canonical) {
        conf.problems.push(format!("{path}: include cycle"));
        return;
    }
    let Some(bytes) = root.read(&canonical, MAX_FILE) else {
        return;
    };
    visiting.push(canonical.clone());
    let text = String::from_utf8_lossy(&bytes);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(patterns) = line.strip_prefix("include").filter(|r| r.starts_with([' ', '\t'])) {
            for pattern in patterns.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_string()
                } else {
                    join_path(&parent(&canonical), pattern)
                };
                for file in glob(root, &pattern) {
                    read_file(root, &file, depth.saturating_add(1), visiting, conf);
                }
            }
        } else if line.starts_with("hwcap") && line.get(5..6).is_some_and(|c| c == " " || c == "\t") {
            // Legacy hardware-capability lines name no directory.
        } else {
            // `dir=TYPE` (libc5 era) keeps only the directory.
            let dir = line.split('=').next().unwrap_or(line).trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            if !conf.dirs.iter().any(|d| d == dir) {
                conf.dirs.push(dir.to_string());
            }
        }
    }
    visiting.pop();
}

/// Expands a glob (`*`, `?`, `[...]` in any component) inside the root, sorted per
/// directory, as glibc's `glob` does.
fn glob(root: &Root, pattern: &str) -> Vec<String> {
    let mut current = vec!["/".to_string()];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for dir in &current {
            if component.contains(['*', '?', '[']) {
                for name in root.list(dir) {
                    if !name.starts_with('.') && matches(component.as_bytes(), name.as_bytes()) {
                        next.push(join_path(dir, &name));
                    }
                }
            } else {
                next.push(join_path(dir, component));
            }
        }
        current = next;
    }
    current.retain(|p| root.file(p).is_ok());
    current
}

/// Shell-style matching of one path component.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            matches(rest, name) || name.split_first().is_some_and(|(_, n)| matches(pattern, n))
        }
        (Some((b'?', rest)), Some((_, n))) => matches(rest, n),
        (Some((b'[', rest)), Some((c, n))) => match rest.iter().position(|b| *b == b']') {
            Some(end) => {
                let (set, after) = rest.split_at(end);
                let (negate, set) = match set.split_first() {
                    Some((b'!' | b'^', s)) => (true, s),
                    _ => (false, set),
                };
                let hit = class_contains(set, *c);
                hit != negate && matches(after.get(1..).unwrap_or(&[]), n)
            }
            None => c == &b'[' && matches(rest, n),
        },
        (Some((p, rest)), Some((c, n))) => p == c && matches(rest, n),
        _ => false,
    }
}

fn class_contains(set: &[u8], c: u8) -> bool {
    let mut i = 0usize;
    while let Some(&first) = set.get(i) {
        if set.get(i.saturating_add(1)) == Some(&b'-') {
            if let Some(&last) = set.get(i.saturating_add(2)) {
                if (first..=last).contains(&c) {
                    return true;
                }
                i = i.saturating_add(3);
                continue;
            }
        }
        if first == c {
            return true;
        }
        i = i.saturating_add(1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn glob_matching() {
        assert!(matches(b"*.conf", b"libc.conf"));
        assert!(!matches(b"*.conf", b"libc.conf~"));
        assert!(matches(b"x86_64-*.conf", b"x86_64-linux-gnu.conf"));
        assert!(matches(b"[a-c]?.conf", b"b1.conf"));
        assert!(!matches(b"[!a-c]?.conf", b"b1.conf"));
    }

    #[test]
    fn includes_relative_cycles_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        fs::create_dir_all(dir.path().join("etc/ld.so.conf.d")).unwrap();
        fs::write(
            dir.path().join("etc/ld.so.conf"),
            "# comment\ninclude ld.so.conf.d/*.conf\n/opt/first # trailing\n",
        )
        .unwrap();
        fs::write(dir.path().join("etc/ld.so.conf.d/a.conf"), "/usr/local/lib\n/opt/libc5=libc5\n").unwrap();
        fs::write(dir.path().join("etc/ld.so.conf.d/b.conf"), "include /etc/ld.so.conf\n/opt/b\n").unwrap();
        let conf = read(&root).expect("present");
        assert_eq!(conf.dirs, ["/usr/local/lib", "/opt/libc5", "/opt/b", "/opt/first"]);
        assert_eq!(conf.problems.len(), 1, "{:?}", conf.problems);
    }
}
