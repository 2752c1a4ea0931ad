//! The owned, serde-serializable report: the JSON contract other tools parse.
//!
//! Keys are snake_case and word values are spelled exactly as in the contract
//! (`static-pie`, `shared-library`...). Absent values are `null` or `[]`, never a missing
//! key. The contract grows by adding keys, never by renaming. Strings read from the file are
//! decoded lossily (invalid UTF-8 becomes U+FFFD), and a warning says when that happened.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::version::{ParseVersionError, Version};

/// Text that is usually one of runbase's own fixed strings (kinds, paths, explanations):
/// borrowed when it is, so that a report of many needs costs few allocations.
pub(crate) type Text = std::borrow::Cow<'static, str>;

/// The contract's spelling of each word-valued enum, for people and for `format!`.
macro_rules! display_as_str {
    ($($t:ty),* $(,)?) => {
        $(
            impl std::fmt::Display for $t {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.pad(self.as_str())
                }
            }
        )*
    };
}

display_as_str!(
    Linkage,
    LibcFamily,
    Certainty,
    NeedKind,
    Policy,
    Verdict,
    Code,
    ErrorKind,
    ImageFormat,
    FoundVia,
    LoaderRules
);

/// The contract version carried by every report line.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything runbase found out about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The path as given.
    pub path: String,
    /// File header facts.
    pub elf: ElfHeader,
    /// The OCI platform (`linux/amd64`...) where known: the OS from Go's `GOOS`, bionic
    /// (`android`) or `EI_OSABI`, the architecture in OCI (Go `GOARCH`) spelling.
    pub platform: Option<String>,
    /// How the file is linked.
    pub linkage: Linkage,
    /// Whether the file can be started directly.
    pub executable: bool,
    /// PT_INTERP.
    pub interpreter: Option<String>,
    /// DT_NEEDED, in file order.
    pub needed: Vec<String>,
    /// DT_SONAME.
    pub soname: Option<String>,
    /// DT_RPATH split on `:`, in file order.
    pub rpath: Vec<String>,
    /// DT_RUNPATH split on `:`, in file order.
    pub runpath: Vec<String>,
    /// The C library the file is built for.
    pub libc: Libc,
    /// Go facts, when the file is a Go program.
    pub go: Option<Go>,
    /// Rust facts, when the file was built by rustc.
    pub rust: Option<Rust>,
    /// Size facts: what stripping would save, packing.
    pub size: Size,
    /// Hidden run-time needs: the file's own, and with a closure those of its libraries
    /// (each says `via` which).
    pub needs: Vec<Need>,
    /// The libraries whose hidden needs are not in `needs`, because they were not read:
    /// without a root (`--root`) every DT_NEEDED but the C library's own; with one, those
    /// not found. Empty when `needs` is complete.
    pub needs_not_read: Vec<String>,
    /// The shared-library closure inside a root filesystem, when one was given.
    pub closure: Option<Closure>,
    /// The base-image recommendation, when asked for.
    pub recommendation: Option<Recommendation>,
    /// Whether the file can run in a given root filesystem (`runbase verify`), when asked.
    pub verification: Option<Verification>,
    /// The GNU build ID (hex), when the file has one.
    pub build_id: Option<String>,
    /// Problems met in optional parts of the file; the rest of the report stands.
    pub warnings: Vec<String>,
}

/// File header facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ElfHeader {
    /// 32 or 64.
    pub class: u8,
    /// Byte order.
    pub endian: Endian,
    /// Rust `target_arch` spelling, or `em_<number>`.
    pub machine: String,
    /// `e_machine` as a number.
    pub e_machine: u16,
    /// `e_type`, named.
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// `EI_OSABI` as a number (0 System V, 3 GNU/Linux, 9 FreeBSD...).
    pub os_abi: u8,
    /// `e_entry`.
    pub entry: u64,
}

/// Byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Endian {
    /// Little endian.
    Little,
    /// Big endian.
    Big,
}

/// `e_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FileType {
    /// ET_EXEC.
    Exec,
    /// ET_DYN.
    Dyn,
    /// ET_REL.
    Rel,
    /// ET_CORE.
    Core,
    /// Anything else.
    Other,
}

