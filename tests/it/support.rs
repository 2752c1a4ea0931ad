//! Shared test helpers: fixtures built from committed sources, readelf as the independent
//! oracle, an allocation tracker, and schema validation of every report the tests produce.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use runbase::bases::{BaseImage, catalog};
use runbase::{Limits, Options, Report, ResolveOptions, Resolver, inspect_in_root};

// ---------------------------------------------------------------------------------------
// Allocation tracking: the largest single allocation made by this thread while tracking,
// and the bytes allocated in total.

/// Wraps the system allocator and records, per thread, the largest allocation requested and
/// the sum of all of them.
pub struct TrackingAlloc;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            let _ = TOTAL.try_with(|l| l.set(l.get().saturating_add(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only reads
// the requested sizes.
unsafe impl GlobalAlloc for TrackingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the largest single allocation it made.
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, LARGEST.with(Cell::get))
}

/// Runs `f` and returns its result with the bytes it allocated in total (a reallocation
/// counts its new size): this follows the work done, where the largest allocation follows
/// only the peak.
pub fn total_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    TOTAL.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, TOTAL.with(Cell::get))
}

// ---------------------------------------------------------------------------------------
// Fixtures.

fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn fixture_sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The directory of fixtures built by `tests/fixtures/build.sh`, rebuilt when the script
/// or a source changes. A missing toolchain fails the tests (CI installs them).
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = fixture_sources();
        let mut files = vec![root.join("build.sh")];
        let mut stack = vec![root.join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixture sources") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for f in &files {
            h = hash_bytes(h, f.to_string_lossy().as_bytes());
            h = hash_bytes(h, &std::fs::read(f).expect("read fixture source"));
        }
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fixtures-{h:016x}"));
        if !out.join(".complete").exists() {
            let status = Command::new("bash")
                .arg(root.join("build.sh"))
                .arg(&out)
                .status()
                .expect("run tests/fixtures/build.sh");
            assert!(
                status.success(),
                "tests/fixtures/build.sh failed ({status}); install gcc, g++, musl-tools, \
                 golang-go and rustc (see README)"
            );
        }
        out
    })
}

/// The path of one fixture.
pub fn fixture(name: &str) -> PathBuf {
    let path = fixtures().join(name);
    assert!(path.exists(), "fixture {name} was not built");
    path
}

// ---------------------------------------------------------------------------------------
// The corpus of real binaries from ../shared/corpus/fetch-real-binaries.sh.

/// The corpus directory and its ELF list. Fails when the corpus is absent: the README's
/// test command fetches it, and a test that cannot see it must not pass.
pub fn corpus() -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::var_os("RUNBASE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/runbase-corpus")
        });
    let list = dir.join("elf-list.txt");
    assert!(
        list.exists(),
        "corpus missing at {}: run ../shared/corpus/fetch-real-binaries.sh (the README's \
         test command does)",
        dir.display()
    );
    let files = std::fs::read_to_string(&list)
        .expect("read elf-list.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| dir.join("x").join(l))
        .collect();
    (dir, files)
}

// ---------------------------------------------------------------------------------------
// Running things inside root filesystems (chroot needs root).

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Fails the calling test unless it runs as root, which running programs in a chroot
/// needs (the README's test command runs as root). Nothing is skipped quietly.
pub fn require_root() {
    assert!(
        is_root(),
        "this test runs programs in a chroot and needs root (the README's test command runs \
         as root)"
    );
}

/// Runs `program` (an in-root path) inside `root` with only `env`; Err when exec itself
/// fails. The chroot happens in the child before exec, so the environment reaches the
/// program (a `chroot` binary would itself be traced by LD_TRACE_LOADED_OBJECTS). A program
/// just copied can be "busy" while another test's fork still holds the copy's descriptor,
/// so that error is retried.
pub fn try_run_in_root(
    root: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::io::Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    let run = || {
        let dir = root.to_path_buf();
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().envs(env.iter().copied());
        // SAFETY: only chroot(2) and chdir(2), async-signal-safe, run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                std::os::unix::fs::chroot(&dir)?;
                std::env::set_current_dir("/")
            });
        }
        cmd.output()
    };
    for _ in 0..50 {
        match run() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
    run()
}

/// [`try_run_in_root`] for programs that must start.
pub fn run_in_root(
    root: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    try_run_in_root(root, program, args, env)
        .unwrap_or_else(|e| panic!("run {program} in {}: {e}", root.display()))
}

