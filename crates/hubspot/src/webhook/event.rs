//! One HubSpot webhook event, typed, and the kind of change it reports.
//!
//! Field names and types follow HubSpot's delivery payload (`docs/hubspot.md`). Reading is
//! deliberately tolerant: unknown fields are ignored (HubSpot adds fields without
//! notice), ids may be numbers or decimal strings, optional fields may be absent or
//! `null`. What the intake cannot act without — the event id (deduplication), portal
//! (routing), time (ordering), type and object — is required.

use serde::{Deserialize, Serialize};

use super::lenient;

/// `objectTypeId` of contacts on HubSpot's generic `object.*` subscriptions.
pub const CONTACT_OBJECT_TYPE_ID: &str = "0-1";

/// An event as HubSpot delivers it, one element of the request's JSON array.
///
/// Serializes back with the same camelCase names (absent options omitted), so the
/// intake can store the event as it understood it and re-read it with `parse_batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// Unique per event; HubSpot's retries repeat it, so it is the idempotency key.
    #[serde(deserialize_with = "lenient::int")]
    pub event_id: u64,
    #[serde(deserialize_with = "lenient::int")]
    pub subscription_id: u64,
    #[serde(deserialize_with = "lenient::int")]
    pub portal_id: u64,
    #[serde(deserialize_with = "lenient::int")]
    pub app_id: u64,
    /// Epoch milliseconds of the change in HubSpot (orders out-of-order deliveries).
    #[serde(deserialize_with = "lenient::int")]
    pub occurred_at: i64,
    /// e.g. `contact.propertyChange`; see [`WebhookEvent::kind`].
    pub subscription_type: String,
    /// 0 on the first delivery. Absent is read as 0: it only informs, never decides.
    #[serde(default, deserialize_with = "lenient::int")]
    pub attempt_number: u32,
    #[serde(deserialize_with = "lenient::int")]
    pub object_id: u64,
    /// e.g. `CRM_UI`, `API`, `IMPORT`, `INTEGRATION`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub change_source: Option<String>,
    /// e.g. `userId:45678`, or the app id for writes made through an app.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_id: Option<String>,
    /// On creation/deletion: `NEW`, `CREATED`, `DELETED`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub change_flag: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub property_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub property_value: Option<String>,
    /// Merge: the record that won.
    #[serde(
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary_object_id: Option<u64>,
    /// Merge: the records merged into the winner (they no longer exist on their own).
    #[serde(
        default,
        deserialize_with = "lenient::int_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub merged_object_ids: Vec<u64>,
    /// Merge: the id after the merge, which can be a new record. [UNCONFIRMED name]
    #[serde(
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_object_id: Option<u64>,
    /// Association change, e.g. `CONTACT_TO_COMPANY`. [UNCONFIRMED name]
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub association_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_object_id: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_object_id: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub association_removed: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_primary_association: Option<bool>,
    /// On the generic `object.*` types, e.g. `0-1` for contacts.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub object_type_id: Option<String>,
}

/// What happened, for the contact events Keva subscribes to; everything else is
/// `Other` with the raw subscription type, so new HubSpot types never fail a batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    ContactCreation,
    ContactDeletion,
    ContactPropertyChange,
    ContactMerge,
    ContactRestore,
    ContactAssociationChange,
    ContactPrivacyDeletion,
    Other(String),
}

impl EventKind {
    /// The kind named by a `subscriptionType`, with `object.*` events on contacts
    /// (`objectTypeId` 0-1, the newer developer platform's form) read as contact events.
    pub fn from_subscription_type(subscription_type: &str, object_type_id: Option<&str>) -> Self {
        let action = match subscription_type.split_once('.') {
            Some(("contact", action)) => Some(action),
            Some(("object", action)) if object_type_id == Some(CONTACT_OBJECT_TYPE_ID) => {
                Some(action)
            }
            _ => None,
        };
        match action {
            Some("creation") => Self::ContactCreation,
            Some("deletion") => Self::ContactDeletion,
            Some("propertyChange") => Self::ContactPropertyChange,
            Some("merge") => Self::ContactMerge,
            Some("restore") => Self::ContactRestore,
            Some("associationChange") => Self::ContactAssociationChange,
            Some("privacyDeletion") => Self::ContactPrivacyDeletion,
            _ => Self::Other(subscription_type.to_owned()),
        }
    }

    /// True for the contact kinds (everything but `Other`).
    pub fn is_contact(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl WebhookEvent {
    /// The kind of change this event reports.
    pub fn kind(&self) -> EventKind {
        EventKind::from_subscription_type(&self.subscription_type, self.object_type_id.as_deref())
    }
}
