//! `POST /api/crm/hubspot/automap`: for every Keva field not yet mapped on the
//! connector, the HubSpot property auto-mapping suggests (or *no match*), with a
//! calibrated confidence, a reason, a direction and up to two alternatives.
//!
//! The portal's properties are read live (one properties-API call) rather than from
//! the describe cache, because auto-mapping uses signals the cache does not keep:
//! descriptions, groups, options, `hubspotDefined`, read-only and calculated flags.
//! For contacts, where linked records exist, the values themselves are evidence:
//! up to [`SAMPLE_SIZE`] linked customers and their contacts are read (one batch
//! read, so at most one extra HubSpot call, reported in `hubspotCalls`), and how
//! often a field's value agrees with a property's moves that pair's score. A
//! failed sample read only loses the evidence. "Not yet mapped" means absent
//! from the connector's saved mappings; properties those mappings use are not
//! offered again. Fields are the seven built-ins and the workspace's live custom
//! attributes.

use std::collections::BTreeSet;

use axum::extract::State;
use keva_core::automap::PropertyOption;
use keva_core::automap::{
    automap_with_samples, HubspotProperty, KevaFieldSpec, ModificationMetadata, ValueSamples,
};
use keva_core::{Customer, KevaField, ObjectKind};
use keva_hubspot::{BatchReadOptions, HubspotClient, ObjectType};
use keva_store::Connector;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{connector_error, connector_for};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;
use crate::sync::SyncError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutomapRequest {
    pub connector_id: Uuid,
    /// `contacts` or `companies`.
    #[schema(schema_with = crate::api::schema::automap_object)]
    pub object: String,
}

/// A runner-up property.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutomapAlternative {
    pub property: String,
    pub label: Option<String>,
    pub confidence: f64,
}

/// The suggestion for one Keva field.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutomapSuggestion {
    /// The Keva field's key (`email`, `jobTitle`, a custom attribute's key).
    pub key: String,
    /// The suggested HubSpot property's internal name; `null` for no match.
    pub property: Option<String>,
    /// Further properties of the same mapping (`lastname` when `name` is split).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// The suggested property's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Calibrated probability (0..1) that `property` is right; 0 for no match.
    pub confidence: f64,
    /// Why, in a few words ("label 'Monthly Recurring Revenue' ≈ mrr; number ↔ number").
    pub reason: String,
    /// `to_crm`, `from_crm` or `bidirectional`.
    #[schema(value_type = String)]
    pub direction: keva_core::Direction,
    /// Up to two runners-up not taken by another field.
    pub alternatives: Vec<AutomapAlternative>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutomapResponse {
    pub connector_id: Uuid,
    /// `contacts` or `companies`.
    pub object: String,
    /// How many HubSpot properties were considered.
    pub properties_considered: usize,
    /// HubSpot API calls made: the property list, plus one batch read when
    /// linked records were sampled.
    pub hubspot_calls: u32,
    /// Linked records whose values were compared (0: no value evidence).
    pub sampled_records: usize,
    pub suggestions: Vec<AutomapSuggestion>,
}

fn parse_object(raw: &str) -> Result<(ObjectKind, ObjectType), ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "contacts" => Ok((ObjectKind::Contact, ObjectType::Contacts)),
        "companies" => Ok((ObjectKind::Company, ObjectType::Companies)),
        other => Err(ApiError::Unprocessable(format!(
            "object must be \"contacts\" or \"companies\", not {other:?}"
        ))),
    }
}

fn property(p: keva_hubspot::models::Property) -> HubspotProperty {
    let read_only_value = p
        .modification_metadata
        .as_ref()
        .is_some_and(|m| m.read_only_value);
    HubspotProperty {
        hubspot_defined: p.hubspot_defined.unwrap_or(false),
        calculated: p.calculated.unwrap_or(false),
        modification_metadata: ModificationMetadata { read_only_value },
        options: p
            .options
            .into_iter()
            .map(|o| PropertyOption {
                label: o.label,
                value: o.value,
            })
            .collect(),
        name: p.name,
        label: p.label,
        description: p.description,
        group_name: p.group_name,
        kind: p.kind,
        field_type: p.field_type,
    }
}

#[utoipa::path(post, path = "/api/crm/hubspot/automap", tag = "crm",
    request_body = AutomapRequest, security(("api_key" = [])),
    responses((status = 200, body = AutomapResponse), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such connector in this workspace"),
        (status = 409, body = ErrorBody, description = "the connector must be reconnected"),
        (status = 422, body = ErrorBody, description = "bad object or malformed body"),
        (status = 503, body = ErrorBody, description = "HubSpot is unavailable")))]
pub async fn automap_fields(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<AutomapRequest>,
) -> Result<Json<AutomapResponse>, ApiError> {
    Ok(Json(suggest(&state, auth.workspace_id, &body).await?))
}

