//! Batch endpoints (`/crm/v3/objects/{type}/batch/{read,create,update,upsert,archive}`):
//! inputs are cut into HubSpot-sized chunks (100; 50 when reading property history)
//! and the per-chunk answers — 200/201, 207 with per-item errors, or a failed chunk —
//! are merged into one `BatchOutcome`.
//!
//! Batch create of contacts that all have an email is retry-safe like a single create:
//! after an ambiguous failure, the chunk's emails are batch-read and only the contacts
//! still missing are sent again.

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::Call;
use crate::error::{HubspotError, Result};
use crate::models::{
    BatchInput, BatchReadBody, BatchResponse, ObjectCreate, ObjectId, ObjectType, ObjectUpdate,
    ObjectUpsert, SimplePublicObject, SimplePublicUpsertObject, StandardError,
};
use crate::objects::Objects;
use crate::retry::RetryPolicy;

/// HubSpot's cap on inputs per batch call.
pub const BATCH_MAX: usize = 100;
/// The cap when `propertiesWithHistory` is requested.
pub const BATCH_HISTORY_MAX: usize = 50;

/// Merged result of all chunks of a batch call.
#[derive(Debug)]
pub struct BatchOutcome<T> {
    pub results: Vec<T>,
    /// Per-item errors HubSpot reported in 207 answers.
    pub errors: Vec<StandardError>,
    /// Chunks that failed as a whole, with the ids (or emails) they held.
    pub failed_chunks: Vec<ChunkFailure>,
}

impl<T> Default for BatchOutcome<T> {
    fn default() -> Self {
        Self {
            results: Vec::new(),
            errors: Vec::new(),
            failed_chunks: Vec::new(),
        }
    }
}

impl<T> BatchOutcome<T> {
    /// True when nothing failed, neither items nor chunks.
    pub fn is_complete(&self) -> bool {
        self.errors.is_empty() && self.failed_chunks.is_empty()
    }
}

#[derive(Debug)]
pub struct ChunkFailure {
    pub ids: Vec<String>,
    pub error: HubspotError,
}

/// What to read in a batch read.
#[derive(Debug, Clone, Default)]
pub struct BatchReadOptions {
    pub properties: Vec<String>,
    pub properties_with_history: Vec<String>,
    /// Read by a unique property instead of the record id (e.g. `email`).
    pub id_property: Option<String>,
    pub archived: bool,
}

/// Errors that will fail every other chunk the same way: stop at once.
fn is_fatal(err: &HubspotError) -> bool {
    err.needs_reconnection()
        || err.is_daily_limit()
        || matches!(err.status(), Some(401 | 403))
        || matches!(err, HubspotError::InvalidRequest(_))
}

