//! HubSpot connectors: the records, their settings and their sealed tokens.

use chrono::{DateTime, Utc};
use keva_core::ConflictPolicy;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::db::parse;
use crate::sealing::{Binding, MasterKey, Purpose};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `ConnectorRow` (the sealed tokens are read only by
/// `CONNECTOR_TOKENS`).
macro_rules! connector_columns {
    () => {
        "id, workspace_id, portal_id, auth_kind, status, status_reason, scopes, \
         token_expires_at, last_sync_at, conflict_policy, import_contacts, batch_schedule, \
         created_at, updated_at, connected_user, disconnected_at"
    };
}

macro_rules! select_connectors {
    ($rest:literal) => {
        concat!(
            "SELECT ",
            connector_columns!(),
            " FROM hubspot_connectors ",
            $rest
        )
    };
}

pub(crate) const INSERT_CONNECTOR: &str = concat!(
    "INSERT INTO hubspot_connectors (id, workspace_id, portal_id, auth_kind, \
     access_token, refresh_token, token_expires_at, scopes, status, created_at, updated_at, \
     tokens_refreshed_at, connected_user) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'connected', $9, $9, $9, $10) RETURNING ",
    connector_columns!()
);
pub(crate) const CONNECTOR_BY_ID: &str = select_connectors!("WHERE workspace_id = $1 AND id = $2");
pub(crate) const LIST_CONNECTORS: &str = select_connectors!("WHERE workspace_id = $1 ORDER BY id");
pub(crate) const CONNECTORS_BY_PORTAL: &str =
    select_connectors!("WHERE portal_id = $1 ORDER BY id");
pub(crate) const ALL_CONNECTORS: &str = select_connectors!("ORDER BY id");
/// A disconnected connector has no tokens (`NotFound`).
pub(crate) const CONNECTOR_TOKENS: &str =
    "SELECT id, access_token, refresh_token, token_expires_at \
     FROM hubspot_connectors WHERE workspace_id = $1 AND id = $2 AND disconnected_at IS NULL";
pub(crate) const UPDATE_CONNECTOR_TOKENS: &str =
    "UPDATE hubspot_connectors SET access_token = $2, \
     refresh_token = $3, token_expires_at = $4, updated_at = $5, tokens_refreshed_at = $5 \
     WHERE id = $1";
/// A refresh's tokens: written only over older ones (`tokens_refreshed_at`), never
/// onto a disconnected connector.
pub(crate) const STORE_REFRESHED_TOKENS: &str =
    "UPDATE hubspot_connectors SET access_token = $2, refresh_token = $3, \
     token_expires_at = $4, tokens_refreshed_at = $5, updated_at = $6 \
     WHERE id = $1 AND disconnected_at IS NULL \
     AND (tokens_refreshed_at IS NULL OR tokens_refreshed_at < $5)";
pub(crate) const CONNECTOR_ID_BY_PORTAL: &str =
    "SELECT id FROM hubspot_connectors WHERE workspace_id = $1 AND portal_id = $2";
/// A reconnect: new tokens and grant, connected again; settings, mappings, links
/// and history stay.
pub(crate) const RECONNECT_CONNECTOR: &str = concat!(
    "UPDATE hubspot_connectors SET auth_kind = $2, access_token = $3, refresh_token = $4, \
     token_expires_at = $5, scopes = $6, connected_user = $7, status = 'connected', \
     status_reason = NULL, disconnected_at = NULL, tokens_refreshed_at = $8, updated_at = $8 \
     WHERE id = $1 RETURNING ",
    connector_columns!()
);
/// Disconnect: the tokens are wiped; everything else stays for a later reconnect.
pub(crate) const DISCONNECT_CONNECTOR: &str = concat!(
    "UPDATE hubspot_connectors SET access_token = $3, refresh_token = NULL, \
     token_expires_at = NULL, disconnected_at = COALESCE(disconnected_at, $4), \
     updated_at = $4 WHERE workspace_id = $1 AND id = $2 RETURNING ",
    connector_columns!()
);
pub(crate) const SET_CONNECTOR_STATUS: &str =
    "UPDATE hubspot_connectors SET status = $2, status_reason = $3, \
     updated_at = $4 WHERE id = $1";
pub(crate) const TOUCH_CONNECTOR_SYNC: &str =
    "UPDATE hubspot_connectors SET last_sync_at = $2, updated_at = $2 WHERE id = $1";
pub(crate) const UPDATE_CONNECTOR_SETTINGS: &str = concat!(
    "UPDATE hubspot_connectors SET conflict_policy = $3, import_contacts = $4, \
     batch_schedule = $5, updated_at = $6 WHERE workspace_id = $1 AND id = $2 RETURNING ",
    connector_columns!()
);

// --- records -----------------------------------------------------------------

/// How a connector authenticates against HubSpot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    PrivateApp,
    #[serde(rename = "oauth")]
    OAuth,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::PrivateApp => "private_app",
            AuthKind::OAuth => "oauth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "private_app" => Some(AuthKind::PrivateApp),
            "oauth" => Some(AuthKind::OAuth),
            _ => None,
        }
    }
}

