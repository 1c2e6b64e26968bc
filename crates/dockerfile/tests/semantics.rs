//! Stages, ARG scoping and image references.

use std::collections::BTreeMap;

use plinth_dockerfile::{ArgSource, ExpandOptions, Platform, RefKind, RefSource, parse};

fn opts() -> ExpandOptions {
    ExpandOptions::default()
}

#[test]
fn stages_and_names() {
    let src =
        "FROM golang:1.22 AS Build\nRUN go build\nFROM scratch\nCOPY --from=build /app /app\n";
    let df = parse(src).unwrap();
    let stages = df.stages();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name.as_deref(), Some("build"));
    assert_eq!(stages[0].name_span.unwrap().text(src), "Build");
    assert_eq!(stages[0].base.value, "golang:1.22");
    assert_eq!(stages[0].instructions, 1..2);
    assert_eq!(stages[1].name, None);
    let refs = df.image_refs(&opts());
    assert_eq!(refs.len(), 3);
    assert_eq!(
        (refs[0].source, refs[0].kind),
        (RefSource::From, RefKind::Image)
    );
    assert_eq!(refs[1].kind, RefKind::Scratch);
    assert_eq!(
        (refs[2].source, refs[2].kind),
        (RefSource::CopyFrom, RefKind::Stage { index: 0 })
    );
    assert_eq!(refs[2].span.text(src), "build");
}

#[test]
fn from_with_args_reports_dependencies() {
    let src =
        "ARG VER=3.12\nARG BASE=python:${VER}-slim\nFROM ${BASE} AS app\nFROM python:${VER}\n";
    let df = parse(src).unwrap();
    let refs = df.image_refs(&opts());
    assert_eq!(refs[0].resolved, "python:3.12-slim");
    assert_eq!(refs[0].text, "${BASE}");
    assert_eq!(refs[0].span.text(src), "${BASE}");
    let deps = &refs[0].arg_deps;
    assert_eq!(deps.len(), 2);
    assert_eq!((deps[0].name.as_str(), deps[0].direct), ("BASE", true));
    assert_eq!(
        deps[0].default_span.unwrap().text(src),
        "python:${VER}-slim"
    );
    assert_eq!(
        deps[0].decl_span.unwrap().text(src),
        "BASE=python:${VER}-slim"
    );
    assert_eq!((deps[1].name.as_str(), deps[1].direct), ("VER", false));
    assert_eq!(deps[1].default_span.unwrap().text(src), "3.12");
    assert!(refs[0].uses_args());
    assert_eq!(refs[1].resolved, "python:3.12");
    assert_eq!(refs[1].arg_deps.len(), 1);
}

#[test]
fn build_args_override_defaults() {
    let src = "ARG BASE=alpine:3.19\nFROM $BASE\nARG BASE\nRUN echo\n";
    let df = parse(src).unwrap();
    let mut o = opts();
    o.build_args.insert("BASE".into(), "alpine:3.20".into());
    o.build_args.insert("UNUSED".into(), "x".into());
    let refs = df.image_refs(&o);
    assert_eq!(refs[0].resolved, "alpine:3.20");
    assert_eq!(refs[0].arg_deps[0].source, ArgSource::BuildArg);
    // The default's span is still reported, for a tool that pins the default.
    assert_eq!(
        refs[0].arg_deps[0].default_span.unwrap().text(src),
        "alpine:3.19"
    );
}

#[test]
fn global_args_are_scoped_to_from_lines() {
    let src = "ARG IMG=busybox\nARG TAG=1\nFROM $IMG AS a\nCOPY --from=${IMG}:${TAG} / /\nARG TAG\nCOPY --from=${IMG}:${TAG} / /\nARG IMG=other\nCOPY --from=$IMG / /\n";
    let df = parse(src).unwrap();
    let refs = df.image_refs(&opts());
    assert_eq!(refs.len(), 4);
    assert_eq!(refs[0].resolved, "busybox");
    // Inside the stage, globals are invisible until redeclared.
    assert_eq!(refs[1].resolved, ":");
    assert_eq!(
        refs[1].unset_args,
        vec!["IMG".to_string(), "TAG".to_string()]
    );
    // `ARG TAG` without default inherits the global value.
    assert_eq!(refs[2].resolved, ":1");
    assert_eq!(refs[2].arg_deps[0].source, ArgSource::Global);
    assert_eq!(refs[2].arg_deps[0].default_span.unwrap().text(src), "1");
    // A stage's own default.
    assert_eq!(refs[3].resolved, "other");
}

