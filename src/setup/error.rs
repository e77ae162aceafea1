//! `SetupError`: why `mapsync setup` could not make a plan. Failures while applying are not
//! errors of this type: they end the apply and go into its `ApplyReport`, next to what was
//! already applied.

use thiserror::Error;

use crate::connector::ConnectorError;

/// The setup layer's result.
pub type Result<T, E = SetupError> = std::result::Result<T, E>;

/// Why no plan could be made. Every message says what to do.
#[derive(Debug, Error)]
pub enum SetupError {
    /// The mapping's setup section cannot be planned as written.
    #[error("setup resource `{resource}`: {message}; {hint}")]
    Mapping {
        /// The resource's name.
        resource: String,
        /// What is wrong.
        message: String,
        /// What to change.
        hint: String,
    },
    /// Items use `public_url`, and none was given.
    #[error(
        "the setup resources {} use `public_url` (webhook callbacks): pass --public-url \
         https://your-host (or set MAPSYNC_PUBLIC_URL) with the address the systems can reach \
         mapsync at",
        names.join(", ")
    )]
    PublicUrlMissing {
        /// The resources that need it.
        names: Vec<String>,
    },
    /// The public URL is not an absolute http(s) URL.
    #[error(
        "--public-url `{url}` is not an absolute http(s) URL; pass the address the systems \
         reach mapsync at, e.g. https://sync.example.com"
    )]
    PublicUrlInvalid {
        /// What was given.
        url: String,
    },
    /// Reading what exists failed.
    #[error("cannot read what exists for setup resource `{resource}`: {source}")]
    Observe {
        /// The resource's name.
        resource: String,
        /// The failure.
        #[source]
        source: Box<ConnectorError>,
    },
    /// The mapping names a system no connector was built for (a bug in the caller).
    #[error(
        "internal error: no connector for system `{0}`; this is a bug in mapsync, please report it"
    )]
    NoConnector(String),
}
