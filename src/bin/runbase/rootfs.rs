//! A root filesystem named on the command line (`--root`): a directory, used as it is, or
//! an image (`docker save` tarball, OCI layout directory or tarball) read in place.

use std::path::Path;

use runbase::RootFs;
use runbase::image::{Image, ImageInfo, ImageOptions, Platform};
use runbase::report::Report;
use runbase::report::message_with_causes;

/// How to pick an image out of an archive or layout holding several.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct ImageArgs {
    /// When the root is an image holding several platforms, the one to unpack
    /// (`linux/arm64`, `linux/arm/v7`). Default: the program's own platform for `verify`
    /// and `recommend`, this machine's otherwise.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub(crate) platform: Option<Platform>,
    /// When the root is an image archive or layout holding several images, the one to
    /// unpack, by name (`app:1.2`, or an OCI layout's tag).
    #[arg(long, value_name = "NAME")]
    pub(crate) tag: Option<String>,
    /// When the root is an image, the most bytes its layers may decompress to (the bound
    /// on decompression bombs; nothing is written to disk). Default: 16 GiB.
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_image_bytes: Option<u64>,
}

/// A root ready to be read.
pub(crate) struct GivenRoot {
    /// The root: a directory, or an image read in place (nothing is unpacked).
    pub(crate) fs: RootFs,
}

impl GivenRoot {
    /// Opens `given`: a plain directory as is, an image read in place. `default_platform`
    /// (asked only for an image) chooses among several platforms when `--platform` is not
    /// given; without one, this machine's.
    pub(crate) fn open(
        given: &Path,
        args: &ImageArgs,
        default_platform: impl FnOnce() -> Option<Platform>,
    ) -> Result<GivenRoot, String> {
        let shown = crate::human::shown(&runbase::path_text(given));
        let meta = std::fs::metadata(given).map_err(|e| format!("--root {shown}: {e}"))?;
        if !meta.is_dir() && !meta.is_file() {
            // The library names what it is (a FIFO, a device), opening it without waiting.
            let what = runbase::FileSource::open(given)
                .err()
                .and_then(|e| std::error::Error::source(&e).map(ToString::to_string))
                .unwrap_or_else(|| "not a regular file".into());
            return Err(format!(
                "--root {shown}: neither a directory nor an image: {what}"
            ));
        }
        if meta.is_file() && !looks_like_tar(given) {
            // Never parse further, nor quote what it holds: it may be a key or a password
            // file named by mistake.
            return Err(format!(
                "--root {shown}: neither a directory nor an image (a docker save or OCI \
                 layout tarball); this file is not a tar archive"
            ));
        }
        let format = runbase::image::detect(given)
            .map_err(|e| format!("--root {shown}: {}", image_message(&e)))?;
        if format.is_none() {
            let fs = RootFs::dir(given)
                .map_err(|e| format!("--root {shown}: {}", message_with_causes(&e)))?;
            return Ok(GivenRoot { fs });
        }
        let mut options = ImageOptions::default();
        options.platform = args.platform.clone();
        options.default_platform = default_platform().or_else(|| Some(Platform::host()));
        options.reference = args.tag.clone();
        if let Some(max) = args.max_image_bytes {
            options.max_bytes = max;
        }
        let image = Image::open(given, &options)
            .map_err(|e| format!("--root {shown}: {}", image_message(&e)))?;
        Ok(GivenRoot {
            fs: RootFs::image(given, image),
        })
    }

    /// The image, when the root is one.
    pub(crate) fn image(&self) -> Option<&ImageInfo> {
        self.fs.image_info()
    }

    /// Puts the image in a report's verification.
    pub(crate) fn label(&self, report: &mut Report) {
        if let Some(v) = report.verification.as_mut() {
            v.image = self.image().cloned();
        }
    }

    /// Whether `path` names something inside the root: any path in an image; a path
    /// under a directory root's directory.
    pub(crate) fn holds(&self, path: &Path) -> bool {
        let Some(dir) = self.fs.host_dir() else {
            return true;
        };
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let canonical = |p: &Path| std::fs::canonicalize(p).ok();
        absolute(path).starts_with(absolute(dir))
            || matches!((canonical(path), canonical(dir)), (Some(p), Some(d)) if p.starts_with(&d))
    }
}

/// Whether the file starts with a tar header (its checksum right): the only file an image
/// can be.
fn looks_like_tar(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 512];
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if file.take(512).read_exact(&mut header).is_err() {
        return false;
    }
    let stored = header
        .get(148..156)
        .and_then(|field| std::str::from_utf8(field).ok())
        .map(|text| text.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|text| u32::from_str_radix(text, 8).ok());
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == Some(sum)
}

/// The longest image error message shown: a hostile archive's fields reach the messages
/// of the tar reader.
const MAX_MESSAGE_CHARS: usize = 300;

/// An image error's message, with control characters escaped and its length bounded.
fn image_message(e: &runbase::image::ImageError) -> String {
    let message = crate::human::shown(&message_with_causes(e));
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", message.get(..cut).unwrap_or_default()),
        None => message,
    }
}

/// The report's platform, when it is one an image can be chosen by.
pub(crate) fn platform_of(report: &Report) -> Option<Platform> {
    report.platform.as_deref().and_then(|p| p.parse().ok())
}
