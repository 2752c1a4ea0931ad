//! A root filesystem named on the command line (`--root`): a directory, used as it is, or
//! an image (`docker save` tarball, OCI layout directory or tarball) unpacked into a
//! temporary directory that is removed when the [`GivenRoot`] is dropped.

use std::path::{Path, PathBuf};

use runbase::image::{ImageInfo, ImageOptions, Platform};
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
}

/// A root ready to be read.
pub(crate) struct GivenRoot {
    /// The path as given.
    pub(crate) given: PathBuf,
    /// The directory to read: the given one, or where the image was unpacked.
    pub(crate) dir: PathBuf,
    /// The image, when the root is one.
    pub(crate) image: Option<ImageInfo>,
    temp: Option<tempfile::TempDir>,
}

impl GivenRoot {
    /// Opens `given`: a plain directory as is, an image unpacked. `default_platform` (asked
    /// only for an image) chooses among several platforms when `--platform` is not given;
    /// without one, this machine's.
    pub(crate) fn open(
        given: &Path,
        args: &ImageArgs,
        default_platform: impl FnOnce() -> Option<Platform>,
    ) -> Result<GivenRoot, String> {
        let shown = given.display();
        let format = runbase::image::detect(given)
            .map_err(|e| format!("--root {shown}: {}", message_with_causes(&e)))?;
        if format.is_none() {
            return Ok(GivenRoot {
                given: given.to_path_buf(),
                dir: given.to_path_buf(),
                image: None,
                temp: None,
            });
        }
        let temp = tempfile::Builder::new()
            .prefix("runbase-image-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let mut options = ImageOptions::default();
        options.platform = args.platform.clone();
        options.default_platform = default_platform().or_else(|| Some(Platform::host()));
        options.reference = args.tag.clone();
        let mut root = GivenRoot {
            given: given.to_path_buf(),
            dir: temp.path().to_path_buf(),
            image: None,
            temp: Some(temp),
        };
        let info = runbase::image::unpack(given, &root.dir, &options)
            .map_err(|e| format!("--root {shown}: {}", message_with_causes(&e)))?;
        root.image = Some(info);
        Ok(root)
    }

    /// A path under the unpacked image, as the image sees it (`/usr/bin/ls`); other paths
    /// as they are.
    pub(crate) fn shown(&self, path: &Path) -> String {
        if self.image.is_some() {
            if let Ok(rest) = path.strip_prefix(&self.dir) {
                return format!("/{}", runbase::path_text(rest));
            }
        }
        runbase::path_text(path)
    }

    /// Puts the given root (not the temporary directory) in a report, with the image.
    pub(crate) fn label(&self, report: &mut Report) {
        if self.image.is_none() {
            return;
        }
        let given = self.given.display().to_string();
        report.path = self.shown(Path::new(&report.path));
        if let Some(closure) = report.closure.as_mut() {
            closure.root = given.clone();
        }
        if let Some(v) = report.verification.as_mut() {
            v.root = given;
            v.image = self.image.clone();
        }
    }
}

impl Drop for GivenRoot {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            // The image's read-only directories would stop an unprivileged removal.
            writable(temp.path());
            if let Err(e) = temp.close() {
                eprintln!("runbase: cannot remove the unpacked image: {e}");
            }
        }
    }
}

/// Gives the owner write and search permission on every directory below `dir`, without
/// following symbolic links.
fn writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(meta) = std::fs::symlink_metadata(&dir) {
            let mode = meta.permissions().mode();
            if meta.is_dir() && mode & 0o700 != 0o700 {
                let _ =
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode | 0o700));
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
}

/// The report's platform, when it is one an image can be chosen by.
pub(crate) fn platform_of(report: &Report) -> Option<Platform> {
    report.platform.as_deref().and_then(|p| p.parse().ok())
}
