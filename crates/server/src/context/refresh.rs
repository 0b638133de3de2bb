//! Reading customers' contexts from HubSpot with the batch APIs: for N contacts,
//! one v4 association read per 1,000 contacts (contacts → companies, contacts →
//! deals), one for their primary companies' deals, one batch read per 100 companies
//! and per 100 deals, and the pipelines once an hour. So a batch run costs a few
//! calls per thousand customers, and a live sync five or six.
//!
//! The primary company is the association labelled primary (HUBSPOT_DEFINED 1),
//! else the first one HubSpot lists. Deals are the contact's own plus its primary
//! company's. Records HubSpot no longer returns (deleted) are left out, and the
//! whole context is replaced, so removed associations disappear.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use keva_hubspot::models::{AssociatedObject, AssociationCategory, SimplePublicObject};
use keva_hubspot::{BatchReadOptions, HubspotClient, ObjectType};
use keva_store::{Connector, CrmObject, CrmRecord, NewCrmContext};
use uuid::Uuid;

use crate::state::AppState;
use crate::sync::SyncError;

/// Company properties read for the context.
pub const COMPANY_PROPERTIES: &[&str] = &[
    "name",
    "domain",
    "industry",
    "website",
    "numberofemployees",
    "annualrevenue",
    "city",
    "country",
];

/// Deal properties read for the context.
pub const DEAL_PROPERTIES: &[&str] = &[
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
];

/// How long the cached pipelines are trusted before they are read again.
const PIPELINES_MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// HubSpot's "primary company" association type id (contact → company).
const PRIMARY_COMPANY_TYPE: i64 = 1;

/// The primary company among a contact's companies, else the first listed.
pub fn primary_company(companies: &[AssociatedObject]) -> Option<&str> {
    companies
        .iter()
        .find(|c| {
            c.association_types.iter().any(|t| {
                t.category == AssociationCategory::HubspotDefined
                    && t.type_id == PRIMARY_COMPANY_TYPE
            })
        })
        .or_else(|| companies.first())
        .map(|c| c.to_object_id.as_str())
}

fn record(object: CrmObject, o: SimplePublicObject) -> CrmRecord {
    CrmRecord {
        object,
        hubspot_id: o.id,
        properties: o.properties,
    }
}

async fn read_records(
    client: &HubspotClient,
    ty: ObjectType,
    object: CrmObject,
    ids: &BTreeSet<String>,
    properties: Vec<String>,
) -> Result<Vec<CrmRecord>, SyncError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().cloned().collect();
    let opts = BatchReadOptions {
        properties,
        ..BatchReadOptions::default()
    };
    let out = client.objects(ty).batch_read(&ids, &opts).await?;
    // A chunk that failed as a whole would silently empty contexts: retry later.
    if let Some(f) = out.failed_chunks.into_iter().next() {
        return Err(f.error.into());
    }
    // Per-item errors are records HubSpot no longer has (deleted): left out.
    Ok(out
        .results
        .into_iter()
        .filter(|o| !o.archived)
        .map(|o| record(object, o))
        .collect())
}

/// Reads the pipelines again when the cache is missing, old, or lacks a stage a
/// deal uses (a pipeline or stage created since).
async fn ensure_pipelines(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    deals: &[CrmRecord],
) -> Result<(), SyncError> {
    let cached = state.store.crm_pipelines(connector.id).await?;
    let fresh = cached.as_ref().is_some_and(|(value, at)| {
        let known: BTreeSet<&str> = value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("stages")?.as_array())
            .flatten()
            .filter_map(|s| s.get("id")?.as_str())
            .collect();
        Utc::now() - *at < PIPELINES_MAX_AGE
            && deals.iter().all(|d| {
                d.properties
                    .get("dealstage")
                    .and_then(|s| s.as_deref())
                    .is_none_or(|s| known.contains(s))
            })
    });
    if fresh || (deals.is_empty() && cached.is_some()) {
        return Ok(());
    }
    let pipelines = client.deal_pipelines().await?;
    let value = serde_json::to_value(&pipelines).unwrap_or_default();
    state.store.save_crm_pipelines(connector.id, &value).await?;
    Ok(())
}

