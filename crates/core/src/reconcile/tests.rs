//! Tests of `reconcile`: one per rule, then property tests that drive two simulated
//! sides through random edits and syncs.

use super::*;
use crate::attribute::AttributeSpec;
use crate::automap::KevaFieldType;
use crate::conflict::{ConflictPolicy, Resolution, Side};
use crate::mapping::{default_contact_mappings, Direction, Transform};
use proptest::prelude::*;

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("valid timestamp")
}

/// Two simulated sides and a link, applying plans the way the worker does.
#[derive(Debug, Clone)]
struct World {
    mappings: Vec<FieldMapping>,
    policy: ConflictPolicy,
    keva: BTreeMap<KevaField, Stamped>,
    hubspot: BTreeMap<String, Stamped>,
    bases: Option<Bases>,
    missing: BTreeSet<String>,
    /// Whether HubSpot's per-property timestamps are passed to reconcile.
    hubspot_ts_known: bool,
    clock: i64,
}

impl World {
    fn new(mappings: Vec<FieldMapping>) -> Self {
        Self {
            mappings,
            policy: ConflictPolicy::NewestWins,
            keva: BTreeMap::new(),
            hubspot: BTreeMap::new(),
            bases: None,
            missing: BTreeSet::new(),
            hubspot_ts_known: true,
            clock: 1_000,
        }
    }

    fn defaults() -> Self {
        Self::new(default_contact_mappings())
    }

    fn tick(&mut self) -> DateTime<Utc> {
        self.clock += 10;
        ts(self.clock)
    }

    fn keva_edit(&mut self, f: KevaField, v: Option<&str>) -> &mut Self {
        let at = self.tick();
        self.keva.insert(f, Stamped::new(v, Some(at)));
        self
    }

    fn hubspot_edit(&mut self, p: &str, v: Option<&str>) -> &mut Self {
        let at = self.tick();
        self.hubspot
            .insert(p.to_string(), Stamped::new(v, Some(at)));
        self
    }

    fn input(&self) -> ReconcileInput {
        let mut hubspot = self.hubspot.clone();
        if !self.hubspot_ts_known {
            for s in hubspot.values_mut() {
                s.updated_at = None;
            }
        }
        ReconcileInput {
            mappings: self.mappings.clone(),
            policy: self.policy,
            keva: self.keva.clone(),
            hubspot,
            bases: self.bases.clone(),
            missing_properties: self.missing.clone(),
        }
    }

    fn plan(&self) -> Plan {
        reconcile(self.input())
    }

    fn apply(&mut self, plan: &Plan) {
        let at = self.tick();
        for (f, v) in &plan.to_keva {
            self.keva.insert(*f, Stamped::new(v.as_deref(), Some(at)));
        }
        for (p, v) in &plan.to_hubspot {
            let v = (!v.is_empty()).then_some(v.as_str());
            self.hubspot.insert(p.clone(), Stamped::new(v, Some(at)));
        }
        self.bases = Some(plan.new_bases.clone());
    }

    fn sync(&mut self) -> Plan {
        let plan = self.plan();
        self.apply(&plan);
        plan
    }

    fn k(&self, f: KevaField) -> Option<&str> {
        self.keva.get(&f).and_then(|s| s.value.as_deref())
    }

    fn h(&self, p: &str) -> Option<&str> {
        self.hubspot.get(p).and_then(|s| s.value.as_deref())
    }

    fn hubspot_values(&self) -> HubspotValues {
        self.hubspot
            .iter()
            .map(|(p, s)| (p.clone(), s.value.clone()))
            .collect()
    }

    /// The two sides agree on `m`, seen through `to_crm` or `from_crm`.
    fn agrees(&self, m: &FieldMapping) -> bool {
        let email = m.keva_field == KevaField::Email;
        let norm = |s: Option<&str>| {
            clean(s).map(|v| {
                let v = v.trim();
                if email {
                    v.to_lowercase()
                } else {
                    v.to_string()
                }
            })
        };
        let k = self.k(m.keva_field);
        let hs = self.hubspot_values();
        let pushed = to_crm(m, k);
        let via_to_crm = m.hubspot_properties.iter().all(|p| {
            norm(pushed.get(p).map(String::as_str)) == norm(hs.get(p).and_then(|v| v.as_deref()))
        });
        via_to_crm || norm(from_crm(m, &hs).as_deref()) == norm(k)
    }

    /// A Keva customer and HubSpot contact synced once and agreeing.
    fn linked() -> Self {
        let mut w = Self::defaults();
        w.keva_edit(KevaField::Email, Some("jane@example.com"))
            .keva_edit(KevaField::Name, Some("Jane Doe"))
            .keva_edit(KevaField::Company, Some("Acme"))
            .keva_edit(KevaField::Location, Some("Paris"));
        w.hubspot_edit("email", Some("jane@example.com"))
            .hubspot_edit("firstname", Some("Jane"))
            .hubspot_edit("lastname", Some("Doe"))
            .hubspot_edit("company", Some("Acme"))
            .hubspot_edit("city", Some("Paris"))
            .hubspot_edit("lifecyclestage", Some("customer"));
        let first = w.sync();
        assert!(first.is_empty(), "sides already agree: {first:?}");
        w
    }
}

