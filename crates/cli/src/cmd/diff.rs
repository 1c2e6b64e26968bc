//! `plinth diff A B`: what changed from image A to image B.

use plinth_fs::{ContentRequest, MergedFs};
use plinth_inspect::diff::{
    FileChangeKind, FsPair, ImageDiff, LayerRow, PackageChangeKind, text_diff, unhashed_shared,
};
use plinth_inspect::report::Report;
use plinth_oci::Platform;

use crate::Global;
use crate::cmd::ls::Opened;
use crate::error::{CliError, CliResult};
use crate::table::{Align, Style, Table, bytes, bytes_delta, one_line};

/// Examples shown by `plinth diff --help`.
const EXAMPLES: &str = "\
Examples:
  plinth diff python:3.12 python:3.12-slim            # what -slim drops
  plinth diff --files=/usr/lib app:1 app:2             # every path that changed below /usr/lib
  plinth diff --file /etc/os-release debian:12.5 debian:12.6
  plinth diff --exit-code --json oci:./a oci:./b       # exit 1 when they differ

JSON schema: docs/diff-json.md";

/// Arguments of `diff`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The old image.
    a: String,
    /// The new image.
    b: String,
    /// The platform to pick from indexes (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// Also list every path that differs (type, mode, owner, size, link, content hash), only
    /// below PREFIX when given.
    #[arg(long, value_name = "PREFIX", num_args = 0..=1, default_missing_value = "/")]
    files: Option<String>,
    /// Print a unified diff of this one text file.
    #[arg(long, value_name = "PATH")]
    file: Option<String>,
    /// The diff as JSON (schema: docs/diff-json.md).
    #[arg(long)]
    json: bool,
    /// Exit 1 when the images differ (like `git diff --exit-code`).
    #[arg(long)]
    exit_code: bool,
    /// Also write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// Judge end of life on this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = crate::cmd::inspect::parse_date)]
    as_of: Option<String>,
}

/// The leading layers two opened images share (by diff_id).
fn shared_layers(a: &Opened, b: &Opened) -> usize {
    a.config
        .diff_ids()
        .iter()
        .zip(b.config.diff_ids())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Reads both images with `req` (shared layers once) and builds their reports.
async fn read_both(
    g: &Global,
    a: &Args,
    req: impl Fn(&Opened, &Opened) -> ContentRequest,
) -> CliResult<[(Report, MergedFs); 2]> {
    let memo = plinth_fs::LayerMemo::new();
    let p = a.platform.as_ref();
    let (oa, ob) = tokio::try_join!(
        crate::cmd::ls::open_shared(g, &a.a, p, Some(memo.clone())),
        crate::cmd::ls::open_shared(g, &a.b, p, Some(memo.clone())),
    )?;
    let req = req(&oa, &ob);
    let (fa, fb) = tokio::try_join!(oa.read(&req), ob.read(&req))?;
    let as_of = a.as_of.as_deref();
    let (ra, rb) = tokio::try_join!(
        crate::cmd::inspect::report_of(oa, &a.a, fa, as_of),
        crate::cmd::inspect::report_of(ob, &a.b, fb, as_of),
    )?;
    Ok([ra, rb])
}

/// The content request of a diff: the catalogers' files, the `--file`, and with `--files`
/// content hashes for every layer that is not shared (`extra` adds shared ones).
fn request(a: &Args, oa: &Opened, ob: &Opened, extra: &[usize]) -> ContentRequest {
    let mut req = plinth_inspect::request();
    if let Some(f) = &a.file {
        req = req.merge(ContentRequest::new().path(f));
    }
    if a.files.is_some() {
        let shared = shared_layers(oa, ob);
        for o in [oa, ob] {
            for (i, l) in o.manifest.layers.iter().enumerate() {
                if i >= shared || extra.contains(&i) {
                    req = req.hash_files_of(&l.digest);
                }
            }
        }
    }
    req
}

/// Runs `diff`.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let [(mut ra, mut fa), (mut rb, mut fb)] =
        read_both(g, &a, |oa, ob| request(&a, oa, ob, &[])).await?;
    if let Some(prefix) = &a.files {
        let shared = plinth_inspect::compare::shared_prefix(&ra, &rb);
        let pair = FsPair {
            a: &fa,
            b: &fb,
            prefix,
        };
        // Files a shared layer wrote on one side and an own layer on the other, with the same
        // size: only their hashes can tell. Hash just those shared layers, then compare.
        let extra: Vec<usize> = unhashed_shared(&pair, shared).into_iter().collect();
        if !extra.is_empty() {
            [(ra, fa), (rb, fb)] = read_both(g, &a, |oa, ob| request(&a, oa, ob, &extra)).await?;
        }
    }
    let files = a.files.as_deref().map(|prefix| FsPair {
        a: &fa,
        b: &fb,
        prefix,
    });
    let d = plinth_inspect::diff::diff(&ra, &rb, files);
    let text = match &a.file {
        Some(path) => {
            let path = plinth_fs::normalize(path);
            let (ca, cb) = (fa.read(&path), fb.read(&path));
            if ca.is_none() && cb.is_none() {
                return Err(CliError {
                    code: crate::error::exit::NOT_FOUND,
                    message: format!("{path}: in neither image (or not a regular file)"),
                });
            }
            text_diff(&path, ca, cb)
        }
        None => None,
    };
    if let Some(path) = &a.html {
        crate::html::write(path, &crate::html::diff_page(&d, &ra, &rb))?;
    }
    let differs = d.differs || text.is_some();
    if a.json {
        let mut v = serde_json::to_value(&d).map_err(|e| CliError::invalid(e.to_string()))?;
        if let (Some(path), Some(obj)) = (&a.file, v.as_object_mut()) {
            obj.insert(
                "file".into(),
                serde_json::json!({ "path": plinth_fs::normalize(path), "unified_diff": text }),
            );
        }
        crate::print_json(&v)?;
    } else if a.file.is_some() {
        crate::cmd::inspect::write_stdout(text.unwrap_or_default().as_bytes())?;
    } else {
        crate::cmd::inspect::write_stdout(render(&d, crate::table::color_stdout()).as_bytes())?;
    }
    if a.exit_code && differs {
        return Err(CliError {
            code: 1,
            message: String::new(),
        });
    }
    Ok(())
}

