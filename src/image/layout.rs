//! The documents that say which layers make an image: `docker save`'s `manifest.json`, and
//! the OCI layout's `index.json`, image indexes, manifests and configurations; the image
//! chosen by name and platform.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::store::Store;
use super::{ImageError, ImageOptions, Platform};

/// The most descriptors followed through nested indexes, and how deep.
const MAX_DESCRIPTORS: usize = 1024;
const MAX_INDEX_DEPTH: usize = 4;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An OCI content descriptor (the fields read here).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    platform: Option<DescriptorPlatform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct DescriptorPlatform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    media_type: String,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// One image of `docker save`'s `manifest.json`.
#[derive(Debug, Deserialize)]
struct SavedImage {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// An image configuration (the fields read here).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) os: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
    #[serde(default)]
    pub(crate) config: Option<RunConfig>,
}

/// The configuration's `config`: how a container of the image starts.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunConfig {
    #[serde(rename = "Entrypoint", default)]
    pub(crate) entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub(crate) cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    pub(crate) env: Option<Vec<String>>,
    #[serde(rename = "User", default)]
    pub(crate) user: Option<String>,
    #[serde(rename = "WorkingDir", default)]
    pub(crate) working_dir: Option<String>,
}

/// The image chosen: its layers (files of the store, in order) and configuration.
#[derive(Debug)]
pub(crate) struct Chosen {
    pub(crate) reference: Option<String>,
    pub(crate) manifest_digest: Option<String>,
    pub(crate) layers: Vec<Layer>,
    pub(crate) config: Config,
}

/// A layer to apply: where it is, and the size its descriptor states (OCI only).
#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) name: String,
    pub(crate) size: Option<u64>,
    pub(crate) media_type: String,
}

/// The store path of a blob: `sha256:<hex>` -> `blobs/sha256/<hex>`. Digests are checked
/// to be of the spec's grammar, so a digest never names a path outside `blobs/`.
pub(crate) fn blob_path(digest: &str) -> Result<String, ImageError> {
    let bad = || ImageError::Malformed {
        what: format!("a digest not of the form algorithm:hex ({digest:.80})"),
    };
    let (algorithm, encoded) = digest.split_once(':').ok_or_else(bad)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let encoded_ok = !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    if !algorithm_ok || !encoded_ok {
        return Err(bad());
    }
    Ok(format!("blobs/{algorithm}/{encoded}"))
}

/// Reads a blob that a descriptor names as JSON, checking the size it states.
fn blob_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    d: &Descriptor,
    options: &ImageOptions,
) -> Result<T, ImageError> {
    let name = blob_path(&d.digest)?;
    check_size(store, &name, d.size)?;
    store.json(&name, options)
}

fn check_size(store: &Store, name: &str, stated: Option<u64>) -> Result<(), ImageError> {
    if let Some(stated) = stated {
        let (_, size) = store.open(name)?;
        if size != stated {
            return Err(ImageError::Malformed {
                what: format!("{name} holds {size} bytes; its descriptor says {stated}"),
            });
        }
    }
    Ok(())
}

/// Docker's way of naming: `alpine` is `docker.io/library/alpine:latest`.
pub(crate) fn normalise_reference(name: &str) -> String {
    let (path, digest) = match name.split_once('@') {
        Some((p, d)) => (p, Some(d)),
        None => (name, None),
    };
    let last = path.rsplit('/').next().unwrap_or(path);
    let tagged = if last.contains(':') || digest.is_some() {
        path.to_string()
    } else {
        format!("{path}:latest")
    };
    let first = tagged.split('/').next().unwrap_or("");
    let has_domain = tagged.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_domain {
        tagged
    } else if tagged.contains('/') {
        format!("docker.io/{tagged}")
    } else {
        format!("docker.io/library/{tagged}")
    };
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => full,
    }
}

fn reference_matches(wanted: &str, names: &[String]) -> bool {
    let full = normalise_reference(wanted);
    names
        .iter()
        .any(|n| n == wanted || normalise_reference(n) == full)
}

/// The names a top-level descriptor of `index.json` goes by.
fn names_of(d: &Descriptor) -> Vec<String> {
    [
        "io.containerd.image.name",
        "org.opencontainers.image.ref.name",
    ]
    .iter()
    .filter_map(|k| d.annotations.get(*k).cloned())
    .collect()
}