fn props(plan: &Plan) -> Vec<(&str, &str)> {
    plan.to_hubspot
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

// --- one side changed -------------------------------------------------------

#[test]
fn keva_change_writes_only_that_property() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Company, Some("Globex"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("company", "Globex")]);
    assert!(plan.to_keva.is_empty() && plan.conflicts.is_empty());
    assert_eq!(plan.direction(), SyncDirection::ToCrm);
    assert_eq!(
        plan.fields_changed,
        [FieldChange {
            field: KevaField::Company,
            property: Some("company".into()),
            direction: SyncDirection::ToCrm,
            old: Some("Acme".into()),
            new: Some("Globex".into()),
        }]
    );
}

#[test]
fn hubspot_change_writes_keva_only() {
    let mut w = World::linked();
    w.hubspot_edit("jobtitle", Some("CTO"));
    let plan = w.sync();
    assert!(plan.to_hubspot.is_empty());
    assert_eq!(
        plan.to_keva,
        BTreeMap::from([(KevaField::JobTitle, Some("CTO".into()))])
    );
    assert_eq!(w.k(KevaField::JobTitle), Some("CTO"));
}

#[test]
fn nothing_changed_means_nothing_to_do() {
    let w = World::linked();
    let plan = w.plan();
    assert!(plan.is_empty() && plan.warnings.is_empty() && plan.fields_changed.is_empty());
    assert_eq!(plan.new_bases, w.bases.clone().expect("linked"));
}

#[test]
fn unmapped_properties_never_appear() {
    let mut w = World::linked();
    w.hubspot_edit("lifecyclestage", Some("lead"));
    w.keva_edit(KevaField::Notes, Some("vip"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("notes", "vip")]);
    assert!(!plan.new_bases.hubspot.contains_key("lifecyclestage"));
}

#[test]
fn clearing_a_field_is_a_change_like_any_other() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Company, None);
    assert_eq!(props(&w.sync()), [("company", "")]);
    assert_eq!(w.h("company"), None);
    w.hubspot_edit("city", None)
        .keva_edit(KevaField::Name, Some("Jane"));
    let plan = w.sync();
    assert_eq!(
        props(&plan),
        [("lastname", "")],
        "to_crm city cleared in HubSpot stays cleared"
    );
}

// --- names -----------------------------------------------------------------

#[test]
fn name_from_hubspot_is_not_pushed_back_re_split() {
    let mut w = World::defaults();
    w.keva_edit(KevaField::Email, Some("mary@example.com"));
    w.hubspot_edit("email", Some("mary@example.com"))
        .hubspot_edit("firstname", Some("Mary"))
        .hubspot_edit("lastname", Some("Jane Watson"));
    let first = w.sync();
    assert_eq!(
        first.to_keva[&KevaField::Name].as_deref(),
        Some("Mary Jane Watson")
    );
    assert!(first.to_hubspot.is_empty(), "{first:?}");

    // Another Keva edit syncs, and the name (which would split as "Mary Jane" /
    // "Watson") is left alone.
    w.keva_edit(KevaField::Phone, Some("555-0100"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("phone", "555-0100")]);
    assert_eq!(w.h("firstname"), Some("Mary"));
    assert_eq!(w.h("lastname"), Some("Jane Watson"));

    // HubSpot edits the lastname: Keva follows, HubSpot is not rewritten.
    w.hubspot_edit("lastname", Some("Jane Parker"));
    let plan = w.sync();
    assert!(plan.to_hubspot.is_empty());
    assert_eq!(w.k(KevaField::Name), Some("Mary Jane Parker"));
    assert!(w.plan().is_empty());
}

#[test]
fn a_keva_name_change_is_split_by_the_rules() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Name, Some("Ludwig van Beethoven"));
    assert_eq!(
        props(&w.sync()),
        [("firstname", "Ludwig"), ("lastname", "van Beethoven")]
    );
    w.keva_edit(KevaField::Name, Some("Ludwig  Beethoven"));
    assert_eq!(
        props(&w.sync()),
        [("lastname", "Beethoven")],
        "firstname unchanged, not rewritten"
    );
}

// --- echoes ----------------------------------------------------------------

#[test]
fn one_keva_edit_is_one_hubspot_write_and_its_echo_changes_nothing() {
    let mut w = World::linked();
    w.keva_edit(KevaField::JobTitle, Some("Head of Support"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("jobtitle", "Head of Support")]);
    // The webhook echo: HubSpot reports the property with a newer timestamp.
    w.hubspot_edit("jobtitle", Some("Head of Support"));
    let echo = w.plan();
    assert!(echo.is_empty(), "{echo:?}");
    assert!(echo.fields_changed.is_empty());
}

