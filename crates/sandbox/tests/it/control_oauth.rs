//! The OAuth install flow as a browser and an app drive it: the consent page's
//! form (Approve / Deny), code exchange rules, token info, refresh-token
//! revocation, uninstalls and scope restrictions.

use std::collections::HashMap;
use std::time::Duration;

use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::control_support::*;

const REDIRECT: &str = "http://127.0.0.1:9/integrations/hubspot/callback";
const CONTACTS: &str = "/crm/v3/objects/contacts";
const SECOND_PORTAL: u64 = 70_000_002;

async fn two_portals(control: ControlConfig) -> RunningSandbox {
    start(SandboxConfig {
        extra_portals: vec![SECOND_PORTAL],
        control,
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

/// GETs the consent page for `client_id` and returns its HTML.
async fn consent_page(sb: &RunningSandbox, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut query = vec![("client_id", client_id), ("redirect_uri", REDIRECT)];
    query.extend_from_slice(extra);
    let page = client()
        .get(format!("{}/oauth/authorize", sb.url()))
        .query(&query)
        .send()
        .await
        .expect("authorize page");
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.expect("html")
}

/// Submits the consent form with `button` (`approve` or `deny`) and `portal`, and
/// returns the redirect's query.
async fn submit(
    sb: &RunningSandbox,
    html: &str,
    button: &str,
    portal: u64,
) -> HashMap<String, String> {
    let action = if button == "deny" {
        "/oauth/authorize/deny"
    } else {
        "/oauth/authorize/approve"
    };
    assert!(html.contains(&format!("value=\"{button}\"")), "{html}");
    let mut form = keva_sandbox::consent::form_fields(html);
    form.push(("portal_id".into(), portal.to_string()));
    form.push(("decision".into(), button.into()));
    let resp = client()
        .post(format!("{}{action}", sb.url()))
        .form(&form)
        .send()
        .await
        .expect("form post");
    redirect_query(&resp, REDIRECT)
}

pub async fn token_request(sb: &RunningSandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = client()
        .post(format!("{}/oauth/v1/token", sb.url()))
        .form(form)
        .send()
        .await
        .expect("token endpoint");
    let status = resp.status();
    (status, resp.json().await.expect("JSON body"))
}

pub async fn exchange(sb: &RunningSandbox, code: &str, redirect: &str) -> (StatusCode, Value) {
    exchange_with_secret(sb, &sb.client_secret(), code, redirect).await
}

/// `grant_type=authorization_code` for the sandbox's app, with `secret` as its secret.
pub async fn exchange_with_secret(
    sb: &RunningSandbox,
    secret: &str,
    code: &str,
    redirect: &str,
) -> (StatusCode, Value) {
    let id = sb.client_id();
    token_request(
        sb,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", secret),
            ("redirect_uri", redirect),
            ("code", code),
        ],
    )
    .await
}

pub async fn refresh(sb: &RunningSandbox, refresh_token: &str) -> (StatusCode, Value) {
    let (id, secret) = (sb.client_id(), sb.client_secret());
    token_request(
        sb,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Approves on `portal` through the page and exchanges the code.
async fn install(sb: &RunningSandbox, portal: u64, scope: &str, optional: &str) -> Value {
    let html = consent_page(
        sb,
        &sb.client_id(),
        &[
            ("scope", scope),
            ("optional_scope", optional),
            ("state", "s"),
        ],
    )
    .await;
    let q = submit(sb, &html, "approve", portal).await;
    let (s, tok) = exchange(sb, &q["code"], REDIRECT).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    tok
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn assert_refused_refresh(s: StatusCode, body: &Value) {
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN", "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["error_description"].is_string(), "{body}");
    assert!(body["correlationId"].is_string(), "{body}");
}

#[tokio::test]
async fn approve_with_the_second_portal_shows_scopes_and_returns_code_and_state() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let html = consent_page(
        &sb,
        &sb.client_id(),
        &[
            ("scope", "oauth crm.objects.contacts.read"),
            ("optional_scope", "crm.objects.deals.read"),
            ("state", "st <1>&2"),
        ],
    )
    .await;
    assert!(html.contains(&format!("<option value=\"{SECOND_PORTAL}\"")));
    assert!(
        html.contains("<ul id=\"scopes\"><li>oauth</li><li>crm.objects.contacts.read</li></ul>")
    );
    assert!(html.contains("<ul id=\"optional-scopes\"><li>crm.objects.deals.read</li></ul>"));
    assert!(html.contains(">Deny</button>"), "{html}");
    let q = submit(&sb, &html, "approve", SECOND_PORTAL).await;
    assert_eq!(q["state"], "st <1>&2");
    let (s, tok) = exchange(&sb, &q["code"], REDIRECT).await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert_eq!(tok["hub_id"], SECOND_PORTAL);
    assert_eq!(
        strings(&tok["scopes"]),
        vec![
            "oauth",
            "crm.objects.contacts.read",
            "crm.objects.deals.read"
        ]
    );
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_the_state() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let html = consent_page(
        &sb,
        &sb.client_id(),
        &[("scope", "oauth"), ("state", "abc")],
    )
    .await;
    let q = submit(&sb, &html, "deny", SECOND_PORTAL).await;
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert!(q.get("error_description").is_some_and(|d| !d.is_empty()));
    assert_eq!(q.get("state").map(String::as_str), Some("abc"));
    assert!(!q.contains_key("code"), "{q:?}");
    // A browser that submits the one form with the Deny button's value to the
    // approve action is denied too.
    let mut form = keva_sandbox::consent::form_fields(&html);
    form.push(("portal_id".into(), SECOND_PORTAL.to_string()));
    form.push(("decision".into(), "deny".into()));
    let resp = client()
        .post(format!("{}/oauth/authorize/approve", sb.url()))
        .form(&form)
        .send()
        .await
        .expect("post");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(location.contains("error=access_denied"), "{location}");
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_get_an_error_page_not_a_redirect() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let app = sb.register_app("Keva", vec![REDIRECT.to_string()]);
    for (client_id, redirect) in [
        ("nobody", REDIRECT),
        (app.client_id.as_str(), "http://127.0.0.1:9/elsewhere"),
        (app.client_id.as_str(), "not a url"),
    ] {
        let resp = client()
            .get(format!("{}/oauth/authorize", sb.url()))
            .query(&[("client_id", client_id), ("redirect_uri", redirect)])
            .send()
            .await
            .expect("page");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("location").is_none());
        let deny = client()
            .post(format!("{}/oauth/authorize/deny", sb.url()))
            .form(&[("client_id", client_id), ("redirect_uri", redirect)])
            .send()
            .await
            .expect("deny");
        assert_eq!(deny.status(), StatusCode::BAD_REQUEST);
        assert!(deny.headers().get("location").is_none());
    }
    // The registered one works.
    let html = consent_page(&sb, &app.client_id, &[("scope", "oauth")]).await;
    assert!(html.contains("Connect Keva"), "{html}");
}

#[tokio::test]
async fn codes_are_single_use_short_lived_bound_to_the_redirect_uri_and_the_secret() {
    let mut control = ControlConfig::without_rate_limits();
    control.auth_code_lifetime = Duration::from_millis(1_500);
    let sb = two_portals(control).await;
    let html = consent_page(&sb, &sb.client_id(), &[("scope", "oauth")]).await;
    let code = submit(&sb, &html, "approve", SECOND_PORTAL).await["code"].clone();

    let (s, bad) = exchange_with_secret(&sb, "wrong", &code, REDIRECT).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(bad["status"], "BAD_CLIENT_SECRET", "{bad}");
    assert_eq!(bad["error"], "invalid_client", "{bad}");

    let (s, bad) = exchange(&sb, &code, "http://127.0.0.1:9/other").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(bad["status"], "BAD_REDIRECT_URI", "{bad}");

    let (s, ok) = exchange(&sb, &code, REDIRECT).await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    let (s, reused) = exchange(&sb, &code, REDIRECT).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(reused["status"], "BAD_AUTH_CODE", "{reused}");
    assert_eq!(reused["error"], "invalid_grant", "{reused}");

    let late = submit(&sb, &html, "approve", SECOND_PORTAL).await["code"].clone();
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let (s, expired) = exchange(&sb, &late, REDIRECT).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(expired["status"], "BAD_AUTH_CODE", "{expired}");
}

#[tokio::test]
async fn token_info_reports_portal_user_app_and_scopes() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let tok = install(&sb, SECOND_PORTAL, "oauth crm.objects.contacts.read", "").await;
    let access = tok["access_token"].as_str().expect("access").to_string();
    let refresh_token = tok["refresh_token"].as_str().expect("refresh").to_string();
    assert!(tok["user_id"].is_u64(), "{tok}");

    let info = access_token_info(&sb, &access).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    let b = &info.body;
    assert_eq!(b["token"], access.as_str());
    assert_eq!(b["hub_id"], SECOND_PORTAL);
    assert_eq!(b["app_id"], sb.app_id());
    assert_eq!(b["token_type"], "access");
    assert!(b["user"].as_str().is_some_and(|u| u.contains('@')), "{b}");
    assert_eq!(b["user_id"], tok["user_id"]);
    assert!(b["hub_domain"].is_string(), "{b}");
    assert!(b["expires_in"].as_i64().is_some_and(|e| e > 0 && e <= 1800));
    assert_eq!(
        strings(&b["scopes"]),
        vec!["oauth", "crm.objects.contacts.read"]
    );

    let info = admin(
        &sb,
        Method::GET,
        &format!("/oauth/v1/refresh-tokens/{refresh_token}"),
        None,
    )
    .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    let b = &info.body;
    assert_eq!(b["token"], refresh_token.as_str());
    assert_eq!(b["hub_id"], SECOND_PORTAL);
    assert_eq!(b["client_id"], sb.client_id().as_str());
    assert_eq!(b["token_type"], "refresh");
    assert!(b["user"].is_string() && b["user_id"].is_u64() && b["hub_domain"].is_string());
    assert_eq!(
        strings(&b["scopes"]),
        vec!["oauth", "crm.objects.contacts.read"]
    );
}

#[tokio::test]
async fn revoked_refresh_token_is_refused_with_hubspots_body() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let tok = install(&sb, SECOND_PORTAL, "oauth", "").await;
    let refresh_token = tok["refresh_token"].as_str().expect("refresh").to_string();
    let (s, _) = refresh(&sb, &refresh_token).await;
    assert_eq!(s, StatusCode::OK);
    let path = format!("/oauth/v1/refresh-tokens/{refresh_token}");
    let revoked = admin(&sb, Method::DELETE, &path, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    let (s, body) = refresh(&sb, &refresh_token).await;
    assert_refused_refresh(s, &body);
    let info = admin(&sb, Method::GET, &path, None).await;
    assert_hubspot_error(&info, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    let again = admin(&sb, Method::DELETE, &path, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uninstall_by_the_user_revokes_the_apps_tokens_for_that_portal() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let tok = install(&sb, SECOND_PORTAL, "oauth crm.objects.contacts.read", "").await;
    let other = install(&sb, sb.portal_id(), "oauth crm.objects.contacts.read", "").await;
    let access = tok["access_token"].as_str().expect("access");
    assert_eq!(
        call(&sb, Some(access), Method::GET, CONTACTS, None)
            .await
            .status,
        StatusCode::OK
    );
    let path = format!("/_sandbox/apps/{}/installs/{SECOND_PORTAL}", sb.app_id());
    let r = admin(&sb, Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["revokedRefreshTokens"], 1);

    let (s, body) = refresh(&sb, tok["refresh_token"].as_str().expect("refresh")).await;
    assert_refused_refresh(s, &body);
    let dead = call(&sb, Some(access), Method::GET, CONTACTS, None).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);
    // The other portal's grant and the private-app token are untouched.
    let (s, _) = refresh(&sb, other["refresh_token"].as_str().expect("refresh")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);

    let unknown = admin(&sb, Method::DELETE, "/_sandbox/apps/1/installs/1", None).await;
    assert_hubspot_error(&unknown, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn app_initiated_uninstall_needs_a_token_and_revokes_the_grant() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let tok = install(&sb, SECOND_PORTAL, "oauth", "").await;
    let path = "/appinstalls/v3/external-install";
    let anon = admin(&sb, Method::DELETE, path, None).await;
    assert_hubspot_error(&anon, StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION");
    let access = tok["access_token"].as_str().expect("access");
    let r = call(&sb, Some(access), Method::DELETE, path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let (s, body) = refresh(&sb, tok["refresh_token"].as_str().expect("refresh")).await;
    assert_refused_refresh(s, &body);
}

#[tokio::test]
async fn scope_restrictions_leave_out_what_the_portal_or_app_cannot_grant() {
    let sb = two_portals(ControlConfig::without_rate_limits()).await;
    let r = admin(
        &sb,
        Method::PUT,
        &format!("/_sandbox/portals/{SECOND_PORTAL}/scopes"),
        Some(json!({"scopes": ["oauth", "crm.objects.contacts.read"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        strings(&r.body["grantableScopes"]),
        vec!["crm.objects.contacts.read", "oauth"]
    );
    let tok = install(
        &sb,
        SECOND_PORTAL,
        "oauth crm.objects.contacts.read crm.objects.contacts.write",
        "crm.objects.deals.read",
    )
    .await;
    // A required scope the portal lacks is missing from the grant.
    assert_eq!(
        strings(&tok["scopes"]),
        vec!["oauth", "crm.objects.contacts.read"]
    );
    // The default portal is unrestricted.
    let full = install(
        &sb,
        sb.portal_id(),
        "oauth crm.objects.contacts.write",
        "crm.objects.deals.read",
    )
    .await;
    assert_eq!(
        strings(&full["scopes"]),
        vec![
            "oauth",
            "crm.objects.contacts.write",
            "crm.objects.deals.read"
        ]
    );
    // Lifting the restriction; restricting the app instead drops an optional scope.
    let r = admin(
        &sb,
        Method::PUT,
        &format!("/_sandbox/portals/{SECOND_PORTAL}/scopes"),
        Some(json!({"scopes": null})),
    )
    .await;
    assert!(r.body["grantableScopes"].is_null(), "{}", r.text);
    let r = admin(
        &sb,
        Method::PUT,
        &format!("/_sandbox/apps/{}/scopes", sb.app_id()),
        Some(json!({"scopes": ["oauth", "crm.objects.contacts.write"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tok = install(
        &sb,
        SECOND_PORTAL,
        "oauth crm.objects.contacts.write",
        "crm.objects.deals.read",
    )
    .await;
    assert_eq!(
        strings(&tok["scopes"]),
        vec!["oauth", "crm.objects.contacts.write"]
    );
    let missing = admin(
        &sb,
        Method::PUT,
        "/_sandbox/portals/1/scopes",
        Some(json!({"scopes": []})),
    )
    .await;
    assert_hubspot_error(&missing, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
}
