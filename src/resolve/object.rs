//! What the loader reads of each object it maps: identity (class, byte order, machine,
//! OS ABI), DT_NEEDED, SONAME, RPATH, RUNPATH, DF_1_NODEFLIB, version needs and definitions.

use std::path::PathBuf;
use std::sync::Arc;

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::FileHeader;
use object::{Endianness, ReadRef};

use crate::abi::{self, Abi};
use crate::elf::strings::StringUse;
use crate::elf::symbols::VersionNeed;
use crate::elf::{ElfFile, Ident};
use crate::error::{Error, Limits, Result};
use crate::report;
use crate::rootfs::Content;
use crate::source::FileSource;

/// One object as the loader sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadInfo {
    pub is_64: bool,
    pub big_endian: bool,
    pub machine: u16,
    pub os_abi: u8,
    pub hard_float: bool,
    pub e_type: u16,
    pub interpreter: Option<String>,
    /// Shared names: a closure keys its lookups by them, for every file that needs them.
    pub needed: Vec<Arc<str>>,
    pub soname: Option<Arc<str>>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub nodeflib: bool,
    /// The versions needed of each library, as reports list them (made once per object).
    pub version_needs: Arc<[report::VersionNeed]>,
    /// Sorted.
    pub defined_versions: Vec<String>,
}