/// Whether a connector can currently be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Connected,
    /// The tokens were refused (revoked, app uninstalled): a human must reconnect.
    NeedsReconnection,
    Error,
    /// Disconnected by a user: no tokens, nothing runs; a connect resumes it.
    Disconnected,
}

impl ConnectorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorStatus::Connected => "connected",
            ConnectorStatus::NeedsReconnection => "needs_reconnection",
            ConnectorStatus::Error => "error",
            ConnectorStatus::Disconnected => "disconnected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "connected" => Some(ConnectorStatus::Connected),
            "needs_reconnection" => Some(ConnectorStatus::NeedsReconnection),
            "error" => Some(ConnectorStatus::Error),
            "disconnected" => Some(ConnectorStatus::Disconnected),
            _ => None,
        }
    }
}

/// A HubSpot portal connection to create; the tokens are sealed before storage.
#[derive(Debug, Clone)]
pub struct NewConnector {
    pub workspace_id: Uuid,
    pub portal_id: i64,
    pub auth_kind: AuthKind,
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

impl NewConnector {
    pub(crate) fn tokens(&self) -> ConnectorTokens {
        ConnectorTokens {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            expires_at: self.token_expires_at,
        }
    }
}

/// A stored HubSpot connection, without its tokens (see `ConnectorTokens`), so it
/// can be logged and serialised freely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub portal_id: i64,
    pub auth_kind: AuthKind,
    pub status: ConnectorStatus,
    pub status_reason: Option<String>,
    pub scopes: Vec<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub conflict_policy: ConflictPolicy,
    pub import_contacts: bool,
    /// Cron expression for scheduled batch syncs.
    pub batch_schedule: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The HubSpot user who installed the app (OAuth connectors).
    pub connected_user: Option<String>,
    /// Set while disconnected (`status` is then `Disconnected`).
    pub disconnected_at: Option<DateTime<Utc>>,
}

/// A connector's decrypted tokens. `SecretString` redacts them in `Debug`.
#[derive(Debug, Clone)]
pub struct ConnectorTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The connector settings a user can change after connecting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorSettings {
    pub conflict_policy: ConflictPolicy,
    /// Create or link Keva customers for HubSpot contacts not in Keva yet.
    pub import_contacts: bool,
    /// Cron expression for scheduled batch syncs; `None` disables the schedule.
    pub batch_schedule: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConnectorRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub portal_id: i64,
    pub auth_kind: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub scopes: Json<Vec<String>>,
    pub token_expires_at: Option<DbTime>,
    pub last_sync_at: Option<DbTime>,
    pub conflict_policy: String,
    pub import_contacts: bool,
    pub batch_schedule: Option<String>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub connected_user: Option<String>,
    pub disconnected_at: Option<DbTime>,
}

