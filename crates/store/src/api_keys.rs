//! API keys, stored by SHA-256 hash only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `ApiKeyRow` (the hash is written, never read back).
macro_rules! api_key_columns {
    () => {
        "id, workspace_id, prefix, created_at, last_used_at, revoked_at"
    };
}

pub(crate) const INSERT_API_KEY: &str = concat!(
    "INSERT INTO api_keys (id, workspace_id, hash, prefix, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING ",
    api_key_columns!()
);
pub(crate) const API_KEY_BY_HASH: &str = concat!(
    "SELECT ",
    api_key_columns!(),
    " FROM api_keys WHERE hash = $1"
);
pub(crate) const TOUCH_API_KEY: &str = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2";
/// Revoking twice keeps the first revocation time.
pub(crate) const REVOKE_API_KEY: &str =
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
     WHERE id = $2 AND workspace_id = $3";
pub(crate) const LIST_API_KEYS: &str = concat!(
    "SELECT ",
    api_key_columns!(),
    " FROM api_keys WHERE workspace_id = $1 ORDER BY id"
);

// --- records -----------------------------------------------------------------

/// An API key's stored metadata. The plaintext key is never stored, only its
/// SHA-256 hash (which is not part of this struct, so it cannot leak through it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The first characters of the key, shown in lists so users can tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub prefix: String,
    pub created_at: DbTime,
    pub last_used_at: Option<DbTime>,
    pub revoked_at: Option<DbTime>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            prefix: r.prefix,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.map(|t| t.0),
            revoked_at: r.revoked_at.map(|t| t.0),
        }
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_api_key(
                &self,
                workspace_id: uuid::Uuid,
                prefix: &str,
                hash: &[u8; 32],
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::api_keys::ApiKeyRow>($crate::api_keys::INSERT_API_KEY)
                    .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(hash.to_vec())
                    .bind(prefix)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_one(self.writer())
                    .await
                    .map(Into::into)
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || "this API key already exists".into())
                    })
            }

            pub async fn api_key_by_hash(
                &self,
                hash: &[u8; 32],
            ) -> Result<Option<$crate::ApiKey>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::api_keys::ApiKeyRow>(
                    $crate::api_keys::API_KEY_BY_HASH,
                )
                .bind(hash.to_vec())
                .fetch_optional(self.reader())
                .await?
                .decode()
            }

            pub async fn touch_api_key(&self, id: uuid::Uuid) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::api_keys::TOUCH_API_KEY)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .bind($crate::codec::DbId(id))
                    .execute(self.writer())
                    .await?;
                $crate::db::found(done.rows_affected())
            }

            pub async fn revoke_api_key(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::api_keys::REVOKE_API_KEY)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .bind($crate::codec::DbId(id))
                    .bind($crate::codec::DbId(workspace_id))
                    .execute(self.writer())
                    .await?;
                $crate::db::found(done.rows_affected())
            }

            pub async fn list_api_keys(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::api_keys::ApiKeyRow>($crate::api_keys::LIST_API_KEYS)
                    .bind($crate::codec::DbId(workspace_id))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Stores a key by its SHA-256 hash; `prefix` is for display only.
    /// `NotFound` if the workspace does not exist.
    #[tracing::instrument(skip(self, hash))]
    pub async fn insert_api_key(
        &self,
        workspace_id: Uuid,
        prefix: &str,
        hash: &[u8; 32],
    ) -> Result<ApiKey, StoreError> {
        dispatch!(self.insert_api_key(workspace_id, prefix, hash))
    }

    /// The key with this hash, revoked or not (the caller checks `revoked_at`).
    #[tracing::instrument(skip_all)]
    pub async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        dispatch!(self.api_key_by_hash(hash))
    }

    /// Sets `last_used_at` to now. `NotFound` for an unknown id.
    #[tracing::instrument(skip(self))]
    pub async fn touch_api_key(&self, id: Uuid) -> Result<(), StoreError> {
        dispatch!(self.touch_api_key(id))
    }

    /// `NotFound` unless the key belongs to `workspace_id`. Revoking a revoked key
    /// keeps its first revocation time.
    #[tracing::instrument(skip(self))]
    pub async fn revoke_api_key(&self, workspace_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        dispatch!(self.revoke_api_key(workspace_id, id))
    }

    #[tracing::instrument(skip(self))]
    pub async fn list_api_keys(&self, workspace_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        dispatch!(self.list_api_keys(workspace_id))
    }
}
