//! One chunk of a batch: up to 100 customers, a handful of HubSpot
//! calls, and the commits that go into the chunk's one store transaction.
//!
//! Calls per chunk on a clean run: one batch read by id (linked customers), one by
//! email (unlinked), one batch create, one batch update — each only if needed.
//! Contacts are read *without* `propertiesWithHistory` (which would halve the batch
//! size to 50 and double the reads); the per-property timestamps only decide real
//! conflicts, so the few contacts whose plan has one are read again with history
//! (`replan::needs_history`) and re-planned — the decisions equal the engine's.
//!
//! Nothing here touches the store's write side: the caller commits `ChunkWork` with
//! the checkpoint. HubSpot is written first, so a crash before the commit leaves
//! contacts created but unlinked; the rerun's read by email finds and links them.
//! Each write's intended bases are recorded on the links before it (as the
//! engine does), so the rerun reconciles a landed write against what it
//! established, not as a HubSpot change newer than Keva edits made meanwhile.

use std::collections::{HashMap, HashSet};

use keva_core::{Bases, Email, Plan, SyncStatus, Trigger};
use keva_hubspot::models::{ObjectCreate, ObjectUpdate, SimplePublicObject, StandardError};
use keva_hubspot::{BatchOutcome, BatchReadOptions, HubspotClient, HubspotError};
use keva_store::{BatchCounters, Connector, CrmLink, CustomerForSync, SyncCommit};
use uuid::Uuid;

