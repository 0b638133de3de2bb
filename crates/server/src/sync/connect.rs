//! Connecting a portal with a private-app token: verify the token (the account
//! info API names its portal), store the connector with the token sealed, save the
//! default mappings and make sure the portal has every mapped property.
//!
//! HubSpot has no default contact property `notes`: a mapped property the portal
//! lacks is created (a string property, textarea for notes, in the contact
//! information group); if HubSpot refuses (missing scopes or anything else), only
//! that mapping is marked "property missing" with the fix spelled out — the other
//! fields sync. Shared by `POST /api/crm/hubspot/connectors` and the quickstart.

use keva_core::{
    default_contact_mappings, missing_properties, FieldMapping, KevaField, ObjectKind, PropertyInfo,
};
use keva_hubspot::models::PropertyCreate;
use keva_hubspot::{HubspotClient, ObjectType};
use keva_store::{AuthKind, Connector, NewConnector, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::state::AppState;
use crate::sync::clients::client_for_token;
use crate::sync::{properties, SyncError};

/// Why a portal could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("HubSpot rejected the token")]
    Rejected,
    #[error("{0}")]
    AlreadyConnected(String),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new connector and what connecting found.
#[derive(Debug)]
pub struct Connected {
    pub connector: Connector,
    /// Mapping issues (e.g. a property that is missing and could not be created).
    pub issues: Vec<Value>,
    /// Properties created in the portal for the mappings.
    pub created_properties: Vec<String>,
}

/// Connects the portal a private-app token belongs to, with the default mappings.
pub async fn connect_private_app(
    state: &AppState,
    workspace_id: Uuid,
    token: SecretString,
) -> Result<Connected, ConnectError> {
    // HubSpot's tokens are printable ASCII; anything else could not even be sent
    // in an Authorization header, so it is refused as HubSpot would refuse it.
    if !token.expose_secret().bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectError::Rejected);
    }
    let probe = client_for_token(state, token.clone())?;
    let details = match probe.account_details().await {
        Ok(d) => d,
        Err(e) if e.is_unauthorized() || e.needs_reconnection() => {
            return Err(ConnectError::Rejected)
        }
        Err(e) => return Err(SyncError::from(e).into()),
    };
    let portal_id = i64::try_from(details.portal_id)
        .map_err(|_| SyncError::permanent("HubSpot returned an out-of-range portal id"))?;
    let connector = state
        .store
        .insert_connector(NewConnector {
            workspace_id,
            portal_id,
            auth_kind: AuthKind::PrivateApp,
            access_token: token,
            refresh_token: None,
            token_expires_at: None,
            scopes: Vec::new(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ConnectError::AlreadyConnected(format!(
                "HubSpot portal {portal_id} is already connected to this workspace"
            )),
            other => other.into(),
        })?;
    let client = state.clients.client(state, &connector).await?;
    let mappings = default_contact_mappings();
    let (_, issues, created) = ensure_properties(state, &connector, &client, &mappings).await?;
    save_contact_mappings(state, connector.id, &mappings, issues.clone()).await?;
    Ok(Connected {
        connector,
        issues,
        created_properties: created,
    })
}

/// Refreshes the property cache and creates the mapped contact properties the
/// portal lacks. Returns the properties, the "property missing" issues of the
/// ones that could not be created, and the names created.
pub async fn ensure_properties(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    mappings: &[FieldMapping],
) -> Result<(Vec<PropertyInfo>, Vec<Value>, Vec<String>), SyncError> {
    let mut props = properties::refresh(state, connector, client, ObjectKind::Contact).await?;
    let mut issues = Vec::new();
    let mut created = Vec::new();
    for name in missing_properties(mappings, &props) {
        let field = mappings
            .iter()
            .find(|m| m.hubspot_properties.contains(&name))
            .map(|m| m.keva_field)
            .unwrap_or(KevaField::Notes);
        let create = PropertyCreate {
            name: name.clone(),
            label: label_for(field, &name),
            kind: "string".into(),
            field_type: if field == KevaField::Notes {
                "textarea".into()
            } else {
                "text".into()
            },
            group_name: "contactinformation".into(),
            description: Some("Synced with Keva by Keva Sync.".into()),
            options: Vec::new(),
            has_unique_value: None,
            form_field: None,
        };
        match client
            .properties(ObjectType::Contacts)
            .create(&create)
            .await
        {
            Ok(p) => {
                props.push(PropertyInfo::new(&p.name, &p.label, &p.kind, &p.field_type));
                created.push(name);
            }
            Err(e) => {
                let why = if e.is_missing_scopes() {
                    "the token lacks the crm.schemas.contacts.write scope".to_string()
                } else {
                    e.to_string()
                };
                tracing::warn!(property = %name, error = %e, "could not create a mapped property");
                issues.push(property_missing_issue(field, &name, &why));
            }
        }
    }
    state
        .store
        .save_property_cache(connector.id, ObjectKind::Contact, &props)
        .await?;
    Ok((props, issues, created))
}

