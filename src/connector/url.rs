//! Turns a rendered path into the URL a request goes to, and refuses any URL outside the
//! system's base (R11: credentials never leave for another origin). It never sends anything.

use url::Url;

use super::error::ConnectorError;

/// The URL for a rendered path: a path starting with `/` joins the base URL; an absolute URL is
/// used as is only when its scheme, host and port are the base URL's.
pub fn resolve(system: &str, base: &Url, rendered: &str) -> Result<Url, ConnectorError> {
    let rendered = rendered.trim();
    let parsed = if rendered.starts_with('/') {
        Url::parse(&format!(
            "{}{}",
            base.as_str().trim_end_matches('/'),
            rendered
        ))
    } else {
        Url::parse(rendered)
    };
    let url = parsed.map_err(|e| ConnectorError::Template {
        system: system.to_string(),
        what: "URL".to_string(),
        message: format!(
            "`{}` is neither a path starting with `/` nor an absolute URL ({e})",
            without_query_text(rendered)
        ),
    })?;
    check_origin(system, base, url)
}

/// A link found in an answer (a next page): resolved against the URL that answered, then held
/// to the base URL's origin.
pub fn resolve_link(
    system: &str,
    base: &Url,
    answered: &Url,
    link: &str,
) -> Result<Url, ConnectorError> {
    let url = answered
        .join(link.trim())
        .map_err(|e| ConnectorError::Template {
            system: system.to_string(),
            what: "next page URL".to_string(),
            message: format!("`{}` is not a URL ({e})", without_query_text(link)),
        })?;
    check_origin(system, base, url)
}

/// Refuses a URL whose origin differs from the base URL's.
pub fn check_origin(system: &str, base: &Url, url: Url) -> Result<Url, ConnectorError> {
    if same_origin(base, &url) {
        Ok(url)
    } else {
        Err(ConnectorError::ForeignUrl {
            system: system.to_string(),
            url: without_query(&url),
            base: base.to_string(),
        })
    }
}

/// True when scheme, host and port agree.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A URL without its query and fragment, safe to log or show (queries may carry credentials).
pub fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    u.to_string()
}

fn without_query_text(s: &str) -> &str {
    s.split(['?', '#']).next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.example.com/v2").unwrap()
    }

    #[test]
    fn paths_join_the_base() {
        let u = resolve("s", &base(), "/things/1").unwrap();
        assert_eq!(u.as_str(), "https://api.example.com/v2/things/1");
        let slash = Url::parse("https://api.example.com/v2/").unwrap();
        let u = resolve("s", &slash, "/things/?a=1").unwrap();
        assert_eq!(u.as_str(), "https://api.example.com/v2/things/?a=1");
    }

    #[test]
    fn absolute_urls_only_on_the_same_origin() {
        let ok = resolve("s", &base(), "https://api.example.com/v2/things/7/").unwrap();
        assert_eq!(ok.path(), "/v2/things/7/");
        assert!(resolve("s", &base(), "https://api.example.com:443/x").is_ok());
        for bad in [
            "https://evil.example.com/v2/things/7/",
            "http://api.example.com/v2/things/7/",
            "https://api.example.com:8443/v2/things/7/",
            "https://api.example.com.evil.net/v2/",
        ] {
            let e = resolve("s", &base(), bad).unwrap_err();
            assert!(matches!(e, ConnectorError::ForeignUrl { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("refusing"), "{e}");
        }
        let e = resolve("s", &base(), "things/1").unwrap_err();
        assert!(e.to_string().contains("neither a path"), "{e}");
    }

    #[test]
    fn links_resolve_against_the_answering_url() {
        let answered = Url::parse("https://api.example.com/v2/things/?page=1").unwrap();
        let u = resolve_link("s", &base(), &answered, "?page=2").unwrap();
        assert_eq!(u.as_str(), "https://api.example.com/v2/things/?page=2");
        assert!(resolve_link("s", &base(), &answered, "https://other.net/?page=2").is_err());
    }

    #[test]
    fn shown_urls_drop_the_query() {
        let u = Url::parse("https://u:p@api.example.com/x?key=secret#f").unwrap();
        assert_eq!(without_query(&u), "https://u@api.example.com/x");
    }
}
