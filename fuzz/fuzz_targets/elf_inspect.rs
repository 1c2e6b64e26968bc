//! ELF inspection of arbitrary bytes (every file a build adds is read) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(info) = plinth_builder::elf::inspect(data) {
        let _ = info.is_dynamic();
        let _ = info.libc();
        let _ = plinth_builder::elf::docker_arch(&info.machine);
    }
});
