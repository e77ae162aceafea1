//! The round-trip invariant: for every valid mapping, load → serialise to YAML → load gives an
//! equal `RawMapping`.

use mapsync::mapping::env::Env;
use mapsync::mapping::{EnvMode, load_str};

use crate::util::valid_mappings;

#[test]
fn every_valid_mapping_round_trips() {
    let env = Env::from_map::<String, String>([]);
    let files = valid_mappings();
    assert!(
        files.len() >= 2,
        "expected the reference and the minimal mapping"
    );
    for file in files {
        let name = file.display().to_string();
        let src = std::fs::read_to_string(&file).expect("read mapping");
        let first = load_str(&src, &name, &env, EnvMode::Lenient);
        let raw = first
            .raw
            .unwrap_or_else(|| panic!("{name} does not load: {:#?}", first.diagnostics));
        let yaml = serde_saphyr::to_string(&raw).expect("serialise");
        let second = load_str(&yaml, &name, &env, EnvMode::Lenient);
        assert_eq!(
            second.raw.as_ref(),
            Some(&raw),
            "{name} changes on a round trip; serialised as:\n{yaml}\n{:#?}",
            second.diagnostics
        );
    }
}
