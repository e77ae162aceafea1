//! Engine tests on the reference mapping (`mappings/hubspot.yaml`): the 2021 demo's fixtures (parity and fixed), links,
//! echoes, conflicts and deletes, plus properties.

use proptest::prelude::*;
use serde_json::{Value, json};

use mapsync::engine::*;
use mapsync::mapping::env::Env;
use mapsync::mapping::model::Mapping;
use mapsync::mapping::raw::RawMapping;
use mapsync::mapping::{Direction, EnvMode, Side, compile};

const NOW: &str = "2026-11-29T05:00:00Z";
const URI: &str = "https://app.10to8.com/api/enterprise/v2/customer/1/";

fn reference() -> Mapping {
    let raw: RawMapping =
        serde_saphyr::from_str(include_str!("../../mappings/hubspot.yaml")).unwrap();
    let c = compile(&raw, &Env::from_map::<&str, &str>([]), EnvMode::Lenient);
    c.mapping.expect("reference mapping compiles")
}

fn customer(name: &str, emails: &[&str], numbers: &[&str]) -> Value {
    json!({"resource_uri": URI, "name": name, "emails": emails, "numbers": numbers, "custom_fields": {}})
}

fn contact(id: &str, props: Value) -> Value {
    json!({"id": id, "properties": props, "archived": false})
}

fn ctx() -> PlanContext<'static> {
    PlanContext {
        now: NOW,
        source_shadow: None,
        target_shadow: None,
        source_deleted: false,
    }
}

fn found<'a>(id: &str, record: &'a Value) -> Target<'a> {
    Target::Found {
        id: id.to_string(),
        record,
        by: LinkedBy::Store,
    }
}

fn props(p: &RecordPlan) -> Value {
    p.write.clone().unwrap_or(Value::Null)
}

#[test]
fn outbound_create_splits_names_and_lists() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let c = customer(
        "Mary Ann Smith",
        &["a@x.com", "b@y.com", "c@z.com"],
        &["1", "2"],
    );
    let p = e.plan(&c, Target::None, &ctx());
    assert_eq!(p.kind, PlanKind::Create);
    assert_eq!(
        props(&p),
        json!({
            "firstname": "Mary", "lastname": "Ann Smith",
            "email": "a@x.com", "tte_customer_secondary_emails": "b@y.com,\nc@z.com",
            "phone": "1", "tte_customer_secondary_phone": "2",
            "tte_customer_uri": URI, "tte_customer_sync_status": format!("Last synced: {NOW}")
        })
    );
    let back = e
        .writeback(&p, WriteOutcome::Done { target_id: "101" }, NOW)
        .unwrap();
    assert_eq!(
        back,
        json!({"custom_fields": {"External ID": "101", "Sync Status": format!("Last synced: {NOW}")}})
    );
}

#[test]
fn demo_name_parity_cases() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    for (name, first, last) in [
        ("Cher", "Cher", ""),
        ("Mary  Smith", "Mary", " Smith"),
        (" Mary", "", "Mary"),
    ] {
        let p = e.plan(&customer(name, &[], &[]), Target::None, &ctx());
        let w = props(&p);
        assert_eq!(
            (w["firstname"].as_str(), w["lastname"].as_str()),
            (Some(first), Some(last)),
            "{name:?}"
        );
    }
    let i = Engine::new(&m, Direction::Inbound);
    for (f, l, want) in [
        (json!("Mary"), json!(""), "Mary"),
        (json!(""), json!("Smith"), "Smith"),
        (json!(null), json!(null), ""),
    ] {
        let p = i.plan(
            &contact("7", json!({"firstname": f, "lastname": l})),
            Target::None,
            &ctx(),
        );
        assert_eq!(props(&p)["name"], json!(want));
    }
}

