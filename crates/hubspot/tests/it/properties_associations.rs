//! Properties API and associations (v4 single and batch, `associations=` on reads).

use keva_hubspot::models::{ObjectCreate, PropertyCreate, PropertyGroup};
use keva_hubspot::{ObjectType, ReadOptions};

use crate::helpers::{contact, props, unlimited};

#[tokio::test]
async fn properties_list_get_create() {
    let env = unlimited().await;
    let client = env.client();
    let contact_props = client.properties(ObjectType::Contacts);

    let all = contact_props.list().await.unwrap();
    assert!(all.iter().any(|p| p.name == "email"));
    assert!(
        !all.iter().any(|p| p.name == "notes"),
        "contacts have no default notes property"
    );
    let email = contact_props.get("email").await.unwrap();
    assert_eq!(email.kind, "string");
    assert!(contact_props.get("notes").await.unwrap_err().is_not_found());
    let modified = contact_props.get("lastmodifieddate").await.unwrap();
    assert!(modified.is_read_only());

    let created = contact_props
        .create(&PropertyCreate {
            name: "notes".into(),
            label: "Notes".into(),
            kind: "string".into(),
            field_type: "textarea".into(),
            group_name: "contactinformation".into(),
            ..PropertyCreate::default()
        })
        .await
        .unwrap();
    assert_eq!(created.name, "notes");
    let group = PropertyGroup {
        name: "keva".into(),
        label: "Keva".into(),
        display_order: None,
    };
    let made = contact_props.create_group(&group).await.unwrap();
    assert_eq!((made.name.as_str(), made.label.as_str()), ("keva", "Keva"));
    assert!(contact_props
        .create_group(&group)
        .await
        .unwrap_err()
        .is_conflict());
    assert_eq!(
        contact_props.get("notes").await.unwrap().field_type,
        "textarea"
    );
    // Now writing it works.
    let c = client
        .contacts()
        .create(&ObjectCreate::new(props(&[
            ("email", "noted@example.com"),
            ("notes", "likes tea"),
        ])))
        .await
        .unwrap();
    let read = client
        .contacts()
        .get(&c.id, &ReadOptions::properties(["notes"]))
        .await
        .unwrap();
    assert_eq!(read.property("notes"), Some("likes tea"));

    let deal_props = client.properties(ObjectType::Deals).list().await.unwrap();
    assert!(deal_props.iter().any(|p| p.name == "dealstage"));
}

#[tokio::test]
async fn contact_associations_to_companies_and_deals() {
    let env = unlimited().await;
    let client = env.client();
    let person = client
        .contacts()
        .create(&contact("assoc@example.com", "A"))
        .await
        .unwrap();
    let other = client
        .contacts()
        .create(&contact("lonely@example.com", "L"))
        .await
        .unwrap();
    let company = client
        .companies()
        .create(&ObjectCreate::new(props(&[("name", "Acme")])))
        .await
        .unwrap();
    let deal = client
        .deals()
        .create(&ObjectCreate::new(props(&[("dealname", "Big one")])))
        .await
        .unwrap();
    let assoc = client.associations();
    assoc
        .associate_default(
            ObjectType::Contacts,
            &person.id,
            ObjectType::Companies,
            &company.id,
        )
        .await
        .unwrap();
    assoc
        .associate_default(
            ObjectType::Contacts,
            &person.id,
            ObjectType::Deals,
            &deal.id,
        )
        .await
        .unwrap();

    let companies = assoc.contact_companies(&person.id).await.unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(companies[0].to_object_id, company.id);
    assert!(!companies[0].association_types.is_empty());
    let deals = assoc.contact_deals(&person.id).await.unwrap();
    assert_eq!(deals.len(), 1);
    assert_eq!(deals[0].to_object_id, deal.id);
    assert!(assoc.contact_companies(&other.id).await.unwrap().is_empty());

    let with_assoc = client
        .contacts()
        .get(
            &person.id,
            &ReadOptions {
                associations: vec![ObjectType::Companies, ObjectType::Deals],
                ..ReadOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        with_assoc.associated_ids(ObjectType::Companies),
        vec![company.id.clone()]
    );
    assert_eq!(
        with_assoc.associated_ids(ObjectType::Deals),
        vec![deal.id.clone()]
    );

    let batch = assoc
        .batch_read(
            ObjectType::Contacts,
            ObjectType::Companies,
            &[person.id.clone(), other.id.clone()],
        )
        .await
        .unwrap();
    let row = batch
        .results
        .iter()
        .find(|r| r.from.id == person.id)
        .expect("a row for the associated contact");
    assert_eq!(row.to[0].to_object_id, company.id);
    assert!(batch
        .results
        .iter()
        .all(|r| r.from.id != other.id || r.to.is_empty()));
}

#[tokio::test]
async fn batch_read_all_keys_associations_by_source_and_pipelines_carry_probabilities() {
    let env = unlimited().await;
    let client = env.client();
    let mut contacts = Vec::new();
    for i in 0..3 {
        let c = client
            .contacts()
            .create(&contact(&format!("all{i}@example.com"), "A"))
            .await
            .unwrap();
        contacts.push(c.id);
    }
    let company = client
        .companies()
        .create(&ObjectCreate::new(props(&[("name", "Shared")])))
        .await
        .unwrap();
    let assoc = client.associations();
    for c in &contacts[..2] {
        assoc
            .associate_default(ObjectType::Contacts, c, ObjectType::Companies, &company.id)
            .await
            .unwrap();
    }
    let all = assoc
        .batch_read_all(ObjectType::Contacts, ObjectType::Companies, &contacts)
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        2,
        "the contact without a company is absent: {all:?}"
    );
    for c in &contacts[..2] {
        assert_eq!(all[c][0].to_object_id, company.id);
    }

    let pipelines = client.deal_pipelines().await.unwrap();
    let default = pipelines
        .iter()
        .find(|p| p.id == "default")
        .expect("default");
    let won = default
        .stages
        .iter()
        .find(|s| s.id == "closedwon")
        .expect("closedwon");
    assert_eq!((won.probability(), won.is_closed()), (Some(1.0), true));
}
