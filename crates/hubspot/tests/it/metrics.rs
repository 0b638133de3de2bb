//! The client's metrics (through the `metrics` facade): requests by endpoint and
//! outcome, retries, 429s, and limiter waits, recorded by a local test recorder.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use keva_hubspot::ReadOptions;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use parking_lot::Mutex;
use serde_json::json;

use crate::helpers::{contact, unlimited};

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().push(value);
    }
}

#[derive(Default)]
struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Samples>>>,
}

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl TestRecorder {
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        let key = format!("{name}{{{}}}", labels.join(","));
        self.counters
            .lock()
            .get(&key)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn sum(&self, name: &str, label: (&str, &str)) -> u64 {
        let needle = format!("{}={}", label.0, label.1);
        self.counters
            .lock()
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && k.contains(&needle))
            .map(|(_, c)| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let c = Arc::clone(self.counters.lock().entry(render(key)).or_default());
        Counter::from_arc(c)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let h = Arc::clone(self.histograms.lock().entry(render(key)).or_default());
        Histogram::from_arc(h)
    }
}

#[test]
fn requests_retries_429s_and_limiter_waits_are_counted() {
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let env = unlimited().await;
            let client = env.client();
            let id = client
                .contacts()
                .create(&contact("metrics@example.com", "M"))
                .await
                .unwrap()
                .id;
            env.faults(json!({ "rate429": 0.4 })).await;
            for _ in 0..30 {
                client
                    .contacts()
                    .get(&id, &ReadOptions::default())
                    .await
                    .unwrap();
            }
            env.faults(json!({})).await;
            let stats = env.stats().await;
            let injected = stats["rateLimited"].as_u64().unwrap();
            assert!(injected > 0, "some 429s were injected: {stats}");

            let get = "GET /crm/v3/objects/{type}/{id}";
            assert_eq!(
                recorder.counter(
                    "hubspot_requests_total",
                    &[("endpoint", get), ("outcome", "2xx")]
                ),
                30
            );
            assert_eq!(
                recorder.counter(
                    "hubspot_requests_total",
                    &[("endpoint", get), ("outcome", "429")]
                ),
                injected
            );
            assert_eq!(
                recorder.counter("hubspot_retries_total", &[("endpoint", get)]),
                injected
            );
            assert_eq!(
                recorder.sum(
                    "hubspot_rate_limited_total",
                    ("policy", "TEN_SECONDLY_ROLLING")
                ),
                injected
            );
            let waits = recorder
                .histograms
                .lock()
                .get("hubspot_limiter_wait_seconds{limiter=general}")
                .map(|h| h.0.lock().len())
                .unwrap_or(0);
            assert_eq!(waits as u64, 31 + injected, "one wait sample per attempt");
        });
    });
}
