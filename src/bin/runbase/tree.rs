//! `runbase tree` and `runbase scan`: closures inside a root filesystem.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use runbase::report::ErrorLine;
use runbase::{ClosureTree, Limits, Options, TreeTarget};

use crate::rootfs::GivenRoot;
use crate::{ScanArgs, TreeArgs, default_jobs, run_ordered, write_report};

fn need_root(root: &Option<PathBuf>) -> io::Result<()> {
    if root.is_none() {
        eprintln!("runbase: --root DIR is required (use --root / for this system)");
        return Err(io::Error::other("missing --root"));
    }
    Ok(())
}

pub fn run_tree(args: &TreeArgs) -> io::Result<ExitCode> {
    if need_root(&args.root.root).is_err() {
        return Ok(ExitCode::from(2));
    }
    let limits = Limits::default();
    let root = match args.root.open() {
        Ok(root) => root,
        Err(message) => {
            eprintln!("runbase: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let Some(mut resolver) = args.root.resolver(root.as_ref(), &limits) else {
        return Ok(ExitCode::from(2));
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let report = match runbase::inspect_in_root(&args.file, &Options::default(), &mut resolver) {
        Ok(r) => r,
        Err(e) => {
            let line = ErrorLine::new(&runbase::path_text(&args.file), &e);
            crate::write_error(&mut out, &line, args.json)?;
            out.flush()?;
            return Ok(ExitCode::from(1));
        }
    };
    let (closure, tree) = resolver.closure_tree(&args.file);
    let broken = !closure.missing.is_empty()
        || !closure.unmet_versions.is_empty()
        || closure.interpreter.as_ref().is_some_and(|i| !i.found);
    if args.json {
        let mut report = report;
        report.closure = Some(closure);
        if let Some(root) = &root {
            root.label(&mut report);
        }
        write_report(&mut out, &report, true, true)?;
    } else {
        print_tree(
            &mut out,
            &runbase::path_text(&args.file),
            &tree,
            &closure,
            args.verbose,
        )?;
    }
    out.flush()?;
    Ok(if broken {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_tree(
    out: &mut impl Write,
    label: &str,
    tree: &ClosureTree,
    closure: &runbase::report::Closure,
    verbose: bool,
) -> io::Result<()> {
    say!(out, "{label}")?;
    if let Some(interp) = &closure.interpreter {
        let state = if interp.found {
            ""
        } else {
            " (not found: the kernel reports \"No such file or directory\")"
        };
        say!(out, "  interpreter {}{state}", interp.path)?;
    }
    print_children(out, tree, closure, verbose)?;
    for unmet in &closure.unmet_versions {
        say!(
            out,
            "  version {} not defined by {} (needed by {})",
            unmet.version,
            unmet.soname,
            unmet.needed_by.join(", ")
        )?;
    }
    for warning in &closure.warnings {
        say!(out, "  warning: {warning}")?;
    }
    Ok(())
}

/// The object under which each object's own needs are shown: the one that loaded it (the
/// first edge to it, in load order), as the loader's breadth-first walk met it. Showing a
/// library's needs once, at its shallowest place, keeps the tree's text proportional to its
/// edges: expanded at first sight in depth-first order, a library needed by every other
/// one would nest N deep, and the indentation alone would grow with N cubed.
fn loaded_by(tree: &ClosureTree) -> Vec<Option<(usize, usize)>> {
    let mut parent = vec![None; tree.nodes.len()];
    for (node, current) in tree.nodes.iter().enumerate() {
        for (edge, (_, target)) in current.needed.iter().enumerate() {
            if let TreeTarget::Node(index) = target {
                if let Some(slot) = parent.get_mut(*index).filter(|p| p.is_none()) {
                    if *index != 0 {
                        *slot = Some((node, edge));
                    }
                }
            }
        }
    }
    parent
}

fn print_children(
    out: &mut impl Write,
    tree: &ClosureTree,
    closure: &runbase::report::Closure,
    verbose: bool,
) -> io::Result<()> {
    let parent = loaded_by(tree);
    let mut shown = vec![false; tree.nodes.len()];
    if let Some(first) = shown.first_mut() {
        *first = true;
    }
    // Depth first, without recursion (a chain of libraries nests thousands deep): each frame
    // is a node, the next of its edges to print, and the prefix length of its children.
    let mut prefix = String::new();
    let mut stack: Vec<(usize, usize, usize)> = vec![(0, 0, 0)];
    while let Some((node, edge, depth_len)) = stack.pop() {
        prefix.truncate(depth_len);
        let Some((name, target)) = tree.nodes.get(node).and_then(|n| n.needed.get(edge)) else {
            continue;
        };
        let count = tree.nodes.get(node).map_or(0, |n| n.needed.len());
        let last = edge.saturating_add(1) == count;
        stack.push((node, edge.saturating_add(1), depth_len));
        let branch = if last { "└── " } else { "├── " };
        match target {
            TreeTarget::Node(index) => {
                let Some(child) = tree.nodes.get(*index) else {
                    continue;
                };
                let via = child.found_via.map_or("", |v| v.as_str());
                if parent.get(*index) == Some(&Some((node, edge))) {
                    if let Some(s) = shown.get_mut(*index) {
                        *s = true;
                    }
                    say!(out, "{prefix}{branch}{name} => {} [{via}]", child.path)?;
                    prefix.push_str(if last { "    " } else { "│   " });
                    stack.push((*index, 0, prefix.len()));
                } else {
                    let place = if shown.get(*index).copied().unwrap_or(false) {
                        "above"
                    } else {
                        "below"
                    };
                    say!(
                        out,
                        "{prefix}{branch}{name} => {} [{via}] (shown {place})",
                        child.path
                    )?;
                }
            }
            TreeTarget::Loader => say!(out, "{prefix}{branch}{name} (the loader)")?,
            TreeTarget::Missing => {
                say!(out, "{prefix}{branch}{name} not found")?;
                if verbose {
                    if let Some(m) = closure.missing.iter().find(|m| &m.soname == name) {
                        let deeper = if last { "    " } else { "│   " };
                        say!(out, "{prefix}{deeper}tried: {}", m.tried.join(", "))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn run_scan(args: &ScanArgs) -> io::Result<ExitCode> {
    if need_root(&args.root.root).is_err() {
        return Ok(ExitCode::from(2));
    }
    let root = match args.root.open() {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(ExitCode::from(2)),
        Err(message) => {
            eprintln!("runbase: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    let limits = Limits::default();
    let resolvers = args.root.resolvers(Some(&root), &limits, jobs);
    // DIR is always a directory of the root (`/` by default), never of this machine.
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("/"));
    let paths = match resolvers.last().map(|r| r.files_below(&dir)) {
        Some(Ok(paths)) => paths,
        Some(Err(e)) => {
            warn!("runbase: {}", runbase::report::message_with_causes(&e));
            return Ok(ExitCode::from(2));
        }
        None => return Ok(ExitCode::from(2)),
    };
    let resolvers = Mutex::new(resolvers);
    let options = Options::default();
    let mut broken = 0usize;
    let progress = io::stderr().is_terminal();
    let mut out = BufWriter::new(io::stdout());
    run_ordered(
        paths.len(),
        jobs,
        || resolvers.lock().ok().and_then(|mut r| r.pop()),
        |resolver, i| {
            let (Some(path), Some(resolver)) = (paths.get(i), resolver.as_mut()) else {
                return (None, false);
            };
            scan_line(
                path,
                args.json,
                runbase::inspect_in_root(path, &options, resolver),
                &root,
            )
        },
        |i, (line, bad)| {
            broken = broken.saturating_add(usize::from(bad));
            if let Some(line) = line {
                if progress {
                    // Clear the progress line before printing over it.
                    eprint!("\r\x1b[K");
                }
                // Already escaped (text) or JSON.
                writeln!(out, "{line}")?;
                if progress {
                    out.flush()?;
                }
            }
            let finished = i.saturating_add(1);
            if progress && (finished % 64 == 0 || finished == paths.len()) {
                eprint!("\r{finished}/{} files", paths.len());
            }
            Ok(())
        },
    )?;
    if progress {
        eprintln!();
    }
    out.flush()?;
    Ok(if broken > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The line `scan` prints for a file (none for a file whose closure is complete, in the
/// readable form), and whether the file cannot start.
fn scan_line(
    path: &Path,
    json: bool,
    result: Result<runbase::Report, runbase::Error>,
    root: &GivenRoot,
) -> (Option<String>, bool) {
    let shown = runbase::path_text(path);
    match result {
        Err(runbase::Error::NotElf) => (None, false),
        Err(e) => {
            let line = if json {
                serde_json::to_string(&ErrorLine::new(&shown, &e)).unwrap_or_default()
            } else {
                crate::human::shown(&format!("{shown}: error: {e}"))
            };
            (Some(line), false)
        }
        Ok(mut report) => {
            root.label(&mut report);
            let closure = report.closure.as_ref();
            let bad = closure.is_some_and(|c| {
                !c.missing.is_empty()
                    || !c.unmet_versions.is_empty()
                    || c.interpreter.as_ref().is_some_and(|i| !i.found)
            });
            let line = if json {
                serde_json::to_string(&report).ok()
            } else if let (true, Some(c)) = (bad, closure) {
                let mut lines = vec![shown];
                for m in &c.missing {
                    lines.push(format!(
                        "  missing {} (needed by {})",
                        m.soname,
                        m.needed_by.join(", ")
                    ));
                }
                for u in &c.unmet_versions {
                    lines.push(format!("  {} lacks version {}", u.soname, u.version));
                }
                if let Some(i) = c.interpreter.as_ref().filter(|i| !i.found) {
                    lines.push(format!("  interpreter {} not found", i.path));
                }
                // Each line escaped: control characters from the files stay on their line.
                let lines: Vec<String> = lines.iter().map(|l| crate::human::shown(l)).collect();
                Some(lines.join("\n"))
            } else {
                None
            };
            (line, bad)
        }
    }
}
