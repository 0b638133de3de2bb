//! A stored context as `GET /api/customers/{id}/crm/context` and the ticket API show
//! it: enumeration values by label (company properties from the cached property
//! list, pipeline and stage from the cached pipelines), then status, priority and
//! the AI context line from `keva_core::context`. Reads only the store.

use keva_core::context::{self, ContextCompany, ContextDeal, CustomerStatus};
use keva_core::{ObjectKind, PropertyInfo};
use keva_hubspot::pipelines::Pipeline;
use keva_store::{Connector, CrmRecord, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::state::AppState;

/// Record pages use HubSpot's global app domain; EU portals are redirected there.
const UI_BASE: &str = "https://app.hubspot.com";

/// A customer's company and deals, and what they mean.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContextView {
    pub connector_id: Uuid,
    /// `{id, name, domain, industry, website, employeeCount, url}`; null without one.
    #[schema(value_type = Option<Object>)]
    pub company: Option<ContextCompany>,
    /// `{id, name, amount, currency, pipeline, stage, probability, closeDate,
    /// state (open|won|lost), url}` each.
    #[schema(value_type = Vec<Object>)]
    pub deals: Vec<ContextDeal>,
    /// `lead`, `prospect`, `customer` or `churned` (rules per connector).
    #[schema(value_type = String)]
    pub status: CustomerStatus,
    /// 0–100: `round(100·W/(W+10000))`, W = Σ open amount × stage probability.
    pub priority: u8,
    pub ai_context: String,
    pub fetched_at: chrono::DateTime<chrono::Utc>,
}

fn text(r: &CrmRecord, name: &str) -> Option<String> {
    r.properties
        .get(name)
        .and_then(|v| v.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn url(portal_id: i64, type_id: &str, id: &str) -> String {
    format!("{UI_BASE}/contacts/{portal_id}/record/{type_id}/{id}")
}

/// The company with enumeration values replaced by their labels, and the extra
/// properties the connector shows.
pub fn company(
    r: &CrmRecord,
    props: &[PropertyInfo],
    extra: &[String],
    portal_id: i64,
) -> ContextCompany {
    let labelled = |name: &str| {
        let value = text(r, name)?;
        Some(match props.iter().find(|p| p.name == name) {
            Some(p) => p.label_of(&value),
            None => value,
        })
    };
    ContextCompany {
        id: r.hubspot_id.clone(),
        name: text(r, "name"),
        domain: text(r, "domain"),
        industry: labelled("industry"),
        website: text(r, "website"),
        // HubSpot's value is a number as text; a range label ("100-500") is kept out.
        employee_count: text(r, "numberofemployees")
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n.round() as i64),
        url: Some(url(portal_id, "0-2", &r.hubspot_id)),
        fields: extra
            .iter()
            .filter_map(|name| Some((name.clone(), labelled(name)?)))
            .collect(),
    }
}

/// The deal with pipeline and stage by label and its state from the stage.
pub fn deal(r: &CrmRecord, pipelines: &[Pipeline], portal_id: i64) -> ContextDeal {
    let pipeline_id = text(r, "pipeline");
    let stage_id = text(r, "dealstage");
    let pipeline = pipelines
        .iter()
        .find(|p| Some(&p.id) == pipeline_id.as_ref())
        .or_else(|| {
            // A deal read without `pipeline`: the pipeline holding its stage.
            pipelines
                .iter()
                .find(|p| p.stages.iter().any(|s| Some(&s.id) == stage_id.as_ref()))
        });
    let stage = pipeline.and_then(|p| p.stages.iter().find(|s| Some(&s.id) == stage_id.as_ref()));
    let probability = stage.and_then(|s| s.probability());
    ContextDeal {
        id: r.hubspot_id.clone(),
        name: text(r, "dealname"),
        amount: text(r, "amount")
            .and_then(|a| a.parse::<f64>().ok())
            .filter(|a| a.is_finite()),
        currency: text(r, "deal_currency_code").unwrap_or_else(|| "USD".into()),
        pipeline_id: pipeline.map(|p| p.id.clone()).or(pipeline_id),
        pipeline: pipeline.map(|p| p.label.clone()),
        stage: stage.map(|s| s.label.clone()).or_else(|| stage_id.clone()),
        stage_id,
        probability,
        close_date: text(r, "closedate"),
        state: context::deal_state(stage.is_some_and(|s| s.is_closed()), probability),
        url: Some(url(portal_id, "0-3", &r.hubspot_id)),
    }
}

/// The customer's context on `connector`, if one was read.
pub async fn connector_context(
    state: &AppState,
    connector: &Connector,
    customer_id: Uuid,
) -> Result<Option<ContextView>, StoreError> {
    let Some(stored) = state.store.crm_context(connector.id, customer_id).await? else {
        return Ok(None);
    };
    let settings = super::settings::load(state, connector.id).await?;
    let props = state
        .store
        .property_cache(connector.id, ObjectKind::Company)
        .await?
        .map(|(p, _)| p)
        .unwrap_or_default();
    let pipelines: Vec<Pipeline> = state
        .store
        .crm_pipelines(connector.id)
        .await?
        .and_then(|(v, _)| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let company = stored
        .company
        .as_ref()
        .map(|c| company(c, &props, &settings.company_properties, connector.portal_id));
    let mut deals: Vec<ContextDeal> = stored
        .deals
        .iter()
        .map(|d| deal(d, &pipelines, connector.portal_id))
        .collect();
    // Open deals first, then by close date: what an agent should see first.
    deals.sort_by(|a, b| (a.state, &a.close_date, &a.id).cmp(&(b.state, &b.close_date, &b.id)));
    let derived = context::derive(company.as_ref(), &deals, &settings.rules);
    Ok(Some(ContextView {
        connector_id: connector.id,
        company,
        deals,
        status: derived.status,
        priority: derived.priority,
        ai_context: derived.ai_context,
        fetched_at: stored.fetched_at,
    }))
}

/// The customer's context from the first connected connector that has one.
pub async fn context_view(
    state: &AppState,
    workspace_id: Uuid,
    customer_id: Uuid,
) -> Result<Option<ContextView>, StoreError> {
    let mut connectors = state.store.list_connectors(workspace_id).await?;
    connectors.sort_by_key(|c| c.status != keva_store::ConnectorStatus::Connected);
    for c in &connectors {
        if let Some(v) = connector_context(state, c, customer_id).await? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}
