//! The image's final tree, held in memory: every path the layers leave, made in one pass
//! over the layers in order, and the content of its files served from where it is.
//!
//! Nodes are numbered; a directory maps each name (bytes, never decoded) to a node, so an
//! entry `d` directories deep costs `d` map lookups. The directories of an entry are
//! resolved in the tree as a `chroot` would see them: a symbolic link met on the way is
//! followed inside the image (absolute from its `/`, `..` stopping there, at most 40 links,
//! the kernel's ELOOP); the entry's own name is never followed, whatever is there is
//! replaced. Hard links share one file record (its mode and content); a hard link to a
//! symbolic link is a second symbolic link.
//!
//! # Where content is
//!
//! - A file of an **uncompressed** layer (`docker save`'s `<id>/layer.tar`, an OCI
//!   `tar` layer) is recorded by its offset in the blob and read back in place (`pread` on
//!   the file opened when the image was, whatever later happens to its path). Nothing is
//!   held.
//! - A file of a **compressed** layer (gzip, zstd) is held in memory when it is likely to
//!   be read ("retained"): it starts with the ELF magic, or its path is below `/etc`, and
//!   it fits in what is left of [`ImageOptions::max_retained_bytes`]. A later whiteout or
//!   overwrite that hides it frees it. Other files are served by decompressing their layer
//!   again up to them (slow, correct); what such a pass reads is kept while it fits in the
//!   budget the layers left unused.
//!
//! # Memory
//!
//! Bounded by the options: at most [`ImageOptions::max_nodes`] paths at once, each about
//! 100 bytes plus its name (at most 255 bytes, `NAME_MAX`, as file systems allow), one
//! file record per regular-file entry (at most [`ImageOptions::max_entries`], 48 bytes
//! each), and [`ImageOptions::max_retained_bytes`] of file content and symbolic-link
//! targets. Nothing is ever written to disk, so an interrupted run leaves nothing behind.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufReader, Read};
use std::sync::{Arc, Mutex};

use super::layer::Compression;
use super::store::Blob;
use super::zstd;
use super::{ImageError, ImageOptions};

/// A node of the tree: an index into its table.
pub(crate) type NodeId = u32;

/// A file record: hard links to one file share it.
type FileId = u32;

/// The kernel's limit on symbolic links followed in one lookup (ELOOP).
const MAX_LINKS: usize = 40;
/// The longest name a file system takes (`NAME_MAX`); unpacking refused longer ones too.
const NAME_MAX: usize = 255;
/// Permission bits kept on files: setuid, setgid and sticky are dropped.
const FILE_MODE_BITS: u32 = 0o777;
/// Permission bits kept on directories: the sticky bit stays (`/tmp`).
const DIR_MODE_BITS: u32 = 0o1777;
/// What implicit directories and the root get.
const DEFAULT_DIR_MODE: u32 = 0o755;
const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
/// Node identities above this are not file records.
const NOT_A_FILE: u64 = 1 << 32;

/// Splits an entry's path into names: a leading `/` and `./` are dropped, empty names and
/// `.` skipped. `None` when a name is `..` (the entry would reach outside the image).
pub(crate) fn split_names(path: &[u8]) -> Option<Vec<&[u8]>> {
    let mut names = Vec::new();
    for name in path.split(|&b| b == b'/') {
        match name {
            b"" | b"." => {}
            b".." => return None,
            _ => names.push(name),
        }
    }
    Some(names)
}

/// What a node is, as [`ImageTree::kind`] says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind<'a> {
    Dir,
    File {
        size: u64,
    },
    Symlink(&'a [u8]),
    /// Nothing a path leads to (a node freed while reading; never reached from the root).
    Other,
}

#[derive(Debug)]
enum Slot {
    Dir(HashMap<Box<[u8]>, NodeId>),
    File(FileId),
    Symlink(Box<[u8]>),
    /// Removed; the number waits for reuse.
    Free,
}

#[derive(Debug)]
struct Node {
    slot: Slot,
    /// Directories only; files keep theirs in their record.
    mode: u32,
    /// The layer (from 1) that last wrote this path or something below it: that layer's
    /// whiteouts leave it alone.
    touched: u32,
}

