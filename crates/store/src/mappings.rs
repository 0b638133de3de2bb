//! A connector's saved field mappings and its cached HubSpot property list.

use chrono::{DateTime, Utc};
use keva_core::{FieldMapping, ObjectKind, PropertyInfo};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::DbTime;
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

pub(crate) const MAPPINGS: &str =
    "SELECT mappings, issues, updated_at FROM connector_mappings WHERE connector_id = $1 AND object = $2";

pub(crate) const SAVE_MAPPINGS: &str =
    "INSERT INTO connector_mappings (connector_id, object, mappings, issues, updated_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id, object) DO UPDATE SET \
     mappings = excluded.mappings, issues = excluded.issues, updated_at = excluded.updated_at";

pub(crate) const PROPERTY_CACHE: &str =
    "SELECT properties, fetched_at FROM property_cache WHERE connector_id = $1 AND object = $2";

pub(crate) const SAVE_PROPERTY_CACHE: &str =
    "INSERT INTO property_cache (connector_id, object, properties, fetched_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (connector_id, object) DO UPDATE SET \
     properties = excluded.properties, fetched_at = excluded.fetched_at";

// --- records -----------------------------------------------------------------

/// A connector's saved mappings for one object type, with the validation issues
/// found when they were saved (as the caller built them, e.g. "property missing").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMappings {
    pub mappings: Vec<FieldMapping>,
    pub issues: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

/// A connector's cached property list and when it was fetched.
pub type CachedProperties = (Vec<keva_core::PropertyInfo>, DateTime<Utc>);

#[derive(sqlx::FromRow)]
pub(crate) struct MappingsRow {
    pub mappings: Json<Vec<FieldMapping>>,
    pub issues: Json<serde_json::Value>,
    pub updated_at: DbTime,
}

impl From<MappingsRow> for StoredMappings {
    fn from(r: MappingsRow) -> Self {
        StoredMappings {
            mappings: r.mappings.0,
            issues: r.issues.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PropertyCacheRow {
    pub properties: Json<Vec<PropertyInfo>>,
    pub fetched_at: DbTime,
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn mappings(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
            ) -> Result<Option<$crate::StoredMappings>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::mappings::MappingsRow>($crate::mappings::MAPPINGS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(object.as_str())
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn save_mappings(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
                mappings: &[keva_core::FieldMapping],
                issues: &serde_json::Value,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::mappings::SAVE_MAPPINGS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(object.as_str())
                    .bind(sqlx::types::Json(mappings))
                    .bind(sqlx::types::Json(issues))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await
                    .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(())
            }

            pub async fn property_cache(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
            ) -> Result<Option<$crate::CachedProperties>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::mappings::PropertyCacheRow>(
                    $crate::mappings::PROPERTY_CACHE,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(object.as_str())
                .fetch_optional(self.reader())
                .await?
                .map(|r| (r.properties.0, r.fetched_at.0)))
            }

            pub async fn save_property_cache(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
                properties: &[keva_core::PropertyInfo],
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::mappings::SAVE_PROPERTY_CACHE)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(object.as_str())
                    .bind(sqlx::types::Json(properties))
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
    #[tracing::instrument(skip(self))]
    pub async fn mappings(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
    ) -> Result<Option<StoredMappings>, StoreError> {
        dispatch!(self.mappings(connector_id, object))
    }

    /// Replaces the connector's mappings for `object`. `NotFound` for an unknown
    /// connector.
    #[tracing::instrument(skip(self, mappings, issues))]
    pub async fn save_mappings(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
        mappings: &[FieldMapping],
        issues: &serde_json::Value,
    ) -> Result<(), StoreError> {
        dispatch!(self.save_mappings(connector_id, object, mappings, issues))
    }

    /// The cached property list and when it was fetched.
    #[tracing::instrument(skip(self))]
    pub async fn property_cache(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
    ) -> Result<Option<CachedProperties>, StoreError> {
        dispatch!(self.property_cache(connector_id, object))
    }

    #[tracing::instrument(skip(self, properties))]
    pub async fn save_property_cache(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
        properties: &[PropertyInfo],
    ) -> Result<(), StoreError> {
        dispatch!(self.save_property_cache(connector_id, object, properties))
    }
}
