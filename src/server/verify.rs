//! Webhook verification over the raw request bytes, before anything is parsed (R2–R4a):
//! HMAC signatures checked with `Mac::verify_slice` (constant time, length-checked), plain
//! SHA-256 signatures decoded to exactly 32 bytes and compared with `subtle`, a timestamp
//! window in both directions against an injected clock, several secrets, shared tokens and
//! basic auth compared in constant time. Every failure is one opaque [`Rejected`]; the reason
//! is only for logs and metrics.

use axum::http;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::mapping::model::{
    Secret, SignatureAlgorithm, SignatureEncoding, SignatureScheme, SignedPart, TimeUnit,
    TokenLocation, Verify,
};

/// A request as received, before any parsing of its body.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    /// The method (`POST`).
    pub method: &'a str,
    /// The public URL the sender called: the configured public base URL, the route path and
    /// the query as received (never rebuilt from `Host`).
    pub public_uri: &'a str,
    /// The query string as received, without `?`.
    pub query: Option<&'a str>,
    /// Header lookup (case-insensitive); the first value of a header.
    pub headers: &'a http::HeaderMap,
    /// The raw body bytes.
    pub body: &'a [u8],
}

/// Why a delivery was refused (logged and counted; the sender sees only 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// A required header or parameter is missing.
    Missing,
    /// The timestamp is not a number.
    BadTimestamp,
    /// The timestamp is outside the window.
    Stale,
    /// No signature, token or password matched.
    Mismatch,
}

impl Rejected {
    /// A short label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Rejected::Missing => "missing",
            Rejected::BadTimestamp => "bad_timestamp",
            Rejected::Stale => "stale",
            Rejected::Mismatch => "mismatch",
        }
    }
}

fn header<'a>(req: &RawRequest<'a>, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a delivery as its webhook declares.
pub fn verify(v: &Verify, req: &RawRequest<'_>, now: Timestamp) -> Result<(), Rejected> {
    match v {
        Verify::None => Ok(()),
        Verify::Signature(s) => verify_signature(s, req, now),
        Verify::Token {
            location,
            name,
            secrets,
        } => {
            let given = match location {
                TokenLocation::Header => header(req, name).map(str::to_string),
                TokenLocation::Query => req.query.and_then(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == name.as_str())
                        .map(|(_, v)| v.into_owned())
                }),
            }
            .ok_or(Rejected::Missing)?;
            any_equal(given.as_bytes(), secrets)
        }
        Verify::Basic {
            username,
            passwords,
        } => {
            let value = header(req, "authorization").ok_or(Rejected::Missing)?;
            let (scheme, encoded) = value.split_once(' ').ok_or(Rejected::Mismatch)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(Rejected::Mismatch);
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| Rejected::Mismatch)?;
            let text = String::from_utf8(decoded).map_err(|_| Rejected::Mismatch)?;
            let (user, password) = text.split_once(':').ok_or(Rejected::Mismatch)?;
            let user_ok: bool = user.as_bytes().ct_eq(username.as_bytes()).into();
            let password_ok = any_equal(password.as_bytes(), passwords).is_ok();
            if user_ok && password_ok {
                Ok(())
            } else {
                Err(Rejected::Mismatch)
            }
        }
    }
}

/// Constant-time comparison against every secret (no early exit on a match).
fn any_equal(given: &[u8], secrets: &[Secret]) -> Result<(), Rejected> {
    let mut ok = subtle::Choice::from(0);
    for s in secrets {
        ok |= given.ct_eq(s.expose().as_bytes());
    }
    if bool::from(ok) {
        Ok(())
    } else {
        Err(Rejected::Mismatch)
    }
}