/// Where a file's content is.
#[derive(Debug)]
enum Content {
    /// At this offset of its layer's blob (an uncompressed layer).
    InBlob(u64),
    /// In memory.
    Held(Arc<[u8]>),
    /// At this offset of its layer's decompressed stream.
    InStream(u64),
    /// No path leads to it any more.
    Dropped,
}

#[derive(Debug)]
struct FileData {
    size: u64,
    mode: u32,
    /// Index into the tree's layers.
    layer: usize,
    content: Content,
    /// Paths naming it.
    links: u32,
}

/// A layer as the tree reads content from it.
#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) blob: Blob,
    pub(crate) compression: Compression,
}

/// Content read by decompressing a layer again, kept within what the budget left.
#[derive(Debug, Default)]
struct Cache {
    files: HashMap<FileId, Arc<[u8]>>,
    bytes: u64,
    limit: u64,
}

/// The final tree of an image.
pub(crate) struct ImageTree {
    nodes: Vec<Node>,
    files: Vec<FileData>,
    layers: Vec<Layer>,
    cache: Mutex<Cache>,
}

impl fmt::Debug for ImageTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageTree")
            .field("nodes", &self.nodes.len())
            .field("files", &self.files.len())
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

fn slot_index(id: u32) -> usize {
    // u32 always fits in usize on the targets this crate builds for (Linux, 32 or 64 bits).
    usize::try_from(id).unwrap_or(usize::MAX)
}

