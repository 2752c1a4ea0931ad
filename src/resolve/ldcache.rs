//! `/etc/ld.so.cache`, written by `ldconfig` and read by glibc's loader: both formats.
//!
//! The old format (`ld.so-1.7.0`) holds 12-byte entries; the new one (`glibc-ld.so.cache`,
//! version `1.1`) 24-byte entries with a hardware-capability word, and may follow the old
//! one in the same file. Strings are offsets from the start of the new header (new format)
//! or from the end of the old entries (old format). Entry flags name the ABI (`0x0303` is
//! x86_64 libc6), which the loader checks before using an entry.
//!
//! Entries share their strings (ldconfig writes each once, and merges common tails): a
//! string is read once per offset, and the strings read are capped in total.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
/// The hwcap word's marker of a `glibc-hwcaps` subdirectory entry.
const HWCAP_EXTENSION: u64 = 1 << 62;
/// The longest string of an entry (the loader's paths are far shorter).
const MAX_STRING: usize = 4096;
/// The most bytes of distinct strings read from one cache.
const MAX_STRING_BYTES: usize = 16 << 20;

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheEntry {
    pub flags: u32,
    pub path: Arc<str>,
    /// Non-zero for entries in `glibc-hwcaps` subdirectories or legacy hwcap directories.
    pub hwcap: u64,
}

/// The cache: entries by soname, in file order (ldconfig writes the preferred one first).
#[derive(Debug, Default, Clone)]
pub(crate) struct LdCache {
    pub entries: HashMap<Arc<str>, Vec<CacheEntry>>,
    pub format: &'static str,
    /// Why some entries were not read (the strings cap), when that happened.
    pub problem: Option<String>,
    /// The directories of the entries, without their trailing `/`.
    dirs: HashSet<String>,
}

impl LdCache {
    /// Parses a cache file; `None` when it is neither format.
    pub fn parse(data: &[u8], max_entries: usize) -> Option<LdCache> {
        if data.starts_with(NEW_MAGIC) {
            return parse_new(data, max_entries).map(|(entries, problem)| LdCache::new(entries, "new", problem));
        }
        if !data.starts_with(OLD_MAGIC) {
            return None;
        }
        let count = usize::try_from(read_u32(data, 12, false)?).ok()?;
        let entries_end = count.checked_mul(OLD_ENTRY)?.checked_add(OLD_HEADER)?;
        // A new-format cache may follow the old entries, aligned to 8 bytes.
        let new_at = entries_end.checked_add(7)? & !7;
        if let Some(new) = data.get(new_at..).filter(|d| d.starts_with(NEW_MAGIC)) {
            return parse_new(new, max_entries).map(|(entries, problem)| LdCache::new(entries, "old+new", problem));
        }
        if count > max_entries {
            return None;
        }
        let mut strings = Strings::new(data.get(entries_end..)?);
        let mut entries: HashMap<Arc<str>, Vec<CacheEntry>> = HashMap::new();
        for i in 0..count {
            let at = OLD_HEADER.checked_add(i.checked_mul(OLD_ENTRY)?)?;
            let flags = read_u32(data, at, false)?;
            let key = read_u32(data, at.checked_add(4)?, false)?;
            let value = read_u32(data, at.checked_add(8)?, false)?;
            let (Some(key), Some(value)) = (strings.get(key), strings.get(value)) else {
                if strings.full {
                    break;
                }
                continue;
            };
            entries.entry(key).or_default().push(CacheEntry {
                flags,
                path: value,
                hwcap: 0,
            });
        }
        Some(LdCache::new(entries, "old", strings.problem()))
    }

    fn new(entries: HashMap<Arc<str>, Vec<CacheEntry>>, format: &'static str, problem: Option<String>) -> LdCache {
        let mut dirs = HashSet::new();
        for entry in entries.values().flatten() {
            if let Some(dir) = dir_of(&entry.path) {
                if !dirs.contains(dir) {
                    dirs.insert(dir.to_string());
                }
            }
        }
        LdCache {
            entries,
            format,
            problem,
            dirs,
        }
    }

