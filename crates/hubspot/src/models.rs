//! HubSpot's JSON shapes, typed: CRM objects, batch, search, properties, associations,
//! OAuth tokens and webhook subscriptions. Field names follow HubSpot (camelCase on the
//! wire); unknown fields are ignored so new HubSpot fields never break decoding.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::ErrorDetail;

/// The CRM object types the client serves with the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectType {
    Contacts,
    Companies,
    Deals,
}

impl ObjectType {
    /// The path segment (`contacts`, `companies`, `deals`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
        }
    }

    /// HubSpot's object type id (`0-1`, `0-2`, `0-3`).
    pub fn type_id(self) -> &'static str {
        match self {
            ObjectType::Contacts => "0-1",
            ObjectType::Companies => "0-2",
            ObjectType::Deals => "0-3",
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Property values as HubSpot sends them: strings, `null` for a requested property
/// without a value. Numbers or booleans (which HubSpot should not send) become strings.
pub type Properties = BTreeMap<String, Option<String>>;

fn lenient_properties<'de, D: Deserializer<'de>>(d: D) -> Result<Properties, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, value_to_string(v)))
        .collect())
}

fn value_to_string(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// Ids are strings in v3 and numbers in parts of v4; accept both.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected string or number id, got {other}"
        ))),
    }
}

/// A CRM record (`SimplePublicObject`, with optional `associations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimplePublicObject {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_properties")]
    pub properties: Properties,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties_with_history: Option<BTreeMap<String, Vec<PropertyHistoryValue>>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associations: Option<BTreeMap<String, AssociationsPage>>,
}

impl SimplePublicObject {
    /// The value of a property, `None` when absent or null.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(|v| v.as_deref())
    }

    /// Ids of the associated records of one type (as read with `associations=`).
    pub fn associated_ids(&self, to: ObjectType) -> Vec<String> {
        self.associations
            .as_ref()
            .and_then(|a| a.get(to.as_str()))
            .map(|p| p.results.iter().map(|r| r.id.clone()).collect())
            .unwrap_or_default()
    }
}

/// Result of a batch upsert: the record plus whether it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimplePublicUpsertObject {
    #[serde(flatten)]
    pub object: SimplePublicObject,
    #[serde(default)]
    pub new: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyHistoryValue {
    #[serde(default)]
    pub value: Option<String>,
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source_id: Option<String>,
    #[serde(default)]
    pub source_label: Option<String>,
    #[serde(default)]
    pub updated_by_user_id: Option<i64>,
}

/// `associations.<type>` on a record read with `associations=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationsPage {
    #[serde(default)]
    pub results: Vec<AssociatedId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociatedId {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextPage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextPage {
    pub after: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub results: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

impl<T> Page<T> {
    /// The cursor of the next page; `None` on the last page.
    pub fn next_after(&self) -> Option<&str> {
        next_after(self.paging.as_ref())
    }
}

/// The cursor of the next page in a `paging` object; `None` on the last page.
fn next_after(paging: Option<&Paging>) -> Option<&str> {
    paging
        .and_then(|p| p.next.as_ref())
        .map(|n| n.after.as_str())
}

// ---------------------------------------------------------------- writes

/// Body of a single create (`SimplePublicObjectInputForCreate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectCreate {
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub associations: Vec<AssociationInput>,
    /// Makes a batch create report per-item results (multi-status) instead of failing
    /// as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_write_trace_id: Option<String>,
}

impl ObjectCreate {
    pub fn new(properties: BTreeMap<String, String>) -> Self {
        Self {
            properties,
            ..Self::default()
        }
    }

    pub fn email(&self) -> Option<&str> {
        self.properties.get("email").map(String::as_str)
    }
}

/// An association made while creating a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationInput {
    pub to: AssociationTarget,
    pub types: Vec<AssociationSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationTarget {
    pub id: String,
}

/// `{associationCategory, associationTypeId}` as used when writing associations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationSpec {
    pub association_category: AssociationCategory,
    pub association_type_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssociationCategory {
    HubspotDefined,
    UserDefined,
    IntegratorDefined,
    Work,
}

/// HubSpot-defined default association type ids (verify with the labels endpoint).
pub mod association_types {
    pub const CONTACT_TO_COMPANY: i64 = 279;
    pub const CONTACT_TO_COMPANY_PRIMARY: i64 = 1;
    pub const COMPANY_TO_CONTACT: i64 = 280;
    pub const CONTACT_TO_DEAL: i64 = 4;
    pub const DEAL_TO_CONTACT: i64 = 3;
    pub const DEAL_TO_COMPANY: i64 = 341;
}

/// One input of batch update (`id` may be an email with `idProperty: "email"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectUpdate {
    pub id: String,
    pub properties: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_property: Option<String>,
}

