//! Keva Sync's domain: the values the product reasons about (emails, customers,
//! names, field mappings, the sync plan) and the pure rules that decide what to write.
//!
//! This crate owns no I/O: no database, no network, no clock. Everything it decides
//! is a function of its arguments, which is what lets the sync rules be tested
//! exhaustively. The store, the HubSpot client and the server depend on it, never
//! the other way round.

pub mod customer;
pub mod email;

pub use customer::{Customer, CustomerPatch, KevaField};
pub use email::{Email, EmailError};
