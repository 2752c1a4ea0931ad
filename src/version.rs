//! Dotted version numbers (`2.36`, `3.4.30`, `1.2.5`), compared part by part as numbers.

use std::cmp::Ordering;

/// Compares dotted versions numerically; missing parts count as 0 (`2.34` = `2.34.0`), and a
/// part that is not a number compares as text after every number.
pub fn compare_dotted(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        let (x, y) = match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => (x.unwrap_or("0"), y.unwrap_or("0")),
        };
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_not_text() {
        assert_eq!(compare_dotted("2.38", "2.4"), Ordering::Greater);
        assert_eq!(compare_dotted("2.34", "2.34.0"), Ordering::Equal);
        assert_eq!(compare_dotted("3.4.30", "3.4.9"), Ordering::Greater);
        assert_eq!(compare_dotted("2.17", "2.34"), Ordering::Less);
    }
}