/// Copies a host file (following symbolic links) to `to`, creating its directory.
pub fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
}

/// The cached root filesystems of tests/roots/build.sh. The script runs once per test
/// process (it returns at once when every root is whole) and takes a lock, so concurrent
/// callers, here or in another process, never build the same directory. Tests only read
/// these roots: one that adds files works in an [`Overlay`] of it.
pub fn roots() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("RUNBASE_ROOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/runbase-roots")
            });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/roots/build.sh");
        let status = Command::new("bash")
            .arg(script)
            .env("RUNBASE_ROOTS", &dir)
            .status()
            .expect("tests/roots/build.sh");
        assert!(
            status.success(),
            "tests/roots/build.sh failed (needs root, debootstrap and apt's package source)"
        );
        dir
    })
}

/// A writable view of a cached root: an overlay mount whose upper layer is a temporary
/// directory, so files a test adds never reach the cache that other tests (and later runs)
/// read. Unmounted and removed when dropped, also when the test fails.
pub struct Overlay {
    merged: PathBuf,
    _dir: tempfile::TempDir,
}

impl Overlay {
    pub fn new(lower: &Path) -> Overlay {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let [upper, work, merged] = ["upper", "work", "merged"].map(|n| dir.path().join(n));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d).unwrap();
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        let status = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(&merged)
            .status()
            .expect("mount");
        assert!(status.success(), "mount an overlay of {}", lower.display());
        Overlay { merged, _dir: dir }
    }

    pub fn path(&self) -> &Path {
        &self.merged
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.merged).status();
    }
}

// ---------------------------------------------------------------------------------------
// readelf: the independent oracle.

/// What readelf (binutils) says about a file.
#[derive(Debug, Default, Clone)]
pub struct Readelf {
    pub class: u8,
    pub endian: String,
    pub machine: String,
    pub file_type: String,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// Every version named in the version-needs section.
    pub needed_versions: Vec<String>,
}

impl Readelf {
    /// The highest GLIBC_x.y among the needed versions, GLIBC_ABI_DT_RELR counting as 2.36
    /// (the release that added it, per glibc's NEWS).
    pub fn glibc_floor(&self) -> Option<String> {
        let mut best: Option<Vec<u32>> = None;
        for v in &self.needed_versions {
            let Some(rest) = v.strip_prefix("GLIBC_") else {
                continue;
            };
            let parts: Option<Vec<u32>> = if rest == "ABI_DT_RELR" {
                Some(vec![2, 36])
            } else {
                rest.split('.').map(|p| p.parse().ok()).collect()
            };
            if let Some(parts) = parts.filter(|p| p.len() >= 2) {
                if best.as_ref().is_none_or(|b| parts > *b) {
                    best = Some(parts);
                }
            }
        }
        best.map(|p| p.iter().map(u32::to_string).collect::<Vec<_>>().join("."))
    }
}

fn bracketed(line: &str) -> Option<String> {
    let start = line.find('[')? + 1;
    let end = line.rfind(']')?;
    Some(line.get(start..end)?.to_string())
}

/// Runs `readelf -hldVW` on `path` and parses what the tests compare.
pub fn readelf(path: &Path) -> Readelf {
    let out = Command::new("readelf")
        .args(["-hldVW"])
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .expect("run readelf (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut r = Readelf::default();
    let mut in_needs = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Class:") {
            r.class = if v.contains("ELF64") { 64 } else { 32 };
        } else if let Some(v) = t.strip_prefix("Data:") {
            r.endian = if v.contains("little") {
                "little"
            } else {
                "big"
            }
            .into();
        } else if let Some(v) = t.strip_prefix("Machine:") {
            r.machine = v.trim().to_string();
        } else if let Some(v) = t.strip_prefix("Type:") {
            r.file_type = v.split_whitespace().next().unwrap_or("").to_string();
        } else if t.starts_with("[Requesting program interpreter:") {
            r.interpreter = t
                .strip_prefix("[Requesting program interpreter: ")
                .and_then(|s| s.strip_suffix(']'))
                .map(str::to_string);
        } else if t.contains("(NEEDED)") {
            r.needed.extend(bracketed(t));
        } else if t.contains("(SONAME)") {
            r.soname = bracketed(t);
        } else if t.contains("(RPATH)") {
            r.rpath = bracketed(t)
                .map(|v| v.split(':').map(str::to_string).collect())
                .unwrap_or_default();
        } else if t.contains("(RUNPATH)") {
            r.runpath = bracketed(t)
                .map(|v| v.split(':').map(str::to_string).collect())
                .unwrap_or_default();
        } else if t.starts_with("Version needs section") {
            in_needs = true;
        } else if t.starts_with("Version definition section")
            || t.starts_with("Version symbols section")
        {
            in_needs = false;
        } else if in_needs {
            if let Some(rest) = t.split("Name: ").nth(1) {
                if t.contains("Flags:") && !t.contains("Rev:") {
                    r.needed_versions
                        .extend(rest.split_whitespace().next().map(str::to_string));
                }
            }
        }
    }
    // An empty answer would make every comparison with it hold vacuously.
    assert!(
        r.class != 0,
        "readelf printed no ELF header for {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    r
}

