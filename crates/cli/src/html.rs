//! Self-contained HTML reports (`compare --html`, `diff --html`): one file, inline CSS and
//! SVG charts, no script and nothing fetched at view time.
//!
//! Elements carry `id`s and `data-*` attributes with the raw numbers (bytes, counts) so the
//! report can be checked by reading its DOM, as the tests do in headless Chromium.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plinth_inspect::compare::{Comparison, shared_prefix};
use plinth_inspect::diff::ImageDiff;
use plinth_inspect::report::Report;

use crate::error::{CliError, CliResult, exit};
use crate::table::{bytes, one_line};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2330;margin:2rem auto;max-width:1200px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:2rem 0 .6rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
.sub{color:#5b6475;margin:0 0 1.5rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #eef1f5;vertical-align:top}
th{background:#f6f8fb;font-weight:600}td.num{text-align:right}
tr.group td{background:#fafbfd;font-weight:600;color:#5b6475;text-transform:uppercase;font-size:.75rem;letter-spacing:.04em}
tr.differs td{background:#fff8e1}tr.differs td:first-child{border-left:3px solid #f0b400}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.legend span{display:inline-block;margin-right:1rem}.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
.added{color:#1a7f37}.removed{color:#b42318}.down{color:#b42318;font-weight:600}
footer{margin-top:2.5rem;color:#8a93a5;font-size:.8rem}
";

/// Colours of layers: shared (base) layers in blues, own layers in oranges.
const SHARED: [&str; 4] = ["#2f6fde", "#5b8ee6", "#86acee", "#b0c9f5"];
const OWN: [&str; 4] = ["#e8772e", "#ef9a5c", "#f4b98c", "#f8d5ba"];

fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\
         <h1>{t}</h1><p class=\"sub\">{s}</p>{body}\
         <footer>Written by plinth {v}. Sizes are decimal (1 MB = 1,000,000 bytes).</footer>\
         </body></html>\n",
        t = esc(title),
        s = esc(subtitle),
        v = env!("CARGO_PKG_VERSION"),
    )
}

/// Writes `html` to `path` (temp file beside it, then renamed).
pub fn write(path: &std::path::Path, html: &str) -> CliResult {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let fail = |e: std::io::Error| CliError {
        code: exit::IO,
        message: format!("writing {}: {e}", path.display()),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    std::io::Write::write_all(&mut tmp, html.as_bytes()).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// One bar of a stacked chart: (label, segments of (bytes, colour, title, data attributes)).
struct Bar {
    label: String,
    /// Printed after the bar (its total, as people read it).
    end: String,
    segments: Vec<Segment>,
}

struct Segment {
    bytes: u64,
    color: &'static str,
    title: String,
    attrs: String,
}

/// A horizontal stacked bar chart; every bar scaled to the largest.
fn stacked_chart(id: &str, bars: &[Bar]) -> String {
    let (label_w, chart_w, bar_h, gap) = (260.0, 760.0, 26.0, 12.0);
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.bytes).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let height = bars.len() as f64 * (bar_h + gap) + gap;
    let mut o = format!(
        "<svg id=\"{id}\" role=\"img\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\">",
        w = label_w + chart_w + 110.0
    );
    for (i, b) in bars.iter().enumerate() {
        let y = gap + i as f64 * (bar_h + gap);
        let total: u64 = b.segments.iter().map(|s| s.bytes).sum();
        let _ = write!(
            o,
            "<g class=\"bar\" data-label=\"{l}\" data-bytes=\"{total}\">\
             <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{lt}</text>",
            l = esc(&b.label),
            tx = label_w - 8.0,
            ty = y + bar_h * 0.68,
            lt = esc(&one_line(&b.label, 38)),
        );
        let mut x = label_w;
        for s in &b.segments {
            let w = s.bytes as f64 / max * chart_w;
            let _ = write!(
                o,
                "<rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" height=\"{bar_h}\" fill=\"{c}\" \
                 stroke=\"#fff\" stroke-width=\"1\" data-bytes=\"{bytes}\" {attrs}>\
                 <title>{t}</title></rect>",
                c = s.color,
                bytes = s.bytes,
                attrs = s.attrs,
                t = esc(&s.title),
            );
            x += w;
        }
        let _ = write!(
            o,
            "<text x=\"{x:.2}\" y=\"{ty}\" dx=\"6\">{}</text></g>",
            esc(&b.end),
            ty = y + bar_h * 0.68
        );
    }
    o.push_str("</svg>");
    o
}

/// Bars of one number per image: (label, value, the value as printed).
fn simple_chart(id: &str, values: &[(String, u64, String)]) -> String {
    let bars: Vec<Bar> = values
        .iter()
        .map(|(label, v, shown)| Bar {
            label: label.clone(),
            end: shown.clone(),
            segments: vec![Segment {
                bytes: *v,
                color: SHARED[0],
                title: format!("{label}: {shown}"),
                attrs: format!("data-value=\"{v}\""),
            }],
        })
        .collect();
    stacked_chart(id, &bars)
}

/// Layers per image, shared (with another image of the report) in blues, own in oranges.
fn layer_bars(reports: &[Report]) -> Vec<Bar> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let shared = reports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| shared_prefix(o, r))
                .max()
                .unwrap_or(0);
            Bar {
                label: r.image.reference.clone(),
                end: bytes(r.image.compressed_size),
                segments: r
                    .image
                    .layers
                    .iter()
                    .map(|l| {
                        let base = l.index < shared;
                        let palette = if base { &SHARED } else { &OWN };
                        Segment {
                            bytes: l.compressed_size,
                            color: palette[l.index % palette.len()],
                            title: format!(
                                "layer {} ({}): {} compressed — {}",
                                l.index,
                                if base { "shared" } else { "own" },
                                bytes(l.compressed_size),
                                one_line(l.created_by.as_deref().unwrap_or("-"), 120)
                            ),
                            attrs: format!(
                                "class=\"layer {}\" data-layer=\"{}\"",
                                if base { "shared" } else { "own" },
                                l.index
                            ),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

const LEGEND: &str = "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#2f6fde\"></i>layers shared with another image (base)</span><span><i class=\"sw\" style=\"background:#e8772e\"></i>the image's own layers</span></p>";

/// The facts table of a comparison.
fn facts_table(cmp: &Comparison) -> String {
    let mut o = String::from("<table id=\"facts\"><thead><tr><th></th>");
    for c in &cmp.images {
        let _ = write!(
            o,
            "<th data-image=\"{r}\">{r}<br><code>{d}</code></th>",
            r = esc(&c.reference),
            d = esc(&c.manifest_digest[..c.manifest_digest.len().min(19)])
        );
    }
    o.push_str("</tr></thead><tbody>");
    let mut group = "";
    for r in &cmp.rows {
        if r.group != group {
            group = r.group;
            let _ = write!(
                o,
                "<tr class=\"group\"><td colspan=\"{}\">{}</td></tr>",
                cmp.images.len() + 1,
                esc(group)
            );
        }
        let _ = write!(
            o,
            "<tr data-row=\"{}\"{}><td>{}</td>",
            r.id,
            if r.differs { " class=\"differs\"" } else { "" },
            esc(r.label)
        );
        for v in &r.values {
            let raw = serde_json::to_string(v).unwrap_or_default();
            let num = matches!(v, plinth_inspect::compare::Fact::Number(_));
            let _ = write!(
                o,
                "<td{} data-value=\"{}\">{}</td>",
                if num { " class=\"num\"" } else { "" },
                esc(raw.trim_matches('"')),
                esc(&crate::cmd::compare::cell(r.unit, v))
            );
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

/// `compare --html`: the side-by-side table, size per layer (shared vs own), package counts
/// and installed sizes per image.
pub fn compare_page(cmp: &Comparison, reports: &[Report]) -> String {
    let mut body = String::new();
    body.push_str("<h2>Side by side</h2>");
    body.push_str(&facts_table(cmp));
    body.push_str("<h2>Size per layer (compressed)</h2>");
    body.push_str(LEGEND);
    body.push_str(&stacked_chart("layers-chart", &layer_bars(reports)));
    body.push_str("<h2>Packages</h2>");
    let counts: Vec<(String, u64, String)> = reports
        .iter()
        .map(|r| {
            let n = r.packages.count as u64;
            (r.image.reference.clone(), n, format!("{n} packages"))
        })
        .collect();
    body.push_str(&simple_chart("packages-chart", &counts));
    body.push_str("<h2>Installed size of packages</h2>");
    let sizes: Vec<(String, u64, String)> = reports
        .iter()
        .map(|r| {
            let n = r.packages.installed_size;
            (r.image.reference.clone(), n, bytes(n))
        })
        .collect();
    body.push_str(&simple_chart("package-size-chart", &sizes));
    let names: Vec<&str> = cmp.images.iter().map(|c| c.reference.as_str()).collect();
    page(
        "plinth compare",
        &format!("{} images: {}", names.len(), names.join(" · ")),
        &body,
    )
}

/// `diff --html`: sizes and layers of both, packages and config changes, file counts.
pub fn diff_page(d: &ImageDiff, a: &Report, b: &Report) -> String {
    use plinth_inspect::diff::PackageChangeKind as K;
    let mut body = String::new();
    body.push_str("<h2>Size per layer (compressed)</h2>");
    body.push_str(LEGEND);
    body.push_str(&stacked_chart(
        "layers-chart",
        &layer_bars(&[a.clone(), b.clone()]),
    ));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &d.packages {
        *counts
            .entry(match p.change {
                K::Added => "added",
                K::Removed => "removed",
                K::Upgraded => "upgraded",
                K::Downgraded => "downgraded",
                K::Changed => "changed",
            })
            .or_default() += 1;
    }
    let _ = write!(
        body,
        "<h2>Packages</h2><p id=\"package-counts\" data-added=\"{}\" data-removed=\"{}\" \
         data-upgraded=\"{}\" data-downgraded=\"{}\">{} added, {} removed, {} upgraded, {} downgraded</p>",
        counts.get("added").unwrap_or(&0),
        counts.get("removed").unwrap_or(&0),
        counts.get("upgraded").unwrap_or(&0),
        counts.get("downgraded").unwrap_or(&0),
        counts.get("added").unwrap_or(&0),
        counts.get("removed").unwrap_or(&0),
        counts.get("upgraded").unwrap_or(&0),
        counts.get("downgraded").unwrap_or(&0),
    );
    body.push_str("<table id=\"packages\"><thead><tr><th>package</th><th>change</th><th>A</th><th>B</th></tr></thead><tbody>");
    for p in &d.packages {
        let class = match p.change {
            K::Added => "added",
            K::Removed => "removed",
            K::Downgraded => "down",
            _ => "",
        };
        let _ = write!(
            body,
            "<tr data-package=\"{n}\" data-change=\"{c}\"><td>{n}</td><td class=\"{class}\">{c}</td><td>{o}</td><td>{v}</td></tr>",
            n = esc(&p.name),
            c = serde_json::to_string(&p.change)
                .unwrap_or_default()
                .trim_matches('"'),
            o = esc(p.old.as_deref().unwrap_or("")),
            v = esc(p.new.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</tbody></table>");
    if !d.config.is_empty() {
        body.push_str("<h2>Config</h2><table id=\"config\"><thead><tr><th>field</th><th>A</th><th>B</th></tr></thead><tbody>");
        for c in &d.config {
            let field = match &c.key {
                Some(k) => format!("{} {k}", c.field),
                None => c.field.to_string(),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(&field),
                esc(c.old.as_deref().unwrap_or("(unset)")),
                esc(c.new.as_deref().unwrap_or("(unset)"))
            );
        }
        body.push_str("</tbody></table>");
    }
    if let Some(f) = &d.files {
        let _ = write!(
            body,
            "<h2>Files below {}</h2><p id=\"file-counts\" data-added=\"{}\" data-removed=\"{}\" data-changed=\"{}\">{} added, {} removed, {} changed</p>",
            esc(&f.prefix),
            f.added,
            f.removed,
            f.changed,
            f.added,
            f.removed,
            f.changed
        );
    }
    page(
        "plinth diff",
        &format!("{} → {}", d.a.reference, d.b.reference),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn a_stacked_chart_scales_bars_to_the_largest() {
        let seg = |b| Segment {
            bytes: b,
            color: OWN[0],
            title: "t".into(),
            attrs: String::new(),
        };
        let svg = stacked_chart(
            "c",
            &[
                Bar {
                    label: "big".into(),
                    end: String::new(),
                    segments: vec![seg(300), seg(100)],
                },
                Bar {
                    label: "small".into(),
                    end: String::new(),
                    segments: vec![seg(200)],
                },
            ],
        );
        assert!(svg.contains("width=\"570.00\""), "{svg}"); // 300 of 400 → 570 of 760
        assert!(svg.contains("width=\"380.00\""), "{svg}"); // 200 of 400 → 380
        assert!(svg.contains("data-label=\"big\" data-bytes=\"400\""));
    }
}