#[test]
fn lossy_names_compare_in_the_source_form() {
    // H "Mary Ann" / "Smith" → S "Mary Ann Smith": the outbound pass writes nothing to H.
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let c = customer("Mary Ann Smith", &["a@x.com"], &[]);
    let h = contact(
        "101",
        json!({"firstname": "Mary Ann", "lastname": "Smith", "email": "a@x.com", "tte_customer_uri": URI,
               "tte_customer_sync_status": "Last synced: 2026-01-01T00:00:00Z"}),
    );
    let p = e.plan(&c, found("101", &h), &ctx());
    assert_eq!(p.kind, PlanKind::Unchanged, "{p:#?}");
    assert_eq!(p.write, None);
    // H "" / "Smith" → S "Smith": nothing written either.
    let c = customer("Smith", &[], &[]);
    let h = contact(
        "101",
        json!({"firstname": "", "lastname": "Smith", "tte_customer_uri": URI, "tte_customer_sync_status": "Last synced: x"}),
    );
    assert_eq!(
        e.plan(&c, found("101", &h), &ctx()).kind,
        PlanKind::Unchanged
    );
}

#[test]
fn tolerant_secondary_lists_inbound() {
    let m = reference();
    let i = Engine::new(&m, Direction::Inbound);
    let h = contact(
        "7",
        json!({"email": "a@x.com", "tte_customer_secondary_emails": "b@y.com, c@z.com", "tte_customer_secondary_phone": "b@y.com,\n,\nc@z.com"}),
    );
    let w = props(&i.plan(&h, Target::None, &ctx()));
    assert_eq!(w["emails"], json!(["a@x.com", "b@y.com", "c@z.com"]));
    assert_eq!(w["numbers"], json!(["b@y.com", "c@z.com"]));
    assert_eq!(w["custom_fields"]["External ID"], json!("7"));
}

#[test]
fn invalid_email_gets_the_placeholder_and_an_error_status_on_both_sides() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let p = e.plan(
        &customer("Bob", &["not-an-email", "b@y.com"], &[]),
        Target::None,
        &ctx(),
    );
    let w = props(&p);
    assert_eq!(w["email"], json!(""));
    assert_eq!(
        w["tte_customer_sync_status"],
        json!("Error: Invalid email not-an-email")
    );
    let back = e
        .writeback(&p, WriteOutcome::Done { target_id: "9" }, NOW)
        .unwrap();
    assert_eq!(
        back["custom_fields"]["Sync Status"],
        json!("Error: Invalid email not-an-email")
    );
}

#[test]
fn a_blank_email_coming_back_never_erases_the_protected_value() {
    let m = reference();
    let i = Engine::new(&m, Direction::Inbound);
    let mut home = customer("Bob", &["not-an-email", "b@y.com"], &[]);
    home["custom_fields"] =
        json!({"External ID": "9", "Sync Status": "Error: Invalid email not-an-email"});
    let h = contact(
        "9",
        json!({"firstname": "Bob", "lastname": "", "email": "", "tte_customer_secondary_emails": "b@y.com", "tte_customer_uri": URI}),
    );
    let p = i.plan(&h, found(URI, &home), &ctx());
    assert_eq!(p.kind, PlanKind::Unchanged, "{p:#?}");
    assert_eq!(p.write, None, "status already says the error");
    assert_eq!(
        p.status,
        Some(StatusMeaning::Error("Invalid email not-an-email".into()))
    );
    // A valid 10to8 primary is removed when HubSpot's email is cleared (parity).
    let mut home = customer("Bob", &["a@x.com", "b@y.com"], &[]);
    home["custom_fields"] = json!({"External ID": "9"});
    let p = i.plan(&h, found(URI, &home), &ctx());
    assert_eq!(p.kind, PlanKind::Update);
    assert_eq!(props(&p)["emails"], json!(["b@y.com"]));
}

