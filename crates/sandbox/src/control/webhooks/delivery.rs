//! The background delivery task: match, number, batch, sign, POST, retry.
//!
//! HubSpot's policy (`docs/hubspot.md`, webhooks): retry on connection failure,
//! timeout and every status except 400/401/403/404/405; a 429 honours
//! `Retry-After`; up to 10 retries with jittered exponential backoff,
//! `attemptNumber` counting from 0. Each attempt is signed afresh (v3 covers the timestamp, and the body changes with
//! `attemptNumber`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use keva_hubspot::signature::{sign_v1, sign_v3, v3_signing_uri};
use rand::seq::SliceRandom;
use rand::Rng;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::payload::WebhookEvent;
use super::Shared;
use crate::events::ChangeEvent;

/// The longest `Retry-After` we wait for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Receives events until the channel closes, lingering briefly so that events
/// arriving together leave together (up to `max_batch` per request and app).
pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<ChangeEvent>) {
    while let Some(first) = rx.recv().await {
        let mut pending: HashMap<u64, Vec<WebhookEvent>> = HashMap::new();
        add(&shared, &mut pending, &first);
        let linger = Duration::from_millis(shared.options.read().linger_ms);
        let deadline = Instant::now() + linger;
        let mut closed = false;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(ev)) => add(&shared, &mut pending, &ev),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        for (app_id, events) in pending {
            dispatch(&shared, app_id, events);
        }
        if closed {
            return;
        }
    }
}

/// Matches one change against every installed app's subscriptions. An app gets at
/// most one event per change: its property-specific subscription wins over an
/// all-properties one.
fn add(shared: &Arc<Shared>, pending: &mut HashMap<u64, Vec<WebhookEvent>>, ev: &ChangeEvent) {
    let subscription_type = ev.subscription_type();
    let apps = shared.tokens.apps_installed_on(ev.portal_id);
    let max_batch = shared.options.read().max_batch.max(1);
    for app in apps {
        if !shared.settings.read().contains_key(&app.app_id) {
            continue;
        }
        let sub_id = {
            let subs = shared.subscriptions.read();
            let mut matching: Vec<_> = subs
                .values()
                .filter(|s| s.app_id == app.app_id && s.matches(ev, &subscription_type))
                .collect();
            matching.sort_by_key(|s| (s.property_name.is_none(), s.id));
            matching.first().map(|s| s.id)
        };
        let Some(sub_id) = sub_id else { continue };
        let event_id = shared.next_event_id.fetch_add(1, Ordering::Relaxed);
        shared.counters.matched.fetch_add(1, Ordering::Relaxed);
        let batch = pending.entry(app.app_id).or_default();
        batch.push(WebhookEvent::new(ev, event_id, sub_id, app.app_id));
        if batch.len() >= max_batch {
            let full = std::mem::take(batch);
            dispatch(shared, app.app_id, full);
        }
    }
}

fn dispatch(shared: &Arc<Shared>, app_id: u64, mut events: Vec<WebhookEvent>) {
    if events.is_empty() {
        return;
    }
    let opts = *shared.options.read();
    // Reordering: shuffle within the batch, and hold the batch back a little so
    // that later batches can overtake it.
    let hold = if opts.reorder {
        let mut rng = rand::rng();
        events.shuffle(&mut rng);
        Duration::from_millis(rng.random_range(0..=opts.linger_ms.max(1) * 2))
    } else {
        Duration::ZERO
    };
    tokio::spawn(deliver(shared.clone(), app_id, events, hold));
}

/// What one HTTP attempt came to.
enum Outcome {
    Delivered,
    /// 400/401/403/404/405 or no target any more: give up at once.
    Rejected,
    Retry(Option<Duration>),
}