#[test]
fn hubspot_lowercasing_our_email_is_not_an_edit() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Email, Some("Jane.New@Example.com"));
    assert_eq!(props(&w.sync()), [("email", "Jane.New@Example.com")]);
    w.hubspot_edit("email", Some("jane.new@example.com"));
    assert!(w.plan().is_empty());
    assert_eq!(w.k(KevaField::Email), Some("Jane.New@Example.com"));
}

// --- directions ------------------------------------------------------------

#[test]
fn to_crm_fields_never_write_keva() {
    let mut w = World::linked();
    w.hubspot_edit("city", Some("Rome"));
    let plan = w.sync();
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(w.k(KevaField::Location), Some("Paris"));
    // Keva's next change to location wins, since HubSpot's edit is not a change
    // the mapping reads.
    w.keva_edit(KevaField::Location, Some("Berlin"));
    assert_eq!(props(&w.sync()), [("city", "Berlin")]);
}

#[test]
fn from_crm_fields_never_write_hubspot() {
    let mut mappings = default_contact_mappings();
    for m in &mut mappings {
        if m.keva_field == KevaField::Notes {
            m.direction = Direction::FromCrm;
        }
    }
    let mut w = World::new(mappings);
    w.keva_edit(KevaField::Notes, Some("keva note"));
    let first = w.sync();
    assert!(first.to_hubspot.is_empty(), "{first:?}");
    w.hubspot_edit("notes", Some("crm note"));
    let plan = w.sync();
    assert_eq!(plan.to_keva[&KevaField::Notes].as_deref(), Some("crm note"));
    w.keva_edit(KevaField::Notes, Some("edited in keva"));
    assert!(w.sync().is_empty());
}

// --- conflicts -------------------------------------------------------------

fn conflicting(policy: ConflictPolicy, keva_first: bool) -> (World, Plan) {
    let mut w = World::linked();
    w.policy = policy;
    if keva_first {
        w.keva_edit(KevaField::Company, Some("Keva Co"));
        w.hubspot_edit("company", Some("HubSpot Co"));
    } else {
        w.hubspot_edit("company", Some("HubSpot Co"));
        w.keva_edit(KevaField::Company, Some("Keva Co"));
    }
    let plan = w.sync();
    (w, plan)
}

#[test]
fn newest_wins_takes_the_later_change_and_records_both() {
    let (w, plan) = conflicting(ConflictPolicy::NewestWins, true);
    assert_eq!(
        plan.to_keva[&KevaField::Company].as_deref(),
        Some("HubSpot Co")
    );
    assert!(plan.to_hubspot.is_empty());
    let c = &plan.conflicts[0];
    assert_eq!(c.field, KevaField::Company);
    assert_eq!(c.keva_value.as_deref(), Some("Keva Co"));
    assert_eq!(c.hubspot_value.as_deref(), Some("HubSpot Co"));
    assert!(c.keva_ts.is_some() && c.hubspot_ts > c.keva_ts);
    assert_eq!(
        (c.winner, c.resolution),
        (Side::Hubspot, Resolution::NewerChange)
    );
    assert!(w.plan().is_empty());

    let (w, plan) = conflicting(ConflictPolicy::NewestWins, false);
    assert_eq!(props(&plan), [("company", "Keva Co")]);
    assert_eq!(plan.conflicts[0].winner, Side::Keva);
    assert_eq!(w.h("company"), Some("Keva Co"));
}

#[test]
fn newest_wins_without_hubspot_timestamps_falls_back_to_hubspot() {
    let mut w = World::linked();
    w.hubspot_ts_known = false;
    w.hubspot_edit("company", Some("HubSpot Co"));
    w.keva_edit(KevaField::Company, Some("Keva Co"));
    let plan = w.sync();
    assert_eq!(
        plan.to_keva[&KevaField::Company].as_deref(),
        Some("HubSpot Co")
    );
    assert_eq!(plan.conflicts[0].resolution, Resolution::TieFallback);
    assert_eq!(plan.conflicts[0].hubspot_ts, None);
}

#[test]
fn fixed_policies_ignore_time() {
    for keva_first in [true, false] {
        let (_, plan) = conflicting(ConflictPolicy::KevaWins, keva_first);
        assert_eq!(props(&plan), [("company", "Keva Co")]);
        assert_eq!(plan.conflicts[0].resolution, Resolution::KevaWinsPolicy);
        let (_, plan) = conflicting(ConflictPolicy::HubspotWins, keva_first);
        assert_eq!(
            plan.to_keva[&KevaField::Company].as_deref(),
            Some("HubSpot Co")
        );
        assert_eq!(plan.conflicts[0].resolution, Resolution::HubspotWinsPolicy);
    }
}

