//! `runbase recommend` (which base image, what to add, the Dockerfile) and `runbase verify`
//! (can it run in this root, and if not, what is missing).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use runbase::bases::{Policy, RecommendOptions, recommend};
use runbase::report::{ErrorLine, Report, Verdict};
use runbase::{Limits, Options, ResolveOptions, Resolver};

use crate::human::bytes;
use crate::rootfs::{GivenRoot, ImageArgs, platform_of};

/// Opens `--root` for `file`: an image holding several platforms gives the file's own
/// when the file is on this machine.
fn open_root(
    given: &Path,
    args: &ImageArgs,
    host_file: Option<&PathBuf>,
) -> Result<GivenRoot, ExitCode> {
    let platform = || {
        host_file
            .and_then(|f| runbase::inspect_path(f, &Options::default()).ok())
            .and_then(|r| platform_of(&r))
    };
    GivenRoot::open(given, args, platform).map_err(|message| {
        eprintln!("runbase: {message}");
        ExitCode::from(1)
    })
}

#[derive(clap::Args)]
pub(crate) struct RecommendArgs {
    /// The programs (default, with an image as --root: the program the image starts, from
    /// its ENTRYPOINT or CMD).
    files: Vec<PathBuf>,
    /// The build stage's root filesystem: libraries and added files are copied from it
    /// (default `/`, this machine). With it, the report's `closure` is filled too. An
    /// image (`docker save` tarball, OCI layout) is unpacked into a temporary directory.
    #[arg(long, value_name = "DIR|IMAGE")]
    root: Option<PathBuf>,
    #[command(flatten)]
    image: ImageArgs,
    /// The FILEs are files of this machine, checked as if copied into the build stage at
    /// the same path (without it, in an image FILE is a path inside the image).
    #[arg(long)]
    host_file: bool,
    /// How to choose: `smallest` (base plus added files), `debuggable` (has a shell) or
    /// `distroless`.
    #[arg(long, default_value = "smallest")]
    policy: Policy,
    /// Print only the Dockerfile snippet of each file.
    #[arg(long)]
    dockerfile: bool,
    /// Also plan the files of needs that are only `possible` (weaker hints, such as a
    /// library name near `dlopen`); without it they are only mentioned.
    #[arg(long, value_name = "CERTAINTY", value_parser = ["possible"])]
    include: Option<String>,
    /// Print the report lines of the contract, with `recommendation` filled.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The program (default, with an image as --root: the program the image starts, from
    /// its ENTRYPOINT or CMD).
    file: Option<PathBuf>,
    /// The root filesystem it should run in: a directory (an unpacked image), or an image,
    /// a `docker save` tarball or an OCI layout (directory or tarball).
    #[arg(long, value_name = "DIR|IMAGE")]
    root: PathBuf,
    #[command(flatten)]
    image: ImageArgs,
    /// FILE is a file of this machine, checked as if copied into the root at the same path
    /// (without it, in an image FILE is a path inside the image, and under a directory
    /// root's path it is resolved inside the root).
    #[arg(long)]
    host_file: bool,
    /// Print the report line, with `closure` and `verification`.
    #[arg(long)]
    json: bool,
}

/// The programs to check: the FILEs given, or else the program an image starts
/// (`ENTRYPOINT`, else `CMD`, looked up in the image's `PATH` when it has no `/`).
fn programs(given: &[PathBuf], root: &GivenRoot) -> Result<Vec<PathBuf>, ExitCode> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let Some(image) = root.image() else {
        eprintln!("runbase: name a FILE (only an image says which program it starts)");
        return Err(ExitCode::from(2));
    };
    let first = image.entrypoint.first().or(image.cmd.first());
    let Some(program) = first.filter(|p| !p.is_empty()) else {
        eprintln!("runbase: the image has no ENTRYPOINT or CMD: name a FILE inside it");
        return Err(ExitCode::from(2));
    };
    if program.contains('/') {
        return Ok(vec![PathBuf::from(program)]);
    }
    let path = image
        .env_path
        .as_deref()
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let found = path
        .split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| root.fs.is_file(candidate));
    match found {
        Some(found) => Ok(vec![found]),
        None => {
            warn!("runbase: the image starts {program}, which is not in its PATH ({path})");
            Err(ExitCode::from(3))
        }
    }
}

