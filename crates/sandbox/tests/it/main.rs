//! Integration tests of the sandbox's data plane over real HTTP: objects, batch,
//! search, properties, associations, admin endpoints, and the conformance run with
//! HubSpot's official Python client.
#![allow(clippy::unwrap_used)]

mod account;
mod admin;
mod associations;
mod batch;
mod common;
mod conformance;
mod objects;
mod pipelines;
mod properties;
mod search;
// Control plane (auth, OAuth, rate limits, faults, stats, webhooks).
mod control_auth;
mod control_faults;
mod control_limits;
mod control_oauth;
mod control_support;
mod control_webhooks;
