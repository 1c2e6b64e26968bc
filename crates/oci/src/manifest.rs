//! Manifests, indexes, descriptors and configs.
//!
//! A [`RawManifest`] keeps the exact bytes a registry or layout gave us; its digest is computed
//! over those bytes and it is never re-serialized. The typed views ([`ImageManifest`],
//! [`ImageIndex`], [`ConfigFile`]) are our own serde structs rather than oci-spec's because they
//! must keep unknown fields (`extra`) when plinth writes a modified config or a new manifest:
//! oci-spec drops them, which would silently change images on rebase.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Digest;
use crate::media::{self, ManifestKind};
use crate::platform::Platform;

/// Unknown fields, kept so that re-serializing a document loses nothing.
pub type Extra = Map<String, Value>;

/// A content descriptor: what a manifest or index says about a piece of content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    pub media_type: String,
    /// The content's digest.
    pub digest: Digest,
    /// The content's size in bytes.
    pub size: u64,
    /// Alternative download locations (foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of the manifest this descriptor points at (indexes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Embedded content (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Descriptor {
    /// A plain descriptor.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
            extra: Extra::new(),
        }
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// A single-platform image manifest (OCI or Docker v2 schema 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, when written in the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// Layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An image index or Docker manifest list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type, when written in the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests, usually one per platform.
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ImageIndex {
    /// The descriptor that best serves `platform` (exact match first, then compatible
    /// variants), skipping attestation manifests (`unknown/unknown`).
    pub fn find_platform(&self, platform: &Platform) -> Option<&Descriptor> {
        platform.best_match(
            self.manifests
                .iter()
                .filter(|d| media::manifest_kind(&d.media_type) == Some(ManifestKind::Image))
                .filter_map(|d| d.platform.as_ref().map(|p| (p, d))),
        )
    }

    /// The platforms listed, in order, without attestation entries.
    pub fn platforms(&self) -> Vec<Platform> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.clone())
            .filter(|p| p.os != "unknown")
            .collect()
    }
}

/// Why manifest bytes were refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Docker schema 1.
    #[error(
        "Docker image manifest schema 1 is deprecated and not supported; \
         push the image again with a current tool to get schema 2 or OCI"
    )]
    Schema1,
    /// Not JSON, or not a manifest.
    #[error("malformed manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// A media type that is not a manifest or index.
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    /// The document breaks the OCI spec.
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

/// The parsed form of a manifest.
// One per manifest held, so the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// An index.
    Index(ImageIndex),
    /// An image manifest.
    Image(ImageManifest),
}

/// Manifest bytes exactly as stored, with their media type and digest.
#[derive(Clone, Debug, PartialEq)]
pub struct RawManifest {
    bytes: Bytes,
    media_type: String,
    digest: Digest,
    parsed: Parsed,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<Value>,
    config: Option<Value>,
}

impl RawManifest {
    /// Reads manifest bytes. The media type comes from the document's `mediaType`, else the
    /// transport's `Content-Type`, else the document's shape (`manifests` → index, `config`
    /// → manifest). Schema 1 is refused.
    pub fn from_bytes(
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
    ) -> Result<RawManifest, ManifestError> {
        let bytes: Bytes = bytes.into();
        let probe: Probe = serde_json::from_slice(&bytes)?;
        let content_type = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
        if probe.schema_version == Some(1)
            || probe.media_type.as_deref().is_some_and(media::is_schema1)
            || content_type.is_some_and(media::is_schema1)
        {
            return Err(ManifestError::Schema1);
        }
        let media_type = match (&probe.media_type, content_type) {
            (Some(m), _) => m.clone(),
            (None, Some(c)) if media::manifest_kind(c).is_some() => c.to_string(),
            _ if probe.manifests.is_some() => media::OCI_INDEX.to_string(),
            _ if probe.config.is_some() => media::OCI_MANIFEST.to_string(),
            _ => {
                return Err(ManifestError::MediaType(
                    content_type.unwrap_or("(none)").to_string(),
                ));
            }
        };
        let parsed = match media::manifest_kind(&media_type) {
            Some(ManifestKind::Index) => Parsed::Index(serde_json::from_slice(&bytes)?),
            Some(ManifestKind::Image) => Parsed::Image(serde_json::from_slice(&bytes)?),
            None => return Err(ManifestError::MediaType(media_type)),
        };
        if let Err(e) = crate::validate::validate(&media_type, &bytes) {
            return Err(ManifestError::Invalid(e.to_string()));
        }
        Ok(RawManifest {
            digest: Digest::sha256(&bytes),
            bytes,
            media_type,
            parsed,
        })
    }