/// `docker save`: the image named by the reference, or the only one.
pub(crate) fn docker_save(store: &Store, options: &ImageOptions) -> Result<Chosen, ImageError> {
    let images: Vec<SavedImage> = store.json("manifest.json", options)?;
    let tags = |i: &SavedImage| i.repo_tags.clone().unwrap_or_default();
    let all_tags = || images.iter().flat_map(tags).collect::<Vec<_>>();
    let image = match &options.reference {
        Some(wanted) => images
            .iter()
            .find(|i| reference_matches(wanted, &tags(i)))
            .ok_or_else(|| ImageError::NoSuchReference {
                wanted: wanted.clone(),
                available: all_tags(),
            })?,
        None => match images.as_slice() {
            [one] => one,
            [] => {
                return Err(ImageError::Malformed {
                    what: "manifest.json lists no image".into(),
                });
            }
            _ => {
                return Err(ImageError::Ambiguous {
                    what: "images",
                    available: all_tags(),
                });
            }
        },
    };
    if image.layers.len() > options.max_layers {
        return Err(ImageError::LimitExceeded {
            what: "layers",
            limit: options.max_layers as u64,
        });
    }
    let config: Config = store.json(&image.config, options)?;
    let platform = Platform::of_config(&config);
    if let Some(wanted) = &options.platform {
        if !platform.as_ref().is_some_and(|p| p.matches(wanted)) {
            return Err(ImageError::NoMatchingPlatform {
                wanted: wanted.to_string(),
                available: platform.iter().map(Platform::to_string).collect(),
            });
        }
    }
    let layers = image
        .layers
        .iter()
        .map(|name| Layer {
            name: name.clone(),
            size: None,
            media_type: String::new(),
        })
        .collect();
    Ok(Chosen {
        reference: image.repo_tags.as_ref().and_then(|t| t.first().cloned()),
        manifest_digest: None,
        layers,
        config,
    })
}

/// An image manifest reached from `index.json`, with the name of the top-level entry it
/// came from and the platform an index says it is for.
struct Candidate {
    descriptor: Descriptor,
    reference: Option<String>,
    platform: Option<Platform>,
}

/// An OCI layout: the image named by the reference, for the platform asked for.
pub(crate) fn oci(store: &Store, options: &ImageOptions) -> Result<Chosen, ImageError> {
    let index: Index = store.json("index.json", options)?;
    let mut tops = index.manifests;
    if let Some(wanted) = &options.reference {
        let available: Vec<String> = tops.iter().flat_map(names_of).collect();
        tops.retain(|d| reference_matches(wanted, &names_of(d)));
        if tops.is_empty() {
            return Err(ImageError::NoSuchReference {
                wanted: wanted.clone(),
                available,
            });
        }
    }
    let mut candidates = Vec::new();
    let mut visited = 0usize;
    for top in tops {
        let reference = names_of(&top).into_iter().next();
        expand(
            store,
            options,
            top,
            &reference,
            0,
            &mut visited,
            &mut candidates,
        )?;
    }
    // Descriptors without a platform: the configuration says.
    for c in candidates.iter_mut().filter(|c| c.platform.is_none()) {
        let manifest: Manifest = blob_json(store, &c.descriptor, options)?;
        let config: Config = blob_json(store, &manifest.config, options)?;
        c.platform = Platform::of_config(&config);
    }
    // Attestations and other artifacts say `unknown/unknown`.
    candidates.retain(|c| c.platform.as_ref().is_none_or(|p| p.os != "unknown"));
    let available = || {
        let mut names: Vec<String> = Vec::new();
        for c in &candidates {
            let name = c
                .platform
                .as_ref()
                .map_or_else(|| "unknown".to_string(), Platform::to_string);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    };
    let distinct = |list: &[&Candidate]| {
        let mut digests: Vec<&str> = list.iter().map(|c| c.descriptor.digest.as_str()).collect();
        digests.sort_unstable();
        digests.dedup();
        digests.len()
    };
    let matching = |wanted: &Platform| -> Vec<&Candidate> {
        let all: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.platform.as_ref().is_some_and(|p| p.matches(wanted)))
            .collect();
        // An exact variant match is preferred over a looser one (`linux/arm` -> `v7`).
        let exact: Vec<&Candidate> = all
            .iter()
            .copied()
            .filter(|c| c.platform.as_ref() == Some(wanted))
            .collect();
        if exact.is_empty() { all } else { exact }
    };
    let chosen: &Candidate = if let Some(wanted) = &options.platform {
        let found = matching(wanted);
        match (found.first(), distinct(&found)) {
            (None, _) => {
                return Err(ImageError::NoMatchingPlatform {
                    wanted: wanted.to_string(),
                    available: available(),
                });
            }
            (Some(one), 1) => one,
            _ => {
                return Err(ImageError::Ambiguous {
                    what: "images for that platform",
                    available: references(&found),
                });
            }
        }
    } else {
        let all: Vec<&Candidate> = candidates.iter().collect();
        match (all.first(), distinct(&all)) {
            (None, _) => {
                return Err(ImageError::Malformed {
                    what: "index.json names no image manifest".into(),
                });
            }
            (Some(one), 1) => one,
            _ => {
                let by_default = options
                    .default_platform
                    .as_ref()
                    .map(matching)
                    .unwrap_or_default();
                match (by_default.first(), distinct(&by_default)) {
                    (Some(one), 1) => one,
                    _ => {
                        return Err(ImageError::Ambiguous {
                            what: "images (name a platform or a reference)",
                            available: available_images(&all),
                        });
                    }
                }
            }
        }
    };
    let manifest: Manifest = blob_json(store, &chosen.descriptor, options)?;
    if !manifest.media_type.is_empty()
        && manifest.media_type != OCI_MANIFEST
        && manifest.media_type != DOCKER_MANIFEST
    {
        return Err(ImageError::Unsupported {
            what: format!("a manifest of type {:.100}", manifest.media_type),
        });
    }
    if manifest.layers.len() > options.max_layers {
        return Err(ImageError::LimitExceeded {
            what: "layers",
            limit: options.max_layers as u64,
        });
    }
    let config: Config = blob_json(store, &manifest.config, options)?;
    let mut layers = Vec::new();
    for d in &manifest.layers {
        if d.media_type.contains("encrypted") {
            return Err(ImageError::Unsupported {
                what: format!("an encrypted layer ({:.100})", d.media_type),
            });
        }
        layers.push(Layer {
            name: blob_path(&d.digest)?,
            size: d.size,
            media_type: d.media_type.clone(),
        });
    }
    Ok(Chosen {
        reference: chosen.reference.clone(),
        manifest_digest: Some(chosen.descriptor.digest.clone()),
        layers,
        config,
    })
}