async fn deliver(shared: Arc<Shared>, app_id: u64, mut events: Vec<WebhookEvent>, hold: Duration) {
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let count = events.len() as u64;
    let mut attempt: u32 = 0;
    loop {
        for e in &mut events {
            e.attempt_number = attempt;
        }
        let Ok(body) = serde_json::to_vec(&events) else {
            shared.counters.failed.fetch_add(count, Ordering::Relaxed);
            return;
        };
        match send(&shared, app_id, &body).await {
            Outcome::Delivered => {
                shared
                    .counters
                    .delivered
                    .fetch_add(count, Ordering::Relaxed);
                shared
                    .counters
                    .batches_delivered
                    .fetch_add(1, Ordering::Relaxed);
                maybe_duplicate(&shared, app_id, &body).await;
                return;
            }
            Outcome::Rejected => break,
            Outcome::Retry(after) => {
                let opts = *shared.options.read();
                if attempt >= opts.max_retries {
                    break;
                }
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                // The receiver's Retry-After wins over our schedule, within reason.
                let delay = match after {
                    Some(d) => d.min(MAX_RETRY_AFTER),
                    None => backoff(&opts, attempt),
                };
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
    tracing::debug!(app_id, count, attempt, "webhook batch given up");
    shared.counters.failed.fetch_add(count, Ordering::Relaxed);
}

/// Sends a delivered batch a second time, unchanged, with `duplicate_rate`.
async fn maybe_duplicate(shared: &Arc<Shared>, app_id: u64, body: &[u8]) {
    let opts = *shared.options.read();
    let resend = opts.duplicate_rate > 0.0 && rand::rng().random::<f64>() < opts.duplicate_rate;
    if resend {
        shared.counters.duplicates.fetch_add(1, Ordering::Relaxed);
        let _ = send(shared, app_id, body).await;
    }
}

/// `base * 2^attempt`, scaled by a random factor in [0.5, 1.0].
fn backoff(opts: &super::DeliveryOptions, attempt: u32) -> Duration {
    let exp = opts
        .retry_base_ms
        .saturating_mul(1u64 << attempt.min(30))
        .min(opts.retry_max_ms);
    let jitter = rand::rng().random_range(0.5..=1.0);
    Duration::from_millis((exp as f64 * jitter) as u64)
}

fn semaphore(shared: &Shared, app_id: u64, size: u32) -> Arc<Semaphore> {
    let mut all = shared.concurrency.lock();
    let size = size.max(1);
    match all.get(&app_id) {
        Some((n, s)) if *n == size => s.clone(),
        _ => {
            let s = Arc::new(Semaphore::new(size as usize));
            all.insert(app_id, (size, s.clone()));
            s
        }
    }
}

/// One signed POST of `body` to the app's current target URL.
async fn send(shared: &Arc<Shared>, app_id: u64, body: &[u8]) -> Outcome {
    let Some(settings) = shared.settings.read().get(&app_id).cloned() else {
        return Outcome::Rejected;
    };
    let Some(app) = shared.tokens.app(app_id) else {
        return Outcome::Rejected;
    };
    let opts = *shared.options.read();
    let permits = semaphore(shared, app_id, settings.throttling.max_concurrent_requests);
    let Ok(_permit) = permits.acquire_owned().await else {
        return Outcome::Rejected;
    };
    let secret = &app.credentials.client_secret;
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let signing_uri = if opts.sign_raw_uri {
        settings.target_url.clone()
    } else {
        v3_signing_uri(&settings.target_url)
    };
    let v3 = sign_v3(secret, "POST", &signing_uri, body, &timestamp);
    let v1 = sign_v1(secret, body);
    shared.counters.attempts.fetch_add(1, Ordering::Relaxed);
    let result = shared
        .http
        .post(&settings.target_url)
        .timeout(Duration::from_millis(opts.timeout_ms.max(1)))
        .header("Content-Type", "application/json")
        .header("X-HubSpot-Signature-v3", v3)
        .header("X-HubSpot-Request-Timestamp", &timestamp)
        .header("X-HubSpot-Signature", v1)
        .header("X-HubSpot-Signature-Version", "v1")
        .header("X-HubSpot-Timeout-Millis", opts.timeout_ms.to_string())
        .body(body.to_vec())
        .send()
        .await;
    match result {
        Err(e) => {
            tracing::debug!(app_id, error = %e, "webhook delivery attempt failed");
            Outcome::Retry(None)
        }
        Ok(resp) => classify(resp.status().as_u16(), retry_after(&resp)),
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// HubSpot's rule for which answers are retried.
fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        400 | 401 | 403 | 404 | 405 => Outcome::Rejected,
        429 => Outcome::Retry(retry_after),
        _ => Outcome::Retry(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::webhooks::DeliveryOptions;

    #[test]
    fn only_the_five_client_errors_stop_retries() {
        for s in [400, 401, 403, 404, 405] {
            assert!(matches!(classify(s, None), Outcome::Rejected), "{s}");
        }
        for s in [408, 409, 410, 500, 502, 503, 301] {
            assert!(matches!(classify(s, None), Outcome::Retry(None)), "{s}");
        }
        assert!(matches!(classify(204, None), Outcome::Delivered));
        let after = Some(Duration::from_secs(3));
        assert!(
            matches!(classify(429, after), Outcome::Retry(Some(d)) if d == Duration::from_secs(3))
        );
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let opts = DeliveryOptions {
            retry_base_ms: 100,
            retry_max_ms: 1_000,
            ..Default::default()
        };
        for attempt in 0..3 {
            let full = 100u64 << attempt;
            let d = backoff(&opts, attempt).as_millis() as u64;
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
        assert!(backoff(&opts, 20).as_millis() as u64 <= 1_000);
    }
}
