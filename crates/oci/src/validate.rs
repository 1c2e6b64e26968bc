//! Validation of image documents by media type: OCI image manifests, image indexes, image
//! configs, `oci-layout` headers and content descriptors, and their Docker image manifest
//! schema 2 equivalents.
//!
//! [`validate`] enforces the rules of the image spec's JSON Schemas (`schema/*.json` of
//! opencontainers/image-spec) — JSON types, required fields, `schemaVersion` 2, the media-type
//! pattern of RFC 6838, the digest grammar, `size` as a non-negative int64, `urls` as URIs,
//! `created` as RFC 3339, annotations and labels as string maps, `rootfs.type` = `"layers"` … —
//! plus the rules the spec states in prose and its reference validator checks outside the
//! schemas: lowercase hex of the right length for the registered digest algorithms (`sha256`:
//! 64, `sha512`: 128), `Env` entries of the form `NAME=value`, a descriptor's `data` being
//! padded base64 whose decoded bytes match `size` and `digest`, a manifest's own `mediaType`
//! naming a manifest (an index's an index).
//!
//! The rules are written by hand. Five small schemas with a handful of `$ref`s, two `oneOf`
//! nullables and three string formats do not justify a general JSON-Schema engine and its
//! dependencies; hand-written checks also give errors that name the exact path and the reason,
//! e.g. `manifests[0].digest: invalid digest "sha256:xyz": sha256 needs 64 lowercase hex
//! digits, found 'x'`.
//!
//! Documents must be strict JSON: one value, no trailing data, no duplicate object keys (which
//! different parsers resolve differently). Fields the schemas do not describe are ignored, as
//! the spec requires.
//!
//! Docker schema 2 documents (`application/vnd.docker.distribution.manifest.v2+json`,
//! `…manifest.list.v2+json`, `application/vnd.docker.container.image.v1+json`) follow the same
//! rules with the differences Docker's own format has: the root `mediaType` is required and must
//! be the Docker one (as the distribution registry checks), a manifest may have no layers, a
//! config's `rootfs.diff_ids` may be absent and `config.Env` / `config.ExposedPorts` may be
//! `null` (Docker writes nil Go slices and maps that way). Docker image manifest schema 1 is
//! refused.

mod formats;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";
/// Not a registered media type: accepted as a spelling of [`OCI_LAYOUT_HEADER`].
const OCI_LAYOUT_HEADER_ALIAS: &str = "application/vnd.oci.image.layout.header.v1+json";
const OCI_DESCRIPTOR: &str = "application/vnd.oci.descriptor.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The media types [`validate`] has rules for.
///
/// `application/vnd.oci.image.layout.header.v1+json` is also accepted as a spelling of the
/// `oci-layout` header type, and Docker schema 1 types are recognised only to be refused.
pub const SUPPORTED_MEDIA_TYPES: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    OCI_CONFIG,
    OCI_LAYOUT_HEADER,
    OCI_DESCRIPTOR,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_CONFIG,
];

/// Why a document is not valid for its media type.
///
/// The `Display` form is one line meant for people, e.g.
/// `manifests[0].digest: invalid digest "sha256:xyz": sha256 needs 64 lowercase hex digits,
/// found 'x'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// There are no rules for this media type (see [`SUPPORTED_MEDIA_TYPES`]).
    #[error("no validation rules for media type {media_type:?}")]
    UnsupportedMediaType {
        /// The media type as given.
        media_type: String,
    },
    /// The document is (or claims to be) a Docker image manifest schema 1.
    #[error(
        "Docker image manifest schema 1 is deprecated and not supported; the registry must serve \
         schema 2 or OCI ({found})"
    )]
    Schema1 {
        /// What showed schema 1: the media type, or the document's `schemaVersion`.
        found: String,
    },
    /// The bytes are not one strict JSON value.
    #[error("invalid JSON: {message}")]
    Syntax {
        /// The parser's message, with its position.
        message: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// A value breaks a rule of its document type.
    #[error("{}: {reason}", display_path(.path))]
    Invalid {
        /// Where, as `field.sub[index]["key.with.dots"]`; empty for the whole document.
        path: String,
        /// What is wrong and why.
        reason: String,
    },
}

