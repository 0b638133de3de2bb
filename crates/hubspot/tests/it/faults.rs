//! 2,000 mixed calls with 10 % 429 + 5 % 5xx + 5 % 409 (+ 2 % dropped connections)
//! injected: every call ends correct and no contact is created twice.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use keva_hubspot::models::{Filter, FilterGroup, ObjectUpsert, SearchRequest};
use keva_hubspot::{HubspotClient, ReadOptions};
use serde_json::json;

use crate::helpers::{contact, props, read_emails_by_email, unlimited};

const CONCURRENCY: usize = 16;

fn email(i: usize) -> String {
    format!("fault-{i}@example.com")
}

async fn run<F, Fut>(n: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    stream::iter(0..n)
        .map(f)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_calls_survive_injected_faults_without_duplicates() {
    let env = unlimited().await;
    let client: Arc<HubspotClient> = Arc::new(env.client());
    env.faults(json!({
        "rate429": 0.10, "rate409": 0.05, "rate500": 0.02, "rate502": 0.015, "rate503": 0.015,
        "dropRate": 0.02
    }))
    .await;

    // 600 creates.
    let ids = Arc::new(parking_lot::Mutex::new(vec![String::new(); 600]));
    run(600, |i| {
        let client = Arc::clone(&client);
        let ids = Arc::clone(&ids);
        async move {
            let c = client
                .contacts()
                .create(&contact(&email(i), "Created"))
                .await
                .unwrap_or_else(|e| panic!("create {i}: {e:?}"));
            assert_eq!(c.property("email"), Some(email(i).as_str()));
            ids.lock()[i] = c.id;
        }
    })
    .await;
    let ids: Vec<String> = ids.lock().clone();

    // 600 updates.
    run(600, |i| {
        let client = Arc::clone(&client);
        let id = ids[i].clone();
        async move {
            let u = client
                .contacts()
                .update(&id, &props(&[("firstname", &format!("Updated-{i}"))]))
                .await
                .unwrap_or_else(|e| panic!("update {i}: {e:?}"));
            assert_eq!(
                u.property("firstname"),
                Some(format!("Updated-{i}").as_str())
            );
        }
    })
    .await;

    // 400 reads by email see the update.
    run(400, |i| {
        let client = Arc::clone(&client);
        let id = ids[i].clone();
        async move {
            let c = client
                .contacts()
                .get_by_email(&email(i), &ReadOptions::properties(["firstname"]))
                .await
                .unwrap_or_else(|e| panic!("get {i}: {e:?}"));
            assert_eq!(c.id, id);
            assert_eq!(
                c.property("firstname"),
                Some(format!("Updated-{i}").as_str())
            );
        }
    })
    .await;

    // 200 batch upserts of 5: 4 existing contacts and 1 new one each.
    run(200, |k| {
        let client = Arc::clone(&client);
        async move {
            let mut inputs: Vec<ObjectUpsert> = (0..4)
                .map(|j| {
                    ObjectUpsert::by_email(
                        email((k * 3 + j) % 600),
                        props(&[("lastname", "Upserted")]),
                    )
                })
                .collect();
            inputs.push(ObjectUpsert::by_email(
                email(1000 + k),
                props(&[("lastname", "New")]),
            ));
            let out = client
                .contacts()
                .batch_upsert(&inputs)
                .await
                .unwrap_or_else(|e| panic!("upsert {k}: {e:?}"));
            assert!(out.is_complete(), "upsert {k}: {out:?}");
            assert_eq!(out.results.len(), 5);
        }
    })
    .await;

    // 200 searches by email.
    run(200, |i| {
        let client = Arc::clone(&client);
        let id = ids[i].clone();
        async move {
            let r = client
                .contacts()
                .search(&SearchRequest {
                    filter_groups: vec![FilterGroup {
                        filters: vec![Filter::eq("email", email(i))],
                    }],
                    ..SearchRequest::default()
                })
                .await
                .unwrap_or_else(|e| panic!("search {i}: {e:?}"));
            assert_eq!(r.total, 1);
            assert_eq!(r.results[0].id, id);
        }
    })
    .await;

    let stats = env.stats().await;
    env.faults(json!({})).await;
    assert!(
        stats["faultsInjected"].as_u64().unwrap() > 300,
        "faults were really injected: {stats}"
    );

    // Exactly one contact per email: 600 created + 200 upserted as new.
    assert_eq!(env.sandbox.contact_count(), 800);
    let all_emails: Vec<String> = (0..600).map(email).chain((1000..1200).map(email)).collect();
    let read = client
        .contacts()
        .batch_read(&all_emails, &read_emails_by_email())
        .await
        .unwrap();
    assert_eq!(read.results.len(), 800);
    let distinct: HashSet<_> = read.results.iter().map(|o| o.id.clone()).collect();
    assert_eq!(distinct.len(), 800);
}
