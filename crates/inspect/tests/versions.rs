//! Version ordering checked against the reference implementations' own test data
//! (dpkg, apt, rpm, apk-tools), read from the shared corpora.
//!
//! The corpora are found at `$PLINTH_CORPORA`, or else at `shared/corpora` beside the
//! repository. A missing corpus is a failure, not a skip. Every case of a file is run and
//! all failures are reported together.

use std::cmp::Ordering;
use std::path::PathBuf;

use plinth_inspect::version::{
    self, ApkOp, ApkVersion, DebVersion, Ecosystem, RpmEvr, apk, rpmvercmp,
};

fn corpora() -> PathBuf {
    match std::env::var_os("PLINTH_CORPORA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpora"
        )),
    }
}

fn read(rel: &str) -> String {
    let path = corpora().join("versions").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "corpus file {} is missing or unreadable ({e}); set PLINTH_CORPORA to the \
             shared corpora directory",
            path.display()
        )
    })
}

/// Collects the outcome of every case of one corpus file.
struct Report {
    name: &'static str,
    cases: usize,
    failures: Vec<String>,
}

impl Report {
    fn new(name: &'static str) -> Self {
        Report {
            name,
            cases: 0,
            failures: Vec::new(),
        }
    }

    /// Records one case; `problems` empty means it passed.
    fn case(&mut self, line: usize, text: &str, problems: Vec<String>) {
        self.cases += 1;
        if !problems.is_empty() {
            self.failures
                .push(format!("line {line}: {text:?}: {}", problems.join("; ")));
        }
    }

    fn finish(self, expected_cases: usize) {
        let failed = self.failures.len();
        println!(
            "{}: {} passed, {} failed",
            self.name,
            self.cases - failed,
            failed
        );
        assert!(
            self.failures.is_empty(),
            "{}: {failed} of {} cases failed:\n{}",
            self.name,
            self.cases,
            self.failures.join("\n")
        );
        assert_eq!(
            self.cases, expected_cases,
            "{}: expected {expected_cases} cases, read {}",
            self.name, self.cases
        );
    }
}

/// Data lines with their 1-based line numbers: blank lines and `#` comments skipped, a
/// trailing ` # comment` cut off.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = match line.find('#') {
            Some(pos) => &line[..pos],
            None => line,
        };
        let line = line.trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

fn ordering(n: &str) -> Ordering {
    match n {
        "-1" => Ordering::Less,
        "0" => Ordering::Equal,
        "1" => Ordering::Greater,
        _ => panic!("bad expected result {n:?}"),
    }
}

/// Checks `cmp(a, b) == expected` and `cmp(b, a) == expected.reverse()`.
fn check_pair<E: std::fmt::Debug>(
    problems: &mut Vec<String>,
    label: &str,
    a: &str,
    b: &str,
    expected: Ordering,
    cmp: impl Fn(&str, &str) -> Result<Ordering, E>,
) {
    match cmp(a, b) {
        Ok(got) if got == expected => {}
        other => problems.push(format!("{label}({a}, {b}) = {other:?}, want {expected:?}")),
    }
    match cmp(b, a) {
        Ok(got) if got == expected.reverse() => {}
        other => problems.push(format!(
            "{label}({b}, {a}) = {other:?}, want {:?} (antisymmetry)",
            expected.reverse()
        )),
    }
}

fn check_dpkg_pair(problems: &mut Vec<String>, a: &str, b: &str, expected: Ordering) {
    check_pair(problems, "compare(Dpkg)", a, b, expected, |a, b| {
        version::compare(Ecosystem::Dpkg, a, b)
    });
    check_pair(problems, "DebVersion::cmp", a, b, expected, |a, b| {
        let (a, _) = DebVersion::parse_lenient(a)?;
        let (b, _) = DebVersion::parse_lenient(b)?;
        Ok::<_, version::VersionError>(a.cmp(&b))
    });
}

#[test]
fn dpkg_version_t_data() {
    // dpkg 1.21 refuses these as bad syntax; either refusing them or the listed result is
    // right.
    const REFUSED_BY_DPKG: [&str; 2] = ["0foo-", "-0.6.5"];
    let text = read("dpkg/Dpkg_Version.t.DATA");
    let mut report = Report::new("dpkg/Dpkg_Version.t.DATA");
    for (line, data) in data_lines(&text) {
        let f: Vec<&str> = data.split_whitespace().collect();
        let mut problems = Vec::new();
        if let [a, b, want] = f[..] {
            let refused = version::compare(Ecosystem::Dpkg, a, b).is_err()
                || version::compare(Ecosystem::Dpkg, b, a).is_err();
            if refused {
                if !REFUSED_BY_DPKG.contains(&a) && !REFUSED_BY_DPKG.contains(&b) {
                    problems.push(format!(
                        "refused: {:?}",
                        version::compare(Ecosystem::Dpkg, a, b)
                    ));
                }
            } else {
                check_dpkg_pair(&mut problems, a, b, ordering(want));
            }
        } else {
            problems.push("expected `a b result`".into());
        }
        report.case(line, data, problems);
    }
    report.finish(44);
}

