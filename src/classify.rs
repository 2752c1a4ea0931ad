//! Linkage: how the file is meant to be started, from the ELF header and PT_DYNAMIC alone.
//!
//! The rules (those of the report contract):
//! - `ET_EXEC`: `dynamic` with PT_INTERP, else `static`.
//! - `ET_DYN` with PT_INTERP: `dynamic`, or `shared-library` when it also has a DT_SONAME
//!   (glibc's `libc.so.6`, which can be run to print its version).
//! - `ET_DYN` without PT_INTERP: `static-pie` when it is a program: DF_1_PIE is set (GNU ld
//!   `-static-pie`), or it has no SONAME, no NEEDED, an entry point and exports no dynamic
//!   symbols (LLD and Rust static-pie, which may lack DF_1_PIE). Otherwise `shared-library`:
//!   plain libraries, glibc's `ld.so` (SONAME), and musl's `libc.so`, which has no SONAME and
//!   no NEEDED but exports the whole C library: a program does not export its symbols, a
//!   loader does, so musl's loader is a runnable shared library, not a static-pie.
//! - `ET_REL`: `relocatable`; anything else: `other`.

use crate::report::{FileType, Linkage};

/// What classification looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkageInput {
    pub file_type: FileType,
    pub has_interpreter: bool,
    pub has_dynamic: bool,
    pub has_soname: bool,
    pub has_needed: bool,
    pub df_1_pie: bool,
    pub entry: u64,
    /// Whether the file exports defined dynamic symbols; asked only in the one case that
    /// needs it, so `None` elsewhere is fine.
    pub exports_symbols: Option<bool>,
}

impl LinkageInput {
    /// Whether the answer depends on `exports_symbols` (so the caller can compute it only
    /// then).
    pub fn needs_export_check(&self) -> bool {
        self.file_type == FileType::Dyn
            && !self.has_interpreter
            && !self.df_1_pie
            && !self.has_soname
            && !self.has_needed
            && self.entry != 0
            && self.has_dynamic
    }
}

/// The linkage class and whether the file can be started directly.
pub(crate) fn classify(input: &LinkageInput) -> (Linkage, bool) {
    let has_entry = input.entry != 0;
    match input.file_type {
        FileType::Exec => {
            let linkage = if input.has_interpreter {
                Linkage::Dynamic
            } else {
                Linkage::Static
            };
            (linkage, has_entry)
        }
        FileType::Dyn if input.has_interpreter => {
            let linkage = if input.has_soname {
                Linkage::SharedLibrary
            } else {
                Linkage::Dynamic
            };
            (linkage, has_entry)
        }
        FileType::Dyn => {
            let program_shaped = !input.has_soname
                && !input.has_needed
                && has_entry
                && input.exports_symbols != Some(true);
            if input.df_1_pie || program_shaped {
                (Linkage::StaticPie, has_entry)
            } else {
                // A library without PT_INTERP can run only if it relocates itself: the
                // loaders (glibc's ld.so, musl's libc.so) need nothing and have an entry.
                (Linkage::SharedLibrary, has_entry && !input.has_needed)
            }
        }
        FileType::Rel => (Linkage::Relocatable, false),
        FileType::Core | FileType::Other => (Linkage::Other, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(file_type: FileType) -> LinkageInput {
        LinkageInput {
            file_type,
            has_interpreter: false,
            has_dynamic: true,
            has_soname: false,
            has_needed: false,
            df_1_pie: false,
            entry: 0x1000,
            exports_symbols: None,
        }
    }

    #[test]
    fn exec_follows_interpreter() {
        let mut i = input(FileType::Exec);
        assert_eq!(classify(&i), (Linkage::Static, true));
        i.has_interpreter = true;
        assert_eq!(classify(&i), (Linkage::Dynamic, true));
    }

    #[test]
    fn glibc_libc_is_a_runnable_library() {
        let mut i = input(FileType::Dyn);
        i.has_interpreter = true;
        i.has_soname = true;
        i.has_needed = true;
        assert_eq!(classify(&i), (Linkage::SharedLibrary, true));
    }

    #[test]
    fn pie_without_df_1_pie_is_dynamic() {
        let mut i = input(FileType::Dyn);
        i.has_interpreter = true;
        i.has_needed = true;
        assert_eq!(classify(&i), (Linkage::Dynamic, true));
    }

    #[test]
    fn ld_so_is_a_runnable_library() {
        let mut i = input(FileType::Dyn);
        i.has_soname = true;
        assert_eq!(classify(&i), (Linkage::SharedLibrary, true));
    }

    #[test]
    fn musl_loader_is_a_runnable_library_and_lld_static_pie_is_static_pie() {
        let mut i = input(FileType::Dyn);
        assert!(i.needs_export_check());
        i.exports_symbols = Some(true);
        assert_eq!(classify(&i), (Linkage::SharedLibrary, true));
        i.exports_symbols = Some(false);
        assert_eq!(classify(&i), (Linkage::StaticPie, true));
    }

    #[test]
    fn plain_library_is_not_executable() {
        let mut i = input(FileType::Dyn);
        i.entry = 0;
        i.has_needed = true;
        assert_eq!(classify(&i), (Linkage::SharedLibrary, false));
        // An entry point alone does not make a library with dependencies runnable.
        i.entry = 0x1000;
        assert_eq!(classify(&i), (Linkage::SharedLibrary, false));
    }

    #[test]
    fn df_1_pie_wins() {
        let mut i = input(FileType::Dyn);
        i.df_1_pie = true;
        i.has_needed = true;
        assert_eq!(classify(&i), (Linkage::StaticPie, true));
    }
}
