//! Engine throughput: plans outbound and inbound syncs of the reference mapping from in-memory
//! records, with no HTTP and no store, on one thread. Prints records per second.
//!
//! Run: `cargo bench --bench engine` (release profile). Figures go in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use mapsync::engine::{Engine, LinkedBy, PlanContext, Shadow, Target};
use mapsync::mapping::env::Env;
use mapsync::mapping::raw::RawMapping;
use mapsync::mapping::{Direction, EnvMode, Side, compile};
use serde_json::{Value, json};

const N: usize = 50_000;

fn customer(i: usize) -> Value {
    let name = match i % 3 {
        0 => format!("Name{i}"),
        1 => format!("First{i} Last{i}"),
        _ => format!("First{i} Middle Last{i}"),
    };
    let email = if i.is_multiple_of(10) {
        format!("broken{i}")
    } else {
        format!("user{i}@example.com")
    };
    json!({
        "resource_uri": format!("http://127.0.0.1/api/enterprise/v2/customer/{i}/"),
        "name": name,
        "emails": [email, format!("alt{i}@example.org")],
        "numbers": [format!("+44 20 7946 {i:04}")],
        "custom_fields": {"External ID": i.to_string(), "Sync Status": "Last synced: 2026-11-29T00:00:00Z"}
    })
}

fn main() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/mappings/hubspot.yaml"
    ))
    .expect("reference mapping");
    let raw: RawMapping = serde_saphyr::from_str(&src).expect("parses");
    let mapping = compile(&raw, &Env::from_map::<&str, &str>([]), EnvMode::Lenient)
        .mapping
        .expect("compiles");
    let customers: Vec<Value> = (0..N).map(customer).collect();
    let ctx = PlanContext {
        now: "2026-11-29T05:00:00Z",
        source_shadow: None,
        target_shadow: None,
        source_deleted: false,
    };

    let out = Engine::new(&mapping, Direction::Outbound);
    let t = Instant::now();
    let creates: Vec<Value> = customers
        .iter()
        .map(|c| {
            out.plan(c, Target::None, &ctx)
                .write
                .expect("a create writes")
        })
        .collect();
    report("outbound, every record a create", t);

    let contacts: Vec<Value> = creates
        .iter()
        .enumerate()
        .map(|(i, w)| json!({"id": i.to_string(), "properties": w}))
        .collect();
    let t = Instant::now();
    for (c, h) in customers.iter().zip(&contacts) {
        black_box(out.plan(
            c,
            Target::Found {
                id: "1".into(),
                record: h,
                by: LinkedBy::Store,
            },
            &ctx,
        ));
    }
    report("outbound, every record linked and unchanged", t);

    // The same, merged three ways: both sides' last-synced values (the ledger's base) compared
    // per field group, as `sync` and `serve` plan a linked pair.
    let bases: Vec<(Shadow, Shadow)> = customers
        .iter()
        .zip(&contacts)
        .map(|(c, h)| {
            (
                out.shadow_of(Side::Home, c),
                out.shadow_of(Side::External, h),
            )
        })
        .collect();
    let t = Instant::now();
    for ((c, h), (sb, tb)) in customers.iter().zip(&contacts).zip(&bases) {
        black_box(out.plan(
            c,
            Target::Found {
                id: "1".into(),
                record: h,
                by: LinkedBy::Store,
            },
            &PlanContext {
                source_shadow: Some(sb),
                target_shadow: Some(tb),
                ..ctx
            },
        ));
    }
    report("outbound, linked and unchanged, base compared", t);

    let inb = Engine::new(&mapping, Direction::Inbound);
    let t = Instant::now();
    for (c, h) in customers.iter().zip(&contacts) {
        black_box(inb.plan(
            h,
            Target::Found {
                id: "1".into(),
                record: c,
                by: LinkedBy::Store,
            },
            &ctx,
        ));
    }
    report("inbound, every record linked", t);
}

fn report(what: &str, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{what:<48} {N} records in {secs:.2} s = {:.0} records/s",
        N as f64 / secs
    );
}