#[test]
fn apt_versions_lst() {
    let text = read("dpkg/apt-versions.lst");
    let mut report = Report::new("dpkg/apt-versions.lst");
    for (line, data) in data_lines(&text) {
        let f: Vec<&str> = data.split_whitespace().collect();
        let mut problems = Vec::new();
        if let [a, b, want] = f[..] {
            check_dpkg_pair(&mut problems, a, b, ordering(want));
        } else {
            problems.push("expected `a b result`".into());
        }
        report.case(line, data, problems);
    }
    report.finish(64);
}

#[test]
fn dpkg_t_version_parse() {
    let text = read("dpkg/t-version-parse.jsonl");
    let mut report = Report::new("dpkg/t-version-parse.jsonl");
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let case: serde_json::Value = serde_json::from_str(raw).expect("valid JSON line");
        let input = case["input"].as_str().expect("input");
        let expect = case["expect"].as_str().expect("expect");
        let strict = DebVersion::parse(input);
        let lenient = DebVersion::parse_lenient(input);
        let mut problems = Vec::new();
        match expect {
            "ok" => match &strict {
                Ok(v) => {
                    let want = (
                        case["epoch"].as_u64().expect("epoch"),
                        case["upstream"].as_str().expect("upstream"),
                        case["revision"].as_str().expect("revision"),
                    );
                    let got = (u64::from(v.epoch()), v.upstream(), v.revision());
                    if got != want {
                        problems.push(format!("parsed as {got:?}, want {want:?}"));
                    }
                }
                Err(e) => problems.push(format!("refused: {e}")),
            },
            "error" => {
                match &strict {
                    Err(e) if !e.is_warning() => {}
                    other => problems.push(format!("strict: {other:?}, want a hard error")),
                }
                if let Ok(v) = &lenient {
                    problems.push(format!("lenient accepted {v:?}, want a hard error"));
                }
            }
            "warn" => {
                match &strict {
                    Err(e) if e.is_warning() => {}
                    other => problems.push(format!("strict: {other:?}, want a warning")),
                }
                match &lenient {
                    Ok((_, Some(_))) => {}
                    other => problems.push(format!("lenient: {other:?}, want Ok + warning")),
                }
            }
            other => problems.push(format!("unknown expectation {other:?}")),
        }
        report.case(i + 1, input, problems);
    }
    report.finish(79);
}

#[test]
fn rpm_rpmvercmp_tsv() {
    let text = read("rpm/rpmvercmp.tsv");
    let mut report = Report::new("rpm/rpmvercmp.tsv");
    for (i, raw) in text.lines().enumerate() {
        if raw.is_empty() {
            continue;
        }
        let f: Vec<&str> = raw.split('\t').collect();
        let mut problems = Vec::new();
        if let [a, b, want] = f[..] {
            let want = ordering(want.trim());
            check_pair(&mut problems, "rpmvercmp", a, b, want, |a, b| {
                Ok::<_, ()>(rpmvercmp(a, b))
            });
            check_pair(&mut problems, "RpmEvr::cmp", a, b, want, |a, b| {
                Ok::<_, version::VersionError>(RpmEvr::parse(a)?.cmp(&RpmEvr::parse(b)?))
            });
            check_pair(&mut problems, "compare(Rpm)", a, b, want, |a, b| {
                version::compare(Ecosystem::Rpm, a, b)
            });
        } else {
            problems.push("expected `a<TAB>b<TAB>result`".into());
        }
        report.case(i + 1, raw, problems);
    }
    report.finish(91);
}