/// How the file is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum Linkage {
    /// No loader, fixed address.
    #[serde(rename = "static")]
    Static,
    /// No loader, position-independent: relocates itself.
    #[serde(rename = "static-pie")]
    StaticPie,
    /// Started by a program interpreter (PT_INTERP).
    #[serde(rename = "dynamic")]
    Dynamic,
    /// A shared library (possibly runnable, like `ld.so` or glibc's `libc.so.6`).
    #[serde(rename = "shared-library")]
    SharedLibrary,
    /// An object file (ET_REL).
    #[serde(rename = "relocatable")]
    Relocatable,
    /// A core dump or an unknown type.
    #[serde(rename = "other")]
    Other,
}

impl Linkage {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Linkage::Static => "static",
            Linkage::StaticPie => "static-pie",
            Linkage::Dynamic => "dynamic",
            Linkage::SharedLibrary => "shared-library",
            Linkage::Relocatable => "relocatable",
            Linkage::Other => "other",
        }
    }
}

/// The C library family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LibcFamily {
    /// GNU C library.
    Glibc,
    /// musl.
    Musl,
    /// Android's bionic.
    Bionic,
    /// uClibc or uClibc-ng.
    Uclibc,
    /// klibc (early userspace).
    Klibc,
    /// No C library at all (pure Go, freestanding).
    None,
    /// Could not tell.
    Unknown,
}

impl LibcFamily {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LibcFamily::Glibc => "glibc",
            LibcFamily::Musl => "musl",
            LibcFamily::Bionic => "bionic",
            LibcFamily::Uclibc => "uclibc",
            LibcFamily::Klibc => "klibc",
            LibcFamily::None => "none",
            LibcFamily::Unknown => "unknown",
        }
    }
}

/// The C library the file is built for, and why runbase thinks so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Libc {
    /// The family.
    pub family: LibcFamily,
    /// The highest `GLIBC_x.y` over all version needs (`"2.34"`), or null.
    pub glibc_required: Option<Version>,
    /// The imported symbols that set that floor (`pthread_create@GLIBC_2.34`).
    pub glibc_floor_symbols: Vec<String>,
    /// Short reasons.
    pub evidence: Vec<String>,
}

/// Go facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Go {
    /// The Go release (`go1.19.8`), when found.
    pub version: Option<String>,
    /// The `CGO_ENABLED` build setting as stamped (which does not mean cgo is used).
    pub cgo_enabled: Option<bool>,
    /// Whether the program really calls into C: a loader, libraries, or linked C code.
    pub cgo_used: bool,
    /// The `-tags` build setting, split on commas.
    pub tags: Vec<String>,
    /// Every `build` setting.
    pub settings: BTreeMap<String, String>,
    /// The main module.
    pub main_module: Option<GoModule>,
    /// Dependencies in build-info order.
    pub deps: Vec<GoModule>,
    /// The main package path (`path` line), when recorded.
    pub main_package: Option<String>,
    /// Whether the build info blob was found (else only other Go markers were).
    pub build_info_found: bool,
    /// What showed the file is Go.
    pub evidence: Vec<String>,
}

/// A Go module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct GoModule {
    /// Module path.
    pub path: String,
    /// Module version (`(devel)` for a main module built from a checkout).
    pub version: Option<String>,
    /// The go.sum hash, when recorded.
    pub sum: Option<String>,
    /// The `=>` replacement, when the module was replaced.
    pub replace: Option<GoReplacement>,
}

/// The module a Go module was replaced by (`=>` in the build info).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct GoReplacement {
    /// Module path, or a local directory.
    pub path: String,
    /// Module version.
    pub version: Option<String>,
    /// The go.sum hash, when recorded.
    pub sum: Option<String>,
}

/// Rust facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Rust {
    /// The rustc version from `.comment` (`1.95.0`), when present.
    pub rustc_version: Option<String>,
    /// The crates recorded by cargo-auditable (`.dep-v0`), sorted by name and version.
    pub crates: Vec<RustCrate>,
    /// What showed the file is Rust.
    pub evidence: Vec<String>,
}

/// A crate from the cargo-auditable list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct RustCrate {
    /// Crate name.
    pub name: String,
    /// Crate version.
    pub version: String,
    /// `crates.io`, `git`, `local`, `registry` or another registry's name.
    pub source: String,
    /// Whether the program links it or only its build used it.
    pub kind: CrateKind,
}

