//! Planner tests over a generic mapping shaped like the reference mapping's setup section, with
//! what exists written out as JSON: the plan for empty systems, converged systems, changed labels and public URLs,
//! ownership, prune, teardown and duplicates.

use serde_json::{Value, json};

use super::*;
use crate::mapping::env::Env;
use crate::mapping::{EnvMode, load_str};
use crate::setup::ActionKind::Create;
use crate::setup::PlanCounts;

const URL: &str = "https://sync.example.com";

/// A generic mapping whose setup section has the reference mapping's shapes: a listed set
/// owned by an expression, a singleton, a set owned by key (declared first, but it depends on
/// the other two), a set that cannot be updated, and a manual resource.
const MAPPING: &str = r#"
version: 1
systems:
  crm: { base_url: "http://127.0.0.1:9001", auth: { bearer: { token: t } } }
  shop: { base_url: "http://127.0.0.1:9002" }
collections:
  people: { system: crm, id: $.id, list: { path: /people, records: $.items } }
  customers: { system: shop, id: $.id, list: { path: /customers, records: $.data } }
pair:
  home: people
  external: customers
  link: { home: shop_id, external: crm_id }
  fields:
    - { name: name, outbound: { full_name: record.name }, inbound: { name: record.full_name }, lossless: true }
setup:
  - name: crm-hooks
    system: crm
    depends_on: [crm-fields, crm-hook-settings]
    list: { path: /hooks, records: $.results }
    key: "{{ item.eventType }}:{{ item.propertyName | default('') }}"
    compare: [active]
    create: { path: /hooks, body: "{{ item }}" }
    update: { path: "/hooks/{{ existing.id }}", body: { active: "{{ item.active }}" } }
    delete: { path: "/hooks/{{ existing.id }}" }
    items:
      - { eventType: contact.creation, active: true }
      - { eventType: contact.deletion, active: true }
      - { eventType: contact.propertyChange, propertyName: firstname, active: true }
      - { eventType: contact.propertyChange, propertyName: lastname, active: true }
      - { eventType: contact.propertyChange, propertyName: email, active: true }
      - { eventType: contact.propertyChange, propertyName: phone, active: true }
      - { eventType: contact.propertyChange, propertyName: sync_emails, active: true }
      - { eventType: contact.propertyChange, propertyName: sync_phone, active: true }
  - name: crm-fields
    system: crm
    list: { path: /fields, records: $.results }
    key: "{{ item.name }}"
    owned: "item.name is startingwith('sync_')"
    compare: [label, type, fieldType, groupName]
    create: { path: /fields, body: "{{ item }}" }
    update: { path: "/fields/{{ item.name }}", body: { label: "{{ item.label }}" } }
    delete: { path: "/fields/{{ existing.name }}" }
    items:
      - { name: sync_uri, label: Customer URI, type: string, fieldType: text, groupName: info }
      - { name: sync_emails, label: Secondary Emails, type: string, fieldType: textarea, groupName: info }
      - { name: sync_phone, label: Secondary Phone Numbers, type: string, fieldType: textarea, groupName: info }
      - { name: sync_status, label: Sync Status, type: string, fieldType: text, groupName: info }
  - name: crm-hook-settings
    system: crm
    read: { path: /hooks/settings, missing: [404] }
    compare: [targetUrl]
    create: { method: PUT, path: /hooks/settings, body: "{{ item }}" }
    update: { method: PUT, path: /hooks/settings, body: "{{ item }}" }
    delete: { path: /hooks/settings }
    items:
      - { targetUrl: "{{ public_url }}/webhooks/crm", throttling: { maxConcurrentRequests: 10, period: SECONDLY } }
  - name: shop-hook
    system: shop
    list: { path: /subscription/, records: $.results }
    key: "{{ item.scope }}"
    owned: "'/webhooks/shop' in item.callback_url"
    create: { path: /subscription/, body: "{{ item }}" }
    delete: { path: "{{ existing.resource_uri }}" }
    items:
      - { scope: customer, callback_url: "{{ public_url }}/webhooks/shop?key=tok" }
  - name: shop-fields
    system: shop
    manual: Add the custom fields by hand.
"#;

