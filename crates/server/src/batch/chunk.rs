//! One chunk of a batch (DESIGN §6): up to 100 customers, a handful of HubSpot
//! calls, and the commits that go into the chunk's one store transaction.
//!
//! Calls per chunk on a clean run: one batch read by id (linked customers), one by
//! email (unlinked), one batch create, one batch update — each only if needed.
//! Contacts are read *without* `propertiesWithHistory` (which would halve the batch
//! size to 50 and double the reads); the per-property timestamps only decide real
//! conflicts, so the few contacts whose plan has one are read again with history
//! (`plan::needs_history`) and re-planned — the decisions equal the engine's.
//!
//! Nothing here touches the store's write side: the caller commits `ChunkWork` with
//! the checkpoint. HubSpot is written first, so a crash before the commit leaves
//! contacts created but unlinked; the rerun's read by email finds and links them.

use std::collections::{BTreeMap, HashMap};

use keva_core::{Email, Plan, SyncStatus, Trigger};
use keva_hubspot::models::{ObjectCreate, ObjectUpdate, SimplePublicObject, StandardError};
use keva_hubspot::{BatchOutcome, BatchReadOptions, HubspotClient, HubspotError};
use keva_store::{BatchCounters, Connector, CrmLink, CustomerForSync, SyncCommit};
use uuid::Uuid;

use super::plan::{needs_history, Effect};
use crate::state::AppState;
use crate::sync::merge::{failure_commit, sync_commit, MergeRules};
use crate::sync::{SyncError, SyncWarning};

/// Why a chunk could not be finished (nothing of it is committed).
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// HubSpot's daily limit is used up: pause the run until it resets.
    #[error("{0}")]
    DailyLimit(String),
    /// Worth retrying the whole chunk (5xx, timeouts, a store hiccup).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (the portal must be reconnected, …): the run fails.
    #[error("{0}")]
    Fatal(String),
    /// A test hook stopped the run as a kill -9 would (nothing committed).
    #[error("stopped by a test hook")]
    Crashed,
}

impl From<HubspotError> for ChunkError {
    fn from(e: HubspotError) -> Self {
        if e.is_daily_limit() {
            ChunkError::DailyLimit(format!(
                "HubSpot's daily API limit is used up ({e}); the batch resumes when it resets"
            ))
        } else if e.needs_reconnection() || e.is_unauthorized() || e.is_missing_scopes() {
            ChunkError::Fatal(e.to_string())
        } else {
            ChunkError::Transient(e.to_string())
        }
    }
}

impl From<keva_store::StoreError> for ChunkError {
    fn from(e: keva_store::StoreError) -> Self {
        ChunkError::Transient(format!("store: {e}"))
    }
}

impl From<SyncError> for ChunkError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::NeedsReconnection(r) => ChunkError::Fatal(r),
            SyncError::Permanent { message, .. } => ChunkError::Fatal(message),
            SyncError::Retryable { message, .. } => ChunkError::Transient(message),
        }
    }
}

/// What a processed chunk commits.
#[derive(Debug, Default)]
pub struct ChunkWork {
    pub commits: Vec<SyncCommit>,
    pub counters: BatchCounters,
    /// Properties HubSpot said it lacks: the run refreshes its property list.
    pub learned_missing: Vec<String>,
}

/// Everything a chunk needs besides its customers.
pub struct ChunkEnv<'a> {
    pub state: &'a AppState,
    pub connector: &'a Connector,
    /// The connector's client with `Priority::Bulk`.
    pub client: HubspotClient,
    pub rules: &'a MergeRules,
}

/// How a customer got its contact in this chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Existing,
    FoundByEmail,
    Duplicate,
}

/// A customer with a contact to reconcile against.
struct Pending {
    row: usize,
    contact: SimplePublicObject,
    kind: Kind,
    plan: Plan,
    warnings: Vec<SyncWarning>,
}

struct Chunk<'a, 'b> {
    env: &'b ChunkEnv<'a>,
    rows: &'b [CustomerForSync],
    work: ChunkWork,
    props: Vec<String>,
}

impl Chunk<'_, '_> {
    fn link(&self, row: usize) -> Option<&CrmLink> {
        self.rows[row].1.as_ref()
    }

