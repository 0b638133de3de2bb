//! `keva-sync rotate-key` end to end on both backends: every secret re-sealed under
//! the new key (which alone then opens them, and the old key no longer does), counts
//! printed, a second run skipping everything, and a missing key file refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keva_store::testing::{private_app_connector, reopen, test_store};
use keva_store::{Backend, MasterKey, StoreError};
use secrecy::{ExposeSecret as _, SecretString};

#[allow(dead_code)] // not every test binary uses every helper
mod common;
use common::{bin, output_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_reseals_every_secret_on_sqlite() {
    rotate_key_reseals_every_secret(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_reseals_every_secret_on_postgres() {
    rotate_key_reseals_every_secret(Backend::Postgres).await;
}

fn rotate(url: &str, dir: &std::path::Path, envs: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = bin();
    cmd.env_remove("KEVA_MASTER_KEY")
        .env_remove("KEVA_MASTER_KEY_FILE")
        .env_remove("KEVA_MASTER_KEY_PREVIOUS")
        .env_remove("KEVA_MASTER_KEY_PREVIOUS_FILE")
        .env_remove("KEVA_DATABASE_URL")
        .args(["rotate-key", "--database-url", url, "--new-key-file"])
        .arg(dir.join("new.key"))
        .args(["--page-size", "1"]);
    if envs.is_empty() {
        cmd.arg("--master-key-file").arg(dir.join("old.key"));
    }
    cmd.envs(envs.iter().copied());
    cmd
}

async fn rotate_key_reseals_every_secret(backend: Backend) {
    let ts = test_store(backend).await;
    let (old, new) = (MasterKey::generate(), MasterKey::generate());
    let store = reopen(&ts, old.clone()).await;
    let mut conns = Vec::new();
    for (name, portal) in [("acme", 1), ("globex", 2)] {
        let ws = store.create_workspace(name).await.unwrap().id;
        let c = store
            .insert_connector(private_app_connector(ws, portal))
            .await
            .unwrap();
        store
            .set_webhook_settings(ws, "app", &SecretString::from(format!("whsec-{name}")))
            .await
            .unwrap();
        conns.push((ws, c.id, name));
    }
    let expected_token = store
        .connector_tokens(conns[0].0, conns[0].1)
        .await
        .unwrap()
        .access_token
        .expose_secret()
        .to_string();
    let url = keva_store::testing::database_url(&store);
    let dir = tempfile::tempdir().unwrap();

    // A missing new-key file is refused before anything is touched.
    let out = rotate(&url, dir.path(), &[]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("new.key"), "{err}");

    std::fs::write(dir.path().join("old.key"), old.to_base64()).unwrap();
    std::fs::write(dir.path().join("new.key"), new.to_base64()).unwrap();
    let out = output_ok(&mut rotate(&url, dir.path(), &[]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("connector tokens: 2 re-sealed, 0 already under key"),
        "{text}"
    );
    assert!(
        text.contains("webhook client secrets: 2 re-sealed, 0 already under key"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&new.id().to_string()), "{err}");
    assert!(!err.contains(&new.to_base64()) && !err.contains(&old.to_base64()));

    // The new key alone opens every secret; the old key no longer does.
    let after = reopen(&ts, new.clone()).await;
    let before = reopen(&ts, old.clone()).await;
    for &(ws, id, name) in &conns {
        let t = after.connector_tokens(ws, id).await.unwrap();
        assert_eq!(t.access_token.expose_secret(), expected_token);
        let s = after.webhook_secret(ws).await.unwrap().unwrap();
        assert_eq!(s.expose_secret(), format!("whsec-{name}"));
        assert!(matches!(
            before.connector_tokens(ws, id).await,
            Err(StoreError::Crypto(_))
        ));
        assert!(matches!(
            before.webhook_secret(ws).await,
            Err(StoreError::Crypto(_))
        ));
    }

    // Run again as a rotated instance is configured (new key current, old one
    // previous, both from the environment): nothing left to re-seal.
    let (new_b64, old_b64) = (new.to_base64(), old.to_base64());
    let out = output_ok(&mut rotate(
        &url,
        dir.path(),
        &[
            ("KEVA_MASTER_KEY", new_b64.as_str()),
            ("KEVA_MASTER_KEY_PREVIOUS", old_b64.as_str()),
        ],
    ));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("connector tokens: 0 re-sealed, 2 already under key"),
        "{text}"
    );
    assert!(
        text.contains("webhook client secrets: 0 re-sealed, 2 already under key"),
        "{text}"
    );
    for s in [store, after, before] {
        s.close().await;
    }
    ts.finish().await;
}
