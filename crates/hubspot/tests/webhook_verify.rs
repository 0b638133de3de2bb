//! `verify_request` (choosing v3/v2/v1 from the headers, each rejection case) and
//! `public_uri` (rebuilding the URI HubSpot signed behind a proxy). Requests are
//! signed fresh with `signature::sign_*`, plus HubSpot's published vectors.
#![allow(clippy::unwrap_used)]

use keva_hubspot::signature::{
    sign_v1, sign_v2, sign_v3, SignatureError, MAX_FUTURE_SKEW_MS, MAX_TIMESTAMP_AGE_MS,
};
use keva_hubspot::webhook::{
    public_uri, verify_request, SignatureVersion, SignedRequest, HEADER_REQUEST_TIMESTAMP,
    HEADER_SIGNATURE, HEADER_SIGNATURE_V3, HEADER_SIGNATURE_VERSION,
};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

const SECRET: &str = "0a1b2c3d-secret";
const URI: &str = "https://keva.example.com/keva/api/webhooks/hubspot?tenant=acme";
const BODY: &[u8] = br#"[{"eventId":1,"subscriptionId":2,"portalId":3,"appId":4,"occurredAt":5,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":6}]"#;
const NOW: i64 = 1_764_000_000_000;

fn unsigned() -> SignedRequest<'static> {
    SignedRequest {
        method: "POST",
        uri: URI,
        body: BODY,
        signature_v3: None,
        timestamp: None,
        signature: None,
        signature_version: None,
    }
}

/// A v3-signed request; the returned strings must outlive it, so the caller keeps them.
fn v3_parts(ts: i64) -> (String, String) {
    let ts = ts.to_string();
    (sign_v3(SECRET, "POST", URI, BODY, &ts), ts)
}

fn req<'a>(sig: &'a str, version: Option<&'a str>) -> SignedRequest<'a> {
    SignedRequest {
        signature: Some(sig),
        signature_version: version,
        ..unsigned()
    }
}

fn with_v3<'a>(sig: &'a str, ts: &'a str) -> SignedRequest<'a> {
    SignedRequest {
        signature_v3: Some(sig),
        timestamp: Some(ts),
        ..unsigned()
    }
}

#[test]
fn v3_is_accepted_within_the_window() {
    for ts in [NOW, NOW - MAX_TIMESTAMP_AGE_MS, NOW + MAX_FUTURE_SKEW_MS] {
        let (sig, ts) = v3_parts(ts);
        assert_eq!(
            verify_request(&with_v3(&sig, &ts), SECRET, NOW),
            Ok(SignatureVersion::V3)
        );
    }
}

