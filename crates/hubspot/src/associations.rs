//! Associations between records (CRM v4): the associated ids of one record (all
//! pages), batch reads for many records, and creating the default association.

use reqwest::Method;

use crate::batch::{BatchOutcome, ChunkFailure, BATCH_MAX};
use crate::client::{Call, HubspotClient};
use crate::error::Result;
use crate::models::{
    AssociatedObject, AssociationBatchReadInput, AssociationBatchResult, BatchInput, BatchResponse,
    ObjectType, Page,
};
use crate::retry::RetryPolicy;

/// HubSpot's cap on ids per v4 association batch read (object batches take 100).
pub const ASSOCIATION_BATCH_MAX: usize = 1000;

/// The association endpoints.
#[derive(Clone, Copy)]
pub struct Associations<'a> {
    client: &'a HubspotClient,
}

/// `crm/v4/objects/{from}/{id}/associations/` followed by `rest`.
fn object_associations<'s>(from: ObjectType, id: &'s str, rest: &[&'s str]) -> Vec<&'s str> {
    let mut segments = vec!["crm", "v4", "objects", from.as_str(), id, "associations"];
    segments.extend_from_slice(rest);
    segments
}

impl<'a> Associations<'a> {
    pub(crate) fn new(client: &'a HubspotClient) -> Self {
        Self { client }
    }

    /// Every record of type `to` associated with `from`/`id`
    /// (`GET /crm/v4/objects/{from}/{id}/associations/{to}`, all pages).
    pub async fn list(
        &self,
        from: ObjectType,
        id: &str,
        to: ObjectType,
    ) -> Result<Vec<AssociatedObject>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut call = Call::new(
                Method::GET,
                "GET /crm/v4/objects/{from}/{id}/associations/{to}",
                object_associations(from, id, &[to.as_str()]),
            )
            .query("limit", "500");
            if let Some(a) = &after {
                call = call.query("after", a.clone());
            }
            let page: Page<AssociatedObject> =
                self.client.json(&call, RetryPolicy::Idempotent).await?;
            after = page.next_after().map(str::to_string);
            all.extend(page.results);
            if after.is_none() {
                return Ok(all);
            }
        }
    }

    /// Companies of a contact.
    pub async fn contact_companies(&self, contact_id: &str) -> Result<Vec<AssociatedObject>> {
        self.list(ObjectType::Contacts, contact_id, ObjectType::Companies)
            .await
    }

    /// Deals of a contact.
    pub async fn contact_deals(&self, contact_id: &str) -> Result<Vec<AssociatedObject>> {
        self.list(ObjectType::Contacts, contact_id, ObjectType::Deals)
            .await
    }

    /// Associations of many records at once
    /// (`POST /crm/v4/associations/{from}/{to}/batch/read`, chunked by 100).
    pub async fn batch_read(
        &self,
        from: ObjectType,
        to: ObjectType,
        ids: &[String],
    ) -> Result<BatchOutcome<AssociationBatchResult>> {
        let mut out = BatchOutcome::default();
        for chunk in ids.chunks(BATCH_MAX) {
            let call = batch_read_call(from, to).json(&BatchInput {
                inputs: chunk
                    .iter()
                    .map(|id| AssociationBatchReadInput {
                        id: id.clone(),
                        after: None,
                    })
                    .collect(),
            })?;
            match self
                .client
                .json::<BatchResponse<AssociationBatchResult>>(&call, RetryPolicy::Idempotent)
                .await
            {
                Ok(resp) => {
                    out.results.extend(resp.results);
                    out.errors.extend(resp.errors);
                }
                Err(e) if e.needs_reconnection() || e.is_unauthorized() => return Err(e),
                Err(error) => out.failed_chunks.push(ChunkFailure {
                    ids: chunk.to_vec(),
                    error,
                }),
            }
        }
        Ok(out)
    }

    /// Every association of many records, keyed by source id
    /// (`POST /crm/v4/associations/{from}/{to}/batch/read`, up to 1,000 ids per
    /// call as HubSpot allows, then the next page of each source that has one).
    /// Sources without associations are absent. A failed call fails the whole read:
    /// a context refresh would rather keep the stored context than drop half of it.
    pub async fn batch_read_all(
        &self,
        from: ObjectType,
        to: ObjectType,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<AssociatedObject>>> {
        let mut out: std::collections::HashMap<String, Vec<AssociatedObject>> =
            std::collections::HashMap::new();
        let mut pending: Vec<AssociationBatchReadInput> = ids
            .iter()
            .map(|id| AssociationBatchReadInput {
                id: id.clone(),
                after: None,
            })
            .collect();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for chunk in pending.chunks(ASSOCIATION_BATCH_MAX) {
                let call = batch_read_call(from, to).json(&BatchInput {
                    inputs: chunk.to_vec(),
                })?;
                let resp: BatchResponse<AssociationBatchResult> =
                    self.client.json(&call, RetryPolicy::Idempotent).await?;
                for r in resp.results {
                    if let Some(after) = r
                        .paging
                        .as_ref()
                        .and_then(|p| p.next.as_ref())
                        .map(|n| n.after.clone())
                    {
                        next.push(AssociationBatchReadInput {
                            id: r.from.id.clone(),
                            after: Some(after),
                        });
                    }
                    out.entry(r.from.id).or_default().extend(r.to);
                }
            }
            pending = next;
        }
        Ok(out)
    }

    /// Creates the default (unlabelled) association
    /// (`PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`).
    pub async fn associate_default(
        &self,
        from: ObjectType,
        id: &str,
        to: ObjectType,
        to_id: &str,
    ) -> Result<()> {
        let call = Call::new(
            Method::PUT,
            "PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}",
            object_associations(from, id, &["default", to.as_str(), to_id]),
        );
        // Idempotent: associating twice leaves one association.
        self.client.execute(&call, RetryPolicy::Idempotent).await?;
        Ok(())
    }
}

/// `POST /crm/v4/associations/{from}/{to}/batch/read`, before its body.
fn batch_read_call(from: ObjectType, to: ObjectType) -> Call {
    Call::new(
        Method::POST,
        "POST /crm/v4/associations/{from}/{to}/batch/read",
        [
            "crm",
            "v4",
            "associations",
            from.as_str(),
            to.as_str(),
            "batch",
            "read",
        ],
    )
}
