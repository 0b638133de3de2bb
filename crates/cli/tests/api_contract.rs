//! The served OpenAPI document tells the truth: schemathesis (an off-the-shelf
//! property-based API tester, installed by scripts/test.sh) runs every check it
//! has (`--checks all`) against a quickstart on loopback (its own SQLite file,
//! sandbox portal and API key, so its writes and deletes touch nothing else) and
//! must find no failure. The few answers a schema cannot predict are declared,
//! with their reasons, in tests/fixtures/schemathesis.toml.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[allow(dead_code)] // not every test binary uses every helper
mod common;
use common::Quickstart;

/// Test cases per operation and phase: enough for every constraint to be probed
/// on both sides, small enough for the run to take about a minute (one worker:
/// the machine is shared with the rest of the suite).
const MAX_EXAMPLES: &str = "100";

/// Through the Python that scripts/test.sh installed it into (its `bin` need not
/// be on PATH).
fn schemathesis() -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "schemathesis.cli"]);
    cmd
}

#[tokio::test]
async fn schemathesis_finds_no_failure() {
    let version = schemathesis().arg("--version").output();
    let installed = version.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        installed,
        "schemathesis is required (scripts/test.sh installs it: \
         python3 -m pip install 'schemathesis==4.32.5'): {version:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let quickstart = Quickstart::start(dir.path());
    let printed = quickstart.fields(&["Service:", "API key:", "Connector:", "Example customer:"]);
    let [service, key, connector, email] = &printed[..] else {
        panic!("{printed:?}")
    };
    // Real ids for the `connectorId` and `customerId` fields (the config file reads
    // them from the environment), so the tester reaches past the 404s.
    let found: serde_json::Value = reqwest::Client::new()
        .get(format!("{service}/api/customers"))
        .query(&[("email", email)])
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = found["data"][0]["id"].as_str().unwrap();
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schemathesis.toml"
    );
    let reports = dir.path().join("schemathesis-report");
    let out = schemathesis()
        .args(["--config-file", config, "--no-color", "run"])
        .arg(format!("{service}/api/openapi.json"))
        .args(["--checks", "all", "--workers", "1", "--seed", "1"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--generation-database", "none"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {key}"))
        .env("KEVA_CONTRACT_CONNECTOR", connector)
        .env("KEVA_CONTRACT_CUSTOMER", customer)
        .arg("--report-dir")
        .arg(&reports)
        // schemathesis keeps a cache and its example database under the working
        // directory: the test's own folder, not the repository.
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture, and in the failure message when it fails.
    let summary = stdout
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n");
    println!("{summary}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Tested:") && !stdout.contains("Tested: 0"),
        "schemathesis tested the API's operations:\n{stdout}"
    );
}
