//! OAuth tokens per system name and OAuth `state` nonces. Plain data; token values are
//! [`Secret`]s so they never reach `Debug` output. The SQL lives in `sqlite/tokens.rs`.

use jiff::Timestamp;

use crate::store::secret::Secret;

/// A system's OAuth tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthToken {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// When the access token expires; `None` when the server did not say.
    pub expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
    /// The account the tokens belong to, when the mapping declares where to find it: the
    /// account the system is pinned to. `save_token` stores it and `token` returns it as
    /// given (`None` stays `None`); it is replaced with the rest of the row.
    pub account: Option<String>,
}

/// A pending OAuth authorisation, keyed by its `state` nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// The random `state` value sent to the authorisation server. Stored only as a hash.
    pub nonce: Secret,
    /// The system (connector name) being authorised.
    pub system: String,
    /// The PKCE code verifier, when the flow uses PKCE.
    pub pkce_verifier: Option<Secret>,
    pub expires_at: Timestamp,
}

/// What consuming a `state` nonce gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedState {
    pub system: String,
    pub pkce_verifier: Option<Secret>,
}
