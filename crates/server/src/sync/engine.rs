//! The job handlers: `sync_customer` (a Keva-side trigger), `inbound_contact` (a
//! HubSpot-side change reported by the webhook intake) and `contact_merge`.
//!
//! Each loads both sides fresh — never trusting an event's payload, so reordered or
//! stale events cannot overwrite newer data — calls `keva_core::reconcile`, writes
//! HubSpot first (only the changed properties), then commits Keva's side, the
//! link's new bases and the history row in one store transaction. A crash between
//! the two leaves Keva unchanged and the rerun recomputes the same plan; the
//! write's intended bases, recorded on the link before it (`fenced::write_intent`),
//! let the rerun recognise the landed write as its own rather than as a newer
//! HubSpot change or a first link (either would undo Keva edits made meanwhile).
//!
//! Keys: an unlinked customer is looked up in HubSpot by email (`idProperty=email`,
//! never the lagging search index) and created only if absent; a 409 "Existing ID"
//! links to that contact. Once linked, the contact id identifies the contact, so an
//! email change moves with the link.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use keva_core::{missing_properties, Customer, Email, ObjectKind, Plan, SyncStatus, Trigger};
use keva_core::{Bases, KevaField};
use keva_hubspot::models::{ObjectCreate, SimplePublicObject};
use keva_hubspot::{HubspotClient, ReadOptions};
use keva_store::{Connector, CrmLink, HistoryResult, NewHistory, StoreError};
use uuid::Uuid;

use crate::state::AppState;
use crate::sync::merge::{
    self, create_properties, duplicate_contact_warning, stamped, MergeRules, Quiet,
};
use crate::sync::{fenced, properties, SyncError, SyncOutcome, SyncWarning};

/// The status reason of a customer whose contact was deleted in HubSpot.
pub const CONTACT_DELETED: &str = "contact deleted in HubSpot";

/// Attempts at a write that HubSpot refuses for a property it lacks (each retry
/// leaves the refused properties out).
const PROPERTY_RETRIES: usize = 3;

/// What every handler of one job needs.
struct Ctx<'a> {
    state: &'a AppState,
    connector: &'a Connector,
    client: HubspotClient,
    rules: MergeRules,
}

