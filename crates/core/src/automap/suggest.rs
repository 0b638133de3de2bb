//! The scorer, the global assignment and the calibration map.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    Alternative, HubspotProperty, KevaFieldSpec, KevaFieldType, PropertyOption, Suggestion,
};
use crate::customer::KevaField;
use crate::mapping::{default_contact_mappings, Direction, ObjectKind};
use crate::validate::{compact, similarity};

/// Below this calibrated confidence a field gets "no match" (its best candidates are
/// still listed as alternatives).
pub const MIN_SUGGEST_CONFIDENCE: f64 = 0.5;

/// Candidates scoring below this raw score are not even alternatives.
const MIN_RAW: f64 = 0.35;

/// Raw score → probability of being right: a monotone piecewise-linear map, the
/// isotonic (pool-adjacent-violators) fit of correctness on raw score over the
/// calibration half of `crates/core/eval`, smoothed to knots and committed. Rerun
/// `cargo nextest run -E 'test(automap_eval)' --no-capture` to print a new fit.
pub const CALIBRATION: &[(f64, f64)] = &[
    (0.0, 0.0),
    (0.35, 0.02),
    (0.5, 0.1),
    (0.6, 0.3),
    (0.7, 0.6),
    (0.8, 0.85),
    (0.9, 0.95),
    (1.0, 0.98),
    (1.3, 0.99),
];

/// The calibrated confidence of a raw score.
pub fn calibrate(raw: f64) -> f64 {
    let mut prev = CALIBRATION[0];
    if raw <= prev.0 {
        return prev.1;
    }
    for &(x, y) in &CALIBRATION[1..] {
        if raw <= x {
            let t = (raw - prev.0) / (x - prev.0);
            return prev.1 + t * (y - prev.1);
        }
        prev = (x, y);
    }
    prev.1
}

/// Sampled value pairs `(Keva value, HubSpot value)` of linked records, keyed by
/// `(field key, property name)`.
pub type ValueSamples = BTreeMap<(String, String), Vec<(String, String)>>;

/// Fewer pairs than this say nothing.
const MIN_SAMPLES: usize = 3;

/// The share of sample pairs whose values agree once normalised for `kind`, or
/// `None` with too few non-empty pairs.
pub fn value_agreement(kind: KevaFieldType, pairs: &[(String, String)]) -> Option<f64> {
    let usable: Vec<_> = pairs
        .iter()
        .filter(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
        .collect();
    if usable.len() < MIN_SAMPLES {
        return None;
    }
    let agree = usable
        .iter()
        .filter(|(a, b)| values_agree(kind, a, b))
        .count();
    Some(agree as f64 / usable.len() as f64)
}

fn values_agree(kind: KevaFieldType, a: &str, b: &str) -> bool {
    match kind {
        KevaFieldType::Phone => {
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
            let (a, b) = (digits(a), digits(b));
            // The national part: country prefixes and trunk zeros differ by source.
            let tail = |s: &str| s.chars().rev().take(9).collect::<String>();
            a.len() >= 6 && tail(&a) == tail(&b)
        }
        KevaFieldType::Number => match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(x), Ok(y)) => (x - y).abs() <= 0.005 * x.abs().max(y.abs()).max(1.0),
            _ => false,
        },
        KevaFieldType::Date | KevaFieldType::Datetime => {
            // HubSpot sends dates as ISO or epoch ms; compare the calendar day.
            let day = |s: &str| -> Option<String> {
                let s = s.trim();
                if let Ok(ms) = s.parse::<i64>() {
                    return chrono::DateTime::from_timestamp_millis(ms)
                        .map(|d| d.format("%Y-%m-%d").to_string());
                }
                s.get(..10).map(str::to_string)
            };
            matches!((day(a), day(b)), (Some(x), Some(y)) if x == y)
        }
        KevaFieldType::Boolean => {
            let truthy = |s: &str| matches!(compact(s).as_str(), "true" | "yes" | "1" | "y");
            truthy(a) == truthy(b)
        }
        KevaFieldType::MultiEnum => {
            let set = |s: &str| -> BTreeSet<String> {
                s.split([';', ','])
                    .map(compact)
                    .filter(|x| !x.is_empty())
                    .collect()
            };
            set(a) == set(b)
        }
        _ => compact(a) == compact(b),
    }
}

