//! CRM search (`POST /crm/v3/objects/{type}/search`) and `search_all`, which reads
//! every match even past HubSpot's 10,000-result paging cap.
//!
//! Past the cap HubSpot answers 400, so `search_all` sorts by `hs_object_id`
//! ascending and, when a slice of 10,000 is used up, starts a new slice with
//! `hs_object_id GT <last id>` added to every filter group (groups are ORed, so the
//! bound must be in each). Search has its own per-second budget (see `ratelimit`).
//! Search is eventually consistent: never use it to de-duplicate right after a write.

use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use reqwest::Method;

use crate::client::Call;
use crate::error::{HubspotError, Result};
use crate::models::{
    Filter, FilterGroup, Operator, SearchRequest, SearchResponse, SimplePublicObject, Sort,
    SortDirection,
};
use crate::objects::Objects;
use crate::retry::RetryPolicy;

/// HubSpot's page-size cap for search.
pub const SEARCH_PAGE_MAX: u32 = 200;
/// Results reachable by paging one query.
pub const SEARCH_RESULT_CAP: u64 = 10_000;

const SLICE_KEY: &str = "hs_object_id";

/// Where `search_all` is.
#[derive(Debug, Clone)]
struct Cursor {
    base: SearchRequest,
    limit: u32,
    /// Lower bound (exclusive) of the current slice.
    above_id: Option<u64>,
    after: Option<String>,
    /// Results read in the current slice: the offset the next `after` would be.
    in_slice: u64,
}

impl Cursor {
    fn request(&self) -> SearchRequest {
        let mut req = self.base.clone();
        req.limit = Some(self.limit);
        req.after = self.after.clone();
        req.sorts = vec![Sort {
            property_name: SLICE_KEY.into(),
            direction: SortDirection::Ascending,
        }];
        if let Some(id) = self.above_id {
            let bound = Filter::new(SLICE_KEY, Operator::Gt, id.to_string());
            if req.filter_groups.is_empty() {
                req.filter_groups.push(FilterGroup::default());
            }
            for g in &mut req.filter_groups {
                g.filters.push(bound.clone());
            }
        }
        req
    }

    /// Moves past a page; `None` when the search is exhausted.
    fn advance(mut self, page: &SearchResponse) -> Result<Option<Self>> {
        let Some(last) = page.results.last() else {
            return Ok::<_, HubspotError>(None);
        };
        let Some(next) = page.next_after() else {
            return Ok(None);
        };
        self.in_slice += page.results.len() as u64;
        if self.in_slice + u64::from(self.limit) > SEARCH_RESULT_CAP {
            let id = last.id.parse::<u64>().map_err(|_| {
                HubspotError::decode(format!("record id {:?} is not numeric", last.id))
            })?;
            self.above_id = Some(id);
            self.after = None;
            self.in_slice = 0;
        } else {
            self.after = Some(next.to_string());
        }
        Ok(Some(self))
    }
}

impl Objects<'_> {
    /// One search request as given (≤ 200 per page, ≤ 10,000 reachable).
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        let mut call = Call::new(
            Method::POST,
            "POST /crm/v3/objects/{type}/search",
            self.path(&["search"]),
        )
        .json(request)?;
        call.search = true;
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// Every record matching `request`, in `hs_object_id` order, however many there
    /// are. `request.sorts` and `after` are replaced; each filter group gets one more
    /// filter (keep groups at ≤ 9 filters).
    pub fn search_all(
        &self,
        request: SearchRequest,
    ) -> impl Stream<Item = Result<SimplePublicObject>> + Send + 'static {
        let client = self.client.clone();
        let object_type = self.object_type;
        let limit = request
            .limit
            .unwrap_or(SEARCH_PAGE_MAX)
            .clamp(1, SEARCH_PAGE_MAX);
        let start = Cursor {
            base: request,
            limit,
            above_id: None,
            after: None,
            in_slice: 0,
        };
        stream::try_unfold(Some(start), move |state| {
            let client = client.clone();
            async move {
                let Some(cursor) = state else {
                    return Ok::<_, HubspotError>(None);
                };
                let page = client
                    .objects(object_type)
                    .search(&cursor.request())
                    .await?;
                let next = cursor.advance(&page)?;
                Ok(Some((page.results, next)))
            }
        })
        .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn page(ids: std::ops::Range<u64>, more: bool) -> SearchResponse {
        serde_json::from_value(serde_json::json!({
            "total": 99999,
            "results": ids.map(|i| serde_json::json!({
                "id": i.to_string(), "properties": {},
                "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
            })).collect::<Vec<_>>(),
            "paging": if more { serde_json::json!({"next": {"after": "x"}}) } else { serde_json::Value::Null },
        }))
        .unwrap()
    }

    #[test]
    fn reslices_on_last_id_before_the_cap() {
        let base = SearchRequest {
            filter_groups: vec![
                FilterGroup {
                    filters: vec![Filter::eq("lifecyclestage", "lead")],
                },
                FilterGroup {
                    filters: vec![Filter::has_property("email")],
                },
            ],
            ..Default::default()
        };
        let mut c = Cursor {
            base,
            limit: 200,
            above_id: None,
            after: None,
            in_slice: 9_600,
        };
        c = c.advance(&page(1..201, true)).unwrap().unwrap();
        assert_eq!(c.in_slice, 9_800);
        assert_eq!(c.after.as_deref(), Some("x"));
        c = c.advance(&page(201..401, true)).unwrap().unwrap();
        assert_eq!(c.above_id, Some(400));
        assert_eq!(c.after, None);
        let req = c.request();
        assert_eq!(req.sorts[0].property_name, "hs_object_id");
        for g in &req.filter_groups {
            let last = g.filters.last().unwrap();
            assert_eq!(last.operator, Operator::Gt);
            assert_eq!(last.value.as_deref(), Some("400"));
        }
        assert!(c.advance(&page(401..420, false)).unwrap().is_none());
    }
}
