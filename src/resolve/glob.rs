//! Shell-style matching of one path component, for the `include` globs of `ld.so.conf`:
//! `*`, `?` and `[...]`, without recursion and in time bounded by the pattern's length times
//! the name's (a hostile root may hold any pattern).

/// Shell-style matching of one path component: `*`, `?`, `[...]` (`!` or `^` negates; a
/// `[` without a closing `]` is literal).
///
/// Iterative, with backtracking to the last `*` only: every other token matches exactly one
/// byte, so a later `*` subsumes whatever an earlier one could still absorb, and the work is
/// at most the pattern's length times the name's (no recursion, no exponential blow-up).
pub(super) fn matches(pattern: &[u8], name: &[u8]) -> bool {
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

/// Whether a `[...]` set (without its brackets and negation) holds `c`: single bytes and
/// `a-z` ranges.
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
                naive_matches(rest, name)
                    || name
                        .split_first()
                        .is_some_and(|(_, n)| naive_matches(pattern, n))
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
}