/// What a HubSpot property holds, from `type` and `fieldType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PropKind {
    Text,
    Phone,
    Number,
    Date,
    Datetime,
    Bool,
    Enum,
    Multi,
    Other,
}

impl PropKind {
    fn of(p: &HubspotProperty) -> Self {
        Self::of_types(&p.kind, &p.field_type)
    }

    fn of_types(kind: &str, field_type: &str) -> Self {
        match (kind, field_type) {
            ("phone_number", _) | ("string", "phonenumber") => Self::Phone,
            ("string", _) => Self::Text,
            ("number", _) => Self::Number,
            ("date", _) => Self::Date,
            ("datetime", _) => Self::Datetime,
            ("bool", _) | ("enumeration", "booleancheckbox") => Self::Bool,
            ("enumeration", "checkbox") => Self::Multi,
            ("enumeration", _) => Self::Enum,
            _ => Self::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Text => "string",
            Self::Phone => "phone_number",
            Self::Number => "number",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Bool => "bool",
            Self::Enum => "enumeration",
            Self::Multi => "multi-select",
            Self::Other => "other",
        }
    }
}

/// How well a field type fits a property type: a score adjustment, and whether only
/// HubSpot → Keva makes sense (Keva values would not be valid HubSpot values).
/// `None`: incompatible, never suggested.
fn compat(field: KevaFieldType, prop: PropKind) -> Option<(f64, bool)> {
    use KevaFieldType as F;
    use PropKind as P;
    Some(match (field, prop) {
        (F::String, P::Text) | (F::Email, P::Text) => (0.0, false),
        (F::String, P::Phone) => (-0.1, false),
        (F::String, P::Enum) => (-0.15, true),
        (F::Phone, P::Phone) => (0.03, false),
        (F::Phone, P::Text) => (-0.08, false),
        (F::Number, P::Number) => (0.03, false),
        (F::Number, P::Text) => (-0.15, true),
        (F::Date, P::Date) | (F::Datetime, P::Datetime) => (0.03, false),
        (F::Date, P::Datetime) => (-0.05, false),
        (F::Datetime, P::Date) => (-0.1, false),
        (F::Date | F::Datetime, P::Text) => (-0.2, true),
        (F::Boolean, P::Bool) => (0.03, false),
        (F::Enum, P::Enum) | (F::MultiEnum, P::Multi) => (0.03, false),
        (F::Enum, P::Multi) => (-0.1, false),
        (F::Enum, P::Text) | (F::MultiEnum, P::Text) => (-0.15, false),
        (F::MultiEnum, P::Enum) => (-0.2, true),
        _ => return None,
    })
}

/// Whether a Keva value of type `field` can be mapped to a HubSpot property of
/// `type`/`fieldType` (`kind`, `field_type`), with the same table the scorer
/// uses: `Err` says why not; `Ok(true)` means only From CRM makes sense (Keva's
/// values would not all be valid HubSpot values, e.g. free text into an
/// enumeration), `Ok(false)` any direction.
pub fn type_fit(field: KevaFieldType, kind: &str, field_type: &str) -> Result<bool, String> {
    let prop = PropKind::of_types(kind, field_type);
    compat(field, prop)
        .map(|(_, from_crm_only)| from_crm_only)
        .ok_or_else(|| {
            format!(
                "a {} value cannot be held by a {} property",
                field.as_str(),
                prop.as_str()
            )
        })
}