#[test]
fn both_sides_making_the_same_change_is_no_conflict() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Email, Some("Jane.Doe@Corp.io"));
    w.hubspot_edit("email", Some("jane.doe@corp.io"));
    w.keva_edit(KevaField::Name, Some("Jane Q Doe"));
    w.hubspot_edit("firstname", Some("Jane Q"));
    let plan = w.sync();
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn equal_after_transform_is_no_change() {
    let mut mappings = default_contact_mappings();
    for m in &mut mappings {
        if m.keva_field == KevaField::Phone {
            m.transform = Some(Transform::PhoneE164);
        }
    }
    let mut w = World::new(mappings);
    w.keva_edit(KevaField::Phone, Some("+1 (202) 456-1111"));
    w.hubspot_edit("phone", Some("+12024561111"));
    let plan = w.sync();
    assert!(plan.is_empty(), "{plan:?}");
    w.keva_edit(KevaField::Phone, Some("+1 202 456 1414"));
    assert_eq!(props(&w.sync()), [("phone", "+12024561414")]);
    assert!(
        w.plan().is_empty(),
        "the transformed value is not pulled back"
    );
}

#[test]
fn phones_use_the_default_region_and_invalid_ones_go_as_typed_with_a_warning() {
    let mut mappings = default_contact_mappings();
    for m in &mut mappings {
        if m.keva_field == KevaField::Phone {
            m.transform = Some(Transform::PhoneE164);
            m.phone_region = Some("GB".into());
        }
    }
    let mut w = World::new(mappings);
    w.keva_edit(KevaField::Phone, Some("020 7946 0000"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("phone", "+442079460000")]);
    assert!(plan.warnings.is_empty(), "{plan:?}");
    assert!(w.plan().is_empty(), "settled");

    w.keva_edit(KevaField::Phone, Some("ask reception"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("phone", "ask reception")]);
    assert_eq!(plan.warnings[0].code, WarningCode::InvalidPhone);
    assert!(plan.warnings[0].message.contains("GB"), "{plan:?}");
    assert!(w.plan().is_empty(), "settled");
}

#[test]
fn an_older_emptying_never_wipes_a_newer_value() {
    let mut w = World::linked();
    w.policy = ConflictPolicy::KevaWins;
    w.keva_edit(KevaField::Company, None);
    w.hubspot_edit("company", Some("Globex"));
    let plan = w.sync();
    assert_eq!(plan.to_keva[&KevaField::Company].as_deref(), Some("Globex"));
    assert_eq!(
        plan.conflicts[0].resolution,
        Resolution::EmptyNeverOverwrites
    );

    let mut w = World::linked();
    w.hubspot_edit("company", Some("Globex"));
    w.keva_edit(KevaField::Company, None);
    let plan = w.sync();
    assert_eq!(
        props(&plan),
        [("company", "")],
        "the emptying is the newer change"
    );
    assert_eq!(plan.conflicts[0].resolution, Resolution::NewerChange);
}

// --- first link ------------------------------------------------------------

#[test]
fn first_link_fills_empty_sides_and_hubspot_wins_differences() {
    let mut w = World::defaults();
    w.keva_edit(KevaField::Email, Some("jane@example.com"))
        .keva_edit(KevaField::Phone, Some("555-0100"))
        .keva_edit(KevaField::Company, Some("Keva Co"))
        .keva_edit(KevaField::Location, Some("Paris"));
    w.hubspot_edit("email", Some("jane@example.com"))
        .hubspot_edit("jobtitle", Some("CTO"))
        .hubspot_edit("company", Some("HubSpot Co"))
        .hubspot_edit("city", Some("Rome"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("city", "Paris"), ("phone", "555-0100")]);
    assert_eq!(
        plan.to_keva,
        BTreeMap::from([
            (KevaField::Company, Some("HubSpot Co".into())),
            (KevaField::JobTitle, Some("CTO".into())),
        ])
    );
    let decisions: Vec<_> = plan
        .conflicts
        .iter()
        .map(|c| (c.field, c.winner, c.resolution))
        .collect();
    assert_eq!(
        decisions,
        [
            (KevaField::Company, Side::Hubspot, Resolution::FirstLink),
            (KevaField::Location, Side::Keva, Resolution::FirstLink),
        ]
    );
    assert!(w.plan().is_empty());
}

#[test]
fn first_link_under_keva_wins_keeps_keva_values() {
    let mut w = World::defaults();
    w.policy = ConflictPolicy::KevaWins;
    w.keva_edit(KevaField::Company, Some("Keva Co"));
    w.hubspot_edit("company", Some("HubSpot Co"));
    assert_eq!(props(&w.sync()), [("company", "Keva Co")]);
}

#[test]
fn first_link_never_empties_a_one_way_target() {
    let mut w = World::defaults();
    w.hubspot_edit("city", Some("Rome"));
    let plan = w.sync();
    assert!(
        plan.is_empty(),
        "Keva's empty location must not clear city: {plan:?}"
    );
    assert_eq!(plan.new_bases.hubspot["city"].as_deref(), Some("Rome"));
}

