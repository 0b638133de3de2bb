//! Customers over HTTP: validation, case-insensitive email, workspace isolation,
//! bad input that leaves stored data untouched.

use serde_json::json;

use crate::harness::{call, error_code, parts, TestApp};

async fn create_get_and_lookup_case_insensitively(app: TestApp) {
    let c = app
        .create_customer(
            json!({"email": "  Jane.Doe@Example.com ", "name": "Jane Doe", "jobTitle": "CTO"}),
        )
        .await;
    assert_eq!(
        c["email"], "Jane.Doe@Example.com",
        "trimmed, case kept for display"
    );
    assert_eq!(c["jobTitle"], "CTO");
    let id = c["id"].as_str().unwrap();

    let (status, got) = call(app.get(&format!("/api/customers/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(got["name"], "Jane Doe");

    for q in [
        "jane.doe@example.com",
        "JANE.DOE@EXAMPLE.COM",
        "%20jane.doe@example.com%20",
    ] {
        let (status, page) = call(app.get(&format!("/api/customers?email={q}"))).await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(page["data"].as_array().unwrap().len(), 1, "{q}");
        assert_eq!(page["data"][0]["id"], id);
    }
    let (_, none) = call(app.get("/api/customers?email=other@example.com")).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);

    // The same address in another case is the same customer: 409, nothing added.
    let (status, body) =
        call(app.post("/api/customers", json!({"email": "JANE.DOE@example.COM"}))).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "conflict");
    assert_eq!(
        app.store.count_customers(app.workspace_id).await.unwrap(),
        1
    );
}

async fn invalid_email_is_422_with_reason(app: TestApp) {
    for bad in [
        "",
        "not-an-email",
        "a@b",
        "two@@example.com",
        "sp ace@example.com",
    ] {
        let (status, body) = call(app.post("/api/customers", json!({"email": bad}))).await;
        assert_eq!(status, 422, "{bad:?}");
        assert_eq!(error_code(&body), "validation_failed");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("email"),
            "{body}"
        );
    }
    let (status, _) = call(app.get("/api/customers?email=nope")).await;
    assert_eq!(status, 422);
    assert_eq!(
        app.store.count_customers(app.workspace_id).await.unwrap(),
        0
    );
}

async fn malformed_input_gets_clear_errors_and_changes_nothing(app: TestApp) {
    let c = app
        .create_customer(json!({"email": "keep@example.com", "name": "Keep Me"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let url = format!("{}/api/customers/{id}", app.url);

    // Malformed JSON → 400.
    let r = app
        .http
        .patch(&url)
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = parts(r).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "bad_request");

    // Wrong content type → 415.
    let r = app
        .http
        .patch(&url)
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // Unknown field / wrong type → 422.
    for body in [json!({"nmae": "typo"}), json!({"name": 42})] {
        let (status, err) = call(app.patch(&format!("/api/customers/{id}"), body)).await;
        assert_eq!(status, 422);
        assert_eq!(error_code(&err), "validation_failed");
    }

    // Invalid email in an update → 422.
    let (status, _) = call(app.patch(
        &format!("/api/customers/{id}"),
        json!({"email": "broken@", "name": "X"}),
    ))
    .await;
    assert_eq!(status, 422);

    // Oversized body → 413.
    let huge = "x".repeat(keva_server::MAX_BODY_BYTES + 10);
    let r = crate::harness::send_refused_body(
        app.patch(&format!("/api/customers/{id}"), json!({"notes": huge})),
    )
    .await;
    assert_eq!(r.status(), 413);

    let (_, after) = call(app.get(&format!("/api/customers/{id}"))).await;
    assert_eq!(after["name"], "Keep Me");
    assert_eq!(after["email"], "keep@example.com");
    assert_eq!(after["notes"], serde_json::Value::Null);
}

async fn update_changes_and_clears_fields(app: TestApp) {
    let c = app
        .create_customer(json!({"email": "a@example.com", "name": "A", "phone": "+1 555"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let (status, u) = call(app.patch(
        &format!("/api/customers/{id}"),
        json!({"company": "Acme", "phone": "", "email": "New@Example.com"}),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(u["company"], "Acme");
    assert_eq!(u["phone"], serde_json::Value::Null);
    assert_eq!(u["email"], "New@Example.com");
    assert_eq!(u["name"], "A");

    // Taking another customer's email is a conflict and changes nothing.
    app.create_customer(json!({"email": "b@example.com"})).await;
    let (status, _) = call(app.patch(
        &format!("/api/customers/{id}"),
        json!({"email": "B@example.com", "name": "Z"}),
    ))
    .await;
    assert_eq!(status, 409);
    let (_, still) = call(app.get(&format!("/api/customers/{id}"))).await;
    assert_eq!(still["name"], "A");
    assert_eq!(still["email"], "New@Example.com");
}

async fn other_workspaces_ids_are_404(app: TestApp) {
    let mine = app
        .create_customer(json!({"email": "mine@example.com"}))
        .await;
    let id = mine["id"].as_str().unwrap();
    let other_key = app.key_for("globex").await;

    let r = app
        .get_as(&other_key, &format!("/api/customers/{id}"))
        .await;
    let (status, body) = parts(r).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "not_found");

    let r = app
        .http
        .patch(format!("{}/api/customers/{id}", app.url))
        .bearer_auth(&other_key)
        .json(&json!({"name": "hijacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Email lookups do not cross workspaces either, and the same email may exist in both.
    let r = app
        .get_as(&other_key, "/api/customers?email=mine@example.com")
        .await;
    let (_, page) = parts(r).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    let r = app
        .http
        .post(format!("{}/api/customers", app.url))
        .bearer_auth(&other_key)
        .json(&json!({"email": "mine@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let (_, unchanged) = call(app.get(&format!("/api/customers/{id}"))).await;
    assert_eq!(unchanged["name"], serde_json::Value::Null);

    // A malformed or unknown id is 404 as well.
    let (status, _) = call(app.get("/api/customers/not-a-uuid")).await;
    assert_eq!(status, 404);
    let (status, _) = call(app.get(&format!("/api/customers/{}", uuid::Uuid::new_v4()))).await;
    assert_eq!(status, 404);
}

async fn list_pages_through_everyone(app: TestApp) {
    for i in 0..7 {
        app.create_customer(json!({"email": format!("p{i}@example.com")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/customers?limit=3&after={a}"),
            None => "/api/customers?limit=3".to_string(),
        };
        let (status, page) = call(app.get(&path)).await;
        assert_eq!(status, 200);
        for c in page["data"].as_array().unwrap() {
            seen.push(c["email"].as_str().unwrap().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    seen.sort();
    let expected: Vec<String> = (0..7).map(|i| format!("p{i}@example.com")).collect();
    assert_eq!(seen, expected);
    let (status, _) = call(app.get("/api/customers?limit=0")).await;
    assert_eq!(status, 422);
}

keva_store::backend_tests!(with = crate::harness::plain;
    create_get_and_lookup_case_insensitively,
    invalid_email_is_422_with_reason,
    malformed_input_gets_clear_errors_and_changes_nothing,
    update_changes_and_clears_fields,
    other_workspaces_ids_are_404,
    list_pages_through_everyone
);
