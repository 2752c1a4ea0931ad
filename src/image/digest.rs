//! Content digests: a blob stored as `blobs/<algorithm>/<encoded>` must hash to that
//! digest (image-spec `descriptor.md`), so a tampered or damaged blob is refused rather
//! than read as it is. `sha256` and `sha512` are computed; another algorithm is refused.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256, Sha512};

use super::ImageError;

/// The hash of a blob being read.
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// What a blob's store path says its content hashes to.
pub(crate) struct Expected {
    /// The blob's store path, for messages.
    name: String,
    /// `algorithm:encoded`, as descriptors write it.
    digest: String,
    hasher: Hasher,
}

impl Expected {
    /// The digest a store path names: `blobs/sha256/<hex>` -> `sha256:<hex>`; `None` for a
    /// file that is not named by its digest (`manifest.json`, a legacy `layer.tar`).
    pub(crate) fn of(name: &str) -> Result<Option<Expected>, ImageError> {
        let mut parts = name.trim_start_matches("./").split('/');
        let (Some("blobs"), Some(algorithm), Some(encoded), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let hasher = match algorithm {
            "sha256" => Hasher::Sha256(Sha256::new()),
            "sha512" => Hasher::Sha512(Sha512::new()),
            other => {
                return Err(ImageError::Unsupported {
                    what: format!("digest algorithm {other:.40} ({name:.120})"),
                });
            }
        };
        Ok(Some(Expected {
            name: name.to_string(),
            digest: format!("{algorithm}:{encoded}"),
            hasher,
        }))
    }

    fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// Compares what was hashed with the digest.
    fn finish(self) -> Result<(), ImageError> {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let (algorithm, actual) = match self.hasher {
            Hasher::Sha256(h) => ("sha256", hex(&h.finalize())),
            Hasher::Sha512(h) => ("sha512", hex(&h.finalize())),
        };
        let actual = format!("{algorithm}:{actual}");
        if actual == self.digest {
            Ok(())
        } else {
            Err(ImageError::DigestMismatch {
                name: self.name,
                actual,
            })
        }
    }

    /// Checks a whole blob read at once.
    pub(crate) fn check(mut self, bytes: &[u8]) -> Result<(), ImageError> {
        self.update(bytes);
        self.finish()
    }
}

/// A reader that hashes what passes through it, for blobs read as a stream (layers).
pub(crate) struct Verifying<R> {
    inner: R,
    expected: Option<Expected>,
}

impl<R: Read> Verifying<R> {
    pub(crate) fn new(inner: R, expected: Option<Expected>) -> Verifying<R> {
        Verifying { inner, expected }
    }

    /// Reads what the consumer left (a tar's end blocks, a compressed stream's trailer)
    /// and compares the digest. The store bounds the blob to its size.
    pub(crate) fn finish(mut self) -> Result<(), ImageError> {
        let Some(mut expected) = self.expected.take() else {
            return Ok(());
        };
        let mut rest = [0u8; 8192];
        loop {
            let n = self
                .inner
                .read(&mut rest)
                .map_err(|source| ImageError::Read {
                    what: expected.name.clone(),
                    source,
                })?;
            match rest.get(..n) {
                Some(read) if n > 0 => expected.update(read),
                _ => break,
            }
        }
        expected.finish()
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let (Some(expected), Some(read)) = (&mut self.expected, buf.get(..n)) {
            expected.update(read);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn blobs_are_checked_against_their_names() {
        let name = format!("blobs/sha256/{EMPTY_SHA256}");
        assert!(Expected::of(&name).unwrap().unwrap().check(b"").is_ok());
        let err = Expected::of(&name)
            .unwrap()
            .unwrap()
            .check(b"x")
            .unwrap_err();
        assert_eq!(err.kind_name(), "digest_mismatch");
        assert!(Expected::of("manifest.json").unwrap().is_none());
        assert!(Expected::of("abc/layer.tar").unwrap().is_none());
        assert_eq!(
            Expected::of("blobs/md5/abc").err().map(|e| e.kind_name()),
            Some("unsupported")
        );
        // Streamed: what the consumer leaves is read before comparing.
        let reader = Verifying::new(&b"x"[..], Expected::of(&name).unwrap());
        assert_eq!(reader.finish().unwrap_err().kind_name(), "digest_mismatch");
        let mut reader = Verifying::new(&b""[..], Expected::of(&name).unwrap());
        let mut sink = Vec::new();
        reader.read_to_end(&mut sink).unwrap();
        assert!(reader.finish().is_ok());
    }
}
