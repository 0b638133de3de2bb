//! Sealing of secrets at rest (HubSpot tokens, webhook client secrets) with the
//! deployment's master key.
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce per write: random nonces are safe
//! at this size, so no counter has to be kept consistent across instances.
//!
//! Format v2 (written): `2 || key id (8) || nonce (24) || ciphertext + tag (16)`. The
//! cipher key is not the master key itself but a per-purpose subkey derived from it
//! with HKDF-SHA256 (connector tokens and webhook client secrets never share a key),
//! and the associated data binds the value to its workspace, row id and column, so a
//! sealed value copied into another row, column or workspace fails to open. The key
//! id (derived from the master key by HKDF, so it reveals nothing about it) names the
//! key a value was sealed under: during a key rotation the right key is picked, and a
//! value sealed under an unknown key is reported as such rather than as corruption.
//!
//! Format v1 (read only, databases written before v2): `1 || nonce || ct + tag` under
//! the raw master key, associated data = row id + column. `keva-sync rotate-key`
//! rewrites such values as v2.
//!
//! A `MasterKey` may carry previous keys, used only to open: that is how running
//! instances keep working while `rotate-key` re-seals every secret (docs/operations.md).

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use uuid::Uuid;

use crate::StoreError;

const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const KEY_ID_LEN: usize = 8;
/// HKDF salt: fixes the derivations to this application and format.
const HKDF_SALT: &[u8] = b"keva-sync sealing v2";

/// What a sealed value is for; each purpose has its own subkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ConnectorToken,
    WebhookClientSecret,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::ConnectorToken => b"connector-token",
            Purpose::WebhookClientSecret => b"webhook-client-secret",
        }
    }
}

/// Where a sealed value lives: it opens only in the same place.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub purpose: Purpose,
    pub workspace_id: Uuid,
    pub row_id: Uuid,
    pub column: &'a str,
}

/// A master key's public name: 8 bytes derived from the key, shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One master key with the ciphers derived from it. The key bytes and the ciphers'
/// copies are zeroed when dropped.
struct KeyMaterial {
    key: SecretBox<[u8; KEY_LEN]>,
    id: KeyId,
    /// The raw key, for v1 values only.
    legacy: XChaCha20Poly1305,
    connector_token: XChaCha20Poly1305,
    webhook_client_secret: XChaCha20Poly1305,
}

impl KeyMaterial {
    fn new(key: SecretBox<[u8; KEY_LEN]>) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), key.expose_secret());
        // HKDF-SHA256 can expand up to 8160 bytes; asking for 32 or 8 (constants)
        // cannot fail, and if it somehow did, sealing under an all-zero key must
        // not happen silently.
        const WITHIN_LIMIT: &str = "HKDF-SHA256 output of at most 32 bytes";
        let subkey = |info: &[u8]| {
            let mut okm = Zeroizing::new([0u8; KEY_LEN]);
            hkdf.expand(info, okm.as_mut()).expect(WITHIN_LIMIT);
            XChaCha20Poly1305::new(&(*okm).into())
        };
        let mut id = [0u8; KEY_ID_LEN];
        hkdf.expand(b"key-id", &mut id).expect(WITHIN_LIMIT);
        Self {
            legacy: XChaCha20Poly1305::new(&(*key.expose_secret()).into()),
            connector_token: subkey(Purpose::ConnectorToken.info()),
            webhook_client_secret: subkey(Purpose::WebhookClientSecret.info()),
            id: KeyId(id),
            key,
        }
    }

    fn cipher(&self, purpose: Purpose) -> &XChaCha20Poly1305 {
        match purpose {
            Purpose::ConnectorToken => &self.connector_token,
            Purpose::WebhookClientSecret => &self.webhook_client_secret,
        }
    }
}