#[test]
fn apk_version_data() {
    let text = read("apk/version.data");
    let mut report = Report::new("apk/version.data");
    for (line, data) in data_lines(&text) {
        let f: Vec<&str> = data.split_whitespace().collect();
        let mut problems = Vec::new();
        match f[..] {
            [single] => match single.strip_prefix('!') {
                Some(bad) => {
                    if apk::is_valid(bad) || ApkVersion::parse(bad).is_ok() {
                        problems.push(format!("{bad:?} accepted, want invalid"));
                    }
                }
                None => {
                    if let Err(e) = ApkVersion::parse(single) {
                        problems.push(format!("refused: {e}"));
                    }
                    if !apk::is_valid(single) {
                        problems.push("is_valid is false".into());
                    }
                }
            },
            [a, op, b] => match ApkOp::parse(op) {
                Ok(parsed) => {
                    if !parsed.matches_str(a, b) {
                        problems.push(format!(
                            "{a} {op} {b} does not hold (compare = {:?}, fuzzy = {:?})",
                            apk::compare(a, b),
                            apk::compare_fuzzy(a, b)
                        ));
                    }
                    let exact = match op {
                        "<" => Some(Ordering::Less),
                        "=" => Some(Ordering::Equal),
                        ">" => Some(Ordering::Greater),
                        _ => None,
                    };
                    if let Some(want) = exact {
                        check_pair(&mut problems, "apk::compare", a, b, want, |a, b| {
                            Ok::<_, ()>(apk::compare(a, b))
                        });
                        if apk::is_valid(a) && apk::is_valid(b) {
                            check_pair(&mut problems, "ApkVersion::cmp", a, b, want, |a, b| {
                                Ok::<_, version::VersionError>(
                                    ApkVersion::parse(a)?.cmp(&ApkVersion::parse(b)?),
                                )
                            });
                            check_pair(&mut problems, "compare(Apk)", a, b, want, |a, b| {
                                version::compare(Ecosystem::Apk, a, b)
                            });
                        }
                    } else {
                        // Antisymmetry of the plain order for fuzzy lines too.
                        let (ab, ba) = (apk::compare(a, b), apk::compare(b, a));
                        if ab != ba.reverse() {
                            problems.push(format!(
                                "compare({a}, {b}) = {ab:?} but compare({b}, {a}) = {ba:?}"
                            ));
                        }
                    }
                }
                Err(e) => problems.push(e.to_string()),
            },
            _ => problems.push("expected `v1 OP v2`, `version` or `!version`".into()),
        }
        report.case(line, data, problems);
    }
    report.finish(APK_CASES);
}

/// Non-comment, non-blank lines of `apk/version.data`.
const APK_CASES: usize = 785;

/// Every version string of the comparison corpora of one ecosystem.
fn pool(ecosystem: Ecosystem) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    match ecosystem {
        Ecosystem::Dpkg => {
            for file in ["dpkg/Dpkg_Version.t.DATA", "dpkg/apt-versions.lst"] {
                let text = read(file);
                for (_, data) in data_lines(&text) {
                    for v in data.split_whitespace().take(2) {
                        if DebVersion::parse_lenient(v).is_ok() {
                            add(v);
                        }
                    }
                }
            }
        }
        Ecosystem::Rpm => {
            for raw in read("rpm/rpmvercmp.tsv").lines() {
                for v in raw.split('\t').take(2) {
                    add(v);
                }
            }
        }
        Ecosystem::Apk => {
            let text = read("apk/version.data");
            for (_, data) in data_lines(&text) {
                let f: Vec<&str> = data.split_whitespace().collect();
                if let [a, _, b] = f[..] {
                    for v in [a, b] {
                        if apk::is_valid(v) {
                            add(v);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Over every pair of corpus versions of each ecosystem: `compare(b, a)` is the reverse of
/// `compare(a, b)`, and sorting gives a sequence in which no earlier version is greater than
/// a later one (which a non-transitive order would break).
#[test]
fn corpus_versions_are_totally_ordered() {
    for ecosystem in Ecosystem::ALL {
        let mut versions = pool(ecosystem);
        assert!(versions.len() > 20, "{ecosystem}: pool too small");
        let cmp = |a: &str, b: &str| ecosystem.compare(a, b).expect("pool holds valid versions");
        let mut failures = Vec::new();
        for a in &versions {
            for b in &versions {
                let (ab, ba) = (cmp(a, b), cmp(b, a));
                if ab != ba.reverse() {
                    failures.push(format!("{a} vs {b}: {ab:?} but reversed {ba:?}"));
                }
            }
        }
        versions.sort_by(|a, b| cmp(a, b));
        for (i, a) in versions.iter().enumerate() {
            for b in &versions[i + 1..] {
                if cmp(a, b) == Ordering::Greater {
                    failures.push(format!("sorted {a} before {b} but {a} > {b}"));
                }
            }
        }
        println!(
            "{ecosystem}: {} versions, {} pairs checked, {} failed",
            versions.len(),
            versions.len() * versions.len(),
            failures.len()
        );
        assert!(failures.is_empty(), "{ecosystem}: {}", failures.join("\n"));
    }
}
