//! The inspect report: what an image is (manifest, config, layers, history) and what its
//! filesystem provides (the catalogers), with findings worth a reader's attention.
//!
//! [`build`] assembles it from an image's manifest and config and its [`MergedFs`]; the JSON
//! form is plinth's documented `inspect --json` schema (`docs/inspect-json.md`,
//! [`SCHEMA_VERSION`]).

use std::collections::BTreeMap;

use plinth_fs::MergedFs;
use plinth_oci::{ConfigFile, Digest, RawManifest};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{self, Catalog, EolStatus, OsRelease, Support};

/// The version of the JSON schema; raised on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Where an image came from, as the caller resolved it.
#[derive(Clone, Debug)]
pub struct ImageInput<'a> {
    /// The reference as the user gave it, normalized (`docker.io/library/python:3.12-slim`,
    /// `oci:./dir:tag`).
    pub reference: String,
    /// The digest of the index the platform manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
    /// The platform manifest.
    pub manifest: &'a RawManifest,
    /// Its config.
    pub config: &'a ConfigFile,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that wrote it.
    pub generator: Generator,
    /// Manifest-level facts: digests, platform, sizes, layers, history.
    pub image: ImageSection,
    /// The runtime config.
    pub config: ConfigSection,
    /// The OS (`null`: no `os-release`, a scratch-like image).
    pub os: Option<OsSection>,
    /// The C library (`null`: none found).
    pub libc: Option<catalog::Libc>,
    /// Package databases and packages.
    pub packages: PackagesSection,
    /// Package manager binaries.
    pub package_managers: Vec<catalog::PackageManager>,
    /// Language runtimes.
    pub runtimes: catalog::Runtimes,
    /// Shells and tools.
    pub tools: catalog::Tools,
    /// Users and groups.
    pub users: catalog::Users,
    /// setuid/setgid and world-writable paths.
    pub permissions: catalog::Perms,
    /// Things worth attention, most severe first.
    pub findings: Vec<Finding>,
}

/// The tool that wrote a report.
#[derive(Clone, Debug, Serialize)]
pub struct Generator {
    /// `plinth`.
    pub name: String,
    /// plinth's version.
    pub version: String,
}

