//! Sealing and opening a connector's token columns. The column names double as the
//! associated data (with the connector id), see `crypto.rs`.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::model::ConnectorTokens;
use crate::rows::TokenRow;
use crate::StoreError;

pub(crate) const ACCESS_TOKEN: &str = "access_token";
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";

/// Seals `(access_token, refresh_token)` for connector `id`.
pub(crate) fn seal_tokens(
    key: &MasterKey,
    id: Uuid,
    tokens: &ConnectorTokens,
) -> Result<(Vec<u8>, Option<Vec<u8>>), StoreError> {
    let access = key.seal(
        id,
        ACCESS_TOKEN,
        tokens.access_token.expose_secret().as_bytes(),
    )?;
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|t| key.seal(id, REFRESH_TOKEN, t.expose_secret().as_bytes()))
        .transpose()?;
    Ok((access, refresh))
}

pub(crate) fn open_tokens(key: &MasterKey, row: TokenRow) -> Result<ConnectorTokens, StoreError> {
    let id = row.id.0;
    let open = |column: &str, sealed: &[u8]| -> Result<SecretString, StoreError> {
        let bytes = key.open(id, column, sealed)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| StoreError::Crypto(format!("{column}: decrypted token is not UTF-8")))?;
        Ok(SecretString::from(text))
    };
    Ok(ConnectorTokens {
        access_token: open(ACCESS_TOKEN, &row.access_token)?,
        refresh_token: row
            .refresh_token
            .as_deref()
            .map(|sealed| open(REFRESH_TOKEN, sealed))
            .transpose()?,
        expires_at: row.token_expires_at.map(|t| t.0),
    })
}
