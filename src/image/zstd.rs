//! zstd layers: a stream of frames (RFC 8878), each decoded in turn by ruzstd, with two
//! things ruzstd leaves to its caller.
//!
//! - **Skippable frames** carry no layer data (zstd:chunked layers end with one holding
//!   their table of contents); they are stepped over, as `zstd -d` does.
//! - **Window sizes** are checked before a frame is decoded. The decoder keeps a frame's
//!   window of history in memory, and a single-segment frame's window is its whole content:
//!   a 17 KB frame declaring 512 MiB of zeros held 1 GiB. Frames whose window exceeds
//!   [`MAX_WINDOW`] are refused, the limit `zstd -d` applies unless given `--memory`.

use std::io::{self, BufRead, Chain, Cursor, Read};

/// The largest window a frame may ask for: 128 MiB, zstd's default decoding limit
/// (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`, 2^27).
pub(crate) const MAX_WINDOW: u64 = 1 << 27;

const FRAME_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether `head` starts with a skippable frame's magic (`0x184D2A50` to `0x184D2A5F`).
pub(crate) fn is_skippable(head: &[u8]) -> bool {
    matches!(head, [m, 0x2a, 0x4d, 0x18, ..] if m & 0xf0 == 0x50)
}

/// Whether `head` starts a zstd stream (a frame or a skippable frame).
pub(crate) fn starts_stream(head: &[u8]) -> bool {
    head.starts_with(&FRAME_MAGIC) || is_skippable(head)
}

/// The sizes of the header fields after the frame header descriptor, as it declares them:
/// (window descriptor, dictionary ID, frame content size). `None` with the reserved bit set.
fn field_sizes(descriptor: u8) -> Option<(usize, usize, usize)> {
    // Bit 3 is reserved and must be zero.
    if descriptor & 0x08 != 0 {
        return None;
    }
    let single_segment = descriptor & 0x20 != 0;
    let window_descriptor = usize::from(!single_segment);
    let dictionary_id = match descriptor & 0x03 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let content_size = match descriptor >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    Some((window_descriptor, dictionary_id, content_size))
}

/// The window a frame header asks for (`header` starts at its descriptor byte and holds
/// the whole header).
fn window_of(header: &[u8]) -> Option<u64> {
    let (&descriptor, rest) = header.split_first()?;
    let (window_descriptor, dictionary_id, content_size) = field_sizes(descriptor)?;
    if window_descriptor == 1 {
        let byte = *rest.first()?;
        let log = 10 + u32::from(byte >> 3);
        let base = 1u64.checked_shl(log)?;
        return base.checked_add((base >> 3).checked_mul(u64::from(byte & 7))?);
    }
    // Single segment: the window is the content size.
    let field = rest.get(dictionary_id..dictionary_id.checked_add(content_size)?)?;
    let mut bytes = [0u8; 8];
    bytes.get_mut(..field.len())?.copy_from_slice(field);
    let size = u64::from_le_bytes(bytes);
    Some(if content_size == 2 {
        size.checked_add(256)?
    } else {
        size
    })
}

type Decoder<R> = ruzstd::StreamingDecoder<Chain<Cursor<Vec<u8>>, R>, ruzstd::FrameDecoder>;

/// The decoded bytes of every frame of a zstd stream, one after the other.
pub(crate) struct Frames<R: BufRead> {
    /// The frame being decoded; `None` between frames (the reader is then in `between`).
    decoder: Option<Decoder<R>>,
    between: Option<R>,
}

impl<R: BufRead> Frames<R> {
    pub(crate) fn new(inner: R) -> Frames<R> {
        Frames {
            decoder: None,
            between: Some(inner),
        }
    }

    /// Starts the next frame, stepping over skippable ones; `None` at the end of the stream.
    fn next_frame(inner: &mut R) -> io::Result<Option<Vec<u8>>> {
        loop {
            if inner.fill_buf()?.is_empty() {
                return Ok(None);
            }
            let mut magic = [0u8; 4];
            inner.read_exact(&mut magic)?;
            if is_skippable(&magic) {
                let mut size = [0u8; 4];
                inner.read_exact(&mut size)?;
                let size = u64::from(u32::from_le_bytes(size));
                let skipped = io::copy(&mut inner.by_ref().take(size), &mut io::sink())?;
                if skipped < size {
                    return Err(invalid("a skippable zstd frame is cut short".into()));
                }
                continue;
            }
            if magic != FRAME_MAGIC {
                return Err(invalid(
                    "bytes after a zstd frame are not another frame".into(),
                ));
            }
            let mut descriptor = [0u8; 1];
            inner.read_exact(&mut descriptor)?;
            let [descriptor] = descriptor;
            let (window, dictionary, content) = field_sizes(descriptor)
                .ok_or_else(|| invalid("a zstd frame header is malformed".into()))?;
            let mut header = vec![descriptor];
            let rest = window.saturating_add(dictionary).saturating_add(content);
            header.resize(rest.saturating_add(1), 0);
            inner.read_exact(header.get_mut(1..).unwrap_or_default())?;
            let asked = window_of(&header)
                .ok_or_else(|| invalid("a zstd frame header is malformed".into()))?;
            if asked > MAX_WINDOW {
                return Err(invalid(format!(
                    "a zstd frame asks for a {} MiB window, over the {} MiB limit (zstd -d's default)",
                    asked >> 20,
                    MAX_WINDOW >> 20
                )));
            }
            let mut whole = magic.to_vec();
            whole.append(&mut header);
            return Ok(Some(whole));
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<R: BufRead> Read for Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(decoder) = self.decoder.as_mut() {
                let n = decoder.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                let Some(done) = self.decoder.take() else {
                    return Ok(0);
                };
                let (header, inner) = done.into_inner().into_inner();
                if header.position() < header.get_ref().len() as u64 {
                    return Err(invalid("a zstd frame header was not read whole".into()));
                }
                self.between = Some(inner);
            }
            let Some(mut inner) = self.between.take() else {
                return Ok(0);
            };
            let Some(header) = Frames::next_frame(&mut inner)? else {
                return Ok(0);
            };
            let source = Cursor::new(header).chain(inner);
            self.decoder = Some(ruzstd::StreamingDecoder::new(source).map_err(io::Error::other)?);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_from_headers() {
        // Window descriptor 0x00: 1 KiB; 0x88: exponent 17, 2^27; 0x89: mantissa 1, an eighth more.
        assert_eq!(window_of(&[0x00, 0x00]), Some(1 << 10));
        assert_eq!(window_of(&[0x00, 0x88]), Some(1 << 27));
        assert_eq!(window_of(&[0x00, 0x89]), Some((1 << 27) + (1 << 24)));
        // Single segment, 1-byte content size: the window is the content size.
        assert_eq!(window_of(&[0x20, 200]), Some(200));
        // Single segment, 2-byte size: 256 is added.
        assert_eq!(window_of(&[0x60, 0x00, 0x01]), Some(256 + 256));
        // Single segment, 8-byte size, after a 1-byte dictionary ID.
        let mut header = vec![0xe1, 7];
        header.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert_eq!(window_of(&header), Some(1 << 40));
        // The reserved bit, or a header cut short.
        assert_eq!(window_of(&[0x08, 0x00]), None);
        assert_eq!(window_of(&[0xe0, 1, 2]), None);
        assert!(is_skippable(&[0x5f, 0x2a, 0x4d, 0x18]));
        assert!(!is_skippable(&[0x60, 0x2a, 0x4d, 0x18]));
    }
}
