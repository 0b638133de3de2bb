//! `parse_batch` on realistic HubSpot deliveries (one per contact event type, the
//! docs' v1 example) and on every kind of bad body the intake must answer 400 to.
#![allow(clippy::unwrap_used)]

use keva_hubspot::webhook::{
    parse_batch, EventKind, ParseError, WebhookEvent, MAX_EVENTS_PER_REQUEST,
};
use serde_json::json;

fn parse_one(body: &str) -> WebhookEvent {
    let mut events = parse_batch(body.as_bytes()).expect("valid batch");
    assert_eq!(events.len(), 1);
    events.remove(0)
}

fn bad_event(body: &[u8]) -> (usize, String) {
    match parse_batch(body) {
        Err(ParseError::BadEvent { index, reason }) => (index, reason),
        other => panic!("expected BadEvent, got {other:?}"),
    }
}

/// An event with the fields every type carries, for tests that vary one field.
fn base_event() -> serde_json::Value {
    json!({
        "eventId": 100, "subscriptionId": 200, "portalId": 300, "appId": 400,
        "occurredAt": 1_700_000_000_000_i64, "subscriptionType": "contact.creation",
        "attemptNumber": 0, "objectId": 500
    })
}

#[test]
fn docs_v1_example_body() {
    let e = parse_one(
        r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#,
    );
    assert_eq!(e.event_id, 1);
    assert_eq!(e.subscription_id, 12345);
    assert_eq!(e.portal_id, 62515);
    assert_eq!(e.app_id, 54321);
    assert_eq!(e.occurred_at, 1_564_113_600_000);
    assert_eq!(e.attempt_number, 0);
    assert_eq!(e.object_id, 123);
    assert_eq!(e.change_source.as_deref(), Some("CRM"));
    assert_eq!(e.change_flag.as_deref(), Some("NEW"));
    assert_eq!(e.property_name, None);
    assert!(e.merged_object_ids.is_empty());
    assert_eq!(e.kind(), EventKind::ContactCreation);
}

#[test]
fn mixed_batch_keeps_order_and_reads_each_type() {
    let body = r#"[
      {"eventId":3001,"subscriptionId":77,"portalId":62515,"appId":54321,"occurredAt":1700000000001,
       "subscriptionType":"contact.propertyChange","attemptNumber":2,"objectId":901,
       "changeSource":"CRM_UI","sourceId":"userId:45678","propertyName":"email",
       "propertyValue":"ada@example.com","isSensitive":false},
      {"eventId":3002,"subscriptionId":78,"portalId":62515,"appId":54321,"occurredAt":1700000000002,
       "subscriptionType":"contact.deletion","attemptNumber":0,"objectId":902,
       "changeSource":"CRM","changeFlag":"DELETED"},
      {"eventId":3003,"subscriptionId":79,"portalId":62515,"appId":54321,"occurredAt":1700000000003,
       "subscriptionType":"contact.merge","attemptNumber":0,"objectId":903,"changeSource":"CRM_UI",
       "primaryObjectId":903,"mergedObjectIds":[904,905],"newObjectId":906,"numberOfPropertiesMoved":12},
      {"eventId":3004,"subscriptionId":80,"portalId":62515,"appId":54321,"occurredAt":1700000000004,
       "subscriptionType":"contact.restore","attemptNumber":0,"objectId":902,"changeSource":"CRM_UI"},
      {"eventId":3005,"subscriptionId":81,"portalId":62515,"appId":54321,"occurredAt":1700000000005,
       "subscriptionType":"contact.associationChange","attemptNumber":0,"objectId":901,
       "changeSource":"USER","associationType":"CONTACT_TO_COMPANY","fromObjectId":901,
       "toObjectId":7001,"associationRemoved":false,"isPrimaryAssociation":true},
      {"eventId":3006,"subscriptionId":82,"portalId":62515,"appId":54321,"occurredAt":1700000000006,
       "subscriptionType":"contact.privacyDeletion","attemptNumber":0,"objectId":907},
      {"eventId":3007,"subscriptionId":83,"portalId":62515,"appId":54321,"occurredAt":1700000000007,
       "subscriptionType":"deal.creation","attemptNumber":0,"objectId":5001,"changeFlag":"CREATED"}
    ]"#;
    let events = parse_batch(body.as_bytes()).expect("valid batch");
    let ids: Vec<u64> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, [3001, 3002, 3003, 3004, 3005, 3006, 3007]);
    let kinds: Vec<EventKind> = events.iter().map(WebhookEvent::kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ContactPropertyChange,
            EventKind::ContactDeletion,
            EventKind::ContactMerge,
            EventKind::ContactRestore,
            EventKind::ContactAssociationChange,
            EventKind::ContactPrivacyDeletion,
            EventKind::Other("deal.creation".into()),
        ]
    );

    let change = &events[0];
    assert_eq!(change.attempt_number, 2);
    assert_eq!(change.source_id.as_deref(), Some("userId:45678"));
    assert_eq!(change.property_name.as_deref(), Some("email"));
    assert_eq!(change.property_value.as_deref(), Some("ada@example.com"));

    assert_eq!(events[1].change_flag.as_deref(), Some("DELETED"));

    let merge = &events[2];
    assert_eq!(merge.primary_object_id, Some(903));
    assert_eq!(merge.merged_object_ids, [904, 905]);
    assert_eq!(merge.new_object_id, Some(906));

    let assoc = &events[4];
    assert_eq!(
        assoc.association_type.as_deref(),
        Some("CONTACT_TO_COMPANY")
    );
    assert_eq!(assoc.from_object_id, Some(901));
    assert_eq!(assoc.to_object_id, Some(7001));
    assert_eq!(assoc.association_removed, Some(false));
    assert_eq!(assoc.is_primary_association, Some(true));
    assert!(!events[6].kind().is_contact());
}

