//! Single-record CRM endpoints (`/crm/v3/objects/{type}`) for contacts, companies and
//! deals: get (by id or by email), create, update, archive, and list with paging.
//!
//! Creating a contact is made safe to retry: after an ambiguous failure (5xx, timeout,
//! reset, a 409 without an existing id) the contact is looked up by email — with GET
//! `?idProperty=email`, which is consistent, unlike search — and returned if it is
//! there; only otherwise is the create sent again. So a retry never duplicates.

use std::collections::BTreeMap;

use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use reqwest::Method;

use crate::client::{Call, HubspotClient};
use crate::error::{HubspotError, Result};
use crate::models::{ObjectCreate, ObjectType, Page, SimplePublicObject};
use crate::retry::RetryPolicy;

/// HubSpot's page-size cap for list endpoints.
pub const LIST_PAGE_MAX: u32 = 100;

/// What to read with a record.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Properties to return (HubSpot's defaults when empty).
    pub properties: Vec<String>,
    pub properties_with_history: Vec<String>,
    /// Associated object types to return ids of.
    pub associations: Vec<ObjectType>,
    pub archived: bool,
}

impl ReadOptions {
    pub fn properties<S: Into<String>>(props: impl IntoIterator<Item = S>) -> Self {
        Self {
            properties: props.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// One list request; `after` is the cursor from the previous page.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Page size, at most 100 (`None` = 100).
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub read: ReadOptions,
}

/// The endpoints of one object type.
#[derive(Clone, Copy)]
pub struct Objects<'a> {
    pub(crate) client: &'a HubspotClient,
    pub(crate) object_type: ObjectType,
}

pub(crate) fn with_read_options(call: Call, opts: &ReadOptions) -> Call {
    let assoc: Vec<String> = opts
        .associations
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    let mut call = call
        .query_list("properties", &opts.properties)
        .query_list("propertiesWithHistory", &opts.properties_with_history)
        .query_list("associations", &assoc);
    if opts.archived {
        call = call.query("archived", "true");
    }
    call
}

impl<'a> Objects<'a> {
    pub(crate) fn new(client: &'a HubspotClient, object_type: ObjectType) -> Self {
        Self {
            client,
            object_type,
        }
    }

    pub fn object_type(&self) -> ObjectType {
        self.object_type
    }

    pub(crate) fn path(&self, rest: &[&str]) -> Vec<String> {
        let mut p = vec![
            "crm".to_string(),
            "v3".into(),
            "objects".into(),
            self.object_type.as_str().into(),
        ];
        p.extend(rest.iter().map(|s| s.to_string()));
        p
    }

    fn require_id(id: &str) -> Result<()> {
        if id.trim().is_empty() {
            Err(HubspotError::InvalidRequest("empty record id".into()))
        } else {
            Ok(())
        }
    }