impl LoadInfo {
    /// The identity fields from the file header; the dynamic facts are left empty.
    pub fn identity<'data, H, R>(elf: &ElfFile<'data, H, R>, ident: Ident) -> LoadInfo
    where
        H: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        LoadInfo {
            is_64: ident.is_64,
            big_endian: ident.big_endian,
            machine: elf.e_machine(),
            os_abi: ident.os_abi,
            hard_float: abi::hard_float(elf.e_flags()),
            e_type: elf.e_type(),
            ..LoadInfo::default()
        }
    }

    /// The ABI its header states.
    pub fn abi(&self) -> Abi {
        Abi {
            machine: self.machine,
            is_64: self.is_64,
            big_endian: self.big_endian,
            hard_float: self.hard_float,
        }
    }

    /// Version needs as reports list them.
    pub fn version_needs_of(needs: &[VersionNeed<'_>]) -> Arc<[report::VersionNeed]> {
        needs
            .iter()
            .map(|n| report::VersionNeed {
                soname: text(n.file),
                versions: n.versions.iter().map(|v| text(v.name)).collect(),
            })
            .collect()
    }

    /// Whether glibc's loader would accept this object for a process of `main`'s ABI:
    /// the same class, byte order, machine and float ABI, an OS ABI of System V or GNU, and
    /// a loadable type (`open_verify` in glibc `elf/dl-load.c`).
    pub fn compatible_with(&self, main: &LoadInfo) -> bool {
        self.loadable_for(main.machine, main.is_64, main.big_endian)
            && (!abi::float_abi_matters(self.machine) || self.hard_float == main.hard_float)
    }

    /// The loader's view of a program known by its report alone. A report carries neither
    /// ARM's float ABI (`hard_float` says which to take) nor DF_1_NODEFLIB (taken as unset),
    /// nor the program's version needs and definitions (left empty).
    pub fn from_report(report: &report::Report, hard_float: bool) -> LoadInfo {
        let elf = &report.elf;
        let list = |entries: &[String]| (!entries.is_empty()).then(|| entries.join(":"));
        LoadInfo {
            is_64: elf.class == 64,
            big_endian: elf.endian == report::Endian::Big,
            machine: elf.e_machine,
            os_abi: elf.os_abi,
            hard_float,
            e_type: match elf.file_type {
                report::FileType::Exec => elf::ET_EXEC,
                report::FileType::Dyn => elf::ET_DYN,
                report::FileType::Rel => elf::ET_REL,
                report::FileType::Core => elf::ET_CORE,
                _ => elf::ET_NONE,
            }
            .0,
            interpreter: report.interpreter.clone(),
            needed: report.needed.iter().map(|n| n.as_str().into()).collect(),
            soname: report.soname.as_deref().map(Into::into),
            // The report splits them on `:`, in file order: joined, they are as written.
            rpath: list(&report.rpath),
            runpath: list(&report.runpath),
            ..LoadInfo::default()
        }
    }

    /// The same checks, bar ARM's float ABI: machine, class and byte order, System V or GNU
    /// OS ABI, and a loadable type.
    fn loadable_for(&self, machine: u16, is_64: bool, big_endian: bool) -> bool {
        self.is_64 == is_64
            && self.big_endian == big_endian
            && self.machine == machine
            && matches!(
                elf::OsAbi(self.os_abi),
                elf::ELFOSABI_SYSV | elf::ELFOSABI_GNU
            )
            && matches!(elf::FileType(self.e_type), elf::ET_EXEC | elf::ET_DYN)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The loader facts of a file opened in a root.
pub(crate) fn read_content(content: Content, limits: &Limits) -> Result<LoadInfo> {
    match content {
        Content::File(file, len) => {
            let source = FileSource::with_length(file, len).map_err(|source| Error::Io {
                path: PathBuf::new(),
                source,
            })?;
            read_from(&source, limits)
        }
        Content::Bytes(bytes) => read_from(&*bytes, limits),
    }
}

fn read_from<'data, R: ReadRef<'data>>(data: R, limits: &Limits) -> Result<LoadInfo> {
    let ident = Ident::parse(data)?;
    if ident.is_64 {
        let elf = ElfFile::<FileHeader64<Endianness>, _>::parse(data, limits)?;
        from_elf(&elf, ident)
    } else {
        let elf = ElfFile::<FileHeader32<Endianness>, _>::parse(data, limits)?;
        from_elf(&elf, ident)
    }
}

fn from_elf<'data, H, R>(elf: &ElfFile<'data, H, R>, ident: Ident) -> Result<LoadInfo>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let mut info = LoadInfo {
        interpreter: elf.interpreter()?.map(text),
        ..LoadInfo::identity(elf, ident)
    };
    let Some(dynamic) = elf.dynamic()? else {
        return Ok(info);
    };
    info.nodeflib = dynamic.nodeflib();
    let Some(strings) = elf.dynamic_strings(&dynamic, StringUse::Few)? else {
        return Ok(info);
    };
    for offset in &dynamic.needed {
        info.needed.push(text(strings.get(*offset)?).into());
    }
    info.soname = dynamic
        .soname
        .map(|o| strings.get(o))
        .transpose()?
        .map(|s| text(s).into());
    info.rpath = dynamic.rpath.map(|o| strings.get(o)).transpose()?.map(text);
    info.runpath = dynamic
        .runpath
        .map(|o| strings.get(o))
        .transpose()?
        .map(text);
    // Version data that cannot be read leaves the checks it feeds empty, not the closure.
    if let Ok(needs) = elf.version_needs(&dynamic, &strings) {
        info.version_needs = LoadInfo::version_needs_of(&needs);
    }
    if let Ok(defined) = elf.version_definitions(&dynamic, &strings) {
        info.defined_versions = defined.into_iter().map(text).collect();
        // Sorted, for the version checks' binary search.
        info.defined_versions.sort_unstable();
    }
    Ok(info)
}

impl LoadInfo {
    /// The loader's view of a file the analysis has read: its identity from the header,
    /// the rest from its dynamic facts. The file's own version definitions are not among
    /// the facts and stay empty.
    pub(crate) fn from_facts<'data, H, R>(
        elf: &ElfFile<'data, H, R>,
        ident: Ident,
        facts: &crate::elf::facts::DynamicFacts<'data, R>,
    ) -> LoadInfo
    where
        H: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        LoadInfo {
            interpreter: facts.interpreter.map(text),
            needed: facts.needed.iter().map(|n| text(n).into()).collect(),
            soname: facts.soname.map(|s| text(s).into()),
            rpath: facts.rpath.map(text),
            runpath: facts.runpath.map(text),
            nodeflib: facts.nodeflib(),
            version_needs: LoadInfo::version_needs_of(&facts.version_needs),
            ..LoadInfo::identity(elf, ident)
        }
    }
}
