//! Integration tests for the HTTP API: the real router on an ephemeral port, over
//! real HTTP, once per storage backend (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used)]

mod api_attribute_values;
mod api_attributes;
mod api_auth;
mod api_contract;
mod api_customers;
mod api_tickets;
mod automap_api;
mod batch_support;
mod batch_sync;
mod browser_support;
mod console_auth;
mod console_batch;
mod console_browser;
mod console_browser_panels;
mod console_customers;
mod console_history;
mod console_jobs;
mod console_mappings;
mod console_support;
mod console_webhooks;
mod crm_context;
mod harness;
mod oauth_connect;
mod service_limits;
mod sync_attributes;
mod sync_connect;
mod sync_flows;
mod sync_key_rotation;
mod sync_oauth;
mod sync_phone;
mod sync_props;
mod sync_queue;
mod webhook_abuse;
mod webhook_intake;
mod webhook_sandbox;
mod webhook_settings;
mod webhook_support;