#[test]
fn platform_args() {
    let src = "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETARCH\nARG TARGETOS\nRUN --mount=from=tools-${TARGETOS}-${TARGETARCH},target=/t make\nFROM alpine:${TARGETARCH}\n";
    let df = parse(src).unwrap();
    let mut o = opts();
    o.target_platform = Platform::parse("linux/arm64/v8");
    o.build_platform = Platform::parse("linux/amd64");
    let refs = df.image_refs(&o);
    assert_eq!(refs[0].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(refs[0].platform_resolved.as_deref(), Some("linux/amd64"));
    assert_eq!(refs[0].platform_span.unwrap().text(src), "$BUILDPLATFORM");
    assert_eq!(refs[1].source, RefSource::MountFrom);
    assert_eq!(refs[1].resolved, "tools-linux-arm64");
    assert_eq!(refs[1].span.text(src), "tools-${TARGETOS}-${TARGETARCH}");
    assert_eq!(refs[2].resolved, "alpine:arm64");
    assert_eq!(refs[2].arg_deps[0].source, ArgSource::Platform);
    // Defaults: linux/amd64.
    let refs = df.image_refs(&opts());
    assert_eq!(refs[2].resolved, "alpine:amd64");
}

#[test]
fn unset_args_in_from_are_reported() {
    let src = "ARG BASE\nFROM ${BASE:-debian}\nFROM $NOPE\n";
    let df = parse(src).unwrap();
    let a = df.analyze(&opts());
    assert_eq!(a.refs[0].resolved, "debian");
    assert_eq!(a.unset_args.len(), 2);
    assert_eq!(
        (a.unset_args[0].name.as_str(), a.unset_args[0].declared),
        ("BASE", true)
    );
    assert_eq!(
        (a.unset_args[1].name.as_str(), a.unset_args[1].declared),
        ("NOPE", false)
    );
    assert_eq!(a.refs[0].arg_deps[0].source, ArgSource::Unset);
    assert!(
        a.problems
            .iter()
            .any(|p| p.message.contains("should not be blank"))
    );
}

#[test]
fn mount_and_copy_from_variants() {
    let src = "FROM a AS base\nFROM b\nCOPY --from=0 x y\nCOPY --from=nginx:1.25 x y\nADD --from=BASE x y\nRUN --mount=type=bind,\"from=ghcr.io/o/i:1\",target=/x --mount=type=secret,id=s true\nRUN --mount=type=cache,target=/c,FROM=base true\nONBUILD COPY --from=redis:7 a b\n";
    let df = parse(src).unwrap();
    let a = df.analyze(&opts());
    let r = &a.refs;
    assert_eq!(r.len(), 8);
    assert_eq!(r[2].kind, RefKind::Stage { index: 0 });
    assert_eq!(r[3].kind, RefKind::Image);
    assert_eq!(r[3].span.text(src), "nginx:1.25");
    assert_eq!(r[4].kind, RefKind::Stage { index: 0 });
    assert_eq!(
        (r[5].source, r[5].resolved.as_str()),
        (RefSource::MountFrom, "ghcr.io/o/i:1")
    );
    assert_eq!(r[5].span.text(src), "ghcr.io/o/i:1");
    assert_eq!(r[6].kind, RefKind::Stage { index: 0 });
    assert_eq!(r[6].span.text(src), "base");
    let ob = a.refs.iter().find(|r| r.onbuild).unwrap();
    assert_eq!((ob.resolved.as_str(), ob.kind), ("redis:7", RefKind::Image));
    assert_eq!(ob.span.text(src), "redis:7");
    assert!(a.problems.is_empty(), "{:?}", a.problems);
}

#[test]
fn invalid_from_lines_are_problems() {
    let src = "FROM a b\nFROM c AS 1bad\nFROM d\nCOPY --from=5 x y\n";
    let df = parse(src).unwrap();
    let a = df.analyze(&opts());
    let msgs: Vec<&str> = a.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("one or three arguments")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("invalid name for build stage")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("invalid stage index 5")),
        "{msgs:?}"
    );
}

