//! Deterministic seeding of customers and contacts, with the awkward cases, and the report that
//! tells tests which seeded record is which case.
//!
//! Customers: record `i` (0-based) takes case `i % 10`:
//! 0 one-word name · 1 three-word name · 2 several emails (3) and numbers (2) · 3 invalid primary
//! email (a valid secondary follows) · 4 future bookings (2) · 5 deleted · 6 no emails and no
//! numbers · 7 merged: "External ID" holds two ids joined by ", " · 8 and 9 plain (two-word name,
//! one email, one number). Names and number digits come from the seed; emails embed `i`, so they
//! are unique.
//!
//! Contacts: record `j` takes case `j % 5`: 0 plain (email, firstname, lastname, phone) ·
//! 1 firstname only, no lastname · 2 with `hs_additional_emails` (two, `;`-separated) ·
//! 3 no email · 4 archived.

use crate::app::Shared;
use crate::tte::store::Customer;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which seeded record is which case. URIs for customers, ids (digit strings) for contacts.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SeedReport {
    pub seed: u64,
    pub customers: Vec<String>,
    pub one_word_names: Vec<String>,
    pub three_word_names: Vec<String>,
    pub multi_contact: Vec<String>,
    pub invalid_email: Vec<String>,
    pub future_bookings: Vec<String>,
    pub deleted: Vec<String>,
    pub no_contact_details: Vec<String>,
    pub merged: Vec<String>,
    pub plain_customers: Vec<String>,
    pub contacts: Vec<String>,
    pub plain_contacts: Vec<String>,
    pub first_name_only: Vec<String>,
    pub additional_emails: Vec<String>,
    pub no_email: Vec<String>,
    pub archived: Vec<String>,
    /// Pipedrive persons (ids), and their cases (see `pipedrive::seed`).
    pub persons: Vec<String>,
    pub persons_several_emails: Vec<String>,
    pub persons_no_email: Vec<String>,
    pub persons_deleted: Vec<String>,
    /// Colliding emails (`seed_collisions`): live customers whose email an archived, never
    /// linked contact shares, and those contacts.
    pub collide_archived_customers: Vec<String>,
    pub collide_archived_contacts: Vec<String>,
    /// Deleted customers listed just before a live customer of the same email, those live
    /// customers, and the live contacts sharing that email.
    pub collide_deleted_customers: Vec<String>,
    pub collide_live_twins: Vec<String>,
    pub collide_live_contacts: Vec<String>,
}

impl SeedReport {
    /// Live (not deleted) seeded customers.
    pub fn live_customers(&self) -> usize {
        self.customers.len() - self.deleted.len()
    }

    /// Live (not archived) seeded contacts.
    pub fn live_contacts(&self) -> usize {
        self.contacts.len() - self.archived.len()
    }

    fn merge(&mut self, o: SeedReport) {
        macro_rules! ext { ($($f:ident),*) => { $( self.$f.extend(o.$f); )* } }
        ext!(
            customers,
            one_word_names,
            three_word_names,
            multi_contact,
            invalid_email,
            future_bookings,
            deleted,
            no_contact_details,
            merged,
            plain_customers,
            contacts,
            plain_contacts,
            first_name_only,
            additional_emails,
            no_email,
            archived
        );
        self.seed = o.seed;
    }
}

/// At most this many records of each kind per call.
pub const MAX_SEED: usize = 1_000_000;

const FIRST: &[&str] = &[
    "Mary", "John", "Aisha", "Wei", "Olga", "Pedro", "Fatima", "Liam", "Noor", "Kenji", "Sofia",
    "Tomasz",
];
const LAST: &[&str] = &[
    "Smith", "Okafor", "Chen", "Novak", "Garcia", "Haddad", "Murphy", "Tanaka", "Rossi",
    "Kowalski", "Silva", "Ahmed",
];
const MONONYM: &[&str] = &["Cher", "Madonna", "Prince", "Pelé", "Björk", "Sting"];
const INVALID: &[&str] = &["not-an-email", "a@b", "example.lcom", "a@-b.com", "a@b.c"];

