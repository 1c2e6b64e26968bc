//! Several images side by side: one column per image, one row per fact, every fact taken from
//! the images' inspect [`Report`]s (no second cataloger).
//!
//! [`compare`] builds a [`Comparison`]; its JSON form is the documented `plinth compare --json`
//! schema (`docs/compare-json.md`).

use serde::Serialize;

use crate::catalog::{LibcKind, Support};
use crate::report::Report;

/// The version of the JSON schema; raised on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Images side by side.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// One column per image, in the order given.
    pub images: Vec<Column>,
    /// One row per fact.
    pub rows: Vec<Row>,
}

/// What identifies one image of a comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// The reference as given (normalized for registries).
    pub reference: String,
    /// The platform manifest's digest.
    pub manifest_digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
}

/// The unit of a row's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A size in bytes.
    Bytes,
    /// A count.
    Count,
    /// Text (a version, a name) or a list of names.
    Text,
}

/// One fact about each image.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// A stable identifier (`compressed_size`, `libc`, …; listed in `docs/compare-json.md`).
    pub id: &'static str,
    /// The section the row belongs to (`size`, `os`, `packages`, `tools`, `security`).
    pub group: &'static str,
    /// What people read (`compressed size`).
    pub label: &'static str,
    /// The unit of [`Row::values`].
    pub unit: Unit,
    /// One value per image, in column order.
    pub values: Vec<Fact>,
    /// Whether the values are not all equal.
    pub differs: bool,
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Fact {
    /// A number (bytes or a count, as the row's unit says).
    Number(u64),
    /// A text.
    Text(String),
    /// A list of names (empty: none).
    List(Vec<String>),
    /// Nothing there (no OS release, no libc): `null` in JSON.
    Absent,
}

impl Fact {
    fn text(s: Option<String>) -> Fact {
        s.filter(|s| !s.is_empty()).map_or(Fact::Absent, Fact::Text)
    }
}

fn row(id: &'static str, group: &'static str, label: &'static str, unit: Unit) -> Row {
    Row {
        id,
        group,
        label,
        unit,
        values: Vec::new(),
        differs: false,
    }
}

/// The name of a support verdict as the rows spell it.
pub fn support_name(s: Support) -> &'static str {
    match s {
        Support::Supported => "supported",
        Support::Extended => "extended support",
        Support::EndOfLife => "end of life",
        Support::Rolling => "rolling",
        Support::Unknown => "unknown",
    }
}

/// Layers at the start of `b` that `a` has too, in the same order (by diff_id, else digest).
pub fn shared_prefix(a: &Report, b: &Report) -> usize {
    let key = |l: &crate::report::LayerInfo| {
        l.diff_id
            .as_ref()
            .map_or_else(|| l.digest.to_string(), |d| d.to_string())
    };
    a.image
        .layers
        .iter()
        .zip(&b.image.layers)
        .take_while(|(x, y)| key(x) == key(y))
        .count()
}

