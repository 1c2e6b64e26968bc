//! Unit tests of the key behaviours; the shared corpus (tests/corpus.rs)
//! checks agreement with Docker case by case.

use super::*;

const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const HEX: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn n(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn official_image_familiar_forms() {
    let r = n("python:3.12-slim");
    assert_eq!(r.domain(), "docker.io");
    assert_eq!(r.path(), "library/python");
    assert_eq!(r.name(), "docker.io/library/python");
    assert_eq!(r.tag(), Some("3.12-slim"));
    assert_eq!(r.digest(), None);
    assert_eq!(r.to_string(), "docker.io/library/python:3.12-slim");
    assert_eq!(r.familiar_name(), "python");
    assert_eq!(r.familiar(), "python:3.12-slim");
    assert!(r.is_docker_hub());
    assert_eq!(r.registry_host(), "registry-1.docker.io");

    let r = n("python");
    assert_eq!(r.to_string(), "docker.io/library/python");
    assert_eq!(r.tag(), None);
    assert_eq!(r.tag_or_latest(), "latest");
    assert_eq!(r.manifest_reference(), "latest");
    assert_eq!(r.familiar(), "python");
}

#[test]
fn user_images_and_nested_library() {
    let r = n("user/app:1");
    assert_eq!(r.to_string(), "docker.io/user/app:1");
    assert_eq!(r.familiar(), "user/app:1");

    // `library/` is only dropped when nothing nested follows it.
    let r = n("docker.io/library/foo/bar");
    assert_eq!(r.familiar_name(), "library/foo/bar");
    let r = n("library/foo");
    assert_eq!(r.to_string(), "docker.io/library/foo");
    assert_eq!(r.familiar_name(), "foo");
}

#[test]
fn index_docker_io_is_docker_io() {
    assert_eq!(
        n("index.docker.io/foo").to_string(),
        "docker.io/library/foo"
    );
    assert_eq!(
        n("index.docker.io/user/app:tag").to_string(),
        "docker.io/user/app:tag"
    );
    assert_eq!(n("docker.io/foo").to_string(), "docker.io/library/foo");
    // Plain parse does not normalize.
    let p = Reference::parse("index.docker.io/foo").unwrap();
    assert_eq!(p.domain(), "index.docker.io");
    assert_eq!(p.path(), "foo");
}

#[test]
fn localhost_and_ports() {
    let r = n("localhost:5000/x");
    assert_eq!(r.domain(), "localhost:5000");
    assert_eq!(r.path(), "x");
    assert_eq!(r.familiar(), "localhost:5000/x");
    assert_eq!(r.registry_host(), "localhost:5000");
    assert!(!r.is_docker_hub());

    let r = n("localhost/x:1");
    assert_eq!(r.domain(), "localhost");
    assert_eq!(r.tag(), Some("1"));

    // Without a slash, `localhost:5000` is an image with a tag.
    let r = n("localhost:5000");
    assert_eq!(r.to_string(), "docker.io/library/localhost:5000");
    assert_eq!(r.tag(), Some("5000"));

    // A first element without '.' or ':' is a Docker Hub namespace.
    assert_eq!(n("myhost/x").to_string(), "docker.io/myhost/x");
    assert_eq!(n("127.0.0.1:5000/a/b").domain(), "127.0.0.1:5000");
}

#[test]
fn ipv6_hosts() {
    let r = n("[::1]:5000/x");
    assert_eq!(r.domain(), "[::1]:5000");
    assert_eq!(r.path(), "x");
    assert_eq!(r.registry_host(), "[::1]:5000");
    let r = n("[2001:db8::1]/repo:tag");
    assert_eq!(r.domain(), "[2001:db8::1]");
    assert_eq!(r.tag(), Some("tag"));
    for bad in [
        "[::1]:5000",
        "[::1]",
        "[fe80::1%eth0]:5000/x",
        "[::1]:port/x",
    ] {
        assert!(Reference::parse_normalized(bad).is_err(), "{bad}");
    }
}

#[test]
fn uppercase_rules() {
    // An uppercase first element is a domain, and domains may have capitals.
    let r = n("Foo/bar");
    assert_eq!(r.domain(), "Foo");
    assert_eq!(r.path(), "bar");
    assert_eq!(n("Example.COM/x").domain(), "Example.COM");
    // Tags may have capitals.
    assert_eq!(n("foo:TAG").tag(), Some("TAG"));

    assert_eq!(
        Reference::parse_normalized("Foo"),
        Err(ReferenceError::UppercaseRepository("library/Foo".into()))
    );
    let e = Reference::parse_normalized("foo/Bar").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid reference format: repository name (foo/Bar) must be lowercase"
    );
    assert_eq!(
        Reference::parse_normalized("test:5000/Up/low:tag"),
        Err(ReferenceError::UppercaseRepository("Up/low".into()))
    );
    assert_eq!(
        Reference::parse("Foo"),
        Err(ReferenceError::NameContainsUppercase)
    );
    assert_eq!(Reference::parse("Foo!"), Err(ReferenceError::InvalidFormat));
}

