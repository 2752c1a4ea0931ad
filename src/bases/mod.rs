//! Advice: which base image runs a file, what to add to it, and the Dockerfile that does it.
//!
//! Every catalog image is evaluated against the report: it works as is,
//! works with files copied from the build stage, or cannot work (and why). A policy then
//! picks one: `smallest` (the base's compressed size plus the program and added files),
//! `debuggable` (the smallest with a shell) or `distroless`. Images past their end of life
//! are evaluated but never chosen.

mod catalog;
mod dockerfile;
mod evaluate;

use std::path::Path;

// The catalog's types, for the test suite's stand-in images; not part of the API.
pub use crate::report::{Policy, UnknownPolicy};
#[doc(hidden)]
pub use catalog::{BaseImage, BaseKind, BaseLibc, BaseLibrary, Catalog, catalog};

use crate::judge::Sentences;
use crate::report::{Alternative, Code, Recommendation, Report, Verdict};
use crate::rootfs::{Root, RootFs};
use evaluate::{Context, evaluate};

impl Policy {
    /// What the policy looks for, for sentences such as "the smallest image with a shell".
    fn wants(self) -> &'static str {
        match self {
            Policy::Smallest => "image",
            Policy::Debuggable => "image with a shell",
            Policy::Distroless => "distroless image",
        }
    }

    fn admits(self, base: &BaseImage) -> bool {
        match self {
            Policy::Smallest => true,
            Policy::Debuggable => base.shell.is_some(),
            Policy::Distroless => base.kind == BaseKind::Distroless,
        }
    }
}

/// What a recommendation reads besides the report. Start from [`Default`] (the `smallest`
/// policy, the build stage `/`) and set what differs, so new options do not break callers:
///
/// ```
/// use runbase::bases::{Policy, RecommendOptions};
///
/// let mut options = RecommendOptions::default();
/// options.policy = Policy::Distroless;
/// options.build_root = std::path::Path::new("/srv/build-root");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecommendOptions<'a> {
    /// The choice policy.
    pub policy: Policy,
    /// The build stage's root filesystem: libraries of the closure and added files are
    /// copied from it (`/` when the program was built on this machine).
    pub build_root: &'a Path,
    /// The build stage as a root already opened (a directory or an image); when set,
    /// `build_root` is not read.
    pub build_fs: Option<&'a RootFs>,
    /// The program's path in the build stage (for `COPY --from`); the report's path when
    /// `None`.
    pub program_from: Option<&'a str>,
    /// Plan the files of `possible` needs too (weaker hints, such as a library name near
    /// `dlopen`); by default they are only said, with the code `possible_not_planned`.
    pub include_possible: bool,
}

impl Default for RecommendOptions<'_> {
    fn default() -> Self {
        RecommendOptions {
            policy: Policy::default(),
            build_root: Path::new("/"),
            build_fs: None,
            program_from: None,
            include_possible: false,
        }
    }
}

/// Evaluates every catalog image for `report` and picks one by `options.policy`.
///
/// For a dynamic file the report should carry its closure resolved in the build root (see
/// [`crate::inspect_in_root`]); without one only the direct DT_NEEDED names are checked.
pub fn recommend(report: &Report, options: &RecommendOptions<'_>) -> Recommendation {
    let catalog = catalog();
    let build_root = match options.build_fs {
        Some(fs) => Some(Root::new(fs.clone())),
        None => RootFs::dir(options.build_root).ok().map(Root::new),
    };
    let program_from = match (options.program_from, &report.closure) {
        (Some(p), _) => p.to_string(),
        (None, Some(closure)) => closure.file_in_root.clone(),
        (None, None) => absolute(&report.path),
    };
    let ctx = Context {
        catalog,
        build_root: build_root.as_ref(),
        program_from: &program_from,
        sizes: Default::default(),
        include_possible: options.include_possible,
    };

    let mut evaluated: Vec<(&BaseImage, evaluate::Evaluation)> = catalog
        .images
        .iter()
        .map(|base| (base, evaluate(report, base, &ctx)))
        .collect();
    let size = |base: &BaseImage, e: &evaluate::Evaluation| {
        e.added_bytes
            .map(|added| base.compressed_bytes.saturating_add(added))
    };
    // Smallest first; unknown sizes last; equal sizes: the newest release first.
    evaluated.sort_by(|(a, ea), (b, eb)| {
        let (sa, sb) = (
            size(a, ea).unwrap_or(u64::MAX),
            size(b, eb).unwrap_or(u64::MAX),
        );
        sa.cmp(&sb).then_with(|| b.released.cmp(&a.released))
    });
    let chosen = evaluated.iter().find(|(base, e)| {
        e.verdict != Verdict::Fails && !base.ended(catalog) && options.policy.admits(base)
    });

    let alternatives = evaluated
        .iter()
        .map(|(base, e)| {
            let mut why = e.why.clone();
            if base.ended(catalog) {
                why.push(
                    Code::EndOfLife,
                    format!(
                        "end of life since {} (not chosen)",
                        base.end_of_life.as_deref().unwrap_or("?")
                    ),
                );
            }
            Alternative {
                base: base.name.clone(),
                verdict: e.verdict,
                why: why.text,
                why_codes: why.codes,
                estimated_image_bytes: size(base, e),
                add_files: e.add_files.clone(),
                end_of_life: base.ended(catalog),
            }
        })
        .collect();

    let mut why = Sentences::default();
    let (base, add_files, dockerfile, program_path) = match chosen {
        Some((base, e)) => {
            why.push(
                Code::Chosen,
                format!(
                    "{} is the smallest supported {} that can run it ({})",
                    base.name,
                    options.policy.wants(),
                    match e.verdict {
                        Verdict::Works => "as is".to_string(),
                        _ => format!("with {} file(s) added", e.add_files.len()),
                    }
                ),
            );
            why.append(&e.why);
            let text = dockerfile::render(report, base, e, &program_from);
            (
                Some(base.name.clone()),
                e.add_files.clone(),
                Some(text),
                Some(e.program_path.clone()),
            )
        }
        None => {
            why.push(
                Code::NoneFits,
                format!("no supported catalog {} can run it", options.policy.wants()),
            );
            (None, Vec::new(), None, None)
        }
    };
    Recommendation {
        base,
        policy: options.policy,
        why: why.text,
        why_codes: why.codes,
        add_files,
        alternatives,
        dockerfile,
        program_path,
        catalog_version: catalog.catalog_version.clone(),
    }
}

/// The path made absolute against the working directory (a Dockerfile needs absolute
/// `COPY --from` sources).
fn absolute(path: &str) -> String {
    let p = Path::new(path);
    if p.is_absolute() {
        return path.to_string();
    }
    std::env::current_dir()
        .map(|d| crate::path_text(&d.join(p)))
        .unwrap_or_else(|_| path.to_string())
}
