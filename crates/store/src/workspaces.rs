//! Workspaces (tenants): every other record belongs to exactly one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

macro_rules! workspace_columns {
    () => {
        "id, name, created_at, phone_region"
    };
}

pub(crate) const INSERT_WORKSPACE: &str = concat!(
    "INSERT INTO workspaces (",
    workspace_columns!(),
    ") VALUES ($1, $2, $3, NULL) RETURNING ",
    workspace_columns!()
);
/// Insert-if-absent, so concurrent `ensure_workspace` calls never fail on the
/// unique name; the caller reads the row back when nothing was inserted.
pub(crate) const INSERT_WORKSPACE_IF_ABSENT: &str = concat!(
    "INSERT INTO workspaces (",
    workspace_columns!(),
    ") VALUES ($1, $2, $3, NULL) ON CONFLICT (name) DO NOTHING RETURNING ",
    workspace_columns!()
);
pub(crate) const WORKSPACE_BY_NAME: &str = concat!(
    "SELECT ",
    workspace_columns!(),
    " FROM workspaces WHERE name = $1"
);
pub(crate) const WORKSPACE_BY_ID: &str = concat!(
    "SELECT ",
    workspace_columns!(),
    " FROM workspaces WHERE id = $1"
);
pub(crate) const SET_PHONE_REGION: &str = "UPDATE workspaces SET phone_region = $2 WHERE id = $1";

// --- records -----------------------------------------------------------------

/// A tenant: every other record belongs to exactly one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Where phone numbers without a country code are read (ISO 3166, `GB`).
    pub phone_region: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    pub id: DbId,
    pub name: String,
    pub created_at: DbTime,
    pub phone_region: Option<String>,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace {
            id: r.id.0,
            name: r.name,
            created_at: r.created_at.0,
            phone_region: r.phone_region,
        }
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn create_workspace(
                &self,
                name: &str,
            ) -> Result<$crate::Workspace, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::workspaces::WorkspaceRow>(
                    $crate::workspaces::INSERT_WORKSPACE,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind(name)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(self.writer())
                .await
                .map(Into::into)
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        format!("a workspace named {name:?} already exists")
                    })
                })
            }

            pub async fn workspace_by_name(
                &self,
                name: &str,
            ) -> Result<Option<$crate::Workspace>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::workspaces::WorkspaceRow>(
                    $crate::workspaces::WORKSPACE_BY_NAME,
                )
                .bind(name)
                .fetch_optional(self.reader())
                .await?
                .decode()
            }

            pub async fn get_workspace(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Workspace>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::workspaces::WorkspaceRow>(
                    $crate::workspaces::WORKSPACE_BY_ID,
                )
                .bind($crate::codec::DbId(id))
                .fetch_optional(self.reader())
                .await?
                .decode()
            }

            pub async fn set_workspace_phone_region(
                &self,
                id: uuid::Uuid,
                region: Option<&str>,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::workspaces::SET_PHONE_REGION)
                    .bind($crate::codec::DbId(id))
                    .bind(region)
                    .execute(self.writer())
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound);
                }
                Ok(())
            }

            pub async fn ensure_workspace(
                &self,
                name: &str,
            ) -> Result<($crate::Workspace, bool), $crate::StoreError> {
                let inserted = sqlx::query_as::<$db, $crate::workspaces::WorkspaceRow>(
                    $crate::workspaces::INSERT_WORKSPACE_IF_ABSENT,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind(name)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?;
                if let Some(row) = inserted {
                    return Ok((row.into(), true));
                }
                // Read through the writer: on SQLite it is the connection that just
                // saw the conflicting row, so the row is certainly visible there.
                let existing = sqlx::query_as::<$db, $crate::workspaces::WorkspaceRow>(
                    $crate::workspaces::WORKSPACE_BY_NAME,
                )
                .bind(name)
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok((existing.into(), false))
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// `Conflict` if a workspace with this name exists.
    #[tracing::instrument(skip(self))]
    pub async fn create_workspace(&self, name: &str) -> Result<Workspace, StoreError> {
        dispatch!(self.create_workspace(name))
    }

    #[tracing::instrument(skip(self))]
    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        dispatch!(self.workspace_by_name(name))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_workspace(&self, id: Uuid) -> Result<Option<Workspace>, StoreError> {
        dispatch!(self.get_workspace(id))
    }

    /// Sets (or with `None` clears) the workspace's default phone region; the
    /// caller checks the code. `NotFound` for an unknown workspace.
    #[tracing::instrument(skip(self))]
    pub async fn set_workspace_phone_region(
        &self,
        id: Uuid,
        region: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self.set_workspace_phone_region(id, region))
    }

    /// The workspace with this name, created if missing; the flag says whether it
    /// was created by this call. Safe under concurrent calls with the same name.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_workspace(&self, name: &str) -> Result<(Workspace, bool), StoreError> {
        dispatch!(self.ensure_workspace(name))
    }
}
