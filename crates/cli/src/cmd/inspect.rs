//! `plinth inspect`: what a base image provides, read straight from its layers.

use std::fmt::Write as _;

use plinth_inspect::catalog::Support;
use plinth_inspect::report::{ImageInput, Level, Report};
use plinth_oci::Platform;

use crate::Global;
use crate::cmd::ls::Opened;
use crate::error::{CliError, CliResult};
use crate::image::ImageName;

/// Arguments of `inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image: a registry reference, `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`.
    image: String,
    /// The platform to pick from an index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// The report as JSON (schema: docs/inspect-json.md).
    #[arg(long)]
    json: bool,
    /// List every package (the human report shows the ten largest).
    #[arg(long)]
    packages: bool,
    /// Judge end of life on this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<String>,
}

pub(crate) fn parse_date(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a YYYY-MM-DD date"))
    }
}

/// Reads an image and builds its report: the platform manifest (from an index when the name
/// names one), the config, the layers once (only the files the catalogers need kept).
pub async fn build_report(
    g: &Global,
    image: &str,
    platform: Option<&Platform>,
    as_of: Option<&str>,
) -> CliResult<Report> {
    let opened = crate::cmd::ls::open(g, image, platform).await?;
    let fs = opened.read(&plinth_inspect::request()).await?;
    Ok(report_of(opened, image, fs, as_of).await?.0)
}

/// The report of an opened image whose filesystem was read with (at least) the catalogers'
/// request; the filesystem is handed back for callers that look further.
pub async fn report_of(
    opened: Opened,
    image: &str,
    fs: plinth_fs::MergedFs,
    as_of: Option<&str>,
) -> CliResult<(Report, plinth_fs::MergedFs)> {
    let reference = match &opened.name {
        ImageName::Registry(r) => r.to_string(),
        _ => image.to_string(),
    };
    let Opened {
        index_digest,
        raw,
        config,
        ..
    } = opened;
    let as_of = as_of
        .map(str::to_string)
        .unwrap_or_else(plinth_inspect::catalog::eol::today);
    // The catalogers walk every path: CPU work, off the reactor.
    tokio::task::spawn_blocking(move || {
        let input = ImageInput {
            reference,
            index_digest,
            manifest: &raw,
            config: &config,
        };
        let report = plinth_inspect::build(&input, &fs, &as_of);
        (report, fs)
    })
    .await
    .map_err(|e| CliError::invalid(format!("inspect failed: {e}")))
}

/// Runs `inspect`.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let report = build_report(g, &a.image, a.platform.as_ref(), a.as_of.as_deref()).await?;
    if a.json {
        return crate::print_json(&report);
    }
    let text = render(&report, a.packages);
    write_stdout(text.as_bytes())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> CliResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError {
            code: crate::error::exit::IO,
            message: format!("writing to stdout: {e}"),
        }),
    }
}

use crate::table::{Align, Style, Table, bytes as size, one_line};

fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