fn resources() -> Vec<SetupResource> {
    let loaded = load_str(
        MAPPING,
        "mapping.yaml",
        &Env::from_map([("X", "")]),
        EnvMode::Strict,
    );
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::mapping::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    loaded.mapping.expect("the test mapping is valid").setup
}

fn props() -> Vec<Value> {
    let p = |name: &str, label: &str, field: &str| {
        json!({"name": name, "label": label, "type": "string", "fieldType": field,
               "groupName": "info", "hidden": false})
    };
    vec![
        json!({"name": "firstname", "label": "First Name", "type": "string", "fieldType": "text", "groupName": "info"}),
        p("sync_uri", "Customer URI", "text"),
        p("sync_emails", "Secondary Emails", "textarea"),
        p("sync_phone", "Secondary Phone Numbers", "textarea"),
        p("sync_status", "Sync Status", "text"),
    ]
}

fn settings(url: &str) -> Value {
    json!({"targetUrl": format!("{url}/webhooks/crm"),
           "throttling": {"maxConcurrentRequests": 10, "period": "SECONDLY"}})
}

fn subs() -> Vec<Value> {
    let mut out = vec![
        json!({"id": "1", "eventType": "contact.creation", "active": true}),
        json!({"id": "2", "eventType": "contact.deletion", "active": true}),
    ];
    for (i, p) in [
        "firstname",
        "lastname",
        "email",
        "phone",
        "sync_emails",
        "sync_phone",
    ]
    .iter()
    .enumerate()
    {
        out.push(
            json!({"id": (i + 3).to_string(), "eventType": "contact.propertyChange",
                        "propertyName": p, "active": true}),
        );
    }
    out
}

fn shop_sub(url: &str) -> Value {
    json!({"resource_uri": "http://127.0.0.1:9002/subscription/7/",
           "scope": "customer",
           "callback_url": format!("{url}/webhooks/shop?key=tok")})
}

/// What exists after a setup with `url`.
fn converged(url: &str) -> Vec<Observed> {
    vec![
        Observed::Listed(props()),
        Observed::Read(Some(settings(url))),
        Observed::Listed(subs()),
        Observed::Listed(vec![shop_sub(url)]),
        Observed::Unchecked,
    ]
}

fn opts() -> PlanOptions {
    PlanOptions {
        public_url: Some(URL.into()),
        ..PlanOptions::default()
    }
}

/// `resource: kind key` per action, for compact asserts.
fn actions(p: &SetupPlan) -> Vec<String> {
    p.resources
        .iter()
        .flat_map(|r| {
            r.actions
                .iter()
                .map(move |a| format!("{}: {:?} {}", r.name, a.kind, a.key))
        })
        .collect()
}

fn resource<'a>(p: &'a SetupPlan, name: &str) -> &'a ResourcePlan {
    p.resources.iter().find(|r| r.name == name).expect(name)
}

#[test]
fn resources_come_in_dependency_order() {
    let names: Vec<String> = resources().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "crm-fields",
            "crm-hook-settings",
            "crm-hooks",
            "shop-hook",
            "shop-fields"
        ]
    );
}

#[test]
fn empty_systems_get_everything_created() {
    let seen = vec![
        Observed::Listed(vec![props()[0].clone()]),
        Observed::Read(None),
        Observed::Listed(vec![]),
        Observed::Listed(vec![]),
        Observed::Unchecked,
    ];
    let p = plan(&resources(), &seen, &opts()).unwrap();
    assert_eq!(
        p.counts(),
        PlanCounts {
            add: 14,
            ..PlanCounts::default()
        }
    );
    assert!(
        p.resources
            .iter()
            .flat_map(|r| &r.actions)
            .all(|a| a.kind == Create)
    );
    let first = &resource(&p, "crm-fields").actions[0];
    assert_eq!(
        first.item,
        Some(
            json!({"name": "sync_uri", "label": "Customer URI", "type": "string",
                    "fieldType": "text", "groupName": "info"})
        )
    );
    let settings = &resource(&p, "crm-hook-settings").actions[0];
    assert_eq!(settings.item, Some(self::settings(URL)));
    let subs: Vec<&str> = resource(&p, "crm-hooks")
        .actions
        .iter()
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(
        subs[..3],
        [
            "contact.creation:",
            "contact.deletion:",
            "contact.propertyChange:firstname"
        ]
    );
    assert_eq!(subs.len(), 8);
    let shop = &resource(&p, "shop-hook").actions[0];
    assert_eq!(
        shop.item,
        Some(json!({"scope": "customer",
        "callback_url": "https://sync.example.com/webhooks/shop?key=tok"}))
    );
    let manual = resource(&p, "shop-fields").manual.as_ref().unwrap();
    assert!(!manual.checked);
    assert_eq!(resource(&p, "shop-fields").ownership, Ownership::None);
}

