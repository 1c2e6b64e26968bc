//! References: parsing never panics, and whatever parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_reference::{Reference, parse_any};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_any(s);
    let _ = Reference::parse(s);
    let _ = Reference::parse_docker_ref(s);
    if let Ok(r) = Reference::parse_normalized(s) {
        let printed = r.to_string();
        let again = Reference::parse_normalized(&printed).expect("a printed reference parses");
        assert_eq!(again, r, "round trip of {s:?}");
        // Docker's familiar form is ambiguous where it cannot be read back: a Docker Hub path
        // whose first component looks like a domain (`docker.io/foo.io/bar` → `foo.io/bar`).
        let first = r.familiar_name();
        let first = first.split('/').next().unwrap_or("");
        if r.domain() == "docker.io"
            && r.familiar_name().contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            return;
        }
        // Docker itself refuses a familiar form that is 64 hex characters (it would read as
        // an image ID), so `docker.io/library/<64 hex>` has no usable familiar form.
        match Reference::parse_normalized(&r.familiar()) {
            Ok(f) => assert_eq!(f, r, "familiar round trip of {s:?}"),
            Err(plinth_reference::ReferenceError::HexadecimalName(_)) => {}
            Err(e) => panic!("familiar form of {s:?} does not parse: {e}"),
        }
    }
});
