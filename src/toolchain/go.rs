//! Go build information, in both of its formats, and the other Go markers.
//!
//! The build-info blob starts with `\xff Go buildinf:` on a 16-byte boundary, in the
//! `.go.buildinfo` section or, when sections are gone, near the start of the first writable
//! PT_LOAD segment (the Go linker puts it there). Go 1.18 and later store the version and
//! module text inline as length-prefixed strings; Go 1.13 to 1.17 store pointers to Go
//! string headers. The module text is framed by 16-byte sentinels and holds tab-separated
//! `path`, `mod`, `dep`, `=>` and `build` lines.

use std::collections::BTreeMap;

use crate::report::{Go, GoModule, GoReplacement};

/// The blob's magic.
pub(crate) const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The blob's header size.
pub(crate) const BUILDINFO_HEADER: usize = 32;
/// How far into the data segment the Go tool looks for the blob; so do we.
pub(crate) const BUILDINFO_SEARCH: u64 = 64 << 10;
/// The largest old-format string the Go tool reads; so do we.
pub(crate) const MAX_OLD_STRING: u64 = 1 << 20;

/// The strings a blob holds, or where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlobStrings<'a> {
    /// Go 1.18+: the strings themselves.
    Inline {
        version: &'a [u8],
        modinfo: &'a [u8],
    },
    /// Go 1.13-1.17: virtual addresses of two Go string headers `{data, len}`.
    Pointers {
        ptr_size: u8,
        big_endian: bool,
        version_ptr: u64,
        modinfo_ptr: u64,
    },
}

/// Finds the blob in `data`, which starts on a 16-byte boundary of the address space.
pub(crate) fn find_blob(data: &[u8]) -> Option<&[u8]> {
    let finder = memchr::memmem::Finder::new(BUILDINFO_MAGIC);
    let mut from = 0usize;
    loop {
        let rel = finder.find(data.get(from..)?)?;
        let at = from.checked_add(rel)?;
        if at % 16 == 0 && data.len().checked_sub(at)? >= BUILDINFO_HEADER {
            return data.get(at..);
        }
        from = at.checked_add(1)?;
    }
}

/// Decodes the blob's header (and, for the inline format, its strings).
pub(crate) fn parse_blob(blob: &[u8]) -> Result<BlobStrings<'_>, &'static str> {
    if !blob.starts_with(BUILDINFO_MAGIC) || blob.len() < BUILDINFO_HEADER {
        return Err("Go build info truncated");
    }
    let ptr_size = *blob.get(14).ok_or("Go build info truncated")?;
    let flags = *blob.get(15).ok_or("Go build info truncated")?;
    if flags & 2 != 0 {
        let rest = blob
            .get(BUILDINFO_HEADER..)
            .ok_or("Go build info truncated")?;
        let (version, rest) = read_varint_string(rest).ok_or("bad Go version string")?;
        let (modinfo, _) = read_varint_string(rest).ok_or("bad Go module string")?;
        return Ok(BlobStrings::Inline { version, modinfo });
    }
    if ptr_size != 4 && ptr_size != 8 {
        return Err("bad Go build-info pointer size");
    }
    let big_endian = flags & 1 != 0;
    let size = usize::from(ptr_size);
    let second = 16usize.saturating_add(size);
    let version_ptr =
        read_ptr(blob.get(16..), size, big_endian).ok_or("Go build info truncated")?;
    let modinfo_ptr =
        read_ptr(blob.get(second..), size, big_endian).ok_or("Go build info truncated")?;
    Ok(BlobStrings::Pointers {
        ptr_size,
        big_endian,
        version_ptr,
        modinfo_ptr,
    })
}

/// Reads a pointer-sized integer from the start of `bytes`.
pub(crate) fn read_ptr(bytes: Option<&[u8]>, size: usize, big_endian: bool) -> Option<u64> {
    let bytes = bytes?.get(..size)?;
    let mut value: u64 = 0;
    if big_endian {
        for b in bytes {
            value = (value << 8) | u64::from(*b);
        }
    } else {
        for b in bytes.iter().rev() {
            value = (value << 8) | u64::from(*b);
        }
    }
    Some(value)
}

/// A uvarint length followed by that many bytes.
fn read_varint_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    let mut used = 0usize;
    for (i, b) in bytes.iter().enumerate().take(10) {
        let shift = u32::try_from(i.checked_mul(7)?).ok()?;
        len |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            used = i.checked_add(1)?;
            break;
        }
    }
    if used == 0 {
        return None;
    }
    let len = usize::try_from(len).ok()?;
    let rest = bytes.get(used..)?;
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// Strips the 16-byte sentinels the Go linker puts around the module text.
pub(crate) fn strip_sentinels(modinfo: &[u8]) -> &[u8] {
    let n = modinfo.len();
    if n >= 33 && n.checked_sub(17).and_then(|i| modinfo.get(i)) == Some(&b'\n') {
        modinfo.get(16..n.saturating_sub(16)).unwrap_or(modinfo)
    } else {
        modinfo
    }
}

