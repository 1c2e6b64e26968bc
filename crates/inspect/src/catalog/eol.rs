//! End of life: a dated table of release support windows shipped with plinth.
//!
//! The table is [`TABLE_DATE`]: every date in it is what the distribution had announced by
//! then (a few far-off dates are the distribution's stated plan). A release the table does not
//! know (newer than the table, or an unusual `VERSION_ID`) is reported as `unknown`, never
//! guessed. The `as_of` date a verdict is made on is passed in (the CLI uses today's date, UTC).
//!
//! Two dates per release: `eol`, when regular (security) support ends, and `extended`, when
//! the last paid or community extension ends (Debian LTS, Ubuntu ESM, RHEL ELS, SUSE LTSS).
//! Rolling distributions (Wolfi, Chainguard, Alpine `edge`, openSUSE Tumbleweed) have no end
//! of life.

use serde::Serialize;

use crate::catalog::osrelease::OsRelease;

/// The date the table was last checked against the distributions' announcements.
pub const TABLE_DATE: &str = "2025-09-01";

/// One release line of the table.
struct Release {
    /// Distribution ids it applies to.
    ids: &'static [&'static str],
    /// The release as matched against `VERSION_ID` (a major version, `major.minor`, …).
    release: &'static str,
    /// End of regular support (YYYY-MM-DD).
    eol: &'static str,
    /// End of extended support, when there is one.
    extended: Option<&'static str>,
}

const fn r(
    ids: &'static [&'static str],
    release: &'static str,
    eol: &'static str,
    extended: Option<&'static str>,
) -> Release {
    Release {
        ids,
        release,
        eol,
        extended,
    }
}

const DEBIAN: &[&str] = &["debian", "distroless"];
const UBUNTU: &[&str] = &["ubuntu"];
const ALPINE: &[&str] = &["alpine"];
const RHEL: &[&str] = &["rhel", "ubi"];
const ROCKY: &[&str] = &["rocky"];
const ALMA: &[&str] = &["almalinux"];
const CENTOS: &[&str] = &["centos"];
const FEDORA: &[&str] = &["fedora"];
const AMZN: &[&str] = &["amzn"];
const SLES: &[&str] = &["sles", "sle-micro", "sled"];
const LEAP: &[&str] = &["opensuse-leap", "opensuse"];

/// How a distribution's `VERSION_ID` maps to a release line of the table.
#[derive(Clone, Copy)]
enum Key {
    /// The first component (`12`, `9.3` → `9`).
    Major,
    /// The first two components (`3.19.1` → `3.19`, `15.5`, `22.04`).
    MajorMinor,
    /// The whole `VERSION_ID`.
    Whole,
}

fn key_of(distro: &str) -> Key {
    match distro {
        "alpine" | "ubuntu" | "opensuse-leap" | "opensuse" => Key::MajorMinor,
        "sles" | "sle-micro" | "sled" => Key::Whole,
        _ => Key::Major,
    }
}

