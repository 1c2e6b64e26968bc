//! `plinth digest`: what references resolve to, by HEAD requests, concurrently.

use futures::stream::{self, StreamExt};
use plinth_oci::{Digest, Platform};
use serde::Serialize;

use crate::Global;
use crate::error::{CliError, CliResult};
use crate::image::ImageName;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image references (registry, `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`).
    #[arg(required = true)]
    images: Vec<String>,
    /// The digest of this platform's manifest instead of the index's.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Resolved {
    reference: String,
    digest: Digest,
    media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<String>,
}

/// Resolves every reference (each once), with at most `--jobs` requests in flight.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let opener = g.opener()?;
    let names = a
        .images
        .iter()
        .map(|s| ImageName::parse(s).map(|n| (s.clone(), n)))
        .collect::<CliResult<Vec<_>>>()?;
    let platform = a.platform.clone();
    let results: Vec<CliResult<Resolved>> = stream::iter(names)
        .map(|(text, name)| {
            let opener = &opener;
            let platform = platform.clone();
            async move { resolve(opener, text, &name, platform.as_ref()).await }
        })
        .buffered(g.jobs.max(1))
        .collect()
        .await;
    let mut out = Vec::new();
    let mut errors: Vec<CliError> = Vec::new();
    for r in results {
        match r {
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
        }
    }
    if a.json {
        crate::print_json(&out)?;
    } else if out.len() == 1 && a.images.len() == 1 {
        println!("{}", out[0].digest);
    } else {
        for r in &out {
            println!("{}\t{}", r.reference, r.digest);
        }
    }
    // Every failure is reported; the exit code is the first one's.
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        n => {
            for e in &errors[1..] {
                eprintln!("plinth: {}", e.message);
            }
            let first = errors.remove(0);
            Err(CliError {
                code: first.code,
                message: format!("{} ({n} references failed)", first.message),
            })
        }
    }
}

async fn resolve(
    opener: &crate::image::Opener,
    text: String,
    name: &ImageName,
    platform: Option<&Platform>,
) -> CliResult<Resolved> {
    let (digest, media_type, size, root) = match name {
        ImageName::Registry(r) => {
            let remote = opener.remote(r);
            let head = remote.head().await?;
            if platform.is_none() {
                (head.digest, head.media_type, head.size, None)
            } else {
                // The index's bytes are needed to pick a platform (a single-platform image's,
                // to read its config's platform): one GET, by digest, cached.
                let desc = plinth_oci::Descriptor::new(
                    &head.media_type,
                    head.digest.clone(),
                    head.size.unwrap_or(0),
                );
                use plinth_oci::Source;
                let raw = if head.size.is_some() {
                    remote.manifest(&desc).await?
                } else {
                    remote.root().await?
                };
                (head.digest, head.media_type, head.size, Some(raw))
            }
        }
        other => {
            let src = opener.source(other)?;
            let raw = src.root().await?;
            (
                raw.digest().clone(),
                raw.media_type().to_string(),
                Some(raw.bytes().len() as u64),
                Some(raw),
            )
        }
    };
    let Some(platform) = platform else {
        return Ok(Resolved {
            reference: text,
            digest,
            media_type,
            size,
            platform: None,
        });
    };
    let raw = root.expect("fetched when a platform is asked");
    match raw.as_index() {
        Some(index) => {
            let d = index.find_platform(platform).ok_or_else(|| CliError {
                code: crate::error::exit::NOT_FOUND,
                message: format!(
                    "{text}: no manifest for platform {platform} (the index has: {})",
                    index
                        .platforms()
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
            Ok(Resolved {
                reference: text,
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
                size: Some(d.size),
                platform: d.platform.as_ref().map(|p| p.to_string()),
            })
        }
        None => {
            // Not an index: the image itself, when it is of the platform asked for.
            let image = raw.as_image().expect("a manifest that is not an index");
            let bytes = match name {
                ImageName::Registry(r) => opener.remote(r).blob_bytes(&image.config).await?,
                other => {
                    crate::cmd::manifest::read_blob(opener.source(other)?.as_ref(), &image.config)
                        .await?
                }
            };
            let have = plinth_oci::source::check_config_platform(&text, platform, &bytes)?;
            Ok(Resolved {
                reference: text,
                digest,
                media_type,
                size,
                platform: Some(have.to_string()),
            })
        }
    }
}