fn other(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

impl ImageTree {
    /// The image's `/`, always a directory.
    pub(crate) const ROOT: NodeId = 0;

    fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(slot_index(id))
    }

    /// The entry named `name` (one component, bytes, never `.`/`..`) in directory `dir`;
    /// no link is followed.
    pub(crate) fn child(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        match &self.node(dir)?.slot {
            Slot::Dir(children) => children.get(name).copied(),
            _ => None,
        }
    }

    pub(crate) fn kind(&self, node: NodeId) -> NodeKind<'_> {
        match self.node(node).map(|n| &n.slot) {
            Some(Slot::Dir(_)) => NodeKind::Dir,
            Some(Slot::File(f)) => NodeKind::File {
                size: self.file(*f).map_or(0, |d| d.size),
            },
            Some(Slot::Symlink(target)) => NodeKind::Symlink(target),
            Some(Slot::Free) | None => NodeKind::Other,
        }
    }

    fn file(&self, id: FileId) -> Option<&FileData> {
        self.files.get(slot_index(id))
    }

    /// Permission bits (setuid/setgid dropped as today).
    pub(crate) fn mode(&self, node: NodeId) -> u32 {
        match self.node(node) {
            Some(Node {
                slot: Slot::File(f),
                ..
            }) => self.file(*f).map_or(0, |d| d.mode),
            Some(Node {
                slot: Slot::Symlink(_),
                ..
            }) => 0o777,
            Some(n) => n.mode,
            None => 0,
        }
    }

    /// One number per file: hard links to one file share it.
    pub(crate) fn identity(&self, node: NodeId) -> u64 {
        match self.node(node).map(|n| &n.slot) {
            Some(Slot::File(f)) => u64::from(*f),
            _ => NOT_A_FILE | u64::from(node),
        }
    }

    /// The names in a directory, sorted bytewise.
    pub(crate) fn names(&self, dir: NodeId) -> Vec<&[u8]> {
        let mut names: Vec<&[u8]> = match self.node(dir).map(|n| &n.slot) {
            Some(Slot::Dir(children)) => children.keys().map(|k| &k[..]).collect(),
            _ => Vec::new(),
        };
        names.sort_unstable();
        names
    }

    /// A regular file's content, at most `max` bytes of it (from the start).
    pub(crate) fn read(&self, node: NodeId, max: u64) -> io::Result<Arc<[u8]>> {
        let Some(Slot::File(id)) = self.node(node).map(|n| &n.slot) else {
            return Err(other("not a regular file"));
        };
        self.read_file(*id, max)
    }

    fn read_file(&self, id: FileId, max: u64) -> io::Result<Arc<[u8]>> {
        let data = self.file(id).ok_or_else(|| other("no such file"))?;
        let len = data.size.min(max);
        let whole = len == data.size;
        let prefix = |bytes: &Arc<[u8]>| -> io::Result<Arc<[u8]>> {
            if whole {
                return Ok(Arc::clone(bytes));
            }
            let len = usize::try_from(len).map_err(|_| other("too large"))?;
            bytes
                .get(..len)
                .map(Arc::from)
                .ok_or_else(|| other("short"))
        };
        match &data.content {
            Content::Held(bytes) => prefix(bytes),
            Content::InBlob(offset) => {
                let layer = self
                    .layers
                    .get(data.layer)
                    .ok_or_else(|| other("no layer"))?;
                let mut buf = vec![0; usize::try_from(len).map_err(|_| other("too large"))?];
                layer.blob.read_exact_at(&mut buf, *offset)?;
                Ok(buf.into())
            }
            Content::InStream(offset) => {
                if let Some(bytes) = self.cached(id) {
                    return prefix(&bytes);
                }
                let layer = self
                    .layers
                    .get(data.layer)
                    .ok_or_else(|| other("no layer"))?;
                let mut got = decompress(layer, &[(*offset, len)])?;
                let bytes: Arc<[u8]> = got.pop().unwrap_or_default().into();
                if whole {
                    self.keep(id, &bytes);
                }
                Ok(bytes)
            }
            Content::Dropped => Err(other("a file no path leads to")),
        }
    }

    fn cached(&self, id: FileId) -> Option<Arc<[u8]>> {
        let cache = self.cache.lock().ok()?;
        cache.files.get(&id).cloned()
    }

    fn keep(&self, id: FileId, bytes: &Arc<[u8]>) {
        if let Ok(mut cache) = self.cache.lock() {
            let after = cache.bytes.saturating_add(bytes.len() as u64);
            if after <= cache.limit && cache.files.insert(id, Arc::clone(bytes)).is_none() {
                cache.bytes = after;
            }
        }
    }

    /// The content of every file a path leads to, each compressed layer decompressed once
    /// for all the files it holds that were not retained.
    pub(crate) fn read_all(&self) -> io::Result<HashMap<u64, Arc<[u8]>>> {
        let mut out = HashMap::new();
        let mut streamed: HashMap<usize, Vec<(u64, u64, u64)>> = HashMap::new();
        for (index, data) in self.files.iter().enumerate() {
            if data.links == 0 {
                continue;
            }
            let id = FileId::try_from(index).map_err(|_| other("too many files"))?;
            match &data.content {
                Content::InStream(offset) => match self.cached(id) {
                    Some(bytes) => drop(out.insert(u64::from(id), bytes)),
                    None => streamed.entry(data.layer).or_default().push((
                        *offset,
                        data.size,
                        u64::from(id),
                    )),
                },
                _ => drop(out.insert(u64::from(id), self.read_file(id, u64::MAX)?)),
            }
        }
        for (layer, mut wanted) in streamed {
            wanted.sort_unstable();
            let layer = self.layers.get(layer).ok_or_else(|| other("no layer"))?;
            let ranges: Vec<(u64, u64)> = wanted.iter().map(|&(o, s, _)| (o, s)).collect();
            let got = decompress(layer, &ranges)?;
            for ((_, _, id), bytes) in wanted.into_iter().zip(got) {
                out.insert(id, bytes.into());
            }
        }
        Ok(out)
    }
}

/// Decompresses `layer` from its start and returns the byte ranges asked for (sorted by
/// offset, not overlapping).
fn decompress(layer: &Layer, ranges: &[(u64, u64)]) -> io::Result<Vec<Vec<u8>>> {
    let input = BufReader::with_capacity(64 << 10, layer.blob.reader(0));
    let mut stream: Box<dyn Read> = match layer.compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::Frames::new(input)),
    };
    let short = || io::Error::new(io::ErrorKind::UnexpectedEof, "the layer ends early");
    let mut at = 0u64;
    let mut out = Vec::new();
    for &(offset, len) in ranges {
        let skip = offset
            .checked_sub(at)
            .ok_or_else(|| other("ranges overlap"))?;
        if io::copy(&mut stream.by_ref().take(skip), &mut io::sink())? != skip {
            return Err(short());
        }
        let mut bytes = Vec::new();
        stream.by_ref().take(len).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != len {
            return Err(short());
        }
        out.push(bytes);
        at = offset.saturating_add(len);
    }
    Ok(out)
}