#[rustfmt::skip]
const TABLE: &[Release] = &[
    // Debian: https://wiki.debian.org/DebianReleases and …/LTS (distroless follows it).
    r(DEBIAN, "7", "2016-04-25", Some("2018-05-31")),
    r(DEBIAN, "8", "2018-06-17", Some("2020-06-30")),
    r(DEBIAN, "9", "2020-07-06", Some("2022-06-30")),
    r(DEBIAN, "10", "2022-09-10", Some("2024-06-30")),
    r(DEBIAN, "11", "2024-08-14", Some("2026-08-31")),
    r(DEBIAN, "12", "2026-06-10", Some("2028-06-30")),
    r(DEBIAN, "13", "2028-08-09", Some("2030-06-30")),
    // Ubuntu: standard support, then ESM (https://ubuntu.com/about/release-cycle).
    r(UBUNTU, "14.04", "2019-04-30", Some("2024-04-25")),
    r(UBUNTU, "16.04", "2021-04-30", Some("2026-04-23")),
    r(UBUNTU, "18.04", "2023-05-31", Some("2028-04-30")),
    r(UBUNTU, "20.04", "2025-05-29", Some("2030-04-30")),
    r(UBUNTU, "20.10", "2021-07-22", None),
    r(UBUNTU, "21.04", "2022-01-20", None),
    r(UBUNTU, "21.10", "2022-07-14", None),
    r(UBUNTU, "22.04", "2027-06-01", Some("2032-04-30")),
    r(UBUNTU, "22.10", "2023-07-20", None),
    r(UBUNTU, "23.04", "2024-01-25", None),
    r(UBUNTU, "23.10", "2024-07-11", None),
    r(UBUNTU, "24.04", "2029-05-31", Some("2034-04-30")),
    r(UBUNTU, "24.10", "2025-07-10", None),
    r(UBUNTU, "25.04", "2026-01-31", None),
    r(UBUNTU, "25.10", "2026-07-31", None),
    // Alpine: main repository support per branch (https://alpinelinux.org/releases/).
    r(ALPINE, "3.9", "2020-11-01", None),
    r(ALPINE, "3.10", "2021-05-01", None),
    r(ALPINE, "3.11", "2021-11-01", None),
    r(ALPINE, "3.12", "2022-05-01", None),
    r(ALPINE, "3.13", "2022-11-01", None),
    r(ALPINE, "3.14", "2023-05-01", None),
    r(ALPINE, "3.15", "2023-11-01", None),
    r(ALPINE, "3.16", "2024-05-23", None),
    r(ALPINE, "3.17", "2024-11-22", None),
    r(ALPINE, "3.18", "2025-05-09", None),
    r(ALPINE, "3.19", "2025-11-01", None),
    r(ALPINE, "3.20", "2026-04-01", None),
    r(ALPINE, "3.21", "2026-11-01", None),
    r(ALPINE, "3.22", "2027-05-01", None),
    // RHEL and UBI: end of maintenance support, then ELS (https://access.redhat.com/support/policy/updates/errata).
    r(RHEL, "6", "2020-11-30", Some("2029-06-30")),
    r(RHEL, "7", "2024-06-30", Some("2028-06-30")),
    r(RHEL, "8", "2029-05-31", Some("2032-05-31")),
    r(RHEL, "9", "2032-05-31", Some("2035-05-31")),
    r(RHEL, "10", "2035-05-31", Some("2038-05-31")),
    r(ROCKY, "8", "2029-05-31", None),
    r(ROCKY, "9", "2032-05-31", None),
    r(ROCKY, "10", "2035-05-31", None),
    r(ALMA, "8", "2029-03-01", None),
    r(ALMA, "9", "2032-05-31", None),
    r(ALMA, "10", "2035-05-31", None),
    r(CENTOS, "6", "2020-11-30", None),
    r(CENTOS, "7", "2024-06-30", None),
    r(CENTOS, "8", "2021-12-31", None),
    // Fedora: about four weeks after the release N+2 (https://docs.fedoraproject.org/en-US/releases/eol/).
    r(FEDORA, "35", "2022-12-13", None),
    r(FEDORA, "36", "2023-05-16", None),
    r(FEDORA, "37", "2023-12-05", None),
    r(FEDORA, "38", "2024-05-21", None),
    r(FEDORA, "39", "2024-11-26", None),
    r(FEDORA, "40", "2025-05-13", None),
    r(FEDORA, "41", "2025-12-15", None),
    r(FEDORA, "42", "2026-05-13", None),
    // Amazon Linux (https://aws.amazon.com/amazon-linux-2/faqs/, …/amazon-linux-2023/faqs/).
    r(AMZN, "2018", "2023-12-31", None),
    r(AMZN, "2", "2026-06-30", None),
    r(AMZN, "2023", "2029-06-30", None),
    // SLES: general support of each service pack, then LTSS (https://www.suse.com/lifecycle/).
    r(SLES, "12.5", "2024-10-31", Some("2027-10-31")),
    r(SLES, "15.3", "2022-12-31", Some("2025-12-31")),
    r(SLES, "15.4", "2023-12-31", Some("2026-12-31")),
    r(SLES, "15.5", "2024-12-31", Some("2027-12-31")),
    r(SLES, "15.6", "2025-12-31", Some("2028-12-31")),
    r(SLES, "15.7", "2031-07-31", Some("2034-07-31")),
    // openSUSE Leap (https://en.opensuse.org/Lifetime).
    r(LEAP, "15.3", "2022-12-31", None),
    r(LEAP, "15.4", "2023-12-31", None),
    r(LEAP, "15.5", "2024-12-31", None),
    r(LEAP, "15.6", "2026-04-30", None),
];

/// Distributions without releases that end: always current while updated.
const ROLLING: &[&str] = &[
    "wolfi",
    "chainguard",
    "opensuse-tumbleweed",
    "arch",
    "gentoo",
];

/// The support state of an OS release on a given date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    /// Within regular support.
    Supported,
    /// Past regular support, within extended support (LTS, ESM, ELS, LTSS).
    Extended,
    /// Past every support window the table knows.
    EndOfLife,
    /// A rolling distribution: no end of life while it is updated.
    Rolling,
    /// The table does not know this release.
    Unknown,
}

/// The end-of-life verdict for an OS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EolStatus {
    /// The verdict on `as_of`.
    pub status: Support,
    /// The release line matched (`12`, `3.19`, `22.04`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// End of regular support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eol: Option<String>,
    /// End of extended support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_eol: Option<String>,
    /// The date the verdict is for (YYYY-MM-DD).
    pub as_of: String,
    /// The date of plinth's table ([`TABLE_DATE`]).
    pub table_date: String,
}