#[test]
fn tag_and_digest_together() {
    let s = format!("registry.com:8080/app:v1@{D}");
    let r = n(&s);
    assert_eq!(r.tag(), Some("v1"));
    assert_eq!(r.digest(), Some(D));
    assert_eq!(r.to_string(), s);
    assert_eq!(r.manifest_reference(), D);
    assert_eq!(r.tag_or_latest(), "v1");
    let dr = Reference::parse_docker_ref(&s).unwrap();
    assert_eq!(dr.to_string(), format!("registry.com:8080/app@{D}"));

    let r = n(&format!("busybox:latest@{D}"));
    assert_eq!(r.familiar(), format!("busybox:latest@{D}"));
    assert_eq!(r.without_tag().familiar(), format!("busybox@{D}"));
    assert_eq!(r.without_digest().familiar(), "busybox:latest");
}

#[test]
fn docker_ref_adds_latest() {
    let r = Reference::parse_docker_ref("alpine").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
    let r = Reference::parse_docker_ref("alpine:3").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/alpine:3");
    assert_eq!(n("alpine").tag_name_only().tag(), Some("latest"));
}

#[test]
fn hex_names_and_parse_any() {
    assert_eq!(
        Reference::parse_normalized(HEX),
        Err(ReferenceError::HexadecimalName(HEX.into()))
    );
    assert_eq!(
        parse_any(HEX),
        Ok(AnyReference::Digest(format!("sha256:{HEX}")))
    );
    assert_eq!(parse_any(D), Ok(AnyReference::Digest(D.into())));
    assert_eq!(parse_any(D).unwrap().digest(), Some(D));
    // A digest alone is a name with a tag to the normalizer.
    assert_eq!(n(D).to_string(), format!("docker.io/library/sha256:{HEX}"));
    let a = parse_any("python").unwrap();
    assert_eq!(a.as_named().unwrap().familiar(), "python");
    assert_eq!(a.to_string(), "docker.io/library/python");
    // A prefixed hex name is fine.
    assert_eq!(
        n(&format!("docker.io/{HEX}")).path(),
        format!("library/{HEX}")
    );
}

#[test]
fn parse_named_requires_canonical() {
    assert!(Reference::parse_named("docker.io/library/python:3").is_ok());
    assert_eq!(
        Reference::parse_named("python:3"),
        Err(ReferenceError::NameNotCanonical)
    );
}

#[test]
fn digest_errors() {
    assert_eq!(
        Reference::parse_normalized("repo@sha256:ffffffffffffffffffffffffffffffffff"),
        Err(ReferenceError::DigestLength)
    );
    assert_eq!(
        Reference::parse_normalized(&format!("repo@foo:{HEX}")),
        Err(ReferenceError::DigestUnsupported)
    );
    assert_eq!(
        Reference::parse_normalized("repo@sha256:abc"),
        Err(ReferenceError::InvalidFormat)
    );
    let sha512 = format!("sha512:{}", "0".repeat(128));
    assert_eq!(n(&format!("repo@{sha512}")).digest(), Some(sha512.as_str()));
}

#[test]
fn length_limit_is_on_the_path() {
    let path = "a".repeat(255);
    assert!(Reference::parse(&format!("example.com/{path}")).is_ok());
    assert_eq!(
        Reference::parse(&format!("example.com/{path}a")),
        Err(ReferenceError::NameTooLong)
    );
    // Normalization adds `library/`, which counts.
    assert_eq!(
        Reference::parse_normalized(&"a".repeat(250)),
        Err(ReferenceError::NameTooLong)
    );
}

