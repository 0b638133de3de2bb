//! HubSpot's published signature vectors (copied from HubSpot's SDK tests and docs
//! into `fixtures/`) must reproduce exactly, and verify within the time window.

use keva_hubspot::signature::{
    sign_v1, sign_v2, sign_v3, verify_v1, verify_v2, verify_v3, SignatureError,
};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("fixtures/signature-v3-vectors.json"))
        .expect("fixture is JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

#[test]
fn v3_vectors_reproduce_and_verify() {
    let all = vectors();
    let list = all["v3"].as_array().expect("v3 list");
    assert!(list.len() >= 10);
    for v in list {
        let got = sign_v3(
            s(v, "client_secret"),
            s(v, "method"),
            s(v, "uri"),
            s(v, "body").as_bytes(),
            s(v, "timestamp"),
        );
        assert_eq!(got, s(v, "expected_signature"), "vector: {}", s(v, "note"));
        let ts: i64 = s(v, "timestamp").parse().expect("numeric timestamp");
        // Within the window the vector verifies; six minutes later it is refused.
        let verdict = verify_v3(
            s(v, "client_secret"),
            s(v, "method"),
            s(v, "uri"),
            s(v, "body").as_bytes(),
            s(v, "timestamp"),
            &got,
            ts + 1_000,
        );
        assert_eq!(verdict, Ok(()), "vector: {}", s(v, "note"));
        let late = verify_v3(
            s(v, "client_secret"),
            s(v, "method"),
            s(v, "uri"),
            s(v, "body").as_bytes(),
            s(v, "timestamp"),
            &got,
            ts + 360_000,
        );
        assert_eq!(late, Err(SignatureError::Expired));
        // One flipped body byte breaks it.
        let mut body = s(v, "body").as_bytes().to_vec();
        body.push(b' ');
        let tampered = verify_v3(
            s(v, "client_secret"),
            s(v, "method"),
            s(v, "uri"),
            &body,
            s(v, "timestamp"),
            &got,
            ts,
        );
        assert_eq!(tampered, Err(SignatureError::Mismatch));
    }
}

#[test]
fn v1_and_v2_vectors_reproduce_and_verify() {
    let all = vectors();
    for v in all["v1"].as_array().expect("v1 list") {
        let got = sign_v1(s(v, "client_secret"), s(v, "body").as_bytes());
        assert_eq!(got, s(v, "expected_signature"), "vector: {}", s(v, "note"));
        assert_eq!(
            verify_v1(s(v, "client_secret"), s(v, "body").as_bytes(), &got),
            Ok(())
        );
        assert!(verify_v1("wrong-secret", s(v, "body").as_bytes(), &got).is_err());
    }
    for v in all["v2"].as_array().expect("v2 list") {
        let got = sign_v2(
            s(v, "client_secret"),
            s(v, "method"),
            s(v, "uri"),
            s(v, "body").as_bytes(),
        );
        assert_eq!(got, s(v, "expected_signature"), "vector: {}", s(v, "note"));
        assert_eq!(
            verify_v2(
                s(v, "client_secret"),
                s(v, "method"),
                s(v, "uri"),
                s(v, "body").as_bytes(),
                &got
            ),
            Ok(())
        );
        assert!(verify_v2(
            s(v, "client_secret"),
            "PUT",
            s(v, "uri"),
            s(v, "body").as_bytes(),
            &got
        )
        .is_err());
    }
}