#[test]
fn generic_object_events_on_contacts_are_contact_kinds() {
    let mut ev = base_event();
    ev["subscriptionType"] = json!("object.propertyChange");
    ev["objectTypeId"] = json!("0-1");
    let e = parse_one(&json!([ev]).to_string());
    assert_eq!(e.object_type_id.as_deref(), Some("0-1"));
    assert_eq!(e.kind(), EventKind::ContactPropertyChange);

    ev["objectTypeId"] = json!("0-2");
    let e = parse_one(&json!([ev]).to_string());
    assert_eq!(e.kind(), EventKind::Other("object.propertyChange".into()));

    ev["subscriptionType"] = json!("contact.somethingNew");
    let e = parse_one(&json!([ev]).to_string());
    assert_eq!(e.kind(), EventKind::Other("contact.somethingNew".into()));
}

#[test]
fn ids_as_strings_and_integral_floats_are_read() {
    let body = r#"[{"eventId":"18446744073709551615","subscriptionId":"7","portalId":1.0e3,
      "appId":"54321","occurredAt":"1700000000000","subscriptionType":"contact.merge",
      "attemptNumber":"3","objectId":12.0,"primaryObjectId":"12","mergedObjectIds":["13",14]}]"#;
    let e = parse_one(body);
    assert_eq!(e.event_id, u64::MAX);
    assert_eq!(e.subscription_id, 7);
    assert_eq!(e.portal_id, 1000);
    assert_eq!(e.app_id, 54321);
    assert_eq!(e.occurred_at, 1_700_000_000_000);
    assert_eq!(e.attempt_number, 3);
    assert_eq!(e.object_id, 12);
    assert_eq!(e.primary_object_id, Some(12));
    assert_eq!(e.merged_object_ids, [13, 14]);
}

#[test]
fn optional_fields_may_be_null_absent_or_scalar() {
    let mut ev = base_event();
    let obj = ev.as_object_mut().unwrap();
    obj.remove("attemptNumber");
    obj.insert("propertyValue".into(), json!(42.5));
    obj.insert("propertyName".into(), json!(null));
    obj.insert("changeSource".into(), json!(true));
    obj.insert("mergedObjectIds".into(), json!(null));
    obj.insert("associationRemoved".into(), json!("TRUE"));
    obj.insert("primaryObjectId".into(), json!(null));
    obj.insert(
        "someFutureField".into(),
        json!({"nested": [1, {"deep": null}]}),
    );
    let e = parse_one(&json!([ev]).to_string());
    assert_eq!(
        e.attempt_number, 0,
        "absent attemptNumber reads as first delivery"
    );
    assert_eq!(e.property_value.as_deref(), Some("42.5"));
    assert_eq!(e.property_name, None);
    assert_eq!(e.change_source.as_deref(), Some("true"));
    assert!(e.merged_object_ids.is_empty());
    assert_eq!(e.association_removed, Some(true));
    assert_eq!(e.primary_object_id, None);
}

#[test]
fn serialized_events_parse_back_identical() {
    let body = r#"[{"eventId":9,"subscriptionId":8,"portalId":7,"appId":6,"occurredAt":5,
      "subscriptionType":"contact.merge","attemptNumber":1,"objectId":4,"primaryObjectId":4,
      "mergedObjectIds":[3,2],"propertyValue":"ä \u00e4 \"q\""}]"#;
    let events = parse_batch(body.as_bytes()).unwrap();
    let again = parse_batch(&serde_json::to_vec(&events).unwrap()).unwrap();
    assert_eq!(again, events);
    let v = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(v["mergedObjectIds"], json!([3, 2]));
    assert!(
        v.get("propertyName").is_none(),
        "absent options are omitted"
    );
}

#[test]
fn not_json_reports_position() {
    match parse_batch(b"[{\"eventId\": 1,\n  oops}]") {
        Err(ParseError::NotJson {
            line,
            column,
            reason,
        }) => {
            assert_eq!(line, 2);
            assert_eq!(column, 3);
            assert!(reason.contains("key must be a string"), "{reason}");
        }
        other => panic!("expected NotJson, got {other:?}"),
    }
    for body in [
        &b""[..],
        b"   ",
        b"[",
        b"[1,]",
        b"\xff\xfe[]",
        b"[\"\xc3\x28\"]",
        b"nul",
    ] {
        assert!(
            matches!(parse_batch(body), Err(ParseError::NotJson { .. })),
            "{body:?}"
        );
    }
}

