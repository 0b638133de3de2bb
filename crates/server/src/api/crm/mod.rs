//! The HubSpot CRM API under `/api/crm/hubspot` (connectors, mappings, describe,
//! Sync Now, test-mapping, history) and a customer's CRM status.

pub mod automap;
pub mod connectors;
pub mod context;
pub mod customer_crm;
pub mod history;
pub mod mappings;
pub mod oauth;
pub mod sync_now;

use keva_store::Connector;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The workspace's connector `id`, or its only connector when `id` is absent.
pub(crate) async fn connector_for(
    state: &AppState,
    workspace_id: Uuid,
    id: Option<Uuid>,
) -> Result<Connector, ApiError> {
    if let Some(id) = id {
        return state
            .store
            .get_connector(workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("connector"));
    }
    let mut all = state.store.list_connectors(workspace_id).await?;
    match all.len() {
        0 => Err(ApiError::NotFound("connector")),
        1 => Ok(all.remove(0)),
        _ => Err(ApiError::Unprocessable(
            "connectorId is required: this workspace has several connectors".into(),
        )),
    }
}

/// A disconnected connector cannot reach HubSpot until it is connected again: a
/// conflict with its current state (409, like one that needs reconnection), not a
/// fault of the request.
pub(crate) fn ensure_connected(connector: &Connector) -> Result<(), ApiError> {
    if connector.status == keva_store::ConnectorStatus::Disconnected {
        return Err(ApiError::Conflict(
            "the connector is disconnected: connect the portal again to resume".into(),
        ));
    }
    Ok(())
}

/// A HubSpot failure seen by an API handler, in the API's error shape.
pub(crate) fn sync_error(e: crate::sync::SyncError) -> ApiError {
    use crate::sync::SyncError;
    match e {
        SyncError::Retryable { message, .. } => {
            ApiError::Unavailable(format!("HubSpot is unavailable, try again: {message}"))
        }
        SyncError::Permanent { message, .. } => ApiError::Unprocessable(message),
        SyncError::NeedsReconnection(reason) => {
            ApiError::Conflict(format!("the connector must be reconnected: {reason}"))
        }
    }
}

/// Like `sync_error`, first recording a refused grant on the connector (so workers
/// stop using it and its status says "needs reconnection").
pub(crate) async fn connector_error(
    state: &AppState,
    connector_id: Uuid,
    e: crate::sync::SyncError,
) -> ApiError {
    if let crate::sync::SyncError::NeedsReconnection(reason) = &e {
        state
            .clients
            .mark_needs_reconnection(state, connector_id, reason)
            .await;
    }
    sync_error(e)
}
