//! HubSpot request signatures v1, v2 and v3 (FIDELITY.md §2.11), as the sandbox signs deliveries.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// v1: `lowercase_hex(SHA-256(secret ‖ body))`.
pub fn v1(secret: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// v2: `lowercase_hex(SHA-256(secret ‖ METHOD ‖ URI ‖ body))`.
pub fn v2(secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(method.as_bytes());
    h.update(uri.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// The escapes HubSpot decodes in the URI before signing it with v3 (FIDELITY.md §2.11).
pub const V3_DECODED: [&str; 12] = [
    "%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B",
];

/// The URI as v3 signs it: the escapes in [`V3_DECODED`] decoded (either case of hex digit),
/// every other escape left as it is.
pub fn v3_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let decoded = tail
            .get(..3)
            .filter(|code| V3_DECODED.iter().any(|e| e.eq_ignore_ascii_case(code)))
            .and_then(|code| u8::from_str_radix(&code[1..], 16).ok());
        match decoded {
            Some(b) => {
                out.push(char::from(b));
                rest = &tail[3..];
            }
            None => {
                out.push('%');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// v3: `base64(HMAC-SHA256(secret, METHOD ‖ URI ‖ body ‖ timestamp))`; `uri` as [`v3_uri`]
/// gives it.
pub fn v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp_ms: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp_ms.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const BODY: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;

    #[test]
    fn v1_vector() {
        assert_eq!(
            v1(SECRET, BODY.as_bytes()),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
        );
    }

    #[test]
    fn v2_vectors() {
        let uri = "https://www.example.com/webhook_uri";
        assert_eq!(
            v2(SECRET, "GET", uri, b""),
            "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
        );
        assert_eq!(
            v2(SECRET, "POST", uri, br#"{"example_field":"example_value"}"#),
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
        );
    }

    #[test]
    fn v3_uri_decodes_exactly_the_documented_escapes() {
        assert_eq!(
            v3_uri("https://h/p?a=%3A%2f%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%25%2B%26%3D%"),
            "https://h/p?a=:/?@!$'()*,;&b=%20%25%2B%26%3D%"
        );
        assert_eq!(
            v3_uri("https://www.example.com/webhook_uri"),
            "https://www.example.com/webhook_uri"
        );
    }

    #[test]
    fn v3_vector() {
        assert_eq!(
            v3(
                SECRET,
                "POST",
                "https://www.example.com/webhook_uri",
                BODY.as_bytes(),
                "1564113600000"
            ),
            "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw="
        );
    }
}
