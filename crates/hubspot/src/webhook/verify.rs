//! Deciding whether a webhook request comes from HubSpot: which signature version
//! the headers carry, checking it, and rebuilding the public URI HubSpot signed.
//!
//! The algorithms live in `crate::signature`; this module only chooses among them.
//! A present v3 header decides alone: falling back to v1/v2 when v3 fails would let
//! an attacker strip the stronger signature and replay under a weaker one.

use std::fmt;

use reqwest::header::HeaderMap;

use crate::signature::{
    verify_v1, verify_v2, verify_v3, SignatureError, MAX_FUTURE_SKEW_MS, MAX_TIMESTAMP_AGE_MS,
};

/// Header names, lowercase as HTTP/2 and `HeaderMap` use them.
pub const HEADER_SIGNATURE_V3: &str = "x-hubspot-signature-v3";
pub const HEADER_REQUEST_TIMESTAMP: &str = "x-hubspot-request-timestamp";
pub const HEADER_SIGNATURE: &str = "x-hubspot-signature";
pub const HEADER_SIGNATURE_VERSION: &str = "x-hubspot-signature-version";

/// Which signature scheme a request was accepted under (worth logging: v1 covers the
/// body only, so a v1 app should be moved to v3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureVersion {
    V1,
    V2,
    V3,
}

impl SignatureVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V3 => "v3",
        }
    }
}

impl fmt::Display for SignatureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a signature check needs from a request, borrowed from it.
///
/// `uri` is the full public URI HubSpot called (scheme, host, path, query), not the
/// one the proxy forwarded: build it with [`public_uri`]. `body` is the raw bytes as
/// received, never re-serialized JSON. A header is `Some` when present, even empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
    /// `X-HubSpot-Signature-v3`.
    pub signature_v3: Option<&'a str>,
    /// `X-HubSpot-Request-Timestamp` (epoch ms, decimal).
    pub timestamp: Option<&'a str>,
    /// `X-HubSpot-Signature` (v1 or v2 hex digest).
    pub signature: Option<&'a str>,
    /// `X-HubSpot-Signature-Version` (`v1` or `v2`).
    pub signature_version: Option<&'a str>,
}

impl<'a> SignedRequest<'a> {
    /// Reads the four HubSpot headers from a request's headers. A value that is not
    /// visible ASCII reads as an empty string: present, so it is judged (and refused)
    /// rather than treated as absent.
    pub fn from_headers(
        method: &'a str,
        uri: &'a str,
        body: &'a [u8],
        headers: &'a HeaderMap,
    ) -> Self {
        let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
        Self {
            method,
            uri,
            body,
            signature_v3: get(HEADER_SIGNATURE_V3),
            timestamp: get(HEADER_REQUEST_TIMESTAMP),
            signature: get(HEADER_SIGNATURE),
            signature_version: get(HEADER_SIGNATURE_VERSION),
        }
    }
}

/// Checks a request's HubSpot signature with the app's client secret.
///
/// - `X-HubSpot-Signature-v3` present: v3 decides (timestamp within 5 minutes back
///   and `MAX_FUTURE_SKEW_MS` ahead of `now_ms`; a missing or non-numeric timestamp
///   is `BadTimestamp`).
/// - else `X-HubSpot-Signature` with version `v2` → v2, `v1` → v1, no version header →
///   v1 then v2 (HubSpot's CRM webhooks have historically sent v1), any other
///   version → `Mismatch` (a scheme we cannot check is not a proof).
/// - neither header → `Missing`.
///
/// An empty secret verifies nothing (`Mismatch`): otherwise an app whose secret was
/// never configured would accept v1/v2 digests that anyone can compute.
pub fn verify_request(
    req: &SignedRequest<'_>,
    secret: &str,
    now_ms: i64,
) -> Result<SignatureVersion, SignatureError> {
    if req.signature_v3.is_none() && req.signature.is_none() {
        return Err(SignatureError::Missing);
    }
    if secret.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    if let Some(sig) = req.signature_v3 {
        let timestamp = req.timestamp.ok_or(SignatureError::BadTimestamp)?;
        check_window(timestamp, now_ms)?;
        verify_v3(
            secret,
            req.method,
            req.uri,
            req.body,
            timestamp,
            sig.trim(),
            now_ms,
        )?;
        return Ok(SignatureVersion::V3);
    }
    let sig = req.signature.unwrap_or_default().trim();
    let v1 = || verify_v1(secret, req.body, sig).map(|()| SignatureVersion::V1);
    let v2 =
        || verify_v2(secret, req.method, req.uri, req.body, sig).map(|()| SignatureVersion::V2);
    match req.signature_version.map(str::trim) {
        None => v1().or_else(|_| v2()),
        Some(v) if v.eq_ignore_ascii_case("v1") => v1(),
        Some(v) if v.eq_ignore_ascii_case("v2") => v2(),
        Some(_) => Err(SignatureError::Mismatch),
    }
}

/// The v3 timestamp window, checked before `verify_v3` repeats it: the header is
/// unauthenticated input and `verify_v3` subtracts in i64, which overflows (a panic
/// in debug builds) on timestamps near `i64::MIN`/`MAX`. In i128 nothing overflows,
/// and once the window holds, `verify_v3`'s own subtraction cannot overflow either.
fn check_window(timestamp: &str, now_ms: i64) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let age = i128::from(now_ms) - i128::from(ts);
    if age > i128::from(MAX_TIMESTAMP_AGE_MS) {
        Err(SignatureError::Expired)
    } else if -age > i128::from(MAX_FUTURE_SKEW_MS) {
        Err(SignatureError::FromTheFuture)
    } else {
        Ok(())
    }
}

/// The URI HubSpot called, from the configured public base URL (`KEVA_PUBLIC_URL`)
/// and the path+query the service received.
///
/// The base may end in `/` and may carry the path prefix a reverse proxy strips
/// (`https://x.io/keva` + `/api/webhooks/hubspot` → `https://x.io/keva/api/webhooks/hubspot`).
/// Plain string joining on purpose: a URL parser would normalize escapes, case or
/// default ports, and the signature covers the exact characters HubSpot used.
pub fn public_uri(public_base: &str, path_and_query: &str) -> String {
    let base = public_base.trim().trim_end_matches('/');
    let mut out = String::with_capacity(base.len() + path_and_query.len() + 1);
    out.push_str(base);
    if !path_and_query.starts_with('/') {
        out.push('/');
    }
    out.push_str(path_and_query);
    out
}
