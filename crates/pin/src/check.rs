//! `check`: findings about base image references, with stable rule ids.
//!
//! | rule | severity | finding |
//! | --- | --- | --- |
//! | PL001 | warning | no tag, or the tag `latest`: the base changes under you |
//! | PL002 | warning | a tag without a digest: the tag can move between builds |
//! | PL003 | note | a digest without a tag: correct but hard to read and to update |
//! | PL004 | warning | stale digest: the tag now points elsewhere (with how old, when the image config says when it was built) |
//! | PL005 | error | the registry does not know the pinned digest |
//! | PL006 | error | `--platform` is not one of the platforms the digest serves |
//! | PL007 | error | the registry is not in the allow-list (`plinth.toml`, see [`crate::config`]) |
//! | PL008 | warning | an ARG used in `FROM` has no default (and no `--build-arg`) |
//! | PL009 | error | the reference does not match `plinth.lock` (`check --locked`) |
//! | PL010 | error | the reference is not a valid image reference |
//! | PL011 | error | the registry does not know the tag |
//!
//! PL004, PL005, PL006 and PL011 need the registry (`HEAD` requests; `GET`s only for the
//! index of a `--platform` check and the configs that date a stale digest); the others are
//! decided from the files alone. `check --locked` and `--offline` make no requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures::future::join_all;
use plinth_oci::Platform;
use serde::{Deserialize, Serialize};

use crate::config::CheckConfig;
use crate::error::{LookupError, PinError};
use crate::lock::Lockfile;
use crate::plan::{Freshness, freshness, site_platform};
use crate::resolve::Resolver;
use crate::sites::{FileRefs, Kind, Site};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Note,
    /// Should be fixed.
    Warning,
    /// Must be fixed.
    Error,
}

impl Severity {
    /// `note`, `warning` or `error` (also SARIF's `level`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The lowest severity that fails a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Errors only.
    Error,
    /// Warnings and errors (the default).
    Warning,
    /// Any finding.
    Note,
    /// Never fail on findings.
    Never,
}

impl FailOn {
    /// Whether a finding of `s` fails the check.
    pub fn fails(self, s: Severity) -> bool {
        match self {
            FailOn::Error => s >= Severity::Error,
            FailOn::Warning => s >= Severity::Warning,
            FailOn::Note => true,
            FailOn::Never => false,
        }
    }
}

/// A rule's id.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleId {
    PL001,
    PL002,
    PL003,
    PL004,
    PL005,
    PL006,
    PL007,
    PL008,
    PL009,
    PL010,
    PL011,
}

/// A rule's description.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// The id, e.g. `PL002`.
    pub id: RuleId,
    /// A short name in kebab case, e.g. `tag-without-digest`.
    pub name: &'static str,
    /// The default severity.
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
    /// How to fix it.
    pub help: &'static str,
}

