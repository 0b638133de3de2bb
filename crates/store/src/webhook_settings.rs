//! A workspace's HubSpot webhook app, with its sealed client secret.

use chrono::{DateTime, Utc};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::sealing::{Binding, MasterKey, Purpose};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

pub(crate) const UPSERT_WEBHOOK_SETTINGS: &str =
    "INSERT INTO webhook_settings (workspace_id, app_id, client_secret, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (workspace_id) DO UPDATE SET app_id = excluded.app_id, \
     client_secret = excluded.client_secret, updated_at = excluded.updated_at \
     RETURNING workspace_id, app_id, allow_legacy_signatures, created_at, updated_at";

pub(crate) const SET_LEGACY_SIGNATURES: &str =
    "UPDATE webhook_settings SET allow_legacy_signatures = $2, updated_at = $3 \
     WHERE workspace_id = $1 \
     RETURNING workspace_id, app_id, allow_legacy_signatures, created_at, updated_at";

pub(crate) const WEBHOOK_SETTINGS: &str =
    "SELECT workspace_id, app_id, allow_legacy_signatures, created_at, updated_at \
     FROM webhook_settings WHERE workspace_id = $1";

pub(crate) const WEBHOOK_SECRET: &str =
    "SELECT client_secret FROM webhook_settings WHERE workspace_id = $1";

// --- records -----------------------------------------------------------------

/// A workspace's HubSpot app for webhooks. The client secret is not part of this
/// struct (see `Store::webhook_secret`), so it can be logged and serialised freely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    pub workspace_id: Uuid,
    pub app_id: String,
    /// Accept v1/v2 signatures (no timestamp, replayable; v1 does not cover the
    /// URL) for this workspace's app. Off by default: only v3 verifies.
    pub allow_legacy_signatures: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookSettingsRow {
    pub workspace_id: DbId,
    pub app_id: String,
    pub allow_legacy_signatures: bool,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

impl From<WebhookSettingsRow> for WebhookSettings {
    fn from(r: WebhookSettingsRow) -> Self {
        WebhookSettings {
            workspace_id: r.workspace_id.0,
            app_id: r.app_id,
            allow_legacy_signatures: r.allow_legacy_signatures,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

// --- secret sealing (bound to the workspace, its settings row and the column) ---

pub(crate) const CLIENT_SECRET: &str = "webhook_settings.client_secret";

/// The settings row is keyed by its workspace, which is thus both row and workspace.
fn secret_binding(workspace_id: Uuid) -> Binding<'static> {
    Binding {
        purpose: Purpose::WebhookClientSecret,
        workspace_id,
        row_id: workspace_id,
        column: CLIENT_SECRET,
    }
}

pub(crate) fn seal_webhook_secret(
    key: &MasterKey,
    workspace_id: Uuid,
    secret: &SecretString,
) -> Result<Vec<u8>, StoreError> {
    key.seal(
        &secret_binding(workspace_id),
        secret.expose_secret().as_bytes(),
    )
}

pub(crate) fn open_webhook_secret(
    key: &MasterKey,
    workspace_id: Uuid,
    sealed: &[u8],
) -> Result<SecretString, StoreError> {
    let bytes = Zeroizing::new(key.open(&secret_binding(workspace_id), sealed)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| StoreError::Crypto("webhook client secret is not UTF-8".into()))?;
    Ok(SecretString::from(text))
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn set_webhook_settings(
                &self,
                workspace_id: uuid::Uuid,
                app_id: &str,
                client_secret: &secrecy::SecretString,
            ) -> Result<$crate::WebhookSettings, $crate::StoreError> {
                let sealed = $crate::webhook_settings::seal_webhook_secret(
                    &self.key,
                    workspace_id,
                    client_secret,
                )?;
                sqlx::query_as::<$db, $crate::webhook_settings::WebhookSettingsRow>(
                    $crate::webhook_settings::UPSERT_WEBHOOK_SETTINGS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(app_id)
                .bind(sealed)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(self.writer())
                .await
                .map(Into::into)
                .map_err(|e| $crate::error::conflict_or_db(e, String::new))
            }

            pub async fn set_webhook_legacy_signatures(
                &self,
                workspace_id: uuid::Uuid,
                allow: bool,
            ) -> Result<Option<$crate::WebhookSettings>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::webhook_settings::WebhookSettingsRow>(
                    $crate::webhook_settings::SET_LEGACY_SIGNATURES,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(allow)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?
                .decode()
            }

            pub async fn webhook_settings(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Option<$crate::WebhookSettings>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::webhook_settings::WebhookSettingsRow>(
                    $crate::webhook_settings::WEBHOOK_SETTINGS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .fetch_optional(self.reader())
                .await?
                .decode()
            }

            pub async fn webhook_secret(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Option<secrecy::SecretString>, $crate::StoreError> {
                let sealed: Option<Vec<u8>> =
                    sqlx::query_scalar::<$db, Vec<u8>>($crate::webhook_settings::WEBHOOK_SECRET)
                        .bind($crate::codec::DbId(workspace_id))
                        .fetch_optional(self.reader())
                        .await?;
                sealed
                    .map(|s| {
                        $crate::webhook_settings::open_webhook_secret(&self.key, workspace_id, &s)
                    })
                    .transpose()
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Creates or replaces the workspace's webhook app; the client secret is
    /// sealed with the master key. `NotFound` for an unknown workspace.
    #[tracing::instrument(skip(self, client_secret))]
    pub async fn set_webhook_settings(
        &self,
        workspace_id: Uuid,
        app_id: &str,
        client_secret: &SecretString,
    ) -> Result<WebhookSettings, StoreError> {
        dispatch!(self.set_webhook_settings(workspace_id, app_id, client_secret))
    }

    /// Allows (or stops allowing) v1/v2 signatures for the workspace's app; `None`
    /// if the workspace has no webhook settings. Kept by `set_webhook_settings`.
    #[tracing::instrument(skip(self))]
    pub async fn set_webhook_legacy_signatures(
        &self,
        workspace_id: Uuid,
        allow: bool,
    ) -> Result<Option<WebhookSettings>, StoreError> {
        dispatch!(self.set_webhook_legacy_signatures(workspace_id, allow))
    }

    #[tracing::instrument(skip(self))]
    pub async fn webhook_settings(
        &self,
        workspace_id: Uuid,
    ) -> Result<Option<WebhookSettings>, StoreError> {
        dispatch!(self.webhook_settings(workspace_id))
    }

    /// The decrypted client secret; `Crypto` if it cannot be opened.
    #[tracing::instrument(skip(self))]
    pub async fn webhook_secret(
        &self,
        workspace_id: Uuid,
    ) -> Result<Option<SecretString>, StoreError> {
        dispatch!(self.webhook_secret(workspace_id))
    }
}