    /// The entries for `soname` whose flags the loader of this ABI accepts.
    pub fn lookup(&self, soname: &str, accepted_flags: &[u32]) -> Vec<&CacheEntry> {
        self.entries
            .get(soname)
            .map(|list| list.iter().filter(|e| accepted_flags.contains(&e.flags)).collect())
            .unwrap_or_default()
    }

    /// Whether any entry lives in `dir` (to tell which ld.so.conf directories it covers).
    pub fn covers(&self, dir: &str) -> bool {
        self.dirs.contains(dir.trim_end_matches('/'))
    }
}

/// The directory of an entry's path, without its trailing `/` (`/` itself is empty).
fn dir_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(parent, _)| parent.trim_end_matches('/'))
}

/// The new format's entries, and why some were not read.
type NewEntries = (HashMap<Arc<str>, Vec<CacheEntry>>, Option<String>);

fn parse_new(data: &[u8], max_entries: usize) -> Option<NewEntries> {
    // Byte 28 says the writer's byte order: 2 little, 3 big, 0 unknown (take little).
    let big = data.get(28) == Some(&3);
    let count = usize::try_from(read_u32(data, 20, big)?).ok()?;
    if count > max_entries {
        return None;
    }
    let mut strings = Strings::new(data);
    let mut entries: HashMap<Arc<str>, Vec<CacheEntry>> = HashMap::new();
    for i in 0..count {
        let at = NEW_HEADER.checked_add(i.checked_mul(NEW_ENTRY)?)?;
        let flags = read_u32(data, at, big)?;
        let key = read_u32(data, at.checked_add(4)?, big)?;
        let value = read_u32(data, at.checked_add(8)?, big)?;
        let hwcap = read_u64(data, at.checked_add(16)?, big)?;
        let (Some(key), Some(value)) = (strings.get(key), strings.get(value)) else {
            if strings.full {
                break;
            }
            continue;
        };
        entries.entry(key).or_default().push(CacheEntry {
            flags,
            path: value,
            hwcap,
        });
    }
    let problem = strings.problem();
    Some((entries, problem))
}

/// The strings of a cache, each read once per offset (entries share them), within
/// [`MAX_STRING_BYTES`] in all.
struct Strings<'a> {
    data: &'a [u8],
    /// Per offset, the string there (`None`: not a valid string).
    by_offset: HashMap<u32, Option<Arc<str>>>,
    bytes: usize,
    /// Set when a string did not fit: the entries from there on are not read.
    full: bool,
}

