//! `HubspotClient`: configuration, and the one path every request takes —
//! rate-limit slot → access token → HTTP → rate-limit headers → error mapping →
//! (once) refresh on 401 → retries with backoff → metrics.
//!
//! The endpoint families (objects, batch, search, properties, associations, webhooks
//! API) live in their own modules and only describe requests (`Call`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::auth::{
    authorization_value, from_sync_hook, AsyncRefreshHook, Auth, Credentials, RefreshHook,
};
use crate::error::{HubspotError, Result};
use crate::models::{AccessTokenInfo, AccountDetails, ObjectType};
use crate::oauth::TokenEndpoint;
use crate::ratelimit::{
    Permit, PortalLimiter, Priority, RateLimitConfig, RateLimiters, RateReport,
};
use crate::retry::{with_retries, RetryConfig, RetryPolicy};

/// HubSpot's production API.
pub const HUBSPOT_API_URL: &str = "https://api.hubapi.com";

/// A HubSpot API client for one portal. Cheap to clone: clones share the connection
/// pool, the token (and its refresh) and the portal's rate budget.
#[derive(Clone)]
pub struct HubspotClient {
    inner: Arc<Inner>,
    priority: Priority,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    limiter: Arc<PortalLimiter>,
    retry: RetryConfig,
    tokens: TokenEndpoint,
}

impl std::fmt::Debug for HubspotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubspotClient")
            .field("base", &self.inner.base.as_str())
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

/// Builds a `HubspotClient`.
pub struct ClientBuilder {
    base_url: String,
    credentials: Credentials,
    timeout: Duration,
    connect_timeout: Duration,
    limiters: Option<Arc<RateLimiters>>,
    portal_key: Option<String>,
    rate_limit: RateLimitConfig,
    retry: RetryConfig,
    on_refresh: Option<AsyncRefreshHook>,
}

impl ClientBuilder {
    /// `https://api.hubapi.com` in production, the sandbox's URL in tests.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The portal this client talks to: the key of its rate budget.
    pub fn portal_id(mut self, portal: impl ToString) -> Self {
        self.portal_key = Some(portal.to_string());
        self
    }

    /// Share budgets with other clients of the same process (one per portal).
    pub fn rate_limiters(mut self, limiters: Arc<RateLimiters>) -> Self {
        self.limiters = Some(limiters);
        self
    }

    /// Budget used when no shared `rate_limiters` is given.
    pub fn rate_limit(mut self, config: RateLimitConfig) -> Self {
        self.rate_limit = config;
        self
    }

    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Called with each refreshed token set (persist it, encrypted).
    pub fn on_refresh(mut self, hook: RefreshHook) -> Self {
        self.on_refresh = Some(from_sync_hook(hook));
        self
    }

    /// Awaited with each refreshed token set before it is used.
    pub fn on_refresh_async(mut self, hook: AsyncRefreshHook) -> Self {
        self.on_refresh = Some(hook);
        self
    }

    pub fn build(self) -> Result<HubspotClient> {
        let base = Url::parse(&self.base_url)
            .map_err(|e| HubspotError::InvalidRequest(format!("base URL: {e}")))?;
        if base.cannot_be_a_base() {
            return Err(HubspotError::InvalidRequest(
                "base URL cannot be a base".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("keva-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HubspotError::InvalidRequest(format!("http client: {e}")))?;
        let tokens = TokenEndpoint::new(base.clone(), self.timeout)?;
        let limiters = self
            .limiters
            .unwrap_or_else(|| RateLimiters::new(self.rate_limit.clone()));
        let limiter = limiters.for_portal(self.portal_key.as_deref().unwrap_or("default"));
        Ok(HubspotClient {
            inner: Arc::new(Inner {
                http,
                auth: Auth::new(self.credentials, tokens.clone(), self.on_refresh),
                base,
                limiter,
                retry: self.retry,
                tokens,
            }),
            priority: Priority::Interactive,
        })
    }
}

/// How a request authenticates.
pub(crate) enum CallAuth {
    /// The portal's access token (CRM calls): rate-limited per portal.
    Bearer,
    /// A developer API key in `hapikey` (webhooks subscriptions API).
    HapiKey(SecretString),
}

/// One request, described by an endpoint module.
pub(crate) struct Call {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Metric label: the path template, e.g. `GET /crm/v3/objects/{type}/{id}`.
    pub endpoint: &'static str,
    pub search: bool,
    pub auth: CallAuth,
}

impl Call {
    pub fn new<S: Into<String>>(
        method: Method,
        endpoint: &'static str,
        segments: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            method,
            segments: segments.into_iter().map(Into::into).collect(),
            query: Vec::new(),
            body: None,
            endpoint,
            search: false,
            auth: CallAuth::Bearer,
        }
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// Adds `key=a,b,c` unless the list is empty (HubSpot's array form).
    pub fn query_list(self, key: &str, values: &[String]) -> Self {
        if values.is_empty() {
            self
        } else {
            self.query(key, values.join(","))
        }
    }

    pub fn json(mut self, body: &impl Serialize) -> Result<Self> {
        self.body = Some(serde_json::to_vec(body).map_err(|e| {
            HubspotError::InvalidRequest(format!("request body not serialisable: {e}"))
        })?);
        Ok(self)
    }
}

/// A response with a success status.
pub(crate) struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(HubspotError::decode)
    }
}

pub(crate) fn join_segments<S: AsRef<str>>(base: &Url, segments: &[S]) -> Result<Url> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|_| HubspotError::InvalidRequest("base URL cannot be a base".into()))?;
        path.pop_if_empty();
        for s in segments {
            path.push(s.as_ref());
        }
    }
    Ok(url)
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn header_num<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    header_str(headers, name).and_then(|v| v.trim().parse().ok())
}