impl ValidationError {
    /// The path of the offending value, for [`ValidationError::Invalid`] (empty for the whole
    /// document).
    pub fn path(&self) -> Option<&str> {
        match self {
            ValidationError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "document" } else { path }
}

/// Validates `bytes` as a document of `media_type`.
///
/// Media types compare case-insensitively and parameters (`; charset=utf-8`) are ignored, so a
/// `Content-Type` header can be passed as is. Returns the first rule broken, in the order of
/// the fields in the schema.
///
/// ```
/// use plinth_oci::validate::validate;
///
/// let layout = br#"{"imageLayoutVersion": "1.0.0"}"#;
/// assert!(validate("application/vnd.oci.layout.header.v1+json", layout).is_ok());
///
/// let descriptor = br#"{"mediaType": "text/plain", "size": 3, "digest": "sha256:xyz"}"#;
/// let err = validate("application/vnd.oci.descriptor.v1+json", descriptor).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"digest: invalid digest "sha256:xyz": sha256 needs 64 lowercase hex digits, found 'x'"#
/// );
/// ```
pub fn validate(media_type: &str, bytes: &[u8]) -> Result<(), ValidationError> {
    let kind = Kind::from_media_type(media_type)?;
    let document = parse(bytes)?;
    let root = Path::root();
    match kind {
        Kind::Manifest(flavor) => manifest(&document, flavor),
        Kind::Index(flavor) => index(&document, flavor),
        Kind::Config(flavor) => config(&document, &root, flavor),
        Kind::LayoutHeader => layout_header(&document),
        Kind::Descriptor => descriptor(&document, &root),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Oci,
    Docker,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Manifest(Flavor),
    Index(Flavor),
    Config(Flavor),
    LayoutHeader,
    Descriptor,
}

impl Kind {
    fn from_media_type(media_type: &str) -> Result<Kind, ValidationError> {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        let is = |known: &str| essence.eq_ignore_ascii_case(known);
        Ok(if is(OCI_MANIFEST) {
            Kind::Manifest(Flavor::Oci)
        } else if is(DOCKER_MANIFEST) {
            Kind::Manifest(Flavor::Docker)
        } else if is(OCI_INDEX) {
            Kind::Index(Flavor::Oci)
        } else if is(DOCKER_MANIFEST_LIST) {
            Kind::Index(Flavor::Docker)
        } else if is(OCI_CONFIG) {
            Kind::Config(Flavor::Oci)
        } else if is(DOCKER_CONFIG) {
            Kind::Config(Flavor::Docker)
        } else if is(OCI_LAYOUT_HEADER) || is(OCI_LAYOUT_HEADER_ALIAS) {
            Kind::LayoutHeader
        } else if is(OCI_DESCRIPTOR) {
            Kind::Descriptor
        } else if is(DOCKER_SCHEMA1) || is(DOCKER_SCHEMA1_SIGNED) {
            return Err(ValidationError::Schema1 {
                found: format!("media type {essence}"),
            });
        } else {
            return Err(ValidationError::UnsupportedMediaType {
                media_type: media_type.to_string(),
            });
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Strict JSON parsing

/// Parses one JSON value, refusing duplicate object keys (serde_json would keep the last).
fn parse(bytes: &[u8]) -> Result<Value, ValidationError> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(value)) => Ok(value),
        Err(e) => Err(ValidationError::Syntax {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        }),
    }
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

// ---------------------------------------------------------------------------------------------
// Paths, errors and typed access

/// A location in the document, rendered as `a.b[0]["c.d"]`.
#[derive(Debug, Clone)]
struct Path(String);

impl Path {
    fn root() -> Path {
        Path(String::new())
    }

    fn key(&self, key: &str) -> Path {
        let plain = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        Path(match (plain, self.0.is_empty()) {
            (true, true) => key.to_string(),
            (true, false) => format!("{}.{key}", self.0),
            (false, _) => format!("{}[{key:?}]", self.0),
        })
    }

    fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    fn error(&self, reason: impl Into<String>) -> ValidationError {
        ValidationError::Invalid {
            path: self.0.clone(),
            reason: reason.into(),
        }
    }
}

type Result<T, E = ValidationError> = std::result::Result<T, E>;

/// Quotes a string for a message, shortened when long.
fn quote(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// Describes a JSON value for a type error: `number 123`, `string "7682"`, `an array`.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn type_error(path: &Path, expected: &str, found: &Value) -> ValidationError {
    path.error(format!("expected {expected}, found {}", describe(found)))
}

/// An object being validated, with its path.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a Path,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: &'a Path) -> Result<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(type_error(path, "an object", other)),
        }
    }

    /// Checks a required field with `check`.
    fn req<T>(&self, key: &str, check: impl FnOnce(&'a Value, &Path) -> Result<T>) -> Result<T> {
        let path = self.path.key(key);
        match self.map.get(key) {
            Some(value) => check(value, &path),
            None => Err(path.error("required field is missing")),
        }
    }

    /// Checks an optional field with `check` when it is present.
    fn opt<T>(
        &self,
        key: &str,
        check: impl FnOnce(&'a Value, &Path) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.map.get(key) {
            Some(value) => check(value, &self.path.key(key)).map(Some),
            None => Ok(None),
        }
    }
}

fn string<'a>(value: &'a Value, path: &Path) -> Result<&'a str> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(type_error(path, "a string", other)),
    }
}

fn boolean(value: &Value, path: &Path) -> Result<()> {
    match value {
        Value::Bool(_) => Ok(()),
        other => Err(type_error(path, "a boolean", other)),
    }
}

fn array<'a>(value: &'a Value, path: &Path) -> Result<&'a [Value]> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(type_error(path, "an array", other)),
    }
}

/// Whether `null` is accepted in place of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Null {
    Allowed,
    Refused,
}

fn is_allowed_null(value: &Value, null: Null) -> bool {
    value.is_null() && null == Null::Allowed
}

