//! A connector's contact/company property list (the portal's "describe"), cached
//! per connector in the store: mappings are validated against it and the engine
//! skips mappings whose property the portal lacks.

use keva_core::{default_contact_mappings, FieldMapping, ObjectKind, PropertyInfo};
use keva_hubspot::{HubspotClient, ObjectType};
use keva_store::Connector;

use crate::state::AppState;
use crate::sync::SyncError;

fn object_type(object: ObjectKind) -> ObjectType {
    match object {
        ObjectKind::Contact => ObjectType::Contacts,
        ObjectKind::Company => ObjectType::Companies,
    }
}

/// Fetches the portal's properties and replaces the cache.
pub async fn refresh(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    object: ObjectKind,
) -> Result<Vec<PropertyInfo>, SyncError> {
    let props: Vec<PropertyInfo> = client
        .properties(object_type(object))
        .list()
        .await?
        .into_iter()
        .map(|p| PropertyInfo::new(&p.name, &p.label, &p.kind, &p.field_type))
        .collect();
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

/// The connector's saved mappings for `object`; contacts fall back to the defaults.
pub async fn mappings(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
) -> Result<Vec<FieldMapping>, SyncError> {
    Ok(match state.store.mappings(connector.id, object).await? {
        Some(m) => m.mappings,
        None if object == ObjectKind::Contact => default_contact_mappings(),
        None => Vec::new(),
    })
}
