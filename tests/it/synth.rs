//! ELF files synthesized byte by byte: formats no toolchain here produces (Go's pre-1.18
//! build info, big-endian 32-bit), and shapes for the loader-side rules.

use runbase::Options;
use runbase::report::{LibcFamily, Linkage};

/// Where synthesized files are loaded: file offset N is at address BASE + N.
pub const BASE: u64 = 0x40_0000;

/// A segment: type, flags, and its bytes (placed at a 16-byte aligned file offset).
pub struct Segment {
    pub p_type: u32,
    pub flags: u32,
    pub data: Vec<u8>,
}

/// A minimal ELF file: header, program headers, then the segments' bytes. A first PT_LOAD
/// (read, write and execute) covers the whole file, so every address inside maps.
pub struct Synth {
    pub is_64: bool,
    pub big_endian: bool,
    pub e_type: u16,
    pub e_machine: u16,
    pub entry: u64,
    pub segments: Vec<Segment>,
}

impl Synth {
    pub fn new(is_64: bool, big_endian: bool) -> Self {
        Synth {
            is_64,
            big_endian,
            e_type: 2,
            e_machine: if is_64 { 62 } else { 3 },
            entry: BASE,
            segments: Vec::new(),
        }
    }

    pub fn ehsize(&self) -> usize {
        if self.is_64 { 64 } else { 52 }
    }

    pub fn phentsize(&self) -> usize {
        if self.is_64 { 56 } else { 32 }
    }

    /// The file offset at which segment `index` will be placed.
    pub fn offset_of(&self, index: usize) -> u64 {
        let mut at = self.ehsize() + self.phentsize() * (self.segments.len() + 1);
        for (i, seg) in self.segments.iter().enumerate() {
            at = at.next_multiple_of(16);
            if i == index {
                return at as u64;
            }
            at += seg.data.len();
        }
        at.next_multiple_of(16) as u64
    }

    /// The address segment `index` will have.
    pub fn addr_of(&self, index: usize) -> u64 {
        BASE + self.offset_of(index)
    }

    pub fn word(&self, out: &mut Vec<u8>, v: u64) {
        if self.is_64 {
            self.u64(out, v);
        } else {
            self.u32(out, v as u32);
        }
    }

