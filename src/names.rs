//! How a path or a name from the file system becomes a report string, without losing what
//! tells two files apart.

use std::ffi::OsStr;
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;

/// A path or name (a file name, a directory, anything the file system spells in bytes) as
/// a report writes it: valid UTF-8 without backslashes is unchanged; a backslash is written
/// `\\`, and each byte that is not part of valid UTF-8 as `\xNN` (two lowercase hex
/// digits). The rule is injective: two different paths never give the same string (a lossy
/// decoding gave `a\u{fffd}` for both `a\xff` and `a\xfe`).
///
/// ```
/// use std::ffi::OsStr;
/// use std::os::unix::ffi::OsStrExt;
///
/// assert_eq!(runbase::path_text("/usr/lib/libc.so.6"), "/usr/lib/libc.so.6");
/// assert_eq!(runbase::path_text(OsStr::from_bytes(b"/tmp/a\xff")), r"/tmp/a\xff");
/// assert_eq!(runbase::path_text(r"/tmp/a\xff"), r"/tmp/a\\xff");
/// ```
pub fn path_text<P: AsRef<OsStr> + ?Sized>(path: &P) -> String {
    let bytes = path.as_ref().as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !text.contains('\\') {
            return text.to_string();
        }
    }
    let mut out = String::with_capacity(bytes.len().saturating_add(8));
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_text;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    fn of(bytes: &[u8]) -> String {
        path_text(OsStr::from_bytes(bytes))
    }

    #[test]
    fn paths_are_rendered_injectively() {
        assert_eq!(of(b"/lib/libc.so.6"), "/lib/libc.so.6");
        assert_eq!(of("/tmp/é".as_bytes()), "/tmp/é");
        assert_eq!(of(b"a\xff"), r"a\xff");
        assert_eq!(of(b"a\xfe"), r"a\xfe");
        assert_eq!(of(br"a\xff"), r"a\\xff");
        assert_eq!(of(b"\xc3"), r"\xc3");
        assert_eq!(of(b"\\"), r"\\");
        // Every pair of distinct short byte strings gives distinct texts.
        let alphabet: &[u8] = b"\\x f\xff\xc3\xa9";
        let mut seen = std::collections::HashMap::new();
        let mut words: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let longer: Vec<Vec<u8>> = words
                .iter()
                .flat_map(|w| {
                    alphabet.iter().map(move |b| {
                        let mut w = w.clone();
                        w.push(*b);
                        w
                    })
                })
                .collect();
            words.extend(longer);
        }
        words.sort();
        words.dedup();
        for w in words {
            if let Some(other) = seen.insert(of(&w), w.clone()) {
                panic!("{w:?} and {other:?} both give {}", of(&w));
            }
        }
    }
}
