//! Master-key rotation: re-sealing every stored secret (connector tokens, webhook
//! client secrets) under the store's current master key, for `keva-sync rotate-key`.
//!
//! Runs beside live instances: rows are read a page at a time and each is rewritten
//! by its own compare-and-set `UPDATE` (a one-row transaction), so no lock is held
//! for long, and a token refreshed by a running instance in between is never
//! overwritten with the stale one; the row is read again instead. Values already in
//! the current format under the current key are skipped, so the command is
//! idempotent and can be resumed after an interruption.

use secrecy::SecretString;
use uuid::Uuid;

use crate::codec::DbId;
use crate::connectors::{open_token, seal_tokens, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::sealing::MasterKey;
use crate::webhook_settings::{open_webhook_secret, seal_webhook_secret};
use crate::{ConnectorTokens, StoreError};

// --- SQL ----------------------------------------------------------------------

pub(crate) const CONNECTORS_PAGE: &str =
    "SELECT id, workspace_id, access_token, refresh_token FROM hubspot_connectors \
     WHERE id > $1 ORDER BY id LIMIT $2";
pub(crate) const CONNECTOR_ROW: &str =
    "SELECT id, workspace_id, access_token, refresh_token FROM hubspot_connectors WHERE id = $1";
/// Written only if the access token is still the one read: every token write seals
/// it afresh (new nonce), so an unchanged value means an unchanged row.
pub(crate) const RESEAL_CONNECTOR: &str =
    "UPDATE hubspot_connectors SET access_token = $2, refresh_token = $3 \
     WHERE id = $1 AND access_token = $4";

pub(crate) const SECRETS_PAGE: &str = "SELECT workspace_id, client_secret FROM webhook_settings \
     WHERE workspace_id > $1 ORDER BY workspace_id LIMIT $2";
pub(crate) const SECRET_ROW: &str =
    "SELECT workspace_id, client_secret FROM webhook_settings WHERE workspace_id = $1";
pub(crate) const RESEAL_SECRET: &str =
    "UPDATE webhook_settings SET client_secret = $2 WHERE workspace_id = $1 AND client_secret = $3";

/// How often one row may be found rewritten under us before giving up on it.
pub(crate) const RACE_RETRIES: usize = 5;

// --- records -----------------------------------------------------------------

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Connectors whose tokens were re-sealed.
    pub connectors: u64,
    /// Connectors whose tokens were already under the current key.
    pub connectors_current: u64,
    /// Webhook client secrets re-sealed.
    pub webhook_secrets: u64,
    /// Webhook client secrets already under the current key.
    pub webhook_secrets_current: u64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SealedTokens {
    pub id: DbId,
    pub workspace_id: DbId,
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SealedSecret {
    pub workspace_id: DbId,
    pub client_secret: Vec<u8>,
}

/// A connector's sealed `(access_token, refresh_token)`.
pub(crate) type SealedPair = (Vec<u8>, Option<Vec<u8>>);

/// The row's tokens sealed under the current key, or `None` if they already are.
pub(crate) fn reseal_tokens(
    key: &MasterKey,
    row: &SealedTokens,
) -> Result<Option<SealedPair>, StoreError> {
    let current = key.is_current(&row.access_token)
        && row.refresh_token.as_ref().is_none_or(|r| key.is_current(r));
    if current {
        return Ok(None);
    }
    let (ws, id) = (row.workspace_id.0, row.id.0);
    let context = |e: StoreError| match e {
        StoreError::Crypto(m) => StoreError::Crypto(format!("connector {id}: {m}")),
        other => other,
    };
    let tokens = ConnectorTokens {
        access_token: open_token(key, ws, id, ACCESS_TOKEN, &row.access_token).map_err(context)?,
        refresh_token: row
            .refresh_token
            .as_deref()
            .map(|r| open_token(key, ws, id, REFRESH_TOKEN, r))
            .transpose()
            .map_err(context)?,
        expires_at: None,
    };
    seal_tokens(key, ws, id, &tokens).map(Some)
}

/// The secret sealed under the current key, or `None` if it already is.
pub(crate) fn reseal_secret(
    key: &MasterKey,
    row: &SealedSecret,
) -> Result<Option<Vec<u8>>, StoreError> {
    if key.is_current(&row.client_secret) {
        return Ok(None);
    }
    let ws: Uuid = row.workspace_id.0;
    let secret: SecretString =
        open_webhook_secret(key, ws, &row.client_secret).map_err(|e| match e {
            StoreError::Crypto(m) => StoreError::Crypto(format!("workspace {ws}: {m}")),
            other => other,
        })?;
    seal_webhook_secret(key, ws, &secret).map(Some)
}

fn kept_changing(what: &str, id: Uuid) -> StoreError {
    StoreError::Conflict(format!(
        "{what} {id} kept changing while being re-sealed; run rotate-key again"
    ))
}

pub(crate) fn connector_kept_changing(id: Uuid) -> StoreError {
    kept_changing("connector", id)
}

pub(crate) fn secret_kept_changing(id: Uuid) -> StoreError {
    kept_changing("the webhook settings of workspace", id)
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn reseal_secrets(
                &self,
                page_size: u32,
            ) -> Result<$crate::Resealed, $crate::StoreError> {
                use $crate::codec::DbId;
                use $crate::rotation as r;
                let limit = i64::from(page_size.max(1));
                let mut done = $crate::Resealed::default();

                let mut after = uuid::Uuid::nil();
                loop {
                    let page = sqlx::query_as::<$db, r::SealedTokens>(r::CONNECTORS_PAGE)
                        .bind(DbId(after))
                        .bind(limit)
                        .fetch_all(self.writer())
                        .await?;
                    let Some(last) = page.last() else { break };
                    after = last.id.0;
                    for row in page {
                        self.reseal_connector(row, &mut done).await?;
                    }
                }

                let mut after = uuid::Uuid::nil();
                loop {
                    let page = sqlx::query_as::<$db, r::SealedSecret>(r::SECRETS_PAGE)
                        .bind(DbId(after))
                        .bind(limit)
                        .fetch_all(self.writer())
                        .await?;
                    let Some(last) = page.last() else { break };
                    after = last.workspace_id.0;
                    for row in page {
                        self.reseal_secret(row, &mut done).await?;
                    }
                }
                Ok(done)
            }

            async fn reseal_connector(
                &self,
                mut row: $crate::rotation::SealedTokens,
                done: &mut $crate::Resealed,
            ) -> Result<(), $crate::StoreError> {
                use $crate::codec::DbId;
                use $crate::rotation as r;
                let id = row.id.0;
                for _ in 0..r::RACE_RETRIES {
                    let Some((access, refresh)) = r::reseal_tokens(&self.key, &row)? else {
                        done.connectors_current += 1;
                        return Ok(());
                    };
                    let written = sqlx::query::<$db>(r::RESEAL_CONNECTOR)
                        .bind(DbId(id))
                        .bind(access)
                        .bind(refresh)
                        .bind(row.access_token.clone())
                        .execute(self.writer())
                        .await?;
                    if written.rows_affected() > 0 {
                        done.connectors += 1;
                        return Ok(());
                    }
                    // Rewritten meanwhile (a token refresh) or deleted: read it again.
                    match sqlx::query_as::<$db, r::SealedTokens>(r::CONNECTOR_ROW)
                        .bind(DbId(id))
                        .fetch_optional(self.writer())
                        .await?
                    {
                        Some(again) => row = again,
                        None => return Ok(()),
                    }
                }
                Err(r::connector_kept_changing(id))
            }

            async fn reseal_secret(
                &self,
                mut row: $crate::rotation::SealedSecret,
                done: &mut $crate::Resealed,
            ) -> Result<(), $crate::StoreError> {
                use $crate::codec::DbId;
                use $crate::rotation as r;
                let ws = row.workspace_id.0;
                for _ in 0..r::RACE_RETRIES {
                    let Some(sealed) = r::reseal_secret(&self.key, &row)? else {
                        done.webhook_secrets_current += 1;
                        return Ok(());
                    };
                    let written = sqlx::query::<$db>(r::RESEAL_SECRET)
                        .bind(DbId(ws))
                        .bind(sealed)
                        .bind(row.client_secret.clone())
                        .execute(self.writer())
                        .await?;
                    if written.rows_affected() > 0 {
                        done.webhook_secrets += 1;
                        return Ok(());
                    }
                    match sqlx::query_as::<$db, r::SealedSecret>(r::SECRET_ROW)
                        .bind(DbId(ws))
                        .fetch_optional(self.writer())
                        .await?
                    {
                        Some(again) => row = again,
                        None => return Ok(()),
                    }
                }
                Err(r::secret_kept_changing(ws))
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Re-seals every connector token and webhook client secret under the current
    /// master key, opening them with the current or a previous key (see
    /// `MasterKey::with_previous`), `page_size` rows read at a time. Values already
    /// under the current key are left alone. `Crypto` names the first row no
    /// configured key opens.
    #[tracing::instrument(skip(self))]
    pub async fn reseal_secrets(&self, page_size: u32) -> Result<Resealed, StoreError> {
        dispatch!(self.reseal_secrets(page_size))
    }

    /// The master key this store seals with (and opens with, with its previous keys).
    pub fn master_key(&self) -> &MasterKey {
        match self {
            crate::Store::Sqlite(s) => &s.key,
            crate::Store::Postgres(s) => &s.key,
        }
    }
}