    pub fn u16(&self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    pub fn u32(&self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    pub fn u64(&self, out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    /// A dynamic table (tag, value pairs) in this file's word size and byte order.
    pub fn dynamic(&self, entries: &[(u64, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, value) in entries {
            self.word(&mut out, *tag);
            self.word(&mut out, *value);
        }
        out
    }

    pub fn build(&self) -> Vec<u8> {
        let total = self.offset_of(self.segments.len()) as usize;
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF");
        out.push(if self.is_64 { 2 } else { 1 });
        out.push(if self.big_endian { 2 } else { 1 });
        out.push(1);
        out.resize(16, 0);
        self.u16(&mut out, self.e_type);
        self.u16(&mut out, self.e_machine);
        self.u32(&mut out, 1);
        self.word(&mut out, self.entry);
        self.word(&mut out, self.ehsize() as u64);
        self.word(&mut out, 0);
        self.u32(&mut out, 0);
        self.u16(&mut out, self.ehsize() as u16);
        self.u16(&mut out, self.phentsize() as u16);
        self.u16(&mut out, (self.segments.len() + 1) as u16);
        self.u16(&mut out, if self.is_64 { 64 } else { 40 });
        self.u16(&mut out, 0);
        self.u16(&mut out, 0);
        assert_eq!(out.len(), self.ehsize());
        let phdr = |out: &mut Vec<u8>, p_type: u32, flags: u32, offset: u64, size: u64| {
            self.u32(out, p_type);
            if self.is_64 {
                self.u32(out, flags);
            }
            self.word(out, offset);
            self.word(out, BASE + offset);
            self.word(out, BASE + offset);
            self.word(out, size);
            self.word(out, size);
            if !self.is_64 {
                self.u32(out, flags);
            }
            self.word(out, if p_type == 1 { 0x1000 } else { 8 });
        };
        phdr(&mut out, 1, 7, 0, total as u64);
        for (i, seg) in self.segments.iter().enumerate() {
            phdr(
                &mut out,
                seg.p_type,
                seg.flags,
                self.offset_of(i),
                seg.data.len() as u64,
            );
        }
        for (i, seg) in self.segments.iter().enumerate() {
            out.resize(self.offset_of(i) as usize, 0);
            out.extend_from_slice(&seg.data);
        }
        out.resize(total, 0);
        out
    }
}

/// A copy of an ELF file without its section header table (e_shoff, e_shnum and
/// e_shstrndx zeroed), as `sstrip` leaves files.
pub fn without_section_headers(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let ranges: &[std::ops::Range<usize>] = if out[4] == 2 {
        &[0x28..0x30, 0x3c..0x40]
    } else {
        &[0x20..0x24, 0x30..0x34]
    };
    for r in ranges {
        out[r.clone()].fill(0);
    }
    out
}

/// Go 1.13-1.17 build info: the blob holds pointers to Go string headers.
fn old_go_binary(is_64: bool, big_endian: bool) -> Vec<u8> {
    let mut synth = Synth::new(is_64, big_endian);
    let ptr = if is_64 { 8 } else { 4 };
    let version = b"go1.16.15".to_vec();
    let modinfo = {
        let mut m = vec![0x30u8; 16];
        m.extend_from_slice(
            b"path\texample.com/old\nmod\texample.com/old\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.7\th1:abc=\n",
        );
        m.extend_from_slice(&[0xf9; 16]);
        m
    };
    // Segment 0 (RW data): the blob. Segment 1 (R): two string headers and the bytes.
    synth.segments.push(Segment {
        p_type: 1,
        flags: 6,
        data: vec![0; 32],
    });
    synth.segments.push(Segment {
        p_type: 1,
        flags: 4,
        data: vec![0; 4 * ptr + version.len() + modinfo.len()],
    });
    // The Go build ID note, which the Go linker always writes (namesz 4, "Go\0\0", type 4).
    let mut note = Vec::new();
    synth.u32(&mut note, 4);
    synth.u32(&mut note, 8);
    synth.u32(&mut note, 4);
    note.extend_from_slice(b"Go\0\0buildid!");
    synth.segments.push(Segment {
        p_type: 4,
        flags: 4,
        data: note,
    });
    let strings_at = synth.addr_of(1);
    let version_hdr = strings_at;
    let modinfo_hdr = strings_at + 2 * ptr as u64;
    let version_data = strings_at + 4 * ptr as u64;
    let modinfo_data = version_data + version.len() as u64;

    let mut blob = b"\xff Go buildinf:".to_vec();
    blob.push(ptr as u8);
    blob.push(if big_endian { 1 } else { 0 });
    synth.word(&mut blob, version_hdr);
    synth.word(&mut blob, modinfo_hdr);
    blob.resize(32, 0);
    let mut strings = Vec::new();
    synth.word(&mut strings, version_data);
    synth.word(&mut strings, version.len() as u64);
    synth.word(&mut strings, modinfo_data);
    synth.word(&mut strings, modinfo.len() as u64);
    strings.extend_from_slice(&version);
    strings.extend_from_slice(&modinfo);
    synth.segments[0].data = blob;
    synth.segments[1].data = strings;
    // The first PT_LOAD of the builder is RWX; the blob must be found in the first RW one,
    // which the scan picks by its flags, so make the covering one read-execute only.
    let mut bytes = synth.build();
    let flags_at = synth.ehsize() + if is_64 { 4 } else { 24 };
    let flags = if big_endian {
        5u32.to_be_bytes()
    } else {
        5u32.to_le_bytes()
    };
    bytes[flags_at..flags_at + 4].copy_from_slice(&flags);
    bytes
}

#[test]
fn go_pre_1_18_build_info_in_every_class_and_byte_order() {
    for (is_64, big_endian) in [(true, false), (false, true), (false, false), (true, true)] {
        let bytes = old_go_binary(is_64, big_endian);
        let report = runbase::inspect_bytes("old-go", &bytes, &Options::default())
            .unwrap_or_else(|e| panic!("{is_64} {big_endian}: {e}"));
        crate::support::check_schema(&report);
        let go = report
            .go
            .as_ref()
            .unwrap_or_else(|| panic!("{is_64} {big_endian}: no Go"));
        assert_eq!(go.version.as_deref(), Some("go1.16.15"));
        assert_eq!(go.main_package.as_deref(), Some("example.com/old"));
        assert_eq!(go.deps.len(), 1);
        assert_eq!(go.deps[0].path, "golang.org/x/text");
        assert_eq!(go.deps[0].version.as_deref(), Some("v0.3.7"));
        assert!(go.build_info_found);
        assert!(!go.cgo_used);
        assert_eq!(report.linkage, Linkage::Static);
        assert_eq!(report.libc.family, LibcFamily::None);
        assert_eq!(report.elf.class, if is_64 { 64 } else { 32 });
    }
}

/// A dynamic string table, a dynamic section and what points into them.
pub struct DynamicParts {
    pub strtab: Vec<u8>,
    pub names: Vec<(String, u32)>,
}

impl DynamicParts {
    pub fn new() -> Self {
        DynamicParts {
            strtab: vec![0],
            names: Vec::new(),
        }
    }

    pub fn add(&mut self, name: &str) -> u32 {
        let at = self.strtab.len() as u32;
        self.strtab.extend_from_slice(name.as_bytes());
        self.strtab.push(0);
        self.names.push((name.to_string(), at));
        at
    }
}

/// A big-endian 32-bit dynamic file (PowerPC-like), with an interpreter, NEEDED, SONAME,
/// RUNPATH: no toolchain here builds one, so its bytes are written out here.
#[test]
fn big_endian_32_bit_dynamic_file() {
    let mut synth = Synth::new(false, true);
    synth.e_machine = 20;
    synth.e_type = 3;
    let mut parts = DynamicParts::new();
    let libc = parts.add("libc.so.6");
    let libm = parts.add("libm.so.6");
    let soname = parts.add("libdemo.so.2");
    let runpath = parts.add("$ORIGIN:/opt/x");
    let interp = b"/lib/ld.so.1\0".to_vec();
    synth.segments.push(Segment {
        p_type: 3,
        flags: 4,
        data: interp,
    });
    synth.segments.push(Segment {
        p_type: 1,
        flags: 4,
        data: parts.strtab.clone(),
    });
    synth.segments.push(Segment {
        p_type: 2,
        flags: 6,
        data: vec![0; 8 * 8],
    });
    let strtab_addr = synth.addr_of(1);
    synth.segments[2].data = synth.dynamic(&[
        (1, libc as u64),
        (1, libm as u64),
        (14, soname as u64),
        (29, runpath as u64),
        (5, strtab_addr),
        (10, parts.strtab.len() as u64),
        (0, 0),
    ]);
    let bytes = synth.build();
    let report = runbase::inspect_bytes("be32", &bytes, &Options::default()).unwrap();
    crate::support::check_schema(&report);
    assert_eq!(report.elf.class, 32);
    assert_eq!(report.elf.machine, "powerpc");
    assert_eq!(report.platform.as_deref(), Some("linux/ppc"));
    assert_eq!(report.interpreter.as_deref(), Some("/lib/ld.so.1"));
    assert_eq!(report.needed, ["libc.so.6", "libm.so.6"]);
    assert_eq!(report.soname.as_deref(), Some("libdemo.so.2"));
    assert_eq!(report.runpath, ["$ORIGIN", "/opt/x"]);
    assert_eq!(report.linkage, Linkage::SharedLibrary);
    assert_eq!(report.libc.family, LibcFamily::Glibc);

    // goblin, an independent parser, reads the same bytes the same way.
    let elf = goblin::elf::Elf::parse(&bytes).expect("goblin parses it");
    assert_eq!(elf.libraries, ["libc.so.6", "libm.so.6"]);
    assert_eq!(elf.soname, Some("libdemo.so.2"));
    assert_eq!(elf.interpreter, Some("/lib/ld.so.1"));
}

/// A program whose only dynamic tags are a symbol table and no hash: what LLD and Rust
/// emit for a static-pie when they leave out DF_1_PIE.
#[test]
fn static_pie_without_df_1_pie_and_a_loader_that_exports() {
    let mut synth = Synth::new(true, false);
    synth.e_type = 3;
    synth.entry = BASE + 0x100;
    let parts = DynamicParts::new();
    synth.segments.push(Segment {
        p_type: 1,
        flags: 4,
        data: parts.strtab.clone(),
    });
    synth.segments.push(Segment {
        p_type: 2,
        flags: 6,
        data: Vec::new(),
    });
    let strtab_addr = synth.addr_of(0);
    synth.segments[1].data =
        synth.dynamic(&[(5, strtab_addr), (10, parts.strtab.len() as u64), (0, 0)]);
    let bytes = synth.build();
    let report = runbase::inspect_bytes("lld-static-pie", &bytes, &Options::default()).unwrap();
    assert_eq!(report.linkage, Linkage::StaticPie);
    assert!(report.executable);
}

/// UPX writes its `l_info` block (checksum, then the magic `UPX!`) right after the program
/// headers of the stub it leaves; no UPX is packaged for this machine, so the layout is
/// written here from the format.
#[test]
fn upx_packed_file() {
    let mut synth = Synth::new(true, false);
    let mut l_info = vec![0x12, 0x34, 0x56, 0x78];
    l_info.extend_from_slice(b"UPX!");
    l_info.extend_from_slice(&[0x0d, 0x16, 0x08, 0x07, 0, 0, 0, 0]);
    synth.segments.push(Segment {
        p_type: 0x6474_e551,
        flags: 6,
        data: l_info,
    });
    let bytes = synth.build();
    let report = runbase::inspect_bytes("upx", &bytes, &Options::default()).unwrap();
    assert_eq!(report.size.packed.as_deref(), Some("upx"));
    let plain = Synth::new(true, false).build();
    let report = runbase::inspect_bytes("plain", &plain, &Options::default()).unwrap();
    assert_eq!(report.size.packed, None);
}

/// uClibc's loader as interpreter, and its `libc.so.0`.
#[test]
fn uclibc_dynamic_file() {
    let mut synth = Synth::new(false, false);
    synth.e_machine = 40;
    let mut parts = DynamicParts::new();
    let libc = parts.add("libc.so.0");
    synth.segments.push(Segment {
        p_type: 3,
        flags: 4,
        data: b"/lib/ld-uClibc.so.0\0".to_vec(),
    });
    synth.segments.push(Segment {
        p_type: 1,
        flags: 4,
        data: parts.strtab.clone(),
    });
    synth.segments.push(Segment {
        p_type: 2,
        flags: 6,
        data: vec![0; 32],
    });
    let strtab = synth.addr_of(1);
    synth.segments[2].data = synth.dynamic(&[
        (1, libc as u64),
        (5, strtab),
        (10, parts.strtab.len() as u64),
        (0, 0),
    ]);
    let report = runbase::inspect_bytes("uclibc", &synth.build(), &Options::default()).unwrap();
    assert_eq!(report.libc.family, LibcFamily::Uclibc);
    assert_eq!(report.linkage, Linkage::Dynamic);
    assert_eq!(report.elf.machine, "arm");
    assert_eq!(report.platform.as_deref(), Some("linux/arm"));
}

/// systemd's `.note.dlopen` metadata (owner `FDO`, type 0x407c0c0a, a JSON array): each
/// entry becomes a dlopen need with the certainty its priority says.
#[test]
fn dlopen_note_metadata() {
    let mut synth = Synth::new(true, false);
    synth.e_type = 3;
    let payload = br#"[{"feature":"zstd","description":"Zstandard compression","priority":"required","soname":["libzstd.so.1"]},{"feature":"idn","priority":"suggested","soname":["libidn2.so.0","libidn.so.12"]},{"feature":"escape","priority":"required","soname":["../../../root/.ssh/id_rsa"]},{"feature":"dots","priority":"required","soname":["/usr/lib/../../etc/shadow"]}]"#;
    let mut note = Vec::new();
    synth.u32(&mut note, 4);
    let mut desc = payload.to_vec();
    desc.resize(payload.len().next_multiple_of(4), 0);
    synth.u32(&mut note, desc.len() as u32);
    synth.u32(&mut note, 0x407c_0c0a);
    note.extend_from_slice(b"FDO\0");
    note.extend_from_slice(&desc);
    let mut parts = DynamicParts::new();
    let libc = parts.add("libc.so.6");
    synth.segments.push(Segment {
        p_type: 3,
        flags: 4,
        data: b"/lib64/ld-linux-x86-64.so.2\0".to_vec(),
    });
    synth.segments.push(Segment {
        p_type: 4,
        flags: 4,
        data: note,
    });
    synth.segments.push(Segment {
        p_type: 1,
        flags: 4,
        data: parts.strtab.clone(),
    });
    synth.segments.push(Segment {
        p_type: 2,
        flags: 6,
        data: vec![0; 64],
    });
    let strtab = synth.addr_of(2);
    synth.segments[3].data = synth.dynamic(&[
        (1, u64::from(libc)),
        (5, strtab),
        (10, parts.strtab.len() as u64),
        (0, 0),
    ]);
    let report =
        runbase::inspect_bytes("dlopen-note", &synth.build(), &Options::default()).unwrap();
    crate::support::check_schema(&report);
    let zstd = report
        .needs
        .iter()
        .find(|n| n.kind.as_str() == "dlopen" && n.name.as_deref() == Some("zstd"))
        .expect("zstd need");
    assert_eq!(zstd.certainty, runbase::report::Certainty::Required);
    assert_eq!(zstd.files[0].path, "/usr/lib/x86_64-linux-gnu/libzstd.so.1");
    // Names that climb out of the library directories name no file to provide.
    for hostile in ["escape", "dots"] {
        assert!(
            !report
                .needs
                .iter()
                .any(|n| n.name.as_deref() == Some(hostile)),
            "{hostile}: {:?}",
            report.needs
        );
    }
    assert!(zstd.files[0].required);
    let idn = report
        .needs
        .iter()
        .find(|n| n.kind.as_str() == "dlopen" && n.name.as_deref() == Some("idn"))
        .expect("idn need");
    assert_eq!(idn.certainty, runbase::report::Certainty::Possible);
    assert!(!idn.files[0].required);
    assert_eq!(
        idn.files[0].condition.as_deref(),
        Some("or one of: libidn.so.12")
    );
}