use super::replan::{needs_history, Effect};
use crate::state::AppState;
use crate::sync::merge::{
    bases_for, create_properties, duplicate_contact_warning, failure_commit, sync_commit,
    MergeRules,
};
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
    /// The write intents left on the rows' links by writes whose commit a crash
    /// (or a refused commit) lost, by customer.
    intents: HashMap<Uuid, Vec<Bases>>,
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
        let intents = self
            .intents
            .get(&customer.id)
            .map_or(&[][..], Vec::as_slice);
        let bases = bases_for(intents, bases, contact);
        self.env.rules.plan(customer, times, Some(contact), bases)
    }

    /// Records, before HubSpot is written, what each write will establish
    /// (`Store::record_write_intents`): a rerun after a crash between the write
    /// and the chunk's commit recognises the landed write as its own.
    async fn record_intents(
        &self,
        writes: impl Iterator<Item = (usize, &Plan)>,
    ) -> Result<(), ChunkError> {
        let items: Vec<(Uuid, Bases)> = writes
            .map(|(row, plan)| (self.rows[row].0.id, plan.new_bases.clone()))
            .collect();
        self.env
            .state
            .store
            .record_write_intents(self.env.connector.id, &items)
            .await?;
        Ok(())
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

/// Processes one chunk of customers (id order) and returns what to commit: read
/// the contacts, plan each customer, create the missing contacts, update the
/// changed ones, and hand the rare linked contact HubSpot no longer has to the engine.
pub async fn process(
    env: &ChunkEnv<'_>,
    rows: &[CustomerForSync],
    before_create: Option<&super::CreateHook>,
) -> Result<ChunkWork, ChunkError> {
    let ids = rows.iter().map(|(customer, _, _)| customer.id);
    let intents = match (ids.clone().min(), ids.max()) {
        (Some(first), Some(last)) => {
            env.state
                .store
                .write_intents_in_range(env.connector.id, first, last)
                .await?
        }
        _ => HashMap::new(),
    };
    let mut c = Chunk {
        env,
        rows,
        work: ChunkWork::default(),
        props: env.rules.read_properties(),
        intents,
    };
    c.work.counters.processed = rows.len() as u64;

    let sorted = sort_rows(&mut c);
    let found = read_contacts(&c, sorted).await?;
    let mut pending = plan_found(&mut c, found.pending).await?;
    pending.extend(create_missing(&mut c, &found.creates, before_create).await?);
    update_and_commit(&mut c, pending).await?;
    for row in found.engine_rows {
        engine_sync(&mut c, row).await?;
    }
    Ok(c.work)
}

/// The chunk's customers by how their contact is found: (row, contact id) of the
/// linked, (row, normalized email) of the unlinked with a valid email.
struct Sorted {
    linked: Vec<(usize, String)>,
    unlinked: Vec<(usize, String)>,
}

/// Sorts the customers: linked, unlinked with a valid email, the rest (counted
/// or failed here).
fn sort_rows(c: &mut Chunk<'_, '_>) -> Sorted {
    let mut sorted = Sorted {
        linked: Vec::new(),
        unlinked: Vec::new(),
    };
    for (i, (customer, link, _)) in c.rows.iter().enumerate() {
        match link {
            Some(l) if l.hubspot_id.is_some() => {
                sorted
                    .linked
                    .push((i, l.hubspot_id.clone().unwrap_or_default()));
            }
            // Deleted in HubSpot: automatic triggers leave it unlinked (engine rule).
            Some(l) if l.status == SyncStatus::NotLinked => c.work.counters.unchanged += 1,
            _ => match Email::parse(&customer.email) {
                Ok(e) => sorted.unlinked.push((i, e.normalized())),
                Err(e) => {
                    let reason = format!("invalid email, not sent to HubSpot: {e}");
                    c.fail(i, None, &reason, None);
                }
            },
        }
    }
    sorted
}

/// What the reads found: customers with a contact (not planned yet), customers
/// whose contact must be created, linked customers whose contact is gone.
struct Found {
    pending: Vec<Pending>,
    creates: Vec<usize>,
    engine_rows: Vec<usize>,
}

fn pending_for(row: usize, contact: &SimplePublicObject, kind: Kind) -> Pending {
    Pending {
        row,
        contact: contact.clone(),
        kind,
        plan: Plan::default(),
        warnings: Vec::new(),
    }
}

/// The read step: one batch read by id (linked), one by email (unlinked).
async fn read_contacts(c: &Chunk<'_, '_>, sorted: Sorted) -> Result<Found, ChunkError> {
    let ids = sorted.linked.iter().map(|(_, id)| id.clone()).collect();
    let by_id: HashMap<String, SimplePublicObject> = c
        .read(ids, false, false)
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let emails = sorted.unlinked.iter().map(|(_, e)| e.clone()).collect();
    let by_email: HashMap<String, SimplePublicObject> = c
        .read(emails, true, false)
        .await?
        .into_iter()
        .filter_map(|o| o.property("email").map(lower).map(|e| (e, o)))
        .collect();
    let mut out = Found {
        pending: Vec::new(),
        creates: Vec::new(),
        engine_rows: Vec::new(),
    };
    for (row, id) in sorted.linked {
        match by_id.get(&id) {
            Some(contact) => out.pending.push(pending_for(row, contact, Kind::Existing)),
            // Deleted or merged: rare, and the engine knows how to unlink/relink.
            None => out.engine_rows.push(row),
        }
    }
    for (row, email) in sorted.unlinked {
        match by_email.get(&email) {
            Some(contact) => out
                .pending
                .push(pending_for(row, contact, Kind::FoundByEmail)),
            None => out.creates.push(row),
        }
    }
    Ok(out)
}

/// The plan step: drops contacts linked to another customer, then plans the rest.
async fn plan_found(
    c: &mut Chunk<'_, '_>,
    pending: Vec<Pending>,
) -> Result<Vec<Pending>, ChunkError> {
    let mut pending = drop_linked_elsewhere(c, pending).await?;
    plan_all(c, &mut pending).await?;
    Ok(pending)
}

/// The create step: batch-creates the missing contacts (per-item results,
/// `objectWriteTraceId` = customer id) and returns the customers whose contact
/// HubSpot said already exists, read and planned for the update step.
async fn create_missing(
    c: &mut Chunk<'_, '_>,
    creates: &[usize],
    before_create: Option<&super::CreateHook>,
) -> Result<Vec<Pending>, ChunkError> {
    if let Some(hook) = before_create {
        let emails = creates
            .iter()
            .map(|&r| c.rows[r].0.email.clone())
            .collect::<Vec<_>>();
        hook(emails).await;
    }
    let duplicates = create(c, creates).await?;
    if duplicates.is_empty() {
        return Ok(Vec::new());
    }
    let ids = duplicates.iter().map(|(_, id)| id.clone()).collect();
    let existing = c.read(ids, false, false).await?;
    let mut dup_pending = Vec::new();
    for (row, id) in duplicates {
        match existing.iter().find(|o| o.id == id) {
            Some(contact) => dup_pending.push(Pending {
                warnings: vec![duplicate_contact_warning(&id)],
                ..pending_for(row, contact, Kind::Duplicate)
            }),
            None => c.fail(
                row,
                None,
                &format!("HubSpot reported contact {id} as existing but it cannot be read"),
                None,
            ),
        }
    }
    plan_found(c, dup_pending).await
}

/// The update step: writes the changed properties, then commits every customer
/// whose contact reached HubSpot (or fails the ones HubSpot refused).
async fn update_and_commit(c: &mut Chunk<'_, '_>, pending: Vec<Pending>) -> Result<(), ChunkError> {
    let refused = update(c, &pending).await?;
    for p in pending {
        match refused.get(&p.row) {
            Some((reason, corr)) => c.fail(p.row, Some(&p.contact.id), reason, corr.clone()),
            None => commit_applied(c, p),
        }
    }
    Ok(())
}

/// Counts an applied plan and queues its commit.
fn commit_applied(c: &mut Chunk<'_, '_>, p: Pending) {
    let effect = Effect::of(&p.plan);
    let k = &mut c.work.counters;
    // `linked` and `unchanged` are exclusive; a first link may also write.
    if effect.to_crm {
        k.updated_to_crm += 1;
    }
    if effect.from_crm {
        k.updated_from_crm += 1;
    }
    match p.kind {
        Kind::FoundByEmail | Kind::Duplicate => k.linked += 1,
        Kind::Existing if !effect.to_crm && !effect.from_crm => k.unchanged += 1,
        Kind::Existing => {}
    }
    if effect.conflict {
        k.conflicts += 1;
    }
    let customer_id = c.rows[p.row].0.id;
    let applied = sync_commit(
        c.env.rules,
        customer_id,
        &p.contact.id,
        &p.plan,
        c.link(p.row),
        p.warnings,
        false,
    );
    c.work.commits.extend(applied.commit);
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

/// The create calls' inputs and how an answer finds its customer again.
#[derive(Default)]
struct Creates {
    inputs: Vec<ObjectCreate>,
    plans: HashMap<usize, Plan>,
    row_of_trace: HashMap<String, usize>,
    row_of_email: HashMap<String, usize>,
}

/// Plans each customer without a contact (a first link) and builds its create.
fn creates_for(c: &Chunk<'_, '_>, rows: &[usize]) -> Creates {
    let mut out = Creates::default();
    for &row in rows {
        let (customer, _, times) = &c.rows[row];
        let plan = c.env.rules.plan(customer, times, None, None);
        let props = create_properties(&plan);
        let trace = customer.id.to_string();
        out.row_of_trace.insert(trace.clone(), row);
        if let Some(e) = props.get("email") {
            out.row_of_email.insert(lower(e), row);
        }
        out.inputs.push(ObjectCreate {
            object_write_trace_id: Some(trace),
            ..ObjectCreate::new(props)
        });
        out.plans.insert(row, plan);
    }
    out
}

/// Batch-creates the contacts of `rows`; returns the customers HubSpot answered
/// with a 409 "Existing ID" (linked by the caller).
async fn create(c: &mut Chunk<'_, '_>, rows: &[usize]) -> Result<Vec<(usize, String)>, ChunkError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut creates = creates_for(c, rows);
    c.record_intents(creates.plans.iter().map(|(row, plan)| (*row, plan)))
        .await?;
    let out = c
        .env
        .client
        .contacts()
        .batch_create(&creates.inputs)
        .await?;
    whole(&out)?;
    let mut answered = HashSet::new();
    let duplicates = refused_creates(c, &out.errors, &creates.row_of_trace, &mut answered);
    for contact in out.results {
        let Some(row) = contact
            .property("email")
            .map(lower)
            .and_then(|e| creates.row_of_email.get(&e))
            .copied()
        else {
            continue;
        };
        if !answered.insert(row) {
            continue;
        }
        if let Some(plan) = creates.plans.remove(&row) {
            commit_created(c, row, &contact.id, &plan);
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

/// The per-item errors of a batch create: a 409 "Existing ID" is returned for
/// linking, anything else fails its customer. Every customer named is `answered`.
fn refused_creates(
    c: &mut Chunk<'_, '_>,
    errors: &[StandardError],
    row_of_trace: &HashMap<String, usize>,
    answered: &mut HashSet<usize>,
) -> Vec<(usize, String)> {
    let mut duplicates = Vec::new();
    for e in errors {
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
        let reason = format!("HubSpot refused the contact: {}", e.message);
        c.fail(row, None, &reason, None);
    }
    duplicates
}

/// Counts a created contact and queues the commit that links it.
fn commit_created(c: &mut Chunk<'_, '_>, row: usize, contact_id: &str, plan: &Plan) {
    c.work.counters.created += 1;
    let id = c.rows[row].0.id;
    let applied = sync_commit(
        c.env.rules,
        id,
        contact_id,
        plan,
        c.link(row),
        Vec::new(),
        true,
    );
    c.work.commits.extend(applied.commit);
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
    c.record_intents(writes.iter().map(|p| (p.row, &p.plan)))
        .await?;
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
    update_one_by_one(c, &writes, &mut refused).await?;
    Ok(refused)
}

/// A refused batch update again, one contact at a time, so one bad item fails
/// only its customer (recorded in `refused`).
async fn update_one_by_one(
    c: &mut Chunk<'_, '_>,
    writes: &[&Pending],
    refused: &mut HashMap<usize, (String, Option<String>)>,
) -> Result<(), ChunkError> {
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
    Ok(())
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