#[test]
fn a_mapping_added_later_starts_as_a_first_link() {
    let mut w = World::linked();
    w.keva_edit(KevaField::JobTitle, Some("CTO"));
    w.mappings.retain(|m| m.keva_field != KevaField::JobTitle);
    assert!(w.sync().is_empty(), "unmapped fields are not synced");
    assert!(!w
        .bases
        .as_ref()
        .expect("linked")
        .keva
        .contains_key(&KevaField::JobTitle));
    w.mappings = default_contact_mappings();
    w.hubspot_edit("jobtitle", Some("Engineer"));
    let plan = w.sync();
    assert_eq!(plan.conflicts[0].resolution, Resolution::FirstLink);
    assert_eq!(w.k(KevaField::JobTitle), Some("Engineer"));
}

#[test]
fn defaults_stand_in_for_empty_values() {
    let mut mappings = default_contact_mappings();
    for m in &mut mappings {
        if m.keva_field == KevaField::Company {
            m.default = Some("Unknown".into());
        }
    }
    let mut w = World::new(mappings);
    assert_eq!(props(&w.sync()), [("company", "Unknown")]);
    assert!(w.plan().is_empty());
}

// --- email ------------------------------------------------------------------

#[test]
fn a_changed_email_flows_to_the_linked_contact() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Email, Some("jane@newcorp.io"));
    assert_eq!(props(&w.sync()), [("email", "jane@newcorp.io")]);
    w.hubspot_edit("email", Some("jane.doe@newcorp.io"));
    assert_eq!(
        w.sync().to_keva[&KevaField::Email].as_deref(),
        Some("jane.doe@newcorp.io")
    );
}

#[test]
fn an_invalid_email_never_reaches_hubspot() {
    let mut w = World::linked();
    w.keva_edit(KevaField::Email, Some("jane at example"))
        .keva_edit(KevaField::Company, Some("Globex"));
    let plan = w.sync();
    assert_eq!(
        props(&plan),
        [("company", "Globex")],
        "other fields still sync"
    );
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].code, WarningCode::InvalidEmail);
    assert_eq!(plan.warnings[0].field, KevaField::Email);
    assert!(plan.warnings[0].message.contains("jane at example"));
    assert_eq!(w.h("email"), Some("jane@example.com"));
    let again = w.plan();
    assert!(
        again.is_empty() && again.warnings.is_empty(),
        "warned once: {again:?}"
    );
    w.keva_edit(KevaField::Email, Some("jane@fixed.io"));
    assert_eq!(props(&w.sync()), [("email", "jane@fixed.io")]);
}

#[test]
fn an_emptied_email_is_not_propagated() {
    let mut w = World::linked();
    w.hubspot_edit("email", None);
    let plan = w.sync();
    assert!(plan.to_keva.is_empty());
    assert_eq!(plan.warnings[0].code, WarningCode::EmptyEmail);
    assert_eq!(w.k(KevaField::Email), Some("jane@example.com"));
}

// --- missing properties -----------------------------------------------------

#[test]
fn a_missing_property_skips_only_its_mapping() {
    let mut w = World::linked();
    w.missing.insert("notes".into());
    w.keva_edit(KevaField::Notes, Some("vip"))
        .keva_edit(KevaField::Company, Some("Globex"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("company", "Globex")]);
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].code, WarningCode::PropertyMissing);
    assert!(plan.warnings[0].message.contains("'notes'"));
    // Once the property exists, the pending Keva change flows.
    w.missing.clear();
    assert_eq!(props(&w.sync()), [("notes", "vip")]);
}

#[test]
fn keva_values_take_per_field_timestamps_or_the_customers() {
    let customer = Customer {
        id: uuid::Uuid::nil(),
        workspace_id: uuid::Uuid::nil(),
        email: "a@b.co".into(),
        name: Some("Ann Lee".into()),
        phone: Some(String::new()),
        company: None,
        job_title: None,
        location: None,
        notes: None,
        attributes: Default::default(),
        created_at: ts(1),
        updated_at: ts(50),
    };
    let values = keva_values(&customer, &BTreeMap::from([(KevaField::Name, ts(40))]));
    assert_eq!(
        values[&KevaField::Name],
        Stamped::new(Some("Ann Lee"), Some(ts(40)))
    );
    assert_eq!(values[&KevaField::Email].updated_at, Some(ts(50)));
    assert_eq!(values[&KevaField::Phone].value, None);
}

// --- properties ------------------------------------------------------------

fn pick(options: &'static [Option<&'static str>]) -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(options)
}

