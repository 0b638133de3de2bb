//! Integration tests of the HubSpot client against a real in-process sandbox over
//! HTTP (one binary; one module per endpoint family).
#![allow(clippy::unwrap_used)]

mod ambiguous;
mod batch;
mod errors;
mod faults;
mod helpers;
mod limiter;
mod metrics;
mod oauth;
mod objects;
mod properties_associations;
mod retry_after;
mod search;
mod webhooks;