/// Where a regular file's data is, as the layer pass finds it.
pub(crate) enum Source<'r> {
    /// At this offset of the (uncompressed) layer blob.
    Blob(u64),
    /// In a compressed layer, at this offset of its decompressed stream; `data` reads it.
    Stream { offset: u64, data: &'r mut dyn Read },
}

/// What a hard link copies.
enum Shared {
    File(FileId),
    Symlink(Box<[u8]>),
}

/// Where an entry goes: the nodes from the root down to its directory, and its name.
type Placed<'n> = (Vec<NodeId>, &'n [u8]);

/// Makes the tree, one layer after another.
pub(crate) struct Builder<'o> {
    tree: ImageTree,
    free: Vec<NodeId>,
    /// The layer being read, from 1.
    stamp: u32,
    /// File content and link targets held.
    held: u64,
    options: &'o ImageOptions,
}

pub(crate) fn entry_error(names: &[&[u8]], what: &'static str) -> ImageError {
    let path: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    ImageError::Entry {
        place: String::new(),
        path: path.join("/"),
        what,
    }
}

impl<'o> Builder<'o> {
    pub(crate) fn new(options: &'o ImageOptions) -> Builder<'o> {
        let root = Node {
            slot: Slot::Dir(HashMap::new()),
            mode: DEFAULT_DIR_MODE,
            touched: 0,
        };
        Builder {
            tree: ImageTree {
                nodes: vec![root],
                files: Vec::new(),
                layers: Vec::new(),
                cache: Mutex::new(Cache::default()),
            },
            free: Vec::new(),
            stamp: 0,
            held: 0,
            options,
        }
    }

    /// Starts a layer: whiteouts in it apply to everything read so far.
    pub(crate) fn begin_layer(&mut self, layer: Layer) {
        self.tree.layers.push(layer);
        self.stamp = self.stamp.saturating_add(1);
    }

    /// The tree, with the retention budget left over for content read later.
    pub(crate) fn finish(self) -> ImageTree {
        if let Ok(mut cache) = self.tree.cache.lock() {
            cache.limit = self.options.max_retained_bytes.saturating_sub(self.held);
        }
        self.tree
    }

    /// Bytes held after the layers so far.
    #[cfg(test)]
    fn held(&self) -> u64 {
        self.held
    }

    fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.tree.nodes.get_mut(slot_index(id))
    }

    fn is_dir(&self, id: NodeId) -> bool {
        matches!(self.tree.node(id).map(|n| &n.slot), Some(Slot::Dir(_)))
    }

    fn touch(&mut self, id: NodeId) {
        let stamp = self.stamp;
        if let Some(n) = self.node_mut(id) {
            n.touched = stamp;
        }
    }

    fn touched(&self, id: NodeId) -> bool {
        self.tree.node(id).is_some_and(|n| n.touched == self.stamp)
    }

    fn alloc(&mut self, slot: Slot, mode: u32) -> Result<NodeId, ImageError> {
        let node = Node {
            slot,
            mode,
            touched: self.stamp,
        };
        if let Some(id) = self.free.pop() {
            if let Some(n) = self.node_mut(id) {
                *n = node;
                return Ok(id);
            }
        }
        let limit = self.options.max_nodes;
        let id = NodeId::try_from(self.tree.nodes.len())
            .ok()
            .filter(|&id| u64::from(id) < limit)
            .ok_or(ImageError::LimitExceeded {
                what: "paths in the tree",
                limit,
            })?;
        self.tree.nodes.push(node);
        Ok(id)
    }

    /// Puts `id` in `dir` under `name` (nothing is there).
    fn attach(&mut self, dir: NodeId, name: &[u8], id: NodeId) -> Result<(), ImageError> {
        if name.len() > NAME_MAX {
            return Err(entry_error(&[name], "a name longer than 255 bytes"));
        }
        if let Some(Node {
            slot: Slot::Dir(children),
            ..
        }) = self.node_mut(dir)
        {
            children.insert(name.into(), id);
        }
        Ok(())
    }

