//! Stage-2 tests: the reference mapping compiles, and each kind of semantic problem is reported
//! at its pointer, all at once.

use mapsync::mapping::env::Env;
use mapsync::mapping::raw::RawMapping;
use mapsync::mapping::{Compiled, EnvMode, Severity, Side, compile};

fn reference_raw() -> RawMapping {
    let src = include_str!("../../mappings/hubspot.yaml");
    serde_saphyr::from_str(src).expect("the reference mapping parses")
}

fn full_env() -> Env {
    Env::from_map([
        ("TTE_API_KEY", "k"),
        ("TTE_WEBHOOK_TOKEN", "t"),
        ("HUBSPOT_CLIENT_SECRET", "s"),
        ("HUBSPOT_CLIENT_ID", "c"),
        ("HUBSPOT_DEVELOPER_API_KEY", "d"),
        ("HUBSPOT_APP_ID", "42"),
    ])
}

fn codes(c: &Compiled) -> Vec<(Severity, &str, &str)> {
    c.diagnostics
        .iter()
        .map(|d| (d.severity, d.code, d.pointer.as_str()))
        .collect()
}

#[test]
fn reference_mapping_compiles_strictly_with_its_environment() {
    let c = compile(&reference_raw(), &full_env(), EnvMode::Strict);
    assert_eq!(codes(&c), vec![]);
    let m = c.mapping.expect("compiled");
    assert_eq!(m.collection(Side::Home).name, "customers");
    assert_eq!(
        m.collection(Side::External).fields_root,
        vec!["properties".to_string()]
    );
    let ext: Vec<String> = m.pair.mapped_fields(Side::External).into_iter().collect();
    assert_eq!(
        ext,
        [
            "email",
            "firstname",
            "lastname",
            "phone",
            "tte_customer_secondary_emails",
            "tte_customer_secondary_phone",
            "tte_customer_sync_status",
            "tte_customer_uri"
        ]
    );
    let names: Vec<&str> = m.setup.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "hubspot-properties",
            "hubspot-webhook-settings",
            "hubspot-webhook-subscriptions",
            "tte-subscription",
            "tte-custom-fields"
        ]
    );
    assert_eq!(
        m.system(Side::Home).base_url.as_str(),
        "https://app.10to8.com/api/enterprise/v2"
    );
}

#[test]
fn missing_environment_warns_leniently_and_fails_strictly() {
    let lenient = compile(
        &reference_raw(),
        &Env::from_map::<&str, &str>([]),
        EnvMode::Lenient,
    );
    assert!(lenient.mapping.is_some());
    assert!(
        lenient
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning && d.code == "env-unset")
    );
    assert!(
        lenient
            .diagnostics
            .iter()
            .any(|d| d.pointer == "/systems/tte/auth/header/value")
    );
    let strict = compile(
        &reference_raw(),
        &Env::from_map::<&str, &str>([]),
        EnvMode::Strict,
    );
    assert!(strict.mapping.is_none());
    assert!(
        strict
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.code == "env-unset")
    );
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let mut raw = reference_raw();
    raw.collections.get_mut("contacts").unwrap().system = "nowhere".into();
    raw.collections.get_mut("customers").unwrap().id = "resource_uri".into();
    raw.pair.fields[0]
        .outbound
        .insert("firstname".into(), "record.name |".into());
    raw.pair.fields[1].inbound.clear();
    raw.pair.rules[0].message = "Invalid {{ nope }}".into();
    raw.pair.rules[0].field = "external.not_mapped".into();
    raw.setup[0].depends_on = vec!["ghost".into()];
    let c = compile(&raw, &full_env(), EnvMode::Strict);
    assert!(c.mapping.is_none());
    let got: Vec<(&str, &str)> = c
        .diagnostics
        .iter()
        .map(|d| (d.code, d.pointer.as_str()))
        .collect();
    for want in [
        ("unknown-reference", "/collections/contacts/system"),
        ("bad-jsonpath", "/collections/customers/id"),
        ("bad-expression", "/pair/fields/0/outbound/firstname"),
        ("missing-reverse", "/pair/fields/1"),
        ("unknown-variable", "/pair/rules/0/message"),
        ("unmapped-rule-field", "/pair/rules/0/field"),
        ("unknown-reference", "/setup/0/depends_on/0"),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }
}

#[test]
fn bookkeeping_fields_may_not_be_mapped() {
    let mut raw = reference_raw();
    raw.pair.fields[0]
        .outbound
        .insert("tte_customer_uri".into(), "record.resource_uri".into());
    let c = compile(&raw, &full_env(), EnvMode::Strict);
    assert!(codes(&c).contains(&(
        Severity::Error,
        "bookkeeping-field-mapped",
        "/pair/link/external"
    )));
}