/// The public URI with the declared escapes decoded (some senders sign the URI so); other escapes stay.
pub fn decode_uri(uri: &str, escapes: &[String]) -> String {
    if escapes.is_empty() {
        return uri.to_string();
    }
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let code = tail.get(..3);
        let decoded = code.and_then(|c| {
            escapes
                .iter()
                .find(|e| e.eq_ignore_ascii_case(c))
                .and_then(|e| u8::from_str_radix(e.get(1..3)?, 16).ok())
                .map(char::from)
        });
        match decoded {
            Some(ch) => {
                out.push(ch);
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

fn verify_signature(
    s: &SignatureScheme,
    req: &RawRequest<'_>,
    now: Timestamp,
) -> Result<(), Rejected> {
    let value = header(req, &s.header).ok_or(Rejected::Missing)?;
    let timestamp = match &s.timestamp_header {
        Some(h) => {
            let text = header(req, h).ok_or(Rejected::Missing)?;
            check_window(text, s, now)?;
            Some(text)
        }
        None => None,
    };
    let id = match &s.id_header {
        Some(h) => Some(header(req, h).ok_or(Rejected::Missing)?),
        None => None,
    };
    if s.signed.contains(&SignedPart::Id) && id.is_none()
        || s.signed.contains(&SignedPart::Timestamp) && timestamp.is_none()
    {
        return Err(Rejected::Missing);
    }
    let candidates = candidates(value, s);
    if candidates.is_empty() {
        return Err(Rejected::Mismatch);
    }
    let uri = decode_uri(req.public_uri, &s.uri_decode);
    for secret in &s.secrets {
        let parts = s.signed.iter().map(|p| -> &[u8] {
            match p {
                SignedPart::Lit(t) => t.as_bytes(),
                SignedPart::Method => req.method.as_bytes(),
                SignedPart::Uri => uri.as_bytes(),
                SignedPart::Body => req.body,
                SignedPart::Timestamp => timestamp.unwrap_or("").as_bytes(),
                SignedPart::Id => id.unwrap_or("").as_bytes(),
                SignedPart::Secret => secret.expose().as_bytes(),
            }
        });
        let matched = match s.algorithm {
            SignatureAlgorithm::HmacSha256 => {
                // HMAC takes keys of any length, so this cannot fail; treat it as no match.
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
                    continue;
                };
                for p in parts {
                    mac.update(p);
                }
                candidates
                    .iter()
                    .any(|c| mac.clone().verify_slice(c).is_ok())
            }
            SignatureAlgorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                let digest = h.finalize();
                candidates
                    .iter()
                    .any(|c| c.len() == 32 && bool::from(c.as_slice().ct_eq(digest.as_slice())))
            }
        };
        if matched {
            return Ok(());
        }
    }
    Err(Rejected::Mismatch)
}

/// Every decodable signature in the header: split by the separator, the prefix removed, the
/// encoding decoded. Undecodable or empty entries are dropped, never a panic.
fn candidates(value: &str, s: &SignatureScheme) -> Vec<Vec<u8>> {
    let entries: Vec<&str> = match &s.separator {
        Some(sep) if !sep.is_empty() => value.split(sep.as_str()).collect(),
        _ => vec![value],
    };
    entries
        .into_iter()
        .filter_map(|e| {
            let e = e.trim();
            let e = match &s.prefix {
                Some(p) => e.strip_prefix(p.as_str())?,
                None => e,
            };
            if e.is_empty() {
                return None;
            }
            match s.encoding {
                SignatureEncoding::Hex => hex::decode(e).ok(),
                SignatureEncoding::Base64 => {
                    base64::engine::general_purpose::STANDARD.decode(e).ok()
                }
            }
        })
        .filter(|b| !b.is_empty())
        .collect()
}

/// `|now − ts| ≤ tolerance`, both directions (R3).
fn check_window(text: &str, s: &SignatureScheme, now: Timestamp) -> Result<(), Rejected> {
    let ts: i64 = text.trim().parse().map_err(|_| Rejected::BadTimestamp)?;
    let ts_ms = match s.timestamp_unit {
        TimeUnit::Milliseconds => ts,
        TimeUnit::Seconds => ts.checked_mul(1000).ok_or(Rejected::BadTimestamp)?,
    };
    let now_ms = now.as_millisecond();
    let diff = now_ms.abs_diff(ts_ms);
    let tolerance = u64::try_from(s.tolerance.as_millis()).unwrap_or(u64::MAX);
    if diff > tolerance {
        Err(Rejected::Stale)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    // The vectors of examples/sandbox/FIDELITY.md §2.11 (signatures v1 and v3).
    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const BODY: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;

    fn v3() -> SignatureScheme {
        SignatureScheme {
            algorithm: SignatureAlgorithm::HmacSha256,
            header: "X-Signature-v3".into(),
            signed: vec![
                SignedPart::Method,
                SignedPart::Uri,
                SignedPart::Body,
                SignedPart::Timestamp,
            ],
            encoding: SignatureEncoding::Base64,
            prefix: None,
            separator: None,
            timestamp_header: Some("X-Request-Timestamp".into()),
            timestamp_unit: TimeUnit::Milliseconds,
            id_header: None,
            tolerance: Duration::from_secs(300),
            uri_decode: vec!["%3A".into(), "%2F".into()],
            secrets: vec![Secret::new("other"), Secret::new(SECRET)],
        }
    }

    fn v1() -> SignatureScheme {
        SignatureScheme {
            algorithm: SignatureAlgorithm::Sha256,
            header: "X-Signature".into(),
            signed: vec![SignedPart::Secret, SignedPart::Body],
            encoding: SignatureEncoding::Hex,
            timestamp_header: None,
            tolerance: Duration::ZERO,
            uri_decode: vec![],
            ..v3()
        }
    }

    fn check(s: &SignatureScheme, headers: &[(&str, &str)], body: &str) -> Result<(), Rejected> {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        let req = RawRequest {
            method: "POST",
            public_uri: "https://www.example.com/webhook_uri",
            query: None,
            headers: &map,
            body: body.as_bytes(),
        };
        let now = Timestamp::from_millisecond(1_564_113_600_000).unwrap();
        verify(&Verify::Signature(s.clone()), &req, now)
    }

    const TS: &str = "1564113600000";
    const SIG: &str = "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw=";

    #[test]
    fn method_uri_body_timestamp_vector_passes_with_a_second_secret() {
        let h = [("X-Signature-v3", SIG), ("X-Request-Timestamp", TS)];
        assert_eq!(check(&v3(), &h, BODY), Ok(()));
    }

    #[test]
    fn method_uri_body_timestamp_rejections() {
        let cases: Vec<(&str, String, &str)> = vec![
            ("empty", String::new(), BODY),
            ("truncated", SIG[..SIG.len() - 1].to_string(), BODY),
            ("one too long", format!("{SIG}A"), BODY),
            ("forged", SIG.replace('D', "E"), BODY),
            ("body flip", SIG.to_string(), &BODY[..BODY.len() - 2]),
            ("not base64", "!!!".to_string(), BODY),
        ];
        for (name, sig, body) in cases {
            let h = [
                ("X-Signature-v3", sig.as_str()),
                ("X-Request-Timestamp", TS),
            ];
            assert!(check(&v3(), &h, body).is_err(), "{name}");
        }
        let mut wrong = v3();
        wrong.secrets = vec![Secret::new("wrong")];
        let h = [("X-Signature-v3", SIG), ("X-Request-Timestamp", TS)];
        assert_eq!(check(&wrong, &h, BODY), Err(Rejected::Mismatch));
        assert_eq!(
            check(&v3(), &[("X-Signature-v3", SIG)], BODY),
            Err(Rejected::Missing)
        );
        assert_eq!(
            check(&v3(), &[("X-Request-Timestamp", TS)], BODY),
            Err(Rejected::Missing)
        );
    }

    #[test]
    fn secret_body_sha256_vector_and_length_check() {
        let good = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
        assert_eq!(check(&v1(), &[("X-Signature", good)], BODY), Ok(()));
        let upper = good.to_uppercase();
        assert_eq!(check(&v1(), &[("X-Signature", &upper)], BODY), Ok(()));
        for bad in [&good[..62], "", &format!("{good}00")[..], "zz"] {
            assert!(check(&v1(), &[("X-Signature", bad)], BODY).is_err());
        }
    }

    #[test]
    fn several_signatures_with_a_prefix() {
        let mut s = v3();
        s.prefix = Some("v1,".into());
        s.separator = Some(" ".into());
        let h = |v: &str| {
            check(
                &s,
                &[("X-Signature-v3", v), ("X-Request-Timestamp", TS)],
                BODY,
            )
        };
        assert_eq!(h(&format!("v1,AAAA v1,{SIG} v1,BBBB")), Ok(()));
        assert!(h("v1,AAAA v1,BBBB v1,CCCC").is_err());
        assert!(h("v1,").is_err());
        assert!(h(SIG).is_err(), "a signature without its prefix");
    }

    #[test]
    fn the_window_holds_both_ways() {
        let s = v3();
        let base = 1_564_113_600_000i64;
        for (offset, ok) in [(-301, false), (301, false), (-299, true), (299, true)] {
            let ts = (base + offset * 1000).to_string();
            let sig = sandbox_v3(&ts);
            let r = check(
                &s,
                &[("X-Signature-v3", &sig), ("X-Request-Timestamp", &ts)],
                BODY,
            );
            assert_eq!(r.is_ok(), ok, "offset {offset}");
        }
    }

    fn sandbox_v3(ts: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(b"POSThttps://www.example.com/webhook_uri");
        mac.update(BODY.as_bytes());
        mac.update(ts.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn uri_escapes_listed_are_decoded_others_kept() {
        let escapes = vec!["%3A".to_string(), "%2F".to_string()];
        assert_eq!(
            decode_uri("https://h/p?x=a%3Ab%2fc%20d%", &escapes),
            "https://h/p?x=a:b/c%20d%"
        );
    }

    #[test]
    fn tokens_and_basic_auth() {
        let token = Verify::Token {
            location: TokenLocation::Query,
            name: "key".into(),
            secrets: vec![Secret::new("s3cret")],
        };
        let map = http::HeaderMap::new();
        let req = |q: Option<&'static str>| RawRequest {
            method: "POST",
            public_uri: "http://x/",
            query: q,
            headers: &map,
            body: b"",
        };
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(verify(&token, &req(Some("key=s3cret")), now), Ok(()));
        assert!(verify(&token, &req(Some("key=s3cre")), now).is_err());
        assert!(verify(&token, &req(Some("key=s3crett")), now).is_err());
        assert_eq!(verify(&token, &req(None), now), Err(Rejected::Missing));
        let basic = Verify::Basic {
            username: "u".into(),
            passwords: vec![Secret::new("p")],
        };
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Basic dTpw".parse().unwrap());
        let r = RawRequest {
            headers: &h,
            ..req(None)
        };
        assert_eq!(verify(&basic, &r, now), Ok(()));
        h.insert("authorization", "Basic dTpx".parse().unwrap());
        let r = RawRequest {
            headers: &h,
            ..req(None)
        };
        assert!(verify(&basic, &r, now).is_err());
    }
}
