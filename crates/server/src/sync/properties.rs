//! A connector's contact/company property list (the portal's "describe"), cached
//! per connector in the store: mappings are validated against it and the engine
//! skips mappings whose property the portal lacks. A dry run reads it without
//! filling the cache (`without_caching`).

use keva_core::mapping::bind_attributes;
use keva_core::{default_contact_mappings, FieldMapping, ObjectKind, PropertyInfo, Transform};
use keva_hubspot::{HubspotClient, ObjectType};
use keva_store::{Connector, StoreError};

use crate::state::AppState;
use crate::sync::SyncError;

pub(crate) fn object_type(object: ObjectKind) -> ObjectType {
    match object {
        ObjectKind::Contact => ObjectType::Contacts,
        ObjectKind::Company => ObjectType::Companies,
    }
}

/// The portal's properties as HubSpot lists them now.
async fn fetch(client: &HubspotClient, object: ObjectKind) -> Result<Vec<PropertyInfo>, SyncError> {
    Ok(client
        .properties(object_type(object))
        .list()
        .await?
        .into_iter()
        .map(|p| {
            let mut info = PropertyInfo::new(&p.name, &p.label, &p.kind, &p.field_type);
            info.read_only = p.is_read_only();
            // Company enumerations are shown by label in the CRM context.
            if object == ObjectKind::Company {
                info.options = p
                    .options
                    .iter()
                    .map(|o| keva_core::PropertyChoice {
                        value: o.value.clone(),
                        label: o.label.clone(),
                    })
                    .collect();
            }
            info
        })
        .collect())
}

/// Fetches the portal's properties and replaces the cache.
pub async fn refresh(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    object: ObjectKind,
) -> Result<Vec<PropertyInfo>, SyncError> {
    let props = fetch(client, object).await?;
    state
        .store
        .save_property_cache(connector.id, object, &props)
        .await?;
    Ok(props)
}

/// The cached properties, fetched on first use.
pub async fn cached(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    object: ObjectKind,
) -> Result<Vec<PropertyInfo>, SyncError> {
    match state.store.property_cache(connector.id, object).await? {
        Some((props, _)) => Ok(props),
        None => refresh(state, connector, client, object).await,
    }
}

/// The cached properties, or a read from HubSpot that is deliberately not cached:
/// a dry run writes nothing, not even the cache. The outer error is the store's
/// (reading the cache), the inner one HubSpot's.
pub async fn without_caching(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
) -> Result<Result<Vec<PropertyInfo>, SyncError>, StoreError> {
    if let Some((props, _)) = state.store.property_cache(connector.id, object).await? {
        return Ok(Ok(props));
    }
    Ok(match state.clients.client(state, connector).await {
        Ok(client) => fetch(&client, object).await,
        Err(e) => Err(e),
    })
}

/// The connector's saved mappings for `object`; contacts fall back to the defaults.
/// Attribute mappings come bound to their workspace's live definitions.
pub async fn mappings(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
) -> Result<Vec<FieldMapping>, SyncError> {
    let mut mappings = match state.store.mappings(connector.id, object).await? {
        Some(m) => m.mappings,
        None if object == ObjectKind::Contact => default_contact_mappings(),
        None => Vec::new(),
    };
    bind(state, connector.workspace_id, &mut mappings).await?;
    Ok(mappings)
}

/// Binds attribute mappings to the workspace's definitions and `phone_e164`
/// mappings to its default phone region (each a no-op, and no query, when no
/// mapping needs it).
pub async fn bind(
    state: &AppState,
    workspace_id: uuid::Uuid,
    mappings: &mut [FieldMapping],
) -> Result<(), StoreError> {
    if mappings
        .iter()
        .any(|m| m.keva_field.attribute_key().is_some())
    {
        let specs = state.store.attribute_specs(workspace_id).await?;
        bind_attributes(mappings, &specs);
    }
    if mappings
        .iter()
        .any(|m| m.transform == Some(Transform::PhoneE164))
    {
        let region = state
            .store
            .get_workspace(workspace_id)
            .await?
            .and_then(|w| w.phone_region);
        for m in mappings.iter_mut() {
            m.phone_region.clone_from(&region);
        }
    }
    Ok(())
}
