//! Inspecting a small, a medium and a large binary, from memory and through `pread`, beside
//! goblin's eager `Elf::parse` of the same bytes (the baseline the ratios are quoted against).
//!
//! The files come from the shared corpus (`../shared/corpus/fetch-real-binaries.sh`): GNU
//! hello (31 kB), the same hello padded with zeros to 80 MB (same content, larger file), git
//! (3.7 MB) and librustc_driver (67 MB). Without the corpus the bench falls back to files
//! every Debian machine has, and says so.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use runbase::Options;

fn corpus() -> PathBuf {
    std::env::var_os("RUNBASE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/runbase-corpus")
        })
        .join("x")
}

/// (label, path) for the small, medium and large inputs.
fn inputs() -> Vec<(&'static str, PathBuf)> {
    let x = corpus();
    let find = |dir: &str, prefix: &str| -> Option<PathBuf> {
        let dir = x.join(dir);
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
    };
    let small = find("deb/hello_2.10-3_amd64/usr/bin", "hello");
    let medium = find("deb/git_1%3a2.39.5-0+deb12u3_amd64/usr/bin", "git");
    let large = std::fs::read_dir(x.join("deb"))
        .ok()
        .and_then(|mut d| {
            d.find_map(|e| {
                let p = e.ok()?.path();
                p.file_name()?
                    .to_string_lossy()
                    .starts_with("libstd-rust")
                    .then_some(p)
            })
        })
        .and_then(|p| {
            find(
                &p.join("usr/lib/x86_64-linux-gnu")
                    .strip_prefix(&x)
                    .ok()?
                    .to_string_lossy(),
                "librustc_driver",
            )
        });
    match (small, medium, large) {
        (Some(s), Some(m), Some(l)) => vec![("small", s), ("medium", m), ("large", l)],
        _ => {
            eprintln!(
                "corpus not found under {}: benching /bin/true, libc.so.6 and this bench binary",
                x.display()
            );
            vec![
                ("small", PathBuf::from("/bin/true")),
                ("medium", PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")),
                ("large", std::env::current_exe().expect("bench binary")),
            ]
        }
    }
}

fn bench(c: &mut Criterion) {
    let options = Options::default();
    let mut inputs = inputs();
    // The small file followed by 80 MB of zeros: the same ELF content in an 80 MB file, so
    // any growth of the cost with the file's size alone would show here.
    let padded_dir = std::env::temp_dir().join(format!("runbase-bench-{}", std::process::id()));
    std::fs::create_dir_all(&padded_dir).expect("temp dir");
    let padded = padded_dir.join("small-padded-80MB");
    let mut bytes = std::fs::read(&inputs[0].1).expect("read small");
    bytes.resize(bytes.len() + (80 << 20), 0);
    std::fs::write(&padded, &bytes).expect("write padded");
    inputs.insert(1, ("small padded", padded));
    for (label, path) in inputs {
        let bytes = std::fs::read(&path).expect("read input");
        let mut group = c.benchmark_group(format!("{label} ({} bytes)", bytes.len()));
        group.bench_function("runbase inspect_bytes", |b| {
            b.iter(|| runbase::inspect_bytes("x", black_box(&bytes), &options).expect("inspects"))
        });
        group.bench_function("runbase inspect_path (pread)", |b| {
            b.iter(|| runbase::inspect_path(black_box(&path), &options).expect("inspects"))
        });
        group.bench_function("goblin Elf::parse", |b| {
            b.iter(|| {
                goblin::elf::Elf::parse(black_box(&bytes))
                    .expect("parses")
                    .libraries
                    .len()
            })
        });
        group.finish();
    }
    let _ = std::fs::remove_dir_all(&padded_dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
