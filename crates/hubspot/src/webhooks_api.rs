//! The webhooks v3 subscriptions API of a developer app
//! (`/webhooks/v3/{appId}/subscriptions`). It is authenticated with the developer
//! account's API key in `hapikey`, not with a portal token, and does not draw from
//! any portal's rate budget.

use reqwest::Method;
use secrecy::SecretString;

use crate::batch::BatchOutcome;
use crate::client::{Call, CallAuth, HubspotClient};
use crate::error::{HubspotError, Result};
use crate::models::{BatchResponse, ResultsOnly, Subscription, SubscriptionCreate};
use crate::retry::RetryPolicy;

/// Subscriptions of one app.
pub struct WebhooksApi<'a> {
    client: &'a HubspotClient,
    app_id: String,
    hapikey: SecretString,
}

impl<'a> WebhooksApi<'a> {
    pub(crate) fn new(client: &'a HubspotClient, app_id: u64, hapikey: SecretString) -> Self {
        Self {
            client,
            app_id: app_id.to_string(),
            hapikey,
        }
    }

    fn call(&self, method: Method, endpoint: &'static str, rest: &[&str]) -> Call {
        let mut segments = vec!["webhooks", "v3", self.app_id.as_str(), "subscriptions"];
        segments.extend_from_slice(rest);
        let mut call = Call::new(method, endpoint, segments);
        call.auth = CallAuth::HapiKey(self.hapikey.clone());
        call
    }

    pub async fn list(&self) -> Result<Vec<Subscription>> {
        let call = self.call(Method::GET, "GET /webhooks/v3/{appId}/subscriptions", &[]);
        let r: ResultsOnly<Subscription> = self.client.json(&call, RetryPolicy::Idempotent).await?;
        Ok(r.results)
    }

    pub async fn get(&self, id: &str) -> Result<Subscription> {
        let call = self.call(
            Method::GET,
            "GET /webhooks/v3/{appId}/subscriptions/{id}",
            &[id],
        );
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// Creates a subscription (inactive unless `active` is set).
    pub async fn create(&self, subscription: &SubscriptionCreate) -> Result<Subscription> {
        let call = self
            .call(Method::POST, "POST /webhooks/v3/{appId}/subscriptions", &[])
            .json(subscription)?;
        self.client.json(&call, RetryPolicy::Create).await
    }

    /// Activates or pauses a subscription.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<Subscription> {
        let call = self
            .call(
                Method::PATCH,
                "PATCH /webhooks/v3/{appId}/subscriptions/{id}",
                &[id],
            )
            .json(&serde_json::json!({ "active": active }))?;
        self.client.json(&call, RetryPolicy::Update).await
    }

    /// Activates or pauses many subscriptions in one call (`batch/update`); ids that
    /// are not numeric are refused before sending.
    pub async fn batch_set_active(
        &self,
        changes: &[(String, bool)],
    ) -> Result<BatchOutcome<Subscription>> {
        let inputs = changes
            .iter()
            .map(|(id, active)| {
                id.parse::<u64>()
                    .map(|id| serde_json::json!({ "id": id, "active": active }))
                    .map_err(|_| HubspotError::InvalidRequest(format!("subscription id {id:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let call = self
            .call(
                Method::POST,
                "POST /webhooks/v3/{appId}/subscriptions/batch/update",
                &["batch", "update"],
            )
            .json(&serde_json::json!({ "inputs": inputs }))?;
        let resp: BatchResponse<Subscription> =
            self.client.json(&call, RetryPolicy::Idempotent).await?;
        Ok(BatchOutcome {
            results: resp.results,
            errors: resp.errors,
            failed_chunks: Vec::new(),
        })
    }

    pub async fn delete(&self, id: &str) -> Result<()> {
        let call = self.call(
            Method::DELETE,
            "DELETE /webhooks/v3/{appId}/subscriptions/{id}",
            &[id],
        );
        self.client.execute(&call, RetryPolicy::Idempotent).await?;
        Ok(())
    }
}
