//! Container image references, parsed and normalized exactly as Docker does.
//!
//! This crate is plinth's own implementation of the grammar and the
//! normalization rules of Docker's `distribution/reference` package (the one
//! `docker pull`, BuildKit and containerd use). It is pure: no I/O.
//!
//! # Grammar
//!
//! ```text
//! reference            := name [ ":" tag ] [ "@" digest ]
//! name                 := [ domain "/" ] path-component [ "/" path-component ]*
//! domain               := host [ ":" port-number ]
//! host                 := domain-name | "[" ipv6-chars "]"
//! domain-name          := domain-name-component [ "." domain-name-component ]*
//! domain-name-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! ipv6-chars           := /[a-fA-F0-9:]+/
//! port-number          := /[0-9]+/
//! path-component       := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//! tag                  := /[\w][\w.-]{0,127}/
//! digest               := digest-algorithm ":" digest-hex
//! digest-algorithm     := /[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*/
//! digest-hex           := /[0-9a-fA-F]{32,}/
//! ```
//!
//! On top of the grammar:
//!
//! - the repository path (the name without its domain) is at most 255
//!   characters;
//! - a digest must also be valid for its algorithm: `sha256`, `sha384` and
//!   `sha512` are supported, with exactly 64, 96 or 128 lowercase hex
//!   characters; any other algorithm is "unsupported";
//! - when a name has several elements, the first one is the domain if it
//!   matches `domain` (plain [`Reference::parse`] takes it greedily, so
//!   `library/foo/bar` has domain `library`).
//!
//! # Normalization ([`Reference::parse_normalized`], Docker's `ParseNormalizedNamed`)
//!
//! - A bare 64-character lowercase hex string is refused: it looks like an
//!   image ID.
//! - The first element (before the first `/`) is a domain only when it
//!   contains `.` or `:`, is `localhost`, or has uppercase letters (Docker
//!   Hub namespaces are lowercase). Otherwise the domain is `docker.io`.
//! - `index.docker.io` is rewritten to `docker.io`.
//! - On `docker.io`, a single-element path gets `library/` in front:
//!   `python` is `docker.io/library/python`.
//! - The remote name (the part after the domain, before any `:`) must be
//!   lowercase; the domain may have uppercase letters.
//!
//! The *familiar* form ([`Reference::familiar`]) undoes that: `docker.io/`
//! is dropped, and so is `library/` when nothing nested follows it.
//!
//! ```
//! use plinth_reference::Reference;
//!
//! let r: Reference = "python:3.12-slim".parse().unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/python:3.12-slim");
//! assert_eq!(r.familiar(), "python:3.12-slim");
//! assert_eq!(r.registry_host(), "registry-1.docker.io");
//! assert_eq!(r.manifest_reference(), "3.12-slim");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod grammar;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub use error::ReferenceError;

/// The name Docker Hub goes by in references: `docker.io`.
pub const DEFAULT_DOMAIN: &str = "docker.io";

/// The legacy name of Docker Hub, rewritten to [`DEFAULT_DOMAIN`] when
/// normalizing: `index.docker.io`.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";

/// The host that serves Docker Hub's registry API: `registry-1.docker.io`.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// The namespace of Docker Hub's official images: `library/`.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";

/// The tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// The name Docker always treats as a domain even without `.` or `:`.
const LOCALHOST: &str = "localhost";

/// A named image reference: `domain/path[:tag][@digest]`.
///
/// Made by [`Reference::parse_normalized`] (also [`FromStr`]), which is what
/// users' input should go through, or by the plain [`Reference::parse`].
/// [`Display`](fmt::Display) writes the full form, as Go's `String()`:
/// `docker.io/library/python:3.12-slim`, `name:tag@digest` when both are set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// The parts of a [`Reference`], all spelled out, for JSON output.
///
/// `tag` and `digest` are left out of the serialized form when absent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ReferenceParts {
    /// The full string, as [`Reference`]'s `Display`.
    pub string: String,
    /// `domain/path` (just `path` when the domain is empty).
    pub name: String,
    /// The registry's name, e.g. `docker.io`.
    pub domain: String,
    /// The repository path, e.g. `library/python`.
    pub path: String,
    /// The tag, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The digest, if any, e.g. `sha256:…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The short form users type, e.g. `python:3.12-slim`.
    pub familiar: String,
    /// The short form of the name alone, e.g. `python`.
    pub familiar_name: String,
}