#[test]
fn a_new_sync_time_alone_writes_nothing_but_a_status_change_does() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let c = customer("Ann Lee", &["a@x.com"], &[]);
    let synced = contact(
        "1",
        json!({"firstname": "Ann", "lastname": "Lee", "email": "a@x.com", "tte_customer_uri": URI, "tte_customer_sync_status": "Last synced: 2020-01-01T00:00:00Z"}),
    );
    assert_eq!(e.plan(&c, found("1", &synced), &ctx()).write, None);
    let errored = contact(
        "1",
        json!({"firstname": "Ann", "lastname": "Lee", "email": "a@x.com", "tte_customer_uri": URI, "tte_customer_sync_status": "Error: Invalid email x"}),
    );
    let p = e.plan(&c, found("1", &errored), &ctx());
    assert_eq!(
        p.kind,
        PlanKind::Unchanged,
        "a status write is not a change"
    );
    assert_eq!(
        props(&p),
        json!({"tte_customer_sync_status": format!("Last synced: {NOW}")})
    );
}

#[test]
fn echoes_and_conflicts_follow_the_shadows() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let c = customer("Ann Lee", &["a@x.com"], &[]);
    let h = contact(
        "1",
        json!({"firstname": "Annie", "lastname": "Lee", "email": "a@x.com", "tte_customer_uri": URI, "tte_customer_sync_status": "Last synced: x"}),
    );
    let src_shadow = e.shadow_of(Side::Home, &c);
    // The customer did not change since the last sync: HubSpot's edit flows the other way.
    let p = e.plan(
        &c,
        found("1", &h),
        &PlanContext {
            now: NOW,
            source_shadow: Some(&src_shadow),
            target_shadow: None,
            source_deleted: false,
        },
    );
    assert_eq!(p.kind, PlanKind::Echo);
    assert_eq!(p.write, None);
    // Both changed: `newest` lets the side being synced win.
    let old = e.shadow_of(Side::Home, &customer("Ann Old", &["a@x.com"], &[]));
    let old_target = Shadow::default();
    let p = e.plan(
        &c,
        found("1", &h),
        &PlanContext {
            now: NOW,
            source_shadow: Some(&old),
            target_shadow: Some(&old_target),
            source_deleted: false,
        },
    );
    assert_eq!(p.kind, PlanKind::Update);
    assert_eq!(props(&p)["firstname"], json!("Ann"));
}

/// `newest` with modification times on both collections: the record changed last wins the
/// conflict in both directions, whichever direction is synced; without both times the side
/// being synced from wins.
#[test]
fn newest_follows_the_systems_modification_times_when_both_records_give_one() {
    let yaml = include_str!("../../mappings/hubspot.yaml")
        .replacen(
            "    deleted: record.deleted\n",
            "    deleted: record.deleted\n    modified_at: record.modified\n",
            1,
        )
        .replacen(
            "  contacts:\n",
            "  contacts:\n    modified_at: record.updatedAt\n",
            1,
        );
    assert!(
        yaml.contains("modified_at: record.modified")
            && yaml.contains("modified_at: record.updatedAt")
    );
    let raw: RawMapping = serde_saphyr::from_str(&yaml).unwrap();
    let m = compile(&raw, &Env::from_map::<&str, &str>([]), EnvMode::Lenient)
        .mapping
        .expect("compiles");
    let mut c = customer("Ann New", &["a@x.com"], &[]);
    let mut h = contact(
        "1",
        json!({"firstname": "Annie", "lastname": "Lee", "email": "a@x.com", "tte_customer_uri": URI, "tte_customer_sync_status": "Last synced: x"}),
    );
    let out = Engine::new(&m, Direction::Outbound);
    let inb = Engine::new(&m, Direction::Inbound);
    // Both renamed since the base "Ann Old" / "Ann" "Old".
    let home_base = out.shadow_of(Side::Home, &customer("Ann Old", &["a@x.com"], &[]));
    let ext_base = out.shadow_of(
        Side::External,
        &contact(
            "1",
            json!({"firstname": "Ann", "lastname": "Old", "email": "a@x.com"}),
        ),
    );
    let plan = |e: &Engine, c: &Value, h: &Value| {
        let (src, tgt, sb, tb) = match e.direction() {
            Direction::Outbound => (c, h, &home_base, &ext_base),
            Direction::Inbound => (h, c, &ext_base, &home_base),
        };
        e.plan(
            src,
            found("1", tgt),
            &PlanContext {
                now: NOW,
                source_shadow: Some(sb),
                target_shadow: Some(tb),
                source_deleted: false,
            },
        )
    };
    // The contact changed last (ISO 8601 against a date without offset, read as UTC).
    c["modified"] = json!("2026-11-29 05:00:00");
    h["updatedAt"] = json!("2026-11-29T05:00:01Z");
    let (o, i) = (plan(&out, &c, &h), plan(&inb, &c, &h));
    assert_eq!(o.conflicts[0].winner, Some(Side::External), "{o:?}");
    assert!(
        props(&o).get("firstname").is_none(),
        "outbound writes no name: {o:?}"
    );
    assert_eq!(i.kind, PlanKind::Update, "{i:?}");
    assert_eq!(props(&i)["name"], json!("Annie Lee"));
    // The customer changed last (epoch milliseconds against ISO 8601).
    c["modified"] = json!(1_796_014_800_000_i64); // 2026-11-30T05:00:00Z
    let (o, i) = (plan(&out, &c, &h), plan(&inb, &c, &h));
    assert_eq!(o.kind, PlanKind::Update, "{o:?}");
    assert_eq!(props(&o)["firstname"], json!("Ann"));
    assert_eq!(i.conflicts[0].winner, Some(Side::Home), "{i:?}");
    // Without a time on one side, the side being synced from wins.
    c.as_object_mut().unwrap().remove("modified");
    let (o, i) = (plan(&out, &c, &h), plan(&inb, &c, &h));
    assert_eq!(o.conflicts[0].winner, Some(Side::Home));
    assert_eq!(i.conflicts[0].winner, Some(Side::External));
}