/// The parsed module text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ModInfo {
    pub main_package: Option<String>,
    pub main_module: Option<GoModule>,
    pub deps: Vec<GoModule>,
    pub settings: BTreeMap<String, String>,
}

/// Parses the tab-separated module text (`go version -m` prints the same lines).
pub(crate) fn parse_modinfo(text: &str) -> ModInfo {
    let mut info = ModInfo::default();
    for line in text.lines() {
        let mut fields = line.split('\t');
        match fields.next() {
            Some("path") => info.main_package = fields.next().map(str::to_string),
            Some("mod") => info.main_module = module_from(fields),
            Some("dep") => {
                if let Some(m) = module_from(fields) {
                    info.deps.push(m);
                }
            }
            Some("=>") => {
                let replacement = module_from(fields).map(|m| GoReplacement {
                    path: m.path,
                    version: m.version,
                    sum: m.sum,
                });
                let target = info.deps.last_mut().or(info.main_module.as_mut());
                if let Some(target) = target {
                    target.replace = replacement;
                }
            }
            Some("build") => {
                if let Some(setting) = fields.next() {
                    // Values may be quoted when they hold spaces or tabs.
                    let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
                    let value = unquote(value);
                    info.settings.insert(key.to_string(), value);
                }
            }
            _ => {}
        }
    }
    info
}

fn module_from<'a>(mut fields: impl Iterator<Item = &'a str>) -> Option<GoModule> {
    let path = fields.next().filter(|p| !p.is_empty())?;
    let version = fields.next().filter(|v| !v.is_empty()).map(str::to_string);
    let sum = fields.next().filter(|s| !s.is_empty()).map(str::to_string);
    Some(GoModule {
        path: path.to_string(),
        version,
        sum,
        replace: None,
    })
}

