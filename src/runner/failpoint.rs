//! Crash points for the kill-and-resume tests: `MAPSYNC_FAILPOINT=<point>:<page>[:<n>]` makes
//! the process abort (like `kill -9`: no destructors, no flush) at that point of a full sync.
//! Unset, every check is one branch on a value read once.
//!
//! Points: `mid-page:P:N` after N target writes of page P; `before-commit:P` after page P's
//! target writes and write-backs, before its checkpoint commit; `after-batch:P` right after
//! page P's batch create answered, before anything else is done with it.

use std::sync::OnceLock;

/// A parsed failpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failpoint {
    point: String,
    page: u64,
    n: u64,
}

fn configured() -> Option<&'static Failpoint> {
    static FP: OnceLock<Option<Failpoint>> = OnceLock::new();
    FP.get_or_init(|| parse(&std::env::var("MAPSYNC_FAILPOINT").ok()?))
        .as_ref()
}

fn parse(s: &str) -> Option<Failpoint> {
    let mut parts = s.split(':');
    let point = parts.next()?.to_string();
    let page = parts.next()?.parse().ok()?;
    let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    Some(Failpoint { point, page, n })
}

/// Aborts the process if the configured failpoint is `point` at `page` (and `n`).
pub(crate) fn hit(point: &str, page: u64, n: u64) {
    if let Some(fp) = configured()
        && fp.point == point
        && fp.page == page
        && fp.n == n
    {
        eprintln!("mapsync: failpoint {point}:{page}:{n} reached; aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse("mid-page:2:5"),
            Some(Failpoint {
                point: "mid-page".into(),
                page: 2,
                n: 5
            })
        );
        assert_eq!(
            parse("before-commit:1"),
            Some(Failpoint {
                point: "before-commit".into(),
                page: 1,
                n: 0
            })
        );
        assert_eq!(parse("nonsense"), None);
    }
}
