//! `/etc/ld.so.cache`, written by `ldconfig` and read by glibc's loader: both formats.
//!
//! The old format (`ld.so-1.7.0`) holds 12-byte entries; the new one (`glibc-ld.so.cache`,
//! version `1.1`) 24-byte entries with a hardware-capability word, and may follow the old
//! one in the same file. Strings are offsets from the start of the new header (new format)
//! or from the end of the old entries (old format). Entry flags name the ABI (`0x0303` is
//! x86_64 libc6), which the loader checks before using an entry.
//!
//! The file is kept as read and looked into on demand: a lookup finds its soname through
//! an index of key hashes made at the first lookup (no string copied), and reads the paths
//! it returns in place. Parsing every string up front took an allocation per entry, a
//! seventh of a one-file `inspect --root /` (523 entries).

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use crate::abi::Abi;

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

/// One cache entry, its path read in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheEntry<'a> {
    pub flags: u32,
    pub path: Cow<'a, str>,
    /// Non-zero for entries in `glibc-hwcaps` subdirectories or legacy hwcap directories.
    pub hwcap: u64,
}

/// Where the entries are: the new format's table, or the old one's.
#[derive(Debug, Clone, Copy)]
struct Table {
    /// Where the table's data starts in the file (the new header, or the old file's start).
    at: usize,
    /// The first entry, from `at`.
    entries: usize,
    entry_size: usize,
    count: usize,
    /// Where string offsets count from, from `at`.
    strings: usize,
    big: bool,
    new: bool,
}

/// The cache: its bytes, where its entries are, and an index made at the first lookup.
#[derive(Debug)]
pub(crate) struct LdCache {
    data: Vec<u8>,
    table: Table,
    pub format: &'static str,
    index: OnceLock<Index>,
    hasher: foldhash::fast::RandomState,
    /// The directories of the entries, without their trailing `/`, gathered when first asked.
    dirs: OnceLock<HashSet<Box<[u8]>>>,
}

/// The entries by the hash of their soname: the first entry of each hash, and after each
/// entry the next one of the same hash, so a soname's entries come in file order (ldconfig
/// writes the preferred one first).
#[derive(Debug, Default)]
struct Index {
    first: HashMap<u64, u32>,
    next: Vec<u32>,
}

/// The end of a chain in [`Index::next`].
const NO_ENTRY: u32 = u32::MAX;

/// One entry's fields, as offsets into the strings.
struct RawEntry {
    flags: u32,
    key: u32,
    value: u32,
    hwcap: u64,
}

impl LdCache {
    /// Takes a cache file; `None` when it is neither format, or its entry table does not
    /// fit in the file or holds more than `max_entries`.
    pub fn parse(data: Vec<u8>, max_entries: usize) -> Option<LdCache> {
        let (table, format) = if data.starts_with(NEW_MAGIC) {
            (new_table(&data, 0, max_entries)?, "new")
        } else if data.starts_with(OLD_MAGIC) {
            let count = usize::try_from(read_u32(&data, 12, false)?).ok()?;
            let entries_end = count.checked_mul(OLD_ENTRY)?.checked_add(OLD_HEADER)?;
            // A new-format cache may follow the old entries, aligned to 8 bytes.
            let new_at = entries_end.checked_add(7)? & !7;
            if data.get(new_at..).is_some_and(|d| d.starts_with(NEW_MAGIC)) {
                (new_table(&data, new_at, max_entries)?, "old+new")
            } else {
                if count > max_entries || entries_end > data.len() {
                    return None;
                }
                let table = Table {
                    at: 0,
                    entries: OLD_HEADER,
                    entry_size: OLD_ENTRY,
                    count,
                    strings: entries_end,
                    big: false,
                    new: false,
                };
                (table, "old")
            }
        } else {
            return None;
        };
        Some(LdCache {
            data,
            table,
            format,
            index: OnceLock::new(),
            hasher: foldhash::fast::RandomState::default(),
            dirs: OnceLock::new(),
        })
    }

    /// The bytes from the table's start (offsets count from there).
    fn bytes(&self) -> &[u8] {
        self.data.get(self.table.at..).unwrap_or_default()
    }