#[test]
fn non_array_bodies_are_refused_with_their_type() {
    for (body, found) in [
        (r#"{"eventId":1}"#, "an object"),
        ("42", "a number"),
        (r#""[]""#, "a string"),
        ("null", "null"),
        ("true", "a boolean"),
    ] {
        assert_eq!(
            parse_batch(body.as_bytes()),
            Err(ParseError::NotAnArray { found }),
            "{body}"
        );
    }
}

#[test]
fn empty_array_is_refused() {
    assert_eq!(parse_batch(b"[]"), Err(ParseError::Empty));
    assert_eq!(parse_batch(b" [ ] \n"), Err(ParseError::Empty));
}

#[test]
fn batch_size_limit_is_inclusive() {
    let at_limit: Vec<_> = (0..MAX_EVENTS_PER_REQUEST)
        .map(|i| {
            let mut e = base_event();
            e["eventId"] = json!(i);
            e
        })
        .collect();
    let events = parse_batch(&serde_json::to_vec(&at_limit).unwrap()).expect("at the limit");
    assert_eq!(events.len(), MAX_EVENTS_PER_REQUEST);
    assert_eq!(events[MAX_EVENTS_PER_REQUEST - 1].event_id, 999);

    let mut over = at_limit;
    over.push(base_event());
    assert_eq!(
        parse_batch(&serde_json::to_vec(&over).unwrap()),
        Err(ParseError::TooMany {
            count: MAX_EVENTS_PER_REQUEST + 1,
            max: MAX_EVENTS_PER_REQUEST
        })
    );
}

#[test]
fn bad_event_names_index_and_field() {
    let mut wrong_type = base_event();
    wrong_type["portalId"] = json!("portal-1");
    let body = serde_json::to_vec(&json!([base_event(), wrong_type])).unwrap();
    let (index, reason) = bad_event(&body);
    assert_eq!(index, 1);
    assert!(reason.starts_with("portalId:"), "{reason}");

    let mut missing = base_event();
    missing.as_object_mut().unwrap().remove("eventId");
    let (index, reason) = bad_event(&serde_json::to_vec(&json!([missing])).unwrap());
    assert_eq!(index, 0);
    assert!(reason.contains("missing field `eventId`"), "{reason}");

    let (index, reason) = bad_event(br#"[1]"#);
    assert_eq!(
        (index, reason.as_str()),
        (0, "expected an object, found a number")
    );

    let mut list = base_event();
    list["mergedObjectIds"] = json!([1, "x"]);
    let (_, reason) = bad_event(&serde_json::to_vec(&json!([list])).unwrap());
    assert!(reason.starts_with("mergedObjectIds[1]:"), "{reason}");
}

#[test]
fn numbers_that_do_not_fit_are_errors_not_wrapped() {
    for (field, value) in [
        ("eventId", json!(-1)),
        ("eventId", json!("18446744073709551616")),
        ("eventId", json!(1.5)),
        ("eventId", json!(1e300)),
        ("eventId", json!("+5")),
        ("eventId", json!("")),
        ("eventId", json!(null)),
        ("attemptNumber", json!(4_294_967_296_u64)),
        ("occurredAt", json!("9223372036854775808")),
        ("objectId", json!([1])),
        ("subscriptionType", json!(5)),
        ("propertyValue", json!({"a": 1})),
        ("associationRemoved", json!("yes")),
    ] {
        let mut ev = base_event();
        ev[field] = value.clone();
        let (index, reason) = bad_event(&serde_json::to_vec(&json!([ev])).unwrap());
        assert_eq!(index, 0);
        assert!(reason.starts_with(field), "{field}={value}: {reason}");
    }
    // Larger than u64 in the raw text: serde_json reads it as a float, still refused.
    let raw = br#"[{"eventId":99999999999999999999999,"subscriptionId":1,"portalId":1,"appId":1,
        "occurredAt":1,"subscriptionType":"contact.creation","objectId":1}]"#;
    let (_, reason) = bad_event(raw);
    assert!(reason.starts_with("eventId:"), "{reason}");
}

#[test]
fn reasons_do_not_echo_strings_or_long_numbers() {
    let mut ev = base_event();
    ev["portalId"] = json!("ada@example.com");
    let (_, reason) = bad_event(&serde_json::to_vec(&json!([ev])).unwrap());
    assert!(!reason.contains("ada@"), "{reason}");

    let mut ev = base_event();
    ev["eventId"] = json!("9".repeat(10_000));
    let (_, reason) = bad_event(&serde_json::to_vec(&json!([ev])).unwrap());
    assert!(reason.contains("10000 digits"), "{reason}");
}

#[test]
fn deeply_nested_garbage_is_an_error_not_a_crash() {
    let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse_batch(deep.as_bytes()),
        Err(ParseError::NotJson { .. })
    ));
    let mut ev = base_event();
    ev["extra"] = json!([[[[[[[[[[{"a": [[[[[[]]]]]]}]]]]]]]]]]);
    assert_eq!(parse_one(&json!([ev]).to_string()).event_id, 100);
}
