//! The readable summary printed by `runbase inspect` without `--json`.

use std::io::{self, Write};

use runbase::report::{Linkage, Report};

/// Formats a byte count the way people read them (`1.4 MB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// Writes one report.
pub fn write_report(out: &mut impl Write, r: &Report) -> io::Result<()> {
    say!(out, "{}", r.path)?;
    let platform = r
        .platform
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let endian = match r.elf.endian {
        runbase::report::Endian::Big => "big-endian",
        _ => "little-endian",
    };
    say!(
        out,
        "  file         ELF {}-bit {endian} {}{platform}",
        r.elf.class,
        r.elf.machine
    )?;
    let runnable = if r.executable {
        "can be started directly"
    } else {
        "cannot be started directly"
    };
    let what = match r.linkage {
        Linkage::Static => "static: needs no loader and no shared libraries",
        Linkage::StaticPie => "static-pie: position-independent, needs no loader",
        Linkage::Dynamic => "dynamic: started by its program interpreter",
        Linkage::SharedLibrary => "shared library",
        Linkage::Relocatable => "relocatable object",
        _ => "other",
    };
    say!(out, "  linkage      {what}; {runnable}")?;
    if let Some(interp) = &r.interpreter {
        say!(out, "  interpreter  {interp}")?;
    }
    if !r.needed.is_empty() {
        say!(out, "  needed       {}", list(&r.needed))?;
    }
    if let Some(soname) = &r.soname {
        say!(out, "  soname       {soname}")?;
    }
    if !r.rpath.is_empty() {
        say!(out, "  rpath        {}", r.rpath.join(":"))?;
    }
    if !r.runpath.is_empty() {
        say!(out, "  runpath      {}", r.runpath.join(":"))?;
    }
    let mut libc = r.libc.family.as_str().to_string();
    if let Some(floor) = &r.libc.glibc_required {
        libc.push_str(&format!(" >= {floor}"));
        if !r.libc.glibc_floor_symbols.is_empty() {
            let shown: Vec<String> = r.libc.glibc_floor_symbols.iter().take(4).cloned().collect();
            let more = r.libc.glibc_floor_symbols.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            libc.push_str(&format!(" (set by {}{more})", shown.join(", ")));
        }
    }
    say!(out, "  libc         {libc}")?;
    for why in &r.libc.evidence {
        say!(out, "               - {why}")?;
    }
    if let Some(go) = &r.go {
        let version = go.version.as_deref().unwrap_or("version unknown");
        let cgo = if go.cgo_used {
            "calls into C"
        } else {
            "pure Go (no C)"
        };
        let stamped = match go.cgo_enabled {
            Some(true) => ", built with CGO_ENABLED=1",
            Some(false) => ", built with CGO_ENABLED=0",
            None => "",
        };
        say!(out, "  go           {version}, {cgo}{stamped}")?;
        if let Some(m) = &go.main_module {
            let v = m.version.as_deref().unwrap_or("");
            say!(out, "               module {} {v}", m.path)?;
        }
        if !go.tags.is_empty() {
            say!(out, "               tags {}", go.tags.join(","))?;
        }
        if !go.deps.is_empty() {
            say!(out, "               {} dependencies", go.deps.len())?;
        }
    }
    if let Some(rust) = &r.rust {
        let version = rust.rustc_version.as_deref().unwrap_or("version unknown");
        say!(out, "  rust         rustc {version}")?;
        if !rust.crates.is_empty() {
            say!(
                out,
                "               {} crates (cargo-auditable)",
                rust.crates.len()
            )?;
        }
    }
    if r.needs.is_empty() && r.needs_not_read.is_empty() {
        say!(out, "  needs        nothing hidden")?;
    }
    if !r.needs_not_read.is_empty() {
        let names: Vec<String> = r.needs_not_read.iter().map(|n| shown(n)).collect();
        say!(
            out,
            "  needs        not known for its libraries ({}): give --root to read them",
            names.join(", ")
        )?;
    }
    for need in &r.needs {
        let name = need
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let certainty = match need.certainty {
            runbase::report::Certainty::Required => "required",
            runbase::report::Certainty::Likely => "likely",
            _ => "possible",
        };
        say!(
            out,
            "  needs        {}{name}, {certainty}: {}",
            need.kind,
            need.summary
        )?;
        let files: Vec<String> = need
            .files
            .iter()
            .map(|f| {
                let mut text = f.path.to_string();
                if !f.required {
                    text.push_str(" (optional)");
                }
                if let Some(c) = &f.condition {
                    text.push_str(&format!(" [{c}]"));
                }
                text
            })
            .collect();
        if !files.is_empty() {
            say!(out, "               files: {}", files.join(", "))?;
        }
    }
    let s = &r.size;
    let mut size = bytes(s.file_bytes);
    if s.stripped {
        size.push_str(", stripped");
    } else {
        size.push_str(", not stripped");
    }
    let saving = s.symtab_bytes.saturating_add(s.debug_bytes);
    if saving > 0 {
        size.push_str(&format!(
            "; strip would save about {} (symbols {}, debug {})",
            bytes(saving),
            bytes(s.symtab_bytes),
            bytes(s.debug_bytes)
        ));
    }
    if let Some(packer) = &s.packed {
        size.push_str(&format!("; packed with {packer}"));
    }
    say!(out, "  size         {size}")?;
    for warning in &r.warnings {
        say!(out, "  warning      {warning}")?;
    }
    Ok(())
}

/// A name read from the file, with control characters escaped (`\u{1b}`), so that a
/// hostile file cannot send terminal escapes through the text output.
pub fn shown(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::shown("lib\u{1b}[2Jx.so"), "lib\\u{1b}[2Jx.so");
        assert_eq!(super::shown("libc.so.6"), "libc.so.6");
    }
}
