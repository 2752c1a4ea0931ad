//! Size facts: what `strip` would save, and whether the file is packed.

use object::elf as raw;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, ReadRef};

use crate::elf::ElfFile;
use crate::elf::sections::Sections;
use crate::report::Size;

/// How much of the file's start is searched for a packer's mark.
const PACKER_WINDOW: u64 = 4096;

/// Symbol-table and debug bytes from the section headers, and packing.
pub(crate) fn size_facts<'data, H, R>(
    elf: &ElfFile<'data, H, R>,
    sections: Option<&Sections<'data, H>>,
) -> Size
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let mut stripped = true;
    let mut symtab_bytes: u64 = 0;
    let mut debug_bytes: u64 = 0;
    if let Some(sections) = sections {
        let sizes: Vec<(&[u8], &H::SectionHeader)> = sections.iter().collect();
        for (name, sh) in &sizes {
            let in_file = sections.file_range(sh, elf.len).map_or(0, |(_, size)| size);
            if sh.sh_type(elf.endian) == raw::SHT_SYMTAB {
                stripped = false;
                symtab_bytes = symtab_bytes.saturating_add(in_file);
                // The symbol names live in the section sh_link points to (`.strtab`).
                let link = usize::try_from(sh.sh_link(elf.endian)).ok();
                if let Some((_, strtab)) = link.and_then(|i| sizes.get(i)) {
                    if strtab.sh_type(elf.endian) == raw::SHT_STRTAB {
                        let size = sections.file_range(strtab, elf.len).map_or(0, |(_, s)| s);
                        symtab_bytes = symtab_bytes.saturating_add(size);
                    }
                }
            } else if is_debug_section(name) {
                debug_bytes = debug_bytes.saturating_add(in_file);
            }
        }
    }
    Size {
        file_bytes: elf.len,
        stripped,
        symtab_bytes,
        debug_bytes,
        packed: packer(elf),
    }
}

fn is_debug_section(name: &[u8]) -> bool {
    name.starts_with(b".debug_")
        || name.starts_with(b".zdebug_")
        || name.starts_with(b".stab")
        || name == b".gdb_index"
        || name == b".line"
}

/// UPX writes `UPX!` into the loader stub right after the program headers.
fn packer<'data, H, R>(elf: &ElfFile<'data, H, R>) -> Option<String>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let head = elf.read_up_to(0, PACKER_WINDOW)?;
    memchr::memmem::find(head, b"UPX!").map(|_| "upx".to_string())
}