/// Every rule, in id order.
pub const RULES: &[Rule] = &[
    Rule {
        id: RuleId::PL001,
        name: "floating-latest",
        severity: Severity::Warning,
        summary: "The base image has no tag or the tag `latest`.",
        help: "Name a version tag and pin it: `plinth pin --precise`.",
    },
    Rule {
        id: RuleId::PL002,
        name: "tag-without-digest",
        severity: Severity::Warning,
        summary: "The base image is named by a tag without a digest; the tag can move between builds.",
        help: "Pin it to the digest it points at now: `plinth pin`.",
    },
    Rule {
        id: RuleId::PL003,
        name: "digest-without-tag",
        severity: Severity::Note,
        summary: "The base image is pinned by digest without a tag; correct, but hard to read and to update.",
        help: "Write the tag before the digest (`name:tag@sha256:…`) so people and `plinth update` know what it tracks.",
    },
    Rule {
        id: RuleId::PL004,
        name: "stale-digest",
        severity: Severity::Warning,
        summary: "The pinned digest is no longer what the tag points at.",
        help: "Move the digest to the tag's current target: `plinth update`.",
    },
    Rule {
        id: RuleId::PL005,
        name: "unknown-digest",
        severity: Severity::Error,
        summary: "The registry does not have the pinned digest; the build will fail.",
        help: "Pin a digest the registry has: `plinth update` (or `plinth pin` after removing the digest).",
    },
    Rule {
        id: RuleId::PL006,
        name: "platform-mismatch",
        severity: Severity::Error,
        summary: "`--platform` names a platform the image does not provide.",
        help: "Use one of the platforms the image provides, or pin the index digest (`plinth pin`).",
    },
    Rule {
        id: RuleId::PL007,
        name: "registry-not-allowed",
        severity: Severity::Error,
        summary: "The base image comes from a registry outside the allow-list.",
        help: "Use an image from an allowed registry, or add the registry to `[check] allowed-registries` in plinth.toml.",
    },
    Rule {
        id: RuleId::PL008,
        name: "arg-without-default",
        severity: Severity::Warning,
        summary: "An ARG used in FROM has no default; the build depends on a `--build-arg` being given.",
        help: "Give the ARG a default value (`ARG NAME=value`) that names a pinned image.",
    },
    Rule {
        id: RuleId::PL009,
        name: "lock-mismatch",
        severity: Severity::Error,
        summary: "The reference does not match plinth.lock.",
        help: "Run `plinth lock` to record the current references, and commit plinth.lock.",
    },
    Rule {
        id: RuleId::PL010,
        name: "invalid-reference",
        severity: Severity::Error,
        summary: "The text is not a valid image reference.",
        help: "Write the reference as `[registry/]name[:tag][@digest]` in lowercase.",
    },
    Rule {
        id: RuleId::PL011,
        name: "unknown-tag",
        severity: Severity::Error,
        summary: "The registry does not know the tag.",
        help: "Use a tag the repository has (`plinth tags NAME` lists them).",
    },
];

impl RuleId {
    /// The rule's description.
    pub fn rule(self) -> &'static Rule {
        RULES
            .iter()
            .find(|r| r.id == self)
            .expect("every id has a rule")
    }

    /// `PL001` etc.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::PL001 => "PL001",
            RuleId::PL002 => "PL002",
            RuleId::PL003 => "PL003",
            RuleId::PL004 => "PL004",
            RuleId::PL005 => "PL005",
            RuleId::PL006 => "PL006",
            RuleId::PL007 => "PL007",
            RuleId::PL008 => "PL008",
            RuleId::PL009 => "PL009",
            RuleId::PL010 => "PL010",
            RuleId::PL011 => "PL011",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// Its severity.
    pub severity: Severity,
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
    /// Line of the end.
    pub end_line: usize,
    /// Column one past the end.
    pub end_col: usize,
    /// The reference as written, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// What a check found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Findings, by file and position.
    pub findings: Vec<Finding>,
    /// Lookups that failed for reasons other than "not found" (network, auth): the check
    /// could not decide these references.
    pub errors: Vec<PinError>,
    /// Files read.
    pub files: usize,
    /// Image references seen.
    pub references: usize,
}

impl CheckReport {
    /// Whether the findings fail the check at `threshold`.
    pub fn fails(&self, threshold: FailOn) -> bool {
        self.findings.iter().any(|f| threshold.fails(f.severity))
    }

    /// Count of findings per severity.
    pub fn counts(&self) -> BTreeMap<Severity, usize> {
        let mut m = BTreeMap::new();
        for f in &self.findings {
            *m.entry(f.severity).or_default() += 1;
        }
        m
    }
}

/// Options of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `[check]` of plinth.toml.
    pub config: CheckConfig,
    /// Make no registry requests (rules PL004, PL005, PL006, PL011 are skipped).
    pub offline: bool,
    /// Compare with this lockfile (`--locked`); implies `offline`.
    pub lock: Option<(Lockfile, PathBuf)>,
}

fn finding(
    f: &FileRefs,
    site: Option<&Site>,
    span: &plinth_dockerfile::Span,
    rule: RuleId,
    message: String,
) -> Finding {
    let r = rule.rule();
    Finding {
        rule,
        severity: r.severity,
        path: f.path.clone(),
        line: span.line,
        col: span.col,
        end_line: span.end_line,
        end_col: span.end_col,
        reference: site.map(|s| s.text.clone()),
        message,
        hint: r.help.to_string(),
    }
}