impl<'a> Strings<'a> {
    fn new(data: &'a [u8]) -> Strings<'a> {
        Strings {
            data,
            by_offset: HashMap::new(),
            bytes: 0,
            full: false,
        }
    }

    /// The string at `offset`: non-empty, NUL-terminated, at most [`MAX_STRING`] bytes.
    fn get(&mut self, offset: u32) -> Option<Arc<str>> {
        if let Some(known) = self.by_offset.get(&offset) {
            return known.clone();
        }
        if self.full {
            return None;
        }
        let string = c_string(self.data, offset);
        if let Some(s) = &string {
            let bytes = self.bytes.saturating_add(s.len());
            if bytes > MAX_STRING_BYTES {
                self.full = true;
                return None;
            }
            self.bytes = bytes;
        }
        self.by_offset.insert(offset, string.clone());
        string
    }

    fn problem(&self) -> Option<String> {
        self.full.then(|| {
            format!(
                "/etc/ld.so.cache: its strings exceed {} MiB; the entries after that were not read",
                MAX_STRING_BYTES >> 20
            )
        })
    }
}

impl CacheEntry {
    /// Whether the entry lives in a `glibc-hwcaps` subdirectory (chosen by CPU level).
    pub fn is_hwcaps(&self) -> bool {
        self.hwcap & HWCAP_EXTENSION != 0
    }
}

fn read_u32(data: &[u8], at: usize, big: bool) -> Option<u32> {
    let bytes = <[u8; 4]>::try_from(data.get(at..at.checked_add(4)?)?).ok()?;
    Some(if big {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn read_u64(data: &[u8], at: usize, big: bool) -> Option<u64> {
    let bytes = <[u8; 8]>::try_from(data.get(at..at.checked_add(8)?)?).ok()?;
    Some(if big {
        u64::from_be_bytes(bytes)
    } else {
        u64::from_le_bytes(bytes)
    })
}

fn c_string(data: &[u8], offset: u32) -> Option<Arc<str>> {
    let rest = data.get(usize::try_from(offset).ok()?..)?;
    // The NUL of a string short enough is within its first MAX_STRING + 1 bytes.
    let window = rest.get(..=MAX_STRING).unwrap_or(rest);
    let end = memchr::memchr(0, window)?;
    let bytes = rest.get(..end)?;
    (!bytes.is_empty()).then(|| Arc::from(String::from_utf8_lossy(bytes)))
}

/// The cache flags glibc's loader accepts for an ABI (`_dl_cache_check_flags` and
/// `_DL_CACHE_DEFAULT_ID` of each `sysdeps`): libc6 plus the ABI's bits; 32-bit ABIs
/// without bits of their own also take plain ELF entries (1).
pub(crate) fn accepted_flags(e_machine: u16, is_64: bool, big_endian: bool, hard_float: bool) -> Vec<u32> {
    const LIBC6: u32 = 0x0003;
    let abi = match (e_machine, is_64) {
        (62, true) => 0x0300,
        (62, false) => 0x0800,
        (183, true) => 0x0a00,
        (40, false) if hard_float => 0x0900,
        (40, false) => 0x0b00,
        (21, true) => 0x0500,
        (22, true) => 0x0400,
        (43, true) | (2, true) => 0x0100,
        (50, true) => 0x0200,
        (8, true) => 0x0700,
        (243, true) => 0x1000,
        (258, true) => 0x1200,
        _ => 0,
    };
    let _ = big_endian;
    if abi == 0 {
        vec![1, LIBC6]
    } else {
        vec![LIBC6 | abi]
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    /// A new-format cache with two entries (one for another ABI), written as ldconfig does.
    fn new_cache() -> Vec<u8> {
        let mut strings = Vec::new();
        let mut add = |s: &str, base: usize| -> u32 {
            let at = base + strings.len();
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            at as u32
        };
        let base = NEW_HEADER + 2 * NEW_ENTRY;
        let k1 = add("libz.so.1", base);
        let v1 = add("/lib/x86_64-linux-gnu/libz.so.1", base);
        let v2 = add("/lib/i386-linux-gnu/libz.so.1", base);
        let mut out = NEW_MAGIC.to_vec();
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        assert_eq!(out.len(), NEW_HEADER);
        for (flags, k, v) in [(0x0303u32, k1, v1), (0x0003, k1, v2)] {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
        }
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn new_format_and_abi_flags() {
        let cache = LdCache::parse(&new_cache(), 1000).expect("parses");
        let x86_64 = accepted_flags(62, true, false, false);
        let found: Vec<&str> = cache.lookup("libz.so.1", &x86_64).iter().map(|e| &*e.path).collect();
        assert_eq!(found, ["/lib/x86_64-linux-gnu/libz.so.1"]);
        let i386 = accepted_flags(3, false, false, false);
        let found: Vec<&str> = cache.lookup("libz.so.1", &i386).iter().map(|e| &*e.path).collect();
        assert_eq!(found, ["/lib/i386-linux-gnu/libz.so.1"]);
        assert!(cache.covers("/lib/x86_64-linux-gnu"));
        assert!(!cache.covers("/usr/local/lib"));
    }

    /// A new-format cache of `entries` (flags, key offset, value offset), the offsets
    /// counted from the start of `strings`, which follows the entries.
    fn crafted_cache(entries: &[(u32, u32, u32)], strings: &[u8]) -> Vec<u8> {
        let base = (NEW_HEADER + entries.len() * NEW_ENTRY) as u32;
        let mut out = NEW_MAGIC.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        for &(flags, k, v) in entries {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&(base + k).to_le_bytes());
            out.extend_from_slice(&(base + v).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
        }
        out.extend_from_slice(strings);
        out
    }

    /// 100,000 entries naming one 4,000-byte path: read once (copied per entry, that was
    /// 800 MB).
    #[test]
    fn shared_strings_are_read_once() {
        let mut strings = b"libz.so.1\0/".to_vec();
        strings.extend_from_slice(&[b'a'; 3999]);
        strings.push(0);
        let entries = vec![(0x0303, 0, 10); 100_000];
        let cache = LdCache::parse(&crafted_cache(&entries, &strings), 1 << 20).expect("parses");
        assert!(cache.problem.is_none());
        let list = &cache.entries["libz.so.1"];
        assert_eq!(list.len(), 100_000);
        assert_eq!(list[0].path.len(), 4000);
        assert!(list.iter().all(|e| Arc::ptr_eq(&e.path, &list[0].path)));
        assert_eq!(Arc::strong_count(&list[0].path), 100_000, "one string, held by every entry");
    }

    /// Entries whose offsets all differ, into long overlapping strings: the strings read
    /// stop at the cap, and that is said.
    #[test]
    fn distinct_strings_are_capped() {
        let mut strings = Vec::new();
        for _ in 0..8 {
            strings.extend_from_slice(&[b'a'; 4096]);
            strings.push(0);
        }
        let entries: Vec<(u32, u32, u32)> = (0..strings.len() as u32)
            .filter(|o| strings[*o as usize] != 0)
            .map(|o| (0x0303, o, o))
            .collect();
        let data = crafted_cache(&entries, &strings);
        let cache = LdCache::parse(&data, 1 << 20).expect("parses");
        assert!(cache.problem.as_deref().is_some_and(|p| p.contains("16 MiB")), "{:?}", cache.problem);
        let read: usize = cache.entries.values().flatten().map(|e| e.path.len()).sum();
        assert!(read <= MAX_STRING_BYTES, "{read}");
        assert!(cache.entries.len() < entries.len());
        // A string without its NUL within reach is not a string.
        let long = crafted_cache(&[(0x0303, 0, 0)], &[b'a'; 5000]);
        assert!(LdCache::parse(&long, 10).expect("parses").entries.is_empty());
    }

    #[test]
    fn covered_directories() {
        let strings = b"libz.so.1\0/lib//libz.so.1\0libc.so\0/libc.so\0/opt/x/y/libz.so.1\0";
        let entries = [(0x0303, 0, 10), (0x0303, 26, 34), (0x0303, 0, 43)];
        let cache = LdCache::parse(&crafted_cache(&entries, strings), 10).expect("parses");
        for dir in ["/lib", "/lib/", "/lib//", "/", "", "/opt/x/y"] {
            assert!(cache.covers(dir), "{dir}");
        }
        for dir in ["/opt", "/opt/x", "/usr/lib", "lib"] {
            assert!(!cache.covers(dir), "{dir}");
        }
    }

    #[test]
    fn truncated_or_foreign_data_is_refused() {
        let cache = new_cache();
        for len in 0..cache.len() {
            let _ = LdCache::parse(&cache[..len], 1000);
        }
        assert!(LdCache::parse(b"not a cache", 1000).is_none());
        assert!(LdCache::parse(&cache, 1).is_none(), "entry limit");
    }
}
