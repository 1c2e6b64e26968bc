//! BuildKit's AST dump format (`Node.Dump`), for comparison with its test corpus.

use crate::ast::{Args, Dockerfile, Instruction};
use crate::quote::{go_quote, go_quote_list};

/// Renders `df` as BuildKit's `parser.Node.Dump()` plus a final newline: one line
/// per instruction, `(<lowercased keyword> [flags as %q] "arg" …)`.
pub fn dump_buildkit(df: &Dockerfile) -> String {
    let mut out = String::new();
    for ins in &df.instructions {
        out.push('(');
        out.push_str(&dump_instruction(ins));
        out.push_str(")\n");
    }
    // Node.Dump trims surrounding whitespace; the test adds one newline.
    let trimmed = out.trim_matches(|c: char| c.is_whitespace());
    format!("{trimmed}\n")
}

/// One instruction without the surrounding parentheses.
pub fn dump_instruction(ins: &Instruction) -> String {
    let mut s = ins.keyword.value.to_lowercase();
    if !ins.flags.is_empty() {
        let flags: Vec<&str> = ins.flags.iter().map(|f| f.text.as_str()).collect();
        s.push(' ');
        s.push_str(&go_quote_list(&flags));
    }
    let mut values: Vec<String> = Vec::new();
    let mut sub = None;
    collect(&ins.args, &mut values, &mut sub);
    if let Some(inner) = sub {
        s.push_str(" (");
        s.push_str(&dump_instruction(inner));
        s.push(')');
    }
    for v in values {
        s.push(' ');
        s.push_str(&go_quote(&v));
    }
    s.trim_matches(|c: char| c.is_whitespace()).to_string()
}

fn collect<'a>(args: &'a Args, out: &mut Vec<String>, sub: &mut Option<&'a Instruction>) {
    match args {
        Args::None => {}
        Args::Exec(w) | Args::List(w) => out.extend(w.iter().map(|w| w.value.clone())),
        Args::Shell(w) | Args::Text(w) => out.push(w.value.clone()),
        Args::KeyValues(kvs) => {
            for kv in kvs {
                out.push(kv.key.value.clone());
                out.push(kv.value.value.clone());
                out.push(if kv.legacy { String::new() } else { "=".into() });
            }
        }
        Args::Args(a) => out.extend(a.iter().map(|a| a.raw.value.clone())),
        Args::Healthcheck { kind, cmd } => {
            out.push(kind.value.clone());
            collect(cmd, out, sub);
        }
        Args::Onbuild(inner) => *sub = Some(inner),
        // BuildKit's parseIgnore leaves one empty node.
        Args::Ignored(_) => out.push(String::new()),
    }
}