#[test]
fn converged_systems_plan_nothing() {
    let p = plan(&resources(), &converged(URL), &opts()).unwrap();
    assert!(p.is_empty(), "{:#?}", actions(&p));
    let c = p.counts();
    assert_eq!((c.add, c.change, c.destroy, c.unchanged), (0, 0, 0, 14));
    assert_eq!(
        resource(&p, "crm-fields").notes,
        [
            "1 existing object(s) not owned by mapsync (owned when `item.name is startingwith('sync_')`) left alone"
        ]
    );
}

#[test]
fn a_changed_label_is_an_update_of_that_attribute_only() {
    let mut props = props();
    props[4]["label"] = json!("Status");
    let mut seen = converged(URL);
    seen[0] = Observed::Listed(props);
    let p = plan(&resources(), &seen, &opts()).unwrap();
    assert_eq!(actions(&p), ["crm-fields: Update sync_status"]);
    let a = &resource(&p, "crm-fields").actions[0];
    assert_eq!(
        a.changes,
        [Change {
            attr: "label".into(),
            from: json!("Status"),
            to: json!("Sync Status")
        }]
    );
}

#[test]
fn a_new_public_url_updates_settings_and_replaces_what_cannot_be_updated() {
    let p = plan(&resources(), &converged("https://old.example.com"), &opts()).unwrap();
    assert_eq!(
        actions(&p),
        [
            "crm-hook-settings: Update crm-hook-settings",
            "shop-hook: Replace customer"
        ]
    );
    let s = &resource(&p, "crm-hook-settings").actions[0];
    assert_eq!(s.changes[0].attr, "targetUrl");
    assert_eq!(
        s.changes[0].from,
        json!("https://old.example.com/webhooks/crm")
    );
    let t = &resource(&p, "shop-hook").actions[0];
    assert_eq!(t.changes.len(), 1);
    assert_eq!(t.changes[0].attr, "callback_url");
    assert!(t.reason.as_deref().unwrap().contains("no `update`"));
    let c = p.counts();
    assert_eq!((c.add, c.change, c.destroy), (1, 1, 1));
}

#[test]
fn objects_mapsync_does_not_own_are_never_touched() {
    let mut props = props();
    props.push(json!({"name": "other_prop", "label": "Other", "type": "string", "fieldType": "text", "groupName": "x"}));
    props.push(json!({"name": "sync_old", "label": "Old", "type": "string", "fieldType": "text", "groupName": "x"}));
    let mut subs = subs();
    subs.push(json!({"id": "99", "eventType": "contact.propertyChange", "propertyName": "company", "active": true}));
    let someone_elses = json!({"resource_uri": "http://127.0.0.1:9002/subscription/3/",
        "scope": "customer", "callback_url": "https://elsewhere.example.com/hook"});
    let seen = vec![
        Observed::Listed(props),
        Observed::Read(Some(settings(URL))),
        Observed::Listed(subs),
        Observed::Listed(vec![someone_elses, shop_sub(URL)]),
        Observed::Unchecked,
    ];
    let p = plan(&resources(), &seen, &opts()).unwrap();
    assert!(p.is_empty(), "{:?}", actions(&p));
    assert!(
        resource(&p, "crm-fields").notes[0]
            .starts_with("`sync_old` is owned (owned when `item.name is startingwith('sync_')`) but no longer declared; --prune deletes it")
    );

    let pruned = plan(
        &resources(),
        &seen,
        &PlanOptions {
            prune: true,
            ..opts()
        },
    )
    .unwrap();
    // Only the owned, undeclared property goes: not other_prop (not owned by the expression),
    // not the subscription to `company` (its key matches no declared item), not the other
    // shop subscription (its callback is not mapsync's).
    assert_eq!(actions(&pruned), ["crm-fields: Delete sync_old"]);

    let torn = plan(
        &resources(),
        &seen,
        &PlanOptions {
            teardown: true,
            ..opts()
        },
    )
    .unwrap();
    let a = actions(&torn);
    assert_eq!(a.len(), 4 + 1 + 8 + 1, "{a:#?}");
    assert!(a.iter().all(|x| x.contains("Delete")));
    assert!(
        !a.iter()
            .any(|x| x.contains("other_prop") || x.contains("sync_old") || x.contains("company"))
    );
    let shop = &resource(&torn, "shop-hook").actions[0];
    assert_eq!(shop.existing, Some(shop_sub(URL)));
}

