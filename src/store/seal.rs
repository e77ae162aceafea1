//! Secrets at rest: OAuth tokens sealed with ChaCha20-Poly1305 (ring's AEAD, already built
//! for TLS) under a key derived from `MAPSYNC_STATE_KEY`, so a copied state file (or backup)
//! does not give away API access. A sealed value is `sealed:v1:<base64(nonce ‖ ciphertext ‖
//! tag)>`; the system name is the associated data, so a sealed token cannot be moved to another
//! system's row. Works over any `StateStore`: values are sealed before they are saved.

use base64::Engine as _;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const PREFIX: &str = "sealed:v1:";

/// The shortest `MAPSYNC_STATE_KEY` accepted.
pub const MIN_KEY_CHARS: usize = 32;

/// Why a key or a sealed value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key text is too short to be a random key.
    #[error(
        "MAPSYNC_STATE_KEY is shorter than {MIN_KEY_CHARS} characters; use a random one, e.g. `openssl rand -base64 32`"
    )]
    ShortKey,
    /// A sealed value, and no key to open it.
    #[error(
        "the saved OAuth tokens are encrypted; set MAPSYNC_STATE_KEY to the key they were saved with"
    )]
    NoKey,
    /// The value does not open with this key (another key, or altered).
    #[error(
        "the saved OAuth tokens do not decrypt with this MAPSYNC_STATE_KEY; set the key they were saved with, or reinstall with `mapsync oauth-link`"
    )]
    WrongKey,
    /// The system's random generator failed.
    #[error("the system's random number generator failed")]
    Random,
}

/// A sealing key.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// The key from `MAPSYNC_STATE_KEY`'s text: SHA-256 of it (the text must be a random
    /// string of at least [`MIN_KEY_CHARS`] characters).
    pub fn from_text(text: &str) -> Result<SealKey, SealError> {
        if text.chars().count() < MIN_KEY_CHARS {
            return Err(SealError::ShortKey);
        }
        let digest = Sha256::digest(text.as_bytes());
        let key = UnboundKey::new(&CHACHA20_POLY1305, digest.as_slice())
            .map_err(|_| SealError::ShortKey)?;
        Ok(SealKey(LessSafeKey::new(key)))
    }

    /// Seals `plain`, bound to `context` (the system name).
    pub fn seal(&self, plain: &str, context: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut buf = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        ))
    }
}

/// True when `value` is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// Opens `value` if it is sealed (which needs `key`); a plain value is returned as it is.
pub fn open(key: Option<&SealKey>, value: &str, context: &str) -> Result<String, SealError> {
    let Some(encoded) = value.strip_prefix(PREFIX) else {
        return Ok(value.to_string());
    };
    let key = key.ok_or(SealError::NoKey)?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded)
        .map_err(|_| SealError::WrongKey)?;
    if bytes.len() < NONCE_LEN {
        return Err(SealError::WrongKey);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::WrongKey)?;
    let mut buf = sealed.to_vec();
    let plain = key
        .0
        .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
        .map_err(|_| SealError::WrongKey)?;
    String::from_utf8(plain.to_vec()).map_err(|_| SealError::WrongKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn sealed_values_open_only_with_their_key_and_system() {
        let key = SealKey::from_text(KEY).unwrap();
        let sealed = key.seal("access-token-value", "crm").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("access-token-value"));
        assert_ne!(
            sealed,
            key.seal("access-token-value", "crm").unwrap(),
            "random nonce"
        );
        assert_eq!(
            open(Some(&key), &sealed, "crm").unwrap(),
            "access-token-value"
        );
        assert_eq!(open(Some(&key), &sealed, "other"), Err(SealError::WrongKey));
        let other = SealKey::from_text(&format!("{KEY}!")).unwrap();
        assert_eq!(open(Some(&other), &sealed, "crm"), Err(SealError::WrongKey));
        assert_eq!(open(None, &sealed, "crm"), Err(SealError::NoKey));
        let mut altered = sealed.clone();
        altered.pop();
        assert!(open(Some(&key), &altered, "crm").is_err());
        // Plain values (saved before a key was set) still open.
        assert_eq!(open(None, "plain", "crm").unwrap(), "plain");
        assert_eq!(open(Some(&key), "plain", "crm").unwrap(), "plain");
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert_eq!(
            SealKey::from_text("short").unwrap_err(),
            SealError::ShortKey
        );
        let key = SealKey::from_text(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "SealKey([redacted])");
    }
}
