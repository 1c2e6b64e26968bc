//! CycloneDX 1.5 JSON (<https://cyclonedx.org/docs/1.5/json/>).
//!
//! `metadata.component` is the image (`type: container`); the OS is an `operating-system`
//! component and every installed package a `library` component with its purl as `bom-ref`
//! and `purl`, its license as the database states it (`licenses[].license.name`), and
//! `plinth:*` properties for architecture, source package, installed size and database.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::catalog::eol::timestamp_of;
use crate::catalog::package::DbKind;
use crate::report::Report;
use crate::sbom::{SbomOptions, image_name, image_purl, package_purl, uuid_from};

fn db_name(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Dpkg => "dpkg",
        DbKind::DpkgStatusD => "dpkg-status.d",
        DbKind::Apk => "apk",
        DbKind::RpmSqlite => "rpm-sqlite",
        DbKind::RpmBdb => "rpm-bdb",
        DbKind::RpmNdb => "rpm-ndb",
    }
}

/// Writes the CycloneDX 1.5 BOM for a report.
pub fn document(report: &Report, opts: &SbomOptions) -> Value {
    let (_, short) = image_name(report);
    let digest = &report.image.manifest_digest;
    let created = timestamp_of(opts.created_unix);
    let serial = uuid_from(&format!("{}|{digest}|{created}", report.image.reference));
    let image_ref = image_purl(report);
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(os) = &report.os {
        let r = &os.release;
        let mut c = json!({
            "bom-ref": "os",
            "type": "operating-system",
            "name": r.id,
        });
        if let Some(v) = &r.version_id {
            c["version"] = json!(v);
        }
        if let Some(p) = &r.pretty_name {
            c["description"] = json!(p);
        }
        refs.push("os".to_string());
        components.push(c);
    }
    let mut seen = HashSet::new();
    for (i, p) in report.packages.list.iter().enumerate() {
        let purl = package_purl(p, report);
        let bom_ref = if seen.insert(purl.clone()) {
            purl.clone()
        } else {
            format!("{purl}#{i}")
        };
        let mut props = vec![json!({"name": "plinth:package:db", "value": db_name(p.db)})];
        if let Some(a) = &p.arch {
            props.push(json!({"name": "plinth:package:arch", "value": a}));
        }
        if let Some(s) = &p.source {
            props.push(json!({"name": "plinth:package:source", "value": s}));
        }
        if let Some(v) = &p.source_version {
            props.push(json!({"name": "plinth:package:source-version", "value": v}));
        }
        if let Some(n) = p.installed_size {
            props.push(json!({"name": "plinth:package:installed-size", "value": n.to_string()}));
        }
        let mut c = json!({
            "bom-ref": bom_ref,
            "type": "library",
            "name": p.name,
            "version": p.version,
            "purl": purl,
        });
        if let Some(s) = &p.supplier {
            c["publisher"] = json!(s);
        }
        if let Some(l) = &p.license {
            c["licenses"] = json!([{"license": {"name": l}}]);
        }
        c["properties"] = Value::Array(props);
        refs.push(bom_ref);
        components.push(c);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "plinth",
                    "version": report.generator.version,
                }],
            },
            "component": {
                "bom-ref": image_ref,
                "type": "container",
                "name": short,
                "version": digest.to_string(),
                "description": format!("{} ({})", report.image.reference, report.image.platform),
                "hashes": [{"alg": "SHA-256", "content": digest.hex()}],
                "purl": image_ref,
            },
        },
        "components": components,
        "dependencies": [{"ref": image_ref, "dependsOn": refs}],
    })
}
