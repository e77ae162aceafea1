//! Where a listing is: `PageCursor`, which the runner checkpoints, and how each paging style
//! turns an answer into the next cursor and a cursor into request parameters. It never sends
//! anything and never decides when to checkpoint.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::error::{ConnectorError, Result};
use super::url::resolve_link;
use crate::expr::JsonPath;
use crate::mapping::model::Paging;

/// Which page of a listing to get. Serializable so the runner can checkpoint it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageCursor {
    /// The first page.
    First,
    /// The next-page URL the API gave.
    Next {
        /// The absolute URL (on the system's base origin).
        url: String,
    },
    /// The opaque cursor the API gave.
    Cursor {
        /// Its value.
        value: String,
    },
    /// An offset into the listing.
    Offset {
        /// Records skipped.
        offset: u64,
    },
    /// A page number.
    Page {
        /// The number.
        number: u64,
    },
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The total number of records, when the listing reports it.
    pub total: Option<u64>,
    /// The records, in the API's order.
    pub records: Vec<Value>,
    /// The page after this one; `None` when this was the last.
    pub next: Option<PageCursor>,
}

/// Consecutive empty pages that each give a next cursor, tolerated before the listing is
/// declared a loop.
const MAX_EMPTY_PAGES: u32 = 10;

/// Watches one listing from its first page to its last, so a listing that never ends is an
/// error instead of an endless loop: a next cursor seen before (A → B → A), an offset or page
/// number that does not move forward, more than `MAX_EMPTY_PAGES` empty pages in a row that
/// each name a next page, or more pages than the cap.
#[derive(Debug)]
pub struct PageGuard {
    system: String,
    what: String,
    seen: std::collections::HashSet<PageCursor>,
    empty_in_a_row: u32,
    pages: u64,
    max_pages: u64,
}

impl PageGuard {
    /// A guard for a listing of `what` on `system`, at most `max_pages` pages.
    pub fn new(system: &str, what: &str, max_pages: u64) -> PageGuard {
        PageGuard {
            system: system.to_string(),
            what: what.to_string(),
            seen: std::collections::HashSet::new(),
            empty_in_a_row: 0,
            pages: 0,
            max_pages,
        }
    }

    /// Checks the page read at `current` (with `records` records) whose answer names `next`.
    pub fn check(
        &mut self,
        current: &PageCursor,
        records: usize,
        next: Option<&PageCursor>,
    ) -> Result<()> {
        self.pages += 1;
        self.seen.insert(current.clone());
        let Some(next) = next else {
            return Ok(());
        };
        if self.pages >= self.max_pages {
            return Err(self.error(format!(
                "the listing goes on past {} pages, the most mapsync reads",
                self.max_pages
            )));
        }
        let backwards = match (current, next) {
            (PageCursor::Offset { offset: a }, PageCursor::Offset { offset: b }) => b <= a,
            (PageCursor::Page { number: a }, PageCursor::Page { number: b }) => b <= a,
            _ => false,
        };
        if backwards {
            return Err(self.error(
                "the next page's offset does not move forward, which would loop forever".into(),
            ));
        }
        if self.seen.contains(next) {
            return Err(self.error(
                "the next page is one already read (the cursors go round in a loop)".into(),
            ));
        }
        if records == 0 {
            self.empty_in_a_row += 1;
            if self.empty_in_a_row > MAX_EMPTY_PAGES {
                return Err(self.error(format!(
                    "{} empty pages in a row each name a next page, which looks like a loop",
                    self.empty_in_a_row
                )));
            }
        } else {
            self.empty_in_a_row = 0;
        }
        Ok(())
    }

    fn error(&self, message: String) -> ConnectorError {
        ConnectorError::Response {
            system: self.system.clone(),
            method: "GET",
            path: self.what.clone(),
            status: 200,
            message,
        }
    }
}

/// The query parameters a cursor adds to the listing's declared request (none for the next
/// link, whose URL is used as it is).
pub(crate) fn params(paging: &Paging, cursor: &PageCursor) -> Vec<(String, String)> {
    match (paging, cursor) {
        (Paging::Cursor { param, .. }, PageCursor::Cursor { value }) => {
            vec![(param.clone(), value.clone())]
        }
        (
            Paging::Offset {
                param,
                limit_param,
                limit,
                ..
            },
            c,
        ) => {
            let offset = match c {
                PageCursor::Offset { offset } => *offset,
                _ => 0,
            };
            vec![
                (param.clone(), offset.to_string()),
                (limit_param.clone(), limit.to_string()),
            ]
        }
        (Paging::Page { param, start, .. }, c) => {
            let number = match c {
                PageCursor::Page { number } => *number,
                _ => u64::from(*start),
            };
            vec![(param.clone(), number.to_string())]
        }
        _ => Vec::new(),
    }
}

/// What the answer says about the next page.
pub(crate) struct NextInput<'a> {
    pub(crate) system: &'a str,
    pub(crate) base: &'a Url,
    pub(crate) answered: &'a Url,
    pub(crate) body: &'a Value,
    pub(crate) current: &'a PageCursor,
    pub(crate) count: usize,
}