    fn fail(&mut self, row: usize, contact: Option<&str>, reason: &str, corr: Option<String>) {
        let id = self.rows[row].0.id;
        let commit = failure_commit(self.env.rules, id, self.link(row), contact, reason, corr);
        self.work.commits.push(commit);
        self.work.counters.failed += 1;
    }

    fn read_opts(&self, by_email: bool, history: bool) -> BatchReadOptions {
        BatchReadOptions {
            properties: self.props.clone(),
            properties_with_history: if history {
                self.props.clone()
            } else {
                Vec::new()
            },
            id_property: by_email.then(|| "email".to_string()),
            archived: false,
        }
    }

    async fn read(
        &self,
        ids: Vec<String>,
        by_email: bool,
        history: bool,
    ) -> Result<Vec<SimplePublicObject>, ChunkError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .env
            .client
            .contacts()
            .batch_read(&ids, &self.read_opts(by_email, history))
            .await?;
        whole(&out)?;
        Ok(out.results.into_iter().filter(|c| !c.archived).collect())
    }

    fn plan(&self, row: usize, contact: &SimplePublicObject, first: bool) -> Plan {
        let (customer, link, times) = &self.rows[row];
        let bases = if first {
            None
        } else {
            link.as_ref().and_then(|l| l.bases.clone())
        };
        self.env.rules.plan(customer, times, Some(contact), bases)
    }
}

/// Chunk-level failures of a batch call become a chunk error (retry the chunk).
fn whole<T>(out: &BatchOutcome<T>) -> Result<(), ChunkError> {
    match out.failed_chunks.first() {
        Some(f) => Err(ChunkError::from(clone_err(&f.error))),
        None => Ok(()),
    }
}

/// `HubspotError` is not `Clone`; a failed chunk's error is rebuilt for the caller
/// (the kinds the runner tells apart are kept, the rest becomes a transport error).
fn clone_err(e: &HubspotError) -> HubspotError {
    match e {
        HubspotError::RateLimited {
            policy,
            retry_after,
            correlation_id,
            message,
        } => HubspotError::RateLimited {
            policy: policy.clone(),
            retry_after: *retry_after,
            correlation_id: correlation_id.clone(),
            message: message.clone(),
        },
        HubspotError::NeedsReconnection { reason } => HubspotError::NeedsReconnection {
            reason: reason.clone(),
        },
        HubspotError::Api(a) => HubspotError::Api(a.clone()),
        other => HubspotError::Transport {
            message: other.to_string(),
            connect: false,
        },
    }
}

/// A per-item error of a 207 answer as the client's error type, so the same
/// questions (existing id, missing property, invalid email) are answered once.
fn item_error(e: &StandardError) -> HubspotError {
    let status = if e.category == "CONFLICT" { 409 } else { 400 };
    let body = serde_json::to_vec(e).unwrap_or_default();
    HubspotError::from_response(status, &body, None, None)
}

fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Processes one chunk of customers (id order) and returns what to commit.
pub async fn process(
    env: &ChunkEnv<'_>,
    rows: &[CustomerForSync],
    before_create: Option<&super::CreateHook>,
) -> Result<ChunkWork, ChunkError> {
    let mut c = Chunk {
        env,
        rows,
        work: ChunkWork::default(),
        props: env.rules.read_properties(),
    };
    c.work.counters.processed = rows.len() as u64;

    // Sort the customers: linked, unlinked with a valid email, the rest.
    let mut linked: Vec<(usize, String)> = Vec::new();
    let mut unlinked: Vec<(usize, String)> = Vec::new();
    for (i, (customer, link, _)) in rows.iter().enumerate() {
        match link {
            Some(l) if l.hubspot_id.is_some() => {
                linked.push((i, l.hubspot_id.clone().unwrap_or_default()));
            }
            // Deleted in HubSpot: automatic triggers leave it unlinked (engine rule).
            Some(l) if l.status == SyncStatus::NotLinked => c.work.counters.unchanged += 1,
            _ => match Email::parse(&customer.email) {
                Ok(e) => unlinked.push((i, e.normalized())),
                Err(e) => {
                    let reason = format!("invalid email, not sent to HubSpot: {e}");
                    c.fail(i, None, &reason, None);
                }
            },
        }
    }

    // Reads: one by id, one by email.
    let by_id: HashMap<String, SimplePublicObject> = c
        .read(
            linked.iter().map(|(_, id)| id.clone()).collect(),
            false,
            false,
        )
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let by_email: HashMap<String, SimplePublicObject> = c
        .read(
            unlinked.iter().map(|(_, e)| e.clone()).collect(),
            true,
            false,
        )
        .await?
        .into_iter()
        .filter_map(|o| o.property("email").map(lower).map(|e| (e, o)))
        .collect();

    let mut pending: Vec<Pending> = Vec::new();
    let mut engine_rows: Vec<usize> = Vec::new();
    for (row, id) in linked {
        match by_id.get(&id) {
            Some(contact) => pending.push(Pending {
                row,
                contact: contact.clone(),
                kind: Kind::Existing,
                plan: Plan::default(),
                warnings: Vec::new(),
            }),
            // Deleted or merged: rare, and the engine knows how to unlink/relink.
            None => engine_rows.push(row),
        }
    }
    let mut creates: Vec<usize> = Vec::new();
    for (row, email) in unlinked {
        match by_email.get(&email) {
            Some(contact) => pending.push(Pending {
                row,
                contact: contact.clone(),
                kind: Kind::FoundByEmail,
                plan: Plan::default(),
                warnings: Vec::new(),
            }),
            None => creates.push(row),
        }
    }
    let mut pending = drop_linked_elsewhere(&mut c, pending).await?;
    plan_all(&mut c, &mut pending).await?;

    // Creates, with per-item results (objectWriteTraceId = customer id).
    if let Some(hook) = before_create {
        let emails = creates
            .iter()
            .map(|&r| rows[r].0.email.clone())
            .collect::<Vec<_>>();
        hook(emails).await;
    }
    let duplicates = create(&mut c, &creates).await?;
    if !duplicates.is_empty() {
        let found = c
            .read(
                duplicates.iter().map(|(_, id)| id.clone()).collect(),
                false,
                false,
            )
            .await?;
        let mut dup_pending = Vec::new();
        for (row, id) in duplicates {
            match found.iter().find(|o| o.id == id) {
                Some(contact) => dup_pending.push(Pending {
                    row,
                    contact: contact.clone(),
                    kind: Kind::Duplicate,
                    plan: Plan::default(),
                    warnings: vec![SyncWarning {
                        field: Some("email".into()),
                        code: "duplicate_contact".into(),
                        message: format!(
                            "Duplicate contact: HubSpot already has contact {id} with this \
                             email; linked to it instead of creating another"
                        ),
                    }],
                }),
                None => c.fail(
                    row,
                    None,
                    &format!("HubSpot reported contact {id} as existing but it cannot be read"),
                    None,
                ),
            }
        }
        let mut dup_pending = drop_linked_elsewhere(&mut c, dup_pending).await?;
        plan_all(&mut c, &mut dup_pending).await?;
        pending.extend(dup_pending);
    }

    // Updates, then the commits of everything that reached HubSpot.
    let refused = update(&mut c, &pending).await?;
    for p in pending {
        if let Some((reason, corr)) = refused.get(&p.row) {
            c.fail(p.row, Some(&p.contact.id), reason, corr.clone());
            continue;
        }
        let customer_id = rows[p.row].0.id;
        let effect = Effect::of(&p.plan);
        // `linked` and `unchanged` are exclusive; a first link may also write.
        if effect.to_crm {
            c.work.counters.updated_to_crm += 1;
        }
        if effect.from_crm {
            c.work.counters.updated_from_crm += 1;
        }
        match p.kind {
            Kind::FoundByEmail | Kind::Duplicate => c.work.counters.linked += 1,
            Kind::Existing if !effect.to_crm && !effect.from_crm => {
                c.work.counters.unchanged += 1;
            }
            Kind::Existing => {}
        }
        if effect.conflict {
            c.work.counters.conflicts += 1;
        }
        let prev = c.link(p.row);
        if let Some(commit) = sync_commit(
            env.rules,
            customer_id,
            &p.contact.id,
            &p.plan,
            prev,
            p.warnings,
            false,
        )
        .commit
        {
            c.work.commits.push(commit);
        }
    }

    for row in engine_rows {
        engine_sync(&mut c, row).await?;
    }
    Ok(c.work)
}