/// Manifest-level facts.
#[derive(Clone, Debug, Serialize)]
pub struct ImageSection {
    /// The reference as given.
    pub reference: String,
    /// The index digest, when the reference named an index.
    pub index_digest: Option<Digest>,
    /// The platform manifest's digest.
    pub manifest_digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The config blob's digest.
    pub config_digest: Digest,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// `created` from the config.
    pub created: Option<String>,
    /// `author` from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Sum of the layer blobs' sizes (what a pull transfers, config and manifest aside).
    pub compressed_size: u64,
    /// Sum of the uncompressed layer tars' sizes.
    pub uncompressed_size: u64,
    /// Paths in the merged filesystem (the root included).
    pub files: usize,
    /// The layers, base first.
    pub layers: Vec<LayerInfo>,
    /// History entries that made no layer (`ENV`, `CMD`, …).
    pub empty_layer_history: Vec<HistoryEntry>,
    /// Set when the history's non-empty entries do not match the layers one to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_note: Option<String>,
    /// The manifest's annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One layer.
#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    /// Position, 0 = base.
    pub index: usize,
    /// The blob digest.
    pub digest: Digest,
    /// The uncompressed tar's digest (config `rootfs.diff_ids`).
    pub diff_id: Option<Digest>,
    /// Media type.
    pub media_type: String,
    /// Blob size.
    pub compressed_size: u64,
    /// Tar size.
    pub uncompressed_size: u64,
    /// Paths this layer created.
    pub added: u64,
    /// Paths it replaced.
    pub changed: u64,
    /// Paths it removed (whiteouts, opaque directories).
    pub removed: u64,
    /// `created_by` of the history entry that made it.
    pub created_by: Option<String>,
    /// `created` of that history entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `comment` of that history entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A history entry.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry {
    /// Position in the config's history list.
    pub position: usize,
    /// `created_by`.
    pub created_by: Option<String>,
    /// `created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `comment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The runtime config.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigSection {
    /// `User` as written (`null` when unset: the container runs as root).
    pub user: Option<String>,
    /// The `/etc/passwd` entry `User` names, when there is one.
    pub user_entry: Option<catalog::users::User>,
    /// Whether the container runs as uid 0.
    pub runs_as_root: bool,
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Env`.
    pub env: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `ExposedPorts` keys (`8080/tcp`).
    pub exposed_ports: Vec<String>,
    /// `Volumes` keys.
    pub volumes: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `StopSignal`.
    pub stop_signal: Option<String>,
    /// `Healthcheck` as written (Docker configs).
    pub healthcheck: Option<Value>,
    /// `Shell` (Docker configs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// The base image, from `org.opencontainers.image.base.{name,digest}` (manifest
    /// annotations, else config labels).
    pub base: Option<BaseImage>,
}

/// The image this one was built on, as its annotations say.
#[derive(Clone, Debug, Serialize)]
pub struct BaseImage {
    /// `org.opencontainers.image.base.name`.
    pub name: Option<String>,
    /// `org.opencontainers.image.base.digest`.
    pub digest: Option<String>,
    /// `manifest annotations` or `config labels`.
    pub from: String,
}

/// The OS with its end-of-life verdict.
#[derive(Clone, Debug, Serialize)]
pub struct OsSection {
    /// From `os-release`.
    #[serde(flatten)]
    pub release: OsRelease,
    /// The verdict.
    pub eol: EolStatus,
}

/// Package databases and packages, with totals.
#[derive(Clone, Debug, Serialize)]
pub struct PackagesSection {
    /// Packages listed.
    pub count: usize,
    /// Sum of their installed sizes, in bytes.
    pub installed_size: u64,
    /// Databases found, read or not.
    pub databases: Vec<catalog::PackageDb>,
    /// The packages, sorted by name.
    pub list: Vec<catalog::Package>,
}

/// How much a finding matters (SARIF's levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Worth fixing.
    Error,
    /// Worth a look.
    Warning,
    /// For information.
    Note,
}

/// Something worth a reader's attention.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// A stable identifier (`user-root`, `os-eol`, …; listed in `docs/inspect-json.md`).
    pub id: String,
    /// Severity.
    pub level: Level,
    /// What and why, in one sentence.
    pub message: String,
}

fn finding(out: &mut Vec<Finding>, id: &str, level: Level, message: String) {
    out.push(Finding {
        id: id.to_string(),
        level,
        message,
    });
}

const BASE_NAME: &str = "org.opencontainers.image.base.name";
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Builds the report; `as_of` is the date (`YYYY-MM-DD`) end of life is judged on.
pub fn build(input: &ImageInput, fs: &MergedFs, as_of: &str) -> Report {
    let cfg = input.config;
    let rc = cfg.config.clone().unwrap_or_default();
    let env = rc.env.clone().unwrap_or_default();
    let cat = catalog::catalog(fs, &env, as_of);
    let image = image_section(input, fs);
    let config = config_section(input, &cat);
    let findings = findings(&image, &config, &cat);
    let Catalog {
        os,
        eol,
        libc,
        packages,
        package_managers,
        runtimes,
        tools,
        users,
        perms,
    } = cat;
    Report {
        schema_version: SCHEMA_VERSION,
        generator: Generator {
            name: "plinth".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        image,
        config,
        os: os.zip(eol).map(|(release, eol)| OsSection { release, eol }),
        libc,
        packages: PackagesSection {
            count: packages.packages.len(),
            installed_size: packages.installed_size(),
            databases: packages.databases,
            list: packages.packages,
        },
        package_managers,
        runtimes,
        tools,
        users,
        permissions: perms,
        findings,
    }
}

fn image_section(input: &ImageInput, fs: &MergedFs) -> ImageSection {
    let manifest = input
        .manifest
        .as_image()
        .expect("a platform manifest, not an index");
    let cfg = input.config;
    let summaries = fs.layers();
    let diff_ids = cfg.diff_ids();
    let mut layers: Vec<LayerInfo> = manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let s = summaries.get(i);
            LayerInfo {
                index: i,
                digest: d.digest.clone(),
                diff_id: s
                    .and_then(|s| s.diff_id.clone())
                    .or_else(|| diff_ids.get(i).cloned()),
                media_type: d.media_type.clone(),
                compressed_size: d.size,
                uncompressed_size: s.map_or(0, |s| s.uncompressed_size),
                added: s.map_or(0, |s| s.added),
                changed: s.map_or(0, |s| s.changed),
                removed: s.map_or(0, |s| s.removed),
                created_by: None,
                created: None,
                comment: None,
            }
        })
        .collect();
    let mut empty = Vec::new();
    let mut next = 0;
    let history = cfg.history.as_deref().unwrap_or(&[]);
    for (pos, h) in history.iter().enumerate() {
        if h.empty_layer == Some(true) {
            empty.push(HistoryEntry {
                position: pos,
                created_by: h.created_by.clone(),
                created: h.created.clone(),
                comment: h.comment.clone(),
            });
            continue;
        }
        if let Some(l) = layers.get_mut(next) {
            l.created_by = h.created_by.clone();
            l.created = h.created.clone();
            l.comment = h.comment.clone();
        }
        next += 1;
    }
    let history_note = (!history.is_empty() && next != layers.len()).then(|| {
        format!(
            "the config history has {next} entries that made a layer but the manifest has {} layers; \
             history lines are matched in order",
            layers.len()
        )
    });
    ImageSection {
        reference: input.reference.clone(),
        index_digest: input.index_digest.clone(),
        manifest_digest: input.manifest.digest().clone(),
        media_type: input.manifest.media_type().to_string(),
        config_digest: manifest.config.digest.clone(),
        platform: cfg.platform().to_string(),
        created: cfg.created.clone(),
        author: cfg.author.clone(),
        compressed_size: manifest.layers.iter().map(|l| l.size).sum(),
        uncompressed_size: layers.iter().map(|l| l.uncompressed_size).sum(),
        files: fs.len(),
        layers,
        empty_layer_history: empty,
        history_note,
        annotations: manifest.annotations.clone().unwrap_or_default(),
    }
}

fn config_section(input: &ImageInput, cat: &Catalog) -> ConfigSection {
    let rc = input.config.config.clone().unwrap_or_default();
    let user = rc.user.clone().filter(|u| !u.is_empty());
    let user_entry = user.as_deref().and_then(|u| cat.users.lookup(u)).cloned();
    let runs_as_root = match &user {
        None => true,
        Some(u) => {
            let name = u.split(':').next().unwrap_or(u);
            name == "root" || name == "0" || user_entry.as_ref().is_some_and(|e| e.uid == 0)
        }
    };
    let labels = rc.labels.clone().unwrap_or_default();
    let annotations = input
        .manifest
        .as_image()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let base = [
        ("manifest annotations", &annotations),
        ("config labels", &labels),
    ]
    .into_iter()
    .find(|(_, m)| m.contains_key(BASE_NAME) || m.contains_key(BASE_DIGEST))
    .map(|(from, m)| BaseImage {
        name: m.get(BASE_NAME).cloned(),
        digest: m.get(BASE_DIGEST).cloned(),
        from: from.to_string(),
    });
    let shell = rc
        .extra
        .get("Shell")
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok());
    ConfigSection {
        user_entry,
        runs_as_root,
        user,
        entrypoint: rc.entrypoint.clone(),
        cmd: rc.cmd.clone(),
        env: rc.env.clone().unwrap_or_default(),
        working_dir: rc.working_dir.clone().filter(|w| !w.is_empty()),
        exposed_ports: rc
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        volumes: rc
            .volumes
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        labels,
        stop_signal: rc.stop_signal.clone(),
        healthcheck: rc.extra.get("Healthcheck").cloned(),
        shell,
        base,
    }
}

fn findings(image: &ImageSection, config: &ConfigSection, cat: &Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    if config.runs_as_root {
        let msg = match &config.user {
            None => "no User is set: containers run as root (uid 0)".to_string(),
            Some(u) => format!("User is {u:?}: containers run as root (uid 0)"),
        };
        finding(&mut out, "user-root", Level::Warning, msg);
    } else if let Some(u) = &config.user
        && config.user_entry.is_none()
        && u.split(':')
            .next()
            .is_some_and(|n| n.parse::<u64>().is_err())
    {
        finding(
            &mut out,
            "user-unknown",
            Level::Warning,
            format!("User {u:?} is not in /etc/passwd: the container will not start"),
        );
    }
    match (&cat.os, &cat.eol) {
        (None, _) => finding(
            &mut out,
            "os-none",
            Level::Note,
            "no os-release: a scratch-like image without an identifiable OS".into(),
        ),
        (Some(os), Some(eol)) => {
            let name = os.pretty_name.clone().unwrap_or_else(|| os.purl_distro());
            match eol.status {
                Support::EndOfLife => finding(
                    &mut out,
                    "os-eol",
                    Level::Error,
                    format!(
                        "{name} is past end of life ({}; as of {}, table of {})",
                        eol.extended_eol
                            .as_deref()
                            .or(eol.eol.as_deref())
                            .unwrap_or("?"),
                        eol.as_of,
                        eol.table_date
                    ),
                ),
                Support::Extended => finding(
                    &mut out,
                    "os-extended-support",
                    Level::Warning,
                    format!(
                        "{name} is past regular support ({}) and only in extended support until {} (as of {}, table of {})",
                        eol.eol.as_deref().unwrap_or("?"),
                        eol.extended_eol.as_deref().unwrap_or("?"),
                        eol.as_of,
                        eol.table_date
                    ),
                ),
                Support::Unknown => finding(
                    &mut out,
                    "os-eol-unknown",
                    Level::Note,
                    format!(
                        "{name}: plinth's end-of-life table (of {}) does not know this release",
                        eol.table_date
                    ),
                ),
                Support::Supported | Support::Rolling => {}
            }
        }
        (Some(_), None) => {}
    }
    for db in &cat.packages.databases {
        if !db.read {
            finding(
                &mut out,
                "package-db-unread",
                Level::Warning,
                format!("{}: {}", db.path, db.note.as_deref().unwrap_or("not read")),
            );
        }
    }
    if cat.package_managers.iter().all(|m| !m.usable) && cat.os.is_some() {
        finding(
            &mut out,
            "no-package-manager",
            Level::Note,
            "no usable package manager: packages cannot be added in later build steps".into(),
        );
    }
    for r in &cat.runtimes.runtimes {
        if let Some(e) = &r.env
            && !e.agrees
        {
            finding(
                &mut out,
                "runtime-env-mismatch",
                Level::Warning,
                format!(
                    "{}={} disagrees with the {} found at {} ({})",
                    e.var,
                    e.value,
                    r.name,
                    r.path,
                    r.version.as_deref().unwrap_or("version unknown")
                ),
            );
        }
    }
    for e in &cat.runtimes.unmatched_env {
        finding(
            &mut out,
            "runtime-env-missing",
            Level::Warning,
            format!(
                "{}={} names a runtime that is not in the image's files",
                e.var, e.value
            ),
        );
    }
    if !cat.perms.world_writable.is_empty() {
        let n = cat.perms.world_writable.len();
        let first: Vec<&str> = cat
            .perms
            .world_writable
            .iter()
            .take(3)
            .map(|w| w.path.as_str())
            .collect();
        finding(
            &mut out,
            "world-writable",
            Level::Warning,
            format!(
                "{n} world-writable path{} outside /tmp and /var/tmp ({}{})",
                if n == 1 { "" } else { "s" },
                first.join(", "),
                if n > 3 { ", …" } else { "" }
            ),
        );
    }
    if !cat.perms.setuid.is_empty() {
        let n = cat.perms.setuid.len();
        finding(
            &mut out,
            "setuid",
            Level::Note,
            format!("{n} setuid/setgid file{}", if n == 1 { "" } else { "s" }),
        );
    }
    if let Some(note) = &image.history_note {
        finding(&mut out, "history-mismatch", Level::Note, note.clone());
    }
    out.sort_by_key(|f| f.level);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testfs::{exe, file, fs};
    use plinth_oci::manifest::History;
    use plinth_oci::{Descriptor, ImageManifest};

    fn digest(s: &str) -> Digest {
        Digest::sha256(s.as_bytes())
    }

    fn image(layers: usize, annotations: Option<BTreeMap<String, String>>) -> RawManifest {
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(plinth_oci::media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::new(plinth_oci::media::OCI_CONFIG, digest("config"), 10),
            layers: (0..layers)
                .map(|i| {
                    Descriptor::new(
                        plinth_oci::media::OCI_LAYER_GZIP,
                        digest(&i.to_string()),
                        100,
                    )
                })
                .collect(),
            subject: None,
            annotations,
            extra: Default::default(),
        };
        RawManifest::from_image(&m)
    }

    fn history(created_by: &str, empty: bool) -> History {
        History {
            created_by: Some(created_by.into()),
            empty_layer: empty.then_some(true),
            ..Default::default()
        }
    }

    #[test]
    fn history_pairs_with_layers_and_findings() {
        let raw = image(2, None);
        let mut labels = BTreeMap::new();
        labels.insert(
            BASE_NAME.to_string(),
            "docker.io/library/alpine:3.19".to_string(),
        );
        let config = ConfigFile {
            architecture: "amd64".into(),
            os: "linux".into(),
            config: Some(plinth_oci::manifest::ContainerConfig {
                user: Some("app".into()),
                labels: Some(labels),
                env: Some(vec!["NODE_VERSION=20.1.0".into()]),
                ..Default::default()
            }),
            history: Some(vec![
                history("ADD rootfs.tar /", false),
                history("ENV NODE_VERSION=20.1.0", true),
                history("RUN make", false),
                history("CMD [\"sh\"]", true),
            ]),
            ..Default::default()
        };
        let fs = fs(vec![
            file("/etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
            file(
                "/etc/passwd",
                "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            ),
            exe("/sbin/apk"),
        ]);
        let input = ImageInput {
            reference: "example.com/app:1".into(),
            index_digest: None,
            manifest: &raw,
            config: &config,
        };
        let r = build(&input, &fs, "2025-01-01");
        assert_eq!(
            r.image.layers[0].created_by.as_deref(),
            Some("ADD rootfs.tar /")
        );
        assert_eq!(r.image.layers[1].created_by.as_deref(), Some("RUN make"));
        assert_eq!(r.image.empty_layer_history.len(), 2);
        assert_eq!(r.image.empty_layer_history[1].position, 3);
        assert!(r.image.history_note.is_none());
        assert_eq!(r.image.compressed_size, 200);
        assert!(!r.config.runs_as_root);
        assert_eq!(r.config.user_entry.as_ref().unwrap().uid, 1000);
        let base = r.config.base.as_ref().unwrap();
        assert_eq!(base.from, "config labels");
        assert_eq!(base.name.as_deref(), Some("docker.io/library/alpine:3.19"));
        let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["runtime-env-missing"], "{:?}", r.findings);
        let os = r.os.as_ref().unwrap();
        assert_eq!(os.eol.status, Support::Supported);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["os"]["id"], "alpine");
        assert_eq!(json["os"]["eol"]["release"], "3.19");
        assert_eq!(json["package_managers"][0]["name"], "apk");

        // Three history entries for two layers: noted, paired in order.
        let mut odd = config.clone();
        odd.history
            .as_mut()
            .unwrap()
            .push(history("RUN more", false));
        odd.config.as_mut().unwrap().user = Some("0:0".into());
        let input = ImageInput {
            config: &odd,
            ..input
        };
        let r = build(&input, &fs, "2025-01-01");
        assert!(r.image.history_note.is_some());
        assert!(r.config.runs_as_root);
        let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
        assert!(ids.contains(&"user-root") && ids.contains(&"history-mismatch"));
    }
}