/// How a crate of the cargo-auditable list was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CrateKind {
    // Ordered as spelled, so crates sort as they did when the kind was text.
    /// Used only to build it (build scripts, proc macros).
    Build,
    /// Linked into the program (cargo-auditable's default, and for a kind it does not name).
    Runtime,
}

/// Size facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Size {
    /// The file's size.
    pub file_bytes: u64,
    /// No `.symtab` (and no section headers counts as stripped too).
    pub stripped: bool,
    /// Bytes in static symbol tables and their string tables.
    pub symtab_bytes: u64,
    /// Bytes in debug sections (`.debug_*`, `.zdebug_*`, `.stab*`).
    pub debug_bytes: u64,
    /// The packer's name (`upx`), when the file is packed.
    pub packed: Option<String>,
}

/// How sure a need is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Certainty {
    /// The binary fails at start or at an operation it always performs.
    Required,
    /// Code for the operation is imported or linked.
    Likely,
    /// Linked but rarely reached, or inferred from weaker hints.
    Possible,
}

impl Certainty {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Required => "required",
            Certainty::Likely => "likely",
            Certainty::Possible => "possible",
        }
    }
}

/// What kind of thing a hidden need is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NeedKind {
    /// CA certificates to verify TLS peers (`ca_certificates`).
    CaCertificates,
    /// A library loaded with `dlopen` (`dlopen`).
    Dlopen,
    /// A plain `/etc` file read directly, as musl and Go read them (`etc_file`).
    EtcFile,
    /// glibc's `iconv` converters (`gconv`).
    Gconv,
    /// The unwinder glibc loads for thread cancellation (`libgcc_s`).
    LibgccS,
    /// Locale data (`locale`).
    Locale,
    /// glibc's Name Service Switch: configuration, data files, modules (`nss`).
    Nss,
    /// `/bin/sh`, for `system()` and `popen()` (`shell`).
    Shell,
    /// Time zone data (`tzdata`).
    Tzdata,
}

impl NeedKind {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedKind::CaCertificates => "ca_certificates",
            NeedKind::Dlopen => "dlopen",
            NeedKind::EtcFile => "etc_file",
            NeedKind::Gconv => "gconv",
            NeedKind::LibgccS => "libgcc_s",
            NeedKind::Locale => "locale",
            NeedKind::Nss => "nss",
            NeedKind::Shell => "shell",
            NeedKind::Tzdata => "tzdata",
        }
    }
}

/// Needs sort by their contract spelling, as the report lists them.
impl Ord for NeedKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for NeedKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A hidden run-time need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Need {
    /// What kind of need.
    pub kind: NeedKind,
    /// What within the kind: the NSS database (`hosts`), the library, the runtime
    /// (`go crypto/x509`).
    pub name: Option<Text>,
    /// How sure.
    pub certainty: Certainty,
    /// One line saying what the program does and what it reads.
    pub summary: Text,
    /// Files a root filesystem must hold for it.
    pub files: Vec<NeedFile>,
    /// What led to it.
    pub evidence: Vec<String>,
    /// For a need that comes from a library of the closure: the libraries from the
    /// program down to it (`["libcurl.so.4", "libssl.so.3"]`); empty for the file's own.
    pub via: Vec<String>,
}

/// A file a need asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct NeedFile {
    /// Path inside the image.
    pub path: Text,
    /// Whether the operation fails without it.
    pub required: bool,
    /// When it applies (`glibc < 2.34`), or null for always.
    pub condition: Option<Text>,
    /// The fact behind a `glibc < X` condition: the file matters only with a glibc older
    /// than this version (NSS modules before 2.34), or for a static program.
    pub glibc_below: Option<Version>,
}

