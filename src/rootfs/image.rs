//! An image as a root: lookups in the index of its final tree (`crate::image`), content
//! served from memory or read back from the image file; nothing is unpacked to disk.

use std::io;
use std::sync::Arc;

use super::{Child, Content, Identity};
use crate::image::{Image, ImageTree, NodeId, NodeKind};

/// Every image node's identity has this device number (no real device has it).
const IMAGE_DEVICE: u64 = u64::MAX;

pub(super) fn identity(image: &Image, node: NodeId) -> Identity {
    Identity {
        dev: IMAGE_DEVICE,
        ino: image.tree().identity(node),
    }
}

pub(super) fn child(image: &Image, dir: NodeId, name: &[u8]) -> Child {
    let tree = image.tree();
    let Some(node) = tree.child(dir, name) else {
        return Child::Missing;
    };
    let id = identity(image, node);
    match tree.kind(node) {
        NodeKind::Dir => Child::Dir(id),
        NodeKind::File { size } => Child::File(id, size),
        NodeKind::Symlink(target) => Child::Link(target.to_vec()),
        NodeKind::Other => Child::Other(id, "something else (a device or FIFO entry)"),
    }
}

pub(super) fn enter(image: &Image, dir: NodeId, name: &[u8]) -> Option<NodeId> {
    let tree = image.tree();
    let node = tree.child(dir, name)?;
    matches!(tree.kind(node), NodeKind::Dir).then_some(node)
}

pub(super) fn open(image: &Image, parent: NodeId, name: &[u8]) -> io::Result<Content> {
    let tree: &ImageTree = image.tree();
    let node = tree
        .child(parent, name)
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    match tree.kind(node) {
        NodeKind::File { .. } => {
            let bytes: Arc<[u8]> = tree.read(node, u64::MAX)?;
            Ok(Content::Bytes(bytes))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )),
    }
}

pub(super) fn names(image: &Image, parent: NodeId, name: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let tree = image.tree();
    let dir = if name.is_empty() {
        parent
    } else {
        tree.child(parent, name)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?
    };
    Ok(tree.names(dir).into_iter().map(<[u8]>::to_vec).collect())
}
