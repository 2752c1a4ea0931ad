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
/// The longest name a directory entry can have (NAME_MAX); a longer pattern component is
/// refused rather than matched.
const MAX_COMPONENT: usize = 255;

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
                for file in glob(root, &pattern, conf) {
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
fn glob(root: &Root, pattern: &str, conf: &mut LdConf) -> Vec<String> {
    let mut current = vec!["/".to_string()];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        if component.len() > MAX_COMPONENT {
            conf.problems.push(format!(
                "include {}: a path component longer than {MAX_COMPONENT} bytes names nothing",
                shortened(pattern)
            ));
            return Vec::new();
        }
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

/// Shell-style matching of one path component: `*`, `?`, `[...]` (`!` or `^` negates; a
/// `[` without a closing `]` is literal).
///
/// Iterative, with backtracking to the last `*` only: every other token matches exactly one
/// byte, so a later `*` subsumes whatever an earlier one could still absorb, and the work is
/// at most the pattern's length times the name's (no recursion, no exponential blow-up).
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // After the last `*`: where the pattern resumes, and the name position it resumed at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pattern.get(p) == Some(&b'*') {
            // A run of `*` is one `*`.
            while pattern.get(p) == Some(&b'*') {
                p = p.saturating_add(1);
            }
            if p >= pattern.len() {
                return true;
            }
            star = Some((p, n));
            continue;
        }
        let step = match (pattern.get(p..), name.get(n)) {
            (Some(rest), Some(&c)) if !rest.is_empty() => token_matches(rest, c),
            _ => None,
        };
        if let Some(len) = step {
            p = p.saturating_add(len);
            n = n.saturating_add(1);
            continue;
        }
        if p >= pattern.len() && n >= name.len() {
            return true;
        }
        // Mismatch: let the last `*` absorb one more byte of the name, if any is left.
        match star {
            Some((after_star, from)) if from < name.len() => {
                let from = from.saturating_add(1);
                star = Some((after_star, from));
                p = after_star;
                n = from;
            }
            _ => return false,
        }
    }
}

/// Whether the token at the start of `pattern` (not `*`) matches the byte `c`; the number
/// of pattern bytes it spans.
fn token_matches(pattern: &[u8], c: u8) -> Option<usize> {
    let (&first, rest) = pattern.split_first()?;
    match first {
        b'?' => Some(1),
        b'[' => match rest.iter().position(|b| *b == b']') {
            Some(end) => {
                let set = rest.get(..end)?;
                let (negate, set) = match set.split_first() {
                    Some((b'!' | b'^', s)) => (true, s),
                    _ => (false, set),
                };
                (class_contains(set, c) != negate).then_some(end.saturating_add(2))
            }
            None => (c == b'[').then_some(1),
        },
        _ => (first == c).then_some(1),
    }
}

/// A pattern as quoted in a problem: its first 64 characters.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", text.get(..at).unwrap_or(text)),
        None => text.to_string(),
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

    /// The matcher as it was: recursive, exponential on repeated `*`, but plainly right.
    fn naive_matches(pattern: &[u8], name: &[u8]) -> bool {
        match (pattern.split_first(), name.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => {
                naive_matches(rest, name) || name.split_first().is_some_and(|(_, n)| naive_matches(pattern, n))
            }
            (Some((b'?', rest)), Some((_, n))) => naive_matches(rest, n),
            (Some((b'[', rest)), Some((c, n))) => match rest.iter().position(|b| *b == b']') {
                Some(end) => {
                    let (set, after) = rest.split_at(end);
                    let (negate, set) = match set.split_first() {
                        Some((b'!' | b'^', s)) => (true, s),
                        _ => (false, set),
                    };
                    class_contains(set, *c) != negate && naive_matches(&after[1..], n)
                }
                None => c == &b'[' && naive_matches(rest, n),
            },
            (Some((p, rest)), Some((c, n))) => p == c && naive_matches(rest, n),
            _ => false,
        }
    }

    proptest::proptest! {
        #[test]
        fn matcher_agrees_with_the_naive_one(
            pattern in "[ab*?\\[\\]!^-]{0,10}",
            name in "[ab\\[\\]!^-]{0,10}",
        ) {
            proptest::prop_assert_eq!(
                matches(pattern.as_bytes(), name.as_bytes()),
                naive_matches(pattern.as_bytes(), name.as_bytes())
            );
        }
    }

    #[test]
    fn star_patterns_are_linear_and_flat() {
        // Exponential for a backtracking recursion (seconds), stack-deep for a recursive one.
        let name = "a".repeat(60);
        assert!(!matches(b"*a*a*a*a*a*a*a*a*a*a*a*a*ab", name.as_bytes()));
        assert!(matches(b"*a*a*a*a*a*a*a*a*a*a*a*a*a", name.as_bytes()));
        let stars = vec![b'*'; 300_000];
        assert!(matches(&stars, b"libc.conf"));
        let mut stars_then_b = stars.clone();
        stars_then_b.push(b'b');
        assert!(!matches(&stars_then_b, name.as_bytes()));
    }

    #[test]
    fn long_pattern_components_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        fs::create_dir_all(dir.path().join("etc/c")).unwrap();
        fs::write(dir.path().join("etc/c/a.conf"), "/opt/a\n").unwrap();
        let stars = "*".repeat(300_000);
        fs::write(
            dir.path().join("etc/ld.so.conf"),
            format!("include /etc/c/{stars}\ninclude /etc/c/*a*a*a*a*a*a*a*a*a*a*ab\ninclude /etc/c/*.conf\n"),
        )
        .unwrap();
        let conf = read(&root).expect("present");
        assert_eq!(conf.dirs, ["/opt/a"]);
        assert_eq!(conf.problems.len(), 1, "{:?}", conf.problems);
        assert!(conf.problems[0].contains("longer than 255 bytes"), "{:?}", conf.problems);
        assert!(conf.problems[0].len() < 200, "the pattern is quoted shortened");
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
