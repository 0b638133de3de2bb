//! `reconcile`: the one function that decides what a sync writes (docs/sync-contract.md#three-way-merge).
//!
//! Every trigger — ticket, profile edit, webhook, Sync Now, batch — loads the same
//! inputs and calls [`reconcile`]; the worker only applies the returned [`Plan`].
//!
//! Per mapping, each side is compared with **its own base** (the value it held when
//! the two sides last agreed, stored on the link):
//!
//! | Keva changed | HubSpot changed | Result |
//! |---|---|---|
//! | no  | no  | nothing |
//! | yes | no  | write `to_crm(keva)` to HubSpot, if the direction allows |
//! | no  | yes | write `from_crm(hubspot)` to Keva, if the direction allows |
//! | yes | yes | conflict, resolved by the connector's policy ([`crate::conflict`]) |
//!
//! Rules layered on that table, in order:
//! 1. Sides that already agree — `to_crm(keva)` equals HubSpot's values, or
//!    `from_crm(hubspot)` equals Keva's — need nothing, whatever changed. Values
//!    compare trimmed; emails compare case-insensitively (HubSpot lower-cases them).
//! 2. Directions: a change on the side a mapping does not read from is ignored — it
//!    is neither written across nor a conflict (a HubSpot edit of a to-CRM field
//!    stays in HubSpot until Keva's value next changes).
//! 3. First link (no base for the mapping): fill the empty side; where both hold
//!    different values, the policy decides — `newest_wins` (the default) lets HubSpot
//!    win for bidirectional/from-CRM fields and Keva for to-CRM ones, recorded as a
//!    `first_link` conflict. An empty side never overwrites a non-empty one here.
//! 4. Email: an empty or invalid email is never written to either side (a warning
//!    says why, once: the bases still move on, so the same bad value is not
//!    re-warned on every sync, and the next real edit on either side flows). A valid
//!    changed email flows like any field — the link keeps the contact id, so the
//!    contact moves with it instead of a second one being created.
//! 5. Empty values: a change to empty on one side only is the newest change since
//!    the sides agreed, so it flows (`""` clears the HubSpot property). In a
//!    conflict, an empty winner stands only if provably newer (see
//!    [`crate::conflict::resolve`]).
//! 6. Only properties whose value actually changes are in `to_hubspot`; properties
//!    of no mapping never appear. Mappings naming a property the portal lacks
//!    (`missing_properties`) are skipped with a warning and keep their old bases.
//! 7. Attributes (`attributes.<key>`): values compare in the attribute's canonical
//!    form, so HubSpot's rendering of a value Keva wrote (a date sent as epoch
//!    milliseconds and echoed as `2026-01-05`, `1250.0` for `1250`) is no change.
//!    A HubSpot value that does not fit the attribute's type is not taken (a
//!    warning says why; Keva keeps its value). A mapping whose attribute has no
//!    live definition is skipped like a missing property.
//! 8. A `phone_e164` mapping sends a number that is not valid as typed, with an
//!    `invalid_phone` warning, rather than a mangled one.
//! 9. `new_bases` is what each side holds after the plan is applied, so reconciling
//!    again at once yields an empty plan, and HubSpot's webhook echo of our own write
//!    (HubSpot now equal to its base) is no change: the ping-pong guard.
//!
//! Why two bases and not one: name splitting and transforms are not invertible.
//! "Mary" / "Jane Watson" from HubSpot becomes Keva's "Mary Jane Watson", which would
//! split back as "Mary Jane" / "Watson"; with a base per side, Keva's value equals
//! its base, so nothing is pushed back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::conflict::{
    resolve, source_side, Conflict, ConflictPolicy, Contender, Resolution, Side,
};
use crate::customer::{Customer, KevaField};
use crate::email::Email;
use crate::mapping::{
    canonical_text, clean, crm_value_error, from_crm, to_crm, typed_value, FieldMapping,
    HubspotValues,
};
use crate::plan::{Bases, FieldChange, Plan, Warning, WarningCode};
use crate::status::SyncDirection;

/// One side's current value of a field or property, with when it last changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stamped {
    pub value: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Stamped {
    pub fn new(value: Option<&str>, updated_at: Option<DateTime<Utc>>) -> Self {
        Self {
            value: value.map(str::to_string),
            updated_at,
        }
    }
}

/// Everything `reconcile` decides from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileInput {
    pub mappings: Vec<FieldMapping>,
    pub policy: ConflictPolicy,
    /// Keva's values with per-field `updated_at`; a missing field is empty.
    pub keva: BTreeMap<KevaField, Stamped>,
    /// HubSpot's property values with per-property timestamps (from
    /// `propertiesWithHistory` or a webhook's `occurredAt`); a missing property is
    /// empty.
    pub hubspot: BTreeMap<String, Stamped>,
    /// The link's agreed values; `None` for a first link.
    pub bases: Option<Bases>,
    /// Mapped properties the portal does not have (from its property list).
    pub missing_properties: BTreeSet<String>,
}