/// What [`parse_any`] found: a named reference or a bare digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnyReference {
    /// A named reference, normalized.
    Named(Reference),
    /// A digest alone, e.g. `sha256:…` (an image ID given as 64 hex
    /// characters becomes `sha256:` followed by them).
    Digest(String),
}

impl AnyReference {
    /// The named reference, if this is one.
    pub fn as_named(&self) -> Option<&Reference> {
        match self {
            AnyReference::Named(r) => Some(r),
            AnyReference::Digest(_) => None,
        }
    }

    /// The digest: the bare digest, or the named reference's digest if it
    /// has one.
    pub fn digest(&self) -> Option<&str> {
        match self {
            AnyReference::Named(r) => r.digest(),
            AnyReference::Digest(d) => Some(d),
        }
    }
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(r) => r.fmt(f),
            AnyReference::Digest(d) => f.write_str(d),
        }
    }
}

/// Parses anything Docker accepts where an image is expected (Docker's
/// `ParseAnyReference`): a bare 64-character lowercase hex string is an
/// image ID and becomes the digest `sha256:<hex>`; a valid digest alone
/// (`sha256:<hex>`) is a digest; anything else goes through
/// [`Reference::parse_normalized`].
pub fn parse_any(s: &str) -> Result<AnyReference, ReferenceError> {
    if grammar::is_identifier(s) {
        return Ok(AnyReference::Digest(format!("sha256:{s}")));
    }
    if grammar::validate_digest(s).is_ok() {
        return Ok(AnyReference::Digest(s.to_owned()));
    }
    Reference::parse_normalized(s).map(AnyReference::Named)
}

/// Splits a reference string into domain and remainder the way Docker's
/// normalization does, before any validation.
fn split_docker_domain(name: &str) -> (&str, String) {
    let (domain, remainder) = match name.split_once('/') {
        None => (DEFAULT_DOMAIN, name),
        Some((first, rest)) => {
            let is_domain = first.contains(['.', ':'])
                || first == LOCALHOST
                || grammar::go_to_lower(first) != first;
            if is_domain {
                (first, rest)
            } else {
                (DEFAULT_DOMAIN, name)
            }
        }
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let remainder = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{remainder}")
    } else {
        remainder.to_owned()
    };
    (domain, remainder)
}

