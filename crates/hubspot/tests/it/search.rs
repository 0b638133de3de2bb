//! Search: filters, sorts, paging, and `search_all` past the 10,000-result cap.

use std::collections::HashSet;

use futures::TryStreamExt;
use keva_hubspot::models::{Filter, FilterGroup, SearchRequest, Sort, SortDirection};

use crate::helpers::{contact, unlimited};

#[tokio::test]
async fn search_filters_sorts_and_pages() {
    let env = unlimited().await;
    let client = env.client();
    for (e, f) in [
        ("zoe@example.com", "Zoe"),
        ("amy@example.com", "Amy"),
        ("max@example.com", "Max"),
    ] {
        client.contacts().create(&contact(e, f)).await.unwrap();
    }
    // EQ on email is case-insensitive.
    let one = client
        .contacts()
        .search(&SearchRequest {
            filter_groups: vec![FilterGroup {
                filters: vec![Filter::eq("email", "AMY@example.com")],
            }],
            properties: vec!["email".into(), "firstname".into()],
            ..SearchRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(one.total, 1);
    assert_eq!(one.results[0].property("firstname"), Some("Amy"));

    // Pages of two, by first name descending.
    let first_page = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::has_property("email")],
        }],
        sorts: vec![Sort {
            property_name: "firstname".into(),
            direction: SortDirection::Descending,
        }],
        properties: vec!["firstname".into()],
        limit: Some(2),
        ..SearchRequest::default()
    };
    let sorted = client.contacts().search(&first_page).await.unwrap();
    assert_eq!(sorted.total, 3);
    let names: Vec<_> = sorted
        .results
        .iter()
        .map(|o| o.property("firstname").unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, vec!["Zoe", "Max"]);
    let after = sorted.next_after().expect("a second page").to_string();
    let rest = client
        .contacts()
        .search(&SearchRequest {
            after: Some(after),
            ..first_page
        })
        .await
        .unwrap();
    assert_eq!(rest.results.len(), 1);
    assert_eq!(rest.results[0].property("firstname"), Some("Amy"));
    assert!(rest.next_after().is_none());
}

#[tokio::test]
async fn paging_past_ten_thousand_is_refused_but_search_all_gets_everything() {
    let env = unlimited().await;
    env.seed_contacts(10_450).await;
    let client = env.client();

    let refused = client
        .contacts()
        .search(&SearchRequest {
            limit: Some(200),
            after: Some("10000".into()),
            ..SearchRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused:?}");

    let all: Vec<_> = client
        .contacts()
        .search_all(SearchRequest {
            filter_groups: vec![FilterGroup {
                filters: vec![Filter::has_property("email")],
            }],
            properties: vec!["email".into()],
            ..SearchRequest::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 10_450);
    let ids: HashSet<_> = all.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids.len(), 10_450, "no record twice");
    let numeric: Vec<u64> = all.iter().map(|o| o.id.parse().unwrap()).collect();
    assert!(numeric.windows(2).all(|w| w[0] < w[1]), "ascending ids");
}
