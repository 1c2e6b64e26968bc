//! Compose interpolation of any value never panics, nor overflows the stack on deep nesting.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let lookup = |name: &str| match name.len() % 3 {
        0 => None,
        1 => Some(String::new()),
        _ => Some(format!("v{name}")),
    };
    let _ = plinth_pin::compose_env::interpolate(s, &lookup);
});