/// Seed `customers` customers and `contacts` contacts (added to what exists; no notifications
/// or webhooks fire). Returns the report of this call and stores the cumulative one.
pub fn seed(s: &Shared, seed: u64, customers: usize, contacts: usize) -> SeedReport {
    let (customers, contacts) = (customers.min(MAX_SEED), contacts.min(MAX_SEED));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut r = SeedReport {
        seed,
        ..SeedReport::default()
    };
    let now = crate::clock::now_ms();
    {
        let mut h = s.hub();
        for j in 0..contacts {
            let (f, l) = (
                FIRST[rng.usize(..FIRST.len())],
                LAST[rng.usize(..LAST.len())],
            );
            let mut p = BTreeMap::new();
            let case = j % 5;
            p.insert("firstname".to_string(), f.to_string());
            if case != 1 {
                p.insert("lastname".into(), l.into());
            }
            if case != 3 {
                p.insert(
                    "email".into(),
                    format!(
                        "{}.{}.{seed}.{j}@example.com",
                        f.to_lowercase(),
                        l.to_lowercase()
                    ),
                );
            }
            p.insert(
                "phone".into(),
                format!("+44 20 7946 {:04}", rng.u32(0..10_000)),
            );
            if case == 2 {
                p.insert(
                    "hs_additional_emails".into(),
                    format!("alt1.{seed}.{j}@example.org;alt2.{seed}.{j}@example.net"),
                );
            }
            p.insert("hs_object_source".into(), "CRM_UI".into());
            let id = h.insert_seeded(p, case == 4, now).to_string();
            r.contacts.push(id.clone());
            match case {
                0 => r.plain_contacts.push(id),
                1 => r.first_name_only.push(id),
                2 => r.additional_emails.push(id),
                3 => r.no_email.push(id),
                _ => r.archived.push(id),
            }
        }
    }
    let merged_ids = match r.contacts.as_slice() {
        [a, b, ..] => format!("{a}, {b}"),
        _ => "901, 902".to_string(),
    };
    let mut t = s.tte();
    for i in 0..customers {
        let (f, l) = (
            FIRST[rng.usize(..FIRST.len())],
            LAST[rng.usize(..LAST.len())],
        );
        let case = i % 10;
        let email = |tag: &str| format!("{}.{tag}.{seed}.{i}@example.com", f.to_lowercase());
        let number = |rng: &mut fastrand::Rng| format!("+44 7700 9{:05}", rng.u32(0..100_000));
        let mut c = Customer {
            id: 0,
            resource_uri: String::new(),
            name: format!("{f} {l}"),
            emails: vec![email("a")],
            numbers: vec![number(&mut rng)],
            custom_fields: BTreeMap::new(),
            deleted: false,
            future_bookings: 0,
        };
        match case {
            0 => c.name = MONONYM[rng.usize(..MONONYM.len())].to_string(),
            1 => c.name = format!("{f} {} {l}", FIRST[rng.usize(..FIRST.len())]),
            2 => {
                c.emails = vec![email("a"), email("b"), email("c")];
                c.numbers = vec![number(&mut rng), number(&mut rng)];
            }
            3 => {
                let bad = INVALID[rng.usize(..INVALID.len())];
                let addr = match bad.split_once('@') {
                    Some((l, d)) => format!("{l}.{seed}.{i}@{d}"),
                    None => format!("{bad}-{seed}-{i}"),
                };
                c.emails = vec![addr, email("b")];
            }
            4 => c.future_bookings = 2,
            5 => c.deleted = true,
            6 => {
                c.emails.clear();
                c.numbers.clear();
            }
            7 => {
                c.custom_fields
                    .insert("External ID".into(), merged_ids.clone());
            }
            _ => {}
        }
        if case == 7 && !t.labels().iter().any(|l| l == "External ID") {
            c.custom_fields.clear();
        }
        let uri = t.insert_seeded(c).resource_uri;
        r.customers.push(uri.clone());
        let list = match case {
            0 => &mut r.one_word_names,
            1 => &mut r.three_word_names,
            2 => &mut r.multi_contact,
            3 => &mut r.invalid_email,
            4 => &mut r.future_bookings,
            5 => &mut r.deleted,
            6 => &mut r.no_contact_details,
            7 => &mut r.merged,
            _ => &mut r.plain_customers,
        };
        list.push(uri);
    }
    drop(t);
    let mut total = s.seed_report.lock().unwrap_or_else(|p| p.into_inner());
    total.merge(r.clone());
    r
}

/// Seeds `rounds` rounds of colliding emails (no events), for first-sync tests: per round, a
/// live customer and an archived contact (never linked) with the same email, then a deleted
/// customer, listed just before a live customer with the same email, and a live contact with
/// that email too. Emails embed the seed and the round, so they collide only as described.
pub fn seed_collisions(s: &Shared, seed: u64, rounds: usize, r: &mut SeedReport) {
    let now = crate::clock::now_ms();
    let rounds = rounds.min(MAX_SEED);
    let customer = |name: &str, email: &str, deleted: bool| Customer {
        id: 0,
        resource_uri: String::new(),
        name: name.to_string(),
        emails: vec![email.to_string()],
        numbers: Vec::new(),
        custom_fields: BTreeMap::new(),
        deleted,
        future_bookings: 0,
    };
    let contact = |first: &str, email: &str| {
        let mut p = BTreeMap::new();
        p.insert("firstname".to_string(), first.to_string());
        p.insert("lastname".to_string(), "Twin".to_string());
        p.insert("email".to_string(), email.to_string());
        p.insert("hs_object_source".to_string(), "CRM_UI".to_string());
        p
    };
    for k in 0..rounds {
        let archived_email = format!("archived.{seed}.{k}@example.com");
        let twin_email = format!("twin.{seed}.{k}@example.com");
        {
            let mut t = s.tte();
            let live = t.insert_seeded(customer("Ada Live", &archived_email, false));
            r.collide_archived_customers.push(live.resource_uri);
            let gone = t.insert_seeded(customer("Bob Gone", &twin_email, true));
            r.collide_deleted_customers.push(gone.resource_uri);
            let twin = t.insert_seeded(customer("Bob Live", &twin_email, false));
            r.collide_live_twins.push(twin.resource_uri);
        }
        let mut h = s.hub();
        let archived = h.insert_seeded(contact("Ada", &archived_email), true, now);
        r.collide_archived_contacts.push(archived.to_string());
        let live = h.insert_seeded(contact("Bob", &twin_email), false, now);
        r.collide_live_contacts.push(live.to_string());
    }
}