impl TryFrom<ConnectorRow> for Connector {
    type Error = sqlx::Error;

    fn try_from(r: ConnectorRow) -> Result<Self, Self::Error> {
        let auth_kind = parse("auth_kind", &r.auth_kind, AuthKind::parse)?;
        let status = if r.disconnected_at.is_some() {
            ConnectorStatus::Disconnected
        } else {
            parse("connector status", &r.status, ConnectorStatus::parse)?
        };
        let conflict_policy = parse("conflict policy", &r.conflict_policy, ConflictPolicy::parse)?;
        Ok(Connector {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            portal_id: r.portal_id,
            auth_kind,
            status,
            status_reason: r.status_reason,
            scopes: r.scopes.0,
            token_expires_at: r.token_expires_at.map(|t| t.0),
            last_sync_at: r.last_sync_at.map(|t| t.0),
            conflict_policy,
            import_contacts: r.import_contacts,
            batch_schedule: r.batch_schedule,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
            connected_user: r.connected_user,
            disconnected_at: r.disconnected_at.map(|t| t.0),
        })
    }
}

/// The sealed token columns of a connector.
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub id: DbId,
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_expires_at: Option<DbTime>,
}

// --- token sealing (bound to workspace, connector id and column, see `sealing.rs`) ---

pub(crate) const ACCESS_TOKEN: &str = "access_token";
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";

/// The workspace a connector belongs to, for sealing by connector id alone.
pub(crate) const CONNECTOR_WORKSPACE: &str =
    "SELECT workspace_id FROM hubspot_connectors WHERE id = $1";

pub(crate) fn token_binding(workspace_id: Uuid, id: Uuid, column: &str) -> Binding<'_> {
    Binding {
        purpose: Purpose::ConnectorToken,
        workspace_id,
        row_id: id,
        column,
    }
}

/// Seals `(access_token, refresh_token)` for connector `id` of `workspace_id`.
pub(crate) fn seal_tokens(
    key: &MasterKey,
    workspace_id: Uuid,
    id: Uuid,
    tokens: &ConnectorTokens,
) -> Result<(Vec<u8>, Option<Vec<u8>>), StoreError> {
    let access = key.seal(
        &token_binding(workspace_id, id, ACCESS_TOKEN),
        tokens.access_token.expose_secret().as_bytes(),
    )?;
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|t| {
            key.seal(
                &token_binding(workspace_id, id, REFRESH_TOKEN),
                t.expose_secret().as_bytes(),
            )
        })
        .transpose()?;
    Ok((access, refresh))
}

pub(crate) fn open_token(
    key: &MasterKey,
    workspace_id: Uuid,
    id: Uuid,
    column: &str,
    sealed: &[u8],
) -> Result<SecretString, StoreError> {
    let bytes = Zeroizing::new(key.open(&token_binding(workspace_id, id, column), sealed)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| StoreError::Crypto(format!("{column}: decrypted token is not UTF-8")))?;
    Ok(SecretString::from(text))
}

