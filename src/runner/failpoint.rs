//! Crash points for the crash campaign (`tests/it/crash_campaign.rs`): with the `failpoints`
//! cargo feature (test builds only: the integration tests enable it through a dev-dependency of
//! the crate on itself; a release build has no failpoint at all, every `hit` is an empty inline
//! function), `MAPSYNC_FAILPOINT=<point>:<a>[:<b>]` makes the process abort (like `kill -9`: no
//! destructors, no flush) at that point.
//!
//! Points of a full sync (`<a>` = the page, counted from 1 across resumes):
//! - `mid-page:P:N` — right after the N-th target create of page P answered, before anything
//!   else is done with it (more writes of the page may be in flight);
//! - `after-batch:P` — right after page P's batch create answered;
//! - `before-commit:P` — page P's target writes and write-backs done, its commit not made;
//! - `after-commit:P` — page P committed, the next page not started.
//!
//! Points of `serve`'s workers (`<a>` = the K-th time the point is reached in the process):
//! - `worker-after-create:K` — a create answered, its link not yet written back to the source;
//! - `worker-before-commit:K` — a record's writes and write-backs done, not committed;
//! - `worker-before-ack:K` — committed, its events not yet acked.

/// Every failpoint: its name, whether it is in `sync` (else in the workers), and what it
/// interrupts. The crash campaign crashes at each one.
#[cfg(feature = "failpoints")]
pub const FAILPOINTS: &[(&str, bool, &str)] = &[
    ("mid-page", true, "after a target create answered"),
    ("after-batch", true, "after a batch create answered"),
    (
        "before-commit",
        true,
        "after a page's writes, before its commit",
    ),
    ("after-commit", true, "after a page's commit"),
    (
        "worker-after-create",
        false,
        "after a create answered, before the write-back",
    ),
    (
        "worker-before-commit",
        false,
        "after a record's writes, before its commit",
    ),
    (
        "worker-before-ack",
        false,
        "after a record's commit, before its ack",
    ),
];

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A parsed failpoint.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Failpoint {
        pub(super) point: String,
        pub(super) a: u64,
        pub(super) b: u64,
    }

    fn configured() -> Option<&'static Failpoint> {
        static FP: OnceLock<Option<Failpoint>> = OnceLock::new();
        FP.get_or_init(|| parse(&std::env::var("MAPSYNC_FAILPOINT").ok()?))
            .as_ref()
    }

    pub(super) fn parse(s: &str) -> Option<Failpoint> {
        let mut parts = s.split(':');
        let point = parts.next()?.to_string();
        let a = parts.next()?.parse().ok()?;
        let b = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Some(Failpoint { point, a, b })
    }

    fn abort(point: &str, a: u64, b: u64) -> ! {
        eprintln!("mapsync: failpoint {point}:{a}:{b} reached; aborting");
        std::process::abort();
    }

    pub(crate) fn hit(point: &str, page: u64, n: u64) {
        if let Some(fp) = configured()
            && fp.point == point
            && fp.a == page
            && fp.b == n
        {
            abort(point, page, n);
        }
    }

    pub(crate) fn hit_nth(point: &str) {
        static HITS: AtomicU64 = AtomicU64::new(0);
        if let Some(fp) = configured()
            && fp.point == point
        {
            let k = HITS.fetch_add(1, Ordering::SeqCst) + 1;
            if k == fp.a {
                abort(point, k, 0);
            }
        }
    }
}

/// Aborts the process if the configured failpoint is `point` at `page` (and `n`).
#[cfg(feature = "failpoints")]
pub(crate) use armed::hit;

/// Aborts the process the K-th time `point` is reached, if it is the configured failpoint.
#[cfg(feature = "failpoints")]
pub(crate) use armed::hit_nth;

/// Without the `failpoints` feature there is no failpoint: nothing to check.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(_point: &str, _page: u64, _n: u64) {}

/// Without the `failpoints` feature there is no failpoint: nothing to check.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit_nth(_point: &str) {}

#[cfg(all(test, feature = "failpoints"))]
mod tests {
    use super::armed::{Failpoint, parse};

    #[test]
    fn parses() {
        assert_eq!(
            parse("mid-page:2:5"),
            Some(Failpoint {
                point: "mid-page".into(),
                a: 2,
                b: 5
            })
        );
        assert_eq!(
            parse("before-commit:1"),
            Some(Failpoint {
                point: "before-commit".into(),
                a: 1,
                b: 0
            })
        );
        assert_eq!(parse("nonsense"), None);
    }
}