fn argv(v: &Option<Vec<String>>) -> String {
    match v {
        None => "-".into(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// The human report.
pub fn render(r: &Report, all_packages: bool) -> String {
    let mut o = String::new();
    let i = &r.image;
    let _ = writeln!(o, "Image       {}", i.reference);
    if let Some(d) = &i.index_digest {
        let _ = writeln!(o, "  index     {d}");
    }
    let _ = writeln!(o, "  manifest  {}", i.manifest_digest);
    let _ = writeln!(o, "  platform  {}", i.platform);
    let _ = writeln!(o, "  created   {}", or_dash(i.created.as_deref()));
    let _ = writeln!(
        o,
        "  size      {} compressed, {} uncompressed, {} paths",
        size(i.compressed_size),
        size(i.uncompressed_size),
        i.files
    );
    let _ = writeln!(o, "  layers");
    let mut t = Table::new(&[
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Left,
    ]);
    for l in &i.layers {
        t.row(
            Style::Plain,
            [
                l.index.to_string(),
                size(l.compressed_size),
                size(l.uncompressed_size),
                format!("+{}", l.added),
                format!("~{}", l.changed),
                format!("-{}", l.removed),
                one_line(or_dash(l.created_by.as_deref()), 70),
            ],
        );
    }
    o.push_str(&t.render(4, false));
    if !i.empty_layer_history.is_empty() {
        let _ = writeln!(o, "  history without a layer");
        for h in &i.empty_layer_history {
            let _ = writeln!(
                o,
                "        {}",
                one_line(or_dash(h.created_by.as_deref()), 90)
            );
        }
    }
    if let Some(n) = &i.history_note {
        let _ = writeln!(o, "  note      {n}");
    }

    let c = &r.config;
    let _ = writeln!(o, "\nConfig");
    let user = match (&c.user, c.runs_as_root) {
        (None, _) => "(unset) → root".to_string(),
        (Some(u), true) => format!("{u} (root)"),
        (Some(u), false) => match &c.user_entry {
            Some(e) => format!("{u} (uid {})", e.uid),
            None => u.clone(),
        },
    };
    let _ = writeln!(o, "  user        {user}");
    let _ = writeln!(o, "  entrypoint  {}", argv(&c.entrypoint));
    let _ = writeln!(o, "  cmd         {}", argv(&c.cmd));
    let _ = writeln!(o, "  workdir     {}", or_dash(c.working_dir.as_deref()));
    for (n, e) in c.env.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {}  {e}",
            if n == 0 { "env       " } else { "          " }
        );
    }
    if !c.exposed_ports.is_empty() {
        let _ = writeln!(o, "  ports       {}", c.exposed_ports.join(", "));
    }
    if !c.volumes.is_empty() {
        let _ = writeln!(o, "  volumes     {}", c.volumes.join(", "));
    }
    for (k, v) in &c.labels {
        let _ = writeln!(o, "  label       {k}={}", one_line(v, 80));
    }
    if let Some(s) = &c.stop_signal {
        let _ = writeln!(o, "  stopsignal  {s}");
    }
    if let Some(h) = &c.healthcheck {
        let _ = writeln!(o, "  healthcheck {}", one_line(&h.to_string(), 90));
    }
    if let Some(b) = &c.base {
        let _ = writeln!(
            o,
            "  base        {}{} (from {})",
            or_dash(b.name.as_deref()),
            b.digest
                .as_deref()
                .map(|d| format!("@{d}"))
                .unwrap_or_default(),
            b.from
        );
    }

    let _ = writeln!(o);
    match &r.os {
        None => {
            let _ = writeln!(o, "OS          none (no os-release: scratch-like)");
        }
        Some(os) => {
            let rel = &os.release;
            let _ = writeln!(
                o,
                "OS          {} [{}{}{}]",
                rel.pretty_name.as_deref().unwrap_or(&rel.id),
                rel.id,
                rel.version_id
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                rel.codename
                    .as_deref()
                    .map(|v| format!(", {v}"))
                    .unwrap_or_default(),
            );
            let e = &os.eol;
            let verdict = match e.status {
                Support::Supported => format!("supported until {}", or_dash(e.eol.as_deref())),
                Support::Extended => format!(
                    "PAST REGULAR SUPPORT ({}); extended support until {}",
                    or_dash(e.eol.as_deref()),
                    or_dash(e.extended_eol.as_deref())
                ),
                Support::EndOfLife => format!(
                    "END OF LIFE since {}",
                    or_dash(e.extended_eol.as_deref().or(e.eol.as_deref()))
                ),
                Support::Rolling => "rolling release (no end of life)".into(),
                Support::Unknown => "unknown to plinth's table".into(),
            };
            let _ = writeln!(
                o,
                "  support   {verdict} (as of {}; table of {})",
                e.as_of, e.table_date
            );
        }
    }
    match &r.libc {
        None => {
            let _ = writeln!(o, "libc        none");
        }
        Some(l) => {
            let _ = writeln!(
                o,
                "libc        {} {} ({}{})",
                match l.kind {
                    plinth_inspect::catalog::LibcKind::Glibc => "glibc",
                    plinth_inspect::catalog::LibcKind::Musl => "musl",
                },
                or_dash(l.version.as_deref()),
                l.path,
                l.build
                    .as_deref()
                    .map(|b| format!("; {b}"))
                    .unwrap_or_default()
            );
        }
    }

    let p = &r.packages;
    let _ = writeln!(
        o,
        "\nPackages    {} installed, {}",
        p.count,
        size(p.installed_size)
    );
    for db in &p.databases {
        let _ = writeln!(
            o,
            "  database  {} ({:?}): {}{}",
            db.path,
            db.kind,
            if db.read {
                format!("{} packages", db.packages)
            } else {
                "NOT READ".into()
            },
            db.note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
    }
    let managers: Vec<String> = r
        .package_managers
        .iter()
        .map(|m| {
            format!(
                "{}{}",
                m.name,
                if m.usable {
                    String::new()
                } else {
                    format!(" (not usable: {})", or_dash(m.note.as_deref()))
                }
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "  managers  {}",
        if managers.is_empty() {
            "none".to_string()
        } else {
            managers.join(", ")
        }
    );
    let mut list: Vec<&plinth_inspect::catalog::Package> = p.list.iter().collect();
    if !all_packages {
        list.sort_by_key(|p| std::cmp::Reverse(p.installed_size.unwrap_or(0)));
        list.truncate(10);
        if !list.is_empty() {
            let _ = writeln!(o, "  largest (all with --packages)");
        }
    }
    for pk in list {
        let _ = writeln!(
            o,
            "    {:<32} {:<30} {:<8} {:>9}{}",
            pk.name,
            pk.version,
            pk.arch.as_deref().unwrap_or(""),
            pk.installed_size.map(size).unwrap_or_default(),
            pk.source
                .as_deref()
                .map(|s| format!("  (source {s})"))
                .unwrap_or_default()
        );
    }

    let _ = writeln!(o, "\nRuntimes");
    if r.runtimes.runtimes.is_empty() {
        let _ = writeln!(o, "  none found");
    }
    for rt in &r.runtimes.runtimes {
        let env = rt
            .env
            .as_ref()
            .map(|e| {
                format!(
                    "  [{}={} {}]",
                    e.var,
                    e.value,
                    if e.agrees { "agrees" } else { "DISAGREES" }
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {:<7} {:<12} {}{}{}",
            rt.name,
            or_dash(rt.version.as_deref()),
            rt.path,
            rt.package
                .as_deref()
                .map(|p| format!("  (package {p})"))
                .unwrap_or_default(),
            env
        );
    }
    for e in &r.runtimes.unmatched_env {
        let _ = writeln!(
            o,
            "  env {}={} names a runtime not found in the files",
            e.var, e.value
        );
    }

    let t = &r.tools;
    let tools = |list: &[plinth_inspect::catalog::tools::Tool]| -> String {
        if list.is_empty() {
            return "none".into();
        }
        list.iter()
            .map(|t| match (&t.target, &t.provided_by) {
                (_, Some(b)) => format!("{} ({b})", t.name),
                (Some(target), None) => format!("{} → {target}", t.name),
                (None, None) => t.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(o, "\nShells      {}", tools(&t.shells));
    let _ = writeln!(o, "Tools       {}", tools(&t.tools));
    let _ = writeln!(o, "Toolchain   {}", tools(&t.toolchain));
    if let Some(b) = &t.busybox {
        let _ = writeln!(
            o,
            "busybox     {} ({} applets): {}",
            b.path,
            b.applets.len(),
            one_line(&b.applets.join(" "), 200)
        );
    }
    let _ = writeln!(
        o,
        "CA bundle   {}",
        match &t.ca_bundle {
            None => "none".to_string(),
            Some(c) => format!(
                "{}{}",
                c.path,
                c.certificates
                    .map(|n| format!(" ({n} certificates)"))
                    .unwrap_or_default()
            ),
        }
    );
    let _ = writeln!(
        o,
        "tzdata      {}",
        match &t.tzdata {
            None => "none".to_string(),
            Some(z) => format!(
                "{} ({} zones) {}",
                or_dash(z.version.as_deref()),
                z.zones,
                z.path
            ),
        }
    );

    let u = &r.users;
    let logins: Vec<&str> = u
        .users
        .iter()
        .filter(|u| u.login)
        .map(|u| u.name.as_str())
        .collect();
    let _ = writeln!(
        o,
        "\nUsers       {} ({} with a login shell: {}), {} groups",
        u.users.len(),
        logins.len(),
        if logins.is_empty() {
            "-".to_string()
        } else {
            logins.join(", ")
        },
        u.groups.len()
    );
    let perms = &r.permissions;
    let _ = writeln!(o, "setuid/gid  {}", perms.setuid.len());
    for s in &perms.setuid {
        let _ = writeln!(o, "  {} {}", s.mode, s.path);
    }
    let _ = writeln!(
        o,
        "world-writable outside /tmp, /var/tmp: {}",
        perms.world_writable.len()
    );
    for w in perms.world_writable.iter().take(20) {
        let _ = writeln!(o, "  {} {}", w.mode, w.path);
    }
    if perms.world_writable.len() > 20 {
        let _ = writeln!(o, "  … (all with --json)");
    }

    let _ = writeln!(o, "\nFindings");
    if r.findings.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for f in &r.findings {
        let level = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        };
        let _ = writeln!(o, "  {level:<7} {}: {}", f.id, f.message);
    }
    o
}