/// Keva's side of a reconcile from a stored customer (built-in fields and the
/// attributes it holds): each field stamped with its own change time when known,
/// else with the customer's `updated_at`.
pub fn keva_values(
    customer: &Customer,
    field_updated_at: &BTreeMap<KevaField, DateTime<Utc>>,
) -> BTreeMap<KevaField, Stamped> {
    let attributes = customer
        .attributes
        .keys()
        .filter_map(|k| KevaField::attribute(k));
    KevaField::ALL
        .into_iter()
        .chain(attributes)
        .map(|f| {
            let ts = field_updated_at
                .get(&f)
                .copied()
                .unwrap_or(customer.updated_at);
            (f, Stamped::new(customer.field(f).as_deref(), Some(ts)))
        })
        .collect()
}

enum Action {
    Nothing,
    Push,
    Pull,
}

/// Decides what to write, per the module's rules.
pub fn reconcile(input: ReconcileInput) -> Plan {
    let mut plan = Plan::default();
    for m in &input.mappings {
        if m.hubspot_properties.is_empty() {
            continue;
        }
        if let Some(p) = m
            .hubspot_properties
            .iter()
            .find(|p| input.missing_properties.contains(*p))
        {
            let message = format!(
                "HubSpot property '{p}' doesn't exist in this portal: create it in HubSpot \
                 (Settings > Properties) or change the {} mapping; the other fields still sync",
                m.keva_field.as_str()
            );
            skip_mapping(&input, m, WarningCode::PropertyMissing, message, &mut plan);
            continue;
        }
        if m.unbound_attribute() {
            let message = format!(
                "the {} mapping names an attribute that is not defined (or retired): \
                 it is skipped, the other fields still sync",
                m.keva_field.as_str()
            );
            skip_mapping(
                &input,
                m,
                WarningCode::AttributeUnavailable,
                message,
                &mut plan,
            );
            continue;
        }
        reconcile_mapping(&input, m, &mut plan);
    }
    plan
}

/// A mapping that cannot sync now: warned about, its bases kept.
fn skip_mapping(
    input: &ReconcileInput,
    m: &FieldMapping,
    code: WarningCode,
    message: String,
    plan: &mut Plan,
) {
    plan.warnings.push(Warning {
        field: m.keva_field,
        code,
        message,
    });
    if let Some(bases) = &input.bases {
        if let Some(v) = bases.keva.get(&m.keva_field) {
            plan.new_bases.keva.insert(m.keva_field, v.clone());
        }
        for p in &m.hubspot_properties {
            if let Some(v) = bases.hubspot.get(p) {
                plan.new_bases.hubspot.insert(p.clone(), v.clone());
            }
        }
    }
}

/// One mapping's current values on both sides, emptiness normalised to `None`.
struct Current {
    k: Option<String>,
    k_ts: Option<DateTime<Utc>>,
    h: HubspotValues,
    h_ts: Option<DateTime<Utc>>,
    h_empty: bool,
}

impl Current {
    fn read(input: &ReconcileInput, m: &FieldMapping) -> Self {
        let keva = input.keva.get(&m.keva_field);
        let h: HubspotValues = m
            .hubspot_properties
            .iter()
            .map(|p| {
                let v = input.hubspot.get(p).and_then(|s| clean(s.value.as_deref()));
                (p.clone(), v.map(str::to_string))
            })
            .collect();
        Self {
            k: keva
                .and_then(|s| clean(s.value.as_deref()))
                .map(str::to_string),
            k_ts: keva.and_then(|s| s.updated_at),
            h_empty: h.values().all(Option::is_none),
            h,
            // For firstname + lastname, the later of the two changes.
            h_ts: m
                .hubspot_properties
                .iter()
                .filter_map(|p| input.hubspot.get(p).and_then(|s| s.updated_at))
                .max(),
        }
    }
}

fn reconcile_mapping(input: &ReconcileInput, m: &FieldMapping, plan: &mut Plan) {
    let cur = Current::read(input, m);
    let (action, winner) = decide(input, m, &cur);

    if let Some((side, resolution)) = winner {
        plan.conflicts.push(Conflict {
            field: m.keva_field,
            keva_value: cur.k.clone(),
            hubspot_value: if cur.h_empty {
                None
            } else {
                from_crm(m, &cur.h)
            },
            hubspot_properties: cur.h.clone(),
            keva_ts: cur.k_ts,
            hubspot_ts: cur.h_ts,
            winner: side,
            resolution,
        });
    }

    let blocked = match action {
        Action::Push => email_refusal(
            m,
            to_crm(m, cur.k.as_deref()).values().next(),
            Side::Hubspot,
        ),
        Action::Pull => email_refusal(m, from_crm(m, &cur.h).as_ref(), Side::Keva)
            .or_else(|| misfit_refusal(m, &cur.h)),
        Action::Nothing => None,
    };
    match (action, blocked) {
        (_, Some(warning)) => {
            plan.warnings.push(warning);
            keep(input, m, cur, plan);
        }
        (Action::Push, None) => push(m, cur, plan),
        (Action::Pull, None) => pull(m, cur, plan),
        (Action::Nothing, None) => keep(input, m, cur, plan),
    }
}

