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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
