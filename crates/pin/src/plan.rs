//! `pin` and `update`: what each reference should read, and the edits that make it so.
//!
//! * **pin** gives every image reference a digest: `python:3.12-slim` becomes
//!   `python:3.12-slim@sha256:<index digest>` — the tag kept for readability, the index
//!   digest so every platform still resolves, the name spelled as the user spelled it. A
//!   reference without tag gets `:latest` written out (that is what was resolved). Pinned
//!   references whose tag moved are refreshed; current ones are left alone, so pinning twice
//!   changes nothing.
//! * **update** refreshes pinned references only: the digest moves to the tag's current
//!   target. A reference pinned to one platform's manifest (not the index) stays pinned to
//!   that platform's manifest.
//! * **precise** (either command) also replaces a floating tag with the most precise tag that
//!   points at the same digest, keeping the variant suffix: `python:3.12-slim` →
//!   `python:3.12.7-slim`. The tags of the repository are listed once; candidates with the
//!   same prefix and suffix and a longer version are `HEAD`ed newest first, and the first
//!   that points at the same digest wins.
//!
//! `scratch`, stages and references with a digest but no tag are left alone. Where the text
//! uses ARGs the edit goes to the ARG's default. A file is rewritten only when every lookup
//! for it succeeded and the rewritten file, read again, names exactly the wanted references.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::future::join_all;
use plinth_dockerfile::ExpandOptions;
use plinth_oci::{Digest, Platform};
use plinth_reference::Reference;
use serde::Serialize;

use crate::error::{LookupError, PinError, Result};
use crate::resolve::{Head, Resolver};
use crate::sites::{FileRefs, Kind, Origin, Site};
use crate::text::{self, Edit};

/// Which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pin every reference (and refresh stale pins).
    Pin,
    /// Refresh pinned references only.
    Update,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Pin or update.
    pub mode: Mode,
    /// Also move floating tags to the most precise tag with the same digest.
    pub precise: bool,
    /// ARG expansion (for re-reading rewritten files).
    pub expand: ExpandOptions,
}

/// Why a reference changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A digest was added.
    Pinned,
    /// The digest moved to the tag's current target.
    Refreshed,
    /// Only the tag changed (to a more precise one).
    Precise,
}

/// One reference that changes.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `file:line:col` of the reference.
    pub location: String,
    /// The reference before.
    pub from: String,
    /// The reference after.
    pub to: String,
    /// The ARG whose default is rewritten, if the text itself is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Why.
    pub reason: Reason,
}

/// A reference left as it is, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    /// `file:line:col`.
    pub location: String,
    /// The text as written.
    pub text: String,
    /// Why.
    pub reason: String,
}

/// What happens to one file.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// The file.
    pub path: PathBuf,
    /// Its text now.
    pub old: String,
    /// Its new text; `None` when nothing changes or something failed.
    pub new: Option<String>,
    /// The references that change.
    pub changes: Vec<Change>,
    /// References left alone that a user may wonder about.
    pub skipped: Vec<Skip>,
    /// Failures; when any, the file is not changed.
    pub errors: Vec<PinError>,
}

impl FilePlan {
    /// A unified diff of the change (empty when none).
    pub fn diff(&self) -> String {
        match &self.new {
            Some(new) => text::unified_diff(&self.path.display().to_string(), &self.old, new),
            None => String::new(),
        }
    }

    /// Writes the new text (temp file and rename). Does nothing when nothing changes.
    pub fn write(&self) -> Result<bool> {
        let Some(new) = &self.new else {
            return Ok(false);
        };
        text::write_atomic(&self.path, new).map_err(|e| PinError::Io {
            path: self.path.clone(),
            message: format!("cannot write: {e}"),
        })?;
        Ok(true)
    }
}

/// How a pinned reference relates to its tag's current target.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per reference, short-lived
pub(crate) enum Freshness {
    /// The pinned digest is what the tag points at (or one of its index's manifests).
    Current,
    /// The tag moved. `new` is the digest to pin now (of the same kind as the old one).
    Stale {
        current: Head,
        old: Head,
        new: Digest,
        platform: Option<Platform>,
    },
    /// The registry does not know the pinned digest.
    Unknown { current: Head },
}

