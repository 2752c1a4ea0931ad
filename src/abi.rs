//! What each ABI is called and where its loader looks: one row per ABI (machine, class,
//! byte order, and float ABI where it matters), on `object::elf` constants.
//!
//! Every fact about an architecture lives in [`ROWS`]: the names Rust, OCI and Debian give
//! it, its glibc and musl loaders, glibc's `$PLATFORM`, `glibc-hwcaps` levels and
//! ld.so.cache flags, and the IRELATIVE relocation of its ifuncs. A lookup keys on the
//! fields the fact depends on (a loader's name does not depend on byte order here, a
//! Debian triplet does); when several rows match, the first that holds the fact answers,
//! so a row leaves a fact out when the row above holds it for both.

use object::Endianness::{self, Big, Little};
use object::elf::{self, Machine, RelocationType};

/// An object's ABI, as its file header says.
///
/// Each lookup reads only the fields its fact depends on, and says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Abi {
    /// `e_machine`.
    pub machine: u16,
    pub is_64: bool,
    pub big_endian: bool,
    /// ARM's `EF_ARM_ABI_FLOAT_HARD` (see [`hard_float`]).
    pub hard_float: bool,
}

/// The float ABI a row is for: only ARM's rows tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Float {
    Any,
    Hard,
    Soft,
}

/// One ABI and what it is called; `None` (or empty) where the fact is unknown here or
/// held by an earlier row of the same key.
#[derive(Debug)]
struct Row {
    machine: Machine,
    /// 32 or 64 (`EI_CLASS`).
    bits: u8,
    endian: Endianness,
    float: Float,
    /// As Rust's `target_arch` spells it (what reports print as `machine`).
    rust_arch: &'static str,
    /// As OCI platforms (and Go's `GOARCH`) spell it.
    oci_arch: Option<&'static str>,
    /// Debian's multiarch triplet, which names its library directories.
    triplet: Option<&'static str>,
    /// The standard glibc loader, for files that name none (shared libraries).
    glibc_interpreter: Option<&'static str>,
    /// musl's loader.
    musl_loader: Option<&'static str>,
    /// `$PLATFORM` as the kernel's AT_PLATFORM spells it.
    platform: Option<&'static str>,
    /// The `glibc-hwcaps` levels, best first.
    hwcaps: &'static [&'static str],
    /// The ABI's bits in ld.so.cache entry flags (glibc `sysdeps/generic/ldconfig.h`).
    cache_flags: Option<u32>,
    /// The relocation glibc resolves ifuncs with.
    irelative: Option<RelocationType>,
}

impl Row {
    /// A row with a name and no other fact.
    const fn new(machine: Machine, bits: u8, endian: Endianness, rust_arch: &'static str) -> Row {
        Row {
            machine,
            bits,
            endian,
            float: Float::Any,
            rust_arch,
            oci_arch: None,
            triplet: None,
            glibc_interpreter: None,
            musl_loader: None,
            platform: None,
            hwcaps: &[],
            cache_flags: None,
            irelative: None,
        }
    }
}

// ld.so.cache flag bits of each ABI (`FLAG_*` in glibc `sysdeps/generic/ldconfig.h`).
const FLAG_SPARC_LIB64: u32 = 0x0100;
const FLAG_IA64_LIB64: u32 = 0x0200;
const FLAG_X8664_LIB64: u32 = 0x0300;
const FLAG_S390_LIB64: u32 = 0x0400;
const FLAG_POWERPC_LIB64: u32 = 0x0500;
const FLAG_MIPS64_LIBN64: u32 = 0x0700;
const FLAG_X8664_LIBX32: u32 = 0x0800;
const FLAG_ARM_LIBHF: u32 = 0x0900;
const FLAG_AARCH64_LIB64: u32 = 0x0a00;
const FLAG_ARM_LIBSF: u32 = 0x0b00;
const FLAG_RISCV_FLOAT_ABI_DOUBLE: u32 = 0x1000;
const FLAG_LARCH_FLOAT_ABI_DOUBLE: u32 = 0x1200;

