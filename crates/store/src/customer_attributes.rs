//! A workspace's custom customer attribute definitions (`customer_attributes`).
//! The store keeps them; the rules (key syntax, types, what may change) are the
//! API's. A retired definition stays, so its key is never reused.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

pub(crate) const INSERT_ATTRIBUTE: &str = "INSERT INTO customer_attributes \
     (workspace_id, key, label, kind, description, options, retired_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $7) \
     RETURNING workspace_id, key, label, kind, description, options, retired_at, created_at, updated_at";

pub(crate) const ATTRIBUTES: &str = "SELECT workspace_id, key, label, kind, description, options, retired_at, created_at, updated_at \
     FROM customer_attributes WHERE workspace_id = $1 AND ($2 OR retired_at IS NULL) ORDER BY key";

pub(crate) const ATTRIBUTE: &str = "SELECT workspace_id, key, label, kind, description, options, retired_at, created_at, updated_at \
     FROM customer_attributes WHERE workspace_id = $1 AND key = $2";

pub(crate) const UPDATE_ATTRIBUTE: &str = "UPDATE customer_attributes SET label = $3, \
     description = $4, options = $5, updated_at = $6 WHERE workspace_id = $1 AND key = $2 \
     RETURNING workspace_id, key, label, kind, description, options, retired_at, created_at, updated_at";

pub(crate) const RETIRE_ATTRIBUTE: &str = "UPDATE customer_attributes \
     SET retired_at = COALESCE(retired_at, $3), updated_at = $3 \
     WHERE workspace_id = $1 AND key = $2 RETURNING workspace_id, key, label, kind, description, options, retired_at, created_at, updated_at";

// --- records -----------------------------------------------------------------

/// A custom attribute definition as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDefinition {
    pub workspace_id: Uuid,
    pub key: String,
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `boolean`, `enum`, `multi_enum`.
    pub kind: String,
    pub description: Option<String>,
    /// Option values of an `enum` / `multi_enum`.
    pub options: Vec<String>,
    /// When it was retired: its values are kept but hidden and unwritable.
    pub retired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A definition to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttribute {
    pub key: String,
    pub label: String,
    pub kind: String,
    pub description: Option<String>,
    pub options: Vec<String>,
}