/// The facts of every report, side by side.
pub fn compare(reports: &[Report]) -> Comparison {
    type Get = fn(&Report, &Report) -> Fact;
    let specs: Vec<(Row, Get)> = vec![
        (
            row("compressed_size", "size", "compressed size", Unit::Bytes),
            |r, _| Fact::Number(r.image.compressed_size),
        ),
        (
            row(
                "uncompressed_size",
                "size",
                "uncompressed size",
                Unit::Bytes,
            ),
            |r, _| Fact::Number(r.image.uncompressed_size),
        ),
        (row("layers", "size", "layers", Unit::Count), |r, _| {
            Fact::Number(r.image.layers.len() as u64)
        }),
        (
            row(
                "shared_layers",
                "size",
                "layers shared with the first",
                Unit::Count,
            ),
            |r, first| Fact::Number(shared_prefix(first, r) as u64),
        ),
        (row("files", "size", "paths", Unit::Count), |r, _| {
            Fact::Number(r.image.files as u64)
        }),
        (row("os", "os", "OS", Unit::Text), |r, _| {
            Fact::text(r.os.as_ref().map(|o| {
                o.release
                    .pretty_name
                    .clone()
                    .unwrap_or_else(|| o.release.id.clone())
            }))
        }),
        (row("os_support", "os", "support", Unit::Text), |r, _| {
            Fact::text(r.os.as_ref().map(|o| {
                let s = support_name(o.eol.status);
                match &o.eol.eol {
                    Some(d) => format!("{s} (EOL {d})"),
                    None => s.to_string(),
                }
            }))
        }),
        (row("libc", "os", "libc", Unit::Text), |r, _| {
            Fact::text(r.libc.as_ref().map(|l| {
                let k = match l.kind {
                    LibcKind::Glibc => "glibc",
                    LibcKind::Musl => "musl",
                };
                match &l.version {
                    Some(v) => format!("{k} {v}"),
                    None => k.to_string(),
                }
            }))
        }),
        (
            row(
                "package_managers",
                "packages",
                "package managers",
                Unit::Text,
            ),
            |r, _| {
                Fact::List(
                    r.package_managers
                        .iter()
                        .filter(|m| m.usable)
                        .map(|m| m.name.clone())
                        .collect(),
                )
            },
        ),
        (
            row("packages", "packages", "packages", Unit::Count),
            |r, _| Fact::Number(r.packages.count as u64),
        ),
        (
            row("package_bytes", "packages", "installed size", Unit::Bytes),
            |r, _| Fact::Number(r.packages.installed_size),
        ),
        (row("runtimes", "tools", "runtimes", Unit::Text), |r, _| {
            Fact::List(
                r.runtimes
                    .runtimes
                    .iter()
                    .map(|rt| match &rt.version {
                        Some(v) => format!("{} {v}", rt.name),
                        None => rt.name.clone(),
                    })
                    .collect(),
            )
        }),
        (row("shells", "tools", "shells", Unit::Text), |r, _| {
            Fact::List(r.tools.shells.iter().map(|t| t.name.clone()).collect())
        }),
        (row("tools", "tools", "tools", Unit::Text), |r, _| {
            Fact::List(r.tools.tools.iter().map(|t| t.name.clone()).collect())
        }),
        (
            row("toolchain", "tools", "compiler toolchain", Unit::Text),
            |r, _| Fact::List(r.tools.toolchain.iter().map(|t| t.name.clone()).collect()),
        ),
        (
            row("ca_bundle", "tools", "CA bundle", Unit::Text),
            |r, _| {
                Fact::text(r.tools.ca_bundle.as_ref().map(|c| match c.certificates {
                    Some(n) => format!("{n} certificates"),
                    None => c.path.clone(),
                }))
            },
        ),
        (row("tzdata", "tools", "tzdata", Unit::Text), |r, _| {
            Fact::text(r.tools.tzdata.as_ref().map(|t| match &t.version {
                Some(v) => format!("{v} ({} zones)", t.zones),
                None => format!("{} zones", t.zones),
            }))
        }),
        (
            row("user", "security", "default user", Unit::Text),
            |r, _| {
                let c = &r.config;
                Fact::Text(match (&c.user, c.runs_as_root) {
                    (None, _) => "root (unset)".to_string(),
                    (Some(u), true) if u == "root" || u == "0" => "root".to_string(),
                    (Some(u), true) => format!("{u} (uid 0)"),
                    (Some(u), false) => match &c.user_entry {
                        Some(e) => format!("{u} (uid {})", e.uid),
                        None => u.clone(),
                    },
                })
            },
        ),
        (row("users", "security", "users", Unit::Count), |r, _| {
            Fact::Number(r.users.users.len() as u64)
        }),
        (
            row(
                "login_users",
                "security",
                "users with a login shell",
                Unit::Count,
            ),
            |r, _| Fact::Number(r.users.users.iter().filter(|u| u.login).count() as u64),
        ),
        (
            row("setuid", "security", "setuid/setgid files", Unit::Count),
            |r, _| Fact::Number(r.permissions.setuid.len() as u64),
        ),
        (
            row(
                "world_writable",
                "security",
                "world-writable paths",
                Unit::Count,
            ),
            |r, _| Fact::Number(r.permissions.world_writable.len() as u64),
        ),
    ];
    let mut rows = Vec::with_capacity(specs.len());
    if let Some(first) = reports.first() {
        for (mut row, get) in specs {
            row.values = reports.iter().map(|r| get(r, first)).collect();
            row.differs = row.values.windows(2).any(|w| w[0] != w[1]);
            rows.push(row);
        }
    }
    Comparison {
        schema_version: SCHEMA_VERSION,
        images: reports
            .iter()
            .map(|r| Column {
                reference: r.image.reference.clone(),
                manifest_digest: r.image.manifest_digest.to_string(),
                platform: r.image.platform.clone(),
            })
            .collect(),
        rows,
    }
}

impl Comparison {
    /// The row `id`, if there is one.
    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }
}