impl Reference {
    /// Parses and normalizes a reference as users write it (Docker's
    /// `ParseNormalizedNamed`): `python` is `docker.io/library/python`,
    /// `index.docker.io/x` is `docker.io/library/x`, `localhost:5000/x`
    /// stays as it is.
    ///
    /// No tag is added: a reference without tag or digest stays so (see
    /// [`Reference::tag_or_latest`], [`Reference::parse_docker_ref`]).
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if grammar::is_identifier(s) {
            return Err(ReferenceError::HexadecimalName(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = remainder.split(':').next().unwrap_or_default();
        if grammar::go_to_lower(remote) != remote {
            return Err(ReferenceError::UppercaseRepository(remote.to_owned()));
        }
        Reference::parse(&format!("{domain}/{remainder}"))
    }

    /// Parses a reference that must already be in canonical form (Docker's
    /// `ParseNamed`): the result of [`Reference::parse_normalized`] must
    /// print back as the input, so `docker.io/library/python` is accepted
    /// but `python` is not ([`ReferenceError::NameNotCanonical`]).
    pub fn parse_named(s: &str) -> Result<Reference, ReferenceError> {
        let r = Reference::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(ReferenceError::NameNotCanonical);
        }
        Ok(r)
    }

    /// Parses a reference against the grammar alone, without normalization
    /// (Docker's `Parse`). When the name has a single element, or its first
    /// element is not a valid domain, [`Reference::domain`] is `""`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let Some(m) = grammar::match_reference(s) else {
            if s.is_empty() {
                return Err(ReferenceError::NameEmpty);
            }
            if grammar::match_reference(&grammar::go_to_lower(s)).is_some() {
                return Err(ReferenceError::NameContainsUppercase);
            }
            return Err(ReferenceError::InvalidFormat);
        };
        if m.path.len() > grammar::NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        if let Some(digest) = m.digest {
            grammar::validate_digest(digest)?;
        }
        Ok(Reference {
            domain: m.domain.unwrap_or_default().to_owned(),
            path: m.path.to_owned(),
            tag: m.tag.map(str::to_owned),
            digest: m.digest.map(str::to_owned),
        })
    }

    /// Parses a reference for use with a registry (Docker's `ParseDockerRef`):
    /// normalized; when both tag and digest are given, the tag is dropped
    /// (the digest decides); when neither is, the tag `latest` is added.
    pub fn parse_docker_ref(s: &str) -> Result<Reference, ReferenceError> {
        let r = Reference::parse_normalized(s)?;
        if r.digest.is_some() {
            Ok(r.without_tag())
        } else {
            Ok(r.tag_name_only())
        }
    }

    /// The registry's name, e.g. `docker.io`, `localhost:5000`,
    /// `[::1]:5000`. Empty only for a plain [`Reference::parse`] of a name
    /// without domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/python`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full name without tag or digest: `docker.io/library/python`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given, e.g. `sha256:…`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether neither tag nor digest was given.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Whether the reference points at Docker Hub: domain `docker.io`
    /// (or the legacy `index.docker.io`, or no domain at all, which only a
    /// plain [`Reference::parse`] produces).
    pub fn is_docker_hub(&self) -> bool {
        matches!(
            self.domain.as_str(),
            DEFAULT_DOMAIN | LEGACY_DEFAULT_DOMAIN | ""
        )
    }

    /// The short name users type (Docker's `FamiliarName`): `python` for
    /// `docker.io/library/python`, `user/app` for `docker.io/user/app`,
    /// and the full name for every other registry.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The short form users type (Docker's `FamiliarString`):
    /// `python:3.12-slim`, `user/app@sha256:…`, `ghcr.io/o/r:1`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_tag_and_digest(&mut s);
        s
    }

    fn push_tag_and_digest(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
    }

    /// The same reference with `tag` as its tag (any digest is kept, as
    /// Docker's `WithTag` does). Fails with [`ReferenceError::TagFormat`]
    /// when `tag` does not match `[\w][\w.-]{0,127}`.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_tag(tag) {
            return Err(ReferenceError::TagFormat);
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            ..self.clone()
        })
    }

    /// The same reference with `digest` as its digest (any tag is kept, as
    /// Docker's `WithDigest` does). The digest must match the grammar
    /// ([`ReferenceError::DigestFormat`]) and, unlike Docker's `WithDigest`,
    /// must also be valid for its algorithm, as [`Reference::parse`]
    /// requires, so every `Reference` prints as a string that parses back.
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_reference_digest(digest) {
            return Err(ReferenceError::DigestFormat);
        }
        grammar::validate_digest(digest)?;
        Ok(Reference {
            digest: Some(digest.to_owned()),
            ..self.clone()
        })
    }

    /// The same reference without its tag.
    pub fn without_tag(&self) -> Reference {
        Reference {
            tag: None,
            ..self.clone()
        }
    }

    /// The same reference without its digest.
    pub fn without_digest(&self) -> Reference {
        Reference {
            digest: None,
            ..self.clone()
        }
    }

    /// The reference with the tag `latest` added when it has neither tag
    /// nor digest, otherwise unchanged (Docker's `TagNameOnly`).
    pub fn tag_name_only(&self) -> Reference {
        if self.is_name_only() {
            Reference {
                tag: Some(DEFAULT_TAG.to_owned()),
                ..self.clone()
            }
        } else {
            self.clone()
        }
    }

    /// The tag to resolve: the tag if one was given, else `latest`.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// For registry API calls, what goes after `/manifests/`: the digest if
    /// there is one, else the tag, else `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .unwrap_or_else(|| self.tag_or_latest())
    }

    /// The host that serves the registry API: `registry-1.docker.io` for
    /// Docker Hub (see [`Reference::is_docker_hub`]), else the domain.
    pub fn registry_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API_HOST
        } else {
            &self.domain
        }
    }

    /// Every form of the reference, for JSON output.
    pub fn parts(&self) -> ReferenceParts {
        ReferenceParts {
            string: self.to_string(),
            name: self.name(),
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
            familiar: self.familiar(),
            familiar_name: self.familiar_name(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_tag_and_digest(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// Same as [`Reference::parse_normalized`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

impl Serialize for Reference {
    /// Serializes as the full string (`Display`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    /// Deserializes from a string through [`Reference::parse_normalized`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Reference::parse_normalized(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