/// The cursor of the page after this one, `None` at the end. The end is a missing next link or
/// cursor, an empty page, or a "more" flag that is false. A cursor that does not move is an
/// error rather than an endless loop.
pub(crate) fn next(paging: &Paging, input: NextInput<'_>) -> Result<Option<PageCursor>> {
    let text = |p: &JsonPath| p.first_text(input.body).filter(|s| !s.is_empty());
    let more = |p: &Option<JsonPath>| {
        p.as_ref().map(|p| match p.first(input.body) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
            _ => false,
        })
    };
    let next = match paging {
        Paging::None => None,
        Paging::NextLink { path } => match text(path) {
            None => None,
            Some(link) => {
                let url = resolve_link(input.system, input.base, input.answered, &link)?;
                Some(PageCursor::Next {
                    url: url.to_string(),
                })
            }
        },
        Paging::Cursor { path, .. } => text(path).map(|value| PageCursor::Cursor { value }),
        Paging::Offset {
            limit,
            more: m,
            next: n,
            ..
        } => {
            let offset = match input.current {
                PageCursor::Offset { offset } => *offset,
                _ => 0,
            };
            let go_on = match more(m) {
                Some(b) => b && input.count > 0,
                None => input.count >= *limit as usize && input.count > 0,
            };
            if !go_on {
                None
            } else {
                let next_offset = match n.as_ref().and_then(|p| p.first(input.body)) {
                    Some(Value::Number(x)) => x.as_u64(),
                    Some(Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                }
                .unwrap_or(offset + input.count as u64);
                Some(PageCursor::Offset {
                    offset: next_offset,
                })
            }
        }
        Paging::Page { start, more: m, .. } => {
            let number = match input.current {
                PageCursor::Page { number } => *number,
                _ => u64::from(*start),
            };
            let go_on = more(m).unwrap_or(true) && input.count > 0;
            go_on.then_some(PageCursor::Page { number: number + 1 })
        }
    };
    if next.as_ref().is_some_and(|n| n == input.current) {
        return Err(ConnectorError::Response {
            system: input.system.to_string(),
            method: "GET",
            path: input.answered.path().to_string(),
            status: 200,
            message: "the next page is the same as this one, which would loop forever".to_string(),
        });
    }
    Ok(next)
}

/// The records of a page: the elements of the array at `path` (or every match of a
/// wildcard path). `None` when a plain path matches nothing, which is not an empty page.
pub(crate) fn records(path: &JsonPath, body: &Value) -> Option<Vec<Value>> {
    let found = path.query(body);
    match found.as_slice() {
        [] if path.simple_keys().is_some() => None,
        [Value::Array(items)] => Some(items.clone()),
        [Value::Null] => Some(Vec::new()),
        many => Some(many.iter().map(|v| (*v).clone()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cursors_round_trip_through_json() {
        for c in [
            PageCursor::First,
            PageCursor::Next {
                url: "https://a/x?p=2".into(),
            },
            PageCursor::Cursor {
                value: "abc".into(),
            },
            PageCursor::Offset { offset: 200 },
            PageCursor::Page { number: 3 },
        ] {
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<PageCursor>(&text).unwrap(), c);
        }
        assert_eq!(
            serde_json::to_value(PageCursor::Offset { offset: 5 }).unwrap(),
            json!({"kind": "offset", "offset": 5})
        );
    }

    #[test]
    fn a_guard_stops_loops_backward_offsets_empty_runs_and_the_page_cap() {
        let c = |v: &str| PageCursor::Cursor { value: v.into() };
        // A → B → A
        let mut g = PageGuard::new("s", "things", 100);
        g.check(&PageCursor::First, 5, Some(&c("a"))).unwrap();
        g.check(&c("a"), 5, Some(&c("b"))).unwrap();
        let e = g.check(&c("b"), 5, Some(&c("a"))).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
        // Offsets that go backwards, or stand still.
        let o = |n| PageCursor::Offset { offset: n };
        let mut g = PageGuard::new("s", "things", 100);
        g.check(&o(0), 10, Some(&o(10))).unwrap();
        assert!(g.check(&o(10), 10, Some(&o(5))).is_err());
        assert!(
            PageGuard::new("s", "t", 100)
                .check(&o(10), 10, Some(&o(10)))
                .is_err()
        );
        // Empty pages that always name a new next page.
        let mut g = PageGuard::new("s", "things", 1_000);
        let mut last = Ok(());
        for i in 0..=MAX_EMPTY_PAGES {
            last = g.check(&c(&i.to_string()), 0, Some(&c(&(i + 1).to_string())));
        }
        assert!(last.is_err());
        // An empty page in between is fine; the end is fine.
        let mut g = PageGuard::new("s", "things", 1_000);
        g.check(&c("1"), 0, Some(&c("2"))).unwrap();
        g.check(&c("2"), 3, Some(&c("3"))).unwrap();
        g.check(&c("3"), 0, None).unwrap();
        // The cap.
        let mut g = PageGuard::new("s", "things", 3);
        g.check(&c("1"), 1, Some(&c("2"))).unwrap();
        g.check(&c("2"), 1, Some(&c("3"))).unwrap();
        let e = g.check(&c("3"), 1, Some(&c("4"))).unwrap_err();
        assert!(e.to_string().contains("3 pages"), "{e}");
    }

    #[test]
    fn records_at_plain_and_wildcard_paths() {
        let body = json!({"results": [{"a": 1}, {"a": 2}], "none": null});
        let p = |s| JsonPath::compile(s).unwrap();
        assert_eq!(records(&p("$.results"), &body).unwrap().len(), 2);
        assert_eq!(records(&p("$.results[*]"), &body).unwrap().len(), 2);
        assert_eq!(records(&p("$.none"), &body).unwrap().len(), 0);
        assert!(records(&p("$.missing"), &body).is_none());
        assert_eq!(records(&p("$"), &json!([1, 2, 3])).unwrap().len(), 3);
    }
}