/// Reads and stores the contexts of `(customer, contact)` pairs, if the connector
/// has context enabled.
pub async fn refresh_contexts(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    pairs: &[(Uuid, String)],
) -> Result<(), SyncError> {
    let settings = super::settings::load(state, connector.id).await?;
    if pairs.is_empty() || !settings.enabled {
        return Ok(());
    }
    let contacts: Vec<String> = pairs
        .iter()
        .map(|(_, c)| c.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let assoc = client.associations();
    let companies_of = assoc
        .batch_read_all(ObjectType::Contacts, ObjectType::Companies, &contacts)
        .await?;
    let deals_of = assoc
        .batch_read_all(ObjectType::Contacts, ObjectType::Deals, &contacts)
        .await?;
    let primary: HashMap<&str, String> = contacts
        .iter()
        .filter_map(|c| {
            let companies = companies_of.get(c)?;
            Some((c.as_str(), primary_company(companies)?.to_string()))
        })
        .collect();
    let company_ids: BTreeSet<String> = primary.values().cloned().collect();
    let company_deals = assoc
        .batch_read_all(
            ObjectType::Companies,
            ObjectType::Deals,
            &company_ids.iter().cloned().collect::<Vec<_>>(),
        )
        .await?;
    let deal_ids_of = |contact: &str| -> BTreeSet<String> {
        let own = deals_of.get(contact).into_iter().flatten();
        let via_company = primary
            .get(contact)
            .and_then(|c| company_deals.get(c))
            .into_iter()
            .flatten();
        own.chain(via_company)
            .map(|d| d.to_object_id.clone())
            .collect()
    };
    let all_deals: BTreeSet<String> = contacts.iter().flat_map(|c| deal_ids_of(c)).collect();
    let companies = read_records(
        client,
        ObjectType::Companies,
        CrmObject::Company,
        &company_ids,
        settings.company_read_list(),
    )
    .await?;
    let deals = read_records(
        client,
        ObjectType::Deals,
        CrmObject::Deal,
        &all_deals,
        DEAL_PROPERTIES.iter().map(|p| p.to_string()).collect(),
    )
    .await?;
    ensure_pipelines(state, connector, client, &deals).await?;
    ensure_company_labels(state, connector, client).await;
    let live_companies: BTreeSet<&str> = companies.iter().map(|c| c.hubspot_id.as_str()).collect();
    let live_deals: BTreeSet<&str> = deals.iter().map(|d| d.hubspot_id.as_str()).collect();
    let contexts: Vec<NewCrmContext> = pairs
        .iter()
        .map(|(customer_id, contact)| NewCrmContext {
            customer_id: *customer_id,
            contact_id: contact.clone(),
            company_id: primary
                .get(contact.as_str())
                .filter(|c| live_companies.contains(c.as_str()))
                .cloned(),
            deal_ids: deal_ids_of(contact)
                .into_iter()
                .filter(|d| live_deals.contains(d.as_str()))
                .collect(),
        })
        .collect();
    let records: Vec<CrmRecord> = companies.into_iter().chain(deals).collect();
    state
        .store
        .save_crm_contexts(connector.id, &records, &contexts)
        .await?;
    Ok(())
}

/// The company property list (with enumeration options, for labels) is read once
/// per connector; a failure only means raw values until the next refresh.
async fn ensure_company_labels(state: &AppState, connector: &Connector, client: &HubspotClient) {
    if let Err(e) =
        crate::sync::properties::cached(state, connector, client, keva_core::ObjectKind::Company)
            .await
    {
        tracing::warn!(error = %e, "could not read the company properties for labels");
    }
}

/// After a customer's sync: refreshes its context (when enabled). A failure is
/// logged, never the sync's: the stored context stays and the next sync retries.
pub async fn refresh_after_sync(state: &AppState, connector: &Connector, contact_id: &str) {
    let result = async {
        if !super::settings::load(state, connector.id).await?.enabled {
            return Ok(());
        }
        let Some(link) = state
            .store
            .link_by_hubspot_id(connector.id, contact_id)
            .await?
        else {
            return Ok(());
        };
        let client = state.clients.client(state, connector).await?;
        refresh_contexts(
            state,
            connector,
            &client,
            &[(link.customer_id, contact_id.to_string())],
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, connector = %connector.id, "could not refresh the CRM context");
    }
}
