//! Renders a declared request (path, query and header templates, body) into a `Call` for one
//! system, URL checked against the base. It never sends anything and adds no credentials.

use serde_json::Value;
use url::Url;

use super::Connector;
use super::call::Call;
use super::error::{ConnectorError, Result, template_error};
use super::url::resolve;
use crate::expr::{Template, Vars};
use crate::mapping::model::{Method, Request};

impl Connector {
    /// The URL and headers of `req` rendered with `vars`, plus `extra` query parameters
    /// (replacing declared ones of the same name).
    pub(crate) fn render<'a>(
        &self,
        what: &str,
        req: &Request,
        vars: &Vars,
        extra: &[(String, String)],
        body: Option<Value>,
        accept: &'a [u16],
    ) -> Result<Call<'a>> {
        let sys = &self.shared.system;
        let path = render_path(&req.path, vars).map_err(|e| template_error(&sys.name, what, &e))?;
        if path.chars().any(char::is_control) || path.split('/').any(is_dot_segment) {
            return Err(ConnectorError::Template {
                system: sys.name.clone(),
                what: what.to_string(),
                message: "the path renders to a control character or a `.`/`..` segment; \
                          an id may not hold either"
                    .to_string(),
            });
        }
        let mut url = resolve(&sys.name, &sys.base_url, &path)?;
        let mut query = Vec::with_capacity(req.query.len() + extra.len());
        for (name, t) in &req.query {
            let value = t
                .render(vars)
                .map_err(|e| template_error(&sys.name, what, &e))?;
            query.push((name.clone(), value));
        }
        set_params(&mut url, &query);
        set_params(&mut url, extra);
        let headers = self.headers(what, &req.headers, vars)?;
        Ok(Call {
            method: req.method,
            url,
            headers,
            body,
            accept,
            repeatable: true,
            per_record: false,
        })
    }

    /// A call to a URL that is already resolved and checked (a next-page link).
    pub(crate) fn render_url<'a>(
        &self,
        what: &str,
        method: Method,
        url: Url,
        headers: &[(String, Template)],
        vars: &Vars,
        accept: &'a [u16],
    ) -> Result<Call<'a>> {
        Ok(Call {
            method,
            url,
            headers: self.headers(what, headers, vars)?,
            body: None,
            accept,
            repeatable: true,
            per_record: false,
        })
    }

    /// The system's headers, then the request's (which replace same-named ones).
    fn headers(
        &self,
        what: &str,
        declared: &[(String, Template)],
        vars: &Vars,
    ) -> Result<Vec<(String, String, bool)>> {
        let sys = &self.shared.system;
        let mut out: Vec<(String, String, bool)> = Vec::new();
        for (name, t) in sys.headers.iter().chain(declared) {
            let value = t
                .render(vars)
                .map_err(|e| template_error(&sys.name, what, &e))?;
            if value.contains(['\r', '\n']) {
                return Err(ConnectorError::Template {
                    system: sys.name.clone(),
                    what: what.to_string(),
                    message: format!("header `{name}` renders to a value with a line break"),
                });
            }
            out.retain(|(n, _, _)| !n.eq_ignore_ascii_case(name));
            out.push((name.clone(), value, false));
        }
        Ok(out)
    }
}

/// A path template rendered so that a value can never change the path's shape: a template
/// that is exactly one `{{ expression }}` is a whole URL or path taken as it is (then held to
/// the base URL's origin by `resolve`); otherwise every value is percent-encoded as one path
/// segment (`/`, `?`, `#`, `%` and everything but `A-Z a-z 0-9 - . _ ~` encoded), so an id
/// such as `../../settings` or `104#frag` stays one segment of the declared path.
pub(crate) fn render_path(
    t: &Template,
    vars: &Vars,
) -> std::result::Result<String, crate::expr::ExprError> {
    if t.single_expr().is_some() {
        t.render(vars)
    } else {
        t.render_escaped(vars, encode_segment)
    }
}

/// Percent-encodes `s` as one URL path segment (RFC 3986 unreserved characters kept).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `.` or `..`, plain or percent-encoded: a segment URL parsing removes or climbs with.
fn is_dot_segment(seg: &str) -> bool {
    let s = seg.to_ascii_lowercase().replace("%2e", ".");
    s == "." || s == ".."
}

/// Sets query parameters on a URL, replacing any of the same names (sent as rendered, empty
/// values included).
pub(crate) fn set_params(url: &mut Url, params: &[(String, String)]) {
    if params.is_empty() {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(n, _)| n == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut q = url.query_pairs_mut();
    q.clear();
    q.extend_pairs(kept);
    q.extend_pairs(params);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(t: &str, id: &str) -> String {
        let t = Template::compile(t).expect("template");
        render_path(&t, &Vars::new().with_str("id", id)).expect("renders")
    }

    #[test]
    fn ids_stay_one_segment_of_the_declared_path() {
        assert_eq!(path("/contacts/{{ id }}", "104"), "/contacts/104");
        assert_eq!(
            path("/contacts/{{ id }}", "../../../../webhooks/v3/1/settings"),
            "/contacts/..%2F..%2F..%2F..%2Fwebhooks%2Fv3%2F1%2Fsettings"
        );
        assert_eq!(
            path("/contacts/{{ id }}", "104#frag"),
            "/contacts/104%23frag"
        );
        assert_eq!(path("/contacts/{{ id }}", "a?b=c"), "/contacts/a%3Fb%3Dc");
        assert_eq!(path("/contacts/{{ id }}", "a\nb"), "/contacts/a%0Ab");
        assert_eq!(path("/contacts/{{ id }}", "é"), "/contacts/%C3%A9");
        // A whole-URL id is taken as it is (and held to the base URL's origin later).
        assert_eq!(
            path("{{ id }}", "http://h/api/customer/1/"),
            "http://h/api/customer/1/"
        );
    }

    #[test]
    fn dot_segments_are_recognised_encoded_or_not() {
        for s in [".", "..", "%2e", "%2E%2e", ".%2E"] {
            assert!(is_dot_segment(s), "{s}");
        }
        for s in ["...", "a..", "", "%2f"] {
            assert!(!is_dot_segment(s), "{s}");
        }
    }
}
