//! Authentication over HTTP: 401s, the OAuth authorize page and approve redirect,
//! code → token → refresh → token info, revocation and token expiry.

use std::time::Duration;

use keva_sandbox::control::ControlConfig;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::control_oauth::{
    exchange, exchange_with_secret, refresh as refresh_grant, token_request,
};
use crate::control_support::*;

const CONTACTS: &str = "/crm/v3/objects/contacts";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

#[tokio::test]
async fn missing_and_unknown_tokens_get_hubspots_401() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    let missing = call(&sb, None, Method::GET, CONTACTS, None).await;
    assert_hubspot_error(&missing, StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION");
    let unknown = call(
        &sb,
        Some("pat-na1-not-a-token"),
        Method::GET,
        CONTACTS,
        None,
    )
    .await;
    assert_hubspot_error(&unknown, StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION");
    let ok = api_get(&sb, CONTACTS).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(sb.access_token().starts_with("pat-na1-"));
}

/// Drives the consent page like a browser: GET the page, read the form, POST it.
async fn authorize(sb: &keva_sandbox::server::RunningSandbox, state: &str) -> String {
    let client_id = sb.client_id();
    let params = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "oauth crm.objects.contacts.read"),
        ("state", state),
    ];
    let page = client()
        .get(format!("{}/oauth/authorize", sb.url()))
        .query(&params)
        .send()
        .await
        .expect("authorize page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("action=\"/oauth/authorize/approve\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("<option value=\"{}\"", sb.portal_id())),
        "{html}"
    );
    assert!(html.contains(">Approve</button>"), "{html}");
    assert!(html.contains("crm.objects.contacts.read"), "{html}");

    let portal = sb.portal_id().to_string();
    let mut form = vec![("portal_id", portal.as_str())];
    form.extend_from_slice(&params);
    let approve = client()
        .post(format!("{}/oauth/authorize/approve", sb.url()))
        .form(&form)
        .send()
        .await
        .expect("approve");
    let q = redirect_query(&approve, REDIRECT);
    assert_eq!(q.get("state").map(String::as_str), Some(state));
    q.get("code").cloned().expect("code in redirect")
}

#[tokio::test]
async fn oauth_code_token_refresh_and_token_info() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    let id = sb.client_id();
    let code = authorize(&sb, "xyz 1/2").await;

    // A wrong secret is refused before the code is spent.
    let (s, bad) = exchange_with_secret(&sb, "nope", &code, REDIRECT).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        bad["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("BAD_CLIENT"),
        "{bad}"
    );

    let (s, tok) = exchange(&sb, &code, REDIRECT).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["token_use"], "access_token");
    assert_eq!(tok["expires_in"], 1800);
    assert_eq!(tok["hub_id"], sb.portal_id());
    let access = tok["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let refresh = tok["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();

    // The code is single-use.
    let (s, again) = exchange(&sb, &code, REDIRECT).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(again["status"], "BAD_AUTH_CODE");
    assert!(again["correlationId"].is_string());

    // The OAuth token works on the API, without daily rate-limit headers.
    let ok = call(&sb, Some(&access), Method::GET, CONTACTS, None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let (s, refreshed) = refresh_grant(&sb, &refresh).await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    let access2 = refreshed["access_token"]
        .as_str()
        .expect("new access token")
        .to_string();
    assert_ne!(access2, access);
    assert_eq!(refreshed["refresh_token"], refresh.as_str());

    let info = access_token_info(&sb, &access2).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.body["hub_id"], sb.portal_id());
    assert_eq!(info.body["app_id"], sb.app_id());
    assert_eq!(info.body["token"], access2.as_str());
    assert_eq!(info.body["token_type"], "access");
    let expires_in = info.body["expires_in"].as_i64().expect("expires_in");
    assert!((1790..=1800).contains(&expires_in), "{expires_in}");
    let scopes: Vec<&str> = info.body["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(scopes, vec!["oauth", "crm.objects.contacts.read"]);
    for field in ["user", "user_id", "hub_domain"] {
        assert!(
            !info.body[field].is_null(),
            "{field} missing: {}",
            info.text
        );
    }

    let rinfo = admin(
        &sb,
        Method::GET,
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
        None,
    )
    .await;
    assert_eq!(rinfo.status, StatusCode::OK);
    assert_eq!(rinfo.body["client_id"], id.as_str());
    assert_eq!(rinfo.body["hub_id"], sb.portal_id());

    let revoke = admin(
        &sb,
        Method::DELETE,
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
        None,
    )
    .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let (s, dead) = refresh_grant(&sb, &refresh).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(dead["status"], "BAD_REFRESH_TOKEN");

    let unknown = admin(&sb, Method::GET, "/oauth/v1/access-tokens/nope", None).await;
    assert_hubspot_error(&unknown, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn token_endpoint_refuses_unknown_clients_and_grant_types() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    let (s, v) = token_request(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "nobody"),
            ("client_secret", "x"),
            ("refresh_token", "y"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["status"], "BAD_CLIENT_ID");
    let (s, v) = token_request(&sb, &[("grant_type", "password")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["status"], "BAD_GRANT_TYPE");
    let page = client()
        .get(format!(
            "{}/oauth/authorize?client_id=nobody&redirect_uri={REDIRECT}",
            sb.url()
        ))
        .send()
        .await
        .expect("authorize page");
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expired_access_tokens_get_401_and_refresh_brings_them_back() {
    let mut config = ControlConfig::without_rate_limits();
    config.token_lifetime = Duration::from_secs(2);
    let sb = sandbox(config).await;
    let code = authorize(&sb, "s").await;
    let (_, tok) = exchange(&sb, &code, REDIRECT).await;
    assert_eq!(tok["expires_in"], 2);
    let access = tok["access_token"].as_str().expect("token").to_string();
    assert_eq!(
        call(&sb, Some(&access), Method::GET, CONTACTS, None)
            .await
            .status,
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let expired = call(&sb, Some(&access), Method::GET, CONTACTS, None).await;
    assert_hubspot_error(&expired, StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION");
    assert!(
        expired.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{}",
        expired.text
    );
    let info = access_token_info(&sb, &access).await;
    assert_eq!(info.status, StatusCode::NOT_FOUND);

    let refresh = tok["refresh_token"].as_str().expect("refresh").to_string();
    let (_, fresh) = refresh_grant(&sb, &refresh).await;
    let access2 = fresh["access_token"].as_str().expect("fresh token");
    assert_eq!(
        call(&sb, Some(access2), Method::GET, CONTACTS, None)
            .await
            .status,
        StatusCode::OK
    );
    // Private-app tokens never expire.
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
}

#[tokio::test]
async fn extra_apps_get_credentials_and_their_own_oauth_flow() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    let created = admin(
        &sb,
        Method::POST,
        "/_sandbox/apps",
        Some(serde_json::json!({"name": "Other", "redirectUris": [REDIRECT]})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let app_id = created.body["appId"].as_u64().expect("appId");
    assert_ne!(app_id, sb.app_id());
    let client_id = created.body["clientId"].as_str().expect("clientId");
    // A redirect URI the app did not register is refused.
    let page = client()
        .get(format!("{}/oauth/authorize", sb.url()))
        .query(&[
            ("client_id", client_id),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ])
        .send()
        .await
        .expect("authorize page");
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let listed = admin(&sb, Method::GET, "/_sandbox/apps", None).await;
    let ids: Vec<u64> = listed.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|a| a["appId"].as_u64())
        .collect();
    assert!(
        ids.contains(&app_id) && ids.contains(&sb.app_id()),
        "{ids:?}"
    );
}