/// Extra phrases a field is known by, beyond its key and label: the built-ins'
/// synonyms and a few CRM words that share no letters with their meaning. Acronyms
/// ("mrr" ≈ "Monthly Recurring Revenue") need no entry: initials are matched.
fn synonyms(key: &str) -> &'static [(&'static str, f64)] {
    match key {
        "email" => &[("email address", 0.95), ("work email", 0.8)],
        "name" => &[("full name", 0.9), ("contact name", 0.85)],
        "phone" => &[
            ("phone number", 0.95),
            ("telephone", 0.9),
            ("mobile phone", 0.85),
            ("mobile", 0.8),
        ],
        "mobile" | "mobilephone" => &[("mobile phone number", 0.95), ("cell phone", 0.9)],
        "company" => &[
            ("company name", 0.95),
            ("organization", 0.9),
            ("organisation", 0.9),
            ("employer", 0.85),
        ],
        "jobtitle" => &[("title", 0.85), ("position", 0.85), ("role", 0.8)],
        "location" => &[("city", 0.9), ("address", 0.75), ("street address", 0.7)],
        "notes" => &[("note", 0.95), ("comments", 0.85), ("description", 0.8)],
        "linkedin" => &[("linkedin url", 0.95), ("linkedin profile", 0.95)],
        "timezone" => &[("time zone", 1.0)],
        "language" => &[("preferred language", 0.95), ("locale", 0.85)],
        "postcode" | "zipcode" => &[("postal code", 0.95), ("zip", 0.95)],
        "employees" => &[("number of employees", 0.95), ("headcount", 0.9)],
        "dateofbirth" | "dob" => &[("birthday", 0.95), ("birth date", 0.95)],
        "doctor" => &[("practitioner", 0.85), ("physician", 0.9)],
        "insurer" => &[("insurance provider", 0.95), ("insurance company", 0.95)],
        "website" => &[("website url", 1.0)],
        "yearfounded" => &[("founded year", 0.95), ("year founded", 1.0)],
        _ => &[],
    }
}

/// Words that mark a migration copy or a stale duplicate of a property.
const STALE: &[&str] = &[
    "old",
    "legacy",
    "backup",
    "bak",
    "copy",
    "deprecated",
    "archive",
    "archived",
    "previous",
    "prev",
    "salesforce",
    "sfdc",
    "imported",
    "import",
    "unused",
];

/// Property groups HubSpot fills itself (analytics, activity and deal roll-ups).
const SYSTEM_GROUPS: &[&str] = &[
    "analyticsinformation",
    "emailinformation",
    "deal_information",
    "contact_activity",
    "company_activity",
];

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "at", "in", "on", "for", "to", "and", "c", "hs", "is", "no",
];

/// Lower-case words of a name, label or key: split at non-alphanumerics and at
/// camelCase humps, stop words dropped, a plural `s` trimmed.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase() || ch.is_numeric();
            cur.extend(ch.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_string(),
            _ => w,
        })
        .collect()
}

fn initials(ws: &[String]) -> String {
    ws.iter().filter_map(|w| w.chars().next()).collect()
}

/// Two words are the same for matching: equal, or one a prefix (≥ 4 letters) of
/// the other ("cust" / "customer", "enrol" / "enrollment").
fn word_eq(a: &str, b: &str) -> bool {
    a == b || (a.len().min(b.len()) >= 4 && (a.starts_with(b) || b.starts_with(a)))
}

/// Words that mean the same in CRM data although they share no letters.
const SAME_WORDS: &[(&str, &str)] = &[
    ("visit", "appointment"),
    ("work", "office"),
    ("lifetime", "total"),
    ("cell", "mobile"),
    ("organisation", "organization"),
    ("employer", "company"),
];

fn same_word(a: &str, b: &str) -> bool {
    word_eq(a, b)
        || SAME_WORDS
            .iter()
            .any(|(x, y)| (a == *x && b == *y) || (a == *y && b == *x))
}

/// Dice coefficient of two word lists.
fn dice(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let hits = a
        .iter()
        .filter(|x| b.iter().any(|y| same_word(x, y)))
        .count();
    let hits_b = b
        .iter()
        .filter(|y| a.iter().any(|x| same_word(x, y)))
        .count();
    (hits + hits_b) as f64 / (a.len() + b.len()) as f64
}

/// A property's precomputed text features.
struct PropFeatures<'a> {
    prop: &'a HubspotProperty,
    kind: PropKind,
    name_words: Vec<String>,
    label_words: Vec<String>,
    desc_words: Vec<String>,
    name_c: String,
    label_c: String,
    label_initials: String,
    stale: bool,
    system_group: bool,
    options: BTreeSet<String>,
}

