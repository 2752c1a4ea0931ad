//! The `runbase` command-line tool.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Parser, Subcommand};
use runbase::report::{ErrorLine, Report};
use runbase::{Error, Limits, Options, inspect_path};

/// Writes one line of text output with every control character in it escaped (a terminal
/// escape or a newline in a file name, a soname or an RPATH is shown as `\u{1b}`, `\n`):
/// every text line that shows something read from a file goes through here.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, "{}", $crate::human::shown(&format!($($arg)*)))
    };
}

/// `eprintln!` with control characters escaped, for messages naming files.
macro_rules! warn {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::human::shown(&format!($($arg)*)))
    };
}

mod advice;
mod batch;
mod human;
mod rootfs;
mod tree;

use batch::run_ordered;

/// A batch allocates and frees many small strings and records on every worker thread;
/// mimalloc's thread-local free lists do that with about a sixth fewer instructions than
/// the C library's allocator (measured over /usr/bin with callgrind).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One worker per core.
pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What does this ELF binary need at run time? Reads binaries, never runs them.
#[derive(Parser)]
#[command(name = "runbase", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report linkage, C library, glibc floor, toolchain and size facts for each FILE.
    ///
    /// Exit status: 0 when every file was analysed, 1 when some file could not be (its line
    /// says why; the others still print), 2 for bad usage.
    Inspect(InspectArgs),
    /// Show the shared-library closure of FILE inside a root filesystem, as a tree: how each
    /// library was found, and the directories tried for those that were not.
    Tree(TreeArgs),
    /// Every ELF file below DIR (an unpacked image) with the libraries it cannot find inside
    /// the root. Exit status 1 when any file has a missing library or version.
    Scan(ScanArgs),
    /// Recommend the smallest base image that runs each FILE (by policy), the files to add
    /// from the build stage, and a Dockerfile run stage. Never runs FILE.
    Recommend(advice::RecommendArgs),
    /// Check whether FILE can run in the root filesystem DIR (an unpacked image) and say
    /// exactly what is missing. Exit status 3 when it cannot run there.
    Verify(advice::VerifyArgs),
    /// Print the JSON Schema of the report lines (`--json` output).
    Schema {
        /// Print the schema of the error line instead.
        #[arg(long)]
        error_line: bool,
    },
}

#[derive(clap::Args)]
struct RootArgs {
    /// The root filesystem (an unpacked image, a sysroot, `/`), or an image: a `docker
    /// save` tarball or an OCI layout (directory or tarball), read in place. Libraries are
    /// resolved inside it, symbolic links included, as its own loader would. A FILE under
    /// the root's directory is resolved inside the root; in an image, FILE is a path
    /// inside the image.
    #[arg(long, value_name = "DIR|IMAGE")]
    root: Option<PathBuf>,
    #[command(flatten)]
    image: rootfs::ImageArgs,
    /// FILE is a file of this machine, checked as if copied into the root (or image) at
    /// the same path.
    #[arg(long)]
    host_file: bool,
    /// LD_LIBRARY_PATH for the resolution (colon-separated); this process's own is never
    /// used.
    #[arg(long, value_name = "DIRS")]
    ld_library_path: Option<String>,
}

impl RootArgs {
    /// The root, an image unpacked (none without `--root`); the message says why not.
    fn open(&self) -> Result<Option<rootfs::GivenRoot>, String> {
        self.root
            .as_ref()
            .map(|root| rootfs::GivenRoot::open(root, &self.image, || None))
            .transpose()
    }

    fn resolver(
        &self,
        root: Option<&rootfs::GivenRoot>,
        limits: &Limits,
    ) -> Option<runbase::Resolver> {
        let root = root?;
        let mut options = runbase::ResolveOptions::default();
        options.ld_library_path = self
            .ld_library_path
            .as_ref()
            .map(|p| p.split(':').map(str::to_string).collect());
        options.files_from_host = self.host_file;
        Some(runbase::Resolver::with_root(
            root.fs.clone(),
            limits,
            &options,
        ))
    }

    /// One resolver per worker, all sharing the libraries read (none without `--root`).
    fn resolvers(
        &self,
        root: Option<&rootfs::GivenRoot>,
        limits: &Limits,
        jobs: usize,
    ) -> Vec<runbase::Resolver> {
        let Some(first) = self.resolver(root, limits) else {
            return Vec::new();
        };
        let mut all: Vec<runbase::Resolver> = (1..jobs).map(|_| first.share()).collect();
        all.push(first);
        all
    }
}

#[derive(clap::Args)]
struct TreeArgs {
    /// The file.
    file: PathBuf,
    #[command(flatten)]
    root: RootArgs,
    /// Print the report line (with `closure`) instead of the tree.
    #[arg(long)]
    json: bool,
    /// Also list the directories tried for missing libraries.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// The directory of the root to walk (default `/`, the whole root): a path inside
    /// the root, or under a directory root's own path. Never one of this machine's
    /// directories outside the root.
    dir: Option<PathBuf>,
    #[command(flatten)]
    root: RootArgs,
    /// Print a report line per file (with `closure`).
    #[arg(long)]
    json: bool,
    /// Worker threads (default: the number of cores).
    #[arg(short, long)]
    jobs: Option<usize>,
}