/// The shared-library closure inside a root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Closure {
    /// The root directory.
    pub root: String,
    /// The file's own path inside the root (its `$ORIGIN`): where it lies under the root,
    /// else its absolute path, as a file about to be copied there.
    pub file_in_root: String,
    /// The program interpreter inside the root.
    pub interpreter: Option<ClosureInterpreter>,
    /// Every library found.
    pub libraries: Vec<ClosureLibrary>,
    /// Libraries not found.
    pub missing: Vec<MissingLibrary>,
    /// Versions needed but not defined by the library found.
    pub unmet_versions: Vec<UnmetVersion>,
    /// How the search was set up (loader rules, cache, default directories).
    pub search: Option<ClosureSearch>,
    /// What the loader would do differently from what the root's configuration suggests
    /// (a stale or missing ld.so.cache), and what could not be read.
    pub warnings: Vec<String>,
    /// The symbol versions the file itself needs of its libraries (its DT_VERNEED).
    pub version_needs: Arc<[VersionNeed]>,
}

/// The search the closure used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ClosureSearch {
    /// `glibc` or `musl`: whose loader rules.
    pub flavor: LoaderRules,
    /// The ld.so.cache format read (`new`, `old`, `old+new`), or null without a cache.
    pub ld_so_cache: Option<String>,
    /// The loader's default directories (glibc).
    pub default_dirs: Vec<String>,
    /// Where they come from.
    pub default_dirs_from: String,
    /// The `LD_LIBRARY_PATH` given, if any.
    pub ld_library_path: Vec<String>,
}

/// Whose loader rules a closure's search follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LoaderRules {
    /// glibc's `ld.so` (`elf/dl-load.c`): RPATH, `LD_LIBRARY_PATH`, RUNPATH,
    /// `/etc/ld.so.cache`, then its default directories (`glibc`).
    Glibc,
    /// musl's loader (`ldso/dynlink.c`): `LD_LIBRARY_PATH`, RPATH or RUNPATH up the chain,
    /// then its path file or default path (`musl`).
    Musl,
}

impl LoaderRules {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LoaderRules::Glibc => "glibc",
            LoaderRules::Musl => "musl",
        }
    }
}

/// How the loader finds a library of the closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FoundVia {
    /// A DT_NEEDED with a `/`, opened at that path (`direct`).
    Direct,
    /// The DT_RPATH of the object that needs it (`rpath`).
    Rpath,
    /// The RPATH of an object up the chain that loaded the one needing it, or of the
    /// executable (`inherited_rpath`; musl: its RUNPATH too).
    InheritedRpath,
    /// An `LD_LIBRARY_PATH` entry given by the caller (`ld_library_path`).
    LdLibraryPath,
    /// The DT_RUNPATH of the object that needs it (`runpath`).
    Runpath,
    /// An RPATH or RUNPATH entry relative to its object, `$ORIGIN/...` (`origin`).
    Origin,
    /// `/etc/ld.so.cache` (`ld_so_cache`).
    LdSoCache,
    /// One of glibc's default directories (`default_dir`).
    DefaultDir,
    /// musl's `etc/ld-musl-<arch>.path` (`musl_path_file`).
    MuslPathFile,
    /// musl's built-in path, `/lib:/usr/local/lib:/usr/lib` (`musl_default`).
    MuslDefault,
}

impl FoundVia {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FoundVia::Direct => "direct",
            FoundVia::Rpath => "rpath",
            FoundVia::InheritedRpath => "inherited_rpath",
            FoundVia::LdLibraryPath => "ld_library_path",
            FoundVia::Runpath => "runpath",
            FoundVia::Origin => "origin",
            FoundVia::LdSoCache => "ld_so_cache",
            FoundVia::DefaultDir => "default_dir",
            FoundVia::MuslPathFile => "musl_path_file",
            FoundVia::MuslDefault => "musl_default",
        }
    }
}

/// The interpreter's presence in the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ClosureInterpreter {
    /// Path inside the root.
    pub path: String,
    /// Whether it exists there.
    pub found: bool,
}

/// A library of the closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ClosureLibrary {
    /// The DT_NEEDED string.
    pub soname: String,
    /// Path inside the root, symlinks resolved inside the root.
    pub path: String,
    /// `rpath`, `inherited_rpath` (a loader's RPATH), `runpath`, `origin` (an RPATH or
    /// RUNPATH entry relative to its object, `$ORIGIN/...`), `ld_library_path`,
    /// `ld_so_cache`, `default_dir`, `musl_path_file`, `musl_default`, `direct` (a DT_NEEDED
    /// with a `/`).
    pub found_via: FoundVia,
    /// The RPATH/RUNPATH/LD_LIBRARY_PATH entry as written (`$ORIGIN/../lib`), when one
    /// found it.
    pub search_entry: Option<String>,
    /// The files that need it.
    pub needed_by: Vec<String>,
    /// The symbol versions this library needs of others (its DT_VERNEED), so a copy plan
    /// can check them against another image's libraries.
    // Shared: a library lists the same needs in every closure it is part of.
    pub version_needs: Arc<[VersionNeed]>,
}

