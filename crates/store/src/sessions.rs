//! Console sessions and one-time sign-in links, stored by the SHA-256 of their
//! token only (the server mints and hashes them), so a database leak does not leak
//! a usable cookie or link. A session is valid while it is unexpired and not
//! revoked; a sign-in link is consumed by one `UPDATE … RETURNING`, so two
//! concurrent uses cannot both succeed.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{StoreError, User};

// --- SQL ----------------------------------------------------------------------

pub(crate) const INSERT_SESSION: &str =
    "INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";
/// The user behind a live session.
pub(crate) const SESSION_USER: &str =
    "SELECT u.id, u.workspace_id, u.email, u.role, u.password_hash IS NOT NULL AS has_password, \
     u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.kind = 'session' AND s.revoked_at IS NULL AND s.expires_at > $2";
/// Marks a live link used; the user id comes back once.
pub(crate) const CONSUME_LINK: &str = "UPDATE sessions SET revoked_at = $2 \
     WHERE token_hash = $1 AND kind = 'sign_in_link' AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING user_id";
pub(crate) const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) \
     WHERE token_hash = $1";
pub(crate) const REVOKE_USER_SESSIONS: &str =
    "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";
/// Dead rows are of no use: dropped a day after they stopped working.
pub(crate) const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < $1";

// --- records -----------------------------------------------------------------

/// What a stored token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A signed-in browser (the cookie).
    Session,
    /// A one-time sign-in link (printed by the CLI or the quickstart).
    SignInLink,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Session => "session",
            SessionKind::SignInLink => "sign_in_link",
        }
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_session(
                &self,
                token_hash: &[u8; 32],
                user_id: uuid::Uuid,
                kind: $crate::SessionKind,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                let now = $crate::codec::now();
                sqlx::query::<$db>($crate::sessions::PURGE_SESSIONS)
                    .bind($crate::codec::DbTime(now - chrono::Duration::days(1)))
                    .execute(self.writer())
                    .await?;
                sqlx::query::<$db>($crate::sessions::INSERT_SESSION)
                    .bind(token_hash.to_vec())
                    .bind($crate::codec::DbId(user_id))
                    .bind(kind.as_str())
                    .bind($crate::codec::DbTime(now))
                    .bind($crate::codec::DbTime::from(expires_at))
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || "duplicate session token".to_string())
                    })?;
                Ok(())
            }

            pub async fn session_user(
                &self,
                token_hash: &[u8; 32],
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::users::UserRow>($crate::sessions::SESSION_USER)
                    .bind(token_hash.to_vec())
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn consume_sign_in_link(
                &self,
                token_hash: &[u8; 32],
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                let row: Option<($crate::codec::DbId,)> =
                    sqlx::query_as::<$db, ($crate::codec::DbId,)>($crate::sessions::CONSUME_LINK)
                        .bind(token_hash.to_vec())
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .fetch_optional(self.writer())
                        .await?;
                let Some((user_id,)) = row else {
                    return Ok(None);
                };
                // Through the writer: on SQLite it has certainly seen the user row.
                sqlx::query_as::<$db, $crate::users::UserRow>($crate::users::USER_BY_ID)
                    .bind(user_id)
                    .fetch_optional(self.writer())
                    .await?
                    .decode()
            }

            pub async fn revoke_session(
                &self,
                token_hash: &[u8; 32],
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::sessions::REVOKE_SESSION)
                    .bind(token_hash.to_vec())
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            pub async fn revoke_user_sessions(
                &self,
                user_id: uuid::Uuid,
            ) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::sessions::REVOKE_USER_SESSIONS)
                    .bind($crate::codec::DbId(user_id))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Stores a session or sign-in link by its token's SHA-256 (rows dead for a day
    /// are purged on the way). `NotFound` for an unknown user.
    #[tracing::instrument(skip(self, token_hash))]
    pub async fn insert_session(
        &self,
        token_hash: &[u8; 32],
        user_id: Uuid,
        kind: SessionKind,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self.insert_session(token_hash, user_id, kind, expires_at))
    }

    /// The user of a live (unexpired, unrevoked) session; `None` otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn session_user(&self, token_hash: &[u8; 32]) -> Result<Option<User>, StoreError> {
        dispatch!(self.session_user(token_hash))
    }

    /// Uses a sign-in link: its user, once; `None` if unknown, used or expired.
    #[tracing::instrument(skip_all)]
    pub async fn consume_sign_in_link(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<User>, StoreError> {
        dispatch!(self.consume_sign_in_link(token_hash))
    }

    /// Ends a session (signing out); unknown tokens are ignored.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        dispatch!(self.revoke_session(token_hash))
    }

    /// Ends every session and unused link of a user; how many.
    #[tracing::instrument(skip(self))]
    pub async fn revoke_user_sessions(&self, user_id: Uuid) -> Result<u64, StoreError> {
        dispatch!(self.revoke_user_sessions(user_id))
    }
}