#[derive(clap::Args)]
struct InspectArgs {
    #[command(flatten)]
    root: RootArgs,
    /// Files to analyse (directories need --recursive).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON object per file, one per line (the report contract).
    #[arg(long)]
    json: bool,
    /// Walk directories: every regular ELF file below them, in path order. Symbolic links
    /// and non-ELF files met during the walk are skipped.
    #[arg(short, long)]
    recursive: bool,
    /// Largest file to analyse, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_file_bytes: Option<u64>,
    /// Bytes content scans (for static binaries) may read per file.
    #[arg(long, value_name = "BYTES")]
    scan_budget: Option<u64>,
    /// Worker threads (default: the number of cores); the output keeps the input order.
    #[arg(short, long)]
    jobs: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => run_inspect(&args),
        Command::Tree(args) => tree::run_tree(&args),
        Command::Scan(args) => tree::run_scan(&args),
        Command::Recommend(args) => advice::run_recommend(&args),
        Command::Verify(args) => advice::run_verify(&args),
        Command::Schema { error_line } => print_schema(error_line),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runbase: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_schema(error_line: bool) -> io::Result<ExitCode> {
    let schema = if error_line {
        runbase::error_line_schema()
    } else {
        runbase::report_schema()
    };
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// One input: a path given on the command line or found by the walk.
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    /// Found by the walk: non-ELF files are skipped instead of reported.
    walked: bool,
}

fn run_inspect(args: &InspectArgs) -> io::Result<ExitCode> {
    let mut limits = Limits::default();
    if let Some(max) = args.max_file_bytes {
        limits.max_file_bytes = max;
    }
    if let Some(budget) = args.scan_budget {
        limits.scan_budget_bytes = budget;
    }
    let options = Options::with_limits(limits.clone());
    let mut out = BufWriter::new(io::stdout());
    let mut failed = false;
    let root = match args.root.open() {
        Ok(root) => root,
        Err(message) => {
            eprintln!("runbase: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    let resolvers = args.root.resolvers(root.as_ref(), &limits, jobs);
    let mut inputs = Vec::new();
    for path in &args.files {
        // In a root, a directory of the root (under its directory, or in the image) is
        // walked there; others on this machine.
        let in_root = root.as_ref().is_some_and(|r| r.holds(path));
        match resolvers.last() {
            Some(resolver) if args.recursive && in_root && !args.root.host_file => {
                match resolver.files_below(path) {
                    Ok(files) => {
                        inputs.extend(files.into_iter().map(|path| Input { path, walked: true }))
                    }
                    Err(_) => inputs.push(Input {
                        path: path.clone(),
                        walked: false,
                    }),
                }
            }
            _ if args.recursive && path.is_dir() => {
                walk(path, &mut inputs, &mut |dir, e| {
                    warn!(
                        "runbase: cannot read directory {}: {e}",
                        runbase::path_text(dir)
                    );
                    failed = true;
                });
            }
            _ => inputs.push(Input {
                path: path.clone(),
                walked: false,
            }),
        }
    }
    let resolvers = Mutex::new(resolvers);
    let mut printed = false;
    run_ordered(
        inputs.len(),
        jobs,
        || resolvers.lock().ok().and_then(|mut r| r.pop()),
        |resolver, i| {
            let Some(input) = inputs.get(i) else {
                return (Vec::new(), false);
            };
            let result = match resolver.as_mut() {
                Some(resolver) => runbase::inspect_in_root(&input.path, &options, resolver),
                None => inspect_path(&input.path, &options),
            };
            // Most reports take a few KiB: one allocation instead of a dozen doublings.
            let mut text = Vec::with_capacity(16 << 10);
            let written = match result {
                Ok(mut report) => {
                    if let Some(root) = &root {
                        root.label(&mut report);
                    }
                    write_report(&mut text, &report, args.json, true).map(|()| false)
                }
                Err(Error::NotElf) if input.walked => Ok(false),
                Err(error) => {
                    let label = runbase::path_text(&input.path);
                    write_error(&mut text, &ErrorLine::new(&label, &error), args.json)
                        .map(|()| true)
                }
            };
            // Writing to memory cannot fail; should it, the file counts as failed.
            let file_failed = written.unwrap_or(true);
            (text, file_failed)
        },
        |_, (text, file_failed)| {
            failed |= file_failed;
            if text.is_empty() {
                return Ok(());
            }
            if printed && !args.json {
                writeln!(out)?;
            }
            printed = true;
            out.write_all(&text)
        },
    )?;
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn write_report(
    out: &mut impl Write,
    report: &Report,
    json: bool,
    first: bool,
) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, report)?;
        writeln!(out)
    } else {
        if !first {
            writeln!(out)?;
        }
        human::write_report(out, report)
    }
}

pub(crate) fn write_error(out: &mut impl Write, line: &ErrorLine, json: bool) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, line)?;
        writeln!(out)
    } else {
        // Keep the readable output on stdout in order; the message also goes to stderr so
        // that it is seen when stdout is redirected.
        warn!("runbase: {}: {}", line.path, line.error.message);
        say!(out, "{}", line.path)?;
        say!(out, "  error: {}", line.error.message)
    }
}

/// Collects regular files below `dir` in path order, without following symbolic links.
pub(crate) fn walk(
    dir: &Path,
    inputs: &mut Vec<Input>,
    on_error: &mut dyn FnMut(&Path, io::Error),
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return on_error(dir, e),
    };
    let mut paths: Vec<(PathBuf, std::fs::FileType)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            Some((entry.path(), entry.file_type().ok()?))
        })
        .collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in paths {
        if kind.is_dir() {
            walk(&path, inputs, on_error);
        } else if kind.is_file() {
            inputs.push(Input { path, walked: true });
        }
    }
}
