//! The loader never panics, whatever the input: arbitrary text, YAML-ish text, and mutations
//! of the reference mapping.

use mapsync::mapping::env::Env;
use mapsync::mapping::{EnvMode, load_str};
use proptest::prelude::*;

const REFERENCE: &str = include_str!("../../mappings/hubspot.yaml");

fn load(src: &str) {
    let env = Env::from_map([("TTE_API_KEY", "k")]);
    let loaded = load_str(src, "fuzz.yaml", &env, EnvMode::Strict);
    // Every diagnostic is located.
    assert!(loaded.diagnostics.iter().all(|d| d.location.is_some()));
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        load(&src);
    }

    #[test]
    fn yamlish_text_never_panics(src in "([a-z_]{1,6}|[ \n:\\-\\[\\]{},&*!?|>#'\"$0-9.~]){0,120}") {
        load(&src);
    }

    #[test]
    fn mutated_reference_never_panics(
        at in 0usize..REFERENCE.len(),
        cut in 0usize..40,
        insert in "([a-z]{1,4}|[ \n:\\-\\[\\]{},&*!?|>#'\"]){0,4}",
    ) {
        let chars: Vec<char> = REFERENCE.chars().collect();
        let at = at.min(chars.len());
        let end = (at + cut).min(chars.len());
        let mut src: String = chars[..at].iter().collect();
        src.push_str(&insert);
        src.extend(&chars[end..]);
        load(&src);
    }
}