/// The tag's current target (`current`) and how the pinned digest relates to it.
pub(crate) async fn freshness(
    resolver: &Resolver,
    r: &Reference,
    site_platform: Option<&Platform>,
) -> std::result::Result<(Head, Freshness), LookupError> {
    let pinned = r.digest().unwrap_or_default().to_string();
    let tag_ref = r.without_digest().tag_name_only();
    let current = resolver.head(&tag_ref).await?;
    if current.digest.to_string() == pinned {
        return Ok((current, Freshness::Current));
    }
    let index = if current.is_index() {
        let raw = resolver.manifest(&tag_ref, &current).await?;
        if let Some(idx) = raw.as_index()
            && idx.manifests.iter().any(|d| d.digest.to_string() == pinned)
        {
            return Ok((current, Freshness::Current));
        }
        Some(raw)
    } else {
        None
    };
    let old = match resolver.head(&r.without_tag()).await {
        Ok(h) => h,
        Err(e) if e.is_not_found() => {
            return Ok((current.clone(), Freshness::Unknown { current }));
        }
        Err(e) => return Err(e),
    };
    // Same kind as before: a platform manifest stays a platform manifest.
    if !old.is_index()
        && let Some(index) = index.as_ref().and_then(|raw| raw.as_index())
    {
        let platform = match site_platform {
            Some(p) => p.clone(),
            None => {
                let raw = resolver.manifest(r, &old).await?;
                resolver.config(r, &raw).await?.platform().normalized()
            }
        };
        let d = index.find_platform(&platform).ok_or_else(|| LookupError {
            message: format!(
                "{} no longer has a manifest for {platform} (the pinned digest is that \
                 platform's manifest)",
                tag_ref.familiar()
            ),
            kind: plinth_oci::ErrorKind::NotFound,
        })?;
        return Ok((
            current.clone(),
            Freshness::Stale {
                new: d.digest.clone(),
                current,
                old,
                platform: Some(platform),
            },
        ));
    }
    Ok((
        current.clone(),
        Freshness::Stale {
            new: current.digest.clone(),
            current,
            old,
            platform: None,
        },
    ))
}

