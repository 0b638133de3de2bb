//! B2B context from HubSpot: companies and deals stored once per HubSpot record per
//! connector (`crm_records`), each customer's context (`crm_contexts`: when and
//! from which contact it was read; `crm_context_links`: its company and deals), the
//! deal pipelines cache and the per-connector context settings.
//!
//! A context is replaced whole (`save_crm_contexts`, one transaction per batch of
//! customers), so a removed association disappears with the next refresh; a
//! webhook for one company or deal updates or deletes only that record.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

pub(crate) const UPSERT_RECORD: &str =
    "INSERT INTO crm_records (connector_id, object, hubspot_id, properties, fetched_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id, object, hubspot_id) DO UPDATE SET \
     properties = excluded.properties, fetched_at = excluded.fetched_at";

pub(crate) const UPDATE_RECORD: &str = "UPDATE crm_records SET properties = $4, fetched_at = $5 \
     WHERE connector_id = $1 AND object = $2 AND hubspot_id = $3";

pub(crate) const DELETE_RECORD: &str =
    "DELETE FROM crm_records WHERE connector_id = $1 AND object = $2 AND hubspot_id = $3";

pub(crate) const DELETE_RECORD_LINKS: &str =
    "DELETE FROM crm_context_links WHERE connector_id = $1 AND object = $2 AND hubspot_id = $3";

pub(crate) const UPSERT_CONTEXT: &str =
    "INSERT INTO crm_contexts (connector_id, customer_id, contact_id, fetched_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (connector_id, customer_id) DO UPDATE SET \
     contact_id = excluded.contact_id, fetched_at = excluded.fetched_at";

pub(crate) const DELETE_LINKS: &str =
    "DELETE FROM crm_context_links WHERE connector_id = $1 AND customer_id = $2";

pub(crate) const INSERT_LINK: &str =
    "INSERT INTO crm_context_links (connector_id, customer_id, object, hubspot_id) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

pub(crate) const CONTEXT: &str =
    "SELECT contact_id, fetched_at FROM crm_contexts WHERE connector_id = $1 AND customer_id = $2";

pub(crate) const CONTEXT_RECORDS: &str =
    "SELECT r.object, r.hubspot_id, r.properties, r.fetched_at FROM crm_context_links l \
     JOIN crm_records r ON r.connector_id = l.connector_id AND r.object = l.object \
     AND r.hubspot_id = l.hubspot_id \
     WHERE l.connector_id = $1 AND l.customer_id = $2 ORDER BY r.object, r.hubspot_id";

pub(crate) const LINKED_TO_RECORD: &str =
    "SELECT c.customer_id, c.contact_id FROM crm_context_links l \
     JOIN crm_contexts c ON c.connector_id = l.connector_id AND c.customer_id = l.customer_id \
     WHERE l.connector_id = $1 AND l.object = $2 AND l.hubspot_id = $3 ORDER BY c.customer_id";

pub(crate) const BY_CONTACT: &str =
    "SELECT customer_id, contact_id FROM crm_contexts WHERE connector_id = $1 AND contact_id = $2";

pub(crate) const COUNT_RECORDS: &str =
    "SELECT COUNT(*) FROM crm_records WHERE connector_id = $1 AND object = $2";

pub(crate) const PIPELINES: &str =
    "SELECT pipelines, fetched_at FROM crm_pipelines WHERE connector_id = $1";

pub(crate) const SAVE_PIPELINES: &str =
    "INSERT INTO crm_pipelines (connector_id, pipelines, fetched_at) VALUES ($1, $2, $3) \
     ON CONFLICT (connector_id) DO UPDATE SET pipelines = excluded.pipelines, \
     fetched_at = excluded.fetched_at";

pub(crate) const SETTINGS: &str =
    "SELECT enabled, status_rules, company_properties, updated_at FROM crm_context_settings \
     WHERE connector_id = $1";

pub(crate) const SAVE_SETTINGS: &str =
    "INSERT INTO crm_context_settings (connector_id, enabled, status_rules, company_properties, \
     updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id) DO UPDATE SET \
     enabled = excluded.enabled, status_rules = excluded.status_rules, \
     company_properties = excluded.company_properties, updated_at = excluded.updated_at";

// --- records -----------------------------------------------------------------

