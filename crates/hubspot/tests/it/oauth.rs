//! OAuth: authorize URL, code exchange and install, token info, revocation, refresh (proactive, single-flight
//! under load, hook called), and a revoked grant surfacing as `NeedsReconnection`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keva_hubspot::oauth::OAuthApp;
use keva_hubspot::{Credentials, HubspotClient, OAuthCredentials, ReadOptions, TokenSet};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};

use crate::helpers::{contact, fast_retries, no_client_limits, unlimited, with_control, Env};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

fn app(env: &Env) -> OAuthApp {
    OAuthApp::new(
        env.sandbox.client_id(),
        SecretString::from(env.sandbox.client_secret()),
        REDIRECT,
        &env.url(),
        &format!("{}/oauth/authorize", env.url()),
    )
    .unwrap()
}

/// Goes through consent (the sandbox's Approve) and the code exchange.
async fn install(env: &Env) -> TokenSet {
    install_with(
        env,
        &[
            "oauth",
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
        ],
    )
    .await
}

/// The code the sandbox's consent (Approve on the default portal) would redirect with.
fn approve_code(env: &Env, scopes: &[&str]) -> String {
    env.sandbox
        .control()
        .tokens
        .approve(
            &env.sandbox.client_id(),
            REDIRECT,
            env.sandbox.portal_id(),
            scopes.iter().map(|s| s.to_string()).collect(),
        )
        .expect("approve")
}

async fn install_with(env: &Env, scopes: &[&str]) -> TokenSet {
    let code = approve_code(env, scopes);
    let (tokens, raw) = app(env).exchange_code(&code).await.unwrap();
    assert_eq!(raw.hub_id, Some(env.sandbox.portal_id()));
    tokens
}

fn oauth_client(
    env: &Env,
    tokens: TokenSet,
    refreshes: Arc<Mutex<Vec<TokenSet>>>,
) -> HubspotClient {
    HubspotClient::builder(Credentials::OAuth(OAuthCredentials {
        tokens,
        client_id: env.sandbox.client_id(),
        client_secret: SecretString::from(env.sandbox.client_secret()),
    }))
    .base_url(env.url())
    .portal_id(env.sandbox.portal_id())
    .rate_limit(no_client_limits())
    .retry(fast_retries())
    .on_refresh_async(Arc::new(move |t: TokenSet| {
        let refreshes = Arc::clone(&refreshes);
        Box::pin(async move {
            // An async hook, as the service's (encrypting, writing to the store).
            tokio::task::yield_now().await;
            refreshes.lock().push(t);
        })
    }))
    .build()
    .unwrap()
}

#[tokio::test]
async fn authorize_url_points_at_the_consent_page() {
    let env = unlimited().await;
    let url = app(&env).authorize_url(&["oauth"], &[], "xyz");
    let resp = reqwest::get(url.as_str()).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(url
        .as_str()
        .starts_with(&format!("{}/oauth/authorize?", env.url())));
}