const KEVA_EMAILS: &[Option<&str>] = &[
    Some("jane@example.com"),
    Some("Jane@Example.com"),
    Some("mary.watson@example.org"),
    Some("not-an-email"),
    Some("bob@corp.io"),
];
const KEVA_NAMES: &[Option<&str>] = &[
    None,
    Some("Mary Jane Watson"),
    Some("Mary"),
    Some("Ludwig van Beethoven"),
    Some("Martin Luther King Jr."),
    Some("  Mary   Jane  Watson "),
];
const KEVA_PHONES: &[Option<&str>] = &[
    None,
    Some("+1 (555) 010-2000"),
    Some("555-0100"),
    Some("+15550102000"),
];
const KEVA_OTHER: &[Option<&str>] = &[
    None,
    Some("Acme"),
    Some(" Acme "),
    Some("CTO"),
    Some("Paris"),
    Some("vip"),
];

const HS_EMAILS: &[Option<&str>] = &[
    Some("jane@example.com"),
    Some("JANE@example.com"),
    Some("mary.watson@example.org"),
    Some("new@corp.io"),
];
const HS_FIRST: &[Option<&str>] = &[None, Some("Mary"), Some("Mary Jane"), Some("Ludwig")];
const HS_LAST: &[Option<&str>] = &[
    None,
    Some("Watson"),
    Some("Jane Watson"),
    Some("van Beethoven"),
];
const HS_OTHER: &[Option<&str>] = &[
    None,
    Some("Acme"),
    Some("Globex"),
    Some("CTO"),
    Some("Rome"),
    Some("vip"),
];

const HS_PROPS: &[&str] = &[
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "jobtitle",
    "city",
    "notes",
    "lifecyclestage",
];

fn keva_value(f: KevaField) -> BoxedStrategy<Option<&'static str>> {
    match f {
        KevaField::Email => pick(KEVA_EMAILS).boxed(),
        KevaField::Name => pick(KEVA_NAMES).boxed(),
        KevaField::Phone => pick(KEVA_PHONES).boxed(),
        _ => pick(KEVA_OTHER).boxed(),
    }
}

