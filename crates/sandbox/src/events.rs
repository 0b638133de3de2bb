//! What the data plane reports when a record changes, for webhook delivery.
//!
//! One `ChangeEvent` per HubSpot webhook event: a property change is one event per
//! changed property, as HubSpot sends them. `change_source`/`source_id` let an
//! integration tell its own writes (source `INTEGRATION`, `sourceId` = the app id)
//! from a person's edit in the HubSpot UI (`CRM_UI`, `userId:N`).

use serde::{Deserialize, Serialize};

/// HubSpot's subscription types, as they appear in `subscriptionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "creation")]
    Creation,
    #[serde(rename = "deletion")]
    Deletion,
    #[serde(rename = "propertyChange")]
    PropertyChange,
    #[serde(rename = "merge")]
    Merge,
    #[serde(rename = "restore")]
    Restore,
    #[serde(rename = "associationChange")]
    AssociationChange,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Creation => "creation",
            EventKind::Deletion => "deletion",
            EventKind::PropertyChange => "propertyChange",
            EventKind::Merge => "merge",
            EventKind::Restore => "restore",
            EventKind::AssociationChange => "associationChange",
        }
    }
}

/// One record change, before it is matched against an app's subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub portal_id: u64,
    /// "contact", "company" or "deal" (the prefix of `subscriptionType`).
    pub object_type: &'static str,
    pub kind: EventKind,
    pub object_id: u64,
    /// Set for `PropertyChange`.
    pub property_name: Option<String>,
    pub property_value: Option<String>,
    /// "INTEGRATION" for API writes, "CRM_UI" for `/_sandbox/` edits, "IMPORT", ...
    pub change_source: String,
    /// For API writes the writing app's id; for UI edits "userId:<n>".
    pub source_id: Option<String>,
    pub occurred_at_ms: i64,
    /// Merge: the surviving record and the ids merged into it.
    pub primary_object_id: Option<u64>,
    pub merged_object_ids: Vec<u64>,
    /// Association change: the other side and whether it was removed.
    pub association_type: Option<String>,
    pub from_object_id: Option<u64>,
    pub to_object_id: Option<u64>,
    pub association_removed: Option<bool>,
}

impl ChangeEvent {
    /// A bare event of `kind` with every optional field empty.
    pub fn new(
        portal_id: u64,
        object_type: &'static str,
        kind: EventKind,
        object_id: u64,
        change_source: impl Into<String>,
        source_id: Option<String>,
        occurred_at_ms: i64,
    ) -> Self {
        Self {
            portal_id,
            object_type,
            kind,
            object_id,
            property_name: None,
            property_value: None,
            change_source: change_source.into(),
            source_id,
            occurred_at_ms,
            primary_object_id: None,
            merged_object_ids: Vec::new(),
            association_type: None,
            from_object_id: None,
            to_object_id: None,
            association_removed: None,
        }
    }

    /// `contact.propertyChange` and friends.
    pub fn subscription_type(&self) -> String {
        format!("{}.{}", self.object_type, self.kind.as_str())
    }
}
