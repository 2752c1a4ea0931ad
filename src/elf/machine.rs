//! Names for `e_machine` (as Rust's `target_arch` spells them) and OCI platforms.

/// The architecture name for an `e_machine` value and ELF class, in Rust's `target_arch`
/// spelling; `em_<number>` for machines Rust has no name for.
pub(crate) fn machine_name(e_machine: u16, is_64: bool) -> String {
    let name = match (e_machine, is_64) {
        (3, _) | (6, _) => "x86",
        // x32 is an x86_64 ABI with 32-bit pointers; Rust calls its arch x86_64 too.
        (62, _) => "x86_64",
        (40, _) => "arm",
        (183, _) => "aarch64",
        (243, true) => "riscv64",
        (243, false) => "riscv32",
        (21, _) => "powerpc64",
        (20, _) => "powerpc",
        (22, true) => "s390x",
        (22, false) => "s390",
        (8, true) | (10, true) => "mips64",
        (8, false) | (10, false) => "mips",
        (258, true) => "loongarch64",
        (258, false) => "loongarch32",
        (43, _) => "sparc64",
        (2, _) | (18, _) => "sparc",
        (4, _) => "m68k",
        (252, _) => "csky",
        (164, _) => "hexagon",
        (247, _) => "bpf",
        (83, _) => "avr",
        (105, _) => "msp430",
        (94, _) => "xtensa",
        (224, _) => "amdgpu",
        (190, _) => "nvptx64",
        (41, _) | (0x9026, _) => "alpha",
        (15, _) => "hppa",
        (50, _) => "ia64",
        (42, _) => "sh",
        (189, _) => "microblaze",
        (92, _) => "or1k",
        (195, _) => "arc",
        _ => return format!("em_{e_machine}"),
    };
    name.to_string()
}

/// The OCI (and Go GOARCH) architecture name of a machine, when there is one.
pub(crate) fn oci_arch(e_machine: u16, is_64: bool, big_endian: bool) -> Option<&'static str> {
    let arch = match (e_machine, is_64, big_endian) {
        (62, true, false) => "amd64",
        (3, false, false) => "386",
        (183, true, false) => "arm64",
        (183, true, true) => "arm64be",
        (40, false, false) => "arm",
        (40, false, true) => "armbe",
        (21, true, false) => "ppc64le",
        (21, true, true) => "ppc64",
        (20, false, true) => "ppc",
        (22, true, true) => "s390x",
        (243, true, false) => "riscv64",
        (8, true, false) => "mips64le",
        (8, true, true) => "mips64",
        (8, false, false) => "mipsle",
        (8, false, true) => "mips",
        (258, true, false) => "loong64",
        (43, true, true) => "sparc64",
        _ => return None,
    };
    Some(arch)
}

/// The operating system an `EI_OSABI` value names (System V and GNU mean Linux here).
pub(crate) fn os_of_osabi(os_abi: u8) -> Option<&'static str> {
    Some(match os_abi {
        0 | 3 => "linux",
        2 => "netbsd",
        6 => "solaris",
        9 => "freebsd",
        12 => "openbsd",
        _ => return None,
    })
}
