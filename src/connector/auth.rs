//! Puts a system's credentials on an outgoing request: a header, a query parameter, a bearer
//! token, basic authentication, or an OAuth token from the `OAuthSession`. It never decides
//! where a request goes (that is checked before credentials are added) and never logs them.

use std::sync::Arc;

use base64::Engine;

use super::error::Result;
use super::oauth::{OAuthSession, TokenProvider};
use super::transport::{Outgoing, Transport};
use crate::mapping::model::{Auth, Secret};

/// A system's credentials, ready to apply.
pub(crate) enum Credentials {
    /// The API takes no credentials.
    None,
    /// A header, query parameter, bearer token or basic authentication.
    Fixed(Auth),
    /// OAuth 2 tokens, shared by every clone of the connector.
    OAuth(Arc<OAuthSession>),
}

impl Credentials {
    pub(crate) fn new(
        system: &str,
        auth: Option<&Auth>,
        provider: Option<Arc<dyn TokenProvider>>,
    ) -> Credentials {
        match auth {
            None => Credentials::None,
            Some(Auth::OAuth2(o)) => {
                Credentials::OAuth(Arc::new(OAuthSession::new(system, (**o).clone(), provider)))
            }
            Some(other) => Credentials::Fixed(other.clone()),
        }
    }

    /// Adds the credentials to `out`; gives the OAuth access token used, if any, so a 401 can
    /// tell whether it was already replaced.
    pub(crate) async fn apply(
        &self,
        out: &mut Outgoing,
        transport: &dyn Transport,
    ) -> Result<Option<Secret>> {
        match self {
            Credentials::None => Ok(None),
            Credentials::Fixed(auth) => {
                apply_fixed(auth, out);
                Ok(None)
            }
            Credentials::OAuth(session) => {
                let token = session.access_token(transport).await?;
                set_bearer(out, &token);
                Ok(Some(token))
            }
        }
    }

    /// The OAuth session, when the credentials are refreshable OAuth tokens.
    pub(crate) fn refreshable(&self) -> Option<&OAuthSession> {
        match self {
            Credentials::OAuth(s) if !s.is_static() => Some(s),
            _ => None,
        }
    }

    /// The OAuth session, if any.
    pub(crate) fn oauth(&self) -> Option<&OAuthSession> {
        match self {
            Credentials::OAuth(s) => Some(s),
            _ => None,
        }
    }

    /// Secret values that must never appear in a message.
    /// Every credential kind is covered: header and query values, bearer tokens, basic
    /// passwords, and for OAuth the client secret, the static token and every access and
    /// refresh token the session has held.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let v: Vec<Secret> = match self {
            Credentials::None => vec![],
            Credentials::Fixed(Auth::Header { value, .. } | Auth::Query { value, .. }) => {
                vec![value.clone()]
            }
            Credentials::Fixed(Auth::Bearer { token }) => vec![token.clone()],
            Credentials::Fixed(Auth::Basic { password, .. }) => vec![password.clone()],
            Credentials::Fixed(Auth::OAuth2(o)) => std::iter::once(o.client_secret.clone())
                .chain(o.static_token.clone())
                .collect(),
            Credentials::OAuth(s) => s.secrets(),
        };
        v.into_iter()
            .map(|s| s.expose().to_string())
            .filter(|s| s.len() >= 4)
            .collect()
    }
}

fn apply_fixed(auth: &Auth, out: &mut Outgoing) {
    match auth {
        Auth::Header { name, value } => {
            out.headers
                .retain(|(n, _, _)| !n.eq_ignore_ascii_case(name));
            out.headers
                .push((name.clone(), value.expose().to_string(), true));
        }
        Auth::Query { name, value } => {
            // A link the API returned may already carry the parameter: send it once.
            let kept: Vec<(String, String)> = out
                .url
                .query_pairs()
                .filter(|(k, _)| k != name)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut q = out.url.query_pairs_mut();
            q.clear();
            q.extend_pairs(kept);
            q.append_pair(name, value.expose());
        }
        Auth::Bearer { token } => set_bearer(out, token),
        Auth::Basic { username, password } => {
            let raw = format!("{username}:{}", password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            set_authorization(out, format!("Basic {encoded}"));
        }
        Auth::OAuth2(o) => {
            if let Some(t) = &o.static_token {
                set_bearer(out, t);
            }
        }
    }
}

fn set_bearer(out: &mut Outgoing, token: &Secret) {
    set_authorization(out, format!("Bearer {}", token.expose()));
}

fn set_authorization(out: &mut Outgoing, value: String) {
    out.headers
        .retain(|(n, _, _)| !n.eq_ignore_ascii_case("authorization"));
    out.headers.push(("authorization".to_string(), value, true));
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::connector::transport::HttpTransport;
    use crate::mapping::model::Method;

    fn out(url: &str) -> Outgoing {
        Outgoing {
            method: Method::Get,
            url: Url::parse(url).unwrap(),
            headers: vec![],
            body: None,
        }
    }

    #[tokio::test]
    async fn fixed_credentials() {
        crate::init_crypto();
        let t = HttpTransport::new(std::time::Duration::from_secs(1)).unwrap();
        let q = Credentials::new(
            "s",
            Some(&Auth::Query {
                name: "key".into(),
                value: Secret::new("k1"),
            }),
            None,
        );
        let mut o = out("https://a.example/x?key=old&b=2");
        q.apply(&mut o, &t).await.unwrap();
        assert_eq!(o.url.query(), Some("b=2&key=k1"));
        let basic = Credentials::new(
            "s",
            Some(&Auth::Basic {
                username: "u".into(),
                password: Secret::new("pass"),
            }),
            None,
        );
        let mut o = out("https://a.example/x");
        basic.apply(&mut o, &t).await.unwrap();
        assert_eq!(
            o.headers,
            [("authorization".into(), "Basic dTpwYXNz".into(), true)]
        );
        assert_eq!(basic.secrets(), ["pass"]);
        assert!(!format!("{o:?}").contains("dTpwYXNz"));
    }
}