    fn raw(&self, i: usize) -> Option<RawEntry> {
        let t = &self.table;
        let data = self.bytes();
        let at = t.entries.checked_add(i.checked_mul(t.entry_size)?)?;
        Some(RawEntry {
            flags: read_u32(data, at, t.big)?,
            key: read_u32(data, at.checked_add(4)?, t.big)?,
            value: read_u32(data, at.checked_add(8)?, t.big)?,
            hwcap: if t.new {
                read_u64(data, at.checked_add(16)?, t.big)?
            } else {
                0
            },
        })
    }

    /// The string at `offset` (from the strings' base).
    fn string(&self, offset: u32) -> Option<&[u8]> {
        let base = self
            .table
            .strings
            .checked_add(usize::try_from(offset).ok()?)?;
        c_string(self.bytes(), base)
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            let count = self.table.count;
            let mut index = Index {
                first: HashMap::with_capacity(count),
                next: vec![NO_ENTRY; count],
            };
            // Last to first, so that each chain starts with its earliest entry.
            for i in (0..count).rev() {
                let Some(key) = self.raw(i).and_then(|raw| self.string(raw.key)) else {
                    continue;
                };
                let (Ok(number), Some(slot)) = (u32::try_from(i), index.next.get_mut(i)) else {
                    continue;
                };
                if let Some(after) = index.first.insert(self.hasher.hash_one(key), number) {
                    *slot = after;
                }
            }
            index
        })
    }

    /// The entries for `soname` whose flags the loader of this ABI accepts, in file order;
    /// entries whose path is not a string are skipped.
    pub fn lookup<'a>(
        &'a self,
        soname: &'a str,
        accepted_flags: &'a [u32],
    ) -> impl Iterator<Item = CacheEntry<'a>> + 'a {
        let index = self.index();
        let mut at = index
            .first
            .get(&self.hasher.hash_one(soname.as_bytes()))
            .copied()
            .unwrap_or(NO_ENTRY);
        std::iter::from_fn(move || {
            let i = usize::try_from(at).ok()?;
            at = *index.next.get(i)?;
            Some(i)
        })
        .filter_map(move |i| {
            let raw = self.raw(i)?;
            if !accepted_flags.contains(&raw.flags) || self.string(raw.key)? != soname.as_bytes() {
                return None;
            }
            Some(CacheEntry {
                flags: raw.flags,
                path: String::from_utf8_lossy(self.string(raw.value)?),
                hwcap: raw.hwcap,
            })
        })
    }

    /// Whether any entry lives in `dir` (to tell which ld.so.conf directories it covers).
    pub fn covers(&self, dir: &str) -> bool {
        let dirs = self.dirs.get_or_init(|| {
            let mut dirs: HashSet<Box<[u8]>> = HashSet::new();
            // Entries of one directory mostly follow each other: the last one is compared
            // before the set is asked.
            let mut last: &[u8] = &[];
            for i in 0..self.table.count {
                let path = self.raw(i).and_then(|raw| self.string(raw.value));
                let Some(dir) = path.and_then(dir_of) else {
                    continue;
                };
                if dir != last && !dirs.contains(dir) {
                    dirs.insert(dir.into());
                }
                last = dir;
            }
            dirs
        });
        dirs.contains(dir.trim_end_matches('/').as_bytes())
    }
}

/// The new format's table at `at`, when it fits in `data` and within `max_entries`.
fn new_table(data: &[u8], at: usize, max_entries: usize) -> Option<Table> {
    let new = data.get(at..)?;
    // Byte 28 says the writer's byte order: 2 little, 3 big, 0 unknown (take little).
    let big = new.get(28) == Some(&3);
    let count = usize::try_from(read_u32(new, 20, big)?).ok()?;
    let end = count.checked_mul(NEW_ENTRY)?.checked_add(NEW_HEADER)?;
    if count > max_entries || end > new.len() {
        return None;
    }
    Some(Table {
        at,
        entries: NEW_HEADER,
        entry_size: NEW_ENTRY,
        count,
        strings: 0,
        big,
        new: true,
    })
}

/// The directory of an entry's path, without its trailing `/` (`/` itself is empty).
fn dir_of(path: &[u8]) -> Option<&[u8]> {
    let slash = memchr::memrchr(b'/', path)?;
    let mut parent = path.get(..slash)?;
    while let Some(rest) = parent.strip_suffix(b"/") {
        parent = rest;
    }
    Some(parent)
}

