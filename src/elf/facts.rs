//! The dynamic-linking facts of one file, read in one pass and kept as bytes: what the loader
//! reads (PT_INTERP, DT_NEEDED, SONAME, RPATH, RUNPATH, flags, version needs) and the
//! imported symbols. The analysis reads them from here, and the closure's view of the file
//! (`resolve::object::LoadInfo`) is derived from the same value instead of being rebuilt.

use object::elf as raw;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, ReadRef};

use super::ElfFile;
use super::dynamic::DynamicInfo;
use super::sections::Sections;
use super::strings::{StringTable, StringUse};
use super::symbols::{Imports, VersionNeed};
use crate::error::{ReadError, Result};

/// A file's dynamic facts. Names are bytes, as in the file; the report decodes them.
pub(crate) struct DynamicFacts<'data, R: ReadRef<'data>> {
    /// PT_INTERP, without its NUL.
    pub interpreter: Option<&'data [u8]>,
    /// The decoded PT_DYNAMIC, `None` without one; later readers (relocations, exported
    /// symbols) start from its addresses.
    pub dynamic: Option<DynamicInfo>,
    /// DT_NEEDED, in file order.
    pub needed: Vec<&'data [u8]>,
    pub soname: Option<&'data [u8]>,
    pub rpath: Option<&'data [u8]>,
    pub runpath: Option<&'data [u8]>,
    /// DT_VERNEED; empty when absent or unreadable.
    pub version_needs: Vec<VersionNeed<'data>>,
    /// The imported symbols; none when unreadable.
    pub imports: Imports<'data, R>,
    /// Why optional parts (version needs, symbols) were not read in full, in the order
    /// found: they become report warnings, not errors.
    pub problems: Vec<String>,
}

impl<'data, R: ReadRef<'data>> DynamicFacts<'data, R> {
    /// Whether DF_1_PIE is set.
    pub fn is_pie(&self) -> bool {
        self.dynamic.as_ref().is_some_and(DynamicInfo::is_pie)
    }

    /// Whether DF_1_NODEFLIB is set.
    pub fn nodeflib(&self) -> bool {
        self.dynamic.as_ref().is_some_and(DynamicInfo::nodeflib)
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Reads the dynamic facts. `sections`, when present, only hint at the number of
    /// dynamic symbols.
    ///
    /// `Err` when PT_INTERP, PT_DYNAMIC, DT_STRTAB or one of the loader's names cannot be
    /// read: no answer about the file would be right without them. Version needs and
    /// symbols are optional: unreadable, they are left empty and `problems` says why.
    pub fn dynamic_facts(
        &self,
        sections: Option<&Sections<'data, H>>,
    ) -> Result<DynamicFacts<'data, R>> {
        let interpreter = self.interpreter()?;
        let dynamic = self.dynamic()?;
        let strings = match &dynamic {
            Some(info) => self.dynamic_strings(info, StringUse::Many)?,
            None => None,
        };
        let string_at = |offset: u64| -> Result<&'data [u8]> {
            strings
                .as_ref()
                .or_malformed("dynamic string referenced but DT_STRTAB is missing")?
                .get(offset)
        };
        let mut needed = Vec::new();
        if let Some(info) = &dynamic {
            for offset in &info.needed {
                needed.push(string_at(*offset)?);
            }
        }
        let name = |pick: fn(&DynamicInfo) -> Option<u64>| {
            dynamic.as_ref().and_then(pick).map(string_at).transpose()
        };
        let soname = name(|d| d.soname)?;
        let rpath = name(|d| d.rpath)?;
        let runpath = name(|d| d.runpath)?;
        let mut problems = Vec::new();
        let (version_needs, imports) = match (&dynamic, &strings) {
            (Some(info), Some(strings)) => {
                self.read_symbols(info, strings, sections, &mut problems)
            }
            _ => (Vec::new(), Imports::none()),
        };
        if !imports.complete {
            problems.push("the list of imported symbols may be incomplete".into());
        }
        Ok(DynamicFacts {
            interpreter,
            dynamic,
            needed,
            soname,
            rpath,
            runpath,
            version_needs,
            imports,
            problems,
        })
    }

    /// The version needs and the imports; each empty, and a problem, when it cannot be
    /// read.
    fn read_symbols(
        &self,
        info: &DynamicInfo,
        strings: &StringTable<'data, R>,
        sections: Option<&Sections<'data, H>>,
        problems: &mut Vec<String>,
    ) -> (Vec<VersionNeed<'data>>, Imports<'data, R>) {
        let version_needs = self.version_needs(info, strings).unwrap_or_else(|e| {
            problems.push(format!("version needs unreadable: {e}"));
            Vec::new()
        });
        // A `.dynsym` section at DT_SYMTAB's address gives the symbol count.
        let dynsym_count = match (sections, info.symtab) {
            (Some(sections), Some(addr)) => {
                sections.by_address(addr, raw::SHT_DYNSYM).and_then(|sh| {
                    let size: u64 = sh.sh_size(self.endian).into();
                    size.checked_div(std::mem::size_of::<H::Sym>() as u64)
                })
            }
            _ => None,
        };
        let imports = self
            .imports(info, strings, &version_needs, dynsym_count)
            .unwrap_or_else(|e| {
                problems.push(format!("dynamic symbols unreadable: {e}"));
                Imports::none()
            });
        (version_needs, imports)
    }
}
