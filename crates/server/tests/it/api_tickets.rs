//! Tickets: an unknown sender becomes a customer, a known one (any case) is reused.

use serde_json::json;

use crate::harness::{call, error_code, TestApp};

async fn ticket_from_unknown_email_creates_the_customer(app: TestApp) {
    let (status, t) = call(app.post(
        "/api/tickets",
        json!({"email": " New.Person@Example.com", "name": "New Person", "subject": "Help"}),
    ))
    .await;
    assert_eq!(status, 201);
    assert_eq!(t["customerCreated"], true);
    assert_eq!(t["customer"]["email"], "New.Person@Example.com");
    assert_eq!(t["customer"]["name"], "New Person");
    assert_eq!(t["ticket"]["customerId"], t["customer"]["id"]);

    // Same sender, other case: same customer, no new one.
    let (status, t2) = call(app.post(
        "/api/tickets",
        json!({"email": "new.person@example.com", "subject": "Again"}),
    ))
    .await;
    assert_eq!(status, 201);
    assert_eq!(t2["customerCreated"], false);
    assert_eq!(t2["customer"]["id"], t["customer"]["id"]);
    assert_eq!(
        app.store.count_customers(app.workspace_id).await.unwrap(),
        1
    );
}

async fn ticket_validation(app: TestApp) {
    for body in [
        json!({"email": "bad", "subject": "x"}),
        json!({"email": "ok@example.com", "subject": "  "}),
        json!({"email": "ok@example.com"}),
    ] {
        let (status, err) = call(app.post("/api/tickets", body.clone())).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error_code(&err), "validation_failed");
    }
    assert_eq!(
        app.store.count_customers(app.workspace_id).await.unwrap(),
        0
    );
}

async fn concurrent_tickets_from_one_new_sender_make_one_customer(app: TestApp) {
    let mut tasks = Vec::new();
    for i in 0..10 {
        let req = app.post(
            "/api/tickets",
            json!({"email": "burst@example.com", "subject": format!("ticket {i}")}),
        );
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    assert_eq!(
        app.store.count_customers(app.workspace_id).await.unwrap(),
        1
    );
}

keva_store::backend_tests!(with = crate::harness::plain;
    ticket_from_unknown_email_creates_the_customer,
    ticket_validation,
    concurrent_tickets_from_one_new_sender_make_one_customer
);
