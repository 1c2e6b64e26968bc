//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>).
//!
//! One package for the image (`primaryPackagePurpose: CONTAINER`), one for the OS
//! (`OPERATING-SYSTEM`) and one per installed package (`LIBRARY`), each with its purl as a
//! `PACKAGE-MANAGER` external reference. `DOCUMENT DESCRIBES` the image; the image `CONTAINS`
//! the OS and every package. Licenses are `NOASSERTION`: dpkg records none, and apk's and rpm's
//! license fields are not always SPDX expressions (CycloneDX output carries them as names).

use serde_json::{Value, json};

use crate::catalog::eol::timestamp_of;
use crate::catalog::package::DbKind;
use crate::report::Report;
use crate::sbom::{SbomOptions, image_name, image_purl, package_purl, uuid_from};

/// `Person: NAME (EMAIL)` from `NAME <EMAIL>`; `Organization:` for rpm vendors.
fn supplier(s: Option<&str>, organization: bool) -> String {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return "NOASSERTION".into();
    };
    let kind = if organization {
        "Organization"
    } else {
        "Person"
    };
    match s.split_once('<') {
        Some((name, rest)) => format!(
            "{kind}: {} ({})",
            name.trim(),
            rest.trim_end_matches('>').trim()
        ),
        None => format!("{kind}: {s}"),
    }
}

/// `SPDXRef-` ids allow letters, digits, `.` and `-`.
fn spdx_id(parts: &[&str]) -> String {
    let mut out = String::from("SPDXRef");
    for p in parts {
        out.push('-');
        out.extend(p.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        }));
    }
    out
}

fn db_source(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Dpkg => "acquired package info from the dpkg status file /var/lib/dpkg/status",
        DbKind::DpkgStatusD => "acquired package info from /var/lib/dpkg/status.d",
        DbKind::Apk => "acquired package info from the apk database /lib/apk/db/installed",
        _ => "acquired package info from the rpm database",
    }
}

/// Writes the SPDX 2.3 document for a report.
pub fn document(report: &Report, opts: &SbomOptions) -> Value {
    let (_, short) = image_name(report);
    let digest = &report.image.manifest_digest;
    let created = timestamp_of(opts.created_unix);
    let uuid = uuid_from(&format!("{}|{digest}|{created}", report.image.reference));
    let image_id = "SPDXRef-Image";
    let mut packages = vec![json!({
        "name": short,
        "SPDXID": image_id,
        "versionInfo": digest.to_string(),
        "supplier": "NOASSERTION",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "checksums": [{"algorithm": "SHA256", "checksumValue": digest.hex()}],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "description": format!("container image {} ({})", report.image.reference, report.image.platform),
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": image_purl(report),
        }],
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": image_id,
    })];
    if let Some(os) = &report.os {
        let r = &os.release;
        packages.push(json!({
            "name": r.id,
            "SPDXID": "SPDXRef-OperatingSystem",
            "versionInfo": r.version_id.clone().unwrap_or_else(|| "NOASSERTION".into()),
            "supplier": "NOASSERTION",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "description": r.pretty_name.clone().unwrap_or_else(|| r.purl_distro()),
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }));
        rels.push(json!({
            "spdxElementId": image_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    for (i, p) in report.packages.list.iter().enumerate() {
        let kind = match p.db {
            DbKind::Dpkg | DbKind::DpkgStatusD => "deb",
            DbKind::Apk => "apk",
            _ => "rpm",
        };
        let id = spdx_id(&["Package", kind, &p.name, &i.to_string()]);
        let mut pkg = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "supplier": supplier(p.supplier.as_deref(), kind == "rpm"),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "sourceInfo": db_source(p.db),
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": package_purl(p, report),
            }],
            "primaryPackagePurpose": "LIBRARY",
        });
        if let Some(l) = &p.license {
            pkg["comment"] =
                Value::String(format!("license as the package database states it: {l}"));
        }
        packages.push(pkg);
        rels.push(json!({
            "spdxElementId": image_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": report.image.reference,
        "documentNamespace": format!("https://spdx.org/spdxdocs/plinth-{}-{uuid}", spdx_id(&[&short]).trim_start_matches("SPDXRef-")),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: plinth-{}", report.generator.version)],
        },
        "packages": packages,
        "relationships": rels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppliers_and_ids() {
        assert_eq!(
            supplier(
                Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
                false
            ),
            "Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(
            supplier(Some("Red Hat, Inc."), true),
            "Organization: Red Hat, Inc."
        );
        assert_eq!(supplier(None, false), "NOASSERTION");
        assert_eq!(
            spdx_id(&["Package", "deb", "libstdc++6", "3"]),
            "SPDXRef-Package-deb-libstdc--6-3"
        );
    }
}
