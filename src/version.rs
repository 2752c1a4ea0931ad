//! Dotted version numbers (`2.36`, `3.4.30`, `1.2.5`): one type for every version runbase
//! compares, whether it comes from a symbol version (`GLIBC_2.34`), a C library's banner, or
//! the catalog.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The most parts a version has (`2.2.5` has three; glibc never used more than four).
const MAX_PARTS: usize = 4;
/// The most digits of one part; more would not fit a `u32` and is no real version.
const MAX_DIGITS: usize = 9;

/// A version of one to four numbers, compared part by part as numbers, missing parts
/// counting as 0 (`2.34` = `2.34.0`, `2.38` > `2.4`). It prints as it was written.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    parts: [u32; MAX_PARTS],
    len: u8,
}

impl Version {
    /// `major.minor`, for the versions rules name (`2.34`).
    pub const fn of(major: u32, minor: u32) -> Version {
        Version {
            parts: [major, minor, 0, 0],
            len: 2,
        }
    }

    /// The version of these parts (`&[2, 34]`); `None` for none or more than four.
    pub fn from_parts(parts: &[u32]) -> Option<Version> {
        if parts.is_empty() || parts.len() > MAX_PARTS {
            return None;
        }
        let mut all = [0u32; MAX_PARTS];
        for (slot, part) in all.iter_mut().zip(parts) {
            *slot = *part;
        }
        Some(Version {
            parts: all,
            len: u8::try_from(parts.len()).ok()?,
        })
    }

    /// Parses `2.34`, `3.4.30`: one to four dot-separated numbers of at most nine digits.
    pub fn parse(text: &str) -> Option<Version> {
        Version::parse_bytes(text.as_bytes())
    }

    fn parse_bytes(text: &[u8]) -> Option<Version> {
        let mut parts = [0u32; MAX_PARTS];
        let mut len = 0usize;
        for piece in text.split(|b| *b == b'.') {
            let slot = parts.get_mut(len)?;
            if piece.is_empty() || piece.len() > MAX_DIGITS || !piece.iter().all(u8::is_ascii_digit)
            {
                return None;
            }
            *slot = piece.iter().fold(0u32, |v, d| {
                v.saturating_mul(10)
                    .saturating_add(u32::from(d.wrapping_sub(b'0')))
            });
            len = len.saturating_add(1);
        }
        Some(Version {
            parts,
            len: u8::try_from(len).ok()?,
        })
    }

    /// The glibc release a symbol version asks for: `GLIBC_2.34` is 2.34, and
    /// `GLIBC_ABI_DT_RELR` 2.36, the release that added it (the loader refuses files that
    /// need it on older glibc). At least two numbers, as glibc always writes them.
    pub fn of_glibc_symbol(name: &[u8]) -> Option<Version> {
        let rest = name.strip_prefix(b"GLIBC_")?;
        if rest == b"ABI_DT_RELR" {
            return Version::from_parts(&[2, 36]);
        }
        Version::parse_bytes(rest).filter(|v| v.len >= 2)
    }

    /// The numbers as written.
    pub fn parts(&self) -> &[u32] {
        self.parts.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts().iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

/// A text that is not a version of one to four numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseVersionError;

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a version of one to four dot-separated numbers")
    }
}

impl std::error::Error for ParseVersionError {}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s).ok_or(ParseVersionError)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Version::parse(&text).ok_or_else(|| serde::de::Error::custom(ParseVersionError))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]{1,9}(\\.[0-9]{1,9}){0,3}$",
            "description": "A dotted version of one to four numbers (`2.34`, `3.4.30`)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn numbers_not_text() {
        assert!(v("2.38") > v("2.4"));
        assert_eq!(v("2.34"), v("2.34.0"));
        assert!(v("3.4.30") > v("3.4.9"));
        assert!(v("2.17") < v("2.34"));
    }

    #[test]
    fn prints_as_written() {
        for text in ["2.34", "2.2.5", "1.2.3", "2.0", "7"] {
            assert_eq!(v(text).to_string(), text);
        }
    }

    #[test]
    fn refuses_what_is_no_version() {
        for text in [
            "",
            "2.",
            ".2",
            "2..3",
            "1.2.3.4.5",
            "2.34a",
            "1234567890",
            "-1",
        ] {
            assert_eq!(Version::parse(text), None, "{text}");
        }
    }

    #[test]
    fn glibc_symbol_versions() {
        let g = |n: &str| Version::of_glibc_symbol(n.as_bytes()).map(|v| v.to_string());
        assert_eq!(g("GLIBC_2.34").as_deref(), Some("2.34"));
        assert_eq!(g("GLIBC_2.2.5").as_deref(), Some("2.2.5"));
        assert_eq!(g("GLIBC_ABI_DT_RELR").as_deref(), Some("2.36"));
        assert_eq!(g("GLIBC_PRIVATE"), None);
        assert_eq!(g("GLIBC_2"), None);
        assert_eq!(g("GLIBCXX_3.4"), None);
    }

    #[test]
    fn serde_round_trip() {
        let text = serde_json::to_string(&v("2.36")).unwrap();
        assert_eq!(text, "\"2.36\"");
        assert_eq!(serde_json::from_str::<Version>(&text).unwrap(), v("2.36"));
        assert!(serde_json::from_str::<Version>("\"x\"").is_err());
    }
}