pub(crate) fn open_tokens(
    key: &MasterKey,
    workspace_id: Uuid,
    row: TokenRow,
) -> Result<ConnectorTokens, StoreError> {
    let id = row.id.0;
    Ok(ConnectorTokens {
        access_token: open_token(key, workspace_id, id, ACCESS_TOKEN, &row.access_token)?,
        refresh_token: row
            .refresh_token
            .as_deref()
            .map(|sealed| open_token(key, workspace_id, id, REFRESH_TOKEN, sealed))
            .transpose()?,
        expires_at: row.token_expires_at.map(|t| t.0),
    })
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_connector(
                &self,
                c: $crate::NewConnector,
            ) -> Result<$crate::Connector, $crate::StoreError> {
                self.insert_connector_by(c, None).await
            }

            async fn insert_connector_by(
                &self,
                c: $crate::NewConnector,
                user: Option<&str>,
            ) -> Result<$crate::Connector, $crate::StoreError> {
                let id = uuid::Uuid::now_v7();
                let (access, refresh) =
                    $crate::connectors::seal_tokens(&self.key, c.workspace_id, id, &c.tokens())?;
                let row = sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::INSERT_CONNECTOR,
                )
                .bind($crate::codec::DbId(id))
                .bind($crate::codec::DbId(c.workspace_id))
                .bind(c.portal_id)
                .bind(c.auth_kind.as_str())
                .bind(access)
                .bind(refresh)
                .bind(c.token_expires_at.map($crate::codec::DbTime::from))
                .bind(sqlx::types::Json(c.scopes.clone()))
                .bind($crate::codec::DbTime($crate::codec::now()))
                .bind(user)
                .fetch_one(self.writer())
                .await
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        format!(
                            "HubSpot portal {} is already connected to this workspace",
                            c.portal_id
                        )
                    })
                })?;
                Ok(row.try_into()?)
            }

            pub async fn get_connector(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Connector>, $crate::StoreError> {
                self.fetch_scoped::<$crate::connectors::ConnectorRow, _>(
                    $crate::connectors::CONNECTOR_BY_ID,
                    workspace_id,
                    id,
                )
                .await
            }

            pub async fn list_connectors(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Vec<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::LIST_CONNECTORS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .fetch_all(self.reader())
                .await?
                .decode()
            }

            pub async fn connector_tokens(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<$crate::ConnectorTokens, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::connectors::TokenRow>(
                    $crate::connectors::CONNECTOR_TOKENS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(id))
                .fetch_optional(self.reader())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                $crate::connectors::open_tokens(&self.key, workspace_id, row)
            }

            /// A connector's workspace (its tokens are sealed bound to it).
            async fn connector_workspace(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                Ok(sqlx::query_scalar::<$db, $crate::codec::DbId>(
                    $crate::connectors::CONNECTOR_WORKSPACE,
                )
                .bind($crate::codec::DbId(id))
                .fetch_optional(self.writer())
                .await?
                .map(|w| w.0))
            }

            pub async fn update_connector_tokens(
                &self,
                id: uuid::Uuid,
                tokens: &$crate::ConnectorTokens,
            ) -> Result<(), $crate::StoreError> {
                let workspace_id = self
                    .connector_workspace(id)
                    .await?
                    .ok_or($crate::StoreError::NotFound)?;
                let (access, refresh) =
                    $crate::connectors::seal_tokens(&self.key, workspace_id, id, tokens)?;
                let done = sqlx::query::<$db>($crate::connectors::UPDATE_CONNECTOR_TOKENS)
                    .bind($crate::codec::DbId(id))
                    .bind(access)
                    .bind(refresh)
                    .bind(tokens.expires_at.map($crate::codec::DbTime::from))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                $crate::db::found(done.rows_affected())
            }

            pub async fn store_refreshed_tokens(
                &self,
                id: uuid::Uuid,
                tokens: &$crate::ConnectorTokens,
                refreshed_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let Some(workspace_id) = self.connector_workspace(id).await? else {
                    return Ok(false);
                };
                let (access, refresh) =
                    $crate::connectors::seal_tokens(&self.key, workspace_id, id, tokens)?;
                let done = sqlx::query::<$db>($crate::connectors::STORE_REFRESHED_TOKENS)
                    .bind($crate::codec::DbId(id))
                    .bind(access)
                    .bind(refresh)
                    .bind(tokens.expires_at.map($crate::codec::DbTime::from))
                    .bind($crate::codec::DbTime::from(refreshed_at))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            pub async fn connect_oauth_connector(
                &self,
                c: $crate::NewConnector,
                user: Option<&str>,
            ) -> Result<($crate::Connector, bool), $crate::StoreError> {
                let existing = || async {
                    sqlx::query_scalar::<$db, $crate::codec::DbId>(
                        $crate::connectors::CONNECTOR_ID_BY_PORTAL,
                    )
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind(c.portal_id)
                    .fetch_optional(self.writer())
                    .await
                };
                let mut id = existing().await?;
                if id.is_none() {
                    match self.insert_connector_by(c.clone(), user).await {
                        Ok(created) => return Ok((created, false)),
                        // Connected concurrently: reconnect that one.
                        Err($crate::StoreError::Conflict(_)) => id = existing().await?,
                        Err(e) => return Err(e),
                    }
                }
                let id = id.ok_or($crate::StoreError::NotFound)?.0;
                let (access, refresh) =
                    $crate::connectors::seal_tokens(&self.key, c.workspace_id, id, &c.tokens())?;
                let row = sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::RECONNECT_CONNECTOR,
                )
                .bind($crate::codec::DbId(id))
                .bind(c.auth_kind.as_str())
                .bind(access)
                .bind(refresh)
                .bind(c.token_expires_at.map($crate::codec::DbTime::from))
                .bind(sqlx::types::Json(c.scopes.clone()))
                .bind(user)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok((row.try_into()?, true))
            }

            pub async fn disconnect_connector(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<$crate::Connector, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::DISCONNECT_CONNECTOR,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(id))
                .bind(Vec::<u8>::new())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn set_connector_status(
                &self,
                id: uuid::Uuid,
                status: $crate::ConnectorStatus,
                reason: Option<&str>,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::connectors::SET_CONNECTOR_STATUS)
                    .bind($crate::codec::DbId(id))
                    .bind(status.as_str())
                    .bind(reason)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                $crate::db::found(done.rows_affected())
            }

            pub async fn touch_connector_sync(
                &self,
                id: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::connectors::TOUCH_CONNECTOR_SYNC)
                    .bind($crate::codec::DbId(id))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                $crate::db::found(done.rows_affected())
            }

            pub async fn update_connector_settings(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                settings: &$crate::ConnectorSettings,
            ) -> Result<$crate::Connector, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::UPDATE_CONNECTOR_SETTINGS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(id))
                .bind(settings.conflict_policy.as_str())
                .bind(settings.import_contacts)
                .bind(settings.batch_schedule.clone())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn connectors_by_portal(
                &self,
                portal_id: i64,
            ) -> Result<Vec<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::CONNECTORS_BY_PORTAL,
                )
                .bind(portal_id)
                .fetch_all(self.reader())
                .await?
                .decode()
            }

            pub async fn list_all_connectors(
                &self,
            ) -> Result<Vec<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::connectors::ConnectorRow>(
                    $crate::connectors::ALL_CONNECTORS,
                )
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
    /// Stores a connector with status `connected`; its tokens are sealed with the
    /// master key. `Conflict` if the portal is already connected to the workspace.
    #[tracing::instrument(skip(self, c), fields(workspace_id = %c.workspace_id, portal_id = c.portal_id))]
    pub async fn insert_connector(&self, c: NewConnector) -> Result<Connector, StoreError> {
        dispatch!(self.insert_connector(c))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_connector(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Connector>, StoreError> {
        dispatch!(self.get_connector(workspace_id, id))
    }

    #[tracing::instrument(skip(self))]
    pub async fn list_connectors(&self, workspace_id: Uuid) -> Result<Vec<Connector>, StoreError> {
        dispatch!(self.list_connectors(workspace_id))
    }

    /// The decrypted tokens. `NotFound` unless the connector is in `workspace_id`;
    /// `Crypto` if they cannot be opened (e.g. another master key).
    #[tracing::instrument(skip(self))]
    pub async fn connector_tokens(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<ConnectorTokens, StoreError> {
        dispatch!(self.connector_tokens(workspace_id, id))
    }

    /// Replaces the tokens (after a refresh). `NotFound` for an unknown id.
    #[tracing::instrument(skip(self, tokens))]
    pub async fn update_connector_tokens(
        &self,
        id: Uuid,
        tokens: &ConnectorTokens,
    ) -> Result<(), StoreError> {
        dispatch!(self.update_connector_tokens(id, tokens))
    }

    /// Stores tokens from a refresh obtained at `refreshed_at`, unless the stored
    /// ones are as new or newer (or the connector is disconnected): `false` then.
    #[tracing::instrument(skip(self, tokens))]
    pub async fn store_refreshed_tokens(
        &self,
        id: Uuid,
        tokens: &ConnectorTokens,
        refreshed_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self.store_refreshed_tokens(id, tokens, refreshed_at))
    }

    /// Connects a portal after an OAuth install: a new connector, or — when the
    /// workspace already has one for the portal — that one with the new tokens,
    /// grant and user, `connected` again (settings, mappings, links, history kept).
    /// The flag says whether it was a reconnect.
    #[tracing::instrument(skip(self, c, user), fields(workspace_id = %c.workspace_id, portal_id = c.portal_id))]
    pub async fn connect_oauth_connector(
        &self,
        c: NewConnector,
        user: Option<&str>,
    ) -> Result<(Connector, bool), StoreError> {
        dispatch!(self.connect_oauth_connector(c, user))
    }

    /// Wipes the tokens and marks the connector disconnected (mappings, links and
    /// history stay). `NotFound` unless it is in `workspace_id`.
    #[tracing::instrument(skip(self))]
    pub async fn disconnect_connector(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Connector, StoreError> {
        dispatch!(self.disconnect_connector(workspace_id, id))
    }

    /// Sets a stored status (`Connected`, `NeedsReconnection`, `Error`).
    /// `Disconnected` is refused with `StatusNotSettable`: it is derived from
    /// `disconnected_at`, which only `disconnect_connector` sets (with the tokens
    /// wiped), so storing it here would claim a disconnect that never happened.
    #[tracing::instrument(skip(self))]
    pub async fn set_connector_status(
        &self,
        id: Uuid,
        status: ConnectorStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        if status == ConnectorStatus::Disconnected {
            return Err(StoreError::StatusNotSettable(status));
        }
        dispatch!(self.set_connector_status(id, status, reason))
    }

    /// Sets `last_sync_at` to now.
    #[tracing::instrument(skip(self))]
    pub async fn touch_connector_sync(&self, id: Uuid) -> Result<(), StoreError> {
        dispatch!(self.touch_connector_sync(id))
    }

    /// `NotFound` unless the connector is in `workspace_id`.
    #[tracing::instrument(skip(self))]
    pub async fn update_connector_settings(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        settings: &ConnectorSettings,
    ) -> Result<Connector, StoreError> {
        dispatch!(self.update_connector_settings(workspace_id, id, settings))
    }

    /// Connectors of every workspace on one HubSpot portal (for the webhook receiver).
    #[tracing::instrument(skip(self))]
    pub async fn connectors_by_portal(&self, portal_id: i64) -> Result<Vec<Connector>, StoreError> {
        dispatch!(self.connectors_by_portal(portal_id))
    }

    /// Every connector of every workspace (for schedulers).
    #[tracing::instrument(skip(self))]
    pub async fn list_all_connectors(&self) -> Result<Vec<Connector>, StoreError> {
        dispatch!(self.list_all_connectors())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_match_serde() {
        for kind in [AuthKind::PrivateApp, AuthKind::OAuth] {
            assert_eq!(AuthKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).expect("serialize"),
                serde_json::Value::from(kind.as_str())
            );
        }
        for status in [
            ConnectorStatus::Connected,
            ConnectorStatus::NeedsReconnection,
            ConnectorStatus::Error,
            ConnectorStatus::Disconnected,
        ] {
            assert_eq!(ConnectorStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).expect("serialize"),
                serde_json::Value::from(status.as_str())
            );
        }
        assert_eq!(AuthKind::OAuth.as_str(), "oauth");
        assert_eq!(
            ConnectorStatus::NeedsReconnection.as_str(),
            "needs_reconnection"
        );
        assert_eq!(AuthKind::parse("OAuth"), None);
    }
}