/// The 32-byte key that seals secrets at rest, plus any previous keys that are
/// still accepted for opening. `Debug` never shows a key. Cloning is cheap.
#[derive(Clone)]
pub struct MasterKey {
    current: Arc<KeyMaterial>,
    previous: Vec<Arc<KeyMaterial>>,
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
        Self {
            current: Arc::new(KeyMaterial::new(key)),
            previous: Vec::new(),
        }
    }

    /// A fresh random key from `rand`'s thread RNG (a CSPRNG seeded by the OS).
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// The current key (never the previous ones).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.current.key.expose_secret())
    }

    /// The current key's id, the one new values are sealed under.
    pub fn id(&self) -> KeyId {
        self.current.id
    }

    /// Also accepts `older`'s keys (its current and previous ones) for opening;
    /// sealing still uses only this key. Used while the master key is rotated.
    pub fn with_previous(mut self, older: &MasterKey) -> Self {
        for k in std::iter::once(&older.current).chain(&older.previous) {
            let known = std::iter::once(&self.current)
                .chain(&self.previous)
                .any(|m| m.id == k.id);
            if !known {
                self.previous.push(Arc::clone(k));
            }
        }
        self
    }

    /// The ids of the keys accepted only for opening.
    pub fn previous_ids(&self) -> Vec<KeyId> {
        self.previous.iter().map(|k| k.id).collect()
    }

    /// Whether `sealed` is in the current format under the current key (so
    /// re-sealing it would change nothing).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.first() == Some(&FORMAT_V2)
            && sealed.get(1..1 + KEY_ID_LEN) == Some(&self.current.id.0[..])
    }

    /// Encrypts `plaintext` under the current key for the place `at`.
    pub fn seal(&self, at: &Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let key = &self.current;
        let aad = associated_data_v2(&key.id, at);
        let (nonce_bytes, ciphertext) = encrypt(key.cipher(at.purpose), plaintext, &aad)?;
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V2);
        out.extend_from_slice(&key.id.0);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a value sealed for the same place, in either format, under the
    /// current or a previous key. Fails on an unknown key (named by its id), on
    /// another place's value, or on any modified byte.
    pub fn open(&self, at: &Binding<'_>, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let column = at.column;
        let (&version, rest) = sealed
            .split_first()
            .ok_or_else(|| StoreError::Crypto(format!("{column}: sealed value is empty")))?;
        match version {
            FORMAT_V1 => self.open_v1(at, rest),
            FORMAT_V2 => self.open_v2(at, rest),
            _ => Err(StoreError::Crypto(format!(
                "{column}: unknown sealed format version {version}"
            ))),
        }
    }

    fn open_v2(&self, at: &Binding<'_>, rest: &[u8]) -> Result<Vec<u8>, StoreError> {
        let column = at.column;
        if rest.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
            return Err(StoreError::Crypto(format!(
                "{column}: sealed value is truncated"
            )));
        }
        let (id_bytes, rest) = rest.split_at(KEY_ID_LEN);
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let id = KeyId(
            id_bytes
                .try_into()
                .map_err(|_| StoreError::Crypto(format!("{column}: bad key id")))?,
        );
        let nonce: [u8; NONCE_LEN] = nonce_bytes
            .try_into()
            .map_err(|_| StoreError::Crypto(format!("{column}: bad nonce")))?;
        let Some(key) = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
        else {
            return Err(StoreError::Crypto(format!(
                "{column}: sealed under master key {id}, but the configured key is {} \
                 (previous keys: {}); configure key {id} (e.g. as KEVA_MASTER_KEY_PREVIOUS) \
                 to read it",
                self.current.id,
                self.describe_previous()
            )));
        };
        let aad = associated_data_v2(&id, at);
        key.cipher(at.purpose)
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                StoreError::Crypto(format!(
                    "{column}: cannot decrypt under master key {id} (the value was altered, \
                     or moved from another row, column or workspace)"
                ))
            })
    }

    /// v1 values carry no key id, so every configured key is tried.
    fn open_v1(&self, at: &Binding<'_>, rest: &[u8]) -> Result<Vec<u8>, StoreError> {
        let column = at.column;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Crypto(format!(
                "{column}: sealed value is truncated"
            )));
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce_bytes
            .try_into()
            .map_err(|_| StoreError::Crypto(format!("{column}: bad nonce")))?;
        let aad = associated_data_v1(at.row_id, column);
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find_map(|k| {
                k.legacy
                    .decrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: &aad,
                        },
                    )
                    .ok()
            })
            .ok_or_else(|| {
                StoreError::Crypto(format!(
                    "{column}: cannot decrypt a v1 value (wrong master key, or the value was \
                     altered or moved)"
                ))
            })
    }

    fn describe_previous(&self) -> String {
        if self.previous.is_empty() {
            return "none".into();
        }
        self.previous
            .iter()
            .map(|k| k.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Seals in the retired v1 format, for tests that a database written before v2
    /// still reads.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn seal_v1(
        &self,
        row_id: Uuid,
        column: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let aad = associated_data_v1(row_id, column);
        let (nonce_bytes, ciphertext) = encrypt(&self.current.legacy, plaintext, &aad)?;
        let mut out = vec![FORMAT_V1];
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }
}