#[test]
fn links_resolve_from_store_then_field_then_match() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let h = contact("555", json!({"email": "A@x.com"}));
    let mut c = customer("A", &["a@x.com"], &[]);
    let get = |id: &str| (id == "555").then_some(&h);
    let none = |_: &str| Vec::new();
    assert!(matches!(
        e.resolve(&c, Some("555"), get, none, none),
        Target::Found {
            by: LinkedBy::Store,
            ..
        }
    ));
    assert!(matches!(
        e.resolve(&c, Some("404"), get, none, none),
        Target::Gone { .. }
    ));
    let by_email = |k: &str| {
        if k == "a@x.com" {
            vec![("555".to_string(), &h)]
        } else {
            vec![]
        }
    };
    assert!(matches!(
        e.resolve(&c, None, get, none, by_email),
        Target::Found {
            by: LinkedBy::Match,
            ..
        }
    ));
    c["custom_fields"] = json!({"External ID": "101, 102"});
    let t = e.resolve(&c, None, get, none, by_email);
    assert!(matches!(t, Target::Ambiguous { .. }), "{t:?}");
    let p = e.plan(&c, t, &ctx());
    assert_eq!(p.kind, PlanKind::Conflict);
    assert!(p.reason.unwrap().contains("101, 102"));
    let two = |_: &str| vec![("1".to_string(), &h), ("2".to_string(), &h)];
    c["custom_fields"] = json!({});
    assert!(matches!(
        e.resolve(&c, None, get, none, two),
        Target::Ambiguous { .. }
    ));
}

#[test]
fn deletes_follow_the_policy_and_never_force_by_default() {
    let m = reference();
    let o = Engine::new(&m, Direction::Outbound);
    let linked = json!({"id": "9", "properties": {"email": "a@x.com"}, "archived": false});
    let mut gone = customer("A", &[], &[]);
    gone["deleted"] = json!(true);
    let p = o.plan(&gone, found("9", &linked), &ctx());
    assert_eq!(
        (p.kind, p.force, p.target_id.as_deref()),
        (PlanKind::Delete, false, Some("9"))
    );
    assert_eq!(
        o.writeback(&p, WriteOutcome::Done { target_id: "9" }, NOW),
        None
    );
    let p = o.plan(&gone, Target::None, &ctx());
    assert_eq!(p.kind, PlanKind::Skip);
}