impl<'a> Ctx<'a> {
    async fn load(
        state: &'a AppState,
        connector: &'a Connector,
        trigger: Trigger,
    ) -> Result<Ctx<'a>, SyncError> {
        let client = state.clients.client(state, connector).await?;
        let mappings = properties::mappings(state, connector, ObjectKind::Contact).await?;
        let props = properties::cached(state, connector, &client, ObjectKind::Contact).await?;
        let rules = MergeRules {
            workspace_id: connector.workspace_id,
            connector_id: connector.id,
            missing: missing_properties(&mappings, &props),
            mappings,
            policy: connector.conflict_policy,
            trigger,
            quiet: Quiet::LinkShowsIt,
        };
        Ok(Ctx {
            state,
            connector,
            client,
            rules,
        })
    }

    fn workspace(&self) -> Uuid {
        self.connector.workspace_id
    }

    /// When each of the customer's fields last changed in Keva.
    async fn field_times(
        &self,
        customer_id: Uuid,
    ) -> Result<BTreeMap<KevaField, DateTime<Utc>>, SyncError> {
        Ok(self
            .state
            .store
            .customer_field_times(self.workspace(), customer_id)
            .await?)
    }

    fn read_options(&self) -> ReadOptions {
        let props = self.rules.read_properties();
        ReadOptions {
            properties: props.clone(),
            properties_with_history: props,
            ..ReadOptions::default()
        }
    }

    /// The contact by id; `None` if HubSpot no longer has it (deleted/archived).
    async fn fetch(&self, id: &str) -> Result<Option<SimplePublicObject>, SyncError> {
        match self.client.contacts().get(id, &self.read_options()).await {
            Ok(c) if c.archived => Ok(None),
            Ok(c) => Ok(Some(c)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A property HubSpot refused: skip its mapping from now on (and refresh the
    /// cached property list so later jobs know).
    async fn learn_missing(&mut self, names: Vec<String>) -> bool {
        let before = self.rules.missing.len();
        self.rules.missing.extend(names);
        if let Err(e) = properties::refresh(
            self.state,
            self.connector,
            &self.client,
            ObjectKind::Contact,
        )
        .await
        {
            tracing::warn!(error = %e, "could not refresh the property cache");
        }
        self.rules.missing.len() > before
    }

    /// The bases to reconcile `contact` against (`merge::bases_for` with the
    /// link's write intents).
    async fn bases_for(
        &self,
        customer_id: Uuid,
        bases: Option<Bases>,
        contact: &SimplePublicObject,
    ) -> Result<Option<Bases>, SyncError> {
        let intents = self
            .state
            .store
            .write_intents(self.connector.id, customer_id)
            .await?;
        Ok(merge::bases_for(&intents, bases, contact))
    }

    async fn history(
        &self,
        customer_id: Option<Uuid>,
        hubspot_id: Option<String>,
        outcome: &SyncOutcome,
        result: HistoryResult,
    ) -> Result<(), SyncError> {
        fenced::history(
            self.state,
            &NewHistory {
                workspace_id: self.workspace(),
                connector_id: self.connector.id,
                customer_id,
                hubspot_id,
                trigger: self.rules.trigger,
                direction: outcome.direction,
                fields: outcome.history_fields(),
                result,
                error: outcome.reason.clone(),
                correlation_id: None,
            },
        )
        .await?;
        Ok(())
    }
}

/// Syncs one customer with its contact (a Keva-side trigger or Sync Now).
pub async fn sync_customer(
    state: &AppState,
    connector: &Connector,
    customer_id: Uuid,
    trigger: Trigger,
) -> Result<SyncOutcome, SyncError> {
    let Some(customer) = state
        .store
        .get_customer(connector.workspace_id, customer_id)
        .await?
    else {
        return Err(SyncError::permanent("customer not found"));
    };
    let link = state.store.get_link(connector.id, customer_id).await?;
    let mut ctx = Ctx::load(state, connector, trigger).await?;

    if let Some(id) = link.as_ref().and_then(|l| l.hubspot_id.clone()) {
        let Some(contact) = ctx.fetch(&id).await? else {
            return unlink_deleted(&ctx, customer.id, &id).await;
        };
        let mut warnings = Vec::new();
        let bases = link.as_ref().and_then(|l| l.bases.clone());
        let bases = ctx.bases_for(customer.id, bases, &contact).await?;
        if contact.id != id {
            // Read through a merged id: HubSpot answered with the survivor.
            fenced::relink(state, connector.id, &id, &contact.id).await?;
            warnings.push(merged_warning(&id, &contact.id));
        }
        return apply(
            &mut ctx,
            &customer,
            bases,
            link.as_ref(),
            &contact,
            warnings,
        )
        .await;
    }

    // Deleted in HubSpot: automatic triggers leave it unlinked; Sync Now relinks.
    if link
        .as_ref()
        .is_some_and(|l| l.status == SyncStatus::NotLinked && trigger != Trigger::Manual)
    {
        let reason = link
            .as_ref()
            .and_then(|l| l.status_reason.clone())
            .unwrap_or_else(|| "not linked".into());
        return Ok(SyncOutcome::skipped(None, SyncStatus::NotLinked, &reason));
    }

    let email = match Email::parse(&customer.email) {
        Ok(e) => e,
        Err(e) => return invalid_email(&ctx, &customer, link.as_ref(), &e.to_string()).await,
    };
    let found = ctx
        .client
        .contacts()
        .find_by_email(&email.normalized(), &ctx.read_options())
        .await?;
    if let Some(contact) = found {
        ensure_not_linked_elsewhere(&ctx, &contact.id, customer.id).await?;
        let bases = ctx.bases_for(customer.id, None, &contact).await?;
        return apply(
            &mut ctx,
            &customer,
            bases,
            link.as_ref(),
            &contact,
            Vec::new(),
        )
        .await;
    }
    create(&mut ctx, &customer, link.as_ref()).await
}

/// A HubSpot-side change to contact `object_id` (webhook intake).
pub async fn inbound_contact(
    state: &AppState,
    connector: &Connector,
    object_id: &str,
    trigger: Trigger,
) -> Result<SyncOutcome, SyncError> {
    let mut ctx = Ctx::load(state, connector, trigger).await?;
    let store = &state.store;
    let Some(contact) = ctx.fetch(object_id).await? else {
        return match store.link_by_hubspot_id(connector.id, object_id).await? {
            Some(link) => unlink_deleted(&ctx, link.customer_id, object_id).await,
            None => {
                ignored(
                    &ctx,
                    object_id,
                    "contact not found in HubSpot and not linked",
                )
                .await
            }
        };
    };
    let mut warnings = Vec::new();
    if contact.id != object_id
        && fenced::relink(state, connector.id, object_id, &contact.id)
            .await?
            .is_some()
    {
        warnings.push(merged_warning(object_id, &contact.id));
    }
    if let Some(link) = store.link_by_hubspot_id(connector.id, &contact.id).await? {
        let Some(customer) = store
            .get_customer(connector.workspace_id, link.customer_id)
            .await?
        else {
            return Err(SyncError::permanent("linked customer not found"));
        };
        let bases = ctx
            .bases_for(customer.id, link.bases.clone(), &contact)
            .await?;
        return apply(&mut ctx, &customer, bases, Some(&link), &contact, warnings).await;
    }

    // Not linked: the customer with the same email (a restore or a first contact),
    // else import it if the connector says so.
    let Some(email) = contact.property("email").and_then(|e| Email::parse(e).ok()) else {
        return ignored(&ctx, &contact.id, "the contact has no valid email").await;
    };
    let customer = match store
        .customer_by_email(connector.workspace_id, email.as_str())
        .await?
    {
        Some(c) => c,
        None if connector.import_contacts => import_customer(&ctx, &contact, &email).await?,
        None => {
            return ignored(
                &ctx,
                &contact.id,
                "ignored: no Keva customer has this email and importing contacts is off",
            )
            .await
        }
    };
    let link = store.get_link(connector.id, customer.id).await?;
    if let Some(other) = link.as_ref().and_then(|l| l.hubspot_id.as_deref()) {
        let reason = format!("ignored: the customer with this email is linked to contact {other}");
        return ignored(&ctx, &contact.id, &reason).await;
    }
    warnings.push(SyncWarning::new(
        "relinked",
        format!("linked to HubSpot contact {} by email", contact.id),
    ));
    let bases = ctx.bases_for(customer.id, None, &contact).await?;
    apply(
        &mut ctx,
        &customer,
        bases,
        link.as_ref(),
        &contact,
        warnings,
    )
    .await
}

/// Contacts merged in HubSpot: every link to a merged id moves to the contact
/// HubSpot now answers for that id (the survivor; never just the event's word),
/// which is then reconciled.
pub async fn contact_merge(
    state: &AppState,
    connector: &Connector,
    primary: &str,
    merged: &[String],
    trigger: Trigger,
) -> Result<SyncOutcome, SyncError> {
    // The event's ids are only a hint: each merged id is re-read, and its link moves
    // only to where HubSpot says that contact now lives (reading a merged-away id
    // answers with the survivor), as `inbound_contact` does.
    let ctx = Ctx::load(state, connector, trigger).await?;
    for id in merged.iter().filter(|id| id.as_str() != primary) {
        if let Some(contact) = ctx.fetch(id).await? {
            if contact.id != *id {
                fenced::relink(state, connector.id, id, &contact.id).await?;
            }
        }
    }
    inbound_contact(state, connector, primary, trigger).await
}

/// A new Keva customer for a HubSpot contact (import_contacts on).
async fn import_customer(
    ctx: &Ctx<'_>,
    contact: &SimplePublicObject,
    email: &Email,
) -> Result<Customer, SyncError> {
    let new = merge::new_customer(&ctx.rules, contact, email);
    match ctx.state.store.insert_customer(ctx.workspace(), new).await {
        Ok(c) => Ok(c),
        // Created meanwhile (a ticket from the same address): use that one.
        Err(StoreError::Conflict(_)) => ctx
            .state
            .store
            .customer_by_email(ctx.workspace(), email.as_str())
            .await?
            .ok_or_else(|| SyncError::permanent("customer vanished while importing")),
        Err(e) => Err(e.into()),
    }
}

async fn ensure_not_linked_elsewhere(
    ctx: &Ctx<'_>,
    contact_id: &str,
    customer_id: Uuid,
) -> Result<(), SyncError> {
    match ctx
        .state
        .store
        .link_by_hubspot_id(ctx.connector.id, contact_id)
        .await?
    {
        Some(other) if other.customer_id != customer_id => Err(SyncError::permanent(format!(
            "HubSpot contact {contact_id} has this email but is linked to another customer"
        ))),
        _ => Ok(()),
    }
}

fn merged_warning(from: &str, to: &str) -> SyncWarning {
    SyncWarning::new(
        "contact_merged",
        format!("HubSpot contact {from} was merged into {to}; the link moved to {to}"),
    )
}

/// No contact yet: create it with the customer's mapped values.
async fn create(
    ctx: &mut Ctx<'_>,
    customer: &Customer,
    prev: Option<&CrmLink>,
) -> Result<SyncOutcome, SyncError> {
    let times = ctx.field_times(customer.id).await?;
    for _ in 0..PROPERTY_RETRIES {
        let plan = ctx.rules.reconcile(customer, &times, BTreeMap::new(), None);
        fenced::write_intent(ctx.state, ctx.connector.id, customer.id, &plan.new_bases).await?;
        match ctx
            .client
            .contacts()
            .create(&ObjectCreate::new(create_properties(&plan)))
            .await
        {
            Ok(contact) => {
                return commit(ctx, customer, &contact.id, plan, prev, Vec::new(), true).await;
            }
            Err(e) if e.is_conflict() && e.existing_id().is_some() => {
                let id = e.existing_id().unwrap_or_default();
                let Some(contact) = ctx.fetch(&id).await? else {
                    return Err(SyncError::Retryable {
                        message: format!(
                            "HubSpot reported contact {id} as existing but it cannot be read"
                        ),
                        retry_after: None,
                        correlation_id: e.correlation_id().map(str::to_string),
                    });
                };
                ensure_not_linked_elsewhere(ctx, &contact.id, customer.id).await?;
                let warning = duplicate_contact_warning(&id);
                let bases = ctx.bases_for(customer.id, None, &contact).await?;
                return apply(ctx, customer, bases, prev, &contact, vec![warning]).await;
            }
            Err(e) if e.is_property_missing() => {
                if !ctx.learn_missing(e.missing_properties()).await {
                    return Err(e.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(SyncError::permanent(
        "HubSpot kept refusing mapped properties that do not exist",
    ))
}

/// Reconciles a customer with a contact read from HubSpot, writes HubSpot, commits.
async fn apply(
    ctx: &mut Ctx<'_>,
    customer: &Customer,
    bases: Option<Bases>,
    prev: Option<&CrmLink>,
    contact: &SimplePublicObject,
    warnings: Vec<SyncWarning>,
) -> Result<SyncOutcome, SyncError> {
    let times = ctx.field_times(customer.id).await?;
    let hubspot = stamped(contact, &ctx.rules.read_properties());
    for _ in 0..PROPERTY_RETRIES {
        let plan = ctx
            .rules
            .reconcile(customer, &times, hubspot.clone(), bases.clone());
        if plan.to_hubspot.is_empty() {
            return commit(ctx, customer, &contact.id, plan, prev, warnings, false).await;
        }
        fenced::write_intent(ctx.state, ctx.connector.id, customer.id, &plan.new_bases).await?;
        match ctx
            .client
            .contacts()
            .update(&contact.id, &plan.to_hubspot)
            .await
        {
            Ok(_) => return commit(ctx, customer, &contact.id, plan, prev, warnings, false).await,
            Err(e) if e.is_property_missing() => {
                if !ctx.learn_missing(e.missing_properties()).await {
                    return Err(e.into());
                }
            }
            Err(e) if e.is_conflict() && e.existing_id().is_some() => {
                return Err(SyncError::Permanent {
                    message: format!(
                        "the new email belongs to another HubSpot contact ({}): merge the two \
                         contacts in HubSpot or change the email",
                        e.existing_id().unwrap_or_default()
                    ),
                    correlation_id: e.correlation_id().map(str::to_string),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(SyncError::permanent(
        "HubSpot kept refusing mapped properties that do not exist",
    ))
}

/// Commits Keva's side of an applied plan with the new bases and the history row.
async fn commit(
    ctx: &Ctx<'_>,
    customer: &Customer,
    contact_id: &str,
    plan: Plan,
    prev: Option<&CrmLink>,
    warnings: Vec<SyncWarning>,
    created: bool,
) -> Result<SyncOutcome, SyncError> {
    let merged = merge::sync_commit(
        &ctx.rules,
        customer.id,
        contact_id,
        &plan,
        prev,
        warnings,
        created,
    );
    // Nothing changed anywhere (e.g. the webhook echo of our own write): no
    // write at all, so an echo can never cause another one.
    let Some(commit) = merged.commit else {
        return Ok(merged.outcome);
    };
    if fenced::commit(ctx.state, &commit).await?.is_none() {
        return Err(SyncError::permanent("customer was deleted during the sync"));
    }
    if let Err(e) = ctx.state.store.touch_connector_sync(ctx.connector.id).await {
        tracing::warn!(error = %e, "could not record the connector's last sync");
    }
    Ok(merged.outcome)
}

/// The linked contact is gone from HubSpot: unlink, keep the customer.
async fn unlink_deleted(
    ctx: &Ctx<'_>,
    customer_id: Uuid,
    hubspot_id: &str,
) -> Result<SyncOutcome, SyncError> {
    fenced::unlink(
        ctx.state,
        ctx.connector.id,
        hubspot_id,
        SyncStatus::NotLinked,
        Some(CONTACT_DELETED),
    )
    .await?;
    let outcome = SyncOutcome::skipped(None, SyncStatus::NotLinked, CONTACT_DELETED);
    ctx.history(
        Some(customer_id),
        Some(hubspot_id.to_string()),
        &outcome,
        HistoryResult::Skipped,
    )
    .await?;
    Ok(outcome)
}

/// A contact change nobody in Keva is linked to: recorded, nothing written.
async fn ignored(ctx: &Ctx<'_>, hubspot_id: &str, reason: &str) -> Result<SyncOutcome, SyncError> {
    let outcome = SyncOutcome::skipped(Some(hubspot_id.to_string()), SyncStatus::NotLinked, reason);
    ctx.history(
        None,
        Some(hubspot_id.to_string()),
        &outcome,
        HistoryResult::Skipped,
    )
    .await?;
    Ok(outcome)
}

/// An invalid email never reaches HubSpot: the customer's status says why.
async fn invalid_email(
    ctx: &Ctx<'_>,
    customer: &Customer,
    prev: Option<&CrmLink>,
    why: &str,
) -> Result<SyncOutcome, SyncError> {
    let reason = format!("invalid email, not sent to HubSpot: {why}");
    let commit = merge::failure_commit(&ctx.rules, customer.id, prev, None, &reason, None);
    if fenced::commit(ctx.state, &commit).await?.is_none() {
        return Err(SyncError::permanent("customer was deleted during the sync"));
    }
    Ok(SyncOutcome::skipped(
        commit.link.hubspot_id,
        SyncStatus::Failed,
        &reason,
    ))
}