/// The symbol versions an object needs of one library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct VersionNeed {
    /// The library's file name as the version need names it (`libc.so.6`).
    pub soname: String,
    /// The version names needed (`GLIBC_2.34`, `GLIBCXX_3.4.30`).
    pub versions: Vec<String>,
}

/// A library that was not found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct MissingLibrary {
    /// The DT_NEEDED string.
    pub soname: String,
    /// The files that need it.
    pub needed_by: Vec<String>,
    /// Directories tried, in order.
    pub tried: Vec<String>,
}

/// A symbol version a found library does not define.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct UnmetVersion {
    /// The library.
    pub soname: String,
    /// The version (`GLIBC_2.38`).
    pub version: String,
    /// The files that need it.
    pub needed_by: Vec<String>,
}

/// A base-image recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Recommendation {
    /// The chosen base, named as in the catalog (`scratch`, `busybox:glibc`,
    /// `gcr.io/distroless/base-debian12`); null when no catalog image can run the file.
    pub base: Option<String>,
    /// The policy used.
    pub policy: Policy,
    /// Why this base, and what the others lacked.
    pub why: Vec<String>,
    /// What each sentence of `why` says, as a code for tools: same length and order.
    pub why_codes: Vec<Code>,
    /// Files to add to the base.
    pub add_files: Vec<AddFile>,
    /// Every base considered.
    pub alternatives: Vec<Alternative>,
    /// A multi-stage Dockerfile snippet (the run stage; the build stage is named `build`).
    pub dockerfile: Option<String>,
    /// Where the program goes in the image.
    pub program_path: Option<String>,
    /// The catalog's version (`2026.11.1`).
    pub catalog_version: String,
}

/// How to choose among the base images that can run a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Policy {
    /// The smallest image: base compressed size plus the program and the added files.
    #[default]
    Smallest,
    /// The smallest image with a shell, to look inside when something goes wrong.
    Debuggable,
    /// The smallest distroless image.
    Distroless,
}

impl Policy {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Smallest => "smallest",
            Policy::Debuggable => "debuggable",
            Policy::Distroless => "distroless",
        }
    }
}

/// A policy name that is not one of `smallest`, `debuggable`, `distroless`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPolicy(pub String);

impl std::fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown policy {:?}: smallest, debuggable or distroless",
            self.0
        )
    }
}

impl std::error::Error for UnknownPolicy {}

impl std::str::FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smallest" => Ok(Policy::Smallest),
            "debuggable" => Ok(Policy::Debuggable),
            "distroless" => Ok(Policy::Distroless),
            other => Err(UnknownPolicy(other.to_string())),
        }
    }
}

/// Whether a base image can run a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// As it is.
    Works,
    /// With the files of `add_files` copied in.
    WorksWithFiles,
    /// Not at all: `why` says what is missing.
    Fails,
}

impl Verdict {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Works => "works",
            Verdict::WorksWithFiles => "works_with_files",
            Verdict::Fails => "fails",
        }
    }
}

