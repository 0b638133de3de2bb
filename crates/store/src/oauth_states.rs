//! OAuth authorize states: random, single-use, bound to a workspace (and, when
//! started from the console, to the person), short-lived.
//! Only the state's SHA-256 (hex) is stored; the caller hashes. Consuming is one
//! `UPDATE … WHERE consumed_at IS NULL RETURNING`, so two concurrent callbacks
//! with the same state cannot both get it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

pub(crate) const INSERT_OAUTH_STATE: &str =
    "INSERT INTO oauth_states (state_hash, workspace_id, return_to, created_at, expires_at, \
     user_id) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const CONSUME_OAUTH_STATE: &str = "UPDATE oauth_states SET consumed_at = $2 \
     WHERE state_hash = $1 AND consumed_at IS NULL \
     RETURNING state_hash, workspace_id, return_to, created_at, expires_at, user_id";
pub(crate) const PURGE_OAUTH_STATES: &str = "DELETE FROM oauth_states WHERE expires_at < $1";

/// A consumed authorize state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// The stored SHA-256 hex of the state (for a constant-time re-check).
    pub state_hash: String,
    pub workspace_id: Uuid,
    pub return_to: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The console user who started it; `None` when started with an API key.
    pub user_id: Option<Uuid>,
}

impl OAuthState {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OAuthStateRow {
    pub state_hash: String,
    pub workspace_id: DbId,
    pub return_to: Option<String>,
    pub created_at: DbTime,
    pub expires_at: DbTime,
    pub user_id: Option<DbId>,
}

impl From<OAuthStateRow> for OAuthState {
    fn from(r: OAuthStateRow) -> Self {
        OAuthState {
            state_hash: r.state_hash,
            workspace_id: r.workspace_id.0,
            return_to: r.return_to,
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            user_id: r.user_id.map(|u| u.0),
        }
    }
}

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_oauth_state(
                &self,
                state_hash: &str,
                workspace_id: uuid::Uuid,
                return_to: Option<&str>,
                expires_at: chrono::DateTime<chrono::Utc>,
                user_id: Option<uuid::Uuid>,
            ) -> Result<(), $crate::StoreError> {
                let now = $crate::codec::now();
                // Expired states are of no use to anyone: drop them on the way.
                sqlx::query::<$db>($crate::oauth_states::PURGE_OAUTH_STATES)
                    .bind($crate::codec::DbTime(now - chrono::Duration::hours(1)))
                    .execute(self.writer())
                    .await?;
                sqlx::query::<$db>($crate::oauth_states::INSERT_OAUTH_STATE)
                    .bind(state_hash)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(return_to)
                    .bind($crate::codec::DbTime(now))
                    .bind($crate::codec::DbTime::from(expires_at))
                    .bind(user_id.map($crate::codec::DbId))
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || "duplicate OAuth state".to_string())
                    })?;
                Ok(())
            }

            pub async fn consume_oauth_state(
                &self,
                state_hash: &str,
            ) -> Result<Option<$crate::OAuthState>, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::oauth_states::OAuthStateRow>(
                    $crate::oauth_states::CONSUME_OAUTH_STATE,
                )
                .bind(state_hash)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?;
                Ok(row.map($crate::OAuthState::from))
            }
        }
    };
}

pub(crate) use queries;

impl crate::Store {
    /// Stores an authorize state by its SHA-256 hex (expired ones are purged),
    /// bound to `user_id` when a console user started it.
    #[tracing::instrument(skip(self, state_hash, return_to))]
    pub async fn insert_oauth_state(
        &self,
        state_hash: &str,
        workspace_id: Uuid,
        return_to: Option<&str>,
        expires_at: DateTime<Utc>,
        user_id: Option<Uuid>,
    ) -> Result<(), StoreError> {
        dispatch!(self.insert_oauth_state(state_hash, workspace_id, return_to, expires_at, user_id))
    }

    /// Marks the state used and returns it, once: `None` if it is unknown or was
    /// already consumed. Expiry is the caller's check (an expired state is consumed
    /// too).
    #[tracing::instrument(skip(self, state_hash))]
    pub async fn consume_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<OAuthState>, StoreError> {
        dispatch!(self.consume_oauth_state(state_hash))
    }
}