    /// Serializes a manifest plinth made itself.
    pub fn from_index(index: &ImageIndex) -> RawManifest {
        let bytes = serde_json::to_vec_pretty(index).expect("an index always serializes");
        let media_type = index.media_type.clone().unwrap_or(media::OCI_INDEX.into());
        RawManifest {
            digest: Digest::sha256(&bytes),
            bytes: bytes.into(),
            media_type,
            parsed: Parsed::Index(index.clone()),
        }
    }

    /// Serializes an image manifest plinth made itself.
    pub fn from_image(manifest: &ImageManifest) -> RawManifest {
        let bytes = serde_json::to_vec_pretty(manifest).expect("a manifest always serializes");
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or(media::OCI_MANIFEST.into());
        RawManifest {
            digest: Digest::sha256(&bytes),
            bytes: bytes.into(),
            media_type,
            parsed: Parsed::Image(manifest.clone()),
        }
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The media type.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The sha256 digest of the bytes.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The typed view.
    pub fn parsed(&self) -> &Parsed {
        &self.parsed
    }

    /// Whether this is an index.
    pub fn is_index(&self) -> bool {
        matches!(self.parsed, Parsed::Index(_))
    }

    /// The index view, if this is an index.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        match &self.parsed {
            Parsed::Index(i) => Some(i),
            Parsed::Image(_) => None,
        }
    }

    /// The image manifest view, if this is one.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        match &self.parsed {
            Parsed::Image(m) => Some(m),
            Parsed::Index(_) => None,
        }
    }

    /// A descriptor for these bytes.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            &self.media_type,
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }

    /// Checks the bytes against a digest given by a reference or header (any algorithm).
    pub fn check_digest(&self, expected: &Digest) -> Result<(), crate::digest::VerifyError> {
        let actual = expected.compute_like(&self.bytes);
        if &actual != expected {
            return Err(crate::digest::VerifyError::Digest {
                expected: expected.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// The `rootfs` section of a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Digests of the uncompressed layers, base first.
    pub diff_ids: Vec<Digest>,
}

/// One history entry of a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The runtime part of a config (`config` key), in Docker's field spelling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user[:group]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports as `8080/tcp` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint argv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Volume paths as keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Stop signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Unknown fields (Healthcheck, OnBuild, Shell, ArgsEscaped…), kept as they are.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An image config (OCI or Docker), typed where plinth reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ConfigFile {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Runtime defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// Layer diff ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootFs>,
    /// Build history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<History>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ConfigFile {
    /// Parses config bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<ConfigFile, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The config's platform.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            os_features: None,
        }
    }

    /// The layer diff ids (empty when absent).
    pub fn diff_ids(&self) -> &[Digest] {
        self.rootfs.as_ref().map(|r| &r.diff_ids[..]).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","size":7143,"platform":{"architecture":"arm","os":"linux","variant":"v7"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":7682,"platform":{"architecture":"amd64","os":"linux"},"x-extra":1}],
      "annotations":{"a":"b"}}"#;

    #[test]
    fn keeps_bytes_and_finds_platforms() {
        let raw = RawManifest::from_bytes(INDEX.as_bytes().to_vec(), None).unwrap();
        assert_eq!(raw.bytes(), INDEX.as_bytes());
        assert_eq!(raw.digest(), &Digest::sha256(INDEX.as_bytes()));
        let index = raw.as_index().unwrap();
        let d = index
            .find_platform(&Platform::parse("linux/arm").unwrap())
            .unwrap();
        assert!(d.digest.hex().starts_with("e692"));
        assert!(
            index
                .find_platform(&Platform::parse("linux/arm64").unwrap())
                .is_none()
        );
        assert_eq!(index.manifests[1].extra["x-extra"], 1);
    }

    #[test]
    fn media_type_from_shape_and_header() {
        let doc = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":7023},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0","size":32654}]}"#;
        let raw = RawManifest::from_bytes(doc.as_bytes().to_vec(), None).unwrap();
        assert_eq!(raw.media_type(), media::OCI_MANIFEST);
        let raw = RawManifest::from_bytes(
            doc.as_bytes().to_vec(),
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
        )
        .unwrap();
        assert_eq!(raw.media_type(), media::OCI_MANIFEST);
    }

    #[test]
    fn refuses_schema1() {
        let doc = r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        let err = RawManifest::from_bytes(doc.as_bytes().to_vec(), None).unwrap_err();
        assert!(matches!(err, ManifestError::Schema1), "{err}");
        assert!(err.to_string().contains("schema 1"));
    }
}
