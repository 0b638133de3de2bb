//! Sealing of secrets at rest (HubSpot tokens) with the deployment's master key.
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce per write: random nonces are safe
//! at this size, so no counter has to be kept consistent across instances. Sealed
//! format: `version (1 byte) || nonce (24) || ciphertext + tag (16)`. The associated
//! data binds each ciphertext to its row id and column name, so a sealed value copied
//! into another row or column fails to open instead of handing out the wrong token.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretBox};
use uuid::Uuid;

use crate::StoreError;

/// Current sealed-format version; a future key-rotation scheme bumps it.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// The 32-byte key that seals secrets at rest. `Debug` never shows it; the key
/// bytes and the cipher's copy of them are zeroed when the last clone is dropped.
#[derive(Clone)]
pub struct MasterKey {
    key: Arc<SecretBox<[u8; KEY_LEN]>>,
    cipher: Arc<XChaCha20Poly1305>,
}

impl MasterKey {
    /// Reads a key written by `to_base64` (standard or URL-safe alphabet, surrounding
    /// whitespace ignored, as key files usually end with a newline).
    pub fn from_base64(s: &str) -> Result<Self, StoreError> {
        let s = s.trim();
        let bytes = Zeroizing::new(
            STANDARD
                .decode(s)
                .or_else(|_| URL_SAFE.decode(s))
                .map_err(|_| StoreError::Crypto("master key is not valid base64".into()))?,
        );
        if bytes.len() != KEY_LEN {
            return Err(StoreError::Crypto(format!(
                "master key must be {KEY_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(Self::from_key(SecretBox::init_with_mut(
            |k: &mut [u8; KEY_LEN]| k.copy_from_slice(&bytes),
        )))
    }

    pub fn from_bytes(mut key: [u8; KEY_LEN]) -> Self {
        let secret = SecretBox::init_with_mut(|k: &mut [u8; KEY_LEN]| *k = key);
        key.zeroize();
        Self::from_key(secret)
    }

    fn from_key(key: SecretBox<[u8; KEY_LEN]>) -> Self {
        let cipher = XChaCha20Poly1305::new(&(*key.expose_secret()).into());
        Self {
            key: Arc::new(key),
            cipher: Arc::new(cipher),
        }
    }

    /// A fresh random key from `rand`'s thread RNG (a CSPRNG seeded by the OS).
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.key.expose_secret())
    }

    /// Encrypts `plaintext` for the column `column` of row `row_id`.
    pub fn seal(
        &self,
        row_id: Uuid,
        column: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let aad = associated_data(FORMAT_V1, row_id, column);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a value sealed by `seal` for the same row and column. Fails on a
    /// wrong key, another row's or column's value, or any modified byte.
    pub fn open(&self, row_id: Uuid, column: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (&version, rest) = sealed
            .split_first()
            .ok_or_else(|| StoreError::Crypto(format!("{column}: sealed value is empty")))?;
        if version != FORMAT_V1 {
            return Err(StoreError::Crypto(format!(
                "{column}: unknown sealed format version {version}"
            )));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Crypto(format!(
                "{column}: sealed value is truncated"
            )));
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce_arr: [u8; NONCE_LEN] = nonce_bytes
            .try_into()
            .map_err(|_| StoreError::Crypto(format!("{column}: bad nonce")))?;
        let aad = associated_data(version, row_id, column);
        self.cipher
            .decrypt(
                &XNonce::from(nonce_arr),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                StoreError::Crypto(format!(
                    "{column}: cannot decrypt (wrong master key, or the value was altered or moved)"
                ))
            })
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// `version || row id (16 bytes) || column name`: the version is included so a value
/// cannot be reinterpreted under a different format.
fn associated_data(version: u8, row_id: Uuid, column: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + 16 + column.len());
    aad.push(version);
    aad.extend_from_slice(row_id.as_bytes());
    aad.extend_from_slice(column.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let key = MasterKey::generate();
        let id = Uuid::now_v7();
        let sealed = key
            .seal(id, "access_token", b"pat-na1-secret")
            .expect("seal");
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(
            sealed.len(),
            1 + NONCE_LEN + b"pat-na1-secret".len() + TAG_LEN
        );
        assert!(!sealed.windows(14).any(|w| w == b"pat-na1-secret"));
        let opened = key.open(id, "access_token", &sealed).expect("open");
        assert_eq!(opened, b"pat-na1-secret");
    }

    #[test]
    fn nonces_differ_between_writes() {
        let key = MasterKey::generate();
        let id = Uuid::now_v7();
        let a = key.seal(id, "c", b"same").expect("seal");
        let b = key.seal(id, "c", b"same").expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_aad_fails() {
        let key = MasterKey::generate();
        let id = Uuid::now_v7();
        let sealed = key.seal(id, "access_token", b"tok").expect("seal");
        assert!(matches!(
            key.open(id, "refresh_token", &sealed),
            Err(StoreError::Crypto(_))
        ));
        assert!(matches!(
            key.open(Uuid::now_v7(), "access_token", &sealed),
            Err(StoreError::Crypto(_))
        ));
    }

    #[test]
    fn wrong_key_fails() {
        let id = Uuid::now_v7();
        let sealed = MasterKey::generate().seal(id, "c", b"tok").expect("seal");
        assert!(matches!(
            MasterKey::generate().open(id, "c", &sealed),
            Err(StoreError::Crypto(_))
        ));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let key = MasterKey::generate();
        let id = Uuid::now_v7();
        let sealed = key.seal(id, "c", b"token").expect("seal");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                key.open(id, "c", &bad).is_err(),
                "flipping byte {i} must be detected"
            );
        }
        assert!(key.open(id, "c", &sealed[..sealed.len() - 1]).is_err());
        assert!(key.open(id, "c", &[]).is_err());
    }

    #[test]
    fn base64_round_trip_and_validation() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        let again = MasterKey::from_base64(&format!("{text}\n")).expect("parse");
        let id = Uuid::now_v7();
        let sealed = key.seal(id, "c", b"x").expect("seal");
        assert_eq!(again.open(id, "c", &sealed).expect("open"), b"x");
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(StoreError::Crypto(_))
        ));
        assert!(matches!(
            MasterKey::from_base64(&STANDARD.encode([0u8; 16])),
            Err(StoreError::Crypto(_))
        ));
    }

    #[test]
    fn debug_redacts() {
        let key = MasterKey::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_base64()));
        assert!(shown.contains("REDACTED"));
    }
}