/// Contacts found by email (or by a 409) that another customer is linked to are
/// not taken over (engine rule): those customers fail with the reason.
async fn drop_linked_elsewhere(
    c: &mut Chunk<'_, '_>,
    pending: Vec<Pending>,
) -> Result<Vec<Pending>, ChunkError> {
    let ids: Vec<String> = pending
        .iter()
        .filter(|p| p.kind != Kind::Existing)
        .map(|p| p.contact.id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(pending);
    }
    let owners: HashMap<String, Uuid> = c
        .env
        .state
        .store
        .links_by_hubspot_ids(c.env.connector.id, &ids)
        .await?
        .into_iter()
        .filter_map(|l| l.hubspot_id.map(|h| (h, l.customer_id)))
        .collect();
    let mut kept = Vec::with_capacity(pending.len());
    for p in pending {
        let me = c.rows[p.row].0.id;
        match owners.get(&p.contact.id) {
            Some(other) if p.kind != Kind::Existing && *other != me => {
                let reason = format!(
                    "HubSpot contact {} has this email but is linked to another customer",
                    p.contact.id
                );
                c.fail(p.row, None, &reason, None);
            }
            _ => kept.push(p),
        }
    }
    Ok(kept)
}

/// Plans every pending customer; the few with a real conflict are re-read with
/// property history (≤ 50 per call) and planned again with HubSpot's timestamps.
async fn plan_all(c: &mut Chunk<'_, '_>, pending: &mut [Pending]) -> Result<(), ChunkError> {
    let mut again = Vec::new();
    for (i, p) in pending.iter_mut().enumerate() {
        p.plan = c.plan(p.row, &p.contact, p.kind != Kind::Existing);
        if needs_history(&p.plan) {
            again.push(i);
        }
    }
    if again.is_empty() {
        return Ok(());
    }
    let ids = again
        .iter()
        .map(|&i| pending[i].contact.id.clone())
        .collect();
    let fresh = c.read(ids, false, true).await?;
    for i in again {
        if let Some(contact) = fresh.iter().find(|o| o.id == pending[i].contact.id) {
            let first = pending[i].kind != Kind::Existing;
            pending[i].plan = c.plan(pending[i].row, contact, first);
            pending[i].contact = contact.clone();
        }
    }
    Ok(())
}

/// Batch-creates the contacts of `rows`; returns the customers HubSpot answered
/// with a 409 "Existing ID" (linked by the caller).
async fn create(c: &mut Chunk<'_, '_>, rows: &[usize]) -> Result<Vec<(usize, String)>, ChunkError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut plans: HashMap<usize, Plan> = HashMap::new();
    let mut inputs = Vec::with_capacity(rows.len());
    let mut row_of_trace: HashMap<String, usize> = HashMap::new();
    let mut row_of_email: HashMap<String, usize> = HashMap::new();
    for &row in rows {
        let (customer, _, times) = &c.rows[row];
        let plan = c.env.rules.plan(customer, times, None, None);
        let props: BTreeMap<String, String> = plan
            .to_hubspot
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let trace = customer.id.to_string();
        row_of_trace.insert(trace.clone(), row);
        if let Some(e) = props.get("email") {
            row_of_email.insert(lower(e), row);
        }
        inputs.push(ObjectCreate {
            object_write_trace_id: Some(trace),
            ..ObjectCreate::new(props)
        });
        plans.insert(row, plan);
    }
    let out = c.env.client.contacts().batch_create(&inputs).await?;
    whole(&out)?;
    let mut duplicates = Vec::new();
    let mut answered = std::collections::HashSet::new();
    for e in &out.errors {
        let Some(row) = e
            .context
            .get("objectWriteTraceId")
            .and_then(|t| t.first())
            .and_then(|t| row_of_trace.get(t))
            .copied()
        else {
            continue;
        };
        answered.insert(row);
        let err = item_error(e);
        if let Some(id) = err.existing_id() {
            duplicates.push((row, id));
            continue;
        }
        if err.is_property_missing() {
            c.work.learned_missing.extend(err.missing_properties());
        }
        c.fail(
            row,
            None,
            &format!("HubSpot refused the contact: {}", e.message),
            None,
        );
    }
    for contact in out.results {
        let Some(row) = contact
            .property("email")
            .map(lower)
            .and_then(|e| row_of_email.get(&e))
            .copied()
        else {
            continue;
        };
        if !answered.insert(row) {
            continue;
        }
        let Some(plan) = plans.remove(&row) else {
            continue;
        };
        c.work.counters.created += 1;
        let id = c.rows[row].0.id;
        if let Some(commit) = sync_commit(
            c.env.rules,
            id,
            &contact.id,
            &plan,
            c.link(row),
            Vec::new(),
            true,
        )
        .commit
        {
            c.work.commits.push(commit);
        }
    }
    // A created contact HubSpot neither returned nor refused cannot be linked now;
    // the next run's read by email will find it.
    for &row in rows {
        if !answered.contains(&row) {
            c.fail(
                row,
                None,
                "HubSpot did not confirm the contact's creation; the next sync links it",
                None,
            );
        }
    }
    Ok(duplicates)
}

