//! The auto-mapping evaluation: runs [`automap`] over every portal of
//! `crates/core/eval/portals`, prints the figures and the confidence-vs-accuracy
//! table for the calibration half, the held-out half and both, asserts the targets,
//! and prints an isotonic fit of raw score → accuracy for re-calibrating.
//! Run with `--no-capture` to see the figures.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use keva_core::automap::{automap, parse_properties, HubspotProperty, KevaFieldSpec};
use keva_core::ObjectKind;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    field: KevaFieldSpec,
    expected: Option<String>,
}

#[derive(Deserialize)]
struct Portal {
    portal: String,
    object: String,
    fields: Vec<Case>,
    properties: serde_json::Value,
}

/// One labelled decision and what automap answered.
struct Decision {
    portal: String,
    key: String,
    expected: Option<String>,
    got: Option<String>,
    confidence: f64,
    raw: f64,
    writes_read_only: bool,
}

fn portals() -> Vec<Portal> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("eval/portals");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

fn run(portal: &Portal) -> Vec<Decision> {
    let props: Vec<HubspotProperty> = parse_properties(&portal.properties.to_string()).unwrap();
    let fields: Vec<KevaFieldSpec> = portal.fields.iter().map(|c| c.field.clone()).collect();
    let object = if portal.object == "companies" {
        ObjectKind::Company
    } else {
        ObjectKind::Contact
    };
    let out = automap(&fields, &props, object);
    assert_eq!(out.len(), fields.len());
    portal
        .fields
        .iter()
        .zip(out)
        .map(|(case, s)| {
            assert_eq!(case.field.key, s.key);
            let read_only = s
                .property
                .as_ref()
                .and_then(|n| props.iter().find(|p| &p.name == n))
                .is_some_and(|p| p.read_only());
            Decision {
                portal: portal.portal.clone(),
                key: s.key,
                expected: case.expected.clone(),
                got: s.property,
                confidence: s.confidence,
                raw: s.raw_score,
                writes_read_only: read_only && s.direction.writes_crm(),
            }
        })
        .collect()
}

#[derive(Debug)]
struct Figures {
    decisions: usize,
    f1: f64,
    precision_08: f64,
    suggestions_08: usize,
    no_match_accuracy: f64,
    no_match_answers: usize,
    ece: f64,
    read_only_writes: usize,
}

fn figures(ds: &[&Decision]) -> Figures {
    let tp = ds
        .iter()
        .filter(|d| d.got.is_some() && d.got == d.expected)
        .count() as f64;
    let fp = ds
        .iter()
        .filter(|d| d.got.is_some() && d.got != d.expected)
        .count() as f64;
    let fn_ = ds
        .iter()
        .filter(|d| d.expected.is_some() && d.got != d.expected)
        .count() as f64;
    let precision = tp / (tp + fp).max(1.0);
    let recall = tp / (tp + fn_).max(1.0);
    let f1 = 2.0 * precision * recall / (precision + recall).max(1e-9);
    let high: Vec<_> = ds
        .iter()
        .filter(|d| d.got.is_some() && d.confidence >= 0.8)
        .collect();
    let precision_08 =
        high.iter().filter(|d| d.got == d.expected).count() as f64 / high.len().max(1) as f64;
    let nulls: Vec<_> = ds.iter().filter(|d| d.got.is_none()).collect();
    let no_match_accuracy =
        nulls.iter().filter(|d| d.expected.is_none()).count() as f64 / nulls.len().max(1) as f64;
    let suggested: Vec<_> = ds.iter().filter(|d| d.got.is_some()).collect();
    let ece = table(&suggested)
        .iter()
        .map(|(n, conf, acc)| (conf - acc).abs() * *n as f64)
        .sum::<f64>()
        / suggested.len().max(1) as f64;
    Figures {
        decisions: ds.len(),
        f1,
        precision_08,
        suggestions_08: high.len(),
        no_match_accuracy,
        no_match_answers: nulls.len(),
        ece,
        read_only_writes: ds.iter().filter(|d| d.writes_read_only).count(),
    }
}

/// Five equal confidence bins over suggestions: (count, mean confidence, accuracy).
fn table(suggested: &[&&Decision]) -> Vec<(usize, f64, f64)> {
    (0..5)
        .map(|b| {
            let lo = b as f64 * 0.2;
            let hi = lo + 0.2;
            let inb: Vec<_> = suggested
                .iter()
                .filter(|d| {
                    d.confidence >= lo && (d.confidence < hi || (b == 4 && d.confidence <= 1.0))
                })
                .collect();
            let n = inb.len();
            let conf = inb.iter().map(|d| d.confidence).sum::<f64>() / n.max(1) as f64;
            let acc = inb.iter().filter(|d| d.got == d.expected).count() as f64 / n.max(1) as f64;
            (n, conf, acc)
        })
        .collect()
}

