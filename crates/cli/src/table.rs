//! The one table printer of the human outputs (`inspect`, `compare`, `diff`, …): columns
//! padded to their widest cell, numbers right-aligned, rows that differ highlighted when
//! stdout is a terminal.

use std::io::IsTerminal;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers and sizes.
    Right,
}

/// How a row is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// As it is.
    Plain,
    /// Worth the eye (values that differ): bold yellow on a terminal, marked `*` otherwise.
    Highlight,
    /// A section title spanning the table: bold on a terminal.
    Section,
}

/// A table being built.
#[derive(Clone, Debug, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    align: Vec<Align>,
    rows: Vec<(Style, Vec<String>)>,
    /// Whether rows may be highlighted at all (adds the marker column without colour).
    marks: bool,
}

/// Whether stdout takes colour: a terminal, and `NO_COLOR` unset (<https://no-color.org>).
pub fn color_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Decimal sizes, as registries and `docker images` print them.
pub fn bytes(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.2} GB", n as f64 / 1e9)
    } else if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else {
        format!("{n} B")
    }
}

/// A signed size change (`+12.5 MB`, `-3.0 kB`, `0 B`).
pub fn bytes_delta(old: u64, new: u64) -> String {
    match new.cmp(&old) {
        std::cmp::Ordering::Greater => format!("+{}", bytes(new - old)),
        std::cmp::Ordering::Less => format!("-{}", bytes(old - new)),
        std::cmp::Ordering::Equal => "0 B".into(),
    }
}

/// Collapses whitespace and cuts `s` to `max` characters with an ellipsis.
pub fn one_line(s: &str, max: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        s
    }
}

impl Table {
    /// A table whose columns line up as `align` says.
    pub fn new(align: &[Align]) -> Table {
        Table {
            align: align.to_vec(),
            ..Table::default()
        }
    }

    /// Sets the header row.
    pub fn header<S: Into<String>>(mut self, cells: impl IntoIterator<Item = S>) -> Table {
        self.header = Some(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a row.
    pub fn row<S: Into<String>>(&mut self, style: Style, cells: impl IntoIterator<Item = S>) {
        if style == Style::Highlight {
            self.marks = true;
        }
        self.rows
            .push((style, cells.into_iter().map(Into::into).collect()));
    }

    /// The table as text, `indent` spaces in; `color` for ANSI styles.
    pub fn render(&self, indent: usize, color: bool) -> String {
        let width = |s: &str| s.chars().count();
        let cols = self
            .rows
            .iter()
            .filter(|(st, _)| *st != Style::Section)
            .map(|(_, r)| r.len())
            .chain(self.header.as_ref().map(Vec::len))
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for cells in self.header.iter().chain(
            self.rows
                .iter()
                .filter(|(st, _)| *st != Style::Section)
                .map(|(_, r)| r),
        ) {
            for (i, c) in cells.iter().enumerate() {
                widths[i] = widths[i].max(width(c));
            }
        }
        let pad = " ".repeat(indent);
        let mark_col = self.marks && !color;
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate() {
                let w = widths[i];
                let last = i + 1 == cells.len();
                let align = self.align.get(i).copied().unwrap_or(Align::Left);
                let fill = " ".repeat(w.saturating_sub(width(c)));
                match (align, last) {
                    (Align::Right, _) => {
                        out.push_str(&fill);
                        out.push_str(c);
                    }
                    (Align::Left, true) => out.push_str(c),
                    (Align::Left, false) => {
                        out.push_str(c);
                        out.push_str(&fill);
                    }
                }
                if !last {
                    out.push_str("  ");
                }
            }
            out.trim_end().to_string()
        };
        let mut out = String::new();
        if let Some(h) = &self.header {
            out.push_str(&pad);
            if mark_col {
                out.push_str("  ");
            }
            let text = line(h);
            if color {
                out.push_str(&format!("\x1b[1m{text}\x1b[0m"));
            } else {
                out.push_str(&text);
            }
            out.push('\n');
        }
        for (style, cells) in &self.rows {
            out.push_str(&pad);
            let text = match style {
                Style::Section => cells.join(" "),
                _ => line(cells),
            };
            match (style, color) {
                (Style::Section, true) => out.push_str(&format!("\x1b[1m{text}\x1b[0m")),
                (Style::Highlight, true) => out.push_str(&format!("\x1b[1;33m{text}\x1b[0m")),
                (Style::Highlight, false) => out.push_str(&format!("* {text}")),
                (Style::Plain, _) if mark_col => out.push_str(&format!("  {text}")),
                (Style::Section | Style::Plain, _) => out.push_str(&text),
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_differences_are_marked_without_colour() {
        let mut t = Table::new(&[Align::Left, Align::Right, Align::Right]).header(["", "a", "b"]);
        t.row(Style::Plain, ["layers", "1", "1"]);
        t.row(Style::Highlight, ["size", "12.0 MB", "9 B"]);
        assert_eq!(
            t.render(0, false),
            "                a    b\n  layers        1    1\n* size    12.0 MB  9 B\n"
        );
        let colored = t.render(2, true);
        assert!(
            colored.contains("  \x1b[1;33msize    12.0 MB  9 B\x1b[0m\n"),
            "{colored}"
        );
    }

    #[test]
    fn sizes_and_deltas() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(12_345_678), "12.3 MB");
        assert_eq!(bytes_delta(10, 4_010), "+4.0 kB");
        assert_eq!(bytes_delta(4_010, 10), "-4.0 kB");
        assert_eq!(one_line("a \n b", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