impl<'a> PropFeatures<'a> {
    fn new(prop: &'a HubspotProperty) -> Self {
        let name_words: Vec<String> = words(&prop.name);
        let label_words = words(&prop.label);
        let all_words = name_words.iter().chain(&label_words);
        let stale = all_words.clone().any(|w| {
            STALE.contains(&w.as_str())
                // A year in the name: a snapshot (`acv_2019`, `mrr_2022_backup`).
                || (w.len() == 4 && (w.starts_with("19") || w.starts_with("20")) && w.chars().all(|c| c.is_ascii_digit()))
        });
        Self {
            prop,
            kind: PropKind::of(prop),
            name_c: name_words.concat(),
            label_c: label_words.concat(),
            label_initials: initials(&label_words),
            desc_words: words(&prop.description),
            name_words,
            label_words,
            stale,
            system_group: SYSTEM_GROUPS.contains(&prop.group_name.as_str()),
            options: options_set(&prop.options),
        }
    }
}

fn options_set(options: &[PropertyOption]) -> BTreeSet<String> {
    options
        .iter()
        .flat_map(|o| [compact(&o.value), compact(&o.label)])
        .filter(|s| !s.is_empty())
        .collect()
}

/// A field's precomputed text features.
struct FieldFeatures<'a> {
    spec: &'a KevaFieldSpec,
    key_words: Vec<String>,
    label_words: Vec<String>,
    desc_words: Vec<String>,
    /// Compacted phrases with their weight: key, label, synonyms.
    phrases: Vec<(String, f64, String)>,
    short_desc: Option<String>,
    default_direction: Direction,
}

impl<'a> FieldFeatures<'a> {
    fn new(spec: &'a KevaFieldSpec) -> Self {
        let key_words = words(&spec.key);
        let label_words = spec.label.as_deref().map(words).unwrap_or_default();
        let key_c = key_words.concat();
        let mut phrases = vec![
            (key_c.clone(), 1.0, spec.key.clone()),
            (compact(&spec.key), 1.0, spec.key.clone()),
        ];
        if let Some(label) = &spec.label {
            phrases.push((label_words.concat(), 1.0, label.clone()));
        }
        let label_c = spec.label.as_deref().map(compact).unwrap_or_default();
        for (syn, w) in synonyms(&compact(&spec.key))
            .iter()
            .chain(synonyms(&label_c).iter())
        {
            phrases.push((compact(syn), *w, (*syn).to_string()));
        }
        let desc_words = spec.description.as_deref().map(words).unwrap_or_default();
        let default_direction = KevaField::ALL
            .iter()
            .find(|f| f.as_str() == spec.key)
            .and_then(|f| {
                default_contact_mappings()
                    .into_iter()
                    .find(|m| m.keva_field == *f)
            })
            .map(|m| m.direction)
            .unwrap_or(Direction::Bidirectional);
        // A short description ("Shipping city") is a second, more precise label.
        let short_desc = (1..=3)
            .contains(&desc_words.len())
            .then(|| desc_words.concat());
        Self {
            spec,
            desc_words,
            short_desc,
            key_words,
            label_words,
            phrases,
            default_direction,
        }
    }
}

/// A scored (field, property) pair.
struct Candidate {
    field: usize,
    prop: usize,
    raw: f64,
    direction: Direction,
    reason: String,
}