    fn hold(&mut self, bytes: u64) -> Result<(), ImageError> {
        let after = self.held.saturating_add(bytes);
        if after > self.options.max_retained_bytes {
            return Err(ImageError::LimitExceeded {
                what: "bytes held in memory",
                limit: self.options.max_retained_bytes,
            });
        }
        self.held = after;
        Ok(())
    }

    /// Removes whatever is at `name` in `dir`, with everything below it.
    fn clear(&mut self, dir: NodeId, name: &[u8]) {
        let removed = match self.node_mut(dir) {
            Some(Node {
                slot: Slot::Dir(children),
                ..
            }) => children.remove(name),
            _ => None,
        };
        if let Some(id) = removed {
            self.release(id);
        }
    }

    /// Frees a node already taken out of its directory, with everything below it.
    fn release(&mut self, top: NodeId) {
        let mut stack = vec![top];
        while let Some(id) = stack.pop() {
            let Some(node) = self.node_mut(id) else {
                continue;
            };
            match std::mem::replace(&mut node.slot, Slot::Free) {
                Slot::Dir(children) => stack.extend(children.into_values()),
                Slot::File(f) => self.unlink(f),
                Slot::Symlink(target) => {
                    self.held = self.held.saturating_sub(target.len() as u64);
                }
                Slot::Free => continue,
            }
            self.free.push(id);
        }
    }

    /// One path fewer names file `f`; with none left, its content goes.
    fn unlink(&mut self, f: FileId) {
        let Some(data) = self.tree.files.get_mut(slot_index(f)) else {
            return;
        };
        data.links = data.links.saturating_sub(1);
        if data.links == 0 {
            if let Content::Held(bytes) = &data.content {
                self.held = self.held.saturating_sub(bytes.len() as u64);
            }
            data.content = Content::Dropped;
        }
    }