/// Encrypts `msg` under a fresh random nonce: (nonce, ciphertext + tag).
fn encrypt(
    cipher: &XChaCha20Poly1305,
    msg: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), StoreError> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let ciphertext = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg, aad })
        .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
    Ok((nonce, ciphertext))
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MasterKey(id {}, previous [{}], [REDACTED])",
            self.current.id,
            self.describe_previous()
        )
    }
}

/// `1 || row id (16 bytes) || column name`.
fn associated_data_v1(row_id: Uuid, column: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + 16 + column.len());
    aad.push(FORMAT_V1);
    aad.extend_from_slice(row_id.as_bytes());
    aad.extend_from_slice(column.as_bytes());
    aad
}

/// `2 || key id || workspace id || row id || column name`: everything before the
/// column has a fixed length, so no two places share associated data; the version
/// and key id are included so the header cannot be swapped.
fn associated_data_v2(id: &KeyId, at: &Binding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + 32 + at.column.len());
    aad.push(FORMAT_V2);
    aad.extend_from_slice(&id.0);
    aad.extend_from_slice(at.workspace_id.as_bytes());
    aad.extend_from_slice(at.row_id.as_bytes());
    aad.extend_from_slice(at.column.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(workspace_id: Uuid, row_id: Uuid, column: &str) -> Binding<'_> {
        Binding {
            purpose: Purpose::ConnectorToken,
            workspace_id,
            row_id,
            column,
        }
    }

    #[test]
    fn round_trip() {
        let key = MasterKey::generate();
        let (ws, id) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = key
            .seal(&at(ws, id, "access_token"), b"pat-na1-secret")
            .expect("seal");
        assert_eq!(sealed[0], FORMAT_V2);
        assert_eq!(&sealed[1..9], &key.id().0);
        assert_eq!(
            sealed.len(),
            1 + KEY_ID_LEN + NONCE_LEN + b"pat-na1-secret".len() + TAG_LEN
        );
        assert!(!sealed.windows(14).any(|w| w == b"pat-na1-secret"));
        assert!(key.is_current(&sealed));
        let opened = key
            .open(&at(ws, id, "access_token"), &sealed)
            .expect("open");
        assert_eq!(opened, b"pat-na1-secret");
    }

    #[test]
    fn nonces_differ_between_writes() {
        let key = MasterKey::generate();
        let b = at(Uuid::now_v7(), Uuid::now_v7(), "c");
        assert_ne!(
            key.seal(&b, b"same").expect("seal"),
            key.seal(&b, b"same").expect("seal")
        );
    }

    #[test]
    fn another_place_fails() {
        let key = MasterKey::generate();
        let (ws, id) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = key.seal(&at(ws, id, "access_token"), b"tok").expect("seal");
        for wrong in [
            at(ws, id, "refresh_token"),
            at(ws, Uuid::now_v7(), "access_token"),
            at(Uuid::now_v7(), id, "access_token"),
            Binding {
                purpose: Purpose::WebhookClientSecret,
                ..at(ws, id, "access_token")
            },
        ] {
            assert!(
                matches!(key.open(&wrong, &sealed), Err(StoreError::Crypto(_))),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn purposes_use_different_subkeys() {
        let key = MasterKey::generate();
        assert_ne!(key.current.id.0, [0u8; KEY_ID_LEN]);
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), key.current.key.expose_secret());
        let (mut a, mut b) = ([0u8; KEY_LEN], [0u8; KEY_LEN]);
        hkdf.expand(Purpose::ConnectorToken.info(), &mut a)
            .expect("expand");
        hkdf.expand(Purpose::WebhookClientSecret.info(), &mut b)
            .expect("expand");
        assert_ne!(a, b);
        assert_ne!(&a, key.current.key.expose_secret());
    }

    #[test]
    fn another_key_is_named_by_its_id() {
        let b = at(Uuid::now_v7(), Uuid::now_v7(), "c");
        let old = MasterKey::generate();
        let sealed = old.seal(&b, b"tok").expect("seal");
        let new = MasterKey::generate();
        assert_ne!(old.id(), new.id());
        match new.open(&b, &sealed) {
            Err(StoreError::Crypto(m)) => {
                assert!(m.contains(&old.id().to_string()), "{m}");
                assert!(m.contains(&new.id().to_string()), "{m}");
                assert!(!m.contains(&old.to_base64()), "{m}");
            }
            other => panic!("expected a key-id error, got {other:?}"),
        }
        // With the old key as previous, it opens; new values use the new key.
        let both = new.clone().with_previous(&old);
        assert_eq!(both.open(&b, &sealed).expect("open"), b"tok");
        assert!(!both.is_current(&sealed));
        let resealed = both.seal(&b, b"tok").expect("seal");
        assert!(new.is_current(&resealed));
        assert_eq!(new.open(&b, &resealed).expect("new alone"), b"tok");
        assert!(old.open(&b, &resealed).is_err());
    }

    #[test]
    fn v1_values_still_open_under_current_or_previous_key() {
        let old = MasterKey::generate();
        let (ws, id) = (Uuid::now_v7(), Uuid::now_v7());
        let v1 = old.seal_v1(id, "access_token", b"tok").expect("seal v1");
        assert_eq!(v1[0], FORMAT_V1);
        assert!(!old.is_current(&v1));
        assert_eq!(
            old.open(&at(ws, id, "access_token"), &v1).expect("open"),
            b"tok"
        );
        assert!(old.open(&at(ws, id, "refresh_token"), &v1).is_err());
        let new = MasterKey::generate();
        assert!(new.open(&at(ws, id, "access_token"), &v1).is_err());
        let both = new.with_previous(&old);
        assert_eq!(
            both.open(&at(ws, id, "access_token"), &v1).expect("open"),
            b"tok"
        );
    }

    #[test]
    fn tampered_values_fail() {
        let key = MasterKey::generate();
        let b = at(Uuid::now_v7(), Uuid::now_v7(), "c");
        let v1 = key.seal_v1(b.row_id, "c", b"token").expect("seal");
        for sealed in [key.seal(&b, b"token").expect("seal"), v1] {
            for i in 0..sealed.len() {
                let mut bad = sealed.clone();
                bad[i] ^= 0x01;
                assert!(
                    key.open(&b, &bad).is_err(),
                    "flipping byte {i} must be detected"
                );
            }
            assert!(key.open(&b, &sealed[..sealed.len() - 1]).is_err());
        }
        assert!(key.open(&b, &[]).is_err());
        assert!(key.open(&b, &[9, 1, 2, 3]).is_err());
    }

    #[test]
    fn with_previous_skips_known_keys() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let both = new.clone().with_previous(&old);
        let again = new.clone().with_previous(&both);
        assert_eq!(again.previous_ids(), vec![old.id()]);
        assert!(new.clone().with_previous(&new).previous_ids().is_empty());
    }

    #[test]
    fn base64_round_trip_and_validation() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        let again = MasterKey::from_base64(&format!("{text}\n")).expect("parse");
        assert_eq!(again.id(), key.id());
        let b = at(Uuid::now_v7(), Uuid::now_v7(), "c");
        let sealed = key.seal(&b, b"x").expect("seal");
        assert_eq!(again.open(&b, &sealed).expect("open"), b"x");
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
        let old = MasterKey::generate();
        let key = MasterKey::generate().with_previous(&old);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_base64()));
        assert!(!shown.contains(&old.to_base64()));
        assert!(shown.contains("REDACTED"));
        assert!(shown.contains(&key.id().to_string()));
    }
}