/// Every ABI known here. Lookups take the first matching row, so order matters where rows
/// share a key: ARM's hard-float row (Debian's armhf) comes first, then soft-float.
const ROWS: &[Row] = &[
    Row {
        oci_arch: Some("amd64"),
        triplet: Some("x86_64-linux-gnu"),
        glibc_interpreter: Some("/lib64/ld-linux-x86-64.so.2"),
        musl_loader: Some("/lib/ld-musl-x86_64.so.1"),
        platform: Some("x86_64"),
        hwcaps: &["x86-64-v4", "x86-64-v3", "x86-64-v2"],
        cache_flags: Some(FLAG_X8664_LIB64),
        irelative: Some(elf::R_X86_64_IRELATIVE),
        ..Row::new(elf::EM_X86_64, 64, Little, "x86_64")
    },
    // x32: an x86_64 ABI with 32-bit pointers; Rust calls its arch x86_64 too.
    Row {
        triplet: Some("x86_64-linux-gnux32"),
        cache_flags: Some(FLAG_X8664_LIBX32),
        irelative: Some(elf::R_X86_64_IRELATIVE),
        ..Row::new(elf::EM_X86_64, 32, Little, "x86_64")
    },
    Row {
        oci_arch: Some("386"),
        triplet: Some("i386-linux-gnu"),
        glibc_interpreter: Some("/lib/ld-linux.so.2"),
        musl_loader: Some("/lib/ld-musl-i386.so.1"),
        platform: Some("i686"),
        irelative: Some(elf::R_386_IRELATIVE),
        ..Row::new(elf::EM_386, 32, Little, "x86")
    },
    // Once EM_486.
    Row::new(elf::EM_IAMCU, 32, Little, "x86"),
    Row {
        oci_arch: Some("arm64"),
        triplet: Some("aarch64-linux-gnu"),
        glibc_interpreter: Some("/lib/ld-linux-aarch64.so.1"),
        musl_loader: Some("/lib/ld-musl-aarch64.so.1"),
        platform: Some("aarch64"),
        cache_flags: Some(FLAG_AARCH64_LIB64),
        irelative: Some(elf::R_AARCH64_IRELATIVE),
        ..Row::new(elf::EM_AARCH64, 64, Little, "aarch64")
    },
    Row {
        oci_arch: Some("arm64be"),
        ..Row::new(elf::EM_AARCH64, 64, Big, "aarch64")
    },
    Row {
        float: Float::Hard,
        oci_arch: Some("arm"),
        triplet: Some("arm-linux-gnueabihf"),
        glibc_interpreter: Some("/lib/ld-linux-armhf.so.3"),
        musl_loader: Some("/lib/ld-musl-armhf.so.1"),
        platform: Some("v7l"),
        cache_flags: Some(FLAG_ARM_LIBHF),
        irelative: Some(elf::R_ARM_IRELATIVE),
        ..Row::new(elf::EM_ARM, 32, Little, "arm")
    },
    Row {
        float: Float::Soft,
        oci_arch: Some("arm"),
        triplet: Some("arm-linux-gnueabi"),
        cache_flags: Some(FLAG_ARM_LIBSF),
        ..Row::new(elf::EM_ARM, 32, Little, "arm")
    },
    Row {
        oci_arch: Some("armbe"),
        ..Row::new(elf::EM_ARM, 32, Big, "arm")
    },
    Row {
        oci_arch: Some("ppc64le"),
        triplet: Some("powerpc64le-linux-gnu"),
        glibc_interpreter: Some("/lib64/ld64.so.2"),
        musl_loader: Some("/lib/ld-musl-powerpc64le.so.1"),
        platform: Some("power9"),
        hwcaps: &["power10", "power9"],
        cache_flags: Some(FLAG_POWERPC_LIB64),
        irelative: Some(elf::R_PPC64_IRELATIVE),
        ..Row::new(elf::EM_PPC64, 64, Little, "powerpc64")
    },
    Row {
        oci_arch: Some("ppc64"),
        triplet: Some("powerpc64-linux-gnu"),
        ..Row::new(elf::EM_PPC64, 64, Big, "powerpc64")
    },
    Row {
        oci_arch: Some("ppc"),
        triplet: Some("powerpc-linux-gnu"),
        irelative: Some(elf::R_PPC_IRELATIVE),
        ..Row::new(elf::EM_PPC, 32, Big, "powerpc")
    },
    Row {
        oci_arch: Some("s390x"),
        triplet: Some("s390x-linux-gnu"),
        glibc_interpreter: Some("/lib/ld64.so.1"),
        musl_loader: Some("/lib/ld-musl-s390x.so.1"),
        platform: Some("z13"),
        hwcaps: &["z16", "z15", "z14", "z13"],
        cache_flags: Some(FLAG_S390_LIB64),
        irelative: Some(elf::R_390_IRELATIVE),
        ..Row::new(elf::EM_S390, 64, Big, "s390x")
    },
    Row::new(elf::EM_S390, 32, Big, "s390"),
    Row {
        oci_arch: Some("riscv64"),
        triplet: Some("riscv64-linux-gnu"),
        glibc_interpreter: Some("/lib/ld-linux-riscv64-lp64d.so.1"),
        musl_loader: Some("/lib/ld-musl-riscv64.so.1"),
        cache_flags: Some(FLAG_RISCV_FLOAT_ABI_DOUBLE),
        irelative: Some(elf::R_RISCV_IRELATIVE),
        ..Row::new(elf::EM_RISCV, 64, Little, "riscv64")
    },
    Row::new(elf::EM_RISCV, 32, Little, "riscv32"),
    Row {
        oci_arch: Some("mips64le"),
        triplet: Some("mips64el-linux-gnuabi64"),
        glibc_interpreter: Some("/lib64/ld.so.1"),
        cache_flags: Some(FLAG_MIPS64_LIBN64),
        ..Row::new(elf::EM_MIPS, 64, Little, "mips64")
    },
    Row {
        oci_arch: Some("mips64"),
        ..Row::new(elf::EM_MIPS, 64, Big, "mips64")
    },
    Row {
        oci_arch: Some("mipsle"),
        triplet: Some("mipsel-linux-gnu"),
        ..Row::new(elf::EM_MIPS, 32, Little, "mips")
    },
    Row {
        oci_arch: Some("mips"),
        ..Row::new(elf::EM_MIPS, 32, Big, "mips")
    },
    Row::new(elf::EM_MIPS_RS3_LE, 64, Little, "mips64"),
    Row::new(elf::EM_MIPS_RS3_LE, 32, Little, "mips"),
    Row {
        oci_arch: Some("loong64"),
        triplet: Some("loongarch64-linux-gnu"),
        cache_flags: Some(FLAG_LARCH_FLOAT_ABI_DOUBLE),
        irelative: Some(elf::R_LARCH_IRELATIVE),
        ..Row::new(elf::EM_LOONGARCH, 64, Little, "loongarch64")
    },
    Row::new(elf::EM_LOONGARCH, 32, Little, "loongarch32"),
    Row {
        oci_arch: Some("sparc64"),
        cache_flags: Some(FLAG_SPARC_LIB64),
        irelative: Some(elf::R_SPARC_IRELATIVE),
        ..Row::new(elf::EM_SPARCV9, 64, Big, "sparc64")
    },
    Row {
        irelative: Some(elf::R_SPARC_IRELATIVE),
        ..Row::new(elf::EM_SPARC, 32, Big, "sparc")
    },
    Row {
        cache_flags: Some(FLAG_SPARC_LIB64),
        ..Row::new(elf::EM_SPARC, 64, Big, "sparc")
    },
    Row {
        irelative: Some(elf::R_SPARC_IRELATIVE),
        ..Row::new(elf::EM_SPARC32PLUS, 32, Big, "sparc")
    },
    Row {
        cache_flags: Some(FLAG_IA64_LIB64),
        ..Row::new(elf::EM_IA_64, 64, Little, "ia64")
    },
    Row::new(elf::EM_68K, 32, Big, "m68k"),
    Row::new(elf::EM_CSKY, 32, Little, "csky"),
    Row::new(elf::EM_HEXAGON, 32, Little, "hexagon"),
    Row::new(elf::EM_BPF, 64, Little, "bpf"),
    Row::new(elf::EM_AVR, 32, Little, "avr"),
    Row::new(elf::EM_MSP430, 32, Little, "msp430"),
    Row::new(elf::EM_XTENSA, 32, Little, "xtensa"),
    Row::new(elf::EM_AMDGPU, 64, Little, "amdgpu"),
    Row::new(elf::EM_CUDA, 64, Little, "nvptx64"),
    Row::new(elf::EM_FAKE_ALPHA, 64, Little, "alpha"),
    Row::new(elf::EM_ALPHA, 64, Little, "alpha"),
    Row::new(elf::EM_PARISC, 32, Big, "hppa"),
    Row::new(elf::EM_SH, 32, Little, "sh"),
    Row::new(elf::EM_MICROBLAZE, 32, Big, "microblaze"),
    Row::new(elf::EM_OPENRISC, 32, Big, "or1k"),
    Row::new(elf::EM_ARC_COMPACT2, 32, Little, "arc"),
];