/// Checks `files`. Registry lookups (unless offline) run concurrently through `resolver`.
pub async fn check(
    files: &[FileRefs],
    resolver: Option<&Resolver>,
    opts: &CheckOptions,
) -> CheckReport {
    let mut report = CheckReport {
        files: files.len(),
        ..CheckReport::default()
    };
    let offline = opts.offline || opts.lock.is_some();
    let mut remote_jobs = Vec::new();
    for f in files {
        for u in &f.unset_args {
            let how = if u.declared {
                format!("ARG {} is used in FROM but has no default", u.name)
            } else {
                format!("{} is used in FROM but never declared with ARG", u.name)
            };
            report
                .findings
                .push(finding(f, None, &u.span, RuleId::PL008, how));
        }
        for site in &f.sites {
            if site.kind != Kind::Image {
                continue;
            }
            report.references += 1;
            let Some(r) = &site.reference else {
                // Empty from an unset ARG is PL008's; Kubernetes does not interpolate `$`.
                // A compose value that interpolates to nothing valid (or not at all: a required
                // variable is unset) is reported here.
                use crate::discover::FileKind;
                let unevaluated = site.uses_args
                    && match f.kind {
                        FileKind::Dockerfile => site.resolved.is_empty(),
                        FileKind::Compose => false,
                        FileKind::Kubernetes => true,
                    };
                if !unevaluated {
                    report.findings.push(finding(
                        f,
                        Some(site),
                        &site.span,
                        RuleId::PL010,
                        format!(
                            "{} is not a valid image reference: {}",
                            quote(&site.resolved),
                            site.invalid.as_deref().unwrap_or("invalid")
                        ),
                    ));
                }
                continue;
            };
            let shown = shown(site);
            match (r.tag(), r.digest()) {
                (None, None) => report.findings.push(finding(
                    f,
                    Some(site),
                    &site.span,
                    RuleId::PL001,
                    format!(
                        "{shown} has no tag: it means `latest`, whatever that is at build time"
                    ),
                )),
                (Some("latest"), None) => report.findings.push(finding(
                    f,
                    Some(site),
                    &site.span,
                    RuleId::PL001,
                    format!("{shown} uses the tag `latest`, whatever that is at build time"),
                )),
                (Some(t), None) => {
                    let mut found = finding(
                        f,
                        Some(site),
                        &site.span,
                        RuleId::PL002,
                        format!("{shown} is not pinned: the tag `{t}` can move between builds"),
                    );
                    if site.origin == crate::sites::Origin::Compose && site.uses_args {
                        // `plinth pin` leaves interpolated values alone.
                        found.hint = "The value comes from variables: put the digest in them \
                                      (`name:tag@sha256:…`); `plinth digest` prints it."
                            .into();
                    }
                    report.findings.push(found);
                }
                (None, Some(_)) => report.findings.push(finding(
                    f,
                    Some(site),
                    &site.span,
                    RuleId::PL003,
                    format!("{shown} has a digest but no tag"),
                )),
                (Some(_), Some(_)) => {}
            }
            if !opts.config.allows(&r.name()) {
                report.findings.push(finding(
                    f,
                    Some(site),
                    &site.span,
                    RuleId::PL007,
                    format!(
                        "{} is not in the allowed registries ({})",
                        r.name(),
                        opts.config.allowed_registries.join(", ")
                    ),
                ));
            }
            if !offline && let Some(resolver) = resolver {
                remote_jobs.push(remote_rules(resolver, f, site));
            }
        }
    }
    for result in join_all(remote_jobs).await {
        match result {
            Ok(found) => report.findings.extend(found),
            Err(e) => report.errors.push(e),
        }
    }
    if let Some((lock, lock_path)) = &opts.lock {
        report
            .findings
            .extend(crate::lock::compare(files, lock, lock_path));
    }
    report
        .findings
        .retain(|f| !opts.config.disable.contains(&f.rule));
    report
        .findings
        .sort_by(|a, b| (&a.path, a.line, a.col, a.rule).cmp(&(&b.path, b.line, b.col, b.rule)));
    report.findings.dedup();
    report
}

fn quote(s: &str) -> String {
    format!("`{s}`")
}

