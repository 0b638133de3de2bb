//! The typed HubSpot client: the only way the rest of Keva Sync talks to HubSpot.
//!
//! `HubspotClient` serves contacts, companies and deals with one code path
//! (`client.objects(ObjectType::…)`): single-record calls, paging, batch, search
//! (including past the 10,000 cap), properties, associations, OAuth and the webhooks
//! subscriptions API. Every request goes through a per-portal rate limiter, retries
//! with backoff, OAuth refresh, and maps HubSpot's error bodies into `HubspotError`.
//! It must not hold sync logic: it answers "what did HubSpot say", never "what to do".
//!
//! Also home of HubSpot's request-signature algorithms (`signature`), which the
//! webhook receiver verifies and the sandbox uses to sign what it delivers.

pub mod associations;
pub mod auth;
pub mod batch;
pub mod client;
pub mod error;
pub mod models;
pub mod oauth;
pub mod objects;
pub mod pipelines;
pub mod properties;
pub mod ratelimit;
pub mod retry;
pub mod search;
pub mod signature;
pub mod webhook;
pub mod webhooks_api;

pub use auth::{AsyncRefreshHook, Credentials, OAuthCredentials, RefreshHook, TokenSet};
pub use batch::{BatchOutcome, BatchReadOptions, ChunkFailure};
pub use client::{ClientBuilder, HubspotClient, HUBSPOT_API_URL};
pub use error::{HubspotError, HubspotErrorBody};
pub use models::ObjectType;
pub use objects::{ListOptions, ReadOptions};
pub use ratelimit::{DailyBudget, Priority, RateLimitConfig, RateLimiters};
pub use retry::RetryConfig;
