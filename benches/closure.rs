//! The shared-library closure of every ELF file in a Debian minbase root, in one process:
//! runbase's resolver (closure alone, and inspect + closure) beside lddtree-rs's
//! `DependencyAnalyzer` on the same files and root (the baseline the ratio is quoted
//! against). Each iteration starts from a fresh resolver, so libraries are read again.
//!
//! The root is the one `tests/roots/build.sh` makes (debootstrap, cached under
//! `~/.cache/runbase-roots`); `RUNBASE_BENCH_ROOT` names another. The process-level
//! comparison with libtree (a C program, which has no root option) runs inside a chroot
//! and is in `scripts/bench-closure`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use runbase::{Limits, Options, ResolveOptions, Resolver};

fn root() -> PathBuf {
    std::env::var_os("RUNBASE_BENCH_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/runbase-roots/minbase-amd64")
        })
}

/// Every regular ELF file below `dir` (symbolic links are not followed), in path order.
fn elf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            elf_files(&path, out);
        } else if meta.is_file() {
            let mut magic = [0u8; 4];
            let is_elf = std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && magic == *b"\x7fELF";
            if is_elf {
                out.push(path);
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let root = root();
    assert!(
        root.join("usr/bin").is_dir(),
        "no root at {}: run tests/roots/build.sh (or scripts/test-all) first, or set RUNBASE_BENCH_ROOT",
        root.display()
    );
    let mut files = Vec::new();
    elf_files(&root, &mut files);
    bench_root(c, "minbase root", &root, &files);
    // This system's programs against `/`, where lddtree-rs resolves every library (in the
    // minbase root it reports most of them missing, which makes its run cheaper).
    let mut programs = Vec::new();
    elf_files(Path::new("/usr/bin"), &mut programs);
    elf_files(Path::new("/usr/sbin"), &mut programs);
    bench_root(
        c,
        "/usr/bin and /usr/sbin, root /",
        Path::new("/"),
        &programs,
    );
}

fn bench_root(c: &mut Criterion, label: &str, root: &Path, files: &[PathBuf]) {
    let limits = Limits::default();
    let options = Options::default();
    let resolve = ResolveOptions::default();
    let mut group = c.benchmark_group(format!("closure of {} ELF files ({label})", files.len()));
    group.sample_size(10);
    group.bench_function("runbase Resolver::closure", |b| {
        b.iter(|| {
            let mut resolver = Resolver::new(root, &limits, &resolve).unwrap();
            files
                .iter()
                .map(|f| resolver.closure(black_box(f)).libraries.len())
                .sum::<usize>()
        })
    });
    group.bench_function("runbase inspect_in_root", |b| {
        b.iter(|| {
            let mut resolver = Resolver::new(root, &limits, &resolve).unwrap();
            files
                .iter()
                .filter_map(|f| {
                    runbase::inspect_in_root(black_box(f), &options, &mut resolver).ok()
                })
                .count()
        })
    });
    group.bench_function("lddtree-rs DependencyAnalyzer", |b| {
        b.iter(|| {
            files
                .iter()
                .filter_map(|f| {
                    lddtree::DependencyAnalyzer::new(root.to_path_buf())
                        .analyze(black_box(f))
                        .ok()
                })
                .map(|tree| tree.libraries.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