/// Our machine name for readelf's description.
pub fn machine_for_readelf(description: &str, class: u8) -> String {
    match (description, class) {
        ("Advanced Micro Devices X86-64", _) => "x86_64",
        ("Intel 80386", _) => "x86",
        ("AArch64", _) => "aarch64",
        ("ARM", _) => "arm",
        ("IBM S/390", 64) => "s390x",
        ("IBM S/390", _) => "s390",
        ("PowerPC64", _) => "powerpc64",
        ("PowerPC", _) => "powerpc",
        ("MIPS R3000", 64) => "mips64",
        ("MIPS R3000", _) => "mips",
        ("RISC-V", 64) => "riscv64",
        ("LoongArch", 64) => "loongarch64",
        (other, _) => panic!("no mapping for readelf machine {other:?}"),
    }
    .to_string()
}

/// Our `elf.type` for readelf's type word.
pub fn type_for_readelf(word: &str) -> &'static str {
    match word {
        "EXEC" => "exec",
        "DYN" => "dyn",
        "REL" => "rel",
        "CORE" => "core",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------
// Inspecting, with every report checked against the published schema.

/// Inspects `path` (through `pread`) and validates the report against the JSON Schema.
pub fn inspect(path: &Path) -> Report {
    let report = runbase::inspect_path(path, &Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check_schema(&report);
    report
}

/// Validates a report's JSON against the schema generated from the Rust types.
pub fn check_schema(report: &Report) {
    let value = serde_json::to_value(report).expect("serialize");
    check_value(&value);
}

/// Validates one JSON line (a report or an error line).
pub fn check_value(value: &serde_json::Value) {
    #[cfg(feature = "schema")]
    {
        static REPORT: OnceLock<jsonschema::Validator> = OnceLock::new();
        static ERROR: OnceLock<jsonschema::Validator> = OnceLock::new();
        let is_error = value.get("error").is_some();
        let validator = if is_error {
            ERROR.get_or_init(|| {
                let schema = serde_json::to_value(runbase::error_line_schema()).expect("schema");
                jsonschema::validator_for(&schema).expect("valid schema")
            })
        } else {
            REPORT.get_or_init(|| {
                let schema = serde_json::to_value(runbase::report_schema()).expect("schema");
                jsonschema::validator_for(&schema).expect("valid schema")
            })
        };
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "report does not match the schema: {errors:?}\n{value}"
        );
    }
    #[cfg(not(feature = "schema"))]
    let _ = value;
}

// ---------------------------------------------------------------------------------------
// The command-line tool.

/// The `runbase` command (built with the `cli` feature).
#[cfg(feature = "cli")]
pub fn runbase() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runbase"))
}

/// Runs `command` and asserts its exit status, showing what it printed otherwise.
pub fn run_expecting(command: &mut Command, status: i32) -> std::process::Output {
    let out = command.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(status),
        "{command:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `command` to its end, which must come within `seconds` (a liveness deadline for
/// inputs that could make it wait forever, not a measure of speed): else it is killed and
/// the test fails. Its output is drained meanwhile, so a long one cannot block it.
pub fn output_within(command: &mut Command, seconds: u64) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            panic!("{command:?} still running after {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

/// Makes a FIFO (named pipe) at `path` with mkfifo(1).
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Every line of `stdout` parsed as JSON (a line that is not says so, with the line).
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(stdout.to_vec())
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs `command`, asserts its exit status, and returns the one JSON line it printed,
/// validated against the schema.
pub fn json_line_expecting(command: &mut Command, status: i32) -> serde_json::Value {
    let out = run_expecting(command, status);
    let line: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    check_value(&line);
    line
}

// ---------------------------------------------------------------------------------------
// Roots standing for the catalog's base images.

/// A report of `file` with its closure resolved inside `root`.
pub fn report_in(file: &Path, root: &Path) -> Report {
    let mut resolver = Resolver::new(root, &Limits::default(), &ResolveOptions::default()).unwrap();
    inspect_in_root(file, &Options::default(), &mut resolver).expect("inspect")
}

/// The catalog's image of that name.
pub fn image(name: &str) -> &'static BaseImage {
    catalog()
        .images
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("{name} not in the catalog"))
}

