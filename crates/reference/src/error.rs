//! The error type of this crate.

/// Why a string is not an acceptable image reference, or a tag or digest
/// cannot be attached to one.
///
/// The messages are those of Docker's `distribution/reference` and
/// `go-digest` packages, so that users see what `docker` would tell them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The string does not match the reference grammar.
    #[error("invalid reference format")]
    InvalidFormat,

    /// The string is empty (plain [`Reference::parse`](crate::Reference::parse) only).
    #[error("repository name must have at least one component")]
    NameEmpty,

    /// The string would match the grammar if it were lowercase
    /// (plain [`Reference::parse`](crate::Reference::parse)).
    #[error("repository name must be lowercase")]
    NameContainsUppercase,

    /// The repository path (after normalization) has uppercase letters;
    /// carries the offending remote name, e.g. `library/Foo`.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    UppercaseRepository(String),

    /// The repository path is longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,

    /// A bare 64-character hexadecimal string was given where a repository
    /// name is expected: Docker refuses it, as it looks like an image ID.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexadecimalName(String),

    /// The reference parses but is not in canonical (fully normalized) form
    /// ([`Reference::parse_named`](crate::Reference::parse_named)).
    #[error("repository name must be canonical")]
    NameNotCanonical,

    /// A tag does not match `[\w][\w.-]{0,127}`.
    #[error("invalid tag format")]
    TagFormat,

    /// A digest does not match `algorithm ':' hex{32,}`.
    #[error("invalid digest format")]
    DigestFormat,

    /// The digest's encoded part is not valid for its algorithm (go-digest's
    /// `ErrDigestInvalidFormat`), e.g. uppercase hex for `sha256`.
    #[error("invalid checksum digest format")]
    ChecksumFormat,

    /// The digest's algorithm is not one of `sha256`, `sha384`, `sha512`.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,

    /// The digest's encoded part has the wrong length for its algorithm.
    #[error("invalid checksum digest length")]
    DigestLength,
}