#[test]
fn with_and_without() {
    let r = n("alpine");
    let t = r.with_tag("3.20").unwrap();
    assert_eq!(t.to_string(), "docker.io/library/alpine:3.20");
    assert_eq!(r.with_tag("-bad"), Err(ReferenceError::TagFormat));
    assert_eq!(r.with_tag(""), Err(ReferenceError::TagFormat));
    assert_eq!(r.with_tag(&"a".repeat(129)), Err(ReferenceError::TagFormat));

    let d = t.with_digest(D).unwrap();
    assert_eq!(d.to_string(), format!("docker.io/library/alpine:3.20@{D}"));
    assert_eq!(
        d.without_tag().to_string(),
        format!("docker.io/library/alpine@{D}")
    );
    assert_eq!(d.without_digest(), t);
    assert_eq!(
        r.with_digest("sha256:xyz"),
        Err(ReferenceError::DigestFormat)
    );
    assert_eq!(
        r.with_digest(&format!("sha256:{}", "a".repeat(32))),
        Err(ReferenceError::DigestLength)
    );
    assert_eq!(
        r.with_digest(&format!("sha256:{}", "A".repeat(64))),
        Err(ReferenceError::ChecksumFormat)
    );
}

#[test]
fn plain_parse_keeps_input_shape() {
    let r = Reference::parse("python").unwrap();
    assert_eq!(r.domain(), "");
    assert_eq!(r.name(), "python");
    assert_eq!(r.familiar(), "python");
    assert_eq!(r.registry_host(), "registry-1.docker.io");
    let r = Reference::parse("library/foo/bar").unwrap();
    assert_eq!(r.domain(), "library");
    assert_eq!(r.path(), "foo/bar");
    assert_eq!(Reference::parse(""), Err(ReferenceError::NameEmpty));
    assert_eq!(
        Reference::parse_normalized(""),
        Err(ReferenceError::InvalidFormat)
    );
}

#[test]
fn parts_and_serde() {
    let r = n("python:3.12-slim");
    let v = serde_json::to_value(r.parts()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "string": "docker.io/library/python:3.12-slim",
            "name": "docker.io/library/python",
            "domain": "docker.io",
            "path": "library/python",
            "tag": "3.12-slim",
            "familiar": "python:3.12-slim",
            "familiar_name": "python",
        })
    );
    let s = serde_json::to_string(&r).unwrap();
    assert_eq!(s, "\"docker.io/library/python:3.12-slim\"");
    let back: Reference = serde_json::from_str(&s).unwrap();
    assert_eq!(back, r);
    assert!(serde_json::from_str::<Reference>("\"Bad\"").is_err());
}

#[test]
fn display_round_trips_through_parse_normalized() {
    for s in [
        "python",
        "user/app:1",
        "ghcr.io/o/r:1",
        "[::1]:5000/x",
        "localhost/x",
        "docker.io/library/foo/bar",
    ] {
        let r = n(s);
        assert_eq!(n(&r.to_string()), r, "{s}");
        assert_eq!(n(&r.familiar()), r, "{s}");
    }
}

#[test]
fn never_panics_on_odd_input() {
    let long = "a/".repeat(300);
    let odd: Vec<String> = [
        "",
        " ",
        "\n",
        "\0",
        ":",
        "@",
        "/",
        "//",
        ":/",
        "@:",
        "a@",
        "a:",
        "a@@b",
        "a::b",
        "[",
        "]",
        "[]",
        "[]/a",
        "[:]/a",
        "[::1",
        "[::1]/",
        "a/:b",
        "a@sha256:",
        "@sha256:",
        "sha256:",
        "İmage",
        "\u{212A}ube",
        "ΣΑΣ/x",
        "日本/語",
        "🐳:latest",
        "a\u{301}",
        "é/x:tag",
        "localhost:/x",
        "a:99999999999999999999999/x",
        "a/b@sha256:€",
        "a:b@c:d@e",
        "x:ta\u{0}g",
        "\u{feff}python",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        long.clone(),
        format!("{long}:{}", "t".repeat(300)),
        format!("a@sha256:{}", "f".repeat(10_000)),
        "-".repeat(1000),
        format!("{HEX}{HEX}"),
    ])
    .collect();
    for s in &odd {
        for r in [
            Reference::parse(s),
            Reference::parse_normalized(s),
            Reference::parse_named(s),
            Reference::parse_docker_ref(s),
        ]
        .into_iter()
        .flatten()
        {
            let _ = (r.familiar(), r.parts(), r.to_string(), r.registry_host());
            let _ = (r.with_tag(s), r.with_digest(s));
        }
        let _ = parse_any(s).map(|a| a.to_string());
        let _ = s.parse::<Reference>();
    }
}
