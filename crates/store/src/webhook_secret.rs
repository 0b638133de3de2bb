//! Sealing and opening a workspace's webhook client secret (the HMAC key of
//! HubSpot's signatures). Same scheme as connector tokens: the associated data is
//! the workspace id and the column name, see `crypto.rs`.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::StoreError;

pub(crate) const CLIENT_SECRET: &str = "webhook_settings.client_secret";

pub(crate) fn seal_webhook_secret(
    key: &MasterKey,
    workspace_id: Uuid,
    secret: &SecretString,
) -> Result<Vec<u8>, StoreError> {
    key.seal(
        workspace_id,
        CLIENT_SECRET,
        secret.expose_secret().as_bytes(),
    )
}

pub(crate) fn open_webhook_secret(
    key: &MasterKey,
    workspace_id: Uuid,
    sealed: &[u8],
) -> Result<SecretString, StoreError> {
    let bytes = key.open(workspace_id, CLIENT_SECRET, sealed)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| StoreError::Crypto("webhook client secret is not UTF-8".into()))?;
    Ok(SecretString::from(text))
}
