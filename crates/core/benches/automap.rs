//! CPU time of auto-mapping a 650-property portal: `cargo bench --bench automap`.
//! Takes the largest evaluation portal, pads it with realistic custom properties to
//! 650, and times 30 Keva fields (built-ins and custom) against it.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use keva_core::automap::{automap, parse_properties, HubspotProperty, KevaFieldSpec};
use keva_core::ObjectKind;

const WORDS: &[&str] = &[
    "renewal",
    "contract",
    "region",
    "tier",
    "score",
    "source",
    "partner",
    "billing",
    "invoice",
    "segment",
    "product",
    "usage",
    "quota",
    "territory",
    "campaign",
    "event",
    "webinar",
    "referral",
    "survey",
    "rating",
    "shipping",
    "warehouse",
    "discount",
    "trial",
];
const TYPES: &[(&str, &str)] = &[
    ("string", "text"),
    ("number", "number"),
    ("date", "date"),
    ("enumeration", "select"),
    ("bool", "booleancheckbox"),
    ("string", "phonenumber"),
];

fn main() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("eval/portals");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("saas_cloudly.json")).unwrap())
            .unwrap();
    let mut props: Vec<HubspotProperty> = parse_properties(&doc["properties"].to_string()).unwrap();
    let fields: Vec<KevaFieldSpec> = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::from_value(c["field"].clone()).unwrap())
        .collect();
    let mut i = 0usize;
    while props.len() < 650 {
        let (a, b) = (
            WORDS[i % WORDS.len()],
            WORDS[(i / WORDS.len() + 3) % WORDS.len()],
        );
        let (kind, field_type) = TYPES[i % TYPES.len()];
        props.push(HubspotProperty {
            name: format!("{a}_{b}_{i}"),
            label: format!("{} {b} {i}", a.to_uppercase()),
            description: format!("The {a} {b} of the record"),
            group_name: "custom".into(),
            kind: kind.into(),
            field_type: field_type.into(),
            ..HubspotProperty::default()
        });
        i += 1;
    }
    let fields: Vec<KevaFieldSpec> = fields
        .into_iter()
        .cycle()
        .take(30)
        .enumerate()
        .map(|(n, mut f)| {
            if n >= 24 {
                f.key = format!("{}{n}", f.key);
            }
            f
        })
        .collect();
    // Warm up, then time.
    let _ = automap(&fields, &props, ObjectKind::Contact);
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(automap(&fields, &props, ObjectKind::Contact));
    }
    let per = start.elapsed() / runs;
    println!(
        "automap: {} fields x {} properties in {:.2} ms per run (mean of {runs}, single thread)",
        fields.len(),
        props.len(),
        per.as_secs_f64() * 1000.0
    );
}