fn string_array(value: &Value, path: &Path, null: Null) -> Result<()> {
    if is_allowed_null(value, null) {
        return Ok(());
    }
    let expected = match null {
        Null::Allowed => "an array of strings or null",
        Null::Refused => "an array of strings",
    };
    let Value::Array(items) = value else {
        return Err(type_error(path, expected, value));
    };
    for (i, item) in items.iter().enumerate() {
        string(item, &path.index(i))?;
    }
    Ok(())
}

/// A map of string to string (`annotations`, `Labels`).
fn string_map(value: &Value, path: &Path, null: Null) -> Result<()> {
    if is_allowed_null(value, null) {
        return Ok(());
    }
    let map = Obj::new(value, path)?;
    for (key, item) in map.map {
        string(item, &path.key(key))?;
    }
    Ok(())
}

/// A map of string to object, used as a set (`ExposedPorts`, `Volumes`).
fn object_map(value: &Value, path: &Path, null: Null) -> Result<()> {
    if is_allowed_null(value, null) {
        return Ok(());
    }
    let map = Obj::new(value, path)?;
    for (key, item) in map.map {
        Obj::new(item, &path.key(key))?;
    }
    Ok(())
}

fn media_type<'a>(value: &'a Value, path: &Path) -> Result<&'a str> {
    let s = string(value, path)?;
    formats::check_media_type(s)
        .map_err(|why| path.error(format!("invalid media type {}: {why}", quote(s))))?;
    Ok(s)
}

fn digest<'a>(value: &'a Value, path: &Path) -> Result<&'a str> {
    let s = string(value, path)?;
    formats::check_digest(s)
        .map_err(|why| path.error(format!("invalid digest {}: {why}", quote(s))))?;
    Ok(s)
}

fn size(value: &Value, path: &Path) -> Result<u64> {
    let Value::Number(n) = value else {
        return Err(type_error(path, "an integer", value));
    };
    if let Some(i) = n.as_i64() {
        return u64::try_from(i)
            .map_err(|_| path.error(format!("must not be negative, found {i}")));
    }
    if n.is_u64() {
        return Err(path.error(format!("{n} is larger than the int64 maximum")));
    }
    Err(path.error(format!("expected an integer, found number {n}")))
}

fn schema_version(value: &Value, path: &Path) -> Result<()> {
    match value {
        Value::Number(n) if n.as_i64() == Some(2) => Ok(()),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            Err(path.error(format!("must be 2, found {n}")))
        }
        other => Err(type_error(path, "the integer 2", other)),
    }
}

fn uri(value: &Value, path: &Path) -> Result<()> {
    let s = string(value, path)?;
    formats::check_uri(s).map_err(|why| path.error(format!("invalid URI {}: {why}", quote(s))))
}

fn date_time(value: &Value, path: &Path) -> Result<()> {
    let s = string(value, path)?;
    formats::check_date_time(s)
        .map_err(|why| path.error(format!("invalid RFC 3339 date-time {}: {why}", quote(s))))
}

// ---------------------------------------------------------------------------------------------
// Document rules

/// A content descriptor (`content-descriptor.json`, and the manifest descriptors of an index),
/// with its optional `platform`.
fn descriptor(value: &Value, path: &Path) -> Result<()> {
    let o = Obj::new(value, path)?;
    o.req("mediaType", media_type)?;
    let size = o.req("size", size)?;
    let digest = o.req("digest", digest)?;
    o.opt("urls", |v, p| {
        for (i, item) in array(v, p)?.iter().enumerate() {
            uri(item, &p.index(i))?;
        }
        Ok(())
    })?;
    o.opt("data", |v, p| embedded_data(v, p, size, digest))?;
    o.opt("artifactType", media_type)?;
    o.opt("annotations", |v, p| string_map(v, p, Null::Refused))?;
    o.opt("platform", platform)?;
    Ok(())
}

/// A descriptor's `data`: padded base64 of exactly the described content.
fn embedded_data(value: &Value, path: &Path, size: u64, digest: &str) -> Result<()> {
    let encoded = string(value, path)?;
    let data = formats::decode_base64(encoded).map_err(|why| path.error(why))?;
    if data.len() as u64 != size {
        return Err(path.error(format!(
            "decodes to {} bytes but the descriptor's size is {size}",
            data.len()
        )));
    }
    if let Some((algorithm, expected)) = formats::registered_digest(digest) {
        let actual = match algorithm {
            "sha256" => hex::encode(Sha256::digest(&data)),
            _ => hex::encode(Sha512::digest(&data)),
        };
        if actual != expected {
            return Err(path.error(format!(
                "decodes to content with digest {algorithm}:{actual}, not the descriptor's {digest}"
            )));
        }
    }
    Ok(())
}

/// A `platform` object (index entries, descriptors).
fn platform(value: &Value, path: &Path) -> Result<()> {
    let o = Obj::new(value, path)?;
    o.req("architecture", string)?;
    o.req("os", string)?;
    o.opt("os.version", string)?;
    o.opt("os.features", |v, p| string_array(v, p, Null::Refused))?;
    o.opt("variant", string)?;
    Ok(())
}