fn layer_table(t: &mut Table, side: &str, rows: &[LayerRow]) {
    for l in rows {
        t.row(
            Style::Plain,
            [
                format!("{side}{}", l.index),
                bytes(l.compressed_size),
                bytes(l.uncompressed_size),
                one_line(l.created_by.as_deref().unwrap_or("-"), 80),
            ],
        );
    }
}

/// The human report.
pub fn render(d: &ImageDiff, color: bool) -> String {
    let mut o = String::new();
    o.push_str(&format!("--- {}  {}\n", d.a.reference, d.a.manifest_digest));
    o.push_str(&format!("+++ {}  {}\n", d.b.reference, d.b.manifest_digest));
    if !d.differs {
        o.push_str("\nThe images do not differ.\n");
        return o;
    }
    let s = &d.size;
    o.push_str(&format!(
        "\nSize  {} → {} compressed ({}), {} → {} uncompressed ({})\n",
        bytes(s.compressed[0]),
        bytes(s.compressed[1]),
        bytes_delta(s.compressed[0], s.compressed[1]),
        bytes(s.uncompressed[0]),
        bytes(s.uncompressed[1]),
        bytes_delta(s.uncompressed[0], s.uncompressed[1]),
    ));
    let mut t = Table::new(&[Align::Left, Align::Right, Align::Right, Align::Left]).header([
        "layer",
        "compressed",
        "tar",
        "created by",
    ]);
    if !s.shared.is_empty() {
        t.row(
            Style::Section,
            [format!("shared by both ({} layers)", s.shared.len())],
        );
        layer_table(&mut t, "=", &s.shared);
    }
    for (title, side, rows) in [
        ("only in A", "-", &s.a_layers),
        ("only in B", "+", &s.b_layers),
    ] {
        if rows.is_empty() {
            t.row(Style::Section, [format!("{title}: none")]);
        } else {
            t.row(Style::Section, [title.to_string()]);
            layer_table(&mut t, side, rows);
        }
    }
    o.push_str(&t.render(2, color));
    if !s.dirs.is_empty() {
        let mut t = Table::new(&[Align::Left, Align::Right, Align::Right, Align::Right]).header([
            "directory",
            "A",
            "B",
            "change",
        ]);
        for dsz in &s.dirs {
            t.row(
                Style::Plain,
                [
                    dsz.dir.clone(),
                    bytes(dsz.a),
                    bytes(dsz.b),
                    bytes_delta(dsz.a, dsz.b),
                ],
            );
        }
        o.push_str("\nBytes per top-level directory (those that changed)\n");
        o.push_str(&t.render(2, color));
    }

    let count = |k: PackageChangeKind| d.packages.iter().filter(|p| p.change == k).count();
    o.push_str(&format!(
        "\nPackages  {} added, {} removed, {} upgraded, {} downgraded, {} changed\n",
        count(PackageChangeKind::Added),
        count(PackageChangeKind::Removed),
        count(PackageChangeKind::Upgraded),
        count(PackageChangeKind::Downgraded),
        count(PackageChangeKind::Changed),
    ));
    if !d.packages.is_empty() {
        let mut t = Table::new(&[Align::Left, Align::Left, Align::Left, Align::Left]);
        for p in &d.packages {
            let (mark, style) = match p.change {
                PackageChangeKind::Added => ("+", Style::Plain),
                PackageChangeKind::Removed => ("-", Style::Plain),
                PackageChangeKind::Upgraded => ("↑", Style::Plain),
                PackageChangeKind::Downgraded => ("↓", Style::Highlight),
                PackageChangeKind::Changed => ("~", Style::Plain),
            };
            t.row(
                style,
                [
                    mark.to_string(),
                    p.name.clone(),
                    p.old.clone().unwrap_or_default(),
                    match (&p.old, &p.new) {
                        (Some(_), Some(n)) => format!("→ {n}"),
                        (None, Some(n)) => n.clone(),
                        _ => String::new(),
                    },
                ],
            );
        }
        o.push_str(&t.render(2, color));
    }

    if !d.config.is_empty() {
        o.push_str("\nConfig\n");
        let mut t = Table::new(&[Align::Left, Align::Left, Align::Left]);
        for c in &d.config {
            let field = match &c.key {
                Some(k) => format!("{} {k}", c.field),
                None => c.field.to_string(),
            };
            t.row(
                Style::Plain,
                [
                    field,
                    c.old.clone().unwrap_or_else(|| "(unset)".into()),
                    format!("→ {}", c.new.clone().unwrap_or_else(|| "(unset)".into())),
                ],
            );
        }
        o.push_str(&t.render(2, color));
    }

    if let Some(f) = &d.files {
        o.push_str(&format!(
            "\nFiles below {}  {} added, {} removed, {} changed\n",
            f.prefix, f.added, f.removed, f.changed
        ));
        for c in &f.changes {
            let (mark, detail) = match c.change {
                FileChangeKind::Added => ("+", String::new()),
                FileChangeKind::Removed => ("-", String::new()),
                FileChangeKind::Changed => ("~", format!("  ({})", c.what.join(", "))),
            };
            o.push_str(&format!("  {mark} {}{detail}\n", c.path));
        }
    }
    o
}
