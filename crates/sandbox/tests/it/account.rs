//! `GET /account-info/v3/details`: the token's portal, behind the auth guard.

use reqwest::StatusCode;

use crate::common::env;

#[tokio::test]
async fn details_name_the_tokens_portal() {
    let e = env().await;
    let (s, v) = e.get("/account-info/v3/details").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["portalId"], e.sb.portal_id());
    assert!(
        v["timeZone"].is_string() && v["uiDomain"].is_string(),
        "{v}"
    );

    let (s, _) = e
        .call_as(
            "not-a-token",
            reqwest::Method::GET,
            "/account-info/v3/details",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
