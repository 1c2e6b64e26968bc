//! Parse + dump + references + shell expansion must never panic, and every span
//! must lie on character boundaries of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_dockerfile::{ExpandOptions, dump_buildkit, parse, shell};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if let Ok(df) = parse(src) {
        let _ = dump_buildkit(&df);
        let analysis = df.analyze(&ExpandOptions::default());
        for r in &analysis.refs {
            assert!(src.get(r.span.start..r.span.end).is_some(), "bad span {:?}", r.span);
            for d in &r.arg_deps {
                if let Some(s) = d.default_span {
                    assert!(src.get(s.start..s.end).is_some(), "bad default span {s:?}");
                }
            }
        }
        for ins in &df.instructions {
            assert!(src.get(ins.span.start..ins.span.end).is_some(), "bad instruction span {:?}", ins.span);
            for f in &ins.flags {
                assert!(src.get(f.span.start..f.span.end).is_some(), "bad flag span {:?}", f.span);
            }
        }
    } else if let Err(e) = parse(src) {
        let _ = e.render("Dockerfile", src);
    }
    let env: Vec<String> = vec!["A=a b".into(), "E=".into()];
    let _ = shell::process_word(src, &env);
    let _ = shell::process_words(src, &env);
});