/// One input of batch upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectUpsert {
    pub id: String,
    pub id_property: String,
    pub properties: BTreeMap<String, String>,
}

impl ObjectUpsert {
    /// Upsert of a contact keyed by its email.
    pub fn by_email(email: impl Into<String>, properties: BTreeMap<String, String>) -> Self {
        Self {
            id: email.into(),
            id_property: "email".into(),
            properties,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectId {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BatchInput<T> {
    pub inputs: Vec<T>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchReadBody {
    pub inputs: Vec<ObjectId>,
    pub properties: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties_with_history: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_property: Option<String>,
}

/// Batch response, with or without errors (200/201/207).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct BatchResponse<T> {
    #[serde(default)]
    pub results: Vec<T>,
    #[serde(default)]
    pub errors: Vec<StandardError>,
}

/// A per-item error inside a batch response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandardError {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub sub_category: Option<Value>,
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub id: Option<String>,
}

impl StandardError {
    /// The ids (or emails) the error is about, from `context.ids` / `context.emails`.
    pub fn subject_ids(&self) -> Vec<&str> {
        ["ids", "id", "emails", "email"]
            .iter()
            .filter_map(|k| self.context.get(*k))
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

// ---------------------------------------------------------------- search

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_value: Option<String>,
}

impl Filter {
    pub fn new(property: impl Into<String>, operator: Operator, value: impl Into<String>) -> Self {
        Self {
            property_name: property.into(),
            operator,
            value: Some(value.into()),
            values: None,
            high_value: None,
        }
    }

    pub fn eq(property: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(property, Operator::Eq, value)
    }

    pub fn has_property(property: impl Into<String>) -> Self {
        Self {
            property_name: property.into(),
            operator: Operator::HasProperty,
            value: None,
            values: None,
            high_value: None,
        }
    }

    pub fn in_values(property: impl Into<String>, values: Vec<String>) -> Self {
        Self {
            property_name: property.into(),
            operator: Operator::In,
            value: None,
            values: Some(values),
            high_value: None,
        }
    }
}

/// Filters inside a group are ANDed; groups are ORed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterGroup {
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortDirection {
    Ascending,
    Descending,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sort {
    pub property_name: String,
    pub direction: SortDirection,
}

/// `PublicObjectSearchRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub filter_groups: Vec<FilterGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorts: Vec<Sort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `CollectionResponseWithTotalSimplePublicObject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    #[serde(default)]
    pub total: u64,
    pub results: Vec<SimplePublicObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

impl SearchResponse {
    /// The cursor of the next page; `None` on the last page.
    pub fn next_after(&self) -> Option<&str> {
        next_after(self.paging.as_ref())
    }
}

// ---------------------------------------------------------------- properties

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyOption {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_order: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationMetadata {
    #[serde(default)]
    pub archivable: bool,
    #[serde(default)]
    pub read_only_definition: bool,
    #[serde(default)]
    pub read_only_value: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_options: Option<bool>,
}

/// A property definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    #[serde(default)]
    pub hubspot_defined: Option<bool>,
    #[serde(default)]
    pub calculated: Option<bool>,
    #[serde(default)]
    pub has_unique_value: Option<bool>,
    #[serde(default)]
    pub hidden: Option<bool>,
    #[serde(default)]
    pub form_field: Option<bool>,
    #[serde(default)]
    pub display_order: Option<i32>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub modification_metadata: Option<ModificationMetadata>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Property {
    /// HubSpot will reject writes to it.
    pub fn is_read_only(&self) -> bool {
        self.modification_metadata
            .as_ref()
            .is_some_and(|m| m.read_only_value)
            || self.calculated == Some(true)
    }
}

/// `PropertyCreate`: `name, label, type, fieldType, groupName` required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyCreate {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PropertyOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_unique_value: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_field: Option<bool>,
}

/// A property group, as created and as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyGroup {
    pub name: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_order: Option<i64>,
}

// ---------------------------------------------------------------- associations v4

/// `AssociationSpecWithLabel` as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationType {
    pub category: AssociationCategory,
    pub type_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One associated record (`MultiAssociatedObjectWithLabel`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedObject {
    #[serde(deserialize_with = "string_or_number")]
    pub to_object_id: String,
    #[serde(default)]
    pub association_types: Vec<AssociationType>,
}

/// One row of a v4 batch read: all associations of one source record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationBatchResult {
    pub from: ObjectIdLenient,
    #[serde(default)]
    pub to: Vec<AssociatedObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectIdLenient {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AssociationBatchReadInput {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

// ---------------------------------------------------------------- OAuth

/// `POST /oauth/v1/token` response. The tokens are secrets: `Debug` shows them
/// redacted, so the response can never reach a log line in clear.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: secrecy::SecretString,
    /// Empty when a refresh answers without a new refresh token.
    pub refresh_token: secrecy::SecretString,
    pub expires_in: u64,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub hub_id: Option<u64>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// Who a token was granted to and for what: the fields HubSpot's access-token and
/// refresh-token info responses share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGrant {
    pub hub_id: u64,
    #[serde(default)]
    pub hub_domain: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub token_type: Option<String>,
}

/// `GET /oauth/v1/access-tokens/{token}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenInfo {
    #[serde(flatten)]
    pub grant: TokenGrant,
    #[serde(default)]
    pub app_id: Option<u64>,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// `GET /account-info/v3/details`: who the portal is (works with private-app tokens,
/// which have no token-info endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetails {
    pub portal_id: u64,
    #[serde(default)]
    pub account_type: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub company_currency: Option<String>,
    #[serde(default)]
    pub additional_currencies: Vec<String>,
    #[serde(default)]
    pub utc_offset: Option<String>,
    #[serde(default)]
    pub utc_offset_milliseconds: Option<i64>,
    #[serde(default)]
    pub ui_domain: Option<String>,
    #[serde(default)]
    pub data_hosting_location: Option<String>,
}

// ---------------------------------------------------------------- webhooks API

/// `SubscriptionResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    pub event_type: String,
    #[serde(default)]
    pub property_name: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `SubscriptionCreateRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCreate {
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    #[serde(default)]
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ResultsOnly<T> {
    pub results: Vec<T>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_responses_never_print_their_tokens() {
        let r: TokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "CJSP5qf1KhICAQEY-access",
            "refresh_token": "6f18f21e-refresh",
            "expires_in": 1800,
            "token_type": "bearer"
        }))
        .unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("CJSP5qf1KhICAQEY-access"), "{shown}");
        assert!(!shown.contains("6f18f21e-refresh"), "{shown}");
        assert!(shown.contains("1800"), "other fields still show: {shown}");
        use secrecy::ExposeSecret;
        assert_eq!(r.access_token.expose_secret(), "CJSP5qf1KhICAQEY-access");
    }

    #[test]
    fn object_decodes_nulls_numbers_and_associations() {
        let o: SimplePublicObject = serde_json::from_value(serde_json::json!({
            "id": "12",
            "properties": {"email": "a@b.co", "firstname": null, "num": 3},
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-02T00:00:00.123Z",
            "archived": false,
            "associations": {"companies": {"results": [{"id": "7", "type": "contact_to_company"}]}}
        }))
        .unwrap();
        assert_eq!(o.property("email"), Some("a@b.co"));
        assert_eq!(o.properties.get("firstname"), Some(&None));
        assert_eq!(o.property("num"), Some("3"));
        assert_eq!(
            o.associated_ids(ObjectType::Companies),
            vec!["7".to_string()]
        );
    }

    #[test]
    fn search_request_serialises_like_hubspot() {
        let req = SearchRequest {
            filter_groups: vec![FilterGroup {
                filters: vec![Filter::new("hs_object_id", Operator::Gt, "5")],
            }],
            sorts: vec![Sort {
                property_name: "hs_object_id".into(),
                direction: SortDirection::Ascending,
            }],
            limit: Some(200),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({
                "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "5"}]}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "limit": 200
            })
        );
    }

    #[test]
    fn v4_association_ids_may_be_numbers() {
        let r: AssociationBatchResult = serde_json::from_value(serde_json::json!({
            "from": {"id": "1"},
            "to": [{"toObjectId": 99, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": null}]}]
        }))
        .unwrap();
        assert_eq!(r.to[0].to_object_id, "99");
        assert_eq!(r.to[0].association_types[0].type_id, 279);
    }
}
