//! `keva-sync automap` end to end: the built binary on a saved properties response.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

#[allow(dead_code)] // not every test binary uses every helper
mod common;
use common::{bin, output_ok};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn automap(extra: &[&str]) -> serde_json::Value {
    let props = fixture("automap_properties.json");
    let out = output_ok(
        bin()
            .arg("automap")
            .arg("--properties")
            .arg(&props)
            .args(extra),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn automap_prints_suggestions_for_a_fields_file() {
    let fields = fixture("automap_fields.json");
    let got = automap(&["--fields", fields.to_str().unwrap(), "--object", "contacts"]);
    assert_eq!(got["email"]["property"], "email");
    assert_eq!(got["name"]["property"], "firstname");
    assert_eq!(got["name"]["also"][0], "lastname");
    assert_eq!(got["phone"]["property"], "phone");
    // The custom property beats the calculated default and the migration copy.
    assert_eq!(got["mrr"]["property"], "mrr__c");
    assert_eq!(got["mrr"]["direction"], "bidirectional");
    assert!(got["mrr"]["reason"].as_str().unwrap().contains("number"));
    assert_eq!(got["plan"]["property"], "plan");
    assert!(got["favoriteColor"]["property"].is_null());
    for (key, s) in got.as_object().unwrap() {
        let c = s["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c), "{key}: {c}");
        assert!(s["alternatives"].as_array().unwrap().len() <= 2);
    }
}

#[test]
fn automap_defaults_to_the_builtin_fields() {
    let got = automap(&[]);
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["company", "email", "jobTitle", "location", "name", "notes", "phone"]
    );
    assert_eq!(got["jobTitle"]["property"], "jobtitle");
    assert_eq!(got["location"]["property"], "city");
    assert_eq!(got["location"]["direction"], "to_crm");
}

#[test]
fn automap_refuses_a_file_that_is_not_a_properties_response() {
    let out = bin()
        .args(["automap", "--properties"])
        .arg(fixture("automap_fields.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("properties response"));
}
