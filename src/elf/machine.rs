//! Names for `e_machine` and `EI_OSABI`, by the old paths; the table is [`crate::abi`].

// kept for callers being rewritten; use crate::abi
pub(crate) use crate::abi::os_of_osabi;

use crate::abi::Abi;

// kept for callers being rewritten; use crate::abi
/// The architecture name for an `e_machine` value and ELF class, in Rust's `target_arch`
/// spelling; `em_<number>` for machines Rust has no name for.
pub(crate) fn machine_name(e_machine: u16, is_64: bool) -> String {
    let abi = Abi {
        machine: e_machine,
        is_64,
        big_endian: false,
        hard_float: false,
    };
    abi.rust_arch()
}

// kept for callers being rewritten; use crate::abi
/// The OCI (and Go GOARCH) architecture name of a machine, when there is one.
pub(crate) fn oci_arch(e_machine: u16, is_64: bool, big_endian: bool) -> Option<&'static str> {
    let abi = Abi {
        machine: e_machine,
        is_64,
        big_endian,
        hard_float: false,
    };
    abi.oci_arch()
}
