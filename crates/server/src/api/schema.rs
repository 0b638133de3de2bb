//! JSON Schemas for request fields whose rules the derive cannot see: text enums
//! (taken from the domain's own variant lists, so the document cannot drift from
//! what `parse` accepts), a mapping's shape (`FieldMapping` lives in the pure
//! domain crate, which knows nothing of OpenAPI) and HubSpot's app id (digits as a
//! string or a number). Used through `#[schema(schema_with = …)]`.
//!
//! Query parameters state their enums as a `pattern` instead (utoipa drops a
//! parameter's description and `required` when it has `schema_with`); the tests
//! below check those patterns against the same variant lists.

use keva_core::{ConflictPolicy, Direction, KevaField, ObjectKind, Transform};
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, SchemaType};
use utoipa::openapi::{ObjectBuilder, Type};

/// A string that is one of `values`.
fn one_of(values: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
}

/// `values`, or `null` (an optional body field: serde takes `null` as absent).
fn one_of_or_null(values: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    let mut all: Vec<serde_json::Value> = values.into_iter().map(Into::into).collect();
    all.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(all))
}

/// `conflictPolicy` of a connector's settings (optional, nullable).
pub fn conflict_policy() -> ObjectBuilder {
    one_of_or_null(ConflictPolicy::ALL.iter().map(|p| p.as_str()))
}

/// `object` of an automap request: HubSpot's plural object names.
pub fn automap_object() -> ObjectBuilder {
    one_of(ObjectKind::ALL.iter().map(|k| k.hubspot_object_type()))
}

/// `type` of a custom attribute.
pub fn attribute_type() -> ObjectBuilder {
    one_of(super::customer_attributes::ATTRIBUTE_TYPES)
}

/// `type` of an attribute update (optional: must equal the current type).
pub fn attribute_type_or_null() -> ObjectBuilder {
    one_of_or_null(super::customer_attributes::ATTRIBUTE_TYPES)
}

/// The options of an `enum` / `multi_enum` attribute: distinct, not blank, at
/// most 200 characters each, at most 500.
pub fn attribute_options() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"\S"))
                .max_length(Some(super::customer_attributes::MAX_LABEL)),
        )
        .max_items(Some(super::customer_attributes::MAX_OPTIONS))
        .unique_items(true)
}

/// `attribute_options`, or `null` (keep the current ones).
pub fn attribute_options_or_null() -> ArrayBuilder {
    attribute_options().schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
}

/// A flag that may only be `true` (test-mapping's `dryRun`).
pub fn only_true() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .default(Some(true.into()))
}

/// The largest app id `PUT …/webhooks` takes: 19 digits.
const MAX_APP_ID: u64 = 9_999_999_999_999_999_999;

/// HubSpot's app id: digits, as a JSON string or a JSON number.
pub fn app_id() -> OneOfBuilder {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(MAX_APP_ID)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[0-9]{1,19}$")),
        )
}

/// The body of `POST /api/webhooks/hubspot`: HubSpot's array of events (1 to
/// `MAX_EVENTS_PER_REQUEST`), each with the fields `parse_batch` requires. Ids
/// are numbers (HubSpot also sends some as digit strings; both are read).
pub fn webhook_events() -> ArrayBuilder {
    let id = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u64::MAX))
    };
    let id_or_null = || id().schema_type(SchemaType::from_iter([Type::Integer, Type::Null]));
    let text = || {
        ObjectBuilder::new().schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Null,
        ]))
    };
    let flag =
        || ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]));
    let mut event = ObjectBuilder::new().schema_type(Type::Object);
    for name in ["eventId", "subscriptionId", "portalId", "appId", "objectId"] {
        event = event.property(name, id()).required(name);
    }
    event = event
        .property(
            "occurredAt",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(i64::MIN))
                .maximum(Some(i64::MAX))
                .description(Some("epoch milliseconds")),
        )
        .required("occurredAt")
        .property(
            "subscriptionType",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples(["contact.propertyChange"]),
        )
        .required("subscriptionType")
        .property(
            "attemptNumber",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(u32::MAX)),
        );
    for name in [
        "changeSource",
        "sourceId",
        "changeFlag",
        "propertyName",
        "propertyValue",
        "associationType",
    ] {
        event = event.property(name, text());
    }
    for name in [
        "primaryObjectId",
        "newObjectId",
        "fromObjectId",
        "toObjectId",
    ] {
        event = event.property(name, id_or_null());
    }
    for name in ["associationRemoved", "isPrimaryAssociation"] {
        event = event.property(name, flag());
    }
    event = event.property("mergedObjectIds", ArrayBuilder::new().items(id()));
    ArrayBuilder::new()
        .items(event)
        .min_items(Some(1))
        .max_items(Some(keva_hubspot::webhook::MAX_EVENTS_PER_REQUEST))
}

