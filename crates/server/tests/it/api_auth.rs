//! Bearer API keys: missing, malformed, unknown and revoked keys are 401 with the
//! JSON error shape; a valid key works and its use is recorded.

use crate::harness::{call, error_code, TestApp};

async fn missing_unknown_and_revoked_keys_are_401(app: TestApp) {
    let url = format!("{}/api/customers", app.url);
    let cases = [
        None,
        Some("Bearer".to_string()),
        Some("Basic abc".to_string()),
        Some("Bearer keva_live_thisisnotakey".to_string()),
        Some("Bearer sk_live_wrongprefix".to_string()),
    ];
    for auth in cases {
        let mut req = app.http.get(&url);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let (status, body) = call(req).await;
        assert_eq!(status, 401, "auth header {auth:?}");
        assert_eq!(error_code(&body), "unauthorized");
    }

    // A working key...
    let (status, _) = call(app.get("/api/customers")).await;
    assert_eq!(status, 200);
    let keys = app.store.list_api_keys(app.workspace_id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].last_used_at.is_some(), "use is recorded");
    assert!(
        app.key.starts_with(&keys[0].prefix),
        "prefix is for display"
    );

    // ...stops working once revoked.
    app.store
        .revoke_api_key(app.workspace_id, keys[0].id)
        .await
        .unwrap();
    let (status, body) = call(app.get("/api/customers")).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "unauthorized");
}

async fn health_and_openapi_are_public(app: TestApp) {
    let (status, body) = app.public_get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["database"], "ok");

    let (status, doc) = app.public_get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/customers",
        "/api/customers/{id}",
        "/api/tickets",
        "/healthz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["paths"]["/api/customers/{id}"]["patch"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

async fn unknown_routes_use_the_error_shape(app: TestApp) {
    let (status, body) = call(app.get("/api/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "not_found");
}

keva_store::backend_tests!(with = crate::harness::plain;
    missing_unknown_and_revoked_keys_are_401,
    health_and_openapi_are_public,
    unknown_routes_use_the_error_shape
);
