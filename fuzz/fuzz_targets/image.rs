//! Drives image reading with arbitrary bytes: as the one layer of a `docker save` tarball
//! (the layer code: tar entries, whiteouts, links, compression), or, when the first byte is
//! odd, as the tarball itself (the archive index and the JSON documents). Tight limits are
//! chosen by the last byte. An image that opens is read whole (every file's content) and
//! used as a root for a closure. Whatever happens, nothing is written to disk.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use runbase::image::{Image, ImageOptions};
use runbase::{Limits, ResolveOptions, Resolver, RootFs};

fn docker_save(layer: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, data).expect("in memory");
    };
    add("manifest.json", br#"[{"Config":"c.json","RepoTags":["f:1"],"Layers":["l.tar"]}]"#);
    add("c.json", br#"{"architecture":"amd64","os":"linux"}"#);
    add("l.tar", layer);
    builder.into_inner().expect("in memory")
}

fuzz_target!(|data: &[u8]| {
    let work = tempfile::tempdir().expect("temporary directory");
    let image = work.path().join("image.tar");
    let bytes = if data.first().is_some_and(|b| b % 2 == 1) {
        data.to_vec()
    } else {
        docker_save(data)
    };
    std::fs::write(&image, bytes).expect("write image");
    let knob = u64::from(data.last().copied().unwrap_or(0));
    let mut options = ImageOptions::default();
    options.max_bytes = 1 << 20;
    options.max_entries = 16 + knob;
    options.max_path_bytes = 64 + knob as usize * 16;
    options.max_retained_bytes = knob * 64;
    match Image::open(&image, &options) {
        Err(error) => {
            assert!(!error.kind_name().is_empty());
            let _ = error.to_string();
        }
        Ok(opened) => {
            let _ = opened.listing();
            let root = RootFs::image(&image, opened);
            let mut resolver =
                Resolver::with_root(root, &Limits::default(), &ResolveOptions::default());
            let _ = resolver.closure(Path::new("/bin/sh"));
            let _ = resolver.files_below(Path::new("/"));
        }
    }
    let written = std::fs::read_dir(work.path()).expect("read").count();
    assert_eq!(written, 1, "written beside the image");
});