/// What a sentence of `why` (recommendations and their alternatives) or `problems`
/// (verifications) says, for a tool to act on without reading the sentence. The sentence
/// names the particulars (the library, the path, the version); the code names the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// The image chosen, by the policy, and whether files are added.
    Chosen,
    /// No image of the catalog that the policy admits can run the file.
    NoneFits,
    /// The file is not a program (a library, an object file): nothing to start.
    NotAProgram,
    /// The image is not published for the file's platform.
    PlatformUnsupported,
    /// A static program: no loader or shared library needed from the image.
    StaticProgram,
    /// The program's C library family differs from the root's (glibc in a musl image).
    LibcMismatch,
    /// The program's C library is one no image or root here carries (bionic, uClibc...).
    LibcUnsupported,
    /// The program interpreter (PT_INTERP) is not there: the kernel refuses to start it.
    InterpreterMissing,
    /// The root's glibc is older than the program's (or a copied library's) glibc floor.
    GlibcTooOld,
    /// The root's glibc is at or above the floor.
    GlibcFloorMet,
    /// Libraries were checked by name only: the report has no closure to resolve them in.
    LibrariesUnresolved,
    /// A shared library of the closure is not there, and cannot be copied in.
    LibraryMissing,
    /// A library found lacks a symbol version its users need.
    VersionMissing,
    /// A part of glibc (a library or an NSS module) the root's own glibc lacks; it is never
    /// copied from another glibc.
    LibcPartMissing,
    /// A library a hidden need names is not where the loader looks.
    NeedLibraryMissing,
    /// A file a hidden need requires is missing from the root.
    NeedFileMissing,
    /// A file a hidden need requires is in neither the image nor the build stage.
    NotInBuildRoot,
    /// `/bin/sh` is needed and missing.
    ShellMissing,
    /// No CA bundle where TLS runtimes look.
    CaBundleMissing,
    /// `nsswitch.conf` routes a database only to services the program cannot load.
    NssServiceUnusable,
    /// A need's files are not planned: a static program loads them only from its own glibc.
    NotPlanned,
    /// A file is added to the image, and why.
    FileAdded,
    /// A `likely` need's file is in neither the image nor the build stage: not added, and
    /// not failing the image (the program runs without it where it was built).
    BuildStageLacks,
    /// A `possible` need (a weaker hint) the image does not meet: not planned unless
    /// possible needs are included.
    PossibleNotPlanned,
    /// The image's support has ended; it is never chosen.
    EndOfLife,
}

impl Code {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Chosen => "chosen",
            Code::NoneFits => "none_fits",
            Code::NotAProgram => "not_a_program",
            Code::PlatformUnsupported => "platform_unsupported",
            Code::StaticProgram => "static_program",
            Code::LibcMismatch => "libc_mismatch",
            Code::LibcUnsupported => "libc_unsupported",
            Code::InterpreterMissing => "interpreter_missing",
            Code::GlibcTooOld => "glibc_too_old",
            Code::GlibcFloorMet => "glibc_floor_met",
            Code::LibrariesUnresolved => "libraries_unresolved",
            Code::LibraryMissing => "library_missing",
            Code::VersionMissing => "version_missing",
            Code::LibcPartMissing => "libc_part_missing",
            Code::NeedLibraryMissing => "need_library_missing",
            Code::NeedFileMissing => "need_file_missing",
            Code::NotInBuildRoot => "not_in_build_root",
            Code::ShellMissing => "shell_missing",
            Code::CaBundleMissing => "ca_bundle_missing",
            Code::NssServiceUnusable => "nss_service_unusable",
            Code::NotPlanned => "not_planned",
            Code::FileAdded => "file_added",
            Code::BuildStageLacks => "build_stage_lacks",
            Code::PossibleNotPlanned => "possible_not_planned",
            Code::EndOfLife => "end_of_life",
        }
    }
}

/// Whether a file can run in a root filesystem, and what is missing when it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Verification {
    /// The root directory.
    pub root: String,
    /// False when something the file needs at start, or for an operation it performs, is
    /// missing (`runbase verify` then exits with status 3).
    pub runs: bool,
    /// The root's own C library, read from its files.
    pub libc: Option<RootLibc>,
    /// What is missing or wrong, one sentence each.
    pub problems: Vec<String>,
    /// What each sentence of `problems` says, as a code for tools: same length and order.
    pub problem_codes: Vec<Code>,
    /// What a `possible` need (a weaker hint, such as a library name near `dlopen`) lacks:
    /// the program may still run, so these do not make `runs` false.
    pub warnings: Vec<String>,
    /// The code of each sentence of `warnings`: same length and order.
    pub warning_codes: Vec<Code>,
    /// What was checked and holds, and what could not be checked.
    pub notes: Vec<String>,
    /// The image the root was unpacked from, when `root` names an image (a `docker save`
    /// tarball or an OCI layout) rather than a directory.
    pub image: Option<ImageInfo>,
}

