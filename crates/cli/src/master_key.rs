//! Finding the master key that seals HubSpot tokens at rest.
//!
//! Order: `KEVA_MASTER_KEY`, then `KEVA_MASTER_KEY_FILE`, then (SQLite only) a
//! `.keva-master-key` file beside the database, created with 0600 permissions on
//! first use. PostgreSQL deployments run several instances that must share one key,
//! so there the key must be given explicitly rather than invented per machine.
//!
//! A previous key (`KEVA_MASTER_KEY_PREVIOUS`, then `KEVA_MASTER_KEY_PREVIOUS_FILE`)
//! is added for opening only, so instances keep reading secrets while
//! `keva-sync rotate-key` re-seals them under the current key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use keva_store::MasterKey;
use secrecy::ExposeSecret as _;

use crate::args::DbArgs;

pub fn resolve(db: &DbArgs) -> anyhow::Result<MasterKey> {
    let current = resolve_current(db)?;
    let previous = if let Some(k) = &db.master_key_previous {
        Some(
            MasterKey::from_base64(k.expose_secret().trim())
                .context("KEVA_MASTER_KEY_PREVIOUS is not a base64-encoded 32-byte key")?,
        )
    } else if let Some(path) = &db.master_key_previous_file {
        Some(load_existing(path)?)
    } else {
        None
    };
    Ok(match previous {
        Some(previous) => current.with_previous(&previous),
        None => current,
    })
}

/// Reads a key file that must exist (a former or a new key is never invented).
pub fn load_existing(path: &Path) -> anyhow::Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    MasterKey::from_base64(text.trim())
        .with_context(|| format!("{} does not hold a base64 32-byte key", path.display()))
}

fn resolve_current(db: &DbArgs) -> anyhow::Result<MasterKey> {
    if let Some(k) = &db.master_key {
        return MasterKey::from_base64(k.expose_secret().trim())
            .context("KEVA_MASTER_KEY is not a base64-encoded 32-byte key");
    }
    if let Some(path) = &db.master_key_file {
        return load_or_create(path);
    }
    match sqlite_path(&db.database_url) {
        Some(db_path) => {
            let dir = db_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            load_or_create(&dir.join(".keva-master-key"))
        }
        None => anyhow::bail!(
            "set KEVA_MASTER_KEY (a base64 32-byte key shared by every instance) to use {}",
            crate::redact_url(&db.database_url)
        ),
    }
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    Some(PathBuf::from(path))
}

fn load_or_create(path: &Path) -> anyhow::Result<MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::from_base64(text.trim())
            .with_context(|| format!("{} does not hold a base64 32-byte key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_private(path, key.to_base64().as_bytes())
                .with_context(|| format!("creating {}", path.display()))?;
            eprintln!("generated a new master key in {}", path.display());
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates `path` readable by its owner only (0600), failing if it exists.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://keva-sync.db"),
            Some(PathBuf::from("keva-sync.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:data/k.db?mode=rwc"),
            Some(PathBuf::from("data/k.db"))
        );
        assert_eq!(sqlite_path("postgres://x@y/z"), None);
    }

    fn db_args(current: &MasterKey, previous_file: PathBuf) -> DbArgs {
        DbArgs {
            database_url: "postgres://x@y/z".into(),
            master_key: Some(current.to_base64().into()),
            master_key_file: None,
            master_key_previous: None,
            master_key_previous_file: Some(previous_file),
        }
    }

    #[test]
    fn a_previous_key_file_is_added_for_opening_and_must_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let path = dir.path().join("old.key");
        std::fs::write(&path, format!("{}\n", old.to_base64())).expect("write");
        let key = resolve(&db_args(&new, path)).expect("resolved");
        assert_eq!(key.id(), new.id());
        assert_eq!(key.previous_ids(), vec![old.id()]);

        let missing = dir.path().join("missing.key");
        let err = resolve(&db_args(&new, missing.clone())).expect_err("missing file");
        assert!(format!("{err:#}").contains("missing.key"), "{err:#}");
        assert!(!missing.exists(), "a previous key is never invented");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        let first = load_or_create(&path).expect("created");
        let again = load_or_create(&path).expect("loaded");
        assert_eq!(first.to_base64(), again.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