/// The reference for messages: as resolved, with the text as written when ARGs were used.
fn shown(site: &Site) -> String {
    if site.uses_args {
        format!("`{}` (from `{}`)", site.resolved, site.text)
    } else {
        format!("`{}`", site.resolved)
    }
}

fn lookup_error(f: &FileRefs, site: &Site, error: LookupError) -> PinError {
    PinError::Lookup {
        location: f.location(&site.span),
        reference: site.resolved.clone(),
        error,
    }
}

/// PL004, PL005, PL006, PL011 for one site.
async fn remote_rules(
    resolver: &Resolver,
    f: &FileRefs,
    site: &Site,
) -> Result<Vec<Finding>, PinError> {
    let r = site
        .reference
        .as_ref()
        .expect("image sites have references");
    let mut out = Vec::new();
    let shown = shown(site);
    // The head whose platforms a --platform must be among.
    let head = match (r.tag(), r.digest()) {
        (_, None) => match resolver.head(r).await {
            Ok(h) => h,
            Err(e) if e.is_not_found() => {
                out.push(finding(
                    f,
                    Some(site),
                    &site.span,
                    RuleId::PL011,
                    format!(
                        "{shown}: the registry does not know the tag `{}`",
                        r.tag_or_latest()
                    ),
                ));
                return Ok(out);
            }
            Err(e) => return Err(lookup_error(f, site, e)),
        },
        (None, Some(d)) => match resolver.head(r).await {
            Ok(h) => h,
            Err(e) if e.is_not_found() => {
                out.push(finding(
                    f,
                    Some(site),
                    &site.span,
                    RuleId::PL005,
                    format!("{shown}: the registry does not have {d}"),
                ));
                return Ok(out);
            }
            Err(e) => return Err(lookup_error(f, site, e)),
        },
        (Some(tag), Some(d)) => {
            let platform = site_platform(site);
            match freshness(resolver, r, platform.as_ref()).await {
                // The digest's own HEAD is needed only to check a --platform against it.
                Ok((_, Freshness::Current)) if platform.is_none() => return Ok(out),
                Ok((_, Freshness::Current)) => match resolver.head(&r.without_tag()).await {
                    Ok(h) => h,
                    Err(e) => return Err(lookup_error(f, site, e)),
                },
                Ok((_, Freshness::Unknown { .. })) => {
                    out.push(finding(
                        f,
                        Some(site),
                        &site.span,
                        RuleId::PL005,
                        format!("{shown}: the registry does not have {d}"),
                    ));
                    return Ok(out);
                }
                Ok((
                    _,
                    Freshness::Stale {
                        current,
                        old,
                        new,
                        platform: p,
                    },
                )) => {
                    let tag_ref = r.without_digest();
                    let age = age_note(
                        resolver,
                        r,
                        &tag_ref,
                        &old,
                        &current,
                        p.as_ref().or(platform.as_ref()),
                    )
                    .await;
                    out.push(finding(
                        f,
                        Some(site),
                        &site.span,
                        RuleId::PL004,
                        format!("{shown} is stale: `{tag}` now points at {new}{age}",),
                    ));
                    old
                }
                Err(e) if e.is_not_found() => {
                    out.push(finding(
                        f,
                        Some(site),
                        &site.span,
                        RuleId::PL011,
                        format!("{shown}: the registry does not know the tag `{tag}` ({e})"),
                    ));
                    return Ok(out);
                }
                Err(e) => return Err(lookup_error(f, site, e)),
            }
        }
    };
    if let Some(p) = site_platform(site) {
        let platforms = resolver
            .platforms(r, &head)
            .await
            .map_err(|e| lookup_error(f, site, e))?;
        if p.best_match(platforms.iter().map(|(q, d)| (q, d)))
            .is_none()
        {
            let list: Vec<String> = platforms.iter().map(|(q, _)| q.to_string()).collect();
            out.push(finding(
                f,
                Some(site),
                &site.span,
                RuleId::PL006,
                format!(
                    "--platform={p}, but {} {} provides only {}",
                    shown,
                    head.digest,
                    if list.is_empty() {
                        "no platform".into()
                    } else {
                        list.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(out)
}

/// `; the pinned image was built 2023-11-14, 79 days before the current one` when the
/// configs say when they were built.
async fn age_note(
    resolver: &Resolver,
    pinned_ref: &plinth_reference::Reference,
    tag_ref: &plinth_reference::Reference,
    old: &crate::resolve::Head,
    current: &crate::resolve::Head,
    platform: Option<&Platform>,
) -> String {
    let by_digest = pinned_ref.without_tag();
    let (a, b) = futures::join!(
        resolver.created(&by_digest, old, platform),
        resolver.created(tag_ref, current, platform)
    );
    let (Ok(Some(a)), Ok(b)) = (a, b) else {
        return String::new();
    };
    let Some(ta) = rfc3339_seconds(&a) else {
        return String::new();
    };
    let day = &a[..10.min(a.len())];
    match b.as_deref().and_then(rfc3339_seconds) {
        Some(tb) if tb > ta => {
            let days = (tb - ta) / 86_400;
            format!(
                "; the pinned image was built {day}, {} before the current one",
                plural_days(days)
            )
        }
        _ => format!("; the pinned image was built {day}"),
    }
}

fn plural_days(d: i64) -> String {
    match d {
        0 => "less than a day".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// Seconds since the epoch of an RFC 3339 time (`2023-11-14T22:13:20.5Z`, `…+02:00`).
pub fn rfc3339_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let v = o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// The check as SARIF 2.1.0 (one run, every rule described, one result per finding).
/// Paths are written relative to `base` when they are below it.
pub fn sarif(report: &CheckReport, base: &Path) -> serde_json::Value {
    use serde_json::json;
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id.as_str(),
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "help": { "text": r.help },
                "defaultConfiguration": { "level": r.severity.as_str() },
            })
        })
        .collect();
    let mut artifacts: BTreeSet<String> = BTreeSet::new();
    let results: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            let uri = crate::lock::relative_uri(base, &f.path);
            artifacts.insert(uri.clone());
            let index = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
            json!({
                "ruleId": f.rule.as_str(),
                "ruleIndex": index,
                "level": f.severity.as_str(),
                "message": { "text": format!("{} {}", f.message, f.hint) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" },
                        "region": {
                            "startLine": f.line.max(1),
                            "startColumn": f.col.max(1),
                            "endLine": f.end_line.max(f.line).max(1),
                            "endColumn": f.end_col.max(1),
                        }
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "plinth",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/plinth-dev/plinth",
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_seconds("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            rfc3339_seconds("2023-11-14T23:13:20.123456789+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(rfc3339_seconds("yesterday"), None);
    }

    #[tokio::test]
    async fn offline_findings() {
        let src = "ARG NODEF\nARG BASE=python:3.12\nFROM python\nFROM ${BASE} AS b\n\
                   FROM quay.io/org/app:1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\
                   FROM python@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n\
                   FROM ${NODEF}\nFROM node:latest\nCOPY --from=b /a /b\nFROM Bad:1\nFROM scratch\n";
        let f = crate::sites::extract(
            Path::new("Dockerfile"),
            crate::discover::FileKind::Dockerfile,
            src.into(),
            &Default::default(),
        )
        .unwrap()
        .unwrap();
        let opts = CheckOptions {
            config: CheckConfig {
                allowed_registries: vec!["docker.io".into()],
                ..Default::default()
            },
            offline: true,
            lock: None,
        };
        let report = check(&[f], None, &opts).await;
        let lines: Vec<String> = report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{}: {}[{}]: {}",
                    f.path.display(),
                    f.line,
                    f.col,
                    f.severity.as_str(),
                    f.rule.as_str(),
                    f.message
                )
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
        assert!(report.fails(FailOn::Warning));
        assert!(report.fails(FailOn::Error));
        assert!(!report.fails(FailOn::Never));
        let sarif = sarif(&report, Path::new("."));
        assert_eq!(
            sarif["runs"][0]["results"].as_array().unwrap().len(),
            lines.len()
        );
    }

    #[test]
    fn rules_are_complete() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id.as_str(), format!("PL{:03}", i + 1));
            assert_eq!(r.id.rule().name, r.name);
        }
    }
}
