//! Runs tests/conformance/conformance.py — HubSpot's official Python client
//! (`hubspot-api-client` 12.0.0) against the sandbox. Its generated models reject
//! responses that are not shaped like HubSpot's, so a clean run proves the shapes.

use std::process::Command;

use crate::common::env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_accepts_every_response() {
    let probe = Command::new("python3")
        .args(["-c", "import hubspot"])
        .output()
        .expect("python3 runs");
    assert!(
        probe.status.success(),
        "the conformance test needs HubSpot's Python client: pip install hubspot-api-client==12.0.0 ({})",
        String::from_utf8_lossy(&probe.stderr)
    );
    let e = env().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/conformance.py"
    );
    let url = e.sb.url();
    let token = e.sb.access_token().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &url, &token])
            .output()
    })
    .await
    .expect("join")
    .expect("conformance.py runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "conformance failed:\n{stdout}\n{stderr}"
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("SUMMARY "))
        .expect("summary line");
    let parsed: serde_json::Value =
        serde_json::from_str(summary.trim_start_matches("SUMMARY ")).expect("summary json");
    assert_eq!(parsed["failed"], 0, "{stdout}");
    assert!(parsed["passed"].as_u64().unwrap() >= 16, "{stdout}");
}
