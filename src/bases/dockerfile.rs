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
        copy(&mut out, &add.from, &add.path);
    }
    let _ = writeln!(out, "ENTRYPOINT [{}]", json_string(&e.program_path));
    out
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