#[test]
fn a_failed_write_reports_the_api_error_in_the_source_status() {
    let m = reference();
    let e = Engine::new(&m, Direction::Outbound);
    let p = e.plan(&customer("A", &["a@x.com"], &[]), Target::None, &ctx());
    let back = e
        .writeback(
            &p,
            WriteOutcome::Failed {
                message: "429 rate limited",
            },
            NOW,
        )
        .unwrap();
    assert_eq!(
        back,
        json!({"custom_fields": {"Sync Status": "Error: 429 rate limited"}})
    );
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z]{1,8}", 0..4).prop_map(|w| w.join(" "))
}

fn email_strategy() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{1,6}@[a-z]{1,6}\\.(com|org)", "[a-z]{1,6}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Planning is deterministic; applying a plan and planning again gives nothing to write.
    #[test]
    fn apply_then_plan_is_empty(name in name_strategy(), emails in prop::collection::vec(email_strategy(), 0..4), numbers in prop::collection::vec("[0-9]{3,8}", 0..3)) {
        let m = reference();
        let e = Engine::new(&m, Direction::Outbound);
        let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
        let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let c = customer(&name, &emails, &numbers);
        let p1 = e.plan(&c, Target::None, &ctx());
        let p2 = e.plan(&c, Target::None, &ctx());
        prop_assert_eq!(serde_json::to_value(&p1).unwrap(), serde_json::to_value(&p2).unwrap());
        let created = json!({"id": "1", "properties": p1.write.clone().unwrap()});
        let again = e.plan(&c, found("1", &created), &ctx());
        prop_assert_eq!(&again.write, &None, "{:?}", again);
    }

    /// For the emails and numbers groups, home → external → home gives the lists back
    /// (addresses and numbers contain no separators).
    #[test]
    fn lists_round_trip(emails in prop::collection::vec("[a-z]{1,6}@[a-z]{1,6}\\.com", 0..4), numbers in prop::collection::vec("[0-9]{3,8}", 0..3)) {
        let m = reference();
        let o = Engine::new(&m, Direction::Outbound);
        let i = Engine::new(&m, Direction::Inbound);
        let emails_ref: Vec<&str> = emails.iter().map(String::as_str).collect();
        let numbers_ref: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let c = customer("A B", &emails_ref, &numbers_ref);
        let out = o.plan(&c, Target::None, &ctx()).write.unwrap();
        let back = i.plan(&json!({"id": "1", "properties": out}), Target::None, &ctx()).write.unwrap();
        prop_assert_eq!(&back["emails"], &json!(emails));
        prop_assert_eq!(&back["numbers"], &json!(numbers));
        prop_assert_eq!(&back["name"], &json!("A B"));
    }
}