#[test]
fn duplicates_are_reported_and_pruned_only_on_request() {
    let mut subs = subs();
    subs.push(json!({"id": "50", "eventType": "contact.creation", "active": false}));
    let mut seen = converged(URL);
    seen[2] = Observed::Listed(subs);
    let p = plan(&resources(), &seen, &opts()).unwrap();
    assert!(p.is_empty());
    assert_eq!(
        resource(&p, "crm-hooks").notes,
        ["another object also has the key `contact.creation:`; --prune deletes the duplicate"]
    );
    let pruned = plan(
        &resources(),
        &seen,
        &PlanOptions {
            prune: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(actions(&pruned), ["crm-hooks: Delete contact.creation:"]);
    let del = &resource(&pruned, "crm-hooks").actions[0];
    assert_eq!(del.existing.as_ref().unwrap()["id"], json!("50"));
}

#[test]
fn a_paused_subscription_is_updated_in_place() {
    let mut subs = subs();
    subs[0]["active"] = json!(false);
    let mut seen = converged(URL);
    seen[2] = Observed::Listed(subs);
    let p = plan(&resources(), &seen, &opts()).unwrap();
    assert_eq!(actions(&p), ["crm-hooks: Update contact.creation:"]);
}

#[test]
fn the_public_url_is_required_unless_tearing_down() {
    let err = plan(&resources(), &converged(URL), &PlanOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the setup resources crm-hook-settings, shop-hook use `public_url` \
         (webhook callbacks): pass --public-url https://your-host (or set MAPSYNC_PUBLIC_URL) \
         with the address the systems can reach mapsync at"
    );
    let torn = plan(
        &resources(),
        &converged(URL),
        &PlanOptions {
            teardown: true,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    assert_eq!(torn.counts().destroy, 14);
}

#[test]
fn public_urls_are_checked_and_lose_their_trailing_slash() {
    assert_eq!(
        normalize_public_url("https://a.example/x/").unwrap(),
        "https://a.example/x"
    );
    assert!(normalize_public_url("a.example").is_err());
    assert!(normalize_public_url("ftp://a.example").is_err());
}

#[test]
fn teardown_of_empty_systems_plans_nothing() {
    let seen = vec![
        Observed::Listed(vec![props()[0].clone()]),
        Observed::Read(None),
        Observed::Listed(vec![]),
        Observed::Listed(vec![]),
        Observed::Unchecked,
    ];
    let p = plan(
        &resources(),
        &seen,
        &PlanOptions {
            teardown: true,
            ..opts()
        },
    )
    .unwrap();
    assert!(p.is_empty());
}

#[test]
fn an_object_whose_ownership_cannot_be_decided_is_left_alone() {
    let mut props = props();
    props.push(json!({"label": "no name"}));
    let mut seen = converged(URL);
    seen[0] = Observed::Listed(props);
    let p = plan(
        &resources(),
        &seen,
        &PlanOptions {
            prune: true,
            ..opts()
        },
    )
    .unwrap();
    assert!(p.is_empty(), "{:?}", actions(&p));
    assert!(
        resource(&p, "crm-fields").notes[0]
            .starts_with("ownership of 1 object(s) could not be decided, so they are left alone"),
        "{:?}",
        resource(&p, "crm-fields").notes
    );
}