fn release_key(version_id: &str, key: Key) -> String {
    let mut parts = version_id.split('.');
    match key {
        Key::Whole => version_id.to_string(),
        Key::Major => parts.next().unwrap_or("").to_string(),
        Key::MajorMinor => match (parts.next(), parts.next()) {
            (Some(a), Some(b)) => format!("{a}.{b}"),
            (Some(a), None) => a.to_string(),
            _ => String::new(),
        },
    }
}

/// The end-of-life verdict for `os` on the date `as_of` (`YYYY-MM-DD`).
pub fn status(os: &OsRelease, as_of: &str) -> EolStatus {
    let mut out = EolStatus {
        status: Support::Unknown,
        release: None,
        eol: None,
        extended_eol: None,
        as_of: as_of.to_string(),
        table_date: TABLE_DATE.to_string(),
    };
    let distro = os.distro.as_str();
    let version = os.version_id.as_deref().unwrap_or("");
    if ROLLING.contains(&distro)
        || ROLLING.contains(&os.id.as_str())
        || (distro == "alpine" && (version.contains("edge") || version.contains("_alpha")))
    {
        out.status = Support::Rolling;
        return out;
    }
    // Amazon Linux 1 says VERSION_ID="2018.03".
    let key = if distro == "amzn" && version.starts_with("2018") {
        "2018".to_string()
    } else if distro == "sles" && !version.contains('.') {
        // "12" without a service pack is SP0: not in the table.
        version.to_string()
    } else {
        release_key(version, key_of(distro))
    };
    let Some(rel) = TABLE
        .iter()
        .find(|rel| rel.ids.contains(&distro) && rel.release == key)
    else {
        out.release = (!key.is_empty()).then_some(key);
        return out;
    };
    out.release = Some(rel.release.to_string());
    out.eol = Some(rel.eol.to_string());
    out.extended_eol = rel.extended.map(str::to_string);
    // ISO dates order as strings.
    out.status = if as_of < rel.eol {
        Support::Supported
    } else if rel.extended.is_some_and(|e| as_of < e) {
        Support::Extended
    } else {
        Support::EndOfLife
    };
    out
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    date_of(secs)
}

/// The UTC date of a Unix time as `YYYY-MM-DD`.
pub fn date_of(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC timestamp of a Unix time (`2024-01-02T03:04:05Z`).
pub fn timestamp_of(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_of(unix),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::osrelease::{from_pairs, parse_pairs};

    fn os(text: &str) -> OsRelease {
        from_pairs(parse_pairs(text), "/etc/os-release").unwrap()
    }

    #[test]
    fn debian_windows() {
        let bookworm = os("ID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(status(&bookworm, "2025-01-01").status, Support::Supported);
        let s = status(&bookworm, "2026-11-29");
        assert_eq!(s.status, Support::Extended);
        assert_eq!(s.eol.as_deref(), Some("2026-06-10"));
        assert_eq!(s.table_date, TABLE_DATE);
        assert_eq!(status(&bookworm, "2029-01-01").status, Support::EndOfLife);
        let buster = os("ID=debian\nVERSION_ID=\"10\"\n");
        assert_eq!(status(&buster, "2025-01-01").status, Support::EndOfLife);
    }

    #[test]
    fn keys_per_distro() {
        let alpine = os("ID=alpine\nVERSION_ID=3.19.1\n");
        let s = status(&alpine, "2025-01-01");
        assert_eq!(s.release.as_deref(), Some("3.19"));
        assert_eq!(s.status, Support::Supported);
        assert_eq!(
            status(
                &os("ID=alpine\nVERSION_ID=3.21_alpha20240807\n"),
                "2025-01-01"
            )
            .status,
            Support::Rolling
        );
        let ubi = os("ID=\"rhel\"\nVERSION_ID=\"9.3\"\n");
        assert_eq!(status(&ubi, "2025-01-01").release.as_deref(), Some("9"));
        assert_eq!(
            status(&os("ID=ubuntu\nVERSION_ID=\"22.04\"\n"), "2025-01-01").status,
            Support::Supported
        );
        assert_eq!(
            status(&os("ID=wolfi\nVERSION_ID=20230201\n"), "2025-01-01").status,
            Support::Rolling
        );
        assert_eq!(
            status(&os("ID=amzn\nVERSION_ID=\"2018.03\"\n"), "2025-01-01").status,
            Support::EndOfLife
        );
        assert_eq!(
            status(&os("ID=\"sles\"\nVERSION_ID=\"15.5\"\n"), "2025-01-01").status,
            Support::Extended
        );
        let unknown = status(&os("ID=debian\nVERSION_ID=\"99\"\n"), "2025-01-01");
        assert_eq!(unknown.status, Support::Unknown);
        assert_eq!(unknown.release.as_deref(), Some("99"));
        let distroless = os("PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"11\"\n");
        assert_eq!(status(&distroless, "2025-01-01").status, Support::Extended);
    }

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(1_700_000_000), "2023-11-14");
        assert_eq!(timestamp_of(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(date_of(951_782_400), "2000-02-29");
        assert_eq!(today().len(), 10);
    }
}
