//! Deterministic seeding of Pipedrive persons with the awkward cases.
//!
//! Person `j` (0-based) takes case `j % 6`: 0 plain (two-word name, one email, one phone) ·
//! 1 three emails whose primary is the second entry, two phones with labels · 2 no email and no
//! phone (each reads as one empty primary entry, P-11) · 3 one-word name, phone only ·
//! 4 non-ASCII name and a stale value in the sync-status custom field · 5 deleted. Emails embed
//! `j`, so they are unique; digits come from the seed.

use super::store::{CUSTOM_FIELDS, field_key};
use crate::app::Shared;
use crate::seed::SeedReport;
use serde_json::json;
use std::sync::Arc;

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson",
];

/// Add `n` persons; their ids and cases are added to `report`.
pub fn seed(shared: &Arc<Shared>, seed: u64, n: usize, report: &mut SeedReport) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5044_5045);
    let now = crate::clock::now_ms();
    let status_key = field_key(CUSTOM_FIELDS[1]);
    let mut pd = shared.pd();
    let base = pd.persons.len();
    for j in 0..n {
        let k = base + j;
        let first = FIRST[rng.usize(..FIRST.len())];
        let last = LAST[rng.usize(..LAST.len())];
        let phone = |rng: &mut fastrand::Rng| format!("+49 151 {:07}", rng.u32(0..10_000_000));
        let body = match k % 6 {
            1 => json!({
                "name": format!("{first} {last}"),
                "email": [
                    {"value": format!("person{k}.other@example.org"), "primary": false, "label": "other"},
                    {"value": format!("person{k}@example.org"), "primary": true, "label": "work"},
                    {"value": format!("person{k}.home@example.org"), "primary": false, "label": "home"},
                ],
                "phone": [
                    {"value": phone(&mut rng), "primary": true, "label": "mobile"},
                    {"value": phone(&mut rng), "primary": false, "label": "work"},
                ],
            }),
            2 => json!({ "name": format!("{first} {last}") }),
            3 => json!({ "name": first, "phone": phone(&mut rng) }),
            4 => json!({
                "name": format!("Zoë Ångström-{last}"),
                "email": [{"value": format!("person{k}@example.org"), "primary": true, "label": "work"}],
                status_key.clone(): "Last synced: long ago",
            }),
            _ => json!({
                "name": format!("{first} {last}"),
                "email": [{"value": format!("person{k}@example.org"), "primary": true, "label": "work"}],
                "phone": [{"value": phone(&mut rng), "primary": true, "label": "mobile"}],
            }),
        };
        let Ok(p) = pd.create(&body, now) else {
            continue;
        };
        let id = p.id;
        let ids = id.to_string();
        report.persons.push(ids.clone());
        match k % 6 {
            1 => report.persons_several_emails.push(ids),
            2 => report.persons_no_email.push(ids),
            5 => {
                let _ = pd.delete(id, now);
                report.persons_deleted.push(ids);
            }
            _ => {}
        }
    }
}