/// Which kind of HubSpot record a stored one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrmObject {
    Company,
    Deal,
}

impl CrmObject {
    pub fn as_str(self) -> &'static str {
        match self {
            CrmObject::Company => "company",
            CrmObject::Deal => "deal",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "company" => Some(CrmObject::Company),
            "deal" => Some(CrmObject::Deal),
            _ => None,
        }
    }
}

/// A company or deal as HubSpot sent it (property values as strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmRecord {
    pub object: CrmObject,
    pub hubspot_id: String,
    pub properties: BTreeMap<String, Option<String>>,
}

/// A customer's freshly read context: its contact, primary company and deals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCrmContext {
    pub customer_id: Uuid,
    pub contact_id: String,
    pub company_id: Option<String>,
    pub deal_ids: Vec<String>,
}

/// A customer's stored context with its records.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCrmContext {
    pub contact_id: String,
    pub company: Option<CrmRecord>,
    pub deals: Vec<CrmRecord>,
    pub fetched_at: DateTime<Utc>,
}

/// Whether a connector reads context, its status rules as saved (JSON) and the
/// company properties it shows beyond the default ones.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmContextSettings {
    pub enabled: bool,
    pub status_rules: serde_json::Value,
    pub company_properties: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ContextRow {
    pub contact_id: String,
    pub fetched_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RecordRow {
    pub object: String,
    pub hubspot_id: String,
    pub properties: Json<BTreeMap<String, Option<String>>>,
    #[allow(dead_code)]
    pub fetched_at: DbTime,
}

impl TryFrom<RecordRow> for CrmRecord {
    type Error = sqlx::Error;
    fn try_from(r: RecordRow) -> Result<Self, Self::Error> {
        Ok(CrmRecord {
            object: crate::db::parse("crm object", &r.object, CrmObject::parse)?,
            hubspot_id: r.hubspot_id,
            properties: r.properties.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LinkedRow {
    pub customer_id: DbId,
    pub contact_id: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SettingsRow {
    pub enabled: bool,
    pub status_rules: Json<serde_json::Value>,
    pub company_properties: Json<Vec<String>>,
    pub updated_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PipelinesRow {
    pub pipelines: Json<serde_json::Value>,
    pub fetched_at: DbTime,
}

/// Assembles a stored context from its row and its records.
pub(crate) fn assemble(row: ContextRow, records: Vec<CrmRecord>) -> StoredCrmContext {
    let mut company = None;
    let mut deals = Vec::new();
    for r in records {
        match r.object {
            CrmObject::Company => company = company.or(Some(r)),
            CrmObject::Deal => deals.push(r),
        }
    }
    StoredCrmContext {
        contact_id: row.contact_id,
        company,
        deals,
        fetched_at: row.fetched_at.0,
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn save_crm_contexts(
                &self,
                connector_id: uuid::Uuid,
                records: &[$crate::crm_context::CrmRecord],
                contexts: &[$crate::crm_context::NewCrmContext],
            ) -> Result<(), $crate::StoreError> {
                use $crate::codec::{DbId, DbTime};
                let now = DbTime($crate::codec::now());
                let mut tx = self.begin_write().await?;
                for r in records {
                    sqlx::query::<$db>($crate::crm_context::UPSERT_RECORD)
                        .bind(DbId(connector_id))
                        .bind(r.object.as_str())
                        .bind(&r.hubspot_id)
                        .bind(sqlx::types::Json(&r.properties))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                for c in contexts {
                    sqlx::query::<$db>($crate::crm_context::UPSERT_CONTEXT)
                        .bind(DbId(connector_id))
                        .bind(DbId(c.customer_id))
                        .bind(&c.contact_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query::<$db>($crate::crm_context::DELETE_LINKS)
                        .bind(DbId(connector_id))
                        .bind(DbId(c.customer_id))
                        .execute(&mut *tx)
                        .await?;
                    let links = c
                        .company_id
                        .iter()
                        .map(|id| ($crate::crm_context::CrmObject::Company, id))
                        .chain(
                            c.deal_ids
                                .iter()
                                .map(|id| ($crate::crm_context::CrmObject::Deal, id)),
                        );
                    for (object, id) in links {
                        sqlx::query::<$db>($crate::crm_context::INSERT_LINK)
                            .bind(DbId(connector_id))
                            .bind(DbId(c.customer_id))
                            .bind(object.as_str())
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn crm_context(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
            ) -> Result<Option<$crate::crm_context::StoredCrmContext>, $crate::StoreError> {
                use $crate::codec::DbId;
                let Some(row) = sqlx::query_as::<$db, $crate::crm_context::ContextRow>(
                    $crate::crm_context::CONTEXT,
                )
                .bind(DbId(connector_id))
                .bind(DbId(customer_id))
                .fetch_optional(self.reader())
                .await?
                else {
                    return Ok(None);
                };
                let records: Vec<$crate::crm_context::CrmRecord> =
                    sqlx::query_as::<$db, $crate::crm_context::RecordRow>(
                        $crate::crm_context::CONTEXT_RECORDS,
                    )
                    .bind(DbId(connector_id))
                    .bind(DbId(customer_id))
                    .fetch_all(self.reader())
                    .await?
                    .decode()?;
                Ok(Some($crate::crm_context::assemble(row, records)))
            }

            pub async fn update_crm_record(
                &self,
                connector_id: uuid::Uuid,
                record: &$crate::crm_context::CrmRecord,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::crm_context::UPDATE_RECORD)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(record.object.as_str())
                    .bind(&record.hubspot_id)
                    .bind(sqlx::types::Json(&record.properties))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            pub async fn delete_crm_record(
                &self,
                connector_id: uuid::Uuid,
                object: $crate::crm_context::CrmObject,
                hubspot_id: &str,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                for sql in [
                    $crate::crm_context::DELETE_RECORD_LINKS,
                    $crate::crm_context::DELETE_RECORD,
                ] {
                    sqlx::query::<$db>(sql)
                        .bind($crate::codec::DbId(connector_id))
                        .bind(object.as_str())
                        .bind(hubspot_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn customers_linked_to_crm_record(
                &self,
                connector_id: uuid::Uuid,
                object: $crate::crm_context::CrmObject,
                hubspot_id: &str,
            ) -> Result<Vec<(uuid::Uuid, String)>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::crm_context::LinkedRow>(
                    $crate::crm_context::LINKED_TO_RECORD,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(object.as_str())
                .bind(hubspot_id)
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(|r| (r.customer_id.0, r.contact_id))
                .collect())
            }

            pub async fn crm_contexts_of_contact(
                &self,
                connector_id: uuid::Uuid,
                contact_id: &str,
            ) -> Result<Vec<(uuid::Uuid, String)>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::crm_context::LinkedRow>(
                    $crate::crm_context::BY_CONTACT,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(contact_id)
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(|r| (r.customer_id.0, r.contact_id))
                .collect())
            }

            pub async fn count_crm_records(
                &self,
                connector_id: uuid::Uuid,
                object: $crate::crm_context::CrmObject,
            ) -> Result<u64, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar::<$db, i64>($crate::crm_context::COUNT_RECORDS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(object.as_str())
                    .fetch_one(self.reader())
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            pub async fn crm_pipelines(
                &self,
                connector_id: uuid::Uuid,
            ) -> Result<
                Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)>,
                $crate::StoreError,
            > {
                Ok(sqlx::query_as::<$db, $crate::crm_context::PipelinesRow>(
                    $crate::crm_context::PIPELINES,
                )
                .bind($crate::codec::DbId(connector_id))
                .fetch_optional(self.reader())
                .await?
                .map(|r| (r.pipelines.0, r.fetched_at.0)))
            }

            pub async fn save_crm_pipelines(
                &self,
                connector_id: uuid::Uuid,
                pipelines: &serde_json::Value,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::crm_context::SAVE_PIPELINES)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(sqlx::types::Json(pipelines))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await
                    .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(())
            }

            pub async fn crm_context_settings(
                &self,
                connector_id: uuid::Uuid,
            ) -> Result<Option<$crate::crm_context::CrmContextSettings>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::crm_context::SettingsRow>(
                    $crate::crm_context::SETTINGS,
                )
                .bind($crate::codec::DbId(connector_id))
                .fetch_optional(self.reader())
                .await?
                .map(|r| $crate::crm_context::CrmContextSettings {
                    enabled: r.enabled,
                    status_rules: r.status_rules.0,
                    company_properties: r.company_properties.0,
                    updated_at: r.updated_at.0,
                }))
            }

            pub async fn save_crm_context_settings(
                &self,
                connector_id: uuid::Uuid,
                enabled: bool,
                status_rules: &serde_json::Value,
                company_properties: &[String],
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::crm_context::SAVE_SETTINGS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(enabled)
                    .bind(sqlx::types::Json(status_rules))
                    .bind(sqlx::types::Json(company_properties))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await
                    .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(())
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Upserts the records and replaces each customer's context, in one transaction.
    #[tracing::instrument(skip_all, fields(records = records.len(), contexts = contexts.len()))]
    pub async fn save_crm_contexts(
        &self,
        connector_id: Uuid,
        records: &[CrmRecord],
        contexts: &[NewCrmContext],
    ) -> Result<(), StoreError> {
        dispatch!(self.save_crm_contexts(connector_id, records, contexts))
    }

    /// The customer's stored context (records deleted since are left out).
    #[tracing::instrument(skip(self))]
    pub async fn crm_context(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
    ) -> Result<Option<StoredCrmContext>, StoreError> {
        dispatch!(self.crm_context(connector_id, customer_id))
    }

    /// Replaces a stored record's values; false when it is not stored (no customer's
    /// context uses it, so there is nothing to update).
    #[tracing::instrument(skip(self, record))]
    pub async fn update_crm_record(
        &self,
        connector_id: Uuid,
        record: &CrmRecord,
    ) -> Result<bool, StoreError> {
        dispatch!(self.update_crm_record(connector_id, record))
    }

    /// Forgets a record deleted in HubSpot and drops it from every context.
    #[tracing::instrument(skip(self))]
    pub async fn delete_crm_record(
        &self,
        connector_id: Uuid,
        object: CrmObject,
        hubspot_id: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self.delete_crm_record(connector_id, object, hubspot_id))
    }

    /// (customer, contact) of every context that includes the record.
    #[tracing::instrument(skip(self))]
    pub async fn customers_linked_to_crm_record(
        &self,
        connector_id: Uuid,
        object: CrmObject,
        hubspot_id: &str,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        dispatch!(self.customers_linked_to_crm_record(connector_id, object, hubspot_id))
    }

    /// (customer, contact) of the contexts read from this contact.
    #[tracing::instrument(skip(self))]
    pub async fn crm_contexts_of_contact(
        &self,
        connector_id: Uuid,
        contact_id: &str,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        dispatch!(self.crm_contexts_of_contact(connector_id, contact_id))
    }

    /// How many companies (or deals) the connector stores.
    #[tracing::instrument(skip(self))]
    pub async fn count_crm_records(
        &self,
        connector_id: Uuid,
        object: CrmObject,
    ) -> Result<u64, StoreError> {
        dispatch!(self.count_crm_records(connector_id, object))
    }

    /// The cached deal pipelines (as HubSpot's `results`) and when they were read.
    #[tracing::instrument(skip(self))]
    pub async fn crm_pipelines(
        &self,
        connector_id: Uuid,
    ) -> Result<Option<(serde_json::Value, DateTime<Utc>)>, StoreError> {
        dispatch!(self.crm_pipelines(connector_id))
    }

    #[tracing::instrument(skip(self, pipelines))]
    pub async fn save_crm_pipelines(
        &self,
        connector_id: Uuid,
        pipelines: &serde_json::Value,
    ) -> Result<(), StoreError> {
        dispatch!(self.save_crm_pipelines(connector_id, pipelines))
    }

    #[tracing::instrument(skip(self))]
    pub async fn crm_context_settings(
        &self,
        connector_id: Uuid,
    ) -> Result<Option<CrmContextSettings>, StoreError> {
        dispatch!(self.crm_context_settings(connector_id))
    }

    #[tracing::instrument(skip(self, status_rules, company_properties))]
    pub async fn save_crm_context_settings(
        &self,
        connector_id: Uuid,
        enabled: bool,
        status_rules: &serde_json::Value,
        company_properties: &[String],
    ) -> Result<(), StoreError> {
        dispatch!(self.save_crm_context_settings(
            connector_id,
            enabled,
            status_rules,
            company_properties
        ))
    }
}
