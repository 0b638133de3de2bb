//! HubSpot request signatures (v1, v2, v3) — computing and verifying them.
//!
//! HubSpot signs every webhook delivery. v3 is
//! `base64(HMAC-SHA256(secret, method + uri + body + timestamp))`; v1 and v2 are
//! plain SHA-256 hex digests of `secret + body` and `secret + method + uri + body`
//! for older apps. The sandbox signs with these functions and the receiver checks
//! with them, so both ends agree by construction and the fixture vectors pin both
//! to HubSpot's SDKs.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Oldest v3 timestamp accepted, as HubSpot's documentation and SDKs require.
pub const MAX_TIMESTAMP_AGE_MS: i64 = 300_000;
/// How far in the future a timestamp may be (clock skew between HubSpot and us).
pub const MAX_FUTURE_SKEW_MS: i64 = 60_000;

/// v3: base64 (standard alphabet, padded) HMAC-SHA256 over method+uri+body+timestamp.
pub fn sign_v3(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(client_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any size"));
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// v2: lowercase hex SHA-256 of secret+method+uri+body.
pub fn sign_v2(client_secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(client_secret.as_bytes());
    h.update(method.as_bytes());
    h.update(uri.as_bytes());
    h.update(body);
    hex_lower(&h.finalize())
}

/// v1: lowercase hex SHA-256 of secret+body.
pub fn sign_v1(client_secret: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(client_secret.as_bytes());
    h.update(body);
    hex_lower(&h.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Constant-time string comparison for signatures (length may leak; content does not).
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The twelve percent-escapes HubSpot decodes in the URI before signing v3
/// (others, such as `%20` and `%3D`, stay encoded).
const V3_DECODED_ESCAPES: [(&str, &str); 12] = [
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
];

/// The URI as HubSpot signs it for v3: the twelve escapes above decoded
/// (case-insensitively), everything else untouched.
pub fn v3_signing_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let candidate = rest.get(pos..pos + 3);
        match candidate.and_then(|c| {
            V3_DECODED_ESCAPES
                .iter()
                .find(|(esc, _)| esc.eq_ignore_ascii_case(c))
        }) {
            Some((_, plain)) => {
                out.push_str(plain);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature header")]
    Missing,
    #[error("missing or malformed X-HubSpot-Request-Timestamp")]
    BadTimestamp,
    #[error("timestamp is older than 5 minutes")]
    Expired,
    #[error("timestamp is in the future")]
    FromTheFuture,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies a v3 signature: timestamp window first (cheap), then the HMAC over both
/// the decoded and the raw URI (HubSpot's docs decode, its SDKs do not).
pub fn verify_v3(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
    signature: &str,
    now_ms: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now_ms.saturating_sub(ts) > MAX_TIMESTAMP_AGE_MS {
        return Err(SignatureError::Expired);
    }
    if ts.saturating_sub(now_ms) > MAX_FUTURE_SKEW_MS {
        return Err(SignatureError::FromTheFuture);
    }
    let decoded = v3_signing_uri(uri);
    let ok_decoded = signatures_equal(
        &sign_v3(client_secret, method, &decoded, body, timestamp),
        signature,
    );
    let ok_raw = decoded != uri
        && signatures_equal(
            &sign_v3(client_secret, method, uri, body, timestamp),
            signature,
        );
    if ok_decoded || ok_raw {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a v2 signature (no timestamp in v2; replay protection is the event id).
pub fn verify_v2(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    if signatures_equal(
        &sign_v2(client_secret, method, uri, body),
        &signature.to_ascii_lowercase(),
    ) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a v1 signature.
pub fn verify_v1(client_secret: &str, body: &[u8], signature: &str) -> Result<(), SignatureError> {
    if signatures_equal(
        &sign_v1(client_secret, body),
        &signature.to_ascii_lowercase(),
    ) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_the_documented_escapes() {
        assert_eq!(
            v3_signing_uri("https://x.io/hook?a=b%3Ac%20d%3De%40f%2c"),
            "https://x.io/hook?a=b:c%20d%3De@f,"
        );
        assert_eq!(v3_signing_uri("https://x.io/100%"), "https://x.io/100%");
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        for ts in [i64::MIN, i64::MAX] {
            let t = ts.to_string();
            let s = sign_v3("sec", "POST", "https://a.b/c", b"[]", &t);
            assert!(verify_v3("sec", "POST", "https://a.b/c", b"[]", &t, &s, 1_000_000).is_err());
        }
    }

    #[test]
    fn v3_window() {
        let s = sign_v3("sec", "POST", "https://a.b/c", b"[]", "1000000");
        let at = |secret: &str, now: i64| {
            verify_v3(secret, "POST", "https://a.b/c", b"[]", "1000000", &s, now)
        };
        assert_eq!(at("sec", 1_000_000 + 299_000), Ok(()));
        assert_eq!(at("sec", 1_000_000 + 300_001), Err(SignatureError::Expired));
        assert_eq!(
            at("sec", 1_000_000 - 60_001),
            Err(SignatureError::FromTheFuture)
        );
        assert_eq!(at("other", 1_000_000), Err(SignatureError::Mismatch));
    }
}
