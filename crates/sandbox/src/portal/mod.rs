//! In-memory HubSpot portals: the data plane's state.
//!
//! A `Sandbox` hosts several portals by id. Each portal keeps its contacts,
//! companies and deals, their property definitions and associations behind one
//! `parking_lot::RwLock`, so reads run in parallel and a write never clones a table.
//! Record changes are reported as `ChangeEvent`s through an `EventSink`, always after
//! the portal lock is released.

pub mod defaults;
pub mod pipelines;
pub mod properties;
pub mod record;
pub mod search;
pub mod seed;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::events::ChangeEvent;
pub use properties::{PropertyDef, PropertyRegistry};
pub use record::{HistEntry, Record, Source};
pub use store::PortalData;

/// Where change events go (the control plane's webhook dispatcher in a running sandbox).
pub type EventSink = Arc<dyn Fn(ChangeEvent) + Send + Sync>;

/// The CRM object types the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    Contacts,
    Companies,
    Deals,
}

impl ObjectType {
    pub const ALL: [ObjectType; 3] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
    ];

    /// Accepts HubSpot's names for a type: plural, singular and the `0-N` type id.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Some(ObjectType::Contacts),
            "companies" | "company" | "0-2" => Some(ObjectType::Companies),
            "deals" | "deal" | "0-3" => Some(ObjectType::Deals),
            _ => None,
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
        }
    }

    /// The webhook `subscriptionType` prefix and association type name part.
    pub fn singular(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contact",
            ObjectType::Companies => "company",
            ObjectType::Deals => "deal",
        }
    }

    pub fn type_id(self) -> &'static str {
        match self {
            ObjectType::Contacts => "0-1",
            ObjectType::Companies => "0-2",
            ObjectType::Deals => "0-3",
        }
    }

    /// Upper-case name used in HubSpot's batch error messages ("CONTACT").
    pub fn upper(self) -> &'static str {
        match self {
            ObjectType::Contacts => "CONTACT",
            ObjectType::Companies => "COMPANY",
            ObjectType::Deals => "DEAL",
        }
    }

    pub fn index(self) -> usize {
        match self {
            ObjectType::Contacts => 0,
            ObjectType::Companies => 1,
            ObjectType::Deals => 2,
        }
    }

    /// The property HubSpot keeps as "last modified" for this type (contacts also
    /// have `hs_lastmodifieddate`).
    pub fn lastmodified_property(self) -> &'static str {
        match self {
            ObjectType::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Properties returned when a read names none.
    pub fn default_read_properties(self) -> &'static [&'static str] {
        match self {
            ObjectType::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            ObjectType::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            ObjectType::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
        }
    }
}

/// Who made a change: the API (an app), a person in the UI, or an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub source: Source,
    pub source_id: Option<String>,
}

impl Actor {
    /// A write through the public API by `app_id`.
    pub fn integration(app_id: u64) -> Self {
        Self {
            source: Source::Integration,
            source_id: Some(app_id.to_string()),
        }
    }

    /// An edit "as a HubSpot user" through `/_sandbox/`.
    pub fn crm_ui() -> Self {
        Self {
            source: Source::CrmUi,
            source_id: Some("userId:1".into()),
        }
    }

    pub fn import() -> Self {
        Self {
            source: Source::Import,
            source_id: None,
        }
    }
}

/// One HubSpot portal (account).
pub struct Portal {
    pub id: u64,
    data: RwLock<PortalData>,
}

impl Portal {
    pub fn new(id: u64) -> Self {
        Self {
            id,
            data: RwLock::new(PortalData::new(id)),
        }
    }

    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, PortalData> {
        self.data.read()
    }

    pub fn write(&self) -> parking_lot::RwLockWriteGuard<'_, PortalData> {
        self.data.write()
    }
}

/// All portals of one sandbox plus the event sink.
pub struct Sandbox {
    portals: RwLock<HashMap<u64, Arc<Portal>>>,
    default_portal: u64,
    sink: RwLock<EventSink>,
}

impl Sandbox {
    pub fn new(default_portal: u64) -> Arc<Self> {
        let mut portals = HashMap::new();
        portals.insert(default_portal, Arc::new(Portal::new(default_portal)));
        Arc::new(Self {
            portals: RwLock::new(portals),
            default_portal,
            sink: RwLock::new(Arc::new(|_| {})),
        })
    }

    pub fn set_event_sink(&self, sink: EventSink) {
        *self.sink.write() = sink;
    }

    /// Hands events to the sink; call only after releasing portal locks.
    pub fn emit(&self, events: Vec<ChangeEvent>) {
        if events.is_empty() {
            return;
        }
        let sink = self.sink.read().clone();
        for event in events {
            sink(event);
        }
    }

    pub fn default_portal_id(&self) -> u64 {
        self.default_portal
    }

    pub fn portal(&self, id: u64) -> Option<Arc<Portal>> {
        self.portals.read().get(&id).cloned()
    }

    pub fn default_portal(&self) -> Arc<Portal> {
        match self.portal(self.default_portal) {
            Some(p) => p,
            None => self.create_portal(Some(self.default_portal)),
        }
    }

    pub fn portal_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.portals.read().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Creates a portal with `id`, or a random unused 8-digit id; returns the existing
    /// portal when `id` is taken.
    pub fn create_portal(&self, id: Option<u64>) -> Arc<Portal> {
        let mut portals = self.portals.write();
        let id = match id {
            Some(id) => id,
            None => loop {
                let candidate = rand::random_range(10_000_000..100_000_000u64);
                if !portals.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        portals
            .entry(id)
            .or_insert_with(|| Arc::new(Portal::new(id)))
            .clone()
    }

    /// Number of live (not archived) records of `ty` in `portal`.
    pub fn count(&self, portal: u64, ty: ObjectType) -> usize {
        self.portal(portal)
            .map(|p| p.read().live_count(ty))
            .unwrap_or(0)
    }

    pub fn contact_count(&self, portal: u64) -> usize {
        self.count(portal, ObjectType::Contacts)
    }

    /// The current properties of the live contact with `email` (case-insensitive).
    pub fn get_contact_by_email(
        &self,
        portal: u64,
        email: &str,
    ) -> Option<(u64, HashMap<String, String>)> {
        let portal = self.portal(portal)?;
        let data = portal.read();
        let id = data.find_by_email(email)?;
        let record = data.table(ObjectType::Contacts).records.get(&id)?;
        Some((id, record.current_properties()))
    }

    /// The current properties of a record by id (archived ones included).
    pub fn get_object(
        &self,
        portal: u64,
        ty: ObjectType,
        id: u64,
    ) -> Option<HashMap<String, String>> {
        let portal = self.portal(portal)?;
        let data = portal.read();
        data.table(ty)
            .records
            .get(&id)
            .map(Record::current_properties)
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// HubSpot's ISO-8601 rendering with milliseconds and `Z`.
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Lowercased and trimmed, as HubSpot stores and compares emails.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
