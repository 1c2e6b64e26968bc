//! `plinth compare`: several images side by side, one column each, one row per fact.

use futures::future::try_join_all;
use plinth_inspect::compare::{Comparison, Fact, Unit};
use plinth_inspect::report::Report;
use plinth_oci::Platform;

use crate::Global;
use crate::error::{CliError, CliResult};
use crate::table::{Align, Style, Table, bytes};

/// Examples shown by `plinth compare --help`.
const EXAMPLES: &str = "\
Examples:
  plinth compare python:3.12 python:3.12-slim python:3.12-alpine
  plinth compare --json debian:bookworm-slim oci:./out:app
  plinth compare --html report.html debian:bookworm-slim gcr.io/distroless/base-debian12

JSON schema: docs/compare-json.md";

/// Arguments of `compare`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The images (two or more): registry references, `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`.
    #[arg(required = true, num_args = 2..)]
    images: Vec<String>,
    /// The platform to pick from indexes (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// The comparison as JSON (schema: docs/compare-json.md).
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report (table and charts) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// Judge end of life on this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = crate::cmd::inspect::parse_date)]
    as_of: Option<String>,
}

/// Reads every image concurrently, each shared layer once, and builds their reports in the
/// order given.
pub async fn reports(
    g: &Global,
    images: &[String],
    platform: Option<&Platform>,
    as_of: Option<&str>,
) -> CliResult<Vec<Report>> {
    let memo = plinth_fs::LayerMemo::new();
    let req = plinth_inspect::request();
    try_join_all(images.iter().map(|image| {
        let (memo, req) = (memo.clone(), &req);
        async move {
            let opened =
                crate::cmd::ls::open_shared(g, image, platform, Some(memo.clone())).await?;
            let fs = opened.read(req).await?;
            let (report, _) = crate::cmd::inspect::report_of(opened, image, fs, as_of).await?;
            Ok::<_, CliError>(report)
        }
    }))
    .await
}

/// Runs `compare`.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let reports = reports(g, &a.images, a.platform.as_ref(), a.as_of.as_deref()).await?;
    let cmp = plinth_inspect::compare::compare(&reports);
    if let Some(path) = &a.html {
        let page = crate::html::compare_page(&cmp, &reports);
        crate::html::write(path, &page)?;
    }
    if a.json {
        return crate::print_json(&cmp);
    }
    let text = render(&cmp, crate::table::color_stdout());
    crate::cmd::inspect::write_stdout(text.as_bytes())
}

/// A fact as a cell.
pub fn cell(unit: Unit, f: &Fact) -> String {
    match (unit, f) {
        (Unit::Bytes, Fact::Number(n)) => bytes(*n),
        (_, Fact::Number(n)) => n.to_string(),
        (_, Fact::Text(s)) => s.clone(),
        (_, Fact::List(v)) if v.is_empty() => "none".into(),
        (_, Fact::List(v)) => v.join(", "),
        (_, Fact::Absent) => "-".into(),
    }
}

/// The human table: a header of image names, a section per group, differing rows highlighted.
pub fn render(cmp: &Comparison, color: bool) -> String {
    let mut align = vec![Align::Left];
    align.extend(cmp.images.iter().map(|_| Align::Left));
    let mut t = Table::new(&align).header(
        std::iter::once(String::new()).chain(cmp.images.iter().map(|c| c.reference.clone())),
    );
    let mut group = "";
    for r in &cmp.rows {
        if r.group != group {
            group = r.group;
            t.row(Style::Section, [group.to_string()]);
        }
        let style = if r.differs {
            Style::Highlight
        } else {
            Style::Plain
        };
        t.row(
            style,
            std::iter::once(format!("  {}", r.label))
                .chain(r.values.iter().map(|v| cell(r.unit, v))),
        );
    }
    let mut out = t.render(0, color);
    let differ = cmp.rows.iter().filter(|r| r.differs).count();
    out.push_str(&format!(
        "\n{} images; {differ} of {} rows differ{}.\n",
        cmp.images.len(),
        cmp.rows.len(),
        if color {
            " (highlighted)"
        } else {
            " (marked *)"
        }
    ));
    out
}