impl Objects<'_> {
    async fn run_chunks<I, T: DeserializeOwned>(
        &self,
        inputs: &[I],
        size: usize,
        policy: RetryPolicy,
        id_of: impl Fn(&I) -> String,
        make_call: impl Fn(&[I]) -> Result<Call>,
    ) -> Result<BatchOutcome<T>> {
        let mut out = BatchOutcome::default();
        for chunk in inputs.chunks(size.max(1)) {
            let call = make_call(chunk)?;
            match self.client.execute(&call, policy).await {
                Ok(raw) => {
                    if raw.status == 204 || raw.body.is_empty() {
                        continue;
                    }
                    let resp: BatchResponse<T> = raw.decode()?;
                    out.results.extend(resp.results);
                    out.errors.extend(resp.errors);
                }
                Err(e) if is_fatal(&e) => return Err(e),
                Err(error) => out.failed_chunks.push(ChunkFailure {
                    ids: chunk.iter().map(&id_of).collect(),
                    error,
                }),
            }
        }
        Ok(out)
    }

    /// `batch/read`, by id or by `id_property`.
    pub async fn batch_read(
        &self,
        ids: &[String],
        opts: &BatchReadOptions,
    ) -> Result<BatchOutcome<SimplePublicObject>> {
        let size = if opts.properties_with_history.is_empty() {
            BATCH_MAX
        } else {
            BATCH_HISTORY_MAX
        };
        self.run_chunks(ids, size, RetryPolicy::Idempotent, Clone::clone, |chunk| {
            let mut call = Call::new(
                Method::POST,
                "POST /crm/v3/objects/{type}/batch/read",
                self.path(&["batch", "read"]),
            );
            if opts.archived {
                call = call.query("archived", "true");
            }
            call.json(&BatchReadBody {
                inputs: chunk.iter().map(|id| ObjectId { id: id.clone() }).collect(),
                properties: opts.properties.clone(),
                properties_with_history: opts.properties_with_history.clone(),
                id_property: opts.id_property.clone(),
            })
        })
        .await
    }

    /// `batch/update`; a 409 that is not a duplicate is retried.
    pub async fn batch_update(
        &self,
        inputs: &[ObjectUpdate],
    ) -> Result<BatchOutcome<SimplePublicObject>> {
        self.batch_write(
            inputs,
            "update",
            "POST /crm/v3/objects/{type}/batch/update",
            |i| i.id.clone(),
        )
        .await
    }

    /// `batch/upsert` (idempotent by construction, so retried like an update).
    pub async fn batch_upsert(
        &self,
        inputs: &[ObjectUpsert],
    ) -> Result<BatchOutcome<SimplePublicUpsertObject>> {
        self.batch_write(
            inputs,
            "upsert",
            "POST /crm/v3/objects/{type}/batch/upsert",
            |i| i.id.clone(),
        )
        .await
    }

    /// `batch/{action}` with the inputs as they are, retried like an update.
    async fn batch_write<I: Serialize + Clone, T: DeserializeOwned>(
        &self,
        inputs: &[I],
        action: &'static str,
        endpoint: &'static str,
        id_of: impl Fn(&I) -> String,
    ) -> Result<BatchOutcome<T>> {
        self.run_chunks(inputs, BATCH_MAX, RetryPolicy::Update, id_of, |chunk| {
            Call::new(Method::POST, endpoint, self.path(&["batch", action])).json(&BatchInput {
                inputs: chunk.to_vec(),
            })
        })
        .await
    }

    /// `batch/archive` → 204 per chunk.
    pub async fn batch_archive(&self, ids: &[String]) -> Result<BatchOutcome<()>> {
        let out: BatchOutcome<serde_json::Value> = self
            .run_chunks(
                ids,
                BATCH_MAX,
                RetryPolicy::Idempotent,
                Clone::clone,
                |chunk| {
                    Call::new(
                        Method::POST,
                        "POST /crm/v3/objects/{type}/batch/archive",
                        self.path(&["batch", "archive"]),
                    )
                    .json(&BatchInput {
                        inputs: chunk.iter().map(|id| ObjectId { id: id.clone() }).collect(),
                    })
                },
            )
            .await?;
        Ok(BatchOutcome {
            results: Vec::new(),
            errors: out.errors,
            failed_chunks: out.failed_chunks,
        })
    }

    /// `batch/create`. Contacts that all carry an email are never duplicated by a
    /// retry; other creates are not repeated after an ambiguous failure.
    #[tracing::instrument(level = "debug", skip_all, fields(object_type = %self.object_type, inputs = inputs.len()))]
    pub async fn batch_create(
        &self,
        inputs: &[ObjectCreate],
    ) -> Result<BatchOutcome<SimplePublicObject>> {
        let by_email = self.object_type == ObjectType::Contacts
            && inputs
                .iter()
                .all(|i| i.email().is_some_and(|e| !e.trim().is_empty()));
        if !by_email {
            return self
                .run_chunks(
                    inputs,
                    BATCH_MAX,
                    RetryPolicy::Create,
                    |i| i.email().unwrap_or_default().to_string(),
                    |chunk| self.create_call(chunk),
                )
                .await;
        }
        let mut out = BatchOutcome::default();
        for chunk in inputs.chunks(BATCH_MAX) {
            self.create_contacts_chunk(chunk, &mut out).await?;
        }
        Ok(out)
    }

    fn create_call(&self, chunk: &[ObjectCreate]) -> Result<Call> {
        Call::new(
            Method::POST,
            "POST /crm/v3/objects/{type}/batch/create",
            self.path(&["batch", "create"]),
        )
        .json(&BatchInput {
            inputs: chunk.to_vec(),
        })
    }

    async fn create_contacts_chunk(
        &self,
        chunk: &[ObjectCreate],
        out: &mut BatchOutcome<SimplePublicObject>,
    ) -> Result<()> {
        let email_key = |i: &ObjectCreate| i.email().unwrap_or_default().trim().to_lowercase();
        let mut pending: Vec<ObjectCreate> = chunk.to_vec();
        let mut delays = self.client.retry_config().delays();
        let mut check_first = false;
        loop {
            if check_first {
                let emails: Vec<String> = pending.iter().map(email_key).collect();
                let found = self
                    .batch_read(
                        &emails,
                        &BatchReadOptions {
                            properties: vec!["email".into()],
                            id_property: Some("email".into()),
                            ..BatchReadOptions::default()
                        },
                    )
                    .await?;
                if let Some(failed) = found.failed_chunks.into_iter().next() {
                    return Err(failed.error);
                }
                let existing: HashSet<String> = found
                    .results
                    .iter()
                    .filter_map(|o| o.property("email"))
                    .map(|e| e.trim().to_lowercase())
                    .collect();
                out.results.extend(found.results);
                pending.retain(|i| !existing.contains(&email_key(i)));
                if pending.is_empty() {
                    return Ok(());
                }
            }
            let call = self.create_call(&pending)?;
            let err = match self.client.execute(&call, RetryPolicy::Create).await {
                Ok(raw) => {
                    let resp: BatchResponse<SimplePublicObject> = raw.decode()?;
                    out.results.extend(resp.results);
                    out.errors.extend(resp.errors);
                    return Ok(());
                }
                Err(e) => e,
            };
            if is_fatal(&err) {
                return Err(err);
            }
            let unclear = err.is_ambiguous() || (err.is_conflict() && err.existing_id().is_none());
            match (unclear, delays.next()) {
                (true, Some(wait)) => {
                    metrics::counter!("hubspot_retries_total", "endpoint" => "POST /crm/v3/objects/{type}/batch/create")
                        .increment(1);
                    tracing::warn!(
                        correlation_id = err.correlation_id().unwrap_or("-"),
                        status = err.status(),
                        error = %err,
                        "batch create failed ambiguously; reading by email before retrying"
                    );
                    tokio::time::sleep(wait).await;
                    check_first = true;
                }
                _ => {
                    out.failed_chunks.push(ChunkFailure {
                        ids: pending.iter().map(email_key).collect(),
                        error: err,
                    });
                    return Ok(());
                }
            }
        }
    }
}