impl CacheEntry<'_> {
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

/// The non-empty NUL-terminated string at `at`, at most [`MAX_STRING`] bytes.
fn c_string(data: &[u8], at: usize) -> Option<&[u8]> {
    let rest = data.get(at..)?;
    // The NUL of a string short enough is within its first MAX_STRING + 1 bytes.
    let window = rest.get(..=MAX_STRING).unwrap_or(rest);
    let end = memchr::memchr(0, window)?;
    let bytes = rest.get(..end)?;
    (!bytes.is_empty()).then_some(bytes)
}

/// The cache flags glibc's loader accepts for an ABI (`_dl_cache_check_flags` and
/// `_DL_CACHE_DEFAULT_ID` of each `sysdeps`): libc6 plus the ABI's bits; ABIs without bits
/// of their own also take plain ELF entries (1).
pub(crate) fn accepted_flags(abi: Abi) -> Vec<u32> {
    const ELF: u32 = 0x0001;
    const LIBC6: u32 = 0x0003;
    match abi.cache_flags() {
        Some(bits) => vec![LIBC6 | bits],
        None => vec![ELF, LIBC6],
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

    /// The paths `cache` gives for `soname` under these flags.
    fn paths(cache: &LdCache, soname: &str, flags: &[u32]) -> Vec<String> {
        cache
            .lookup(soname, flags)
            .map(|e| e.path.into_owned())
            .collect()
    }

    #[test]
    fn new_format_and_abi_flags() {
        let cache = LdCache::parse(new_cache(), 1000).expect("parses");
        assert_eq!(cache.format, "new");
        let abi = |machine: object::elf::Machine, is_64| Abi {
            machine: machine.0,
            is_64,
            big_endian: false,
            hard_float: false,
        };
        let x86_64 = accepted_flags(abi(object::elf::EM_X86_64, true));
        assert_eq!(
            paths(&cache, "libz.so.1", &x86_64),
            ["/lib/x86_64-linux-gnu/libz.so.1"]
        );
        let i386 = accepted_flags(abi(object::elf::EM_386, false));
        assert_eq!(
            paths(&cache, "libz.so.1", &i386),
            ["/lib/i386-linux-gnu/libz.so.1"]
        );
        assert!(paths(&cache, "libz.so", &x86_64).is_empty());
        assert!(paths(&cache, "libz.so.1.2", &x86_64).is_empty());
        assert!(cache.covers("/lib/x86_64-linux-gnu"));
        assert!(!cache.covers("/usr/local/lib"));
    }

    /// The old format alone (strings after its 12-byte entries), and followed by a new
    /// table (whose entries win), as ldconfig's compat mode wrote them.
    #[test]
    fn old_format_alone_and_with_a_new_table() {
        let strings = b"libm.so.6\0/lib/libm.so.6\0";
        let mut old = OLD_MAGIC.to_vec();
        old.extend_from_slice(&[0; 1]);
        old.extend_from_slice(&1u32.to_le_bytes());
        assert_eq!(old.len(), OLD_HEADER);
        for word in [0x0303u32, 0, 10] {
            old.extend_from_slice(&word.to_le_bytes());
        }
        old.extend_from_slice(strings);
        let cache = LdCache::parse(old.clone(), 10).expect("parses");
        assert_eq!(cache.format, "old");
        assert_eq!(paths(&cache, "libm.so.6", &[0x0303]), ["/lib/libm.so.6"]);
        assert!(cache.covers("/lib"));

        let mut both = old[..OLD_HEADER + OLD_ENTRY].to_vec();
        while both.len() % 8 != 0 {
            both.push(0);
        }
        both.extend_from_slice(&new_cache());
        let cache = LdCache::parse(both, 10).expect("parses");
        assert_eq!(cache.format, "old+new");
        assert_eq!(
            paths(&cache, "libz.so.1", &[0x0303]),
            ["/lib/x86_64-linux-gnu/libz.so.1"]
        );
        assert!(paths(&cache, "libm.so.6", &[0x0303]).is_empty());
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

    /// 100,000 entries naming one 4,000-byte path: every lookup result reads it in place
    /// (copied per entry, that was 400 MB), in file order.
    #[test]
    fn shared_strings_are_not_copied() {
        let mut strings = b"libz.so.1\0/".to_vec();
        strings.extend_from_slice(&[b'a'; 3999]);
        strings.push(0);
        let entries = vec![(0x0303, 0, 10); 100_000];
        let cache = LdCache::parse(crafted_cache(&entries, &strings), 1 << 20).expect("parses");
        let found: Vec<CacheEntry<'_>> = cache.lookup("libz.so.1", &[0x0303]).collect();
        assert_eq!(found.len(), 100_000);
        let first = found[0].path.as_ptr();
        assert!(
            found
                .iter()
                .all(|e| matches!(e.path, Cow::Borrowed(_)) && e.path.len() == 4000)
        );
        assert!(
            found.iter().all(|e| e.path.as_ptr() == first),
            "one string, read in place"
        );
        // The first acceptable entry is found without reading the rest.
        assert!(cache.lookup("libz.so.1", &[0x0303]).next().is_some());
    }

    /// An entry whose key or path has no NUL within reach, or points outside the file, is
    /// no entry; the others still are.
    #[test]
    fn unreadable_strings_are_skipped() {
        let mut strings = b"libz.so.1\0/lib/libz.so.1\0".to_vec();
        let long = strings.len() as u32;
        strings.extend_from_slice(&[b'a'; 5000]);
        let entries = [
            (0x0303, 0, long),
            (0x0303, long, 10),
            (0x0303, 0, 1 << 30),
            (0x0303, 0, 10),
        ];
        let cache = LdCache::parse(crafted_cache(&entries, &strings), 10).expect("parses");
        assert_eq!(paths(&cache, "libz.so.1", &[0x0303]), ["/lib/libz.so.1"]);
        assert!(cache.covers("/lib"));
    }

    #[test]
    fn covered_directories() {
        let strings = b"libz.so.1\0/lib//libz.so.1\0libc.so\0/libc.so\0/opt/x/y/libz.so.1\0";
        let entries = [(0x0303, 0, 10), (0x0303, 26, 34), (0x0303, 0, 43)];
        let cache = LdCache::parse(crafted_cache(&entries, strings), 10).expect("parses");
        for dir in ["/lib", "/lib/", "/lib//", "/", "", "/opt/x/y"] {
            assert!(cache.covers(dir), "{dir}");
        }
        for dir in ["/opt", "/opt/x", "/usr/lib", "lib"] {
            assert!(!cache.covers(dir), "{dir}");
        }
    }

    proptest::proptest! {
        /// A cache with bytes overwritten anywhere (counts, offsets, flags, strings): taken
        /// or refused, never a panic, and every path found is a whole string in the file.
        #[test]
        fn damaged_caches_never_panic(
            edits in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 1..8),
        ) {
            let mut data = new_cache();
            for (at, byte) in edits {
                let len = data.len();
                data[at % len] = byte;
            }
            if let Some(cache) = LdCache::parse(data.clone(), 1000) {
                for soname in ["libz.so.1", "", "libz"] {
                    for entry in cache.lookup(soname, &[0x0303, 0x0003, 1]) {
                        // At most MAX_STRING bytes, each at most 3 once made UTF-8.
                        proptest::prop_assert!(
                            !entry.path.is_empty() && entry.path.len() <= 3 * MAX_STRING
                        );
                    }
                }
                let _ = cache.covers("/lib/x86_64-linux-gnu");
            }
        }
    }

    #[test]
    fn truncated_or_foreign_data_is_refused() {
        let cache = new_cache();
        for len in 0..cache.len() {
            if let Some(cut) = LdCache::parse(cache[..len].to_vec(), 1000) {
                // The table fits: only strings were cut, and what is found is whole.
                assert!(len >= NEW_HEADER + 2 * NEW_ENTRY, "{len}");
                for path in paths(&cut, "libz.so.1", &[0x0303]) {
                    assert_eq!(path, "/lib/x86_64-linux-gnu/libz.so.1");
                }
            }
        }
        assert!(LdCache::parse(b"not a cache".to_vec(), 1000).is_none());
        assert!(LdCache::parse(cache.clone(), 1).is_none(), "entry limit");
    }
}
