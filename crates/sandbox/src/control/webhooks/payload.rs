//! One HubSpot webhook event object, with HubSpot's field names.

use serde::Serialize;

use crate::events::{ChangeEvent, EventKind};

/// An event as it appears in a delivery's JSON array.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub event_id: u64,
    pub subscription_id: u64,
    pub portal_id: u64,
    pub app_id: u64,
    pub occurred_at: i64,
    pub subscription_type: String,
    pub attempt_number: u32,
    pub object_id: u64,
    pub change_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_flag: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_object_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_object_ids: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_object_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_object_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_removed: Option<bool>,
}

impl WebhookEvent {
    pub fn new(ev: &ChangeEvent, event_id: u64, subscription_id: u64, app_id: u64) -> Self {
        let change_flag = match ev.kind {
            EventKind::Creation => Some("CREATED"),
            EventKind::Deletion => Some("DELETED"),
            _ => None,
        };
        let is_merge = ev.kind == EventKind::Merge;
        Self {
            event_id,
            subscription_id,
            portal_id: ev.portal_id,
            app_id,
            occurred_at: ev.occurred_at_ms,
            subscription_type: ev.subscription_type(),
            attempt_number: 0,
            object_id: ev.object_id,
            change_source: ev.change_source.clone(),
            source_id: ev.source_id.clone(),
            change_flag,
            property_name: ev.property_name.clone(),
            property_value: ev.property_value.clone(),
            primary_object_id: ev.primary_object_id,
            merged_object_ids: is_merge.then(|| ev.merged_object_ids.clone()),
            association_type: ev.association_type.clone(),
            from_object_id: ev.from_object_id,
            to_object_id: ev.to_object_id,
            association_removed: ev.association_removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_hubspot_field_names_and_skips_absent_ones() {
        let mut ev = ChangeEvent::new(
            5,
            "contact",
            EventKind::PropertyChange,
            9,
            "CRM_UI",
            Some("userId:1".into()),
            1000,
        );
        ev.property_name = Some("email".into());
        ev.property_value = Some("a@b.c".into());
        let json = serde_json::to_value(WebhookEvent::new(&ev, 1, 2, 3)).expect("serialise");
        assert_eq!(json["subscriptionType"], "contact.propertyChange");
        assert_eq!(json["propertyName"], "email");
        assert_eq!(json["sourceId"], "userId:1");
        assert_eq!(json["attemptNumber"], 0);
        assert!(json.get("changeFlag").is_none());
        assert!(json.get("mergedObjectIds").is_none());

        let created =
            ChangeEvent::new(5, "deal", EventKind::Creation, 9, "INTEGRATION", None, 1000);
        let json = serde_json::to_value(WebhookEvent::new(&created, 1, 2, 3)).expect("serialise");
        assert_eq!(json["changeFlag"], "CREATED");
        assert!(json.get("sourceId").is_none());
    }
}
