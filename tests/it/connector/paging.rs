//! Listing over three pages in each paging style (next link, cursor, offset, page number), the
//! end conditions, and checkpointed cursors resuming where they left off.

use serde_json::json;

use super::*;
use mapsync::expr::{JsonPath, Template};
use mapsync::mapping::model::{ListOp, Method, Paging, Request};

async fn all_pages(c: &Connector, op: &ListOp, vars: &Vars) -> (Vec<Value>, Vec<PageCursor>) {
    let mut cursor = PageCursor::First;
    let mut records = Vec::new();
    let mut cursors = vec![cursor.clone()];
    loop {
        // Every cursor survives a checkpoint.
        let text = serde_json::to_string(&cursor).unwrap();
        cursor = serde_json::from_str(&text).unwrap();
        let page = c.list_op_page(op, &cursor, vars).await.unwrap();
        records.extend(page.records);
        match page.next {
            Some(n) => {
                cursors.push(n.clone());
                cursor = n;
            }
            None => return (records, cursors),
        }
    }
}

fn ids(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .filter_map(|r| r["n"].as_i64().or_else(|| r["id"].as_str()?.parse().ok()))
        .collect()
}

#[tokio::test]
async fn next_links_absolute_and_relative() {
    let server = TestServer::start(|r| {
        let base = format!("http://{}", r.header("host").unwrap_or(""));
        match r.param("page").as_deref() {
            None => Reply::json(200, json!({
                "results": [{"n": 1}, {"n": 2}],
                "next": format!("{base}/api/v2/customer/?include_deleted=True&limit=100&page=2"),
            })),
            Some("2") => Reply::json(200, json!({"results": [{"n": 3}], "next": "/api/v2/customer/?page=3"})),
            _ => Reply::json(200, json!({"results": [{"n": 4}], "next": null})),
        }
    })
    .await;
    let m = reference(&server.base, &[]);
    let customers = &m.collections["customers"];
    let c = connector(&m.systems["tte"]);
    let mut cursor = PageCursor::First;
    let mut got = Vec::new();
    loop {
        let page = c
            .list_page(customers, &customers.list, &cursor, &Vars::new())
            .await
            .unwrap();
        got.extend(page.records);
        match page.next {
            Some(n) => cursor = n,
            None => break,
        }
    }
    assert_eq!(ids(&got), [1, 2, 3, 4]);
    let log = server.log();
    assert_eq!(log[0].query, "include_deleted=True&limit=100");
    assert_eq!(log[2].query, "page=3");
    assert!(log.iter().all(|r| r.path == "/api/v2/customer/"));
    assert!(
        log.iter()
            .all(|r| r.header("authorization") == Some("token tte-key-123"))
    );
}

#[tokio::test]
async fn a_next_link_to_another_host_ends_with_an_error() {
    let server = TestServer::start(|_| {
        Reply::json(
            200,
            json!({"results": [], "next": "https://elsewhere.example/api/v2/customer/?page=2"}),
        )
    })
    .await;
    let m = reference(&server.base, &[]);
    let customers = &m.collections["customers"];
    let c = connector(&m.systems["tte"]);
    let e = c
        .list_page(customers, &customers.list, &PageCursor::First, &Vars::new())
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::ForeignUrl { .. }), "{e}");
    // A checkpointed link off the base is refused too, without a request.
    let before = server.log().len();
    let stale = PageCursor::Next {
        url: "https://elsewhere.example/x".into(),
    };
    assert!(
        c.list_page(customers, &customers.list, &stale, &Vars::new())
            .await
            .is_err()
    );
    assert_eq!(server.log().len(), before);
}

#[tokio::test]
async fn cursor_paging_with_declared_query() {
    let server = TestServer::start(|r| match r.param("after").as_deref() {
        None => Reply::json(
            200,
            json!({"results": [{"id": "1"}], "paging": {"next": {"after": "c2"}}}),
        ),
        Some("c2") => Reply::json(
            200,
            json!({"results": [{"id": "2"}, {"id": "3"}], "paging": {"next": {"after": "c3"}}}),
        ),
        _ => Reply::json(200, json!({"results": [{"id": "4"}]})),
    })
    .await;
    let m = reference(&server.base, &[("HUBSPOT_ACCESS_TOKEN", "tok")]);
    let contacts = &m.collections["contacts"];
    let c = connector(&m.systems["hubspot"]);
    let vars = Vars::new().with("mapped_fields", &json!(["email", "phone"]));
    let (records, cursors) = all_pages(&c, &contacts.list, &vars).await;
    assert_eq!(ids(&records), [1, 2, 3, 4]);
    assert_eq!(cursors[2], PageCursor::Cursor { value: "c3".into() });
    let log = server.log();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log[1].query,
        "archived=false&limit=100&properties=email%2Cphone&after=c2"
    );
    // Resuming from a checkpointed cursor asks for that page only.
    let page = c
        .list_op_page(
            &contacts.list,
            &PageCursor::Cursor { value: "c3".into() },
            &vars,
        )
        .await
        .unwrap();
    assert_eq!((ids(&page.records), page.next), (vec![4], None));
}