/// Refuses a document whose `schemaVersion` is 1 or whose `mediaType` is a schema 1 type, with
/// the schema 1 message rather than a field error.
fn refuse_schema1(o: &Obj<'_>) -> Result<()> {
    if o.map.get("schemaVersion").and_then(Value::as_i64) == Some(1) {
        return Err(ValidationError::Schema1 {
            found: "the document's schemaVersion is 1".to_string(),
        });
    }
    match o.map.get("mediaType") {
        Some(Value::String(mt))
            if mt.eq_ignore_ascii_case(DOCKER_SCHEMA1)
                || mt.eq_ignore_ascii_case(DOCKER_SCHEMA1_SIGNED) =>
        {
            Err(ValidationError::Schema1 {
                found: format!("the document's mediaType is {mt}"),
            })
        }
        _ => Ok(()),
    }
}

/// The root `mediaType` of a manifest or index. OCI: optional, but when present it must be the
/// document's own type (the Docker equivalent is accepted for compatibility). Docker: required
/// and exactly the Docker type.
fn root_media_type(o: &Obj<'_>, flavor: Flavor, oci: &str, docker: &str) -> Result<()> {
    let check = |v: &Value, p: &Path| -> Result<()> {
        let mt = media_type(v, p)?;
        let ok = match flavor {
            Flavor::Oci => mt.eq_ignore_ascii_case(oci) || mt.eq_ignore_ascii_case(docker),
            Flavor::Docker => mt.eq_ignore_ascii_case(docker),
        };
        if ok {
            return Ok(());
        }
        let expected = match flavor {
            Flavor::Oci => format!("{oci:?} (or {docker:?})"),
            Flavor::Docker => format!("{docker:?}"),
        };
        Err(p.error(format!("expected {expected}, found {}", quote(mt))))
    };
    match flavor {
        Flavor::Oci => o.opt("mediaType", check).map(drop),
        Flavor::Docker => o.req("mediaType", check),
    }
}

/// An image manifest (`image-manifest-schema.json`) or Docker schema 2 manifest.
fn manifest(value: &Value, flavor: Flavor) -> Result<()> {
    let root = Path::root();
    let o = Obj::new(value, &root)?;
    refuse_schema1(&o)?;
    o.req("schemaVersion", schema_version)?;
    root_media_type(&o, flavor, OCI_MANIFEST, DOCKER_MANIFEST)?;
    o.opt("artifactType", media_type)?;
    o.req("config", descriptor)?;
    o.opt("subject", descriptor)?;
    o.req("layers", |v, p| {
        let layers = array(v, p)?;
        // Docker's format has no minimum: an image made only of metadata has no layers.
        if layers.is_empty() && flavor == Flavor::Oci {
            return Err(p.error("must list at least one layer"));
        }
        for (i, layer) in layers.iter().enumerate() {
            descriptor(layer, &p.index(i))?;
        }
        Ok(())
    })?;
    o.opt("annotations", |v, p| string_map(v, p, Null::Refused))?;
    Ok(())
}

/// An image index (`image-index-schema.json`) or Docker manifest list.
fn index(value: &Value, flavor: Flavor) -> Result<()> {
    let root = Path::root();
    let o = Obj::new(value, &root)?;
    refuse_schema1(&o)?;
    o.req("schemaVersion", schema_version)?;
    root_media_type(&o, flavor, OCI_INDEX, DOCKER_MANIFEST_LIST)?;
    o.opt("artifactType", media_type)?;
    o.opt("subject", descriptor)?;
    o.req("manifests", |v, p| {
        for (i, entry) in array(v, p)?.iter().enumerate() {
            descriptor(entry, &p.index(i))?;
        }
        Ok(())
    })?;
    o.opt("annotations", |v, p| string_map(v, p, Null::Refused))?;
    Ok(())
}