/// A custom attribute as a mapping target: `attributes.<key>`, the key as
/// `keva_core::attribute::valid_key` accepts it (the workspace must define it).
fn attribute_field() -> ObjectBuilder {
    let rest = keva_core::attribute::MAX_KEY_LEN - 1;
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^attributes\\.[a-z][A-Za-z0-9]{{0,{rest}}}$")))
        .description(Some(
            "a custom attribute of the workspace: `attributes.<key>`",
        ))
}

/// One mapping of `PUT /api/crm/hubspot/mappings` (`keva_core::FieldMapping`).
pub fn field_mapping() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "kevaField",
            OneOfBuilder::new()
                .item(one_of(KevaField::ALL.iter().map(|f| f.as_str())))
                .item(attribute_field()),
        )
        .required("kevaField")
        .property(
            "hubspotProperties",
            ArrayBuilder::new()
                .items(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(keva_core::validate::MAX_PROPERTY_NAME_LEN)),
                )
                .min_items(Some(1))
                .max_items(Some(2))
                .description(Some(
                    "one HubSpot property; `firstname` and `lastname` for `name`",
                )),
        )
        .required("hubspotProperties")
        .property(
            "direction",
            one_of(Direction::ALL.iter().map(|d| d.as_str())),
        )
        .property(
            "transform",
            one_of_or_null(Transform::ALL.iter().map(|t| t.as_str())),
        )
        .property(
            "default",
            ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        )
}

/// The mapping list of `PUT /api/crm/hubspot/mappings`.
pub fn field_mappings() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(field_mapping())
        .max_items(Some(keva_core::validate::MAX_MAPPINGS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(b: ObjectBuilder) -> Vec<String> {
        let v = serde_json::to_value(b.build()).unwrap_or_default();
        v["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_listed_value_is_accepted_by_the_parser_it_documents() {
        for v in values(conflict_policy()) {
            assert!(ConflictPolicy::parse(&v).is_some(), "{v}");
        }
        assert_eq!(values(automap_object()), ["contacts", "companies"]);
        assert_eq!(
            values(attribute_type()),
            super::super::customer_attributes::ATTRIBUTE_TYPES
        );
    }

    /// The pattern a query parameter states, from the served document.
    fn query_pattern(doc: &serde_json::Value, path: &str, name: &str) -> String {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .and_then(|p| p["schema"]["pattern"].as_str())
            .unwrap_or_else(|| panic!("{path} ?{name} has a pattern"))
            .to_owned()
    }

    fn alternatives(values: impl IntoIterator<Item = &'static str>) -> String {
        format!("^({})$", values.into_iter().collect::<Vec<_>>().join("|"))
    }

    #[test]
    fn query_enums_list_exactly_the_parsers_variants() {
        let doc = serde_json::to_value(crate::routes().1).unwrap_or_default();
        let kinds = alternatives(ObjectKind::ALL.iter().map(|k| k.as_str()));
        assert_eq!(
            query_pattern(&doc, "/api/crm/hubspot/describe", "object"),
            kinds
        );
        assert_eq!(
            query_pattern(&doc, "/api/crm/hubspot/mappings", "object"),
            kinds
        );
        let results = alternatives(keva_store::HistoryResult::ALL.iter().map(|r| r.as_str()));
        assert_eq!(
            query_pattern(&doc, "/api/crm/hubspot/history", "status"),
            results
        );
        let described = &doc["paths"]["/api/crm/hubspot/describe"]["get"]["parameters"][0];
        assert_eq!(described["required"], true, "{described}");
    }
}