/// The table of the module doc, plus first-link and conflict rules.
fn decide(
    input: &ReconcileInput,
    m: &FieldMapping,
    cur: &Current,
) -> (Action, Option<(Side, Resolution)>) {
    if agree(m, cur.k.as_deref(), &cur.h) {
        return (Action::Nothing, None);
    }
    let Some((base_k, base_h)) = input.bases.as_ref().and_then(|b| base_of(b, m)) else {
        return first_link(input.policy, m, cur.k.is_none(), cur.h_empty);
    };
    let keva_changed = m.direction.writes_crm() && !same(m, cur.k.as_deref(), base_k.as_deref());
    let hubspot_changed = m.direction.writes_keva() && !same_props(m, &cur.h, &base_h);
    match (keva_changed, hubspot_changed) {
        (false, false) => (Action::Nothing, None),
        (true, false) => (Action::Push, None),
        (false, true) => (Action::Pull, None),
        (true, true) => {
            let w = resolve(
                input.policy,
                m.direction,
                Contender {
                    empty: cur.k.is_none(),
                    updated_at: cur.k_ts,
                },
                Contender {
                    empty: cur.h_empty,
                    updated_at: cur.h_ts,
                },
            );
            (winner_action(m, w.0), Some(w))
        }
    }
}

/// The link's bases for one mapping, if it has them all (a mapping added since the
/// last sync has none and is treated as a first link).
fn base_of(bases: &Bases, m: &FieldMapping) -> Option<(Option<String>, HubspotValues)> {
    let k = bases.keva.get(&m.keva_field)?;
    let h = m
        .hubspot_properties
        .iter()
        .map(|p| {
            bases
                .hubspot
                .get(p)
                .map(|v| (p.clone(), clean(v.as_deref()).map(str::to_string)))
        })
        .collect::<Option<HubspotValues>>()?;
    Some((clean(k.as_deref()).map(str::to_string), h))
}

fn first_link(
    policy: ConflictPolicy,
    m: &FieldMapping,
    k_empty: bool,
    h_empty: bool,
) -> (Action, Option<(Side, Resolution)>) {
    let d = m.direction;
    let push_if = |ok: bool| if ok { Action::Push } else { Action::Nothing };
    let pull_if = |ok: bool| if ok { Action::Pull } else { Action::Nothing };
    match (k_empty, h_empty) {
        (false, true) => (push_if(d.writes_crm()), None),
        (true, false) => (pull_if(d.writes_keva()), None),
        // Both empty yet not agreeing: only a default can do that; write it.
        (true, true) if d.writes_crm() => (Action::Push, None),
        (true, true) => (pull_if(d.writes_keva()), None),
        (false, false) => {
            let w = match policy {
                ConflictPolicy::KevaWins => (Side::Keva, Resolution::KevaWinsPolicy),
                ConflictPolicy::HubspotWins => (Side::Hubspot, Resolution::HubspotWinsPolicy),
                ConflictPolicy::NewestWins => (source_side(d), Resolution::FirstLink),
            };
            (winner_action(m, w.0), Some(w))
        }
    }
}

/// The write that makes `side`'s value win; nothing when the direction forbids it
/// (the winning side then simply keeps its value).
fn winner_action(m: &FieldMapping, side: Side) -> Action {
    match side {
        Side::Keva if m.direction.writes_crm() => Action::Push,
        Side::Hubspot if m.direction.writes_keva() => Action::Pull,
        _ => Action::Nothing,
    }
}

/// Rule 4: why an email must not cross to `to`, if it must not.
fn email_refusal(m: &FieldMapping, value: Option<&String>, to: Side) -> Option<Warning> {
    if m.keva_field != KevaField::Email {
        return None;
    }
    let target = match to {
        Side::Hubspot => "HubSpot",
        Side::Keva => "Keva",
    };
    let (code, message) = match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => (
            WarningCode::EmptyEmail,
            format!("the email was emptied on one side; {target}'s email was kept"),
        ),
        Some(v) => match Email::parse(v) {
            Ok(_) => return None,
            Err(e) => (
                WarningCode::InvalidEmail,
                format!("not sent to {target}: {e}"),
            ),
        },
    };
    Some(Warning {
        field: m.keva_field,
        code,
        message,
    })
}