#[test]
fn v3_rejections() {
    let (sig, ts) = v3_parts(NOW);
    let good = with_v3(&sig, &ts);
    let check = |req: SignedRequest<'_>, secret: &str| verify_request(&req, secret, NOW);

    assert_eq!(check(good, "another-secret"), Err(SignatureError::Mismatch));
    let tampered = br#"[{"eventId":1,"subscriptionId":2,"portalId":3,"appId":4,"occurredAt":5,"subscriptionType":"contact.deletion","attemptNumber":0,"objectId":6}]"#;
    assert_eq!(
        check(
            SignedRequest {
                body: tampered,
                ..good
            },
            SECRET
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(
            SignedRequest {
                method: "PUT",
                ..good
            },
            SECRET
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(
            SignedRequest {
                uri: "https://keva.example.com/api/webhooks/hubspot?tenant=acme",
                ..good
            },
            SECRET
        ),
        Err(SignatureError::Mismatch),
        "URI without the proxy prefix"
    );
    // The timestamp is inside the MAC: moving it (even inside the window) breaks it.
    let moved = (NOW - 1).to_string();
    assert_eq!(
        check(with_v3(&sig, &moved), SECRET),
        Err(SignatureError::Mismatch)
    );

    let (old_sig, old_ts) = v3_parts(NOW - MAX_TIMESTAMP_AGE_MS - 1);
    assert_eq!(
        check(with_v3(&old_sig, &old_ts), SECRET),
        Err(SignatureError::Expired)
    );
    let (future_sig, future_ts) = v3_parts(NOW + MAX_FUTURE_SKEW_MS + 1);
    assert_eq!(
        check(with_v3(&future_sig, &future_ts), SECRET),
        Err(SignatureError::FromTheFuture)
    );
    for bad_ts in ["", "soon", "1.7e12", "0x1f"] {
        let sig = sign_v3(SECRET, "POST", URI, BODY, bad_ts);
        assert_eq!(
            check(with_v3(&sig, bad_ts), SECRET),
            Err(SignatureError::BadTimestamp),
            "{bad_ts:?}"
        );
    }
    assert_eq!(
        check(
            SignedRequest {
                timestamp: None,
                ..good
            },
            SECRET
        ),
        Err(SignatureError::BadTimestamp)
    );
}

#[test]
fn extreme_timestamps_are_refused_without_overflow() {
    for (ts, now, expected) in [
        (i64::MIN, NOW, SignatureError::Expired),
        (i64::MAX, NOW, SignatureError::FromTheFuture),
        (i64::MAX, i64::MIN, SignatureError::FromTheFuture),
        (i64::MIN, i64::MAX, SignatureError::Expired),
    ] {
        let (sig, ts) = v3_parts(ts);
        assert_eq!(
            verify_request(&with_v3(&sig, &ts), SECRET, now),
            Err(expected),
            "ts {ts} now {now}"
        );
    }
    let (sig, ts) = v3_parts(i64::MAX);
    assert_eq!(
        verify_request(&with_v3(&sig, &ts), SECRET, i64::MAX),
        Ok(SignatureVersion::V3)
    );
}

#[test]
fn a_failing_v3_never_falls_back_to_v1_or_v2() {
    // A valid v1 digest next to a wrong v3 signature: v3 decides, so refused.
    let v1 = sign_v1(SECRET, BODY);
    let req = SignedRequest {
        signature_v3: Some("AAAA"),
        timestamp: Some("1764000000000"),
        signature: Some(&v1),
        signature_version: Some("v1"),
        ..unsigned()
    };
    assert_eq!(
        verify_request(&req, SECRET, NOW),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn v2_and_v1_by_version_header() {
    let v2 = sign_v2(SECRET, "POST", URI, BODY);
    let v1 = sign_v1(SECRET, BODY);
    let (v1, v2) = (v1.as_str(), v2.as_str());

    assert_eq!(
        verify_request(&req(v2, Some("v2")), SECRET, NOW),
        Ok(SignatureVersion::V2)
    );
    assert_eq!(
        verify_request(&req(v1, Some("v1")), SECRET, NOW),
        Ok(SignatureVersion::V1)
    );
    assert_eq!(
        verify_request(&req(v1, Some(" V1 ")), SECRET, NOW),
        Ok(SignatureVersion::V1)
    );
    // No version header: v1 first, then v2.
    assert_eq!(
        verify_request(&req(v1, None), SECRET, NOW),
        Ok(SignatureVersion::V1)
    );
    assert_eq!(
        verify_request(&req(v2, None), SECRET, NOW),
        Ok(SignatureVersion::V2)
    );
    // A digest of one version presented as the other is refused.
    assert_eq!(
        verify_request(&req(v1, Some("v2")), SECRET, NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_request(&req(v2, Some("v1")), SECRET, NOW),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_request(&req(v2, Some("v9")), SECRET, NOW),
        Err(SignatureError::Mismatch)
    );
    // v1/v2 carry no timestamp: time does not matter, the event id guards replays.
    assert_eq!(
        verify_request(&req(v2, Some("v2")), SECRET, 0),
        Ok(SignatureVersion::V2)
    );
}

#[test]
fn v2_and_v1_rejections() {
    let v2 = sign_v2(SECRET, "POST", URI, BODY);
    let v1 = sign_v1(SECRET, BODY);
    let v2_req = SignedRequest {
        signature: Some(&v2),
        signature_version: Some("v2"),
        ..unsigned()
    };
    let v1_req = SignedRequest {
        signature: Some(&v1),
        signature_version: Some("v1"),
        ..unsigned()
    };
    let mismatch = Err(SignatureError::Mismatch);
    assert_eq!(verify_request(&v2_req, "wrong", NOW), mismatch);
    assert_eq!(verify_request(&v1_req, "wrong", NOW), mismatch);
    assert_eq!(
        verify_request(
            &SignedRequest {
                body: b"[]",
                ..v2_req
            },
            SECRET,
            NOW
        ),
        mismatch
    );
    assert_eq!(
        verify_request(
            &SignedRequest {
                body: b"[]",
                ..v1_req
            },
            SECRET,
            NOW
        ),
        mismatch
    );
    assert_eq!(
        verify_request(
            &SignedRequest {
                method: "GET",
                ..v2_req
            },
            SECRET,
            NOW
        ),
        mismatch
    );
    assert_eq!(
        verify_request(
            &SignedRequest {
                uri: "http://keva.example.com/keva/api/webhooks/hubspot?tenant=acme",
                ..v2_req
            },
            SECRET,
            NOW
        ),
        mismatch,
        "scheme is part of the v2 URI"
    );
    // v1 covers the body only: method and URI changes still verify (HubSpot's design).
    assert_eq!(
        verify_request(
            &SignedRequest {
                method: "GET",
                uri: "x",
                ..v1_req
            },
            SECRET,
            NOW
        ),
        Ok(SignatureVersion::V1)
    );
    assert_eq!(
        verify_request(
            &SignedRequest {
                signature: Some(""),
                ..v1_req
            },
            SECRET,
            NOW
        ),
        mismatch
    );
}

#[test]
fn missing_signature_and_empty_secret() {
    assert_eq!(
        verify_request(&unsigned(), SECRET, NOW),
        Err(SignatureError::Missing)
    );
    let only_ts = SignedRequest {
        timestamp: Some("1764000000000"),
        signature_version: Some("v1"),
        ..unsigned()
    };
    assert_eq!(
        verify_request(&only_ts, SECRET, NOW),
        Err(SignatureError::Missing)
    );
    // Anyone can compute a digest with an empty secret, so it never verifies.
    let v1 = sign_v1("", BODY);
    let req = SignedRequest {
        signature: Some(&v1),
        ..unsigned()
    };
    assert_eq!(verify_request(&req, "", NOW), Err(SignatureError::Mismatch));
    assert_eq!(
        verify_request(&unsigned(), "", NOW),
        Err(SignatureError::Missing)
    );
}

#[test]
fn from_headers_reads_hubspot_header_names_in_any_case() {
    let (sig, ts) = v3_parts(NOW);
    let mut headers = HeaderMap::new();
    headers.insert(
        "X-HubSpot-Signature-v3",
        HeaderValue::from_str(&sig).unwrap(),
    );
    headers.insert(
        "X-HubSpot-Request-Timestamp",
        HeaderValue::from_str(&ts).unwrap(),
    );
    headers.insert("Content-Type", HeaderValue::from_static("application/json"));
    let req = SignedRequest::from_headers("POST", URI, BODY, &headers);
    assert_eq!(req.signature_v3, Some(sig.as_str()));
    assert_eq!(req.timestamp, Some(ts.as_str()));
    assert_eq!(req.signature, None);
    assert_eq!(verify_request(&req, SECRET, NOW), Ok(SignatureVersion::V3));

    let v2 = sign_v2(SECRET, "POST", URI, BODY);
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_SIGNATURE, HeaderValue::from_str(&v2).unwrap());
    headers.insert(HEADER_SIGNATURE_VERSION, HeaderValue::from_static("v2"));
    let req = SignedRequest::from_headers("POST", URI, BODY, &headers);
    assert_eq!(verify_request(&req, SECRET, NOW), Ok(SignatureVersion::V2));

    // A non-ASCII header value is present-but-invalid, not absent.
    let mut headers = HeaderMap::new();
    headers.insert(
        HEADER_SIGNATURE_V3,
        HeaderValue::from_bytes(b"\xe4sig").unwrap(),
    );
    headers.insert(
        HEADER_REQUEST_TIMESTAMP,
        HeaderValue::from_str(&ts).unwrap(),
    );
    let req = SignedRequest::from_headers("POST", URI, BODY, &headers);
    assert_eq!(req.signature_v3, Some(""));
    assert_eq!(
        verify_request(&req, SECRET, NOW),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn hubspot_published_vectors_verify_through_verify_request() {
    let all: Value = serde_json::from_str(include_str!("fixtures/signature-v3-vectors.json"))
        .expect("fixture is JSON");
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let mut checked = 0;
    for v in all["v3"].as_array().expect("v3 list") {
        let (secret, method, uri, body, ts, sig) = (
            s(v, "client_secret"),
            s(v, "method"),
            s(v, "uri"),
            s(v, "body"),
            s(v, "timestamp"),
            s(v, "expected_signature"),
        );
        let now: i64 = ts.parse::<i64>().expect("numeric") + 1_000;
        let req = SignedRequest {
            method: &method,
            uri: &uri,
            body: body.as_bytes(),
            signature_v3: Some(&sig),
            timestamp: Some(&ts),
            signature: None,
            signature_version: None,
        };
        let expected = if secret.is_empty() {
            Err(SignatureError::Mismatch)
        } else {
            checked += 1;
            Ok(SignatureVersion::V3)
        };
        assert_eq!(
            verify_request(&req, &secret, now),
            expected,
            "{}",
            s(v, "note")
        );
    }
    assert!(checked >= 9, "only {checked} v3 vectors checked");
    for version in ["v1", "v2"] {
        for v in all[version].as_array().expect("list") {
            let (secret, method, uri, body, sig) = (
                s(v, "client_secret"),
                s(v, "method"),
                s(v, "uri"),
                s(v, "body"),
                s(v, "expected_signature"),
            );
            let req = SignedRequest {
                method: &method,
                uri: &uri,
                body: body.as_bytes(),
                signature_v3: None,
                timestamp: None,
                signature: Some(&sig),
                signature_version: Some(version),
            };
            let got = verify_request(&req, &secret, NOW).map(SignatureVersion::as_str);
            if secret.is_empty() {
                assert_eq!(got, Err(SignatureError::Mismatch), "{}", s(v, "note"));
            } else {
                assert_eq!(got, Ok(version), "{}", s(v, "note"));
            }
        }
    }
}

#[test]
fn public_uri_joins_base_and_path() {
    let path = "/api/webhooks/hubspot?tenant=acme&x=%20y";
    for (base, expected) in [
        (
            "https://keva.example.com",
            "https://keva.example.com/api/webhooks/hubspot?tenant=acme&x=%20y",
        ),
        (
            "https://keva.example.com/",
            "https://keva.example.com/api/webhooks/hubspot?tenant=acme&x=%20y",
        ),
        (
            "https://x.io/keva",
            "https://x.io/keva/api/webhooks/hubspot?tenant=acme&x=%20y",
        ),
        (
            "https://x.io/keva/",
            "https://x.io/keva/api/webhooks/hubspot?tenant=acme&x=%20y",
        ),
        (
            " https://x.io:8443/keva// ",
            "https://x.io:8443/keva/api/webhooks/hubspot?tenant=acme&x=%20y",
        ),
    ] {
        assert_eq!(public_uri(base, path), expected, "{base:?}");
    }
    assert_eq!(
        public_uri("https://x.io", "api/hook"),
        "https://x.io/api/hook"
    );
    assert_eq!(public_uri("https://x.io/keva", ""), "https://x.io/keva/");
    assert_eq!(public_uri("https://x.io", "?a=b"), "https://x.io/?a=b");
    // Escapes are kept byte for byte: the signature covers them.
    assert_eq!(
        public_uri("https://X.io", "/a%2Fb?q=%3D"),
        "https://X.io/a%2Fb?q=%3D"
    );
}

#[test]
fn public_uri_feeds_verification_behind_a_proxy() {
    // HubSpot called the public URL; the proxy stripped "/keva" before forwarding.
    let called = "https://x.io/keva/api/webhooks/hubspot?portal=62515";
    let ts = NOW.to_string();
    let sig = sign_v3(SECRET, "POST", called, BODY, &ts);
    let rebuilt = public_uri("https://x.io/keva/", "/api/webhooks/hubspot?portal=62515");
    let req = SignedRequest {
        uri: &rebuilt,
        ..with_v3(&sig, &ts)
    };
    assert_eq!(verify_request(&req, SECRET, NOW), Ok(SignatureVersion::V3));
    let forwarded = public_uri("https://x.io", "/api/webhooks/hubspot?portal=62515");
    let req = SignedRequest {
        uri: &forwarded,
        ..with_v3(&sig, &ts)
    };
    assert_eq!(
        verify_request(&req, SECRET, NOW),
        Err(SignatureError::Mismatch)
    );
}
