//! Content digests (`algorithm:hex`) and streaming verification.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// A content digest such as `sha256:2c26b4…`.
///
/// Only `sha256` and `sha512` are accepted, as registered by the OCI image spec; the encoded part
/// must be lowercase hex of the algorithm's length.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// A digest algorithm registered by the OCI image spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the algorithm every registry supports.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as written in a digest.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// No `algorithm:` prefix.
    #[error("invalid digest {0:?}: expected ALGORITHM:HEX")]
    Format(String),
    /// An algorithm plinth does not implement.
    #[error("unsupported digest algorithm {0:?} (sha256 and sha512 are supported)")]
    Algorithm(String),
    /// Wrong length or non-lowercase-hex characters.
    #[error("invalid digest {0:?}: the encoded part must be {1} lowercase hex characters")]
    Encoded(String, usize),
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Format(s.to_string()))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(DigestError::Algorithm(alg.to_string())),
        };
        let ok = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(DigestError::Encoded(s.to_string(), algorithm.hex_len()));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The digest of `bytes` computed with this digest's algorithm.
    pub fn compute_like(&self, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(self.algorithm);
        h.update(bytes);
        h.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded (hex) part.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// A short form for people: the first 12 hex characters.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher for one algorithm.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

/// Checks streamed content against an expected digest and size.
///
/// Feed every byte with [`Verifier::update`]; [`Verifier::finish`] fails when the size or the
/// digest differs. [`Verifier::update`] fails as soon as more bytes than expected arrive, so a
/// lying server cannot make plinth read an unbounded body.
#[derive(Clone)]
pub struct Verifier {
    expected: Digest,
    size: Option<u64>,
    seen: u64,
    hasher: Hasher,
}

/// A verification failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The bytes hash to something else.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Digest {
        /// What the descriptor said.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// More or fewer bytes than the descriptor's size.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    Size {
        /// The blob.
        digest: Digest,
        /// What the descriptor said.
        expected: u64,
        /// What arrived (at least).
        actual: u64,
    },
}

impl Verifier {
    /// A verifier for `expected`, with the expected size if known.
    pub fn new(expected: &Digest, size: Option<u64>) -> Verifier {
        Verifier {
            hasher: Hasher::new(expected.algorithm()),
            expected: expected.clone(),
            size,
            seen: 0,
        }
    }

    /// Feeds bytes; fails early when more bytes arrive than the expected size.
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), VerifyError> {
        self.seen += bytes.len() as u64;
        if let Some(size) = self.size
            && self.seen > size
        {
            return Err(VerifyError::Size {
                digest: self.expected.clone(),
                expected: size,
                actual: self.seen,
            });
        }
        self.hasher.update(bytes);
        Ok(())
    }

    /// Bytes seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Checks size and digest.
    pub fn finish(self) -> Result<Digest, VerifyError> {
        if let Some(size) = self.size
            && self.seen != size
        {
            return Err(VerifyError::Size {
                digest: self.expected,
                expected: size,
                actual: self.seen,
            });
        }
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(VerifyError::Digest {
                expected: self.expected,
                actual,
            });
        }
        Ok(actual)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d = Digest::sha256(b"foo");
        assert_eq!(
            d.to_string(),
            "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(
            Digest::parse("sha256"),
            Err(DigestError::Format(_))
        ));
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            Digest::parse("sha256:ABC"),
            Err(DigestError::Encoded(..))
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(Digest::parse(&upper).is_err());
    }

    #[test]
    fn verifier_catches_size_and_digest() {
        let d = Digest::sha256(b"hello");
        let mut v = Verifier::new(&d, Some(5));
        v.update(b"hel").unwrap();
        v.update(b"lo").unwrap();
        assert_eq!(v.finish().unwrap(), d);

        let mut v = Verifier::new(&d, Some(5));
        assert!(v.update(b"hello!").is_err());

        let mut v = Verifier::new(&d, Some(5));
        v.update(b"hellO").unwrap();
        assert!(matches!(v.finish(), Err(VerifyError::Digest { .. })));

        let v = Verifier::new(&d, Some(5));
        assert!(matches!(v.finish(), Err(VerifyError::Size { .. })));
    }
}