/// The parts of a definition that may change (the whole new value of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeUpdate {
    pub label: String,
    pub description: Option<String>,
    pub options: Vec<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AttributeRow {
    pub workspace_id: DbId,
    pub key: String,
    pub label: String,
    pub kind: String,
    pub description: Option<String>,
    pub options: String,
    pub retired_at: Option<DbTime>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

impl TryFrom<AttributeRow> for AttributeDefinition {
    type Error = StoreError;

    fn try_from(r: AttributeRow) -> Result<Self, StoreError> {
        let options: Vec<String> = serde_json::from_str(&r.options).map_err(|e| {
            StoreError::Database(crate::db::decode_error(format!(
                "customer_attributes.options of {:?}: {e}",
                r.key
            )))
        })?;
        Ok(AttributeDefinition {
            workspace_id: r.workspace_id.0,
            key: r.key,
            label: r.label,
            kind: r.kind,
            description: r.description,
            options,
            retired_at: r.retired_at.map(|t| t.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

impl AttributeDefinition {
    /// What validation and the sync need of the definition. The definitions API
    /// only stores known types; an unknown one means the row was edited by hand,
    /// and failing loudly beats guessing.
    pub fn spec(&self) -> Result<keva_core::AttributeSpec, StoreError> {
        let kind: keva_core::automap::KevaFieldType =
            serde_json::from_value(serde_json::Value::String(self.kind.clone())).map_err(|_| {
                StoreError::Database(crate::db::decode_error(format!(
                    "attribute {:?} has unknown stored type {:?}",
                    self.key, self.kind
                )))
            })?;
        Ok(keva_core::AttributeSpec {
            key: self.key.clone(),
            kind,
            options: self.options.clone(),
            retired: self.retired_at.is_some(),
        })
    }
}

pub(crate) fn options_json(options: &[String]) -> String {
    serde_json::to_string(options).unwrap_or_else(|_| "[]".into())
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn create_attribute(
                &self,
                workspace_id: uuid::Uuid,
                new: &$crate::NewAttribute,
            ) -> Result<$crate::AttributeDefinition, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::customer_attributes::AttributeRow>(
                    $crate::customer_attributes::INSERT_ATTRIBUTE,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(&new.key)
                .bind(&new.label)
                .bind(&new.kind)
                .bind(&new.description)
                .bind($crate::customer_attributes::options_json(&new.options))
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(self.writer())
                .await
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        format!("attribute {:?} already exists (possibly retired)", new.key)
                    })
                })?;
                $crate::AttributeDefinition::try_from(row)
            }

            pub async fn list_attributes(
                &self,
                workspace_id: uuid::Uuid,
                include_retired: bool,
            ) -> Result<Vec<$crate::AttributeDefinition>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::customer_attributes::AttributeRow>(
                    $crate::customer_attributes::ATTRIBUTES,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(include_retired)
                .fetch_all(self.reader())
                .await?
                .decode()
            }

            pub async fn attribute(
                &self,
                workspace_id: uuid::Uuid,
                key: &str,
            ) -> Result<Option<$crate::AttributeDefinition>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::customer_attributes::AttributeRow>(
                    $crate::customer_attributes::ATTRIBUTE,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(key)
                .fetch_optional(self.reader())
                .await?
                .decode()
            }

            pub async fn update_attribute(
                &self,
                workspace_id: uuid::Uuid,
                key: &str,
                update: &$crate::AttributeUpdate,
            ) -> Result<$crate::AttributeDefinition, $crate::StoreError> {
                let row: Option<$crate::AttributeDefinition> =
                    sqlx::query_as::<$db, $crate::customer_attributes::AttributeRow>(
                        $crate::customer_attributes::UPDATE_ATTRIBUTE,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(key)
                    .bind(&update.label)
                    .bind(&update.description)
                    .bind($crate::customer_attributes::options_json(&update.options))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.writer())
                    .await?
                    .decode()?;
                row.ok_or($crate::StoreError::NotFound)
            }

            pub async fn retire_attribute(
                &self,
                workspace_id: uuid::Uuid,
                key: &str,
            ) -> Result<$crate::AttributeDefinition, $crate::StoreError> {
                let row: Option<$crate::AttributeDefinition> =
                    sqlx::query_as::<$db, $crate::customer_attributes::AttributeRow>(
                        $crate::customer_attributes::RETIRE_ATTRIBUTE,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(key)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.writer())
                    .await?
                    .decode()?;
                row.ok_or($crate::StoreError::NotFound)
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Creates a definition. `Conflict` when the key exists (retired or not),
    /// `NotFound` for an unknown workspace.
    #[tracing::instrument(skip(self))]
    pub async fn create_attribute(
        &self,
        workspace_id: Uuid,
        new: &NewAttribute,
    ) -> Result<AttributeDefinition, StoreError> {
        dispatch!(self.create_attribute(workspace_id, new))
    }

    /// The workspace's definitions by key; retired ones only when asked.
    #[tracing::instrument(skip(self))]
    pub async fn list_attributes(
        &self,
        workspace_id: Uuid,
        include_retired: bool,
    ) -> Result<Vec<AttributeDefinition>, StoreError> {
        dispatch!(self.list_attributes(workspace_id, include_retired))
    }

    /// The specs of every definition of the workspace, retired ones included
    /// (marked so): what attribute values and mappings are checked against.
    #[tracing::instrument(skip(self))]
    pub async fn attribute_specs(
        &self,
        workspace_id: Uuid,
    ) -> Result<Vec<keva_core::AttributeSpec>, StoreError> {
        self.list_attributes(workspace_id, true)
            .await?
            .iter()
            .map(AttributeDefinition::spec)
            .collect()
    }

    /// One definition, retired or not.
    #[tracing::instrument(skip(self))]
    pub async fn attribute(
        &self,
        workspace_id: Uuid,
        key: &str,
    ) -> Result<Option<AttributeDefinition>, StoreError> {
        dispatch!(self.attribute(workspace_id, key))
    }

    /// Replaces label, description and options (the type never changes here).
    /// `NotFound` for an unknown key.
    #[tracing::instrument(skip(self))]
    pub async fn update_attribute(
        &self,
        workspace_id: Uuid,
        key: &str,
        update: &AttributeUpdate,
    ) -> Result<AttributeDefinition, StoreError> {
        dispatch!(self.update_attribute(workspace_id, key, update))
    }

    /// Retires a definition (idempotent: the first retirement time stays).
    /// `NotFound` for an unknown key.
    #[tracing::instrument(skip(self))]
    pub async fn retire_attribute(
        &self,
        workspace_id: Uuid,
        key: &str,
    ) -> Result<AttributeDefinition, StoreError> {
        dispatch!(self.retire_attribute(workspace_id, key))
    }
}
