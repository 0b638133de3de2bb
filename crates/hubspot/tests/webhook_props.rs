//! Property tests: `parse_batch` never panics and answers consistently on arbitrary
//! bytes and arbitrary JSON; events it accepts survive a serialize/parse round trip.
#![allow(clippy::unwrap_used)]

use keva_hubspot::webhook::{parse_batch, ParseError, MAX_EVENTS_PER_REQUEST};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{1,22}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Mostly HubSpot's own field names, so objects often come close to real events.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "eventId", "subscriptionId", "portalId", "appId", "occurredAt",
            "subscriptionType", "attemptNumber", "objectId", "changeSource", "sourceId",
            "changeFlag", "propertyName", "propertyValue", "primaryObjectId",
            "mergedObjectIds", "newObjectId", "associationType", "fromObjectId",
            "toObjectId", "associationRemoved", "isPrimaryAssociation", "objectTypeId",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z]{1,8}",
    ]
}

/// A well-formed event whose fields are then overwritten by arbitrary values.
fn near_event() -> impl Strategy<Value = Value> {
    (
        any::<u64>(),
        any::<i64>(),
        prop::collection::btree_map(field_name(), arb_json(), 0..4),
    )
        .prop_map(|(id, at, overrides)| {
            let mut ev = json!({
                "eventId": id, "subscriptionId": 1, "portalId": 2, "appId": 3,
                "occurredAt": at, "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0, "objectId": 4
            });
            for (k, v) in overrides {
                ev[k] = v;
            }
            ev
        })
}

/// The variant a value must produce, judged from its shape alone.
fn check_shape(
    value: &Value,
    result: &Result<Vec<keva_hubspot::webhook::WebhookEvent>, ParseError>,
) {
    match value {
        Value::Array(items) if items.is_empty() => assert_eq!(result, &Err(ParseError::Empty)),
        Value::Array(items) if items.len() > MAX_EVENTS_PER_REQUEST => {
            assert!(matches!(result, Err(ParseError::TooMany { .. })));
        }
        Value::Array(items) => match result {
            Ok(events) => assert_eq!(events.len(), items.len()),
            Err(ParseError::BadEvent { index, .. }) => assert!(*index < items.len()),
            Err(other) => panic!("array gave {other:?}"),
        },
        _ => assert!(matches!(result, Err(ParseError::NotAnArray { .. }))),
    }
}

/// Any bytes: not JSON → `NotJson`, JSON → the variant its shape calls for.
fn check_bytes(body: &[u8]) {
    let result = parse_batch(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => check_shape(&value, &result),
        Err(_) => assert!(
            matches!(result, Err(ParseError::NotJson { .. })),
            "{result:?}"
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_get_a_verdict(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_bytes(&body);
    }

    #[test]
    fn mutated_real_bodies_get_a_verdict(
        cut in 1usize..400,
        byte in any::<u8>(),
        at in 0usize..400,
    ) {
        let mut body = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#.to_vec();
        let at = at % body.len();
        body[at] = byte;
        body.truncate(cut);
        check_bytes(&body);
    }

    #[test]
    fn arbitrary_json_gets_the_variant_its_shape_calls_for(value in arb_json()) {
        let body = serde_json::to_vec(&value).unwrap();
        check_shape(&value, &parse_batch(&body));
    }

    #[test]
    fn near_events_parse_or_name_the_bad_one_and_round_trip(
        events in prop::collection::vec(near_event(), 1..6)
    ) {
        let value = Value::Array(events);
        let result = parse_batch(&serde_json::to_vec(&value).unwrap());
        check_shape(&value, &result);
        if let Ok(parsed) = result {
            let again = parse_batch(&serde_json::to_vec(&parsed).unwrap());
            prop_assert_eq!(again, Ok(parsed));
        }
    }
}
