//! Retention: deleting rows that only grow (webhook requests and events, sync
//! history, finished jobs, spent OAuth states) once they are older than what an
//! operator keeps. The server's pruner calls `prune` in small batches, so a large
//! backlog never holds a long lock or a long transaction.
//!
//! Every one of these tables has a UUID v7 primary key taken when the row was
//! written, and v7 ids sort by time (as PostgreSQL's `uuid` and as SQLite's
//! hyphenated text alike). "Older than the cutoff" is therefore `id < the smallest
//! v7 id of the cutoff's millisecond`, which the primary-key index answers: no
//! time index is needed on any of them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::StoreError;

/// What a retention rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retained {
    /// The webhook request log (valid and refused deliveries).
    WebhookRequests,
    /// Ingested webhook events. They deduplicate HubSpot's retries, which stop
    /// within days, so keeping them weeks longer changes nothing.
    WebhookEvents,
    /// Sync history.
    History,
    /// Jobs that succeeded, failed or died, counted from when they finished.
    FinishedJobs,
    /// OAuth authorize states, counted from when they expired.
    OAuthStates,
}

impl Retained {
    pub const ALL: [Retained; 5] = [
        Retained::WebhookRequests,
        Retained::WebhookEvents,
        Retained::History,
        Retained::FinishedJobs,
        Retained::OAuthStates,
    ];

    /// The metric label and the name in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Retained::WebhookRequests => "webhook_requests",
            Retained::WebhookEvents => "webhook_events",
            Retained::History => "history",
            Retained::FinishedJobs => "finished_jobs",
            Retained::OAuthStates => "oauth_states",
        }
    }

    /// One batch of deletes, and what it is bound to.
    pub(crate) fn statement(self) -> (&'static str, Bounds) {
        match self {
            Retained::WebhookRequests => (
                "DELETE FROM webhook_requests WHERE id IN \
                 (SELECT id FROM webhook_requests WHERE id < $1 LIMIT $2)",
                Bounds::Id,
            ),
            Retained::WebhookEvents => (
                "DELETE FROM webhook_events WHERE id IN \
                 (SELECT id FROM webhook_events WHERE id < $1 LIMIT $2)",
                Bounds::Id,
            ),
            Retained::History => (
                "DELETE FROM sync_history WHERE id IN \
                 (SELECT id FROM sync_history WHERE id < $1 LIMIT $2)",
                Bounds::Id,
            ),
            // A job created before the cutoff may have finished after it (long
            // retries): both must be old.
            Retained::FinishedJobs => (
                "DELETE FROM sync_jobs WHERE id IN \
                 (SELECT id FROM sync_jobs WHERE id < $1 \
                  AND state IN ('succeeded', 'failed', 'dead') AND finished_at < $2 LIMIT $3)",
                Bounds::IdAndTime,
            ),
            // Keyed by the state's hash, not a v7 id; the table is small.
            Retained::OAuthStates => (
                "DELETE FROM oauth_states WHERE state_hash IN \
                 (SELECT state_hash FROM oauth_states WHERE expires_at < $1 LIMIT $2)",
                Bounds::Time,
            ),
        }
    }
}

/// Which cutoff a statement compares with, before its `LIMIT`.
#[derive(Clone, Copy)]
pub(crate) enum Bounds {
    Id,
    Time,
    IdAndTime,
}

/// The smallest UUID v7 of `cutoff`'s millisecond: every id written before it is smaller.
pub(crate) fn boundary_id(cutoff: DateTime<Utc>) -> Uuid {
    let ms = u64::try_from(cutoff.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    // Version 7 and the RFC 4122 variant, everything random left at zero.
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn prune(
                &self,
                what: $crate::Retained,
                cutoff: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> Result<u64, $crate::StoreError> {
                use $crate::retention::Bounds;
                let (sql, bounds) = what.statement();
                let id = $crate::codec::DbId($crate::retention::boundary_id(cutoff));
                let time = $crate::codec::DbTime::from(cutoff);
                let query = sqlx::query::<$db>(sqlx::AssertSqlSafe(sql));
                let query = match bounds {
                    Bounds::Id => query.bind(id),
                    Bounds::Time => query.bind(time),
                    Bounds::IdAndTime => query.bind(id).bind(time),
                };
                let done = query.bind(i64::from(limit)).execute(self.writer()).await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use queries;

impl crate::Store {
    /// Deletes up to `limit` rows of `what` older than `cutoff`; returns how many.
    /// Call again while it returns `limit`.
    #[tracing::instrument(skip(self))]
    pub async fn prune(
        &self,
        what: Retained,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        dispatch!(self.prune(what, cutoff, limit))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn boundary_sorts_between_ids_of_neighbouring_milliseconds() {
        let t = Utc.timestamp_millis_opt(1_780_000_000_123).single();
        let Some(t) = t else { panic!("a valid time") };
        let at = |ms: i64| {
            let ts = uuid::Timestamp::from_unix(
                uuid::NoContext,
                u64::try_from(ms / 1000).unwrap_or(0),
                u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
            );
            Uuid::new_v7(ts)
        };
        let b = boundary_id(t);
        assert_eq!(b.get_version_num(), 7);
        assert!(at(t.timestamp_millis() - 1) < b);
        assert!(at(t.timestamp_millis()) >= b);
        // As text, as SQLite compares them.
        assert!(at(t.timestamp_millis() - 1).hyphenated().to_string() < b.hyphenated().to_string());
        assert!(at(t.timestamp_millis() + 1).hyphenated().to_string() > b.hyphenated().to_string());
    }
}