/// The loader a file names when it names none of its own (glibc's generic name).
const GENERIC_INTERPRETER: &str = "/lib/ld.so.1";

impl Abi {
    /// The rows of this machine, in table order.
    fn machine_rows(self) -> impl Iterator<Item = &'static Row> {
        ROWS.iter().filter(move |r| r.machine.0 == self.machine)
    }

    /// The rows of this machine and class.
    fn class_rows(self) -> impl Iterator<Item = &'static Row> {
        let bits = if self.is_64 { 64 } else { 32 };
        self.machine_rows().filter(move |r| r.bits == bits)
    }

    /// The rows of this machine, class and byte order.
    fn endian_rows(self) -> impl Iterator<Item = &'static Row> {
        let endian = if self.big_endian { Big } else { Little };
        self.class_rows().filter(move |r| r.endian == endian)
    }

    /// Whether a row's float ABI admits this one.
    fn float_fits(self, row: &Row) -> bool {
        match row.float {
            Float::Any => true,
            Float::Hard => self.hard_float,
            Float::Soft => !self.hard_float,
        }
    }

    /// The architecture in Rust's `target_arch` spelling (by machine and class, else by
    /// machine alone); `em_<number>` for machines Rust has no name for.
    pub fn rust_arch(self) -> String {
        match self.class_rows().chain(self.machine_rows()).next() {
            Some(row) => row.rust_arch.to_string(),
            None => format!("em_{}", self.machine),
        }
    }

    /// The OCI (and Go `GOARCH`) architecture name, when there is one (by machine, class
    /// and byte order).
    pub fn oci_arch(self) -> Option<&'static str> {
        self.endian_rows().find_map(|r| r.oci_arch)
    }

    /// Debian's multiarch triplet (by machine, class, byte order and float ABI).
    pub fn debian_triplet(self) -> Option<&'static str> {
        self.endian_rows()
            .filter(|r| self.float_fits(r))
            .find_map(|r| r.triplet)
    }

    /// The standard glibc loader, for files that name none (by machine and class):
    /// `/lib/ld.so.1` for ABIs without one here.
    pub fn glibc_interpreter(self) -> &'static str {
        self.class_rows()
            .find_map(|r| r.glibc_interpreter)
            .unwrap_or(GENERIC_INTERPRETER)
    }

    /// `$PLATFORM` as the kernel's AT_PLATFORM spells it (by machine and class); empty
    /// when unknown.
    pub fn platform(self) -> &'static str {
        self.class_rows().find_map(|r| r.platform).unwrap_or("")
    }

    /// The `glibc-hwcaps` levels, best first (by machine and class).
    pub fn hwcaps(self) -> &'static [&'static str] {
        self.class_rows()
            .map(|r| r.hwcaps)
            .find(|levels| !levels.is_empty())
            .unwrap_or(&[])
    }

    /// The ABI's bits in ld.so.cache entry flags, if it has its own (by machine, class
    /// and float ABI).
    pub fn cache_flags(self) -> Option<u32> {
        self.class_rows()
            .filter(|r| self.float_fits(r))
            .find_map(|r| r.cache_flags)
    }
}

