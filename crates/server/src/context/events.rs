//! Company and deal webhooks, as `crm_context` jobs: what the intake enqueues for
//! an event and what the worker does with it. The event is only a hint (like the
//! contact events): the record is read again from HubSpot.
//!
//! - property change / restore: the stored record is updated (only if a context
//!   uses it; a company nobody's context names costs one read and is not stored);
//! - deletion (or a read that finds it gone): the record is dropped from storage
//!   and from every context;
//! - merge: every context naming a merged record is read again, so it follows the
//!   survivor;
//! - association change: the contexts of the contact named, and those naming the
//!   company or deal, are read again.

use keva_core::Trigger;
use keva_hubspot::webhook::WebhookEvent;
use keva_hubspot::{BatchReadOptions, ObjectType};
use keva_store::{Connector, CrmObject, CrmRecord, NewJob};
use serde_json::{json, Value};
use uuid::Uuid;

use super::refresh::{refresh_contexts, DEAL_PROPERTIES};
use crate::state::AppState;
use crate::sync::SyncError;

/// The job kind of a company or deal event.
pub const CRM_CONTEXT: &str = "crm_context";

/// The record type and action of a `company.*` / `deal.*` event we act on.
fn parse(subscription_type: &str) -> Option<(CrmObject, &str)> {
    let (object, action) = subscription_type.split_once('.')?;
    let object = match object {
        "company" => CrmObject::Company,
        "deal" => CrmObject::Deal,
        _ => return None,
    };
    matches!(
        action,
        "propertyChange" | "deletion" | "merge" | "restore" | "associationChange"
    )
    .then_some((object, action))
}

/// The job for a company or deal event, `None` for anything else. Keyed per record
/// and action (and other side, for association changes), so a burst of edits to
/// one company is one job, while a deletion never coalesces into an edit.
pub fn job_for(event: &WebhookEvent, workspace_id: Uuid, connector_id: Uuid) -> Option<NewJob> {
    let (object, action) = parse(&event.subscription_type)?;
    let other = event
        .to_object_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    let key = match action {
        "merge" => format!(
            "context:{connector_id}:{}:merge:{}",
            object.as_str(),
            event.event_id
        ),
        "associationChange" => format!(
            "context:{connector_id}:{}:{}:assoc:{other}",
            object.as_str(),
            event.object_id
        ),
        _ => format!(
            "context:{connector_id}:{}:{}:{action}",
            object.as_str(),
            event.object_id
        ),
    };
    let mut ids: Vec<String> = event.merged_object_ids.iter().map(u64::to_string).collect();
    ids.extend(event.primary_object_id.map(|id| id.to_string()));
    Some(NewJob::new(
        workspace_id,
        connector_id,
        CRM_CONTEXT,
        key,
        json!({
            "object": object.as_str(),
            "action": action,
            "objectId": event.object_id.to_string(),
            "associationType": event.association_type,
            "toObjectId": event.to_object_id.map(|id| id.to_string()),
            "mergedObjectIds": ids,
        }),
        Trigger::Webhook,
    ))
}

fn text(payload: &Value, key: &str) -> Option<String> {
    payload.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Runs a `crm_context` job. Nothing happens while context is off.
pub async fn handle(
    state: &AppState,
    connector: &Connector,
    payload: &Value,
) -> Result<(), SyncError> {
    let settings = super::settings::load(state, connector.id).await?;
    if !settings.enabled {
        return Ok(());
    }
    let object = match text(payload, "object").as_deref() {
        Some("company") => CrmObject::Company,
        Some("deal") => CrmObject::Deal,
        _ => {
            return Err(SyncError::permanent(
                "crm_context job without a known object",
            ))
        }
    };
    let id = text(payload, "objectId")
        .ok_or_else(|| SyncError::permanent("crm_context job without objectId"))?;
    let action = text(payload, "action").unwrap_or_default();
    let client = state.clients.client(state, connector).await?;
    let store = &state.store;

    let mut affected: Vec<(Uuid, String)> = Vec::new();
    match action.as_str() {
        "merge" => {
            let ids: Vec<String> = payload
                .get("mergedObjectIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .chain(std::iter::once(id.clone()))
                .collect();
            for merged in &ids {
                affected.extend(
                    store
                        .customers_linked_to_crm_record(connector.id, object, merged)
                        .await?,
                );
            }
        }
        "associationChange" => {
            affected.extend(
                store
                    .customers_linked_to_crm_record(connector.id, object, &id)
                    .await?,
            );
            let contact_side =
                text(payload, "associationType").is_some_and(|t| t.ends_with("_TO_CONTACT"));
            if let (true, Some(contact)) = (contact_side, text(payload, "toObjectId")) {
                if let Some(link) = store.link_by_hubspot_id(connector.id, &contact).await? {
                    affected.push((link.customer_id, contact));
                }
            }
        }
        "deletion" => {
            store.delete_crm_record(connector.id, object, &id).await?;
            return Ok(());
        }
        _ => {
            let (ty, properties) = match object {
                CrmObject::Company => (ObjectType::Companies, settings.company_read_list()),
                CrmObject::Deal => (
                    ObjectType::Deals,
                    DEAL_PROPERTIES.iter().map(|p| p.to_string()).collect(),
                ),
            };
            let opts = BatchReadOptions {
                properties,
                ..BatchReadOptions::default()
            };
            let read = client
                .objects(ty)
                .batch_read(std::slice::from_ref(&id), &opts)
                .await?;
            if let Some(f) = read.failed_chunks.into_iter().next() {
                return Err(f.error.into());
            }
            match read.results.into_iter().find(|o| !o.archived) {
                Some(o) if o.id == id => {
                    let record = CrmRecord {
                        object,
                        hubspot_id: o.id,
                        properties: o.properties,
                    };
                    store.update_crm_record(connector.id, &record).await?;
                    // A new stage may belong to a pipeline created since the cache.
                    if object == CrmObject::Deal {
                        let stale = affected_pipelines(state, connector, &record).await?;
                        if stale {
                            let pipelines = client.deal_pipelines().await?;
                            let value = serde_json::to_value(&pipelines).unwrap_or_default();
                            store.save_crm_pipelines(connector.id, &value).await?;
                        }
                    }
                }
                // Answered with another id: merged away; contexts follow the survivor.
                Some(_) => {
                    affected.extend(
                        store
                            .customers_linked_to_crm_record(connector.id, object, &id)
                            .await?,
                    );
                }
                None => store.delete_crm_record(connector.id, object, &id).await?,
            }
        }
    }
    affected.sort();
    affected.dedup();
    refresh_contexts(state, connector, &client, &affected).await
}

/// Whether the cached pipelines lack the deal's stage.
async fn affected_pipelines(
    state: &AppState,
    connector: &Connector,
    deal: &CrmRecord,
) -> Result<bool, SyncError> {
    let Some(stage) = deal.properties.get("dealstage").and_then(|s| s.as_deref()) else {
        return Ok(false);
    };
    let cached = state.store.crm_pipelines(connector.id).await?;
    Ok(!cached.is_some_and(|(v, _)| {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("stages")?.as_array())
            .flatten()
            .any(|s| s.get("id").and_then(Value::as_str) == Some(stage))
    }))
}
