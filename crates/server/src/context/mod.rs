//! B2B context from HubSpot (`docs/crm-context.md`): each linked customer's primary
//! company and its deals, read with HubSpot's batch APIs, stored once per record per
//! connector, and shown with status, priority and an AI context line.
//!
//! - `refresh.rs`: reading contexts for many contacts at once (live syncs pass one,
//!   batch runs up to a thousand) and the deal pipelines cache.
//! - `view.rs`: a stored context as the API shows it, labels resolved.
//! - `events.rs`: company and deal webhooks (property change, deletion, merge,
//!   association change) turned into record updates and context refreshes.
//! - `settings.rs`: whether a connector reads context and its status rules.
//!
//! Context is off until an admin enables it per connector: it needs the companies
//! and deals read scopes, which connectors made before it may not have granted, and
//! it costs HubSpot calls that a portal's owner should opt into.

pub mod events;
pub mod refresh;
pub mod settings;
pub mod view;

pub use refresh::{refresh_after_sync, refresh_contexts};
pub use view::{context_view, ContextView};
