//! The run stage as a Dockerfile snippet: absolute `COPY --from` paths (a builder's
//! `WORKDIR` would move relative ones) and the exec form of `ENTRYPOINT` (scratch and
//! distroless images have no `/bin/sh` to run the shell form).

use std::fmt::Write;

use super::catalog::BaseImage;
use super::evaluate::Evaluation;
use crate::report::Report;

pub(crate) fn render(
    report: &Report,
    base: &BaseImage,
    e: &Evaluation,
    program_from: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Run stage chosen by runbase for {}.", report.path);
    let _ = writeln!(
        out,
        "# `build` names the stage that built it; paths are absolute in that stage."
    );
    let _ = writeln!(out, "FROM {}", base.from);
    copy(&mut out, program_from, &e.program_path);
    for add in &e.add_files {
        match &add.content {
            Some(text) => write_file(&mut out, text, &add.path),
            None => copy(&mut out, &add.from, &add.path),
        }
    }
    let _ = writeln!(out, "ENTRYPOINT [{}]", json_string(&e.program_path));
    out
}

/// A file written from its text with a here-document (BuildKit's Dockerfile syntax 1.4 and
/// later, the default since Docker 23): no shell is needed in the image. Only runbase's own
/// fixed texts and paths are written this way.
fn write_file(out: &mut String, text: &str, to: &str) {
    let _ = writeln!(out, "COPY <<EOF {to}");
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "EOF");
}

/// Paths with spaces or quotes go in the JSON form of COPY; plain ones stay readable.
fn copy(out: &mut String, from: &str, to: &str) {
    let plain = |p: &str| {
        !p.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    };
    if plain(from) && plain(to) {
        let _ = writeln!(out, "COPY --from=build {from} {to}");
    } else {
        let _ = writeln!(
            out,
            "COPY --from=build [{}, {}]",
            json_string(from),
            json_string(to)
        );
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}