#[tokio::test]
async fn code_exchange_token_info_and_manual_refresh() {
    let env = unlimited().await;
    let tokens = install(&env).await;
    assert_eq!(tokens.lifetime, Duration::from_secs(1800));
    let app = app(&env);
    let info = app.access_token_info(&tokens.access_token).await.unwrap();
    assert_eq!(info.grant.hub_id, env.sandbox.portal_id());
    assert!(info.grant.scopes.contains(&"oauth".to_string()));

    let refreshed = app.refresh(&tokens.refresh_token).await.unwrap();
    assert_ne!(
        refreshed.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    let client = oauth_client(&env, refreshed, Arc::default());
    let info = client.access_token_info().await.unwrap();
    assert_eq!(info.grant.hub_id, env.sandbox.portal_id());
    client
        .contacts()
        .create(&contact("oauth@example.com", "O"))
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_scope_is_403_with_the_scope_named() {
    let env = unlimited().await;
    let tokens = install_with(&env, &["oauth", "crm.objects.contacts.read"]).await;
    let client = oauth_client(&env, tokens, Arc::default());
    let err = client
        .contacts()
        .create(&contact("scoped@example.com", "S"))
        .await
        .unwrap_err();
    assert!(err.is_missing_scopes(), "{err:?}");
    assert!(err
        .missing_scopes()
        .contains(&"crm.objects.contacts.write".to_string()));
    assert!(!err.is_retryable());
    assert_eq!(env.sandbox.contact_count(), 0);
}

#[tokio::test]
async fn expired_token_is_refreshed_once_on_401() {
    let env = unlimited().await;
    let mut tokens = install(&env).await;
    // The client believes the token is fresh for a long time, but HubSpot says 401.
    tokens.access_token = SecretString::from("CK-expired-or-unknown".to_string());
    let refreshes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&refreshes);
    // The synchronous hook flavour.
    let client = HubspotClient::builder(Credentials::OAuth(OAuthCredentials {
        tokens,
        client_id: env.sandbox.client_id(),
        client_secret: SecretString::from(env.sandbox.client_secret()),
    }))
    .base_url(env.url())
    .rate_limit(no_client_limits())
    .on_refresh(Arc::new(move |t: &TokenSet| seen.lock().push(t.clone())))
    .build()
    .unwrap();
    let found = client
        .contacts()
        .find_by_email("nobody@example.com", &ReadOptions::default())
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(refreshes.lock().len(), 1);
}

#[tokio::test]
async fn revoked_grant_needs_reconnection_without_looping() {
    let env = unlimited().await;
    let mut tokens = install(&env).await;
    assert!(env
        .sandbox
        .control()
        .tokens
        .revoke_refresh_token(tokens.refresh_token.expose_secret()));
    tokens.expires_at = chrono::Utc::now() - chrono::Duration::seconds(5);
    let refreshes = Arc::new(Mutex::new(Vec::new()));
    let client = oauth_client(&env, tokens, Arc::clone(&refreshes));
    let err = client
        .contacts()
        .get("1", &ReadOptions::default())
        .await
        .unwrap_err();
    assert!(err.needs_reconnection(), "{err:?}");
    // Latched: the next call fails at once, without another HubSpot call.
    let before = env.stats().await["total"].as_u64().unwrap();
    let again = client
        .contacts()
        .get("1", &ReadOptions::default())
        .await
        .unwrap_err();
    assert!(again.needs_reconnection());
    assert_eq!(env.stats().await["total"].as_u64().unwrap(), before);
    assert!(refreshes.lock().is_empty());
}

#[tokio::test]
async fn two_second_tokens_under_concurrent_load() {
    let mut control = keva_sandbox::control::ControlConfig::without_rate_limits();
    control.token_lifetime = Duration::from_secs(2);
    let env = with_control(control).await;
    let tokens = install(&env).await;
    assert_eq!(tokens.lifetime, Duration::from_secs(2));
    let refreshes = Arc::new(Mutex::new(Vec::new()));
    let client = oauth_client(&env, tokens, Arc::clone(&refreshes));
    let id = client
        .contacts()
        .create(&contact("load@example.com", "L"))
        .await
        .unwrap()
        .id;

    let run_for = Duration::from_secs(7);
    let started = tokio::time::Instant::now();
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let client = client.clone();
        let id = id.clone();
        let ok = Arc::clone(&ok);
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < run_for {
                client
                    .contacts()
                    .get(&id, &ReadOptions::default())
                    .await
                    .expect("no call fails while tokens expire");
                ok.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let sets = refreshes.lock().clone();
    // Refresh at 90 % of 2 s: one refresh per lifetime, never two for one expiry.
    let expected_max = (elapsed.as_secs_f64() / 1.8).ceil() as usize + 1;
    assert!(
        sets.len() >= 3 && sets.len() <= expected_max,
        "{} refreshes in {elapsed:?}",
        sets.len()
    );
    let mut seen = std::collections::HashSet::new();
    for t in &sets {
        assert!(seen.insert(t.access_token.expose_secret().to_string()));
    }
    for pair in sets.windows(2) {
        let gap = pair[1].expires_at - pair[0].expires_at;
        assert!(
            gap >= chrono::Duration::milliseconds(1500),
            "two refreshes for one expiry ({gap})"
        );
    }
    assert!(ok.load(Ordering::Relaxed) > 100);
}

#[tokio::test]
async fn install_reads_portal_user_app_and_granted_scopes() {
    let env = unlimited().await;
    let code = approve_code(&env, &["oauth", "crm.objects.contacts.read"]);
    let installed = app(&env).install(&code).await.unwrap();
    assert_eq!(installed.hub_id, env.sandbox.portal_id());
    assert_eq!(installed.app_id, Some(env.sandbox.app_id()));
    assert!(installed.user.as_deref().is_some_and(|u| u.contains('@')));
    assert!(installed.user_id.is_some());
    assert!(installed.hub_domain.is_some());
    assert_eq!(installed.scopes, vec!["oauth", "crm.objects.contacts.read"]);
    // The code was spent.
    assert!(app(&env).install(&code).await.is_err());
}

#[tokio::test]
async fn refresh_token_info_and_revocation() {
    let env = unlimited().await;
    let tokens = install(&env).await;
    let app = app(&env);
    let info = app.refresh_token_info(&tokens.refresh_token).await.unwrap();
    assert_eq!(info.grant.hub_id, env.sandbox.portal_id());
    assert_eq!(info.client_id, Some(env.sandbox.client_id()));
    assert_eq!(info.grant.token_type.as_deref(), Some("refresh"));
    assert!(info.grant.user.is_some() && info.grant.user_id.is_some());
    assert!(info
        .grant
        .scopes
        .contains(&"crm.objects.contacts.write".to_string()));

    app.revoke_refresh_token(&tokens.refresh_token)
        .await
        .unwrap();
    let err = app.refresh(&tokens.refresh_token).await.unwrap_err();
    assert!(err.needs_reconnection(), "{err:?}");
    let gone = app
        .refresh_token_info(&tokens.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(gone.api().map(|a| a.status), Some(404), "{gone:?}");
    // Revoking twice is an error (the token is unknown), not a silent success.
    assert!(app
        .revoke_refresh_token(&tokens.refresh_token)
        .await
        .is_err());
}

#[tokio::test]
async fn uninstall_at_hubspot_makes_refresh_need_reconnection() {
    let env = unlimited().await;
    let tokens = install(&env).await;
    let url = format!(
        "{}/_sandbox/apps/{}/installs/{}",
        env.url(),
        env.sandbox.app_id(),
        env.sandbox.portal_id()
    );
    let resp = env.http.delete(url).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let err = app(&env).refresh(&tokens.refresh_token).await.unwrap_err();
    assert!(err.needs_reconnection(), "{err:?}");
}