fn list(paging: Paging) -> ListOp {
    ListOp {
        request: Request {
            method: Method::Get,
            path: Template::compile("/items").unwrap(),
            query: vec![("q".into(), Template::compile("{{ term }}").unwrap())],
            headers: vec![],
            body: None,
        },
        records: JsonPath::compile("$.items").unwrap(),
        paging,
        total: Some(JsonPath::compile("$.count").unwrap()),
        no_records: vec![],
        no_records_when_empty: false,
    }
}

#[tokio::test]
async fn offset_paging_ends_on_a_short_page() {
    let server = TestServer::start(|r| {
        let offset: i64 = r.param("offset").and_then(|o| o.parse().ok()).unwrap_or(-1);
        let items: Vec<Value> = (offset..(offset + 2).min(5))
            .map(|n| json!({"n": n}))
            .collect();
        Reply::json(200, json!({"items": items}))
    })
    .await;
    let c = connector(&system(&server.base));
    let op = list(Paging::Offset {
        param: "offset".into(),
        limit_param: "limit".into(),
        limit: 2,
        more: None,
        next: None,
    });
    let (records, cursors) = all_pages(&c, &op, &Vars::new().with_str("term", "")).await;
    assert_eq!(ids(&records), [0, 1, 2, 3, 4]);
    assert_eq!(cursors.last(), Some(&PageCursor::Offset { offset: 4 }));
    let queries: Vec<String> = server.log().iter().map(|r| r.query.clone()).collect();
    // Empty rendered parameters are sent as rendered.
    assert_eq!(
        queries,
        [
            "q=&offset=0&limit=2",
            "q=&offset=2&limit=2",
            "q=&offset=4&limit=2"
        ]
    );
}

#[tokio::test]
async fn page_numbers_end_on_a_false_more_flag_or_an_empty_page() {
    let server = TestServer::start(|r| {
        let page: i64 = r.param("page").and_then(|o| o.parse().ok()).unwrap_or(0);
        Reply::json(200, json!({"items": [{"n": page}], "has_more": page < 3}))
    })
    .await;
    let c = connector(&system(&server.base));
    let with_flag = list(Paging::Page {
        param: "page".into(),
        start: 1,
        more: Some(JsonPath::compile("$.has_more").unwrap()),
    });
    let vars = Vars::new().with_str("term", "x");
    let (records, _) = all_pages(&c, &with_flag, &vars).await;
    assert_eq!(ids(&records), [1, 2, 3]);

    let server = TestServer::start(|r| {
        let page: i64 = r.param("page").and_then(|o| o.parse().ok()).unwrap_or(0);
        let items: Vec<Value> = if page <= 2 {
            vec![json!({"n": page})]
        } else {
            vec![]
        };
        Reply::json(200, json!({"items": items}))
    })
    .await;
    let c = connector(&system(&server.base));
    let no_flag = list(Paging::Page {
        param: "page".into(),
        start: 0,
        more: None,
    });
    let (records, cursors) = all_pages(&c, &no_flag, &vars).await;
    assert_eq!(ids(&records), [0, 1, 2]);
    assert_eq!(cursors.len(), 4);
}

#[tokio::test]
async fn an_answer_without_the_records_path_is_an_error_not_an_empty_page() {
    let server = TestServer::start(|_| Reply {
        status: 200,
        headers: vec![],
        body: "<html>maintenance</html>".into(),
    })
    .await;
    let c = connector(&system(&server.base));
    let e = c
        .list_op_page(
            &list(Paging::None),
            &PageCursor::First,
            &Vars::new().with_str("term", ""),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no records at `$.items`"), "{e}");
}