/// Merges a write into a fields object (nested objects merged, everything else replaced).
fn merge_into(fields: &mut Value, write: &Value) {
    match (fields, write) {
        (Value::Object(f), Value::Object(w)) => {
            for (k, v) in w {
                match f.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_into(existing, v)
                    }
                    _ => {
                        f.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (f, w) => *f = w.clone(),
    }
}

/// The sides of one linked pair and the ledger's base for each, as the runner keeps them.
struct World {
    home: Value,
    external: Value,
    home_base: Shadow,
    external_base: Shadow,
}

impl World {
    fn fields_mut(&mut self, side: Side) -> &mut Value {
        match side {
            Side::Home => &mut self.home,
            Side::External => &mut self.external["properties"],
        }
    }

    /// One sync in `dir`: plan, write the target, write back to the source, and remember what
    /// the runner's commit remembers. Returns true when anything was written to either side.
    fn sync(&mut self, e: &Engine<'_>) -> bool {
        let dir = e.direction();
        let (src, tgt) = (dir.source(), dir.target());
        let (source, target) = match src {
            Side::Home => (self.home.clone(), self.external.clone()),
            Side::External => (self.external.clone(), self.home.clone()),
        };
        let (sb, tb) = match src {
            Side::Home => (self.home_base.clone(), self.external_base.clone()),
            Side::External => (self.external_base.clone(), self.home_base.clone()),
        };
        let target_id = match tgt {
            Side::Home => URI.to_string(),
            Side::External => "1".to_string(),
        };
        let plan = e.plan(
            &source,
            found(&target_id, &target),
            &PlanContext {
                now: NOW,
                source_shadow: Some(&sb),
                target_shadow: Some(&tb),
                source_deleted: false,
            },
        );
        let mut wrote = false;
        if let Some(w) = &plan.write {
            merge_into(self.fields_mut(tgt), w);
            wrote = true;
        }
        if let Some(back) = e.writeback(
            &plan,
            WriteOutcome::Done {
                target_id: &target_id,
            },
            NOW,
        ) {
            merge_into(self.fields_mut(src), &back);
            wrote = true;
        }
        if matches!(
            plan.kind,
            PlanKind::Create | PlanKind::Update | PlanKind::Unchanged
        ) {
            let (s, t) = match src {
                Side::Home => (&mut self.home_base, &mut self.external_base),
                Side::External => (&mut self.external_base, &mut self.home_base),
            };
            s.overlay(&plan.source_shadow);
            t.overlay(&plan.target_shadow);
        }
        wrote
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn word() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{1,5}"
}

fn words() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..4).prop_map(|w| w.join(" "))
}

fn addresses() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z]{1,5}@[a-z]{1,5}\\.com", 0..3)
}

fn phones() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[0-9]{3,6}", 0..3)
}

/// An edit to one side's three groups: `None` leaves a group alone.
type Edit = (Option<String>, Option<Vec<String>>, Option<Vec<String>>);

fn edit() -> impl Strategy<Value = Edit> {
    (
        prop::option::of(words()),
        prop::option::of(addresses()),
        prop::option::of(phones()),
    )
}