    /// Resolves the directory `names` in the tree, following symbolic links inside it: the
    /// nodes from the root down to it. With `create`, missing directories are made
    /// (`mkdir -p`); without, a missing one gives `Ok(None)`. A file in the way, or a link
    /// loop, is an error.
    fn resolve_dir(
        &mut self,
        names: &[&[u8]],
        create: bool,
    ) -> Result<Option<Vec<NodeId>>, ImageError> {
        let mut stack = vec![ImageTree::ROOT];
        let mut pending: Vec<Cow<'_, [u8]>> = names.iter().rev().map(|n| Cow::from(*n)).collect();
        let mut links = 0usize;
        while let Some(name) = pending.pop() {
            match &*name {
                b"" | b"." => continue,
                // Only link targets carry `..`; it stops at the root.
                b".." => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let dir = stack.last().copied().unwrap_or(ImageTree::ROOT);
            match self.tree.child(dir, &name) {
                Some(id) => match self.tree.node(id).map(|n| &n.slot) {
                    Some(Slot::Dir(_)) => stack.push(id),
                    Some(Slot::Symlink(target)) => {
                        links = links.saturating_add(1);
                        if links > MAX_LINKS {
                            return Err(entry_error(
                                names,
                                "more than 40 symbolic links in its directory (a loop)",
                            ));
                        }
                        if target.starts_with(b"/") {
                            stack.truncate(1);
                        }
                        let parts = target.split(|&b| b == b'/').rev();
                        pending.extend(parts.map(|p| Cow::Owned(p.to_vec())));
                    }
                    _ => {
                        return Err(entry_error(
                            names,
                            "a directory in its path is a file in the image",
                        ));
                    }
                },
                None => {
                    if !create {
                        return Ok(None);
                    }
                    let id = self.alloc(Slot::Dir(HashMap::new()), DEFAULT_DIR_MODE)?;
                    self.attach(dir, &name, id)?;
                    stack.push(id);
                }
            }
        }
        Ok(Some(stack))
    }

    /// Where an entry goes: its directory resolved (and made), marked as written by this
    /// layer; the nodes down to the directory and the entry's own name. `None` for the root.
    fn place<'n>(&mut self, names: &[&'n [u8]]) -> Result<Option<Placed<'n>>, ImageError> {
        let Some((&last, dir)) = names.split_last() else {
            return Ok(None);
        };
        let Some(stack) = self.resolve_dir(dir, true)? else {
            return Ok(None);
        };
        for &id in &stack {
            self.touch(id);
        }
        Ok(Some((stack, last)))
    }

    /// A directory entry: kept if a directory is there, else whatever is there is replaced.
    pub(crate) fn dir(&mut self, names: &[&[u8]], mode: u32) -> Result<(), ImageError> {
        // The root's mode is not the image's to set (unpacking left it to the caller).
        let Some((stack, last)) = self.place(names)? else {
            return Ok(());
        };
        let parent = stack.last().copied().unwrap_or(ImageTree::ROOT);
        let id = match self.tree.child(parent, last) {
            Some(id) if self.is_dir(id) => id,
            _ => {
                self.clear(parent, last);
                let id = self.alloc(Slot::Dir(HashMap::new()), DEFAULT_DIR_MODE)?;
                self.attach(parent, last, id)?;
                id
            }
        };
        self.touch(id);
        if let Some(n) = self.node_mut(id) {
            n.mode = mode & DIR_MODE_BITS;
        }
        Ok(())
    }

    /// A regular file of `size` bytes, its data where `source` says. From a compressed
    /// layer, ELF files and files below `/etc` are read into memory while the budget lasts.
    pub(crate) fn file(
        &mut self,
        names: &[&[u8]],
        mode: u32,
        size: u64,
        source: Source<'_>,
        place: &str,
    ) -> Result<(), ImageError> {
        let Some((stack, last)) = self.place(names)? else {
            return Err(entry_error(names, "a file at the image's root directory"));
        };
        let parent = stack.last().copied().unwrap_or(ImageTree::ROOT);
        self.clear(parent, last);
        let content = match source {
            Source::Blob(offset) => Content::InBlob(offset),
            Source::Stream { offset, data } => {
                let etc = self.tree.child(ImageTree::ROOT, b"etc");
                let under_etc = etc.is_some() && stack.get(1).copied() == etc;
                self.retain(data, size, under_etc, place)?
                    .map_or(Content::InStream(offset), Content::Held)
            }
        };
        let layer = self.tree.layers.len().saturating_sub(1);
        let file =
            FileId::try_from(self.tree.files.len()).map_err(|_| ImageError::LimitExceeded {
                what: "tar entries",
                limit: u64::from(u32::MAX),
            })?;
        self.tree.files.push(FileData {
            size,
            mode: mode & FILE_MODE_BITS,
            layer,
            content,
            links: 1,
        });
        let id = self.alloc(Slot::File(file), 0)?;
        self.attach(parent, last, id)
    }

    /// Reads a file into memory when it is worth it and fits; `None` leaves it in its layer.
    fn retain(
        &mut self,
        data: &mut dyn Read,
        size: u64,
        under_etc: bool,
        place: &str,
    ) -> Result<Option<Arc<[u8]>>, ImageError> {
        let read_error = |source| ImageError::Read {
            what: place.to_string(),
            source,
        };
        let room = self.options.max_retained_bytes.saturating_sub(self.held);
        if size > room {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        data.take(ELF_MAGIC.len() as u64)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if !(under_etc || bytes == ELF_MAGIC) {
            return Ok(None);
        }
        let rest = size.saturating_sub(bytes.len() as u64);
        data.take(rest)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 != size {
            return Err(ImageError::Entry {
                place: place.to_string(),
                path: String::new(),
                what: "the layer ends inside the file's data",
            });
        }
        self.hold(size)?;
        Ok(Some(bytes.into()))
    }

    /// A symbolic link, kept as is: its target is never followed here.
    pub(crate) fn symlink(&mut self, names: &[&[u8]], target: &[u8]) -> Result<(), ImageError> {
        let Some((stack, last)) = self.place(names)? else {
            return Err(entry_error(names, "a link at the image's root directory"));
        };
        let parent = stack.last().copied().unwrap_or(ImageTree::ROOT);
        self.clear(parent, last);
        self.hold(target.len() as u64)?;
        let id = self.alloc(Slot::Symlink(target.into()), 0o777)?;
        self.attach(parent, last, id)
    }

    /// A hard link to `target`, an earlier path of the image (this layer's or a lower
    /// one's). The target's directory is resolved in the tree; the target itself is not
    /// followed (a link to a symbolic link is a second symbolic link).
    pub(crate) fn hardlink(&mut self, names: &[&[u8]], target: &[&[u8]]) -> Result<(), ImageError> {
        let absent = || entry_error(names, "a hard link whose target is absent");
        let Some((&target_last, target_dir)) = target.split_last() else {
            return Err(entry_error(
                names,
                "a hard link to the image's root directory",
            ));
        };
        let Some(target_stack) = self.resolve_dir(target_dir, false)? else {
            return Err(absent());
        };
        let from_dir = target_stack.last().copied().unwrap_or(ImageTree::ROOT);
        let from = self.tree.child(from_dir, target_last).ok_or_else(absent)?;
        let shared = match self.tree.node(from).map(|n| &n.slot) {
            Some(Slot::File(f)) => Shared::File(*f),
            Some(Slot::Symlink(t)) => Shared::Symlink(t.clone()),
            Some(Slot::Dir(_)) => {
                return Err(entry_error(names, "a hard link to a directory"));
            }
            Some(Slot::Free) | None => return Err(absent()),
        };
        let Some((stack, last)) = self.place(names)? else {
            return Err(entry_error(names, "a link at the image's root directory"));
        };
        let parent = stack.last().copied().unwrap_or(ImageTree::ROOT);
        if parent == from_dir && last == target_last {
            self.touch(from);
            return Ok(());
        }
        self.clear(parent, last);
        // What was cleared may have held the target.
        if self.tree.child(from_dir, target_last) != Some(from) {
            return Err(absent());
        }
        let slot = match shared {
            Shared::File(f) => {
                if let Some(data) = self.tree.files.get_mut(slot_index(f)) {
                    data.links = data.links.saturating_add(1);
                }
                Slot::File(f)
            }
            Shared::Symlink(t) => {
                self.hold(t.len() as u64)?;
                Slot::Symlink(t)
            }
        };
        let id = self.alloc(slot, 0o777)?;
        self.attach(parent, last, id)
    }

    /// `.wh.<name>`: removes `names` as lower layers left it. What the current layer put
    /// there stays; below a directory it wrote, what lower layers put there goes.
    pub(crate) fn whiteout(&mut self, names: &[&[u8]]) -> Result<(), ImageError> {
        let Some((&last, dir)) = names.split_last() else {
            return Ok(());
        };
        let Some(stack) = self.resolve_dir(dir, false)? else {
            return Ok(());
        };
        let parent = stack.last().copied().unwrap_or(ImageTree::ROOT);
        let Some(id) = self.tree.child(parent, last) else {
            return Ok(());
        };
        if self.touched(id) {
            if self.is_dir(id) {
                self.hide_lower(id);
            }
        } else {
            self.clear(parent, last);
        }
        Ok(())
    }

    /// `.wh..wh..opq` in `dir`: everything lower layers put in it goes, what the current
    /// layer put there (before or after this entry) stays.
    pub(crate) fn opaque(&mut self, dir: &[&[u8]]) -> Result<(), ImageError> {
        let Some(stack) = self.resolve_dir(dir, false)? else {
            return Ok(());
        };
        for &id in &stack {
            self.touch(id);
        }
        self.hide_lower(stack.last().copied().unwrap_or(ImageTree::ROOT));
        Ok(())
    }

    /// Removes, below the directory `top`, every path the current layer did not write.
    fn hide_lower(&mut self, top: NodeId) {
        let mut dirs = vec![top];
        while let Some(dir) = dirs.pop() {
            let Some(Node {
                slot: slot @ Slot::Dir(_),
                ..
            }) = self.node_mut(dir)
            else {
                continue;
            };
            let Slot::Dir(mut children) = std::mem::replace(slot, Slot::Free) else {
                continue;
            };
            let mut gone = Vec::new();
            children.retain(|_, &mut id| {
                let keep = self.touched(id);
                if !keep {
                    gone.push(id);
                } else if self.is_dir(id) {
                    dirs.push(id);
                }
                keep
            });
            if let Some(n) = self.node_mut(dir) {
                n.slot = Slot::Dir(children);
            }
            for id in gone {
                self.release(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &str) -> Vec<&[u8]> {
        split_names(path.as_bytes()).unwrap()
    }

    fn lookup(tree: &ImageTree, path: &str) -> Option<NodeId> {
        names(path)
            .iter()
            .try_fold(ImageTree::ROOT, |dir, name| tree.child(dir, name))
    }

    fn assert_send_sync_debug<T: Send + Sync + fmt::Debug>() {}

    #[test]
    fn trees_are_shared_between_threads() {
        assert_send_sync_debug::<ImageTree>();
        assert_send_sync_debug::<super::super::Image>();
    }

    #[test]
    fn paths_are_split_and_dot_dot_refused() {
        assert_eq!(names("/usr/bin/ls"), [&b"usr"[..], b"bin", b"ls"]);
        assert_eq!(names("./etc//passwd/"), [&b"etc"[..], b"passwd"]);
        assert!(names("./").is_empty());
        assert_eq!(split_names(b"a/../b"), None);
        assert_eq!(split_names(b"../x"), None);
    }

    /// A file of a compressed layer, its bytes given.
    fn put(b: &mut Builder<'_>, path: &str, mode: u32, bytes: &[u8]) {
        let source = Source::Stream {
            offset: 0,
            data: &mut &bytes[..],
        };
        b.file(&names(path), mode, bytes.len() as u64, source, "")
            .unwrap();
    }

    #[test]
    fn parents_resolve_inside_the_tree() {
        let options = ImageOptions::default();
        let mut b = Builder::new(&options);
        b.stamp = 1;
        b.symlink(&names("lib"), b"/usr/lib").unwrap();
        b.symlink(&names("up"), b"../../../..").unwrap();
        put(&mut b, "lib/x.so", 0o4755, b"\x7fELFabc");
        put(&mut b, "up/etc/y", 0o644, b"");
        let tree = b.finish();
        let x = lookup(&tree, "usr/lib/x.so").unwrap();
        assert_eq!(tree.kind(x), NodeKind::File { size: 7 });
        assert_eq!(tree.mode(x), 0o755, "setuid dropped");
        assert_eq!(&*tree.read(x, 100).unwrap(), b"\x7fELFabc");
        assert_eq!(&*tree.read(x, 2).unwrap(), b"\x7fE");
        assert!(lookup(&tree, "etc/y").is_some());
        assert_eq!(
            tree.names(ImageTree::ROOT),
            [&b"etc"[..], b"lib", b"up", b"usr"]
        );
        assert_eq!(
            tree.kind(lookup(&tree, "lib").unwrap()),
            NodeKind::Symlink(b"/usr/lib")
        );
    }

    #[test]
    fn whiteouts_free_what_they_hide() {
        let options = ImageOptions::default();
        let mut b = Builder::new(&options);
        b.stamp = 1;
        put(&mut b, "etc/a", 0o644, b"abc");
        b.hardlink(&names("etc/b"), &names("etc/a")).unwrap();
        b.symlink(&names("etc/l"), b"a").unwrap();
        assert_eq!(b.held(), 4);
        b.stamp = 2;
        b.whiteout(&names("etc/a")).unwrap();
        assert_eq!(b.held(), 4, "etc/b still names the file");
        b.opaque(&names("etc")).unwrap();
        assert_eq!(b.held(), 0);
        // The freed numbers are used again.
        let before = b.tree.nodes.len();
        put(&mut b, "etc/c", 0o644, b"");
        assert_eq!(b.tree.nodes.len(), before);
        let tree = b.finish();
        assert_eq!(tree.names(lookup(&tree, "etc").unwrap()), [&b"c"[..]]);
    }

    #[test]
    fn deep_paths_cost_one_node_per_name() {
        let options = ImageOptions::default();
        let mut b = Builder::new(&options);
        b.stamp = 1;
        let deep = "d/".repeat(999) + "f";
        put(&mut b, &deep, 0o644, b"");
        assert_eq!(b.tree.nodes.len(), 1001);
    }
}