fn report(name: &str, ds: &[&Decision]) -> Figures {
    let f = figures(ds);
    println!("== {name}: {} labelled decisions", f.decisions);
    println!(
        "   Top-1 F1 {:.3} | precision@conf>=0.8 {:.3} ({} suggestions) | no-match answers right {:.3} ({} answers) | ECE(5 bins) {:.3} | read-only for writing {}",
        f.f1, f.precision_08, f.suggestions_08, f.no_match_accuracy, f.no_match_answers, f.ece, f.read_only_writes
    );
    let suggested: Vec<_> = ds.iter().filter(|d| d.got.is_some()).collect();
    println!("   confidence bin | suggestions | mean confidence | accuracy");
    for (b, (n, conf, acc)) in table(&suggested).iter().enumerate() {
        println!(
            "   {:.1}-{:.1}        | {n:>11} | {conf:>15.3} | {acc:.3}",
            b as f64 * 0.2,
            b as f64 * 0.2 + 0.2
        );
    }
    f
}

/// Pool-adjacent-violators: the isotonic fit of correctness (0/1) on raw score,
/// printed as (raw upper bound, accuracy, count) blocks.
fn isotonic(mut pts: Vec<(f64, f64)>) -> Vec<(f64, f64, usize)> {
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new(); // (max x, sum y, n)
    for (x, y) in pts {
        blocks.push((x, y, 1));
        while blocks.len() >= 2 {
            let (a, b) = (blocks[blocks.len() - 2], blocks[blocks.len() - 1]);
            if a.1 / a.2 as f64 >= b.1 / b.2 as f64 {
                blocks.pop();
                blocks.pop();
                blocks.push((b.0, a.1 + b.1, a.2 + b.2));
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .map(|(x, s, n)| (x, s / n as f64, n))
        .collect()
}

#[test]
fn automap_eval() {
    let portals = portals();
    assert!(portals.len() >= 8, "at least 8 portals");
    let mut all: Vec<Decision> = Vec::new();
    let mut calibration_names = Vec::new();
    for (i, p) in portals.iter().enumerate() {
        if i % 2 == 0 {
            calibration_names.push(p.portal.clone());
        }
        all.extend(run(p));
    }
    for d in &all {
        if d.got != d.expected {
            println!(
                "   miss {}/{}: expected {:?}, got {:?} ({:.2})",
                d.portal, d.key, d.expected, d.got, d.confidence
            );
        }
    }
    let cal: Vec<&Decision> = all
        .iter()
        .filter(|d| calibration_names.contains(&d.portal))
        .collect();
    let held: Vec<&Decision> = all
        .iter()
        .filter(|d| !calibration_names.contains(&d.portal))
        .collect();
    let every: Vec<&Decision> = all.iter().collect();
    println!("calibration portals: {calibration_names:?}");
    report("calibration half", &cal);
    let h = report("held-out half", &held);
    let a = report("all portals", &every);

    // The fit for `CALIBRATION`: accuracy of the top candidate by raw score, on the
    // calibration half. Wrong answers where the field has no right answer count 0.
    let pts: Vec<(f64, f64)> = cal
        .iter()
        .filter(|d| d.got.is_some())
        .map(|d| (d.raw, if d.got == d.expected { 1.0 } else { 0.0 }))
        .collect();
    println!(
        "isotonic fit (raw upper bound, accuracy, n): {:?}",
        isotonic(pts)
            .iter()
            .map(|(x, y, n)| (format!("{x:.3}"), format!("{y:.3}"), *n))
            .collect::<Vec<_>>()
    );

    for (name, f) in [("all", &a), ("held-out", &h)] {
        assert!(f.f1 >= 0.92, "{name}: F1 {:.3} < 0.92", f.f1);
        assert!(
            f.precision_08 >= 0.97,
            "{name}: precision@0.8 {:.3} < 0.97",
            f.precision_08
        );
        assert!(
            f.no_match_accuracy >= 0.90,
            "{name}: no-match accuracy {:.3}",
            f.no_match_accuracy
        );
        assert_eq!(
            f.read_only_writes, 0,
            "{name}: read-only properties for writing"
        );
    }
    assert!(a.ece <= 0.05, "ECE {:.3} > 0.05", a.ece);
    assert!(a.decisions >= 200);
}