/// How an image was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ImageFormat {
    /// A `docker save` tarball (`manifest.json`; Docker 25 adds an OCI layout beside it).
    DockerSave,
    /// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
    OciLayout,
    /// An OCI image layout in a tarball.
    OciArchive,
}

impl ImageFormat {
    /// The JSON spelling: `docker-save`, `oci-layout`, `oci-archive`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::DockerSave => "docker-save",
            ImageFormat::OciLayout => "oci-layout",
            ImageFormat::OciArchive => "oci-archive",
        }
    }
}

/// A container image unpacked as a root filesystem: which one, and how it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ImageInfo {
    /// How it was stored.
    pub format: ImageFormat,
    /// The name (tag) of the image taken, when the archive or layout names it.
    pub reference: Option<String>,
    /// The digest of its manifest (OCI layouts; `docker save`'s legacy form has none).
    pub manifest_digest: Option<String>,
    /// Its OCI platform (`linux/amd64`) as its configuration says.
    pub platform: Option<String>,
    /// Layers applied.
    pub layers: usize,
    /// The configuration's `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// The configuration's `Cmd`.
    pub cmd: Vec<String>,
    /// `PATH` from the configuration's `Env`.
    pub env_path: Option<String>,
    /// The configuration's `User`.
    pub user: Option<String>,
    /// The configuration's `WorkingDir`.
    pub working_dir: Option<String>,
    /// Tar entries read, over every layer.
    pub entries: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// Entries not written: device nodes, FIFOs, and kinds with no file (AUFS metadata).
    pub skipped: u64,
}

/// A root filesystem's C library as its files say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct RootLibc {
    /// `glibc` or `musl`.
    pub family: LibcFamily,
    /// Its version (`2.36`, `1.2.3`), when the file states it.
    pub version: Option<Version>,
    /// The file read, inside the root.
    pub path: String,
}

/// A file to copy into the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct AddFile {
    /// Path in the image.
    pub path: String,
    /// Path in the build stage or the root; empty when the file is written from
    /// `content` instead (nothing of the build stage is copied then).
    pub from: String,
    /// Why.
    pub why: String,
    /// The file's whole text, when runbase writes it rather than copying the build
    /// stage's: user and group databases hold only `root` and `nobody`, so the build
    /// host's accounts (and never its password hashes) reach the image.
    pub content: Option<String>,
}

/// One base image evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Alternative {
    /// The base.
    pub base: String,
    /// Whether it can run the file.
    pub verdict: Verdict,
    /// Why.
    pub why: Vec<String>,
    /// What each sentence of `why` says, as a code for tools: same length and order.
    pub why_codes: Vec<Code>,
    /// Estimated image size: the base's compressed size plus the program and the added
    /// files (uncompressed); null when an added file is not in the build root.
    pub estimated_image_bytes: Option<u64>,
    /// Files to add for this base.
    pub add_files: Vec<AddFile>,
    /// Whether the image's support has ended (never chosen then).
    pub end_of_life: bool,
}

/// A report line for a file that could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ErrorLine {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The path as given.
    pub path: String,
    /// What went wrong.
    pub error: ErrorInfo,
}

/// The kind of error of an [`ErrorLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not an ELF file.
    NotElf,
    /// A table or string runs past the end of the file.
    Truncated,
    /// A structure is inconsistent.
    Malformed,
    /// A class, byte order or feature runbase does not read.
    Unsupported,
    /// One of the [`crate::Limits`] was exceeded.
    LimitExceeded,
    /// The file could not be read.
    Io,
}

impl ErrorKind {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotElf => "not_elf",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Io => "io",
        }
    }
}

/// The error of an [`ErrorLine`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ErrorInfo {
    /// What kind of error.
    pub kind: ErrorKind,
    /// A readable message.
    pub message: String,
}

impl ErrorLine {
    /// The line for `path` failing with `error`.
    pub fn new(path: &str, error: &crate::Error) -> Self {
        ErrorLine {
            schema_version: SCHEMA_VERSION,
            path: path.to_string(),
            error: ErrorInfo {
                kind: error.kind(),
                message: message_with_causes(error),
            },
        }
    }
}

/// An error's message followed by each of its causes', joined by `: ` (the errors name
/// the file; the operating system's reason is their cause), as an [`ErrorLine`] says it.
pub fn message_with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}
