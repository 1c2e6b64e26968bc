//! `WWW-Authenticate` headers and registries.toml never panic the parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = plinth_registry::challenge::parse(s);
        if let Ok(c) = plinth_registry::RegistriesConfig::from_toml(s) {
            let _ = c.pull_endpoints("docker.io", "library/python");
            let _ = c.is_insecure("example.com:5000");
        }
        let _ = plinth_registry::config::is_loopback(s);
    }
});