/// The most precise tag of `r`'s repository that refines `tag` and points at `digest`.
pub(crate) async fn precise_tag(
    resolver: &Resolver,
    r: &Reference,
    tag: &str,
    digest: &Digest,
) -> std::result::Result<Option<String>, LookupError> {
    if crate::tags::TagShape::parse(tag).is_none() {
        return Ok(None);
    }
    let all = resolver.tags(r).await?;
    for candidate in crate::tags::more_precise(tag, &all) {
        let Ok(cr) = r.without_digest().with_tag(candidate) else {
            continue;
        };
        match resolver.head(&cr).await {
            Ok(h) if &h.digest == digest => return Ok(Some(candidate.to_string())),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The fixed platform of a site (`--platform` without automatic ARGs), if any.
pub(crate) fn site_platform(site: &Site) -> Option<Platform> {
    if site.platform_automatic {
        return None;
    }
    site.platform
        .as_deref()
        .and_then(|p| Platform::parse(p).ok())
}

/// An interpolated compose value: checked and locked as it resolves, but never rewritten (the
/// variables decide it), so not looked up for pinning either.
fn compose_interpolated(site: &Site) -> bool {
    site.origin == Origin::Compose && site.uses_args
}

/// What one site should read, `Ok(None)` when it stays.
async fn decide(
    resolver: &Resolver,
    site: &Site,
    opts: &PlanOptions,
) -> std::result::Result<Option<(String, Reason)>, LookupError> {
    let Some(r) = &site.reference else {
        return Ok(None);
    };
    if compose_interpolated(site) {
        return Ok(None);
    }
    let (_, written_tag) = site.written_name_and_tag();
    match r.digest() {
        None => {
            if opts.mode == Mode::Update && !opts.precise {
                return Ok(None);
            }
            let head = resolver.head(r).await?;
            let mut tag = written_tag.unwrap_or("latest").to_string();
            if opts.precise
                && let Some(t) = precise_tag(resolver, r, &tag, &head.digest).await?
            {
                tag = t;
            }
            let digest = (opts.mode == Mode::Pin).then(|| head.digest.to_string());
            let reason = if digest.is_some() {
                Reason::Pinned
            } else {
                Reason::Precise
            };
            let to = site.spelled(
                if written_tag.is_some() || digest.is_some() {
                    Some(&tag)
                } else {
                    None
                },
                digest.as_deref(),
            );
            Ok((to != site.resolved).then_some((to, reason)))
        }
        Some(pinned) => {
            let Some(tag) = written_tag else {
                return Ok(None);
            };
            let (current, fresh) = freshness(resolver, r, site_platform(site).as_ref()).await?;
            let (digest, reason) = match fresh {
                Freshness::Current => (pinned.to_string(), Reason::Precise),
                Freshness::Stale { new, .. } => (new.to_string(), Reason::Refreshed),
                Freshness::Unknown { current } => (current.digest.to_string(), Reason::Refreshed),
            };
            let mut tag = tag.to_string();
            if opts.precise
                && let Some(t) = precise_tag(resolver, r, &tag, &current.digest).await?
            {
                tag = t;
            }
            let to = site.spelled(Some(&tag), Some(&digest));
            Ok((to != site.resolved).then_some((to, reason)))
        }
    }
}

/// Plans the changes to `files`: every lookup runs concurrently (bounded and deduplicated by
/// the resolver); then each file's edits are made and checked. Nothing is written.
pub async fn plan(files: &[FileRefs], resolver: &Resolver, opts: &PlanOptions) -> Vec<FilePlan> {
    let jobs = files.iter().flat_map(|f| {
        f.sites
            .iter()
            .filter(|s| s.kind == Kind::Image)
            .map(move |s| async move { decide(resolver, s, opts).await })
    });
    let mut answers = join_all(jobs).await.into_iter();
    files
        .iter()
        .map(|f| {
            let decided: Vec<_> = f
                .sites
                .iter()
                .enumerate()
                .filter(|(_, s)| s.kind == Kind::Image)
                .map(|(i, _)| (i, answers.next().expect("one answer per image site")))
                .collect();
            plan_file(f, decided, opts)
        })
        .collect()
}

type Decided = (
    usize,
    std::result::Result<Option<(String, Reason)>, LookupError>,
);

fn plan_file(f: &FileRefs, decided: Vec<Decided>, opts: &PlanOptions) -> FilePlan {
    let mut plan = FilePlan {
        path: f.path.clone(),
        old: f.text.clone(),
        new: None,
        changes: Vec::new(),
        skipped: Vec::new(),
        errors: Vec::new(),
    };
    let mut edits: Vec<(usize, Edit)> = Vec::new();
    let mut wanted = BTreeMap::new();
    for (i, answer) in decided {
        let site = &f.sites[i];
        let location = f.location(&site.span);
        if let Some(why) = &site.invalid {
            plan.skipped.push(Skip {
                location,
                text: site.text.clone(),
                reason: why.clone(),
            });
            continue;
        }
        if compose_interpolated(site) {
            plan.skipped.push(Skip {
                location,
                text: site.text.clone(),
                reason: "the value uses variable interpolation; pin the variables' values instead"
                    .into(),
            });
            continue;
        }
        match answer {
            Err(error) => plan.errors.push(PinError::Lookup {
                location,
                reference: site.resolved.clone(),
                error,
            }),
            Ok(None) => {
                if site.pinned() && site.written_name_and_tag().1.is_none() {
                    plan.skipped.push(Skip {
                        location,
                        text: site.text.clone(),
                        reason: "a digest without a tag cannot be refreshed".into(),
                    });
                }
            }
            Ok(Some((to, reason))) => match site.edit_to(&to) {
                Ok(edit) => {
                    wanted.insert(i, to.clone());
                    edits.push((i, edit));
                    plan.changes.push(Change {
                        location,
                        from: site.resolved.clone(),
                        to,
                        via: site.rewrite_via().map(str::to_string),
                        reason,
                    });
                }
                Err(message) => plan.errors.push(PinError::Rewrite { location, message }),
            },
        }
    }
    if !plan.errors.is_empty() || edits.is_empty() {
        plan.changes.clear();
        return plan;
    }
    // Several references ending in the same ARG default share one edit; they must agree.
    let mut by_span: BTreeMap<(usize, usize), (usize, Edit)> = BTreeMap::new();
    for (i, e) in edits {
        match by_span.get(&(e.start, e.end)) {
            Some((j, other)) if other.text != e.text => {
                plan.errors.push(PinError::Rewrite {
                    location: f.location(&f.sites[i].span),
                    message: format!(
                        "this reference and the one at line {} end in the same ARG default but \
                         need different values ({} and {}); give them separate ARGs",
                        f.sites[*j].span.line, e.text, other.text
                    ),
                });
            }
            Some(_) => {}
            None => {
                by_span.insert((e.start, e.end), (i, e));
            }
        }
    }
    let edits: Vec<Edit> = by_span.into_values().map(|(_, e)| e).collect();
    if plan.errors.is_empty() {
        let new = text::apply(&f.text, &edits);
        match crate::sites::verify_rewrite(f, &new, &wanted, &opts.expand) {
            Ok(()) => plan.new = Some(new),
            Err(e) => plan.errors.push(e),
        }
    }
    if !plan.errors.is_empty() {
        plan.changes.clear();
    }
    plan
}