/// Rule 7: why HubSpot's value of an attribute must not be taken, if it must not.
fn misfit_refusal(m: &FieldMapping, h: &HubspotValues) -> Option<Warning> {
    let why = crm_value_error(m, h)?;
    let prop = m.hubspot_properties.first().map_or("", String::as_str);
    Some(Warning {
        field: m.keva_field,
        code: WarningCode::InvalidValue,
        message: format!(
            "HubSpot's value of '{prop}' was not taken for {}: {why}; Keva's value was kept",
            m.keva_field.as_str()
        ),
    })
}

fn push(m: &FieldMapping, cur: Current, plan: &mut Plan) {
    if let Some(message) = m.phone_problem(cur.k.as_deref()) {
        plan.warnings.push(Warning {
            field: m.keva_field,
            code: WarningCode::InvalidPhone,
            message,
        });
    }
    let target = to_crm(m, cur.k.as_deref());
    for (p, old) in cur.h {
        let new = target.get(&p).cloned().unwrap_or_default();
        // Only properties whose value changes are written (rule 6).
        let held = if same(m, Some(&new), old.as_deref()) {
            old
        } else {
            plan.to_hubspot.insert(p.clone(), new.clone());
            let new = clean(Some(&new)).map(str::to_string);
            plan.fields_changed.push(FieldChange {
                field: m.keva_field,
                property: Some(p.clone()),
                direction: SyncDirection::ToCrm,
                old,
                new: new.clone(),
            });
            new
        };
        plan.new_bases.hubspot.insert(p, held);
    }
    plan.new_bases.keva.insert(m.keva_field, cur.k);
}

fn pull(m: &FieldMapping, cur: Current, plan: &mut Plan) {
    let new = from_crm(m, &cur.h);
    if let (Some(key), Some(spec)) = (m.keva_field.attribute_key(), &m.attribute) {
        // `misfit_refusal` has made sure HubSpot's value fits.
        let typed = new
            .as_deref()
            .and_then(|t| typed_value(spec, t).ok().flatten());
        plan.to_keva_attributes.insert(key.key().to_string(), typed);
    }
    plan.to_keva.insert(m.keva_field, new.clone());
    plan.fields_changed.push(FieldChange {
        field: m.keva_field,
        property: None,
        direction: SyncDirection::FromCrm,
        old: cur.k,
        new: new.clone(),
    });
    plan.new_bases.keva.insert(m.keva_field, new);
    plan.new_bases.hubspot.extend(cur.h);
}

fn keep(input: &ReconcileInput, m: &FieldMapping, cur: Current, plan: &mut Plan) {
    plan.new_bases.keva.insert(m.keva_field, cur.k);
    for (p, v) in cur.h {
        // HubSpot renders some values other than they were written (a date sent
        // as epoch ms comes back as an instant): the base keeps the rendering it
        // has while the value is the same, so the link and history do not churn.
        let base = input.bases.as_ref().and_then(|b| b.hubspot.get(&p));
        let held = match base {
            Some(b) if m.attribute.is_some() && same(m, v.as_deref(), b.as_deref()) => b.clone(),
            _ => v,
        };
        plan.new_bases.hubspot.insert(p, held);
    }
}

/// Rule 1: the two sides hold the same value, seen from either side.
fn agree(m: &FieldMapping, k: Option<&str>, h: &HubspotValues) -> bool {
    let pushed = to_crm(m, k);
    let hubspot_matches = m.hubspot_properties.iter().all(|p| {
        same(
            m,
            pushed.get(p).map(String::as_str),
            h.get(p).and_then(|v| v.as_deref()),
        )
    });
    hubspot_matches || same(m, from_crm(m, h).as_deref(), k)
}

/// Value equality as the sync sees it: trimmed, empty equals missing, emails
/// case-insensitive, attributes in their canonical form (either side's text, or
/// HubSpot's string for the type).
fn same(m: &FieldMapping, a: Option<&str>, b: Option<&str>) -> bool {
    match (clean(a).map(str::trim), clean(b).map(str::trim)) {
        (None, None) => true,
        (Some(x), Some(y)) if m.keva_field == KevaField::Email => {
            x.to_lowercase() == y.to_lowercase()
        }
        (Some(x), Some(y)) => match &m.attribute {
            Some(spec) if x != y => match (canonical_text(spec, x), canonical_text(spec, y)) {
                (Some(cx), Some(cy)) => cx == cy,
                _ => false,
            },
            _ => x == y,
        },
        _ => false,
    }
}

fn same_props(m: &FieldMapping, a: &HubspotValues, b: &HubspotValues) -> bool {
    a.iter()
        .all(|(p, v)| same(m, v.as_deref(), b.get(p).and_then(|x| x.as_deref())))
}

#[cfg(test)]
mod tests;
