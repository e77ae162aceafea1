//! One log line per record acted on, as a person reads it:
//! `outbound customer/1009 → contact 112: updated phone`.

use crate::engine::{Engine, PlanKind};
use crate::mapping::Direction;

use super::apply::Applied;

/// A record id as a person reads it: a URL id shortened to its last two path segments
/// (`…/customer/1009/` → `customer/1009`), any other id as it is.
pub(crate) fn short_id(id: &str) -> &str {
    if !id.contains("://") {
        return id;
    }
    let trimmed = id.trim_end_matches('/');
    let mut cut = trimmed.len();
    for _ in 0..2 {
        match trimmed[..cut].rfind('/') {
            Some(i) => cut = i,
            None => return trimmed,
        }
    }
    &trimmed[cut + 1..]
}

/// `contact 112`, or `customer/1009` when the shortened id already says what it is.
fn titled(title: &str, id: &str) -> String {
    let short = short_id(id);
    if short.contains('/') {
        short.to_string()
    } else {
        format!("{title} {short}")
    }
}

/// What was done to one record, or `None` when nothing was written.
pub(crate) fn line(dir: Direction, engine: &Engine, a: &Applied) -> Option<String> {
    let p = &a.plan;
    let source = titled(&engine.source().title, &p.source_id);
    let target_id = match &a.result {
        Ok(Some(id)) => id.as_str(),
        Ok(None) | Err(_) => p.target_id.as_deref().unwrap_or("(new)"),
    };
    let target = titled(&engine.target().title, target_id);
    let fields = || {
        let names: Vec<&str> = p.changes.iter().map(|c| c.field.as_str()).collect();
        if names.is_empty() {
            "its status".to_string()
        } else {
            names.join(", ")
        }
    };
    let what = if let Err(e) = &a.result {
        format!("failed: {}", e.message)
    } else if let Some(r) = &a.refused {
        format!("refused: {r}")
    } else if a.linked_existing {
        "linked to the existing record".to_string()
    } else {
        match p.kind {
            PlanKind::Create => format!("created ({})", fields()),
            PlanKind::Update => format!("updated {}", fields()),
            PlanKind::Delete => "deleted".to_string(),
            PlanKind::Unlink => "unlinked".to_string(),
            PlanKind::Unchanged if p.write.is_some() => "updated its status".to_string(),
            _ => return None,
        }
    };
    Some(format!("{dir} {source} → {target}: {what}"))
}

/// Logs what was done to one record at info (a failure at warn); nothing when nothing was
/// written.
pub(crate) fn log(dir: Direction, engine: &Engine, a: &Applied) {
    let Some(text) = line(dir, engine, a) else {
        return;
    };
    if a.result.is_err() || a.refused.is_some() {
        tracing::warn!(source_id = %a.plan.source_id, "{text}");
    } else {
        tracing::info!(source_id = %a.plan.source_id, "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::short_id;

    #[test]
    fn url_ids_are_shortened_to_their_last_two_segments() {
        assert_eq!(
            short_id("http://127.0.0.1:9/api/enterprise/v2/customer/1009/"),
            "customer/1009"
        );
        assert_eq!(short_id("112"), "112");
        assert_eq!(short_id("a/b/c"), "a/b/c");
    }
}