fn references(list: &[&Candidate]) -> Vec<String> {
    list.iter()
        .map(|c| {
            c.reference
                .clone()
                .unwrap_or_else(|| c.descriptor.digest.clone())
        })
        .collect()
}

fn available_images(list: &[&Candidate]) -> Vec<String> {
    list.iter()
        .map(|c| {
            let platform = c
                .platform
                .as_ref()
                .map_or_else(|| "unknown".to_string(), Platform::to_string);
            match &c.reference {
                Some(r) => format!("{r} {platform}"),
                None => platform,
            }
        })
        .collect()
}

/// Follows a descriptor down nested indexes to image manifests.
fn expand(
    store: &Store,
    options: &ImageOptions,
    d: Descriptor,
    reference: &Option<String>,
    depth: usize,
    visited: &mut usize,
    out: &mut Vec<Candidate>,
) -> Result<(), ImageError> {
    *visited = visited.saturating_add(1);
    if *visited > MAX_DESCRIPTORS {
        return Err(ImageError::LimitExceeded {
            what: "descriptors in indexes",
            limit: MAX_DESCRIPTORS as u64,
        });
    }
    match d.media_type.as_str() {
        OCI_INDEX | DOCKER_LIST => {
            if depth >= MAX_INDEX_DEPTH {
                return Err(ImageError::LimitExceeded {
                    what: "nested index depth",
                    limit: MAX_INDEX_DEPTH as u64,
                });
            }
            let index: Index = blob_json(store, &d, options)?;
            for child in index.manifests {
                expand(
                    store,
                    options,
                    child,
                    reference,
                    depth.saturating_add(1),
                    visited,
                    out,
                )?;
            }
        }
        // A descriptor without a media type is taken for a manifest (older layouts).
        OCI_MANIFEST | DOCKER_MANIFEST | "" => {
            let platform = d.platform.as_ref().map(|p| Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone().filter(|v| !v.is_empty()),
            });
            out.push(Candidate {
                descriptor: d,
                reference: reference.clone(),
                platform,
            });
        }
        // Artifacts, signatures: not images.
        _ => {}
    }
    Ok(())
}

/// Checks a layer's stated size against its blob before it is read.
pub(crate) fn check_layer(store: &Store, layer: &Layer) -> Result<(), ImageError> {
    check_size(store, &layer.name, layer.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_name_blobs_only() {
        assert_eq!(blob_path("sha256:abcd").unwrap(), "blobs/sha256/abcd");
        for bad in [
            "sha256:../../etc/passwd",
            "sha256:",
            ":abc",
            "abc",
            "SHA256:ab",
            "sha256:a/b",
        ] {
            assert!(blob_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_normalise_like_docker() {
        assert_eq!(
            normalise_reference("alpine"),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            normalise_reference("alpine:3.22"),
            "docker.io/library/alpine:3.22"
        );
        assert_eq!(normalise_reference("me/app"), "docker.io/me/app:latest");
        assert_eq!(
            normalise_reference("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalise_reference("ghcr.io/o/app:v1"), "ghcr.io/o/app:v1");
        assert!(reference_matches(
            "app:v1",
            &["docker.io/library/app:v1".into()]
        ));
        assert!(reference_matches("v1", &["v1".into()]));
        assert!(!reference_matches("app:v2", &["app:v1".into()]));
    }
}