pub(crate) fn run_recommend(args: &RecommendArgs) -> io::Result<ExitCode> {
    let limits = Limits::default();
    let options = Options::with_limits(limits.clone());
    let given = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let root = match open_root(
        &given,
        &args.image,
        args.files.first().filter(|_| args.host_file),
    ) {
        Ok(root) => root,
        Err(code) => return Ok(code),
    };
    let files = match programs(&args.files, &root) {
        Ok(files) => files,
        Err(code) => return Ok(code),
    };
    let mut resolve = ResolveOptions::default();
    resolve.files_from_host = args.host_file;
    let mut resolver = Resolver::with_root(root.fs.clone(), &limits, &resolve);
    let mut out = BufWriter::new(io::stdout().lock());
    let mut failed = false;
    for (n, file) in files.iter().enumerate() {
        let mut report = match runbase::inspect_in_root(file, &options, &mut resolver) {
            Ok(report) => report,
            Err(error) => {
                failed = true;
                let line = ErrorLine::new(&runbase::path_text(file), &error);
                crate::write_error(&mut out, &line, args.json)?;
                continue;
            }
        };
        let mut options = RecommendOptions::default();
        options.policy = args.policy;
        options.build_fs = Some(&root.fs);
        options.include_possible = args.include.is_some();
        let rec = recommend(&report, &options);
        if args.root.is_none() {
            // The contract fills `closure` only when a root was given.
            report.closure = None;
        }
        report.recommendation = Some(rec);
        root.label(&mut report);
        if args.json {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        } else if args.dockerfile {
            if let Some(text) = report
                .recommendation
                .as_ref()
                .and_then(|r| r.dockerfile.as_deref())
            {
                out.write_all(text.as_bytes())?;
            } else {
                failed = true;
                warn!("runbase: {}: no catalog image can run it", report.path);
            }
        } else {
            if n > 0 {
                writeln!(out)?;
            }
            write_recommendation(&mut out, &report)?;
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_recommendation(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let Some(rec) = &report.recommendation else {
        return Ok(());
    };
    say!(out, "{}", report.path)?;
    match &rec.base {
        Some(base) => say!(out, "  base         {base} (policy {})", rec.policy)?,
        None => say!(out, "  base         none (policy {})", rec.policy)?,
    }
    for why in &rec.why {
        say!(out, "               - {why}")?;
    }
    if !rec.add_files.is_empty() {
        say!(out, "  add")?;
        for f in &rec.add_files {
            match &f.content {
                Some(_) => say!(out, "    {}  <-  (written: root and nobody only)", f.path)?,
                None => say!(out, "    {}  <-  {}", f.path, f.from)?,
            }
        }
    }
    say!(
        out,
        "  images (estimated size: base compressed + program + added files)"
    )?;
    let width = rec
        .alternatives
        .iter()
        .map(|a| a.base.len())
        .max()
        .unwrap_or(0);
    for a in &rec.alternatives {
        let size = a
            .estimated_image_bytes
            .map(bytes)
            .unwrap_or_else(|| "?".into());
        let note = match (a.verdict, a.end_of_life) {
            (Verdict::Fails, _) => a.why.first().cloned().unwrap_or_default(),
            (_, true) => "end of life".into(),
            (Verdict::WorksWithFiles, _) => format!("{} file(s) added", a.add_files.len()),
            _ => String::new(),
        };
        say!(
            out,
            "    {:width$}  {:>9}  {:16}  {note}",
            a.base,
            size,
            a.verdict
        )?;
    }
    if let Some(text) = &rec.dockerfile {
        say!(out, "  Dockerfile")?;
        for line in text.lines() {
            say!(out, "    {line}")?;
        }
    }
    Ok(())
}

pub(crate) fn run_verify(args: &VerifyArgs) -> io::Result<ExitCode> {
    let limits = Limits::default();
    let options = Options::with_limits(limits.clone());
    let root = match open_root(
        &args.root,
        &args.image,
        args.file.as_ref().filter(|_| args.host_file),
    ) {
        Ok(root) => root,
        Err(code) => return Ok(code),
    };
    let file = match programs(args.file.as_slice(), &root) {
        Ok(files) => files.into_iter().next().unwrap_or_default(),
        Err(code) => return Ok(code),
    };
    let mut resolve = ResolveOptions::default();
    resolve.files_from_host = args.host_file;
    let mut resolver = Resolver::with_root(root.fs.clone(), &limits, &resolve);
    let mut out = BufWriter::new(io::stdout().lock());
    let mut report = match runbase::inspect_in_root(&file, &options, &mut resolver) {
        Ok(report) => report,
        Err(error) => {
            let line = ErrorLine::new(&runbase::path_text(&file), &error);
            crate::write_error(&mut out, &line, args.json)?;
            out.flush()?;
            return Ok(ExitCode::from(1));
        }
    };
    let verification = runbase::verify_with(&report, &mut resolver);
    let runs = verification.runs;
    report.verification = Some(verification);
    root.label(&mut report);
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_verification(&mut out, &report, &args.root)?;
    }
    out.flush()?;
    Ok(if runs {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn write_verification(out: &mut impl Write, report: &Report, root: &Path) -> io::Result<()> {
    let Some(v) = &report.verification else {
        return Ok(());
    };
    let verdict = if v.runs { "can run" } else { "cannot run" };
    match &v.image {
        Some(image) => {
            let name = image
                .reference
                .as_deref()
                .map(|r| format!("{r}, "))
                .unwrap_or_default();
            say!(
                out,
                "{}: {verdict} in image {} ({name}{}, {} layer{}, {})",
                report.path,
                runbase::path_text(root),
                image.format.as_str(),
                image.layers,
                if image.layers == 1 { "" } else { "s" },
                image.platform.as_deref().unwrap_or("platform unknown")
            )?;
        }
        None => say!(
            out,
            "{}: {verdict} in {}",
            report.path,
            runbase::path_text(root)
        )?,
    }
    for p in &v.problems {
        say!(out, "  missing  {p}")?;
    }
    for w in &v.warnings {
        say!(out, "  maybe    {w}")?;
    }
    for n in &v.notes {
        say!(out, "  ok       {n}")?;
    }
    Ok(())
}