/// Batch-updates the changed properties; returns the customers HubSpot refused,
/// with the reason. A refused batch (no per-item errors for updates) falls back
/// to one update per customer, so one bad item fails only its customer.
async fn update(
    c: &mut Chunk<'_, '_>,
    pending: &[Pending],
) -> Result<HashMap<usize, (String, Option<String>)>, ChunkError> {
    let mut refused = HashMap::new();
    let writes: Vec<&Pending> = pending
        .iter()
        .filter(|p| !p.plan.to_hubspot.is_empty())
        .collect();
    if writes.is_empty() {
        return Ok(refused);
    }
    let inputs: Vec<ObjectUpdate> = writes
        .iter()
        .map(|p| ObjectUpdate {
            id: p.contact.id.clone(),
            properties: p.plan.to_hubspot.clone(),
            id_property: None,
        })
        .collect();
    let out = c.env.client.contacts().batch_update(&inputs).await?;
    for e in &out.errors {
        for id in e.subject_ids() {
            if let Some(p) = writes.iter().find(|p| p.contact.id == id) {
                refused.insert(
                    p.row,
                    (format!("HubSpot refused the update: {}", e.message), None),
                );
            }
        }
    }
    let Some(failure) = out.failed_chunks.first() else {
        return Ok(refused);
    };
    if failure.error.is_retryable() || failure.error.is_ambiguous() {
        return Err(ChunkError::from(clone_err(&failure.error)));
    }
    for p in writes {
        match c
            .env
            .client
            .contacts()
            .update(&p.contact.id, &p.plan.to_hubspot)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_daily_limit() || e.is_retryable() || e.needs_reconnection() => {
                return Err(e.into())
            }
            Err(e) => {
                if e.is_property_missing() {
                    c.work.learned_missing.extend(e.missing_properties());
                }
                let reason = match e.existing_id() {
                    Some(other) => format!(
                        "the new email belongs to another HubSpot contact ({other}): merge the \
                         two contacts in HubSpot or change the email"
                    ),
                    None => format!("HubSpot refused the update: {e}"),
                };
                refused.insert(p.row, (reason, e.correlation_id().map(str::to_string)));
            }
        }
    }
    Ok(refused)
}

/// A linked contact missing from the batch read (deleted or merged in HubSpot):
/// handed to the engine, which unlinks or relinks it exactly as a live sync would.
async fn engine_sync(c: &mut Chunk<'_, '_>, row: usize) -> Result<(), ChunkError> {
    let id = c.rows[row].0.id;
    match crate::sync::sync_customer(c.env.state, c.env.connector, id, Trigger::Batch).await {
        Ok(outcome) => {
            let k = &mut c.work.counters;
            if outcome.created {
                k.created += 1;
            } else if outcome.status == SyncStatus::NotLinked {
                k.unchanged += 1;
            } else if outcome.fields_changed.is_empty() {
                k.linked += 1;
            } else {
                let to = outcome
                    .fields_changed
                    .iter()
                    .any(|f| f.direction == keva_core::SyncDirection::ToCrm);
                if to {
                    k.updated_to_crm += 1;
                } else {
                    k.updated_from_crm += 1;
                }
            }
            if outcome.status == SyncStatus::Conflict {
                k.conflicts += 1;
            }
            Ok(())
        }
        Err(SyncError::NeedsReconnection(r)) => Err(ChunkError::Fatal(r)),
        Err(e) => {
            let corr = e.correlation_id().map(str::to_string);
            c.fail(row, None, &e.to_string(), corr);
            Ok(())
        }
    }
}
