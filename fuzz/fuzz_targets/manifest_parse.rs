//! Manifests and validation: arbitrary bytes never panic, accepted ones keep their bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_oci::RawManifest;
use plinth_oci::media;

fuzz_target!(|data: &[u8]| {
    for mt in [
        media::OCI_MANIFEST,
        media::OCI_INDEX,
        media::OCI_CONFIG,
        media::DOCKER_MANIFEST,
        media::DOCKER_MANIFEST_LIST,
        media::DOCKER_CONFIG,
    ] {
        let _ = plinth_oci::validate::validate(mt, data);
    }
    if let Ok(raw) = RawManifest::from_bytes(data.to_vec(), None) {
        assert_eq!(&raw.bytes()[..], data);
        assert_eq!(raw.digest(), &plinth_oci::Digest::sha256(data));
        if let Some(index) = raw.as_index() {
            let _ = index.find_platform(&plinth_oci::Platform::host());
        }
    }
    let _ = plinth_oci::ConfigFile::from_slice(data);
});
