//! The webhook intake's counters, recorded through the `metrics` facade and
//! rendered with every other metric of the process by `GET /metrics`
//! (`crate::metrics`).

/// Requests, by `result` (`accepted`, `unauthorized`, `bad_request`, …).
pub const REQUESTS_TOTAL: &str = "webhook_requests_total";
/// Events in verified requests (duplicates and echoes included).
pub const EVENTS_RECEIVED_TOTAL: &str = "webhook_events_received_total";
/// Events in requests refused after parsing (bad signature, unknown portal).
pub const EVENTS_REJECTED_TOTAL: &str = "webhook_events_rejected_total";
/// Events already stored under their `(portalId, eventId)`: HubSpot's retries.
pub const EVENTS_DUPLICATE_TOTAL: &str = "webhook_events_duplicate_total";
/// Our own writes echoed back: stored, but no job.
pub const EVENTS_ECHO_TOTAL: &str = "webhook_events_echo_total";
/// Events newly stored (each is handed to the engine through a job unless an echo).
pub const EVENTS_STORED_TOTAL: &str = "webhook_events_stored_total";

/// Refused requests over their source's or portal's budget: answered 429 without a
/// log row (one sample row per source and window).
pub const REFUSALS_SUPPRESSED_TOTAL: &str = "webhook_refusals_suppressed_total";

/// Describes the counters to the installed recorder (called once, on install).
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "HubSpot webhook requests received, by result"
    );
    metrics::describe_counter!(EVENTS_RECEIVED_TOTAL, "events in verified webhook requests");
    metrics::describe_counter!(
        EVENTS_REJECTED_TOTAL,
        "events in webhook requests refused after parsing"
    );
    metrics::describe_counter!(EVENTS_DUPLICATE_TOTAL, "webhook events received again");
    metrics::describe_counter!(EVENTS_ECHO_TOTAL, "echoes of Keva's own HubSpot writes");
    metrics::describe_counter!(EVENTS_STORED_TOTAL, "webhook events newly stored");
    metrics::describe_counter!(
        REFUSALS_SUPPRESSED_TOTAL,
        "refused webhook requests over the rate limit, not logged one by one"
    );
}

/// Counts one request by how it ended.
pub fn request(result: &'static str) {
    metrics::counter!(REQUESTS_TOTAL, "result" => result).increment(1);
}

pub fn add(name: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(name).increment(n);
    }
}
