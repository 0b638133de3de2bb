//! Fuzz target: `verify_request` with arbitrary method, URI, body, headers, secret and
//! clock. Some inputs get a correct v3/v2/v1 signature computed for them, so the
//! fuzzer also drives the accepting path, which must then accept (and under the
//! version that was signed); any input must verify or be refused, never panic.
#![no_main]

use arbitrary::Arbitrary;
use keva_hubspot::signature::{sign_v1, sign_v2, sign_v3, MAX_FUTURE_SKEW_MS, MAX_TIMESTAMP_AGE_MS};
use keva_hubspot::webhook::{public_uri, verify_request, SignatureVersion, SignedRequest};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Signing {
    /// Use the headers exactly as generated.
    AsGiven,
    /// Sign v3 correctly with the generated timestamp offset from `now_ms`.
    V3 { offset_ms: i32 },
    V2,
    V1,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    method: &'a str,
    base: &'a str,
    path_and_query: &'a str,
    body: &'a [u8],
    secret: &'a str,
    now_ms: i64,
    signature_v3: Option<&'a str>,
    timestamp: Option<&'a str>,
    signature: Option<&'a str>,
    signature_version: Option<&'a str>,
    signing: Signing,
}

fuzz_target!(|input: Input<'_>| {
    let uri = public_uri(input.base, input.path_and_query);
    let mut req = SignedRequest {
        method: input.method,
        uri: &uri,
        body: input.body,
        signature_v3: input.signature_v3,
        timestamp: input.timestamp,
        signature: input.signature,
        signature_version: input.signature_version,
    };
    let signed: String;
    let ts: String;
    let expected = match input.signing {
        Signing::AsGiven => None,
        Signing::V3 { offset_ms } => {
            let at = input.now_ms.saturating_add(i64::from(offset_ms));
            ts = at.to_string();
            signed = sign_v3(input.secret, input.method, &uri, input.body, &ts);
            req.signature_v3 = Some(&signed);
            req.timestamp = Some(&ts);
            let age = i128::from(input.now_ms) - i128::from(at);
            let in_window = age <= i128::from(MAX_TIMESTAMP_AGE_MS)
                && -age <= i128::from(MAX_FUTURE_SKEW_MS);
            in_window.then_some(SignatureVersion::V3)
        }
        Signing::V2 => {
            signed = sign_v2(input.secret, input.method, &uri, input.body);
            req.signature_v3 = None;
            req.signature = Some(&signed);
            req.signature_version = Some("v2");
            Some(SignatureVersion::V2)
        }
        Signing::V1 => {
            signed = sign_v1(input.secret, input.body);
            req.signature_v3 = None;
            req.signature = Some(&signed);
            req.signature_version = Some("v1");
            Some(SignatureVersion::V1)
        }
    };
    let verdict = verify_request(&req, input.secret, input.now_ms);
    if let Some(version) = expected {
        if !input.secret.is_empty() {
            assert_eq!(verdict, Ok(version), "{req:?}");
        }
    }
    if input.secret.is_empty() {
        assert!(verdict.is_err());
    }
});
