//! Deal pipelines: the default "Sales Pipeline" with its stage probabilities, and a
//! created pipeline whose stages deals can then use.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::env;

#[tokio::test]
async fn the_default_pipeline_has_hubspots_stages_and_probabilities() {
    let e = env().await;
    let (s, v) = e.get("/crm/v3/pipelines/deals").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = &v["results"][0];
    assert_eq!(
        (&p["id"], &p["label"]),
        (&json!("default"), &json!("Sales Pipeline"))
    );
    let stages = p["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 7);
    let contract = stages
        .iter()
        .find(|s| s["id"] == "contractsent")
        .expect("contractsent");
    assert_eq!(contract["label"], "Contract Sent");
    assert_eq!(contract["metadata"]["probability"], "0.9");
    assert_eq!(contract["metadata"]["isClosed"], "false");
    let won = stages
        .iter()
        .find(|s| s["id"] == "closedwon")
        .expect("closedwon");
    assert_eq!(
        (
            &won["metadata"]["probability"],
            &won["metadata"]["isClosed"]
        ),
        (&json!("1.0"), &json!("true"))
    );

    let (s, _) = e.get("/crm/v3/pipelines/tickets").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_created_pipelines_stages_are_valid_deal_stages() {
    let e = env().await;
    let (s, p) = e
        .post(
            "/crm/v3/pipelines/deals",
            json!({"label": "Renewals", "stages": [
                {"label": "Negotiation", "metadata": {"probability": "0.5"}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pipeline = p["id"].as_str().expect("id");
    let stage = p["stages"][0]["id"].as_str().expect("stage id");
    assert!(
        pipeline.parse::<u64>().is_ok() && stage.parse::<u64>().is_ok(),
        "{p}"
    );
    let (s, d) = e
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"dealname": "D", "pipeline": pipeline, "dealstage": stage}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (_, v) = e.get("/crm/v3/pipelines/deals").await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(2));

    // A deal stage without a probability is refused, as HubSpot does.
    let (s, _) = e
        .post(
            "/crm/v3/pipelines/deals",
            json!({"label": "Bad", "stages": [{"label": "X"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