/// The issue stored with the mappings for a property that could not be created.
pub fn property_missing_issue(field: KevaField, property: &str, why: &str) -> Value {
    json!({
        "kevaField": field.as_str(),
        "property": property,
        "kind": "property_missing",
        "message": format!(
            "HubSpot property '{property}' doesn't exist and could not be created ({why}); \
             the {} mapping is skipped, the other fields sync",
            field.as_str()
        ),
        "fix": format!(
            "In HubSpot, create a contact property with internal name '{property}' \
             (Settings > Properties > Create property, field type Multi-line text), or grant \
             the app the crm.schemas.contacts.write scope and reconnect, or map {} to an \
             existing property",
            field.as_str()
        ),
    })
}

fn label_for(field: KevaField, property: &str) -> String {
    match field {
        KevaField::Notes => "Notes".into(),
        _ => property.to_string(),
    }
}

/// A connector made (or resumed) by the OAuth install flow.
#[derive(Debug)]
pub struct OAuthConnected {
    pub connector: Connector,
    /// The workspace already had a connector for the portal: it was resumed with
    /// its mappings, links and history.
    pub reconnected: bool,
    /// Other workspaces connected to the same portal.
    pub other_workspaces: usize,
}

/// Stores the tokens of a finished install: a new connector with the default
/// mappings, or the workspace's existing connector for the portal reconnected.
pub async fn connect_oauth(
    state: &AppState,
    workspace_id: Uuid,
    install: keva_hubspot::oauth::Installation,
) -> Result<OAuthConnected, ConnectError> {
    let portal_id = i64::try_from(install.hub_id)
        .map_err(|_| SyncError::permanent("HubSpot returned an out-of-range portal id"))?;
    let other_workspaces = state
        .store
        .connectors_by_portal(portal_id)
        .await?
        .iter()
        .filter(|c| c.workspace_id != workspace_id && c.disconnected_at.is_none())
        .count();
    let (connector, reconnected) = state
        .store
        .connect_oauth_connector(
            NewConnector {
                workspace_id,
                portal_id,
                auth_kind: AuthKind::OAuth,
                access_token: install.tokens.access_token,
                refresh_token: Some(install.tokens.refresh_token),
                token_expires_at: Some(install.tokens.expires_at),
                scopes: install.scopes,
            },
            install.user.as_deref(),
        )
        .await?;
    // The cached client (if any) holds the old tokens.
    state.clients.invalidate(connector.id);
    if !reconnected {
        let mappings = default_contact_mappings();
        let issues = match state.clients.client(state, &connector).await {
            Ok(client) => match ensure_properties(state, &connector, &client, &mappings).await {
                Ok((_, issues, _)) => issues,
                Err(e) => {
                    tracing::warn!(error = %e, connector_id = %connector.id, "could not check the mapped properties");
                    Vec::new()
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, connector_id = %connector.id, "no client for the new connector");
                Vec::new()
            }
        };
        save_contact_mappings(state, connector.id, &mappings, issues).await?;
    }
    Ok(OAuthConnected {
        connector,
        reconnected,
        other_workspaces,
    })
}

/// Saves a new connector's contact mappings with the issues its property check found.
async fn save_contact_mappings(
    state: &AppState,
    connector_id: Uuid,
    mappings: &[FieldMapping],
    issues: Vec<Value>,
) -> Result<(), StoreError> {
    let issues = Value::Array(issues);
    state
        .store
        .save_mappings(connector_id, ObjectKind::Contact, mappings, &issues)
        .await
}
