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
        let path = req
            .path
            .render(vars)
            .map_err(|e| template_error(&sys.name, what, &e))?;
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