/// The IRELATIVE relocation type of a machine, where glibc supports ifuncs.
pub(crate) fn irelative_type(machine: u16) -> Option<u32> {
    ROWS.iter()
        .filter(|r| r.machine.0 == machine)
        .find_map(|r| r.irelative)
        .map(|r| r.0)
}

/// musl's loader path for an OCI platform (`linux/amd64`).
pub(crate) fn musl_loader(platform: &str) -> Option<&'static str> {
    let arch = platform.strip_prefix("linux/")?;
    ROWS.iter()
        .filter(|r| r.oci_arch == Some(arch))
        .find_map(|r| r.musl_loader)
}

/// Whether an ARM object uses the hard-float ABI (`EF_ARM_ABI_FLOAT_HARD` in `e_flags`);
/// hard-float and soft-float objects do not mix.
pub(crate) fn hard_float(e_flags: u32) -> bool {
    e_flags & elf::EF_ARM_ABI_FLOAT_HARD != 0
}

/// Whether objects of this machine must agree on the float ABI to be loaded together.
pub(crate) fn float_abi_matters(machine: u16) -> bool {
    machine == elf::EM_ARM.0
}

/// The operating system an `EI_OSABI` value names (System V and GNU mean Linux here).
pub(crate) fn os_of_osabi(os_abi: u8) -> Option<&'static str> {
    Some(match elf::OsAbi(os_abi) {
        elf::ELFOSABI_SYSV | elf::ELFOSABI_GNU => "linux",
        elf::ELFOSABI_NETBSD => "netbsd",
        elf::ELFOSABI_SOLARIS => "solaris",
        elf::ELFOSABI_FREEBSD => "freebsd",
        elf::ELFOSABI_OPENBSD => "openbsd",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abi(machine: Machine, is_64: bool, big_endian: bool, hard_float: bool) -> Abi {
        Abi {
            machine: machine.0,
            is_64,
            big_endian,
            hard_float,
        }
    }

    #[test]
    fn arm_float_abis() {
        let hard = abi(elf::EM_ARM, false, false, true);
        let soft = abi(elf::EM_ARM, false, false, false);
        assert_eq!(hard.debian_triplet(), Some("arm-linux-gnueabihf"));
        assert_eq!(soft.debian_triplet(), Some("arm-linux-gnueabi"));
        assert_eq!(hard.cache_flags(), Some(FLAG_ARM_LIBHF));
        assert_eq!(soft.cache_flags(), Some(FLAG_ARM_LIBSF));
        // The loader's name is keyed by machine and class: Debian's armhf one for both.
        assert_eq!(soft.glibc_interpreter(), "/lib/ld-linux-armhf.so.3");
        assert_eq!(
            (hard.oci_arch(), soft.oci_arch()),
            (Some("arm"), Some("arm"))
        );
        assert_eq!(musl_loader("linux/arm"), Some("/lib/ld-musl-armhf.so.1"));
    }

    #[test]
    fn names_by_class_then_machine() {
        assert_eq!(
            abi(elf::EM_X86_64, false, false, false).rust_arch(),
            "x86_64"
        );
        assert_eq!(abi(elf::EM_386, true, false, false).rust_arch(), "x86");
        assert_eq!(
            abi(elf::EM_RISCV, false, false, false).rust_arch(),
            "riscv32"
        );
        assert_eq!(
            abi(elf::EM_SPARCV9, false, true, false).rust_arch(),
            "sparc64"
        );
        assert_eq!(
            abi(Machine(0x1234), true, false, false).rust_arch(),
            "em_4660"
        );
    }

    #[test]
    fn facts_of_one_abi() {
        let x86_64 = abi(elf::EM_X86_64, true, false, false);
        assert_eq!(x86_64.oci_arch(), Some("amd64"));
        assert_eq!(x86_64.debian_triplet(), Some("x86_64-linux-gnu"));
        assert_eq!(x86_64.glibc_interpreter(), "/lib64/ld-linux-x86-64.so.2");
        assert_eq!(x86_64.platform(), "x86_64");
        assert_eq!(x86_64.hwcaps(), ["x86-64-v4", "x86-64-v3", "x86-64-v2"]);
        assert_eq!(x86_64.cache_flags(), Some(FLAG_X8664_LIB64));
        assert_eq!(irelative_type(elf::EM_X86_64.0), Some(37));
        assert_eq!(musl_loader("linux/amd64"), Some("/lib/ld-musl-x86_64.so.1"));
        // x32 shares the machine, not the loader or the platform.
        let x32 = abi(elf::EM_X86_64, false, false, false);
        assert_eq!(x32.glibc_interpreter(), GENERIC_INTERPRETER);
        assert_eq!(x32.platform(), "");
        assert_eq!(x32.oci_arch(), None);
    }

    #[test]
    fn musl_loaders_only_for_linux_platforms() {
        assert_eq!(musl_loader("linux/arm64be"), None);
        assert_eq!(musl_loader("freebsd/amd64"), None);
        assert_eq!(musl_loader("linux/arm/v7"), None);
    }
}
