//! Spans: every node points at its exact bytes, through BOMs, CRLF, backtick
//! escapes and continuation lines.

use plinth_dockerfile::{Args, InstructionKind, parse};

fn from_word(src: &str, n: usize) -> plinth_dockerfile::Word {
    let df = parse(src).unwrap();
    let froms: Vec<_> = df
        .instructions
        .iter()
        .filter(|i| i.kind == InstructionKind::From)
        .collect();
    match &froms[n].args {
        Args::List(w) => w[0].clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_from_span() {
    let src = "FROM python:3.12-slim AS app\n";
    let w = from_word(src, 0);
    assert_eq!(w.span.text(src), "python:3.12-slim");
    assert_eq!(
        (w.span.start, w.span.end, w.span.line, w.span.col),
        (5, 21, 1, 6)
    );
}

#[test]
fn bom_does_not_shift_spans() {
    let src = "\u{feff}FROM alpine:3.19\nRUN echo\n";
    let df = parse(src).unwrap();
    let w = from_word(src, 0);
    assert_eq!(w.span.text(src), "alpine:3.19");
    assert_eq!((w.span.start, w.span.line, w.span.col), (8, 1, 6));
    assert_eq!(df.instructions[0].span.start, 3);
    assert_eq!(df.instructions[0].keyword.span.text(src), "FROM");
    assert_eq!(df.instructions[1].span.text(src), "RUN echo");
    // A BOM before a directive still lets the directive count.
    let src = "\u{feff}# escape=`\nFROM a `\n  AS b\n";
    let df = parse(src).unwrap();
    assert_eq!(df.escape, '`');
    assert_eq!(df.directives[0].value_span.text(src), "`");
}

#[test]
fn crlf_spans() {
    let src = "ARG V=1.2\r\nFROM debian:${V} \\\r\n  AS base\r\nRUN a \\\r\n  b\r\n";
    let df = parse(src).unwrap();
    assert_eq!(df.instructions.len(), 3);
    let w = from_word(src, 0);
    assert_eq!(w.span.text(src), "debian:${V}");
    assert_eq!((w.span.line, w.span.col), (2, 6));
    let Args::List(words) = &df.instructions[1].args else {
        panic!()
    };
    assert_eq!(words[2].span.text(src), "base");
    assert_eq!((words[2].span.line, words[2].span.col), (3, 6));
    assert_eq!(
        df.instructions[1].span.text(src),
        "FROM debian:${V} \\\r\n  AS base"
    );
    let Args::Shell(run) = &df.instructions[2].args else {
        panic!()
    };
    assert_eq!(run.value, "a   b");
    assert_eq!(run.span.text(src), "a \\\r\n  b");
    let Args::Args(decls) = &df.instructions[0].args else {
        panic!()
    };
    assert_eq!(decls[0].default.as_ref().unwrap().span.text(src), "1.2");
}

#[test]
fn backtick_escape_spans() {
    let src = "# escape=`\nFROM `\n    mcr.microsoft.com/windows:ltsc2022 `\n    AS win\nRUN dir c:\\ `\n  && echo\n";
    let df = parse(src).unwrap();
    assert_eq!(df.escape, '`');
    let w = from_word(src, 0);
    assert_eq!(w.span.text(src), "mcr.microsoft.com/windows:ltsc2022");
    assert_eq!((w.span.line, w.span.col), (3, 5));
    let Args::Shell(run) = &df.instructions[1].args else {
        panic!()
    };
    assert_eq!(run.value, "dir c:\\   && echo");
}

#[test]
fn continuation_with_comments_and_blank_lines() {
    let src = "FROM a\nRUN echo \\\n# comment\n\n   one \\\n  two\n";
    let df = parse(src).unwrap();
    let Args::Shell(run) = &df.instructions[1].args else {
        panic!()
    };
    assert_eq!(run.value, "echo    one   two");
    assert_eq!(run.span.start, src.find("echo").unwrap());
    assert_eq!(run.span.end, src.find("two").unwrap() + 3);
    assert_eq!(df.warnings.len(), 1);
    assert_eq!(
        (
            df.instructions[1].span.line,
            df.instructions[1].span.end_line
        ),
        (2, 6)
    );
}

#[test]
fn word_split_across_continuation() {
    let src = "FROM ubuntu:\\\n22.04\n";
    let w = from_word(src, 0);
    assert_eq!(w.value, "ubuntu:22.04");
    assert_eq!(w.span.text(src), "ubuntu:\\\n22.04");
}

#[test]
fn flag_spans() {
    let src = "FROM a AS b\nCOPY --from=\"b\" --chown=1:1 --link x y\nRUN --mount=type=cache,from=b,target=/c --network=none make\n";
    let df = parse(src).unwrap();
    let copy = &df.instructions[1];
    let from = copy.flag("from").unwrap();
    assert_eq!(from.value.as_deref(), Some("b"));
    assert_eq!(from.text, "--from=b");
    assert_eq!(from.span.text(src), "--from=\"b\"");
    assert_eq!(from.value_span.unwrap().text(src), "b");
    assert_eq!(copy.flag("link").unwrap().value, None);
    let run = &df.instructions[2];
    assert_eq!(
        run.flag("mount").unwrap().value.as_deref(),
        Some("type=cache,from=b,target=/c")
    );
    assert_eq!(run.flag("network").unwrap().value.as_deref(), Some("none"));
}

#[test]
fn json_and_heredoc_spans() {
    let src = "FROM a\nCMD [\"sh\", \"-c\"]\nRUN <<EOF bash\nset -e\n  echo hi\nEOF\nCOPY <<-'X' /etc/x\n\tkeep $HOME\n\tX\n";
    let df = parse(src).unwrap();
    let Args::Exec(items) = &df.instructions[1].args else {
        panic!()
    };
    assert_eq!(items[1].span.text(src), "\"-c\"");
    let run = &df.instructions[2];
    assert_eq!(run.heredocs.len(), 1);
    let h = &run.heredocs[0];
    assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOF", true, false));
    assert_eq!(h.content, "set -e\n  echo hi\n");
    assert_eq!(h.body_span.text(src), "set -e\n  echo hi\n");
    assert_eq!(h.terminator_span.text(src), "EOF");
    assert_eq!(run.span.text(src), "RUN <<EOF bash\nset -e\n  echo hi\nEOF");
    let copy = &df.instructions[3];
    let h = &copy.heredocs[0];
    assert_eq!((h.name.as_str(), h.expand, h.chomp), ("X", false, true));
    assert_eq!(h.effective_content(), "keep $HOME\n");
}

#[test]
fn arg_default_spans() {
    let src = "ARG A=1 B=\"two words\" C\nFROM x\n";
    let df = parse(src).unwrap();
    let Args::Args(d) = &df.instructions[0].args else {
        panic!()
    };
    assert_eq!(d[0].default.as_ref().unwrap().span.text(src), "1");
    assert_eq!(
        d[1].default.as_ref().unwrap().span.text(src),
        "\"two words\""
    );
    assert_eq!(d[1].name.span.text(src), "B");
    assert!(d[2].default.is_none());
    assert_eq!(d[2].raw.span.text(src), "C");
}

#[test]
fn several_heredocs_and_onbuild() {
    let src = "FROM a\nRUN <<A cat - <<\"B\" > /x\none $X\nA\ntwo $Y\nB\nONBUILD RUN <<EOF\nhi\nEOF\nRUN [\"<<EOF\"]\n";
    let df = parse(src).unwrap();
    let run = &df.instructions[1];
    assert_eq!(run.heredocs.len(), 2);
    assert_eq!(
        (
            run.heredocs[0].name.as_str(),
            run.heredocs[0].content.as_str(),
            run.heredocs[0].expand
        ),
        ("A", "one $X\n", true)
    );
    assert_eq!(
        (
            run.heredocs[1].name.as_str(),
            run.heredocs[1].content.as_str(),
            run.heredocs[1].expand
        ),
        ("B", "two $Y\n", false)
    );
    assert_eq!(run.heredocs[1].body_span.text(src), "two $Y\n");
    let onbuild = &df.instructions[2];
    assert_eq!(onbuild.heredocs.len(), 1);
    assert_eq!(onbuild.heredocs[0].content, "hi\n");
    // JSON form never has heredocs.
    assert!(df.instructions[3].heredocs.is_empty());
    assert_eq!(
        plinth_dockerfile::dump_buildkit(&df),
        "(from \"a\")\n(run \"<<A cat - <<\\\"B\\\" > /x\")\n(onbuild (run \"<<EOF\"))\n(run \"<<EOF\")\n"
    );
}

#[test]
fn unknown_instruction_and_flags_dump() {
    let src = "FROM a\nFOO --x bar baz\nHEALTHCHECK NONE\nONBUILD\nMAINTAINER me <me@x>\nSTOPSIGNAL SIGTERM\n";
    let df = parse(src).unwrap();
    assert_eq!(df.instructions[1].kind, InstructionKind::Unknown);
    assert_eq!(
        plinth_dockerfile::dump_buildkit(&df),
        "(from \"a\")\n(foo [\"--x\"] \"\")\n(healthcheck \"NONE\")\n(onbuild)\n(maintainer \"me <me@x>\")\n(stopsignal \"SIGTERM\")\n"
    );
}