/// Copies a host file or directory tree (symlinks followed) to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else if from.exists() {
        copy(from, to);
    }
}

pub fn write(root: &Path, path: &str, text: &str) {
    let to = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, text).unwrap();
}

/// A root that stands for `base` as the catalog describes it, built from this machine's
/// Debian packages (glibc 2.36, musl 1.2.3): its C library and loader, the libraries and
/// files the catalog lists, and what a container engine adds at run time (/etc/hosts).
pub fn stand_in(base: &BaseImage, dir: &Path) {
    let host_lib = Path::new("/usr/lib/x86_64-linux-gnu");
    let lib_dir = base
        .library_dir
        .as_deref()
        .map(|d| d.replace("{triplet}", "x86_64-linux-gnu"))
        .unwrap_or_else(|| "/lib".into());
    if base.is_glibc() {
        copy(
            Path::new("/lib64/ld-linux-x86-64.so.2"),
            &dir.join("lib64/ld-linux-x86-64.so.2"),
        );
        let names: Vec<String> = match &base.glibc_libraries {
            Some(list) => list.clone(),
            None => catalog().glibc_sonames.clone(),
        };
        for name in names {
            copy(
                &host_lib.join(&name),
                &dir.join(lib_dir.trim_start_matches('/')).join(&name),
            );
        }
    }
    if base.is_musl() {
        copy(
            Path::new("/usr/lib/x86_64-linux-musl/libc.so"),
            &dir.join("lib/ld-musl-x86_64.so.1"),
        );
        std::os::unix::fs::symlink("ld-musl-x86_64.so.1", dir.join("lib/libc.musl-x86_64.so.1"))
            .unwrap();
    }
    // glibc images get this machine's builds of their other libraries; musl images would
    // need musl builds, which Debian does not package, so a musl stand-in has none (a copy
    // plan relying on them would fail to run).
    if base.is_glibc() {
        for lib in &base.libraries {
            copy(
                &host_lib.join(&lib.soname),
                &dir.join(lib_dir.trim_start_matches('/')).join(&lib.soname),
            );
        }
    }
    for file in ["/etc/passwd", "/etc/group"] {
        if base.has_file(file) {
            copy(Path::new(file), &dir.join(file.trim_start_matches('/')));
        }
    }
    if let Some(table) = &base.nsswitch {
        let text: String = table
            .iter()
            .map(|(db, s)| format!("{db}: {}\n", s.join(" ")))
            .collect();
        write(dir, "/etc/nsswitch.conf", &text);
    }
    if let Some(ca) = &base.ca_certificates {
        copy(
            Path::new("/etc/ssl/certs/ca-certificates.crt"),
            &dir.join(ca.trim_start_matches('/')),
        );
    }
    if base.tzdata {
        copy_tree(
            Path::new("/usr/share/zoneinfo"),
            &dir.join("usr/share/zoneinfo"),
        );
    }
    // The engine's own files.
    write(dir, "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n");
}

/// /proc mounted in a root for as long as it lives, as a container engine mounts it.
pub struct ProcMount(PathBuf);

impl ProcMount {
    pub fn new(root: &Path) -> ProcMount {
        let at = root.join("proc");
        std::fs::create_dir_all(&at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(&at)
            .status()
            .unwrap();
        assert!(status.success(), "mount proc at {}", at.display());
        ProcMount(at)
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A child's output pipe read to its end on a thread of its own, so that a child writing
/// much cannot block while the caller waits for it.
pub fn drain(
    pipe: Option<impl std::io::Read + Send + 'static>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_end(&mut bytes).ok();
        }
        bytes
    })
}