fn hubspot_value(p: &str) -> BoxedStrategy<Option<&'static str>> {
    match p {
        "email" => pick(HS_EMAILS).boxed(),
        "firstname" => pick(HS_FIRST).boxed(),
        "lastname" => pick(HS_LAST).boxed(),
        "phone" => pick(KEVA_PHONES).boxed(),
        _ => pick(HS_OTHER).boxed(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Keva(KevaField, Option<&'static str>),
    Hubspot(&'static str, Option<&'static str>),
    Sync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::sample::select(&KevaField::ALL[..])
            .prop_flat_map(|f| keva_value(f).prop_map(move |v| Op::Keva(f, v))),
        3 => prop::sample::select(HS_PROPS)
            .prop_flat_map(|p| hubspot_value(p).prop_map(move |v| Op::Hubspot(p, v))),
        2 => Just(Op::Sync),
    ]
}

/// The default mappings, or a variant exercising one-way, transforms and defaults.
fn mapping_set(variant: u8) -> Vec<FieldMapping> {
    let mut m = default_contact_mappings();
    if variant == 1 {
        for x in &mut m {
            match x.keva_field {
                KevaField::Notes => x.direction = Direction::FromCrm,
                KevaField::Phone => x.transform = Some(Transform::PhoneE164),
                KevaField::Email => x.transform = Some(Transform::Lowercase),
                KevaField::Company => x.default = Some("Unknown".into()),
                KevaField::JobTitle => x.transform = Some(Transform::Uppercase),
                _ => {}
            }
        }
    }
    m
}

fn world() -> impl Strategy<Value = World> {
    let keva = KevaField::ALL
        .iter()
        .map(|f| keva_value(*f).prop_map(move |v| (*f, v)))
        .collect::<Vec<_>>();
    let hubspot = HS_PROPS
        .iter()
        .map(|p| hubspot_value(p).prop_map(move |v| (*p, v)))
        .collect::<Vec<_>>();
    (
        0u8..2,
        prop::sample::select(ConflictPolicy::ALL),
        any::<bool>(),
        keva,
        hubspot,
    )
        .prop_map(|(variant, policy, hubspot_ts_known, keva, hubspot)| {
            let mut w = World::new(mapping_set(variant));
            w.policy = policy;
            w.hubspot_ts_known = hubspot_ts_known;
            for (f, v) in keva {
                w.keva_edit(f, v);
            }
            for (p, v) in hubspot {
                w.hubspot_edit(p, v);
            }
            w
        })
}

/// Checks every plan must pass, applies it, and checks the link afterwards.
fn sync_checked(w: &mut World) -> Result<Plan, TestCaseError> {
    let plan = w.plan();
    for p in plan.to_hubspot.keys() {
        let m = w.mappings.iter().find(|m| m.hubspot_properties.contains(p));
        prop_assert!(
            m.is_some_and(|m| m.direction.writes_crm()),
            "{p} written against direction or unmapped"
        );
    }
    for f in plan.to_keva.keys() {
        prop_assert!(
            w.mappings
                .iter()
                .any(|m| m.keva_field == *f && m.direction.writes_keva()),
            "{f:?} written against direction"
        );
    }
    if let Some(e) = plan.to_hubspot.get("email") {
        prop_assert!(
            crate::Email::parse(e).is_ok(),
            "invalid email {e:?} sent to HubSpot"
        );
    }
    let writes = plan.to_hubspot.len() + plan.to_keva.len();
    prop_assert_eq!(plan.fields_changed.len(), writes);
    w.apply(&plan);

    // new_bases is what each side now holds.
    let bases = w.bases.clone().unwrap_or_default();
    for m in &w.mappings {
        prop_assert_eq!(
            bases.keva.get(&m.keva_field).cloned().flatten(),
            clean(w.k(m.keva_field)).map(str::to_string)
        );
        for p in &m.hubspot_properties {
            prop_assert_eq!(
                bases.hubspot.get(p).cloned().flatten(),
                clean(w.h(p)).map(str::to_string)
            );
        }
    }
    // Idempotence: reconciling again at once changes nothing.
    let again = w.plan();
    prop_assert!(
        again.is_empty() && again.warnings.is_empty(),
        "not idempotent: {:?}",
        again
    );
    Ok(plan)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_plan_once_applied_is_not_repeated(mut w in world(), edits in prop::collection::vec(op(), 0..6)) {
        sync_checked(&mut w)?;
        for e in edits {
            match e {
                Op::Keva(f, v) => { w.keva_edit(f, v); }
                Op::Hubspot(p, v) => { w.hubspot_edit(p, v); }
                Op::Sync => {}
            }
        }
        sync_checked(&mut w)?;
    }

    #[test]
    fn random_interleavings_converge(mut w in world(), ops in prop::collection::vec(op(), 0..40)) {
        // One-way fields whose target side was edited since the sides last agreed:
        // those edits are (by rule) not synced back, so agreement is only owed once
        // the source side changes again.
        let one_way = |m: &FieldMapping| m.direction != Direction::Bidirectional;
        let mut dirty: BTreeSet<KevaField> =
            w.mappings.iter().filter(|m| one_way(m)).map(|m| m.keva_field).collect();
        let settle = |w: &World, dirty: &mut BTreeSet<KevaField>| {
            for m in &w.mappings {
                if one_way(m) && w.agrees(m) {
                    dirty.remove(&m.keva_field);
                }
            }
        };
        for op in ops {
            match op {
                Op::Keva(f, v) => {
                    w.keva_edit(f, v);
                    if w.mappings.iter().any(|m| m.keva_field == f && m.direction == Direction::FromCrm) {
                        dirty.insert(f);
                    }
                }
                Op::Hubspot(p, v) => {
                    w.hubspot_edit(p, v);
                    for m in &w.mappings {
                        if m.direction == Direction::ToCrm && m.hubspot_properties.iter().any(|x| x == p) {
                            dirty.insert(m.keva_field);
                        }
                    }
                }
                Op::Sync => {
                    sync_checked(&mut w)?;
                    settle(&w, &mut dirty);
                }
            }
        }
        sync_checked(&mut w)?;
        settle(&w, &mut dirty);
        for m in &w.mappings {
            let invalid_keva_email = m.keva_field == KevaField::Email
                && w.k(KevaField::Email).is_some_and(|e| crate::Email::parse(e).is_err());
            if invalid_keva_email || dirty.contains(&m.keva_field) {
                continue;
            }
            prop_assert!(
                w.agrees(m),
                "{:?} did not converge: keva {:?}, hubspot {:?}",
                m.keva_field,
                w.k(m.keva_field),
                m.hubspot_properties.iter().map(|p| w.h(p)).collect::<Vec<_>>()
            );
        }
        let last = w.plan();
        prop_assert!(last.is_empty() && last.warnings.is_empty(), "{:?}", last);
    }
}

// --- custom attributes ------------------------------------------------------

fn attr(key: &str) -> KevaField {
    KevaField::attribute(key).expect("well-formed key")
}

/// A bound attribute mapping, bidirectional.
fn attr_mapping(key: &str, kind: KevaFieldType, prop: &str) -> FieldMapping {
    let mut m = FieldMapping::new(attr(key), &[prop], Direction::Bidirectional);
    m.attribute = Some(AttributeSpec {
        key: key.into(),
        kind,
        options: vec!["free".into(), "pro".into(), "team".into()],
        retired: false,
    });
    m
}

/// Email plus a number, a date and an enum attribute, synced once from Keva.
fn attribute_world() -> (World, Plan) {
    let mut w = World::new(vec![
        FieldMapping::new(KevaField::Email, &["email"], Direction::Bidirectional),
        attr_mapping("mrr", KevaFieldType::Number, "mrr"),
        attr_mapping("signupDate", KevaFieldType::Date, "signup_date"),
        attr_mapping("plan", KevaFieldType::Enum, "plan_tier"),
    ]);
    w.keva_edit(KevaField::Email, Some("jane@example.com"))
        .keva_edit(attr("mrr"), Some("1250.5"))
        .keva_edit(attr("signupDate"), Some("2026-01-05"))
        .keva_edit(attr("plan"), Some("pro"));
    w.hubspot_edit("email", Some("jane@example.com"));
    let first = w.sync();
    (w, first)
}

#[test]
fn attributes_reach_hubspot_in_its_formats_and_its_rendering_is_no_change() {
    let (mut w, first) = attribute_world();
    assert_eq!(
        props(&first),
        [
            ("mrr", "1250.5"),
            ("plan_tier", "pro"),
            ("signup_date", "1767571200000")
        ]
    );
    // HubSpot shows a date property as a calendar date and may pad a number.
    w.hubspot_edit("signup_date", Some("2026-01-05"))
        .hubspot_edit("mrr", Some("1250.50"));
    let echo = w.sync();
    assert!(
        echo.is_empty() && echo.fields_changed.is_empty(),
        "{echo:?}"
    );
    // A Keva edit meanwhile is one write, not a conflict with the re-rendering.
    w.hubspot_edit("signup_date", Some("1767571200000"));
    w.keva_edit(attr("mrr"), Some("99"));
    let plan = w.sync();
    assert_eq!(props(&plan), [("mrr", "99")]);
    assert!(plan.conflicts.is_empty());
}

#[test]
fn a_hubspot_edit_of_an_attribute_comes_back_typed() {
    let (mut w, _) = attribute_world();
    w.hubspot_edit("signup_date", Some("1769904000000"))
        .hubspot_edit("mrr", Some("2000.0"));
    let plan = w.sync();
    assert!(plan.to_hubspot.is_empty(), "{plan:?}");
    assert_eq!(w.k(attr("signupDate")), Some("2026-02-01"));
    assert_eq!(w.k(attr("mrr")), Some("2000"));
    let patch = plan.keva_patch();
    assert_eq!(
        patch.attributes.get("signupDate"),
        Some(&Some(serde_json::json!("2026-02-01")))
    );
    assert_eq!(
        patch.attributes.get("mrr"),
        Some(&Some(serde_json::json!(2000)))
    );
    let change = plan
        .fields_changed
        .iter()
        .find(|c| c.field == attr("mrr"))
        .expect("history of mrr");
    assert_eq!(change.old.as_deref(), Some("1250.5"));
    assert_eq!(change.new.as_deref(), Some("2000"));
    assert!(w.sync().is_empty(), "settled after one round");
}

#[test]
fn a_hubspot_value_that_does_not_fit_the_attribute_is_not_taken() {
    let (mut w, _) = attribute_world();
    w.hubspot_edit("plan_tier", Some("gold"));
    let plan = w.sync();
    assert!(plan.to_keva.is_empty(), "{plan:?}");
    let warning = plan.warnings.first().expect("a warning");
    assert_eq!(warning.code, WarningCode::InvalidValue);
    assert_eq!(warning.field, attr("plan"));
    assert!(warning.message.contains("gold"), "{}", warning.message);
    assert_eq!(w.k(attr("plan")), Some("pro"));
}

#[test]
fn both_sides_changing_an_attribute_is_decided_by_its_own_change_time() {
    let (mut w, _) = attribute_world();
    w.keva_edit(attr("mrr"), Some("10"));
    w.hubspot_edit("mrr", Some("20"));
    let plan = w.sync();
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].field, attr("mrr"));
    assert_eq!(plan.conflicts[0].winner, Side::Hubspot);
    assert_eq!(w.k(attr("mrr")), Some("20"));
}

