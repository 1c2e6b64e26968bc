//! Image names on the command line: a registry reference (default, or `docker://REF`),
//! `oci:PATH[:TAG]`, or `docker-archive:PATH[:REF]`.

use plinth_oci::archive::DockerArchive;
use plinth_oci::layout::Layout;
use plinth_oci::source::{Sink, Source};
use plinth_oci::store::Store;
use plinth_reference::Reference;
use plinth_registry::{Client, Remote};

use crate::error::{CliError, CliResult};

/// Where an image is.
#[derive(Clone, Debug)]
pub enum ImageName {
    /// On a registry.
    Registry(Reference),
    /// In an OCI layout.
    Oci {
        /// The layout directory.
        path: String,
        /// The tag (`org.opencontainers.image.ref.name`).
        tag: Option<String>,
    },
    /// In a docker-archive tar.
    Archive {
        /// The tar file.
        path: String,
        /// The image in it (`REF` or `@N`).
        selector: Option<String>,
    },
}

impl ImageName {
    /// Parses a command-line image name.
    pub fn parse(s: &str) -> CliResult<ImageName> {
        if let Some(rest) = s.strip_prefix("oci:") {
            // A tag never contains '/', so a ':' followed by a '/'-free tail splits path and tag.
            let (path, tag) = match rest.rsplit_once(':') {
                Some((p, t)) if !t.contains('/') && !p.is_empty() => (p, Some(t)),
                _ => (rest, None),
            };
            if path.is_empty() {
                return Err(CliError::invalid(format!("{s}: the layout path is empty")));
            }
            if let Some(t) = tag
                && t.is_empty()
            {
                return Err(CliError::invalid(format!(
                    "{s}: the tag after ':' is empty"
                )));
            }
            return Ok(ImageName::Oci {
                path: path.to_string(),
                tag: tag.map(str::to_string),
            });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (path, selector) = match rest.split_once(':') {
                Some((p, r)) => (p, Some(r.to_string())),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(CliError::invalid(format!("{s}: the archive path is empty")));
            }
            return Ok(ImageName::Archive {
                path: path.to_string(),
                selector,
            });
        }
        let r = s.strip_prefix("docker://").unwrap_or(s);
        Reference::parse_normalized(r)
            .map(ImageName::Registry)
            .map_err(|e| CliError::invalid(format!("{r}: {e}")))
    }

    /// The registry reference, when this is one.
    pub fn reference(&self) -> Option<&Reference> {
        match self {
            ImageName::Registry(r) => Some(r),
            _ => None,
        }
    }
}

/// Opens images for reading and writing with one shared client and store.
pub struct Opener {
    /// The registry client.
    pub client: Client,
    /// The content store.
    pub store: Store,
}

impl Opener {
    /// An image source.
    pub fn source(&self, name: &ImageName) -> CliResult<Box<dyn Source>> {
        Ok(match name {
            ImageName::Registry(r) => Box::new(self.remote(r)),
            ImageName::Oci { path, tag } => Box::new(Layout::new(path, tag.clone())),
            ImageName::Archive { path, selector } => {
                let spec = match selector {
                    Some(s) => format!("{path}:{s}"),
                    None => path.clone(),
                };
                Box::new(DockerArchive::parse(&spec)?)
            }
        })
    }

    /// A registry image.
    pub fn remote(&self, r: &Reference) -> Remote {
        Remote::new(&self.client, r.clone()).with_store(self.store.clone())
    }

    /// An image sink.
    pub fn sink(&self, name: &ImageName) -> CliResult<Box<dyn Sink>> {
        Ok(match name {
            ImageName::Registry(r) => Box::new(self.remote(r)),
            ImageName::Oci { path, tag } => Box::new(Layout::new(path, tag.clone())),
            ImageName::Archive { path, selector } => {
                let reference = match selector {
                    Some(s) if s.starts_with('@') => {
                        return Err(CliError::invalid(format!(
                            "docker-archive:{path}:{s}: @N selects an image to read; name the \
                             image to write as docker-archive:{path}:NAME[:TAG]"
                        )));
                    }
                    Some(s) => Some(Reference::parse_normalized(s)?),
                    None => None,
                };
                Box::new(DockerArchive::writer(path, reference)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert!(matches!(
            ImageName::parse("oci:./out:v1").unwrap(),
            ImageName::Oci { path, tag: Some(t) } if path == "./out" && t == "v1"
        ));
        assert!(matches!(
            ImageName::parse("oci:/a/b").unwrap(),
            ImageName::Oci { path, tag: None } if path == "/a/b"
        ));
        assert!(matches!(
            ImageName::parse("docker-archive:x.tar:debian:12").unwrap(),
            ImageName::Archive { path, selector: Some(s) } if path == "x.tar" && s == "debian:12"
        ));
        let ImageName::Registry(r) = ImageName::parse("docker://python:3.12").unwrap() else {
            panic!()
        };
        assert_eq!(r.to_string(), "docker.io/library/python:3.12");
        assert!(ImageName::parse("oci:").is_err());
        assert!(ImageName::parse("oci:dir:").is_err());
        assert!(ImageName::parse("Not A Ref").is_err());
    }
}
