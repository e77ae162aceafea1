//! The assumption register of FIDELITY.md §4, as the sandbox implements it (`GET /_sandbox/assumptions`).

/// The assumption register (FIDELITY.md §4) as the sandbox implements it.
pub const ASSUMPTIONS: &[(&str, &str)] = &[
    (
        "T-01",
        "serves under whatever base it is bound to; URIs use that base",
    ),
    ("T-02", "token/Token both accepted; DRF 401 texts"),
    ("T-03", "<base>/api/enterprise/v2/customer/<n>/"),
    (
        "T-04",
        "count, next, previous, results; default 10, max 100, 400 above",
    ),
    ("T-05", "creation order, stable across pages"),
    ("T-06", "True/true/1 and False/false/0 accepted"),
    ("T-07", "201, Location, full Customer body"),
    (
        "T-08",
        "absent keys kept; custom_fields merged per label; arrays replaced; 200 + Customer",
    ),
    (
        "T-09",
        "fixed set of labels per organisation; unknown label -> 400; a field without a value left out (switchable to \"\")",
    ),
    (
        "T-10",
        "204; 404 if already deleted; 409 for future bookings without force",
    ),
    (
        "T-11",
        "deleted hidden unless include_deleted; then deleted: true; GET -> 404",
    ),
    ("T-12", "DRF error shapes"),
    ("T-13", "no email validation; any string stored"),
    (
        "T-14",
        "token bucket, 429 + Retry-After + DRF throttle text",
    ),
    (
        "T-15",
        "201 + {resource_uri, callback_url, scope}; list paged",
    ),
    (
        "T-16",
        "JSON body only; no signature; userinfo in callback_url sent as basic auth",
    ),
    (
        "T-17",
        "<= 100 items; changes within the window (1 s) coalesced",
    ),
    (
        "T-18",
        "2xx within 5 s succeeds; retries at 10 s, 1 min, 5 min, 30 min, 2 h (configurable)",
    ),
    ("T-19", "name always a string"),
    (
        "H-01",
        "401/403 categories INVALID_AUTHENTICATION, MISSING_SCOPES",
    ),
    ("H-02", "cleared value reads back as null"),
    ("H-03", "list limit above 100 -> 400 VALIDATION_ERROR"),
    (
        "H-04",
        "duplicate email on update -> 409, same body as on create",
    ),
    ("H-05", "DELETE of unknown or archived id -> 204"),
    ("H-06", "search index lag configurable; 0 by default"),
    ("H-07", "email rule: trim, then the demo's syntax rule"),
    (
        "H-08",
        "404 body category OBJECT_NOT_FOUND, message 'resource not found'",
    ),
    ("H-09", "Retry-After sent on 429, in seconds"),
    (
        "H-10",
        "409 for an existing property or group: general shape, category CONFLICT",
    ),
    ("H-11", "property name rule ^[a-z][a-z0-9_]*$"),
    (
        "H-12",
        "subscription id a string in management calls, a number in events",
    ),
    ("H-13", "<= 100 events per delivery, configurable"),
    (
        "H-14",
        "any non-2xx or > 5 s retried; 10 attempts; schedule configurable",
    ),
    (
        "H-15",
        "sourceId for our own writes: the writing app's id; private app id configurable",
    ),
    ("H-16", "no timeout header on deliveries"),
    (
        "H-17",
        "no propertyChange events on create by default; switchable",
    ),
    ("H-18", "refresh tokens never expire until revoked"),
    (
        "H-19",
        "token endpoint errors: 400 in the general error shape",
    ),
    (
        "P-01",
        "Pipedrive: api_token query parameter; 401 {success:false, error:'unauthorized access', errorCode:401}",
    ),
    (
        "P-02",
        "Pipedrive: bodies wrapped as {success:true, data}; POST answers 201",
    ),
    (
        "P-03",
        "Pipedrive: errors as {success:false, error, errorCode, error_info, data:null}",
    ),
    (
        "P-04",
        "Pipedrive: persons listed in id order; start/limit, default 100, max 500 (clamped); data null on an empty page; next_start only when more_items_in_collection",
    ),
    ("P-05", "Pipedrive: PUT changes only the keys sent"),
    (
        "P-06",
        "Pipedrive: a malformed email value is refused with 400 (HubSpot's syntax rule)",
    ),
    (
        "P-07",
        "Pipedrive: unknown and read-only keys in a body are ignored",
    ),
    (
        "P-08",
        "Pipedrive: custom field keys are 40 hex characters, derived from the field name in the sandbox (random in real accounts)",
    ),
    ("P-09", "Pipedrive: times as 'YYYY-MM-DD HH:MM:SS' UTC"),
    (
        "P-10",
        "Pipedrive: DELETE marks the person deleted; it is then 404 and no longer listed",
    ),
    (
        "P-11",
        "Pipedrive: email/phone accept a string, strings or {value, primary, label}; empties dropped; one primary (first flagged, else first); label default 'work'; none reads as [{value:'', primary:true}]",
    ),
    (
        "P-12",
        "Pipedrive: deliveries time out after 10 s and are retried 3 times (3 s, 30 s, 150 s) on any non-2xx",
    ),
    (
        "P-13",
        "Pipedrive: webhooks v1 body {v, meta, current, previous, event, retry}; '*' matches every action/object; API writes are announced too (change_source 'api')",
    ),
    (
        "P-14",
        "Pipedrive: http_auth_password is masked when webhooks are listed",
    ),
    (
        "P-15",
        "Pipedrive: no rate limit emulated; scripted 429s carry Retry-After",
    ),
];
