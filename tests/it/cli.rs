//! The command-line tool: JSON lines in order, per-file errors, exit statuses, directory
//! walking, and the readable summary.

use crate::support::{
    check_value, fixture, fixtures, json_lines, mkfifo, output_within, readelf, run_expecting,
    runbase,
};

#[test]
fn json_lines_keep_order_and_report_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("script.sh");
    std::fs::write(&text, "#!/bin/sh\n").unwrap();
    let truncated = dir.path().join("truncated");
    std::fs::write(
        &truncated,
        &std::fs::read(fixture("hello-gcc")).unwrap()[..40],
    )
    .unwrap();
    let missing = dir.path().join("missing");
    let files = [
        fixture("hello-gcc"),
        text.clone(),
        truncated.clone(),
        missing.clone(),
        fixture("hello-musl-static"),
    ];
    let out = runbase()
        .arg("inspect")
        .arg("--json")
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), files.len());
    for (line, file) in lines.iter().zip(&files) {
        check_value(line);
        assert_eq!(line["path"], file.to_string_lossy().as_ref());
    }
    assert_eq!(lines[0]["linkage"], "dynamic");
    assert_eq!(
        lines[0]["needed"],
        serde_json::json!(readelf(&files[0]).needed)
    );
    assert!(lines[0].get("error").is_none());
    assert_eq!(lines[1]["error"]["kind"], "not_elf");
    assert_eq!(lines[2]["error"]["kind"], "truncated");
    assert_eq!(lines[3]["error"]["kind"], "io");
    assert_eq!(lines[4]["libc"]["family"], "musl");
}

#[test]
fn exit_status_zero_when_all_analysed_and_two_for_bad_usage() {
    let ok = runbase()
        .args(["inspect", "--json"])
        .arg(fixture("hello-gcc"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let usage = runbase()
        .args(["inspect", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let nothing = runbase().arg("inspect").output().unwrap();
    assert_eq!(nothing.status.code(), Some(2));
}

#[test]
fn recursive_walk_reports_every_elf_file_once() {
    let out = run_expecting(
        runbase()
            .args(["inspect", "--json", "--recursive"])
            .arg(fixtures()),
        0,
    );
    let lines = json_lines(&out.stdout);
    let mut expected: Vec<String> = Vec::new();
    let mut dirs = vec![fixtures().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let elf = || {
                std::fs::read(entry.path())
                    .map(|b| b.starts_with(b"\x7fELF"))
                    .unwrap_or(false)
            };
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() && elf() {
                expected.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    expected.sort();
    let got: Vec<String> = lines
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, expected);
    // A directory without --recursive is an error for that argument only.
    let out = runbase()
        .args(["inspect", "--json"])
        .arg(fixtures())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out.stdout)[0]["error"]["kind"], "io");
}

#[test]
fn readable_summary() {
    let out = runbase()
        .arg("inspect")
        .arg(fixture("hello-gcc"))
        .arg(fixture("go-hello-nocgo"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("dynamic: started by its program interpreter"),
        "{text}"
    );
    assert!(
        text.contains("interpreter  /lib64/ld-linux-x86-64.so.2"),
        "{text}"
    );
    assert!(text.contains("libc         glibc >= 2."), "{text}");
    assert!(text.contains("libc         none"), "{text}");
    assert!(text.contains("pure Go (no C)"), "{text}");
}

#[test]
fn schema_command_prints_the_published_schema() {
    let out = runbase().arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(printed, committed);
}

/// A FIFO nobody writes to would block `open` forever; it, a device and a directory are
/// refused at once, each named for what it is.
#[test]
fn fifos_devices_and_directories_are_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let fifo_text = fifo.to_str().unwrap();
    let hello = fixture("hello-gcc");
    let dir_text = dir.path().to_str().unwrap();
    let cases: [(Vec<&str>, &str); 4] = [
        (vec!["inspect", "--json", fifo_text], "a FIFO"),
        (
            vec!["inspect", "--json", "--root", "/", fifo_text],
            "a FIFO",
        ),
        (vec!["inspect", "--json", "/dev/null"], "a character device"),
        (vec!["inspect", "--json", dir_text], "a directory"),
    ];
    for (args, kind) in cases {
        let out = output_within(runbase().args(&args), 60);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let lines = json_lines(&out.stdout);
        assert_eq!(lines.len(), 1, "{args:?}");
        check_value(&lines[0]);
        assert_eq!(lines[0]["error"]["kind"], "io", "{args:?}");
        let message = lines[0]["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("not a regular file but {kind}")),
            "{message}"
        );
    }
    // The tree of a FIFO, and a FIFO as the root: errors on standard error.
    let tree = output_within(runbase().args(["tree", "--root", "/"]).arg(&fifo), 60);
    assert_eq!(tree.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tree.stderr).contains("a FIFO"));
    let root = output_within(
        runbase().args(["inspect", "--root"]).arg(&fifo).arg(&hello),
        60,
    );
    assert_eq!(root.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&root.stderr);
    assert!(stderr.contains("not a regular file but a FIFO"), "{stderr}");
}

/// Files are read with `pread` only: a memory map dies of SIGBUS when a file is truncated
/// under it, taking the whole batch along, so there is no mode that maps files.
#[test]
fn no_memory_mapped_read_mode() {
    let out = runbase()
        .args(["inspect", "--json", "--read-mode", "mmap"])
        .arg(fixture("hello-gcc"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--read-mode"));
}