/// Scores one pair; `None` when the property must never be suggested for the field.
fn score(f: &FieldFeatures, p: &PropFeatures) -> Option<(f64, Direction, String)> {
    let (type_adj, from_crm_only) = compat(f.spec.kind, p.kind)?;
    let writes_only = f.default_direction == Direction::ToCrm;
    let direction = if p.prop.read_only() || from_crm_only {
        if writes_only {
            return None;
        }
        Direction::FromCrm
    } else {
        f.default_direction
    };

    // Text: the best of whole-phrase similarity, acronym and word overlap.
    let mut text = 0.0;
    let mut why = String::new();
    for (phrase, weight, shown) in &f.phrases {
        if phrase.is_empty() {
            continue;
        }
        for (what, pc, pshown) in [
            ("name", &p.name_c, &p.prop.name),
            ("label", &p.label_c, &p.prop.label),
        ] {
            let s = similarity(phrase, pc) * weight;
            if s > text {
                text = s;
                why = format!("{what} '{pshown}' ≈ {shown}");
            }
        }
        if phrase.len() >= 2 && *phrase == p.label_initials && p.label_words.len() >= 2 {
            let s = 0.95 * weight;
            if s > text {
                text = s;
                why = format!("label '{}' ≈ {shown} (initials)", p.prop.label);
            }
        }
    }
    let mut fwords = f.key_words.clone();
    for w in &f.label_words {
        if !fwords.contains(w) {
            fwords.push(w.clone());
        }
    }
    let mut pwords = p.name_words.clone();
    for w in &p.label_words {
        if !pwords.contains(w) {
            pwords.push(w.clone());
        }
    }
    // Word overlap on both sides, each side scored by its best reading.
    let overlap = [
        dice(&f.key_words, &p.label_words),
        dice(&f.key_words, &p.name_words),
        dice(&f.label_words, &p.label_words),
        dice(&f.label_words, &p.name_words),
        dice(&fwords, &pwords),
    ]
    .into_iter()
    .fold(0.0, f64::max)
        * 0.9;
    if overlap > text {
        text = overlap;
        why = format!("words of '{}' ≈ {}", p.prop.label, f.spec.key);
    }
    // A short description that names the property outright beats the key.
    if let Some(d) = &f.short_desc {
        for (what, pc, pshown) in [
            ("name", &p.name_c, &p.prop.name),
            ("label", &p.label_c, &p.prop.label),
        ] {
            let s = similarity(d, pc);
            if s >= 0.9 && s * 1.05 > text {
                text = s * 1.05;
                why = format!("{what} '{pshown}' ≈ description of {}", f.spec.key);
            }
        }
    }
    // A custom property whose words contain all of the field's ("Buyer notes" for
    // notes): the portal's own, more specific version of the field.
    if !p.prop.hubspot_defined
        && !f.key_words.is_empty()
        && f.key_words
            .iter()
            .all(|w| pwords.iter().any(|y| same_word(w, y)))
    {
        let s = 0.72 + 0.15 * dice(&f.key_words, &pwords);
        if s > text {
            text = s;
            why = format!("'{}' contains {}", p.prop.label, f.spec.key);
        }
    }
    // Descriptions: weak evidence either way round.
    let desc = dice(&f.desc_words, &pwords).max(dice(&fwords, &p.desc_words) * 0.6);
    let mut raw = text + 0.12 * desc;

    raw += type_adj;
    let mut notes: Vec<String> = Vec::new();
    // Options: an enum's values against the property's option values and labels.
    if !f.spec.options.is_empty() && !p.options.is_empty() {
        let hit = f
            .spec
            .options
            .iter()
            .filter(|o| p.options.contains(&compact(o)))
            .count();
        let share = hit as f64 / f.spec.options.len() as f64;
        raw += 0.2 * share - 0.1;
        notes.push(format!("{hit}/{} options shared", f.spec.options.len()));
    }
    let field_stale = f
        .key_words
        .iter()
        .chain(&f.label_words)
        .any(|w| STALE.contains(&w.as_str()));
    if p.stale && !field_stale {
        raw -= 0.25;
        notes.push("looks like a migration copy".into());
    }
    if p.prop.read_only() {
        raw -= 0.05;
        notes.push("read-only in HubSpot".into());
    }
    if p.system_group {
        raw -= 0.05;
    }
    if !p.prop.hubspot_defined {
        // The portal made it on purpose: prefer it over a look-alike default.
        raw += 0.04;
    }
    let reason = format!(
        "{why}; {} ↔ {}{}{}",
        f.spec.kind.as_str(),
        p.kind.as_str(),
        if notes.is_empty() { "" } else { "; " },
        notes.join("; ")
    );
    Some((raw, direction, reason))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Suggests a HubSpot property (or none) for every field, each property used at
/// most once. Deterministic; the order of `properties` does not matter.
pub fn automap(
    fields: &[KevaFieldSpec],
    properties: &[HubspotProperty],
    object: ObjectKind,
) -> Vec<Suggestion> {
    automap_with_samples(fields, properties, object, &ValueSamples::new())
}

/// [`automap`] with sampled values of linked records: agreement of the values is
/// the strongest evidence there is, so it moves the raw score by up to ±0.3.
pub fn automap_with_samples(
    fields: &[KevaFieldSpec],
    properties: &[HubspotProperty],
    object: ObjectKind,
    samples: &ValueSamples,
) -> Vec<Suggestion> {
    let mut order: Vec<&HubspotProperty> = properties.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    order.dedup_by(|a, b| a.name == b.name);
    let props: Vec<PropFeatures> = order.into_iter().map(PropFeatures::new).collect();
    let feats: Vec<FieldFeatures> = fields.iter().map(FieldFeatures::new).collect();

    let mut taken: BTreeSet<usize> = BTreeSet::new();
    let mut result: Vec<Option<Suggestion>> = vec![None; fields.len()];

    // A split name is the one mapping that needs two properties; claim them first.
    let find = |n: &str| props.iter().position(|p| p.prop.name == n);
    if object == ObjectKind::Contact {
        if let (Some(i), Some(first), Some(last)) = (
            fields
                .iter()
                .position(|f| f.key == "name" && f.kind == KevaFieldType::String),
            find("firstname"),
            find("lastname"),
        ) {
            taken.extend([first, last]);
            result[i] = Some(Suggestion {
                key: "name".into(),
                property: Some("firstname".into()),
                also: vec!["lastname".into()],
                confidence: calibrate(1.2),
                reason: "firstname + lastname, split by the name rules".into(),
                direction: Direction::Bidirectional,
                alternatives: Vec::new(),
                raw_score: 1.2,
            });
        }
    }

    let mut cands: Vec<Candidate> = Vec::new();
    for (fi, f) in feats.iter().enumerate() {
        if result[fi].is_some() {
            continue;
        }
        for (pi, p) in props.iter().enumerate() {
            if taken.contains(&pi) {
                continue;
            }
            let Some((mut raw, direction, mut reason)) = score(f, p) else {
                continue;
            };
            if let Some(pairs) = samples.get(&(f.spec.key.clone(), p.prop.name.clone())) {
                if let Some(a) = value_agreement(f.spec.kind, pairs) {
                    raw += 0.6 * (a - 0.5);
                    reason.push_str(&format!("; {:.0}% of sampled values agree", a * 100.0));
                }
            }
            if raw >= MIN_RAW {
                cands.push(Candidate {
                    field: fi,
                    prop: pi,
                    raw,
                    direction,
                    reason,
                });
            }
        }
    }
    // Greedy global assignment, best first; ties by field order then property name.
    cands.sort_by(|a, b| {
        b.raw
            .total_cmp(&a.raw)
            .then(a.field.cmp(&b.field))
            .then(a.prop.cmp(&b.prop))
    });
    let mut chosen: Vec<Option<usize>> = vec![None; fields.len()];
    for (ci, c) in cands.iter().enumerate() {
        if chosen[c.field].is_some() || result[c.field].is_some() || taken.contains(&c.prop) {
            continue;
        }
        if calibrate(c.raw) < MIN_SUGGEST_CONFIDENCE {
            continue;
        }
        taken.insert(c.prop);
        chosen[c.field] = Some(ci);
    }

    for (fi, f) in fields.iter().enumerate() {
        if result[fi].is_some() {
            continue;
        }
        let pick = chosen[fi].and_then(|ci| cands.get(ci));
        let alternatives: Vec<Alternative> = cands
            .iter()
            .filter(|c| c.field == fi && Some(c.prop) != pick.map(|p| p.prop))
            .filter(|c| !taken.contains(&c.prop))
            .take(2)
            .map(|c| Alternative {
                property: props[c.prop].prop.name.clone(),
                confidence: round3(calibrate(c.raw)),
            })
            .collect();
        result[fi] = Some(match pick {
            Some(c) => Suggestion {
                key: f.key.clone(),
                property: Some(props[c.prop].prop.name.clone()),
                also: Vec::new(),
                confidence: round3(calibrate(c.raw)),
                reason: c.reason.clone(),
                direction: c.direction,
                alternatives,
                raw_score: c.raw,
            },
            None => Suggestion {
                key: f.key.clone(),
                property: None,
                also: Vec::new(),
                confidence: 0.0,
                reason: "no property fits well enough".into(),
                direction: feats[fi].default_direction,
                alternatives,
                raw_score: 0.0,
            },
        });
    }
    result.into_iter().flatten().collect()
}