/// An image configuration (`config-schema.json`) or Docker image config.
fn config(value: &Value, path: &Path, flavor: Flavor) -> Result<()> {
    let o = Obj::new(value, path)?;
    o.opt("created", date_time)?;
    o.opt("author", string)?;
    o.req("architecture", string)?;
    o.opt("variant", string)?;
    o.req("os", string)?;
    o.opt("os.version", string)?;
    o.opt("os.features", |v, p| string_array(v, p, Null::Refused))?;
    o.opt("config", |v, p| execution_config(v, p, flavor))?;
    o.req("rootfs", |v, p| rootfs(v, p, flavor))?;
    o.opt("history", |v, p| {
        for (i, entry) in array(v, p)?.iter().enumerate() {
            history(entry, &p.index(i))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A config's `config`: the defaults for running a container.
fn execution_config(value: &Value, path: &Path, flavor: Flavor) -> Result<()> {
    let docker_null = match flavor {
        Flavor::Oci => Null::Refused,
        Flavor::Docker => Null::Allowed,
    };
    let o = Obj::new(value, path)?;
    o.opt("User", string)?;
    o.opt("ExposedPorts", |v, p| object_map(v, p, docker_null))?;
    o.opt("Env", |v, p| {
        string_array(v, p, docker_null)?;
        for (i, entry) in v.as_array().into_iter().flatten().enumerate() {
            // The reference validator's rule: `^[^=]+=.*$`.
            let entry = entry.as_str().unwrap_or_default();
            if entry.find('=').is_none_or(|eq| eq == 0) {
                return Err(p
                    .index(i)
                    .error(format!("expected \"NAME=value\", found {}", quote(entry))));
            }
        }
        Ok(())
    })?;
    o.opt("Entrypoint", |v, p| string_array(v, p, Null::Allowed))?;
    o.opt("Cmd", |v, p| string_array(v, p, Null::Allowed))?;
    o.opt("Volumes", |v, p| object_map(v, p, Null::Allowed))?;
    o.opt("WorkingDir", string)?;
    o.opt("Labels", |v, p| string_map(v, p, Null::Allowed))?;
    o.opt("StopSignal", string)?;
    o.opt("ArgsEscaped", boolean)?;
    Ok(())
}

/// A config's `rootfs`: the layer diff IDs.
fn rootfs(value: &Value, path: &Path, flavor: Flavor) -> Result<()> {
    let o = Obj::new(value, path)?;
    let diff_ids = |v: &Value, p: &Path| -> Result<()> {
        for (i, id) in array(v, p)?.iter().enumerate() {
            digest(id, &p.index(i))?;
        }
        Ok(())
    };
    match flavor {
        Flavor::Oci => o.req("diff_ids", diff_ids)?,
        // Docker omits an empty list (`omitempty`).
        Flavor::Docker => o.opt("diff_ids", diff_ids).map(drop)?,
    }
    o.req("type", |v, p| match string(v, p)? {
        "layers" => Ok(()),
        other => Err(p.error(format!("must be \"layers\", found {}", quote(other)))),
    })
}

/// One entry of a config's `history`.
fn history(value: &Value, path: &Path) -> Result<()> {
    let o = Obj::new(value, path)?;
    o.opt("created", date_time)?;
    o.opt("author", string)?;
    o.opt("created_by", string)?;
    o.opt("comment", string)?;
    o.opt("empty_layer", boolean)?;
    Ok(())
}

/// The `oci-layout` file (`image-layout-schema.json`).
fn layout_header(value: &Value) -> Result<()> {
    let root = Path::root();
    let o = Obj::new(value, &root)?;
    o.req("imageLayoutVersion", |v, p| match string(v, p)? {
        "1.0.0" => Ok(()),
        other => Err(p.error(format!("must be \"1.0.0\", found {}", quote(other)))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_A: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
    const SHA_B: &str = "sha256:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";

    fn err(media_type: &str, json: &str) -> String {
        match validate(media_type, json.as_bytes()) {
            Ok(()) => panic!("expected {media_type} to reject {json}"),
            Err(e) => e.to_string(),
        }
    }

    fn ok(media_type: &str, json: &str) {
        if let Err(e) = validate(media_type, json.as_bytes()) {
            panic!("expected {media_type} to accept {json}: {e}");
        }
    }

    fn desc(media_type: &str, size: &str, digest: &str) -> String {
        format!(r#"{{"mediaType": "{media_type}", "size": {size}, "digest": "{digest}"}}"#)
    }

    fn manifest_with_layers(layers: &str) -> String {
        format!(
            r#"{{"schemaVersion": 2, "mediaType": "{OCI_MANIFEST}",
                "config": {}, "layers": {layers}}}"#,
            desc(OCI_CONFIG, "7023", SHA_B)
        )
    }

    fn index_with(entries: &str) -> String {
        format!(r#"{{"schemaVersion": 2, "mediaType": "{OCI_INDEX}", "manifests": {entries}}}"#)
    }

    fn config_with(extra: &str) -> String {
        format!(
            r#"{{"architecture": "amd64", "os": "linux",
                "rootfs": {{"type": "layers", "diff_ids": ["{SHA_A}"]}}{extra}}}"#
        )
    }

    #[test]
    fn digest_errors_name_the_path() {
        let layer = desc("application/vnd.oci.image.layer.v1.tar+gzip", "1", SHA_A);
        let bad = desc(OCI_MANIFEST, "7682", "sha256:xyz");
        assert_eq!(
            err(OCI_INDEX, &index_with(&format!("[{bad}]"))),
            r#"manifests[0].digest: invalid digest "sha256:xyz": sha256 needs 64 lowercase hex digits, found 'x'"#
        );
        let upper = desc(
            OCI_MANIFEST,
            "1",
            &SHA_A.to_uppercase().replace("SHA256", "sha256"),
        );
        assert!(
            err(
                OCI_MANIFEST,
                &manifest_with_layers(&format!("[{layer}, {upper}]"))
            )
            .starts_with(r#"layers[1].digest: invalid digest "sha256:5B0BCABD"#)
        );
        assert_eq!(
            err(
                OCI_DESCRIPTOR,
                &desc("text/plain", "1", "sha256+foo+-b:abc")
            ),
            r#"digest: invalid digest "sha256+foo+-b:abc": algorithm "sha256+foo+-b" must be lowercase letters and digits, with single "+", ".", "_" or "-" between components"#
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc("text/plain", "1", "sha256")),
            r#"digest: invalid digest "sha256": expected "algorithm:encoded", found no ":""#
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc("text/plain", "1", "sha512:abc")),
            r#"digest: invalid digest "sha512:abc": sha512 needs 128 lowercase hex digits, found 3"#
        );
        ok(
            OCI_DESCRIPTOR,
            &desc("text/plain", "1", "sha256+b64u:LCa0a2j_xo_5m0U8HTBB"),
        );
    }

    #[test]
    fn media_type_errors() {
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc("application", "1", SHA_A)),
            r#"mediaType: invalid media type "application": expected "type/subtype" (RFC 6838), found no "/""#
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc("foo/.bar", "1", SHA_A)),
            r#"mediaType: invalid media type "foo/.bar": the subtype must start with a letter or digit, found '.'"#
        );
        assert_eq!(
            err(
                OCI_MANIFEST,
                &manifest_with_layers(&format!("[{}]", desc("", "1", SHA_A)))
            ),
            r#"layers[0].mediaType: invalid media type "": expected "type/subtype" (RFC 6838), found no "/""#
        );
        let long = format!("{}/bar", "a".repeat(128));
        assert!(
            err(OCI_DESCRIPTOR, &desc(&long, "1", SHA_A))
                .ends_with("the type is 128 characters long, more than the 127 RFC 6838 allows")
        );
    }

    #[test]
    fn size_errors() {
        let mt = "text/plain";
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc(mt, "\"7682\"", SHA_A)),
            r#"size: expected an integer, found string "7682""#
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc(mt, "-7682", SHA_A)),
            "size: must not be negative, found -7682"
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc(mt, "1.5", SHA_A)),
            "size: expected an integer, found number 1.5"
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &desc(mt, "9223372036854775808", SHA_A)),
            "size: 9223372036854775808 is larger than the int64 maximum"
        );
        ok(OCI_DESCRIPTOR, &desc(mt, "9223372036854775807", SHA_A));
    }

    #[test]
    fn required_fields() {
        assert_eq!(
            err(
                OCI_DESCRIPTOR,
                &format!(r#"{{"size": 1, "digest": "{SHA_A}"}}"#)
            ),
            "mediaType: required field is missing"
        );
        assert_eq!(
            err(
                OCI_INDEX,
                &index_with(&format!(
                    r#"[{{"mediaType": "{OCI_MANIFEST}", "size": 1}}]"#
                ))
            ),
            "manifests[0].digest: required field is missing"
        );
        let entry = format!(
            r#"{{"mediaType": "{OCI_MANIFEST}", "size": 1, "digest": "{SHA_A}", "platform": {{"os": "linux"}}}}"#
        );
        assert_eq!(
            err(OCI_INDEX, &index_with(&format!("[{entry}]"))),
            "manifests[0].platform.architecture: required field is missing"
        );
        assert_eq!(
            err(OCI_INDEX, r#"{"schemaVersion": 2}"#),
            "manifests: required field is missing"
        );
        assert_eq!(
            err(OCI_MANIFEST, &manifest_with_layers("[]")),
            "layers: must list at least one layer"
        );
        assert_eq!(
            err(OCI_LAYOUT_HEADER, "{}"),
            "imageLayoutVersion: required field is missing"
        );
        assert_eq!(
            err(OCI_LAYOUT_HEADER, r#"{"imageLayoutVersion": "2.0.0"}"#),
            r#"imageLayoutVersion: must be "1.0.0", found "2.0.0""#
        );
    }

    #[test]
    fn schema_version_errors() {
        let m = manifest_with_layers(&format!("[{}]", desc("a/b", "1", SHA_A)));
        assert_eq!(
            err(
                OCI_MANIFEST,
                &m.replace("\"schemaVersion\": 2", "\"schemaVersion\": 3")
            ),
            "schemaVersion: must be 2, found 3"
        );
        assert_eq!(
            err(
                OCI_MANIFEST,
                &m.replace("\"schemaVersion\": 2", "\"schemaVersion\": \"2\"")
            ),
            r#"schemaVersion: expected the integer 2, found string "2""#
        );
        assert_eq!(
            err(OCI_MANIFEST, &m.replace("\"schemaVersion\": 2,", "")),
            "schemaVersion: required field is missing"
        );
    }

    #[test]
    fn schema1_is_refused() {
        let expected = "Docker image manifest schema 1 is deprecated and not supported; the \
                        registry must serve schema 2 or OCI";
        for mt in [DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED] {
            let e = validate(mt, b"{}").unwrap_err();
            assert!(matches!(e, ValidationError::Schema1 { .. }));
            assert_eq!(e.to_string(), format!("{expected} (media type {mt})"));
        }
        let v1 =
            r#"{"schemaVersion": 1, "name": "library/hello", "tag": "latest", "fsLayers": []}"#;
        assert_eq!(
            err(DOCKER_MANIFEST, v1),
            format!("{expected} (the document's schemaVersion is 1)")
        );
        assert!(err(OCI_MANIFEST, v1).starts_with(expected));
    }

    #[test]
    fn unsupported_media_type() {
        assert_eq!(
            err("application/json", "{}"),
            r#"no validation rules for media type "application/json""#
        );
        assert!(matches!(
            validate("text/plain", b"{}"),
            Err(ValidationError::UnsupportedMediaType { .. })
        ));
    }

    #[test]
    fn media_type_argument_is_lenient() {
        let layout = r#"{"imageLayoutVersion": "1.0.0"}"#;
        ok("application/vnd.oci.layout.header.v1+json", layout);
        ok("application/vnd.oci.image.layout.header.v1+json", layout);
        ok(
            "Application/VND.OCI.Layout.Header.v1+JSON; charset=utf-8",
            layout,
        );
    }

    #[test]
    fn json_syntax_errors() {
        let e = validate(OCI_CONFIG, b"invalid JSON").unwrap_err();
        assert!(
            matches!(
                e,
                ValidationError::Syntax {
                    line: 1,
                    column: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("invalid JSON: expected value at line 1 column 1")
        );
        assert!(
            err(OCI_LAYOUT_HEADER, r#"{"imageLayoutVersion": 1.0.0}"#).starts_with("invalid JSON")
        );
        assert!(
            err(OCI_LAYOUT_HEADER, r#"{"imageLayoutVersion": "1.0.0"} {}"#)
                .starts_with("invalid JSON: trailing characters")
        );
        assert_eq!(
            err(
                OCI_LAYOUT_HEADER,
                "{\"imageLayoutVersion\": \"1.0.0\",\n \"imageLayoutVersion\": \"1.0.0\"}"
            ),
            r#"invalid JSON: duplicate key "imageLayoutVersion" at line 2 column 21"#
        );
        assert!(err(OCI_LAYOUT_HEADER, "").starts_with("invalid JSON: EOF"));
        assert_eq!(
            err(OCI_LAYOUT_HEADER, "[]"),
            "document: expected an object, found an array"
        );
    }

    #[test]
    fn config_errors() {
        ok(OCI_CONFIG, &config_with(""));
        assert_eq!(
            err(OCI_CONFIG, &config_with("").replace("\"linux\"", "123")),
            "os: expected a string, found number 123"
        );
        assert_eq!(
            err(OCI_CONFIG, &config_with(r#", "config": {"User": 1234}"#)),
            "config.User: expected a string, found number 1234"
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "history": "should be an array""#)
            ),
            r#"history: expected an array, found string "should be an array""#
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "config": {"Env": ["A=1", 7353]}"#)
            ),
            "config.Env[1]: expected a string, found number 7353"
        );
        assert_eq!(
            err(OCI_CONFIG, &config_with(r#", "config": {"Env": ["foo"]}"#)),
            r#"config.Env[0]: expected "NAME=value", found "foo""#
        );
        assert_eq!(
            err(OCI_CONFIG, &config_with(r#", "config": {"Env": ["=x"]}"#)),
            r#"config.Env[0]: expected "NAME=value", found "=x""#
        );
        ok(
            OCI_CONFIG,
            &config_with(r#", "config": {"Env": ["EMPTY=", "A==b"]}"#),
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "config": {"Volumes": ["/var/a"]}"#)
            ),
            "config.Volumes: expected an object, found an array"
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "config": {"ExposedPorts": {"80/tcp": true}}"#)
            ),
            r#"config.ExposedPorts["80/tcp"]: expected an object, found boolean true"#
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "config": {"Labels": {"org.example.x": 1}}"#)
            ),
            r#"config.Labels["org.example.x"]: expected a string, found number 1"#
        );
        assert_eq!(
            err(OCI_CONFIG, &config_with(r#", "os.features": [1]"#)),
            r#"["os.features"][0]: expected a string, found number 1"#
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "created": "2015-10-31 22:22:56Z""#)
            ),
            r#"created: invalid RFC 3339 date-time "2015-10-31 22:22:56Z": expected YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"#
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with(r#", "history": [{}, {"empty_layer": "yes"}]"#)
            ),
            r#"history[1].empty_layer: expected a boolean, found string "yes""#
        );
        assert_eq!(
            err(
                OCI_CONFIG,
                &config_with("").replace("\"layers\"", "\"tar\"")
            ),
            r#"rootfs.type: must be "layers", found "tar""#
        );
        assert_eq!(
            err(OCI_CONFIG, &config_with("").replace(SHA_A, "sha256:abc")),
            r#"rootfs.diff_ids[0]: invalid digest "sha256:abc": sha256 needs 64 lowercase hex digits, found 3"#
        );
        assert_eq!(
            err(OCI_CONFIG, r#"{"architecture": "amd64", "os": "linux"}"#),
            "rootfs: required field is missing"
        );
        // Nullable by the schema's oneOf.
        ok(
            OCI_CONFIG,
            &config_with(
                r#", "config": {"Cmd": null, "Entrypoint": null, "Volumes": null, "Labels": null}"#,
            ),
        );
    }

    #[test]
    fn docker_config_differences() {
        ok(
            DOCKER_CONFIG,
            &config_with(r#", "config": {"Env": null, "ExposedPorts": null}"#),
        );
        assert_eq!(
            err(OCI_CONFIG, &config_with(r#", "config": {"Env": null}"#)),
            "config.Env: expected an array of strings, found null"
        );
        let no_layers = r#"{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}"#;
        ok(DOCKER_CONFIG, no_layers);
        assert_eq!(
            err(OCI_CONFIG, no_layers),
            "rootfs.diff_ids: required field is missing"
        );
    }

    #[test]
    fn root_media_type_must_match_the_document() {
        let layer = desc("application/vnd.oci.image.layer.v1.tar+gzip", "1", SHA_A);
        let oci = manifest_with_layers(&format!("[{layer}]"));
        ok(OCI_MANIFEST, &oci);
        assert_eq!(
            err(DOCKER_MANIFEST, &oci),
            format!(r#"mediaType: expected "{DOCKER_MANIFEST}", found "{OCI_MANIFEST}""#)
        );
        let docker = oci.replace(OCI_MANIFEST, DOCKER_MANIFEST);
        ok(DOCKER_MANIFEST, &docker);
        ok(OCI_MANIFEST, &docker);
        assert_eq!(
            err(OCI_MANIFEST, &oci.replace(OCI_MANIFEST, OCI_INDEX)),
            format!(
                r#"mediaType: expected "{OCI_MANIFEST}" (or "{DOCKER_MANIFEST}"), found "{OCI_INDEX}""#
            )
        );
        assert_eq!(
            err(
                DOCKER_MANIFEST,
                &oci.replace(&format!(r#""mediaType": "{OCI_MANIFEST}","#), "")
            ),
            "mediaType: required field is missing"
        );
        // Docker manifests may have no layers.
        ok(
            DOCKER_MANIFEST,
            &manifest_with_layers("[]").replace(OCI_MANIFEST, DOCKER_MANIFEST),
        );
        let list = index_with("[]").replace(OCI_INDEX, DOCKER_MANIFEST_LIST);
        ok(DOCKER_MANIFEST_LIST, &list);
        ok(OCI_INDEX, &list);
        assert!(err(DOCKER_MANIFEST_LIST, &index_with("[]")).starts_with("mediaType: expected"));
    }

    #[test]
    fn descriptor_optional_fields() {
        let with = |extra: &str| {
            format!(r#"{{"mediaType": "text/plain", "size": 2, "digest": "{SHA_A}"{extra}}}"#)
        };
        ok(
            OCI_DESCRIPTOR,
            &with(r#", "urls": ["https://example.com/foo"]"#),
        );
        assert_eq!(
            err(
                OCI_DESCRIPTOR,
                &with(r#", "urls": ["https://example.com/foo", "value"]"#)
            ),
            r#"urls[1]: invalid URI "value": not an absolute URI: it has no scheme (such as "https:")"#
        );
        assert_eq!(
            err(
                OCI_DESCRIPTOR,
                &with(r#", "urls": "https://example.com/foo""#)
            ),
            r#"urls: expected an array, found string "https://example.com/foo""#
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &with(r#", "artifactType": "foo/.bar""#)),
            r#"artifactType: invalid media type "foo/.bar": the subtype must start with a letter or digit, found '.'"#
        );
        assert_eq!(
            err(
                OCI_DESCRIPTOR,
                &with(r#", "annotations": {"org.opencontainers.image.ref.name": 1}"#)
            ),
            r#"annotations["org.opencontainers.image.ref.name"]: expected a string, found number 1"#
        );
        assert_eq!(
            err(
                OCI_DESCRIPTOR,
                &with(r#", "platform": {"architecture": "amd64", "os": "linux", "variant": 8}"#)
            ),
            "platform.variant: expected a string, found number 8"
        );
    }

    #[test]
    fn embedded_data_must_be_the_content() {
        let empty_json = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        let with = |size: u64, data: &str| {
            format!(
                r#"{{"mediaType": "application/vnd.oci.empty.v1+json", "size": {size}, "digest": "{empty_json}", "data": "{data}"}}"#
            )
        };
        ok(OCI_DESCRIPTOR, &with(2, "e30="));
        assert_eq!(
            err(OCI_DESCRIPTOR, &with(2, "e30")),
            "data: not padded base64: its length 3 is not a multiple of 4"
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &with(3, "e30=")),
            "data: decodes to 2 bytes but the descriptor's size is 3"
        );
        assert_eq!(
            err(OCI_DESCRIPTOR, &with(2, "W10=")),
            format!(
                "data: decodes to content with digest sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945, not the descriptor's {empty_json}"
            )
        );
    }

    #[test]
    fn paths_quote_odd_keys() {
        let root = Path::root();
        assert_eq!(root.key("config").key("Env").index(3).0, "config.Env[3]");
        assert_eq!(root.key("os.version").0, r#"["os.version"]"#);
        assert_eq!(root.key("a").key("b c").0, r#"a["b c"]"#);
        assert_eq!(root.key("").0, r#"[""]"#);
    }

    #[test]
    fn error_path_accessor() {
        let e = validate(OCI_DESCRIPTOR, br#"{"size": 1}"#).unwrap_err();
        assert_eq!(e.path(), Some("mediaType"));
        assert_eq!(validate(OCI_DESCRIPTOR, b"[").unwrap_err().path(), None);
    }
}
