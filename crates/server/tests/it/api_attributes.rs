//! Custom attribute definitions over HTTP: create with the 422s, list, get,
//! options added but never removed, no retyping (409 with the reason), retirement,
//! workspace isolation.

use serde_json::{json, Value};

use crate::harness::{error_code, parts, TestApp};

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    parts(req.send().await.unwrap()).await
}

async fn attribute_crud_and_rules(app: TestApp) {
    let plan = app
        .expect(
            app.post(
                "/api/customer-attributes",
                json!({"key": "plan", "label": " Plan ", "type": "enum",
                    "options": ["free", "pro"], "description": "Billing plan"}),
            ),
            201,
            "create plan",
        )
        .await;
    assert_eq!(plan["key"], "plan");
    assert_eq!(plan["label"], "Plan");
    assert_eq!(plan["type"], "enum");
    assert_eq!(plan["options"], json!(["free", "pro"]));
    assert_eq!(plan["retired"], false);
    app.expect(
        app.post(
            "/api/customer-attributes",
            json!({"key": "signupDate", "label": "Signup date", "type": "date"}),
        ),
        201,
        "create signupDate",
    )
    .await;

    // Bad definitions: 422 naming what is wrong; nothing created.
    for (body, needle) in [
        (
            json!({"key": "Plan2", "label": "x", "type": "string"}),
            "camelCase",
        ),
        (
            json!({"key": "my_key", "label": "x", "type": "string"}),
            "camelCase",
        ),
        (
            json!({"key": "jobTitle", "label": "x", "type": "string"}),
            "built-in",
        ),
        (
            json!({"key": "email", "label": "x", "type": "string"}),
            "built-in",
        ),
        (
            json!({"key": "size", "label": "x", "type": "integer"}),
            "type",
        ),
        (
            json!({"key": "tier", "label": "x", "type": "enum"}),
            "option",
        ),
        (
            json!({"key": "tier", "label": "x", "type": "enum", "options": ["a", "a"]}),
            "twice",
        ),
        (
            json!({"key": "age", "label": "x", "type": "number", "options": ["1"]}),
            "options",
        ),
        (
            json!({"key": "age", "label": "  ", "type": "number"}),
            "label",
        ),
    ] {
        let (s, v) = send(app.post("/api/customer-attributes", body.clone())).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(error_code(&v), "validation_failed", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let (s, v) = send(app.post(
        "/api/customer-attributes",
        json!({"key": "plan", "label": "Again", "type": "string"}),
    ))
    .await;
    assert_eq!(s, 409, "{v}");

    let list = app
        .expect(app.get("/api/customer-attributes"), 200, "list")
        .await;
    let keys: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["plan", "signupDate"]);

    // Options can be added, not removed; the type never changes.
    let got = app
        .expect(
            app.patch(
                "/api/customer-attributes/plan",
                json!({"options": ["free", "pro", "enterprise"], "label": "Plan tier",
                    "type": "enum"}),
            ),
            200,
            "add option",
        )
        .await;
    assert_eq!(got["options"], json!(["free", "pro", "enterprise"]));
    assert_eq!(got["label"], "Plan tier");
    let (s, v) = send(app.patch(
        "/api/customer-attributes/plan",
        json!({"options": ["free"]}),
    ))
    .await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("\"pro\""));
    let (s, v) = send(app.patch(
        "/api/customer-attributes/plan",
        json!({"type": "multi_enum"}),
    ))
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("never changes"));
    let got = app
        .expect(app.get("/api/customer-attributes/plan"), 200, "get")
        .await;
    assert_eq!(got["type"], "enum");
    assert_eq!(got["options"], json!(["free", "pro", "enterprise"]));
    assert_eq!(got["description"], "Billing plan");
    let (s, _) = send(app.get("/api/customer-attributes/nope")).await;
    assert_eq!(s, 404);

    // Retirement: hidden from the list, kept, unchangeable, key not reusable.
    let retired = app
        .expect(
            app.delete("/api/customer-attributes/signupDate"),
            200,
            "retire",
        )
        .await;
    assert_eq!(retired["retired"], true);
    let again = app
        .expect(
            app.delete("/api/customer-attributes/signupDate"),
            200,
            "retire again",
        )
        .await;
    assert_eq!(again["retiredAt"], retired["retiredAt"]);
    let list = app
        .expect(app.get("/api/customer-attributes"), 200, "list")
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    let all = app
        .expect(
            app.get("/api/customer-attributes?includeRetired=true"),
            200,
            "list all",
        )
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
    let (s, _) = send(app.patch(
        "/api/customer-attributes/signupDate",
        json!({"label": "New"}),
    ))
    .await;
    assert_eq!(s, 409);
    let (s, _) = send(app.post(
        "/api/customer-attributes",
        json!({"key": "signupDate", "label": "Signup", "type": "datetime"}),
    ))
    .await;
    assert_eq!(s, 409, "a retired key is never reused with another type");
    let (s, _) = send(app.delete("/api/customer-attributes/nope")).await;
    assert_eq!(s, 404);
}

async fn attributes_are_per_workspace(app: TestApp) {
    app.expect(
        app.post(
            "/api/customer-attributes",
            json!({"key": "mrr", "label": "MRR", "type": "number"}),
        ),
        201,
        "create",
    )
    .await;
    let other = app.key_for("attributes-other").await;
    let r = app
        .http
        .get(format!("{}/api/customer-attributes/mrr", app.url))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.0, 404);
    let r = app
        .http
        .get(format!("{}/api/customer-attributes", app.url))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let (s, v) = parts(r).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"], json!([]));
    // The same key is free in another workspace.
    let r = app
        .http
        .post(format!("{}/api/customer-attributes", app.url))
        .bearer_auth(&other)
        .json(&json!({"key": "mrr", "label": "MRR", "type": "string"}))
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.0, 201);

    let spec = app
        .expect(app.get("/api/openapi.json"), 200, "openapi")
        .await;
    let item = &spec["paths"]["/api/customer-attributes/{key}"];
    assert!(item["patch"]["responses"]["409"].is_object(), "{item}");
    assert!(item["delete"]["responses"]["200"].is_object(), "{item}");
    assert!(spec["paths"]["/api/customer-attributes"]["post"]["responses"]["422"].is_object());
}

keva_store::backend_tests!(with = crate::harness::plain;
    attribute_crud_and_rules,
    attributes_are_per_workspace
);