/// The suggestions for a connector of `workspace_id` (the API's `POST` and the
/// console's *Auto-Map Fields*).
pub(crate) async fn suggest(
    state: &AppState,
    workspace_id: Uuid,
    body: &AutomapRequest,
) -> Result<AutomapResponse, ApiError> {
    let (object, object_type) = parse_object(&body.object)?;
    let connector = connector_for(state, workspace_id, Some(body.connector_id)).await?;
    super::ensure_connected(&connector)?;
    let client = match state.clients.client(state, &connector).await {
        Ok(c) => c,
        Err(e) => return Err(connector_error(state, connector.id, e).await),
    };
    let listed = match client.properties(object_type).list().await {
        Ok(l) => l,
        Err(e) => return Err(connector_error(state, connector.id, SyncError::from(e)).await),
    };
    let saved = state
        .store
        .mappings(connector.id, object)
        .await?
        .map(|s| s.mappings)
        .unwrap_or_default();
    // An attribute's spec key is its bare key (`mrr`), a mapping names it
    // `attributes.mrr`.
    let mapped_fields: BTreeSet<&str> = saved
        .iter()
        .map(|m| {
            m.keva_field
                .attribute_key()
                .map_or(m.keva_field.as_str(), |k| k.key())
        })
        .collect();
    let used: BTreeSet<&str> = saved
        .iter()
        .flat_map(|m| m.hubspot_properties.iter().map(String::as_str))
        .collect();

    let props: Vec<HubspotProperty> = listed
        .into_iter()
        .filter(|p| !p.archived.unwrap_or(false) && !used.contains(p.name.as_str()))
        .map(property)
        .collect();
    // Built-ins, then the workspace's live custom attributes (retired ones are
    // unwritable, so not worth mapping).
    let custom = state
        .store
        .list_attributes(workspace_id, false)
        .await?
        .into_iter()
        .filter_map(|d| {
            let kind = serde_json::from_value(serde_json::Value::String(d.kind)).ok()?;
            Some(KevaFieldSpec {
                key: d.key,
                label: Some(d.label),
                kind,
                description: d.description,
                options: d.options,
            })
        });
    let fields: Vec<KevaFieldSpec> = KevaFieldSpec::builtins()
        .into_iter()
        .chain(custom)
        .filter(|f| !mapped_fields.contains(f.key.as_str()))
        .collect();

    let label_of = |name: &str| {
        props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.label.clone())
    };
    let (samples, sampled_records) = if object == ObjectKind::Contact {
        sample_values(state, &connector, &client, &fields, &props).await?
    } else {
        (ValueSamples::new(), 0)
    };
    let suggestions = automap_with_samples(&fields, &props, object, &samples)
        .into_iter()
        .map(|s| AutomapSuggestion {
            label: s.property.as_deref().and_then(label_of),
            alternatives: s
                .alternatives
                .into_iter()
                .map(|a| AutomapAlternative {
                    label: label_of(&a.property),
                    property: a.property,
                    confidence: a.confidence,
                })
                .collect(),
            key: s.key,
            property: s.property,
            also: s.also,
            confidence: s.confidence,
            reason: s.reason,
            direction: s.direction,
        })
        .collect();
    Ok(AutomapResponse {
        connector_id: connector.id,
        object: object_type.as_str().to_string(),
        properties_considered: props.len(),
        hubspot_calls: 1 + u32::from(sampled_records > 0),
        sampled_records,
        suggestions,
    })
}

/// Linked records sampled for value evidence (one batch read holds 100).
pub const SAMPLE_SIZE: u32 = 30;

/// A Keva field's value on a customer, as text (built-ins by name, attributes
/// by key).
fn field_text(customer: &Customer, key: &str) -> Option<String> {
    match KevaField::builtin(key) {
        Some(f) => customer.field(f).map(|v| v.into_owned()),
        None => customer
            .attributes
            .get(key)
            .and_then(keva_core::attribute::text_of),
    }
}

/// Value pairs `(Keva, HubSpot)` per `(field, property)` from up to
/// [`SAMPLE_SIZE`] linked contacts, and how many records were compared. One
/// HubSpot call at most; if it fails the answer has no value evidence.
async fn sample_values(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    fields: &[KevaFieldSpec],
    props: &[HubspotProperty],
) -> Result<(ValueSamples, usize), ApiError> {
    let mut samples = ValueSamples::new();
    let links = state.store.sample_links(connector.id, SAMPLE_SIZE).await?;
    if links.is_empty() || fields.is_empty() || props.is_empty() {
        return Ok((samples, 0));
    }
    let ids: Vec<_> = links.iter().map(|l| l.customer_id).collect();
    let customers = state
        .store
        .customers_by_ids(connector.workspace_id, &ids)
        .await?;
    let contact_ids: Vec<String> = links.iter().filter_map(|l| l.hubspot_id.clone()).collect();
    let opts = BatchReadOptions {
        properties: props.iter().map(|p| p.name.clone()).collect(),
        ..BatchReadOptions::default()
    };
    let contacts = match client.contacts().batch_read(&contact_ids, &opts).await {
        Ok(read) => read.results,
        Err(e) => {
            tracing::warn!(error = %e, "automap could not sample linked contacts");
            return Ok((samples, 0));
        }
    };
    let mut compared = 0;
    for contact in &contacts {
        let Some(customer) = links
            .iter()
            .find(|l| l.hubspot_id.as_deref() == Some(contact.id.as_str()))
            .and_then(|l| customers.iter().find(|c| c.id == l.customer_id))
        else {
            continue;
        };
        compared += 1;
        for f in fields {
            let Some(keva) = field_text(customer, &f.key) else {
                continue;
            };
            for p in props {
                if let Some(value) = contact.property(&p.name) {
                    samples
                        .entry((f.key.clone(), p.name.clone()))
                        .or_default()
                        .push((keva.clone(), value.to_string()));
                }
            }
        }
    }
    Ok((samples, compared))
}