fn status_label(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        401 => "401",
        404 => "404",
        409 => "409",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl HubspotClient {
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            base_url: HUBSPOT_API_URL.to_string(),
            credentials,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            limiters: None,
            portal_key: None,
            rate_limit: RateLimitConfig::default(),
            retry: RetryConfig::default(),
            on_refresh: None,
        }
    }

    /// A handle whose calls use `priority` against the portal's budget (e.g. `Bulk`
    /// for backfills, leaving the reserved share to interactive syncs).
    pub fn with_priority(&self, priority: Priority) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            priority,
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The portal's rate budget (shared by clones).
    pub fn limiter(&self) -> &Arc<PortalLimiter> {
        &self.inner.limiter
    }

    pub(crate) fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    pub fn objects(&self, object_type: ObjectType) -> crate::objects::Objects<'_> {
        crate::objects::Objects::new(self, object_type)
    }

    pub fn contacts(&self) -> crate::objects::Objects<'_> {
        self.objects(ObjectType::Contacts)
    }

    pub fn companies(&self) -> crate::objects::Objects<'_> {
        self.objects(ObjectType::Companies)
    }

    pub fn deals(&self) -> crate::objects::Objects<'_> {
        self.objects(ObjectType::Deals)
    }

    pub fn properties(&self, object_type: ObjectType) -> crate::properties::Properties<'_> {
        crate::properties::Properties::new(self, object_type)
    }

    pub fn associations(&self) -> crate::associations::Associations<'_> {
        crate::associations::Associations::new(self)
    }

    /// The webhooks subscriptions API of a developer app, authenticated by `hapikey`.
    pub fn webhooks(
        &self,
        app_id: u64,
        developer_api_key: SecretString,
    ) -> crate::webhooks_api::WebhooksApi<'_> {
        crate::webhooks_api::WebhooksApi::new(self, app_id, developer_api_key)
    }

    /// Info on the client's current access token: the portal (hub_id) and scopes.
    pub async fn access_token_info(&self) -> Result<AccessTokenInfo> {
        let bearer = self.inner.auth.bearer().await?;
        self.inner.tokens.access_token_info(&bearer.token).await
    }

    /// `GET /account-info/v3/details`: the portal id, time zone and currency of the
    /// portal the token belongs to (private-app tokens included).
    pub async fn account_details(&self) -> Result<AccountDetails> {
        let call = Call::new(
            Method::GET,
            "GET /account-info/v3/details",
            ["account-info", "v3", "details"],
        );
        self.json(&call, RetryPolicy::Idempotent).await
    }

    /// Sends `call` with retries per `policy` and decodes the JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        call: &Call,
        policy: RetryPolicy,
    ) -> Result<T> {
        self.execute(call, policy).await?.decode()
    }

    /// Sends `call` with retries per `policy`; returns any 2xx response.
    #[tracing::instrument(level = "debug", skip_all, fields(endpoint = call.endpoint))]
    pub(crate) async fn execute(&self, call: &Call, policy: RetryPolicy) -> Result<RawResponse> {
        with_retries(&self.inner.retry, policy, call.endpoint, || {
            self.attempt(call)
        })
        .await
    }

    /// One try: slot, token, HTTP; on a 401 with an OAuth token, one refresh and resend.
    pub(crate) async fn attempt(&self, call: &Call) -> Result<RawResponse> {
        let mut refreshed = false;
        let mut bearer = None;
        loop {
            let permits = match call.auth {
                CallAuth::Bearer => {
                    Some(self.inner.limiter.acquire(call.search, self.priority).await)
                }
                CallAuth::HapiKey(_) => None,
            };
            if bearer.is_none() && matches!(call.auth, CallAuth::Bearer) {
                bearer = Some(self.inner.auth.bearer().await?);
            }
            let url = join_segments(&self.inner.base, &call.segments)?;
            let mut req = self.inner.http.request(call.method.clone(), url);
            if !call.query.is_empty() {
                req = req.query(&call.query);
            }
            match (&call.auth, &bearer) {
                (CallAuth::HapiKey(key), _) => {
                    req = req.query(&[("hapikey", key.expose_secret())]);
                }
                (CallAuth::Bearer, Some(b)) => {
                    req = req.header(
                        reqwest::header::AUTHORIZATION,
                        authorization_value(&b.token),
                    );
                }
                (CallAuth::Bearer, None) => {}
            }
            if let Some(body) = &call.body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let sent = async {
                let resp = req.send().await?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await?.to_vec();
                Ok::<_, HubspotError>((status, headers, body))
            }
            .await;
            let outcome = match &sent {
                Ok((status, _, _)) => status_label(*status),
                Err(HubspotError::Timeout) => "timeout",
                Err(_) => "transport",
            };
            metrics::counter!(
                "hubspot_requests_total",
                "endpoint" => call.endpoint,
                "outcome" => outcome
            )
            .increment(1);
            let (status, headers, body) = sent?;
            self.observe_limits(&headers, permits.as_ref().and_then(|p| p.general()));
            drop(permits);
            if (200..300).contains(&status) {
                return Ok(RawResponse { status, body });
            }
            let retry_after = header_num::<u64>(&headers, "retry-after").map(Duration::from_secs);
            let correlation = header_str(&headers, "x-hubspot-correlation-id");
            let err = HubspotError::from_response(status, &body, retry_after, correlation);
            if let HubspotError::RateLimited { policy, .. } = &err {
                metrics::counter!(
                    "hubspot_rate_limited_total",
                    "endpoint" => call.endpoint,
                    "policy" => policy.clone().unwrap_or_else(|| "unknown".into())
                )
                .increment(1);
            }
            if status == 401 && !refreshed {
                if let Some(b) = &bearer {
                    if let Some(fresh) = self.inner.auth.after_unauthorized(b.generation).await? {
                        bearer = Some(fresh);
                        refreshed = true;
                        continue;
                    }
                }
            }
            return Err(err);
        }
    }

    fn observe_limits(&self, headers: &HeaderMap, permit: Option<&Permit>) {
        let report = RateReport {
            max: header_num::<u32>(headers, "x-hubspot-ratelimit-max"),
            remaining: header_num::<u32>(headers, "x-hubspot-ratelimit-remaining"),
            interval: header_num::<u64>(headers, "x-hubspot-ratelimit-interval-milliseconds")
                .map(Duration::from_millis),
        };
        if report != RateReport::default() {
            self.inner.limiter.general.observe(report, permit);
        }
        let daily = header_num::<u64>(headers, "x-hubspot-ratelimit-daily");
        let daily_left = header_num::<u64>(headers, "x-hubspot-ratelimit-daily-remaining");
        if let (Some(max), Some(remaining)) = (daily, daily_left) {
            self.inner.limiter.observe_daily(max, remaining);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn segments_are_percent_encoded_and_base_path_kept() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let url = join_segments(&base, &["crm", "v3", "a b/c@x.co"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/crm/v3/a%20b%2Fc@x.co"
        );
    }

    #[test]
    fn builder_rejects_bad_base_url() {
        let r =
            HubspotClient::builder(Credentials::PrivateApp(SecretString::from("t".to_string())))
                .base_url("not a url")
                .build();
        assert!(matches!(r, Err(HubspotError::InvalidRequest(_))));
    }
}
