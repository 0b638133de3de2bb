//! OAuth connectors: refreshed tokens are persisted (sealed) by the client cache's
//! refresh hook, and a refused grant marks the connector `needs_reconnection`.

use chrono::Utc;
use keva_core::Trigger;
use keva_server::config::Settings;
use keva_server::sync::{sync_customer, SyncError};
use keva_server::{AppState, ServerConfig};
use keva_store::{AuthKind, ConnectorStatus, NewConnector};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::harness::{eventually, TestApp};

/// A service state that knows the sandbox app's OAuth client (no server, no workers).
fn oauth_state(app: &TestApp) -> AppState {
    let mut config = ServerConfig::new("127.0.0.1:9".parse().unwrap(), app.sb().url());
    config.hubspot_client_id = Some(app.sb().client_id());
    config.hubspot_client_secret = Some(SecretString::from(app.sb().client_secret()));
    AppState::new(app.store.clone(), Settings::new(config))
}

async fn refreshed_tokens_are_persisted_and_a_revoked_grant_needs_reconnection(app: TestApp) {
    let tokens = &app.sb().control().tokens;
    let code = tokens
        .approve(
            &app.sb().client_id(),
            "http://localhost/callback",
            app.sb().portal_id(),
            Vec::new(),
        )
        .unwrap();
    let issued = tokens
        .exchange_code(
            &app.sb().client_id(),
            &app.sb().client_secret(),
            "http://localhost/callback",
            &code,
        )
        .unwrap();
    // Stored with an access token that has already expired: the first call refreshes.
    let connector = oauth_connector(
        &app,
        "expired-access-token",
        Some(SecretString::from(issued.refresh_token.clone())),
        Utc::now() - chrono::Duration::minutes(5),
    )
    .await;
    let customer = app.stored_customer("oauth@example.com").await;
    let state = oauth_state(&app);
    let outcome = sync_customer(&state, &connector, customer.id, Trigger::Manual)
        .await
        .unwrap();
    assert!(outcome.created, "{outcome:?}");
    let stored = eventually(10, "the refreshed token is persisted", || async {
        let stored = app
            .store
            .connector_tokens(app.workspace_id, connector.id)
            .await
            .unwrap();
        (stored.access_token.expose_secret() != "expired-access-token").then_some(stored)
    })
    .await;
    assert!(
        stored.expires_at.unwrap() > Utc::now(),
        "new expiry persisted"
    );

    // The grant is revoked and the stored access token is no good: reconnect.
    assert!(tokens.revoke_refresh_token(&issued.refresh_token));
    app.store
        .update_connector_tokens(
            connector.id,
            &keva_store::ConnectorTokens {
                access_token: SecretString::from("expired-again"),
                refresh_token: Some(SecretString::from(issued.refresh_token.clone())),
                expires_at: Some(Utc::now() - chrono::Duration::minutes(5)),
            },
        )
        .await
        .unwrap();
    let fresh = oauth_state(&app);
    let err = sync_customer(&fresh, &connector, customer.id, Trigger::Manual)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::NeedsReconnection(_)), "{err:?}");
}

async fn a_connector_that_cannot_authenticate_is_marked_for_reconnection(app: TestApp) {
    // An OAuth connector without a refresh token cannot work.
    let connector = oauth_connector(&app, "no-good", None, Utc::now()).await;
    let c = app
        .synced_customer(json!({"email": "stuck@example.com"}))
        .await;
    let crm = app.crm(&c).await;
    assert_eq!(crm["status"], "failed", "{crm}");
    let (s, v) =
        crate::harness::call(app.get(&format!("/api/crm/hubspot/connectors/{}", connector.id)))
            .await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "needs_reconnection", "{v}");
    let stored = app
        .store
        .get_connector(app.workspace_id, connector.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ConnectorStatus::NeedsReconnection);
    // No more jobs for it until it is reconnected.
    app.edit_customer(&c, json!({"phone": "1"})).await;
    assert_eq!(app.busy_jobs().await, 0);
    assert_eq!(app.contact_count(), 0);
}

keva_store::backend_tests!(with = crate::harness::sandboxed;
    refreshed_tokens_are_persisted_and_a_revoked_grant_needs_reconnection,
    a_connector_that_cannot_authenticate_is_marked_for_reconnection,
);

/// An OAuth connector on the sandbox portal with the given tokens.
async fn oauth_connector(
    app: &TestApp,
    access: &str,
    refresh: Option<SecretString>,
    expires_at: chrono::DateTime<Utc>,
) -> keva_store::Connector {
    let new = NewConnector {
        workspace_id: app.workspace_id,
        portal_id: i64::try_from(app.sb().portal_id()).unwrap(),
        auth_kind: AuthKind::OAuth,
        access_token: SecretString::from(access),
        refresh_token: refresh,
        token_expires_at: Some(expires_at),
        scopes: Vec::new(),
    };
    app.store.insert_connector(new).await.unwrap()
}