    /// `GET /crm/v3/objects/{type}/{id}`.
    pub async fn get(&self, id: &str, opts: &ReadOptions) -> Result<SimplePublicObject> {
        Self::require_id(id)?;
        let call = Call::new(
            Method::GET,
            "GET /crm/v3/objects/{type}/{id}",
            self.path(&[id]),
        );
        let call = with_read_options(call, opts);
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// `GET /crm/v3/objects/{type}/{value}?idProperty={property}` (a unique property).
    pub async fn get_by_property(
        &self,
        value: &str,
        id_property: &str,
        opts: &ReadOptions,
    ) -> Result<SimplePublicObject> {
        Self::require_id(value)?;
        let call = Call::new(
            Method::GET,
            "GET /crm/v3/objects/{type}/{id}?idProperty",
            self.path(&[value]),
        )
        .query("idProperty", id_property);
        let call = with_read_options(call, opts);
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// A contact by email (`idProperty=email`); 404 when there is none.
    pub async fn get_by_email(
        &self,
        email: &str,
        opts: &ReadOptions,
    ) -> Result<SimplePublicObject> {
        self.get_by_property(email.trim(), "email", opts).await
    }

    /// Like `get_by_email`, with "not found" as `None`.
    pub async fn find_by_email(
        &self,
        email: &str,
        opts: &ReadOptions,
    ) -> Result<Option<SimplePublicObject>> {
        match self.get_by_email(email, opts).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /crm/v3/objects/{type}` → 201. Contacts with an email are never
    /// duplicated by a retry (see the module comment). Other creates are not repeated
    /// after an ambiguous failure: the error goes back to the caller.
    #[tracing::instrument(level = "debug", skip_all, fields(object_type = %self.object_type))]
    pub async fn create(&self, input: &ObjectCreate) -> Result<SimplePublicObject> {
        let call =
            Call::new(Method::POST, "POST /crm/v3/objects/{type}", self.path(&[])).json(input)?;
        let email = match (self.object_type, input.email()) {
            (ObjectType::Contacts, Some(e)) if !e.trim().is_empty() => e.trim().to_string(),
            _ => return self.client.json(&call, RetryPolicy::Create).await,
        };
        let mut delays = self.client.retry_config().delays();
        let mut check_first = false;
        loop {
            if check_first {
                match self.find_by_email(&email, &ReadOptions::default()).await {
                    Ok(Some(found)) => {
                        tracing::info!(
                            id = %found.id,
                            "create had failed ambiguously; the contact exists, returning it"
                        );
                        return Ok(found);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
            }
            let err = match self.client.json(&call, RetryPolicy::Create).await {
                Ok(created) => return Ok(created),
                Err(e) => e,
            };
            if check_first {
                // The earlier, ambiguous attempt may have landed after our lookup (a
                // timeout while HubSpot was still working): the contact with this
                // email exists, which is what the lookup would have returned.
                if let Some(existing) = err.existing_id() {
                    return self.get(&existing, &ReadOptions::default()).await;
                }
            }
            let unclear = err.is_ambiguous() || (err.is_conflict() && err.existing_id().is_none());
            match (unclear, delays.next()) {
                (true, Some(wait)) => {
                    metrics::counter!("hubspot_retries_total", "endpoint" => "POST /crm/v3/objects/{type}")
                        .increment(1);
                    tracing::warn!(
                        correlation_id = err.correlation_id().unwrap_or("-"),
                        status = err.status(),
                        error = %err,
                        wait_ms = wait.as_millis() as u64,
                        "contact create failed ambiguously; checking by email before retrying"
                    );
                    tokio::time::sleep(wait).await;
                    check_first = true;
                }
                _ => return Err(err),
            }
        }
    }

    /// `PATCH /crm/v3/objects/{type}/{id}`: the given values overwrite; "" clears.
    pub async fn update(
        &self,
        id: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<SimplePublicObject> {
        Self::require_id(id)?;
        let call = Call::new(
            Method::PATCH,
            "PATCH /crm/v3/objects/{type}/{id}",
            self.path(&[id]),
        )
        .json(&serde_json::json!({ "properties": properties }))?;
        self.client.json(&call, RetryPolicy::Update).await
    }

    /// `PATCH …/{email}?idProperty=email`.
    pub async fn update_by_email(
        &self,
        email: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<SimplePublicObject> {
        Self::require_id(email)?;
        let call = Call::new(
            Method::PATCH,
            "PATCH /crm/v3/objects/{type}/{id}?idProperty",
            self.path(&[email.trim()]),
        )
        .query("idProperty", "email")
        .json(&serde_json::json!({ "properties": properties }))?;
        self.client.json(&call, RetryPolicy::Update).await
    }

    /// `DELETE /crm/v3/objects/{type}/{id}` → 204 (restorable for 90 days).
    pub async fn archive(&self, id: &str) -> Result<()> {
        Self::require_id(id)?;
        let call = Call::new(
            Method::DELETE,
            "DELETE /crm/v3/objects/{type}/{id}",
            self.path(&[id]),
        );
        self.client.execute(&call, RetryPolicy::Idempotent).await?;
        Ok(())
    }

    /// One page of `GET /crm/v3/objects/{type}`.
    pub async fn list_page(&self, opts: &ListOptions) -> Result<Page<SimplePublicObject>> {
        let limit = opts.limit.unwrap_or(LIST_PAGE_MAX).clamp(1, LIST_PAGE_MAX);
        let mut call = Call::new(Method::GET, "GET /crm/v3/objects/{type}", self.path(&[]))
            .query("limit", limit.to_string());
        if let Some(after) = &opts.after {
            call = call.query("after", after.clone());
        }
        let call = with_read_options(call, &opts.read);
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// Every record, page after page, starting at `opts.after`.
    pub fn list_all(
        &self,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<SimplePublicObject>> + Send + 'static {
        let client = self.client.clone();
        let object_type = self.object_type;
        stream::try_unfold(Some(opts), move |state| {
            let client = client.clone();
            async move {
                let Some(opts) = state else {
                    return Ok::<_, HubspotError>(None);
                };
                let page = client.objects(object_type).list_page(&opts).await?;
                let next = page.next_after().map(|after| ListOptions {
                    after: Some(after.to_string()),
                    ..opts.clone()
                });
                Ok(Some((page.results, next)))
            }
        })
        .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }
}
