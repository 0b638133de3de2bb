//! The `keva-sync` binary end to end: help texts, `api-key create`, and the
//! quickstart's promise (a printed key that works against `GET /api/customers`).
#![allow(clippy::unwrap_used)]

mod common;
use common::{bin, output_ok, Quickstart};
use std::process::Stdio;

#[test]
fn every_subcommand_has_help() {
    for (args, expect) in [
        (vec!["--help"], "quickstart"),
        (vec!["serve", "--help"], "KEVA_DATABASE_URL"),
        (vec!["serve", "--help"], "KEVA_PUBLIC_URL"),
        (vec!["serve", "--help"], "KEVA_SIGN_IN_FAILURES_PER_ADDRESS"),
        (vec!["serve", "--help"], "KEVA_SIGN_IN_ATTEMPTS_PER_ACCOUNT"),
        (vec!["serve", "--help"], "HUBSPOT_API_BASE"),
        (vec!["sandbox", "--help"], "--listen"),
        (vec!["quickstart", "--help"], "--sandbox-listen"),
        (vec!["migrate", "--help"], "KEVA_MASTER_KEY"),
        (vec!["api-key", "create", "--help"], "--workspace"),
        (vec!["rotate-key", "--help"], "--new-key-file"),
        (vec!["serve", "--help"], "KEVA_MASTER_KEY_PREVIOUS"),
        (vec!["user", "create", "--help"], "--password-stdin"),
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(expect),
            "{args:?} help mentions {expect}:\n{text}"
        );
    }
}

#[test]
fn api_key_create_prints_a_key_once_and_creates_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = output_ok(
        bin()
            .current_dir(dir.path())
            .env_remove("KEVA_MASTER_KEY")
            .env_remove("KEVA_DATABASE_URL")
            .args(["api-key", "create", "--workspace", "acme"]),
    );
    let key = String::from_utf8(out.stdout).unwrap();
    let key = key.trim();
    assert!(key.starts_with("keva_live_") && key.len() > 40, "{key}");
    assert!(dir.path().join("keva-sync.db").exists());
    let key_file = dir.path().join(".keva-master-key");
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The plaintext key is not stored anywhere in the database file.
    let db = std::fs::read(dir.path().join("keva-sync.db")).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()));
}

#[test]
fn user_create_prints_a_sign_in_link_and_refuses_a_duplicate() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let create = |email: &str| {
        let mut cmd = bin();
        cmd.current_dir(dir.path())
            .env_remove("KEVA_MASTER_KEY")
            .env_remove("KEVA_DATABASE_URL")
            .env_remove("KEVA_PUBLIC_URL")
            .args(["user", "create", "--workspace", "acme", "--email", email])
            .args([
                "--role",
                "admin",
                "--public-url",
                "https://console.example/",
            ]);
        cmd
    };
    let mut child = create("ada@acme.example")
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    assert!(
        link.trim()
            .starts_with("https://console.example/sign-in/link?token="),
        "{link}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("with a password"));
    let db = std::fs::read(dir.path().join("keva-sync.db")).unwrap();
    assert!(!db.windows(17).any(|w| w == b"a long passphrase"));

    let again = create("ADA@acme.example")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let bad = bin()
        .current_dir(dir.path())
        .args([
            "user",
            "create",
            "--workspace",
            "acme",
            "--email",
            "x@acme.example",
        ])
        .args(["--role", "owner"])
        .output()
        .unwrap();
    assert!(!bad.status.success(), "only admin or agent");
}

#[test]
fn postgres_without_a_master_key_is_refused_with_a_reason() {
    let out = bin()
        .env_remove("KEVA_MASTER_KEY")
        .args([
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/test",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEVA_MASTER_KEY"));
}

#[tokio::test]
async fn quickstart_prints_a_key_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = Quickstart::start(dir.path());
    let printed = quickstart.fields(&[
        "Service:",
        "Sandbox:",
        "API key:",
        "1. Open in a browser:",
        "2. Choose portal",
        "Sign in (one-time link, 24 hours):",
    ]);
    let [service, sandbox, key, authorize_url, oauth_portal, sign_in] = &printed[..] else {
        panic!("{printed:?}")
    };
    let (service, sandbox, key) = (service.clone(), sandbox.clone(), key.clone());
    let (authorize_url, oauth_portal) = (authorize_url.clone(), oauth_portal.clone());
    assert!(key.starts_with("keva_live_"));

    let http = reqwest::Client::new();
    let r = http
        .get(format!("{service}/api/customers"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        10,
        "sample customers"
    );

    let r = http
        .get(format!("{service}/api/customers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the key is what lets us in");

    // The sandbox is up and seeded (the quickstart's default is 25 contacts).
    let stats = http
        .get(format!("{sandbox}/_sandbox/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200);

    // The printed OAuth link, followed as a person would: choose the named portal,
    // Approve, come back to the service's integrations page, connected.
    let portal: u64 = oauth_portal.parse().unwrap();
    let callback = keva_sandbox::consent::decide(&authorize_url, portal, "approve")
        .await
        .unwrap();
    assert!(callback.starts_with(&service), "{callback}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = no_redirects.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), 303);
    let to = back.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("hubspot=connected"), "{to}");
    assert!(to.contains(&format!("portalId={portal}")), "{to}");
    let listed = http
        .get(format!("{service}/api/crm/hubspot/connectors"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let connectors: serde_json::Value = listed.json().await.unwrap();
    let connected = connectors["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["portalId"] == portal)
        .unwrap_or_else(|| panic!("a connector for portal {portal}: {connectors}"));
    assert_eq!(connected["authKind"], "oauth", "{connected}");
    assert_eq!(connected["status"], "connected", "{connected}");
    // The console admin's one-time sign-in link opens the link's sign-in page.
    let link = sign_in;
    assert!(
        link.starts_with(&format!("{service}/sign-in/link?token=")),
        "{link}"
    );
    let r = http.get(link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Sign in"));
}
