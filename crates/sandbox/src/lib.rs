//! The Keva Sync sandbox: a local, in-memory, HubSpot-compatible portal server.
//!
//! It speaks HubSpot's public API (CRM v3 objects, batch, search, properties,
//! associations v4, OAuth v1, webhooks v3) with HubSpot's paths, JSON shapes, status
//! codes, error bodies and rate limits, so that code written against it works
//! unchanged against api.hubapi.com. Tests, benchmarks and the quickstart run
//! against it, in-process or as `keva-sync sandbox`.
//!
//! Everything a test needs to steer it lives under `/_sandbox/` (never one of
//! HubSpot's paths): stats, fault injection, webhook settings, seeding, and edits
//! "as a HubSpot user".
//!
//! Layout: the data plane (portals, objects, search, properties, associations) and
//! the control plane (auth and OAuth, rate limits, faults, request stats, webhook
//! delivery) are separate modules; `events::ChangeEvent` is what the first tells the
//! second when a record changes.

pub mod admin;
pub mod api;
pub mod cli;
pub mod consent;
pub mod control;
pub mod error;
pub mod events;
pub mod portal;
pub mod server;
