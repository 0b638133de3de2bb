//! The admin console's users: one per (workspace, email), with a role (`admin` or
//! `agent`) and an optional argon2 password hash (a PHC string the server makes;
//! this crate never sees a password). The hash is not part of `User`, so it cannot
//! leak through a record that is rendered or logged; `user_password_hash` reads it
//! for the one place that verifies it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

macro_rules! user_columns {
    () => {
        "id, workspace_id, email, role, password_hash IS NOT NULL AS has_password, created_at"
    };
}

pub(crate) const INSERT_USER: &str = concat!(
    "INSERT INTO users (id, workspace_id, email, email_normalized, role, password_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
    user_columns!()
);
pub(crate) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
pub(crate) const USER_BY_EMAIL: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE workspace_id = $1 AND email_normalized = $2"
);
pub(crate) const LIST_USERS: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE workspace_id = $1 ORDER BY email_normalized"
);
pub(crate) const USER_PASSWORD_HASH: &str = "SELECT password_hash FROM users WHERE id = $1";
pub(crate) const SET_USER_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";

// --- records -----------------------------------------------------------------

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Everything, settings included.
    Admin,
    /// Customers, tickets and Sync Now; no settings.
    Agent,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(UserRole::Admin),
            "agent" => Some(UserRole::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for UserRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A console user (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub role: UserRole,
    /// Whether a password is set (otherwise only sign-in links work).
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
}

/// How emails are compared: trimmed, lower-case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub email: String,
    pub role: String,
    pub has_password: bool,
    pub created_at: DbTime,
}

impl TryFrom<UserRow> for User {
    type Error = sqlx::Error;

    fn try_from(r: UserRow) -> Result<Self, sqlx::Error> {
        Ok(User {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            email: r.email,
            role: crate::db::parse("user role", &r.role, UserRole::parse)?,
            has_password: r.has_password,
            created_at: r.created_at.0,
        })
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_user(
                &self,
                workspace_id: uuid::Uuid,
                email: &str,
                role: $crate::UserRole,
                password_hash: Option<&str>,
            ) -> Result<$crate::User, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::users::UserRow>($crate::users::INSERT_USER)
                    .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(email.trim())
                    .bind($crate::users::normalize_email(email))
                    .bind(role.as_str())
                    .bind(password_hash)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!("a user with the email {:?} already exists", email.trim())
                        })
                    })?
                    .decode()?
                    .ok_or($crate::StoreError::NotFound)
            }

            pub async fn get_user(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::users::UserRow>($crate::users::USER_BY_ID)
                    .bind($crate::codec::DbId(id))
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn user_by_email(
                &self,
                workspace_id: uuid::Uuid,
                email: &str,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::users::UserRow>($crate::users::USER_BY_EMAIL)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::users::normalize_email(email))
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn list_users(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Vec<$crate::User>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::users::UserRow>($crate::users::LIST_USERS)
                    .bind($crate::codec::DbId(workspace_id))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }

            pub async fn user_password_hash(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<String>, $crate::StoreError> {
                let row: Option<(Option<String>,)> =
                    sqlx::query_as::<$db, (Option<String>,)>($crate::users::USER_PASSWORD_HASH)
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(self.reader())
                        .await?;
                Ok(row.and_then(|(h,)| h))
            }

            pub async fn set_user_password(
                &self,
                id: uuid::Uuid,
                password_hash: &str,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::users::SET_USER_PASSWORD)
                    .bind($crate::codec::DbId(id))
                    .bind(password_hash)
                    .execute(self.writer())
                    .await?;
                $crate::db::found(done.rows_affected())
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// `Conflict` if the workspace has a user with this email (compared trimmed and
    /// lower-cased); `NotFound` if the workspace does not exist.
    #[tracing::instrument(skip(self, email, password_hash))]
    pub async fn insert_user(
        &self,
        workspace_id: Uuid,
        email: &str,
        role: UserRole,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        dispatch!(self.insert_user(workspace_id, email, role, password_hash))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        dispatch!(self.get_user(id))
    }

    #[tracing::instrument(skip(self, email))]
    pub async fn user_by_email(
        &self,
        workspace_id: Uuid,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        dispatch!(self.user_by_email(workspace_id, email))
    }

    #[tracing::instrument(skip(self))]
    pub async fn list_users(&self, workspace_id: Uuid) -> Result<Vec<User>, StoreError> {
        dispatch!(self.list_users(workspace_id))
    }

    /// The argon2 PHC string, if the user has a password.
    #[tracing::instrument(skip(self))]
    pub async fn user_password_hash(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        dispatch!(self.user_password_hash(id))
    }

    /// `NotFound` for an unknown user.
    #[tracing::instrument(skip(self, password_hash))]
    pub async fn set_user_password(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError> {
        dispatch!(self.set_user_password(id, password_hash))
    }
}