const POLICIES: [&str; 4] = ["newest", "home", "external", "report"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Three-way merge over random (base, home edit, external edit) triples: after an outbound
    /// then an inbound sync, every group changed on one side only holds that side's values on
    /// both sides, every group is equal on both sides (unless `report` holds it for a person),
    /// and a second round writes nothing.
    #[test]
    fn one_sync_each_way_merges_every_edit(
        base in (words(), addresses(), phones()),
        home_edit in edit(),
        external_edit in edit(),
        policy in 0..4usize,
    ) {
        let mut m = reference();
        let raw: RawMapping = serde_saphyr::from_str(&include_str!("../../mappings/hubspot.yaml")
            .replace("conflicts: newest", &format!("conflicts: {}", POLICIES[policy]))).unwrap();
        m.pair.conflicts = compile(&raw, &Env::from_map::<&str, &str>([]), EnvMode::Lenient)
            .mapping.expect("compiles").pair.conflicts;
        let (o, i) = (Engine::new(&m, Direction::Outbound), Engine::new(&m, Direction::Inbound));
        let c0 = customer(&base.0, &strs(&base.1), &strs(&base.2));
        // The base: the customer created as a contact, linked both ways.
        let create = o.plan(&c0, Target::None, &ctx());
        let mut w = World {
            home: c0.clone(),
            external: contact("1", create.write.clone().unwrap()),
            home_base: create.source_shadow.clone(),
            external_base: create.target_shadow.clone(),
        };
        let back = o.writeback(&create, WriteOutcome::Done { target_id: "1" }, NOW).unwrap();
        merge_into(&mut w.home, &back);
        // The edits, each side in its own form.
        let before = w.home.clone();
        if let Some(n) = &home_edit.0 { w.home["name"] = json!(n); }
        if let Some(e) = &home_edit.1 { w.home["emails"] = json!(e); }
        if let Some(p) = &home_edit.2 { w.home["numbers"] = json!(p); }
        let edited_home = w.home.clone();
        let ext_form = |name: Option<&String>, emails: Option<&Vec<String>>, phones: Option<&Vec<String>>| {
            let c = customer(name.map_or("X", |s| s), &strs(emails.map_or(&[][..], |v| v)), &strs(phones.map_or(&[][..], |v| v)));
            o.plan(&c, Target::None, &ctx()).write.unwrap()
        };
        let props = ext_form(external_edit.0.as_ref(), external_edit.1.as_ref(), external_edit.2.as_ref());
        let groups: [(&str, &[&str]); 3] = [
            ("name", &["firstname", "lastname"]),
            ("emails", &["email", "tte_customer_secondary_emails"]),
            ("numbers", &["phone", "tte_customer_secondary_phone"]),
        ];
        let ext_edits = [external_edit.0.is_some(), external_edit.1.is_some(), external_edit.2.is_some()];
        for ((_, fields), on) in groups.iter().zip(ext_edits) {
            if on {
                for f in *fields {
                    w.external["properties"][*f] = props[*f].clone();
                }
            }
        }
        let edited_external = w.external.clone();
        // Which groups each side really changed (an edit may give the same value back).
        let home_keys = ["name", "emails", "numbers"];
        let home_changed: Vec<bool> = home_keys.iter().map(|k| !same(before.get(*k), edited_home.get(*k))).collect();
        let in_home_form = |contact: &Value| i.plan(contact, Target::None, &ctx()).write.unwrap();
        let ext_before = in_home_form(&contact("1", create.write.clone().unwrap()));
        let ext_after = in_home_form(&edited_external);
        let ext_changed: Vec<bool> = home_keys.iter().map(|k| !same(ext_before.get(*k), ext_after.get(*k))).collect();

        w.sync(&o);
        w.sync(&i);

        let home_now = w.home.clone();
        let ext_now = in_home_form(&w.external);
        for (g, k) in home_keys.iter().enumerate() {
            let reported = POLICIES[policy] == "report" && home_changed[g] && ext_changed[g]
                && !same(edited_home.get(*k), ext_after.get(*k));
            if !reported {
                prop_assert!(same(home_now.get(*k), ext_now.get(*k)), "{k}: home {:?} external {:?}", home_now.get(*k), ext_now.get(*k));
            }
            if home_changed[g] && !ext_changed[g] {
                prop_assert!(same(home_now.get(*k), edited_home.get(*k)), "{k}: the home edit was lost");
            }
            if ext_changed[g] && !home_changed[g] {
                prop_assert!(same(home_now.get(*k), ext_after.get(*k)), "{k}: the external edit was lost: {:?} vs {:?}", home_now.get(*k), ext_after.get(*k));
            }
        }
        // A second round writes nothing, either way.
        prop_assert!(!w.sync(&o), "the second outbound sync wrote");
        prop_assert!(!w.sync(&i), "the second inbound sync wrote");
    }
}

/// A record whose link field names several counterparts (a merged 10to8 customer holding
/// `"101, 102"`) is never overwritten by one of them: found through the contact's link field,
/// the store or a match, it is a conflict for a person, and its link field is left as it is.
#[test]
fn a_target_whose_link_names_several_is_a_conflict_not_overwritten() {
    let m = reference();
    let inb = Engine::new(&m, Direction::Inbound);
    let mut merged = customer("Ann Lee", &["a@x.com"], &[]);
    merged["custom_fields"] = json!({"External ID": "101, 102"});
    let h = contact(
        "101",
        json!({"firstname": "Ann", "lastname": "Leigh", "email": "a@x.com", "tte_customer_uri": URI}),
    );
    for by in [LinkedBy::Store, LinkedBy::LinkField, LinkedBy::Match] {
        let p = inb.plan(
            &h,
            Target::Found {
                id: URI.to_string(),
                record: &merged,
                by,
            },
            &ctx(),
        );
        assert_eq!(p.kind, PlanKind::Conflict, "{by:?}: {p:?}");
        assert_eq!(p.write, None, "{by:?}: {p:?}");
        assert!(
            p.reason.as_deref().unwrap_or_default().contains("101, 102"),
            "{by:?}: {p:?}"
        );
    }
}