#[test]
fn an_attribute_without_a_live_definition_is_skipped_with_a_warning() {
    let mut m = attr_mapping("mrr", KevaFieldType::Number, "mrr");
    m.attribute = None;
    let mut w = World::new(vec![m]);
    w.keva_edit(attr("mrr"), Some("5"));
    let plan = w.sync();
    assert!(plan.to_hubspot.is_empty());
    assert_eq!(plan.warnings[0].code, WarningCode::AttributeUnavailable);
}

#[test]
fn keva_values_include_attributes_with_their_own_times() {
    let at = ts(100);
    let customer = Customer {
        id: uuid::Uuid::nil(),
        workspace_id: uuid::Uuid::nil(),
        email: "a@example.com".into(),
        name: None,
        phone: None,
        company: None,
        job_title: None,
        location: None,
        notes: None,
        attributes: [
            ("mrr".to_string(), serde_json::json!(12)),
            ("tags".to_string(), serde_json::json!(["a", "b"])),
        ]
        .into(),
        created_at: at,
        updated_at: at,
    };
    let times = BTreeMap::from([(attr("mrr"), ts(50))]);
    let values = keva_values(&customer, &times);
    assert_eq!(values[&attr("mrr")], Stamped::new(Some("12"), Some(ts(50))));
    assert_eq!(values[&attr("tags")], Stamped::new(Some("a;b"), Some(at)));
}