#[test]
fn env_in_stage_is_visible() {
    let src = "FROM a\nENV IMG=busybox:1\nCOPY --from=$IMG / /\n";
    let df = parse(src).unwrap();
    let refs = df.image_refs(&ExpandOptions {
        build_args: BTreeMap::new(),
        ..opts()
    });
    assert_eq!(refs[1].resolved, "busybox:1");
    assert_eq!(refs[1].arg_deps[0].source, ArgSource::Env);
}

#[test]
fn backtick_escape_applies_to_expansion() {
    let src = "# escape=`\nARG V=1\nFROM img:`$V-${V}\n";
    let df = parse(src).unwrap();
    let refs = df.image_refs(&opts());
    assert_eq!(refs[0].resolved, "img:$V-1");
}

#[test]
fn errors_render_with_location() {
    let src = "FROM busybox\n\nENV PATH\n";
    let e = parse(src).unwrap_err();
    assert_eq!((e.line(), e.col()), (3, 1));
    assert_eq!(e.to_string(), "3:1: ENV must have two arguments");
    let r = e.render("Dockerfile", src);
    assert_eq!(
        r,
        "Dockerfile:3:1: ENV must have two arguments\n  3 | ENV PATH\n    | ^^^^^^^^\n  = expected: `KEY=value` or `KEY value`\n"
    );
    let e = parse("FROM a\nRUN <<EOF\nhello\n").unwrap_err();
    assert_eq!(e.line(), 2);
    assert!(e.to_string().contains("unterminated heredoc"));
    let e = parse("# escape=x\nFROM a\n").unwrap_err();
    assert!(
        e.render("D", "# escape=x\nFROM a\n")
            .starts_with("D:1:1: invalid escape token 'x'")
    );
    let e = parse("# syntax=a\n# syntax=b\nFROM a\n").unwrap_err();
    assert_eq!(e.line(), 2);
    let e = parse("FROM a\nCMD [\"a\", 1]\n").unwrap_err();
    assert!(
        e.render("Dockerfile", "FROM a\nCMD [\"a\", 1]\n")
            .contains("expected: a JSON array of strings")
    );
    let e = parse("").unwrap_err();
    assert_eq!(e.to_string(), "1:1: file with no instructions");
}

#[test]
fn directives_are_kept() {
    let src = "# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended\nFROM a\n# escape=`\nRUN x \\\n y\n";
    let df = parse(src).unwrap();
    assert_eq!(df.directive("syntax"), Some("docker/dockerfile:1.7"));
    assert_eq!(df.directive("check"), Some("skip=JSONArgsRecommended"));
    assert_eq!(
        df.directives[0].value_span.text(src),
        "docker/dockerfile:1.7"
    );
    // A directive after an instruction is an ordinary comment.
    assert_eq!(df.escape, '\\');
    assert_eq!(df.instructions.len(), 2);
}

#[test]
fn onbuild_chains_are_bounded() {
    let df = parse("FROM a\nONBUILD ONBUILD RUN x\nONBUILD FROM b\n").unwrap();
    let a = df.analyze(&opts());
    assert_eq!(a.problems.len(), 2, "{:?}", a.problems);
    assert!(a.problems[0].message.contains("Chaining ONBUILD"));
    assert!(a.problems[1].message.contains("FROM isn't allowed"));
    // A hostile chain is an error, not a stack overflow.
    let src = format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(200_000));
    let e = parse(&src).unwrap_err();
    assert!(e.to_string().contains("ONBUILD nested deeper"), "{e}");
    // Deeply nested substitutions in FROM: a problem, not a crash.
    let src = format!("FROM {}x{}\n", "${A:-".repeat(50_000), "}".repeat(50_000));
    let a = parse(&src).unwrap().analyze(&opts());
    assert!(
        a.problems
            .iter()
            .any(|p| p.message.contains("nested deeper"))
    );
}
