//! `mapsync explain <record>`: renders `runner::explain` for a person, or as JSON.

use std::fmt::Write as _;

use super::sync::{connectors, load};
use super::{Exit, ExplainArgs, print};
use crate::runner::{self, Explanation};

/// Runs `mapsync explain`.
pub fn run(args: &ExplainArgs) -> Exit {
    let Some(mapping) = load(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    let store = match super::queue::open(&args.mapping.mapping, args.state.as_ref()) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let conns = if args.offline {
        None
    } else {
        match connectors(&mapping, &store) {
            Ok(c) => Some(c),
            Err(message) => {
                eprintln!("error: {message} (or run `mapsync explain --offline`)");
                return Exit::Unavailable;
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Unavailable;
        }
    };
    let result = runtime.block_on(runner::explain(
        &mapping,
        store.as_ref(),
        conns.as_ref(),
        &args.record,
        jiff::Timestamp::now(),
    ));
    let x = match result {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    let unknown = x.home_id.is_none() && x.external_id.is_none();
    if args.json {
        print(&format!("{}\n", serde_json::json!({ "explain": x })));
    } else {
        print(&human(&mapping, &x));
    }
    if unknown { Exit::NotFound } else { Exit::Ok }
}

fn human(mapping: &crate::mapping::Mapping, x: &Explanation) -> String {
    use crate::mapping::Side;
    let (home, external) = (
        &mapping.collection(Side::Home).title,
        &mapping.collection(Side::External).title,
    );
    let mut out = String::new();
    let id = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
    let _ = writeln!(
        out,
        "{home} {} ↔ {external} {}  (link: {})",
        id(&x.home_id),
        id(&x.external_id),
        x.link.as_deref().unwrap_or("none")
    );
    for n in &x.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    if !x.fields.is_empty() && (x.home_id.is_some() || x.external_id.is_some()) {
        let _ = writeln!(
            out,
            "\nfields (base = last synced{}):",
            if x.live {
                " | now = read just now"
            } else {
                "; --offline, nothing read"
            }
        );
        let mut group = "";
        for f in &x.fields {
            if f.group != group {
                group = &f.group;
                let _ = writeln!(out, "  {group}:");
            }
            let title = if f.side == Side::Home { home } else { external };
            let show = |v: &Option<serde_json::Value>| {
                v.as_ref().map_or("-".to_string(), |v| v.to_string())
            };
            let mut line = format!("    {title}.{}: base {}", f.field, show(&f.base));
            if x.live {
                line.push_str(&format!(" | now {}", show(&f.now)));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !x.next.is_empty() {
        let _ = writeln!(out, "\nnext sync:");
        for n in &x.next {
            let mut line = format!("  {}: {:?}", n.direction, n.kind).to_lowercase();
            if let Some(t) = &n.target_id {
                line.push_str(&format!(" → {t}"));
            }
            if let Some(r) = &n.reason {
                line.push_str(&format!(": {r}"));
            }
            let _ = writeln!(out, "{line}");
            for c in &n.changes {
                let _ = writeln!(out, "      {}: {} → {}", c.field, c.from, c.to);
            }
        }
    }
    let _ = writeln!(out, "\nhistory (oldest first):");
    if x.history.is_empty() {
        let _ = writeln!(out, "  nothing recorded");
    }
    for h in &x.history {
        let _ = writeln!(out, "  {}  {:<11} {}", h.at, h.kind, h.detail);
    }
    out
}