fn unquote(value: &str) -> String {
    let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    if !quoted {
        return value.to_string();
    }
    let inner = value.get(1..value.len().saturating_sub(1)).unwrap_or(value);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Assembles the report's Go facts.
pub(crate) fn facts(
    version: Option<String>,
    modinfo: Option<ModInfo>,
    build_info_found: bool,
    cgo_used: bool,
    evidence: Vec<String>,
) -> Go {
    let info = modinfo.unwrap_or_default();
    let cgo_enabled = match info.settings.get("CGO_ENABLED").map(String::as_str) {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    };
    let tags = info
        .settings
        .get("-tags")
        .map(|t| {
            t.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Go {
        version,
        cgo_enabled,
        cgo_used,
        tags,
        settings: info.settings,
        main_module: info.main_module,
        deps: info.deps,
        main_package: info.main_package,
        build_info_found,
        evidence,
    }
}

/// Looks for a `go1.N[.M]` release string (the runtime's build version) in read-only data.
/// Go strings are not NUL-terminated and sit side by side, so digits are capped at two per
/// part to avoid running into a neighbour.
pub(crate) fn find_version_string(data: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"go1.");
    for at in finder.find_iter(data) {
        let before_ok = at == 0
            || at
                .checked_sub(1)
                .and_then(|i| data.get(i))
                .is_some_and(|b| !b.is_ascii_alphanumeric());
        if !before_ok {
            continue;
        }
        let rest = data.get(at.saturating_add(4)..).unwrap_or(&[]);
        let minor = digits(rest, 2);
        if minor == 0 {
            continue;
        }
        let mut len = 4usize.saturating_add(minor);
        let after = rest.get(minor..).unwrap_or(&[]);
        if after.first() == Some(&b'.') {
            let patch = digits(after.get(1..).unwrap_or(&[]), 2);
            if patch > 0 {
                len = len.saturating_add(1).saturating_add(patch);
            }
        }
        let text = data.get(at..at.saturating_add(len))?;
        return std::str::from_utf8(text).ok().map(str::to_string);
    }
    None
}

fn digits(bytes: &[u8], max: usize) -> usize {
    bytes
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// Whether `data` holds a pclntab header: a known magic, two zero bytes, an instruction
/// quantum of 1, 2 or 4, and a pointer size of 4 or 8.
pub(crate) fn find_pclntab(data: &[u8], big_endian: bool) -> bool {
    const MAGICS: [u32; 4] = [0xffff_fffb, 0xffff_fffa, 0xffff_fff0, 0xffff_fff1];
    MAGICS.iter().any(|magic| {
        let bytes = if big_endian {
            magic.to_be_bytes()
        } else {
            magic.to_le_bytes()
        };
        let pattern = [bytes[0], bytes[1], bytes[2], bytes[3], 0, 0];
        memchr::memmem::find_iter(data, &pattern).any(|at| {
            let tail = at
                .checked_add(6)
                .and_then(|i| data.get(i..i.checked_add(2)?));
            matches!(tail, Some([1 | 2 | 4, 4 | 8]))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Go 1.18+ blob: header, then uvarint-prefixed version and module strings.
    fn inline_blob(version: &[u8], modinfo: &[u8]) -> Vec<u8> {
        let mut blob = BUILDINFO_MAGIC.to_vec();
        blob.push(8);
        blob.push(2);
        blob.resize(BUILDINFO_HEADER, 0);
        blob.push(u8::try_from(version.len()).unwrap_or(0));
        blob.extend_from_slice(version);
        let n = modinfo.len();
        blob.push(u8::try_from(n & 0x7f).unwrap_or(0) | 0x80);
        blob.push(u8::try_from(n >> 7).unwrap_or(0));
        blob.extend_from_slice(modinfo);
        blob
    }

    #[test]
    fn inline_format_round_trips() {
        let text = b"path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n";
        let mut framed = vec![0x30u8; 16];
        framed.extend_from_slice(text);
        framed.extend_from_slice(&[0xf9; 16]);
        let blob = inline_blob(b"go1.24.4", &framed);
        let BlobStrings::Inline { version, modinfo } = parse_blob(&blob).expect("parses") else {
            panic!("inline format expected");
        };
        assert_eq!(version, b"go1.24.4");
        assert_eq!(strip_sentinels(modinfo), text);
    }

    #[test]
    fn pointer_format_reads_both_pointers_in_either_byte_order() {
        let mut blob = BUILDINFO_MAGIC.to_vec();
        blob.extend_from_slice(&[4, 1]);
        blob.extend_from_slice(&0x0040_1000u32.to_be_bytes());
        blob.extend_from_slice(&0x0040_2000u32.to_be_bytes());
        blob.resize(BUILDINFO_HEADER, 0);
        assert_eq!(
            parse_blob(&blob),
            Ok(BlobStrings::Pointers {
                ptr_size: 4,
                big_endian: true,
                version_ptr: 0x0040_1000,
                modinfo_ptr: 0x0040_2000
            })
        );
    }

    #[test]
    fn blob_must_be_16_byte_aligned() {
        let mut data = vec![0u8; 7];
        data.extend_from_slice(&inline_blob(b"go1.1", b""));
        data.resize(64, 0);
        assert!(find_blob(&data).is_none());
        let mut aligned = vec![0u8; 16];
        aligned.extend_from_slice(&inline_blob(b"go1.1", b""));
        assert!(find_blob(&aligned).is_some());
    }

    #[test]
    fn modinfo_lines() {
        let text = "path\tgithub.com/x/cmd\nmod\tgithub.com/x\tv1.2.3\th1:abc=\n\
                    dep\tgolang.org/x/sys\tv0.1.0\th1:def=\n=>\t../sys\t(devel)\t\n\
                    build\t-tags=netgo,osusergo\nbuild\tCGO_ENABLED=1\n\
                    build\t-ldflags=\"-s -w\"\n";
        let info = parse_modinfo(text);
        assert_eq!(info.main_package.as_deref(), Some("github.com/x/cmd"));
        assert_eq!(
            info.main_module.as_ref().map(|m| m.path.as_str()),
            Some("github.com/x")
        );
        assert_eq!(info.deps.len(), 1);
        assert_eq!(
            info.deps[0].replace.as_ref().map(|r| r.path.as_str()),
            Some("../sys")
        );
        assert_eq!(
            info.settings.get("-ldflags").map(String::as_str),
            Some("-s -w")
        );
        let go = facts(Some("go1.19".into()), Some(info), true, false, vec![]);
        assert_eq!(go.tags, ["netgo", "osusergo"]);
        assert_eq!(go.cgo_enabled, Some(true));
    }

    #[test]
    fn version_string_stops_at_neighbours() {
        assert_eq!(
            find_version_string(b"xx\0go1.19.8gofmt"),
            Some("go1.19.8".into())
        );
        assert_eq!(find_version_string(b"ergo1.5"), None);
        assert_eq!(find_version_string(b"go1.21rc2"), Some("go1.21".into()));
    }

    #[test]
    fn pclntab_header() {
        let header = [0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8];
        assert!(find_pclntab(&header, false));
        let be = [0xff, 0xff, 0xff, 0xf1, 0, 0, 4, 4];
        assert!(find_pclntab(&[&[0u8; 3][..], &be].concat(), true));
        assert!(!find_pclntab(&[0xf1, 0xff, 0xff, 0xff, 0, 0, 3, 8], false));
    }
}
