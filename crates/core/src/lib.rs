//! Keva Sync's domain: the values the product reasons about (emails, customers,
//! names, field mappings, the sync plan) and the pure rules that decide what to write.
//!
//! This crate owns no I/O: no database, no network, no clock. Everything it decides
//! is a function of its arguments, which is what lets the sync rules be tested
//! exhaustively. The store, the HubSpot client and the server depend on it, never
//! the other way round.
//!
//! Where things are:
//! - [`email`], [`customer`]: the Keva side's values; [`attribute`] the typed
//!   values of custom attributes, [`value_format`] their HubSpot formats.
//! - [`name`]: splitting "Mary Jane Watson" into firstname/lastname and back.
//! - [`mapping`]: field mappings, directions, defaults and the `to_crm` /
//!   `from_crm` conversions; [`transform`] the value transforms; [`validate`] the
//!   checks against a portal's property list before mappings are saved.
//! - [`automap`]: proposing mappings from a portal's property list.
//! - [`reconcile`]: the three-way merge that turns both sides and the link's bases
//!   into a [`Plan`]; [`conflict`] holds the policies, [`plan`] the result.
//! - [`preview`]: the dry run of a customer's mappings (test-mapping).
//! - [`status`], [`job`]: sync statuses, triggers, job states and the retry schedule.

pub mod attribute;
pub mod automap;
pub mod conflict;
pub mod context;
pub mod customer;
pub mod email;
mod intern;
pub mod job;
pub mod mapping;
pub mod name;
pub mod plan;
pub mod preview;
pub mod reconcile;
pub mod status;
mod text_enum;
pub mod transform;
pub mod validate;
pub mod value_format;

pub use attribute::{AttributeChanges, AttributeError, AttributeSpec, AttributeValues};
pub use automap::{propose_mappings, MappingProposal, DEFAULT_CONFIDENCE_THRESHOLD};
pub use conflict::{resolve, Conflict, ConflictPolicy, Contender, Resolution, Side};
pub use customer::{AttributeKey, Customer, CustomerPatch, FieldName, KevaField};
pub use email::{Email, EmailError};
pub use intern::{interned_count, is_interned};
pub use job::{next_delay, JobState, RetryDecision, RetryPolicy};
pub use mapping::{
    default_contact_mappings, from_crm, to_crm, Direction, FieldMapping, HubspotValues,
    MappingInput, ObjectKind,
};
pub use name::NameParts;
pub use plan::{Bases, FieldChange, Plan, Warning, WarningCode};
pub use preview::{preview, MappingPreview};
pub use reconcile::{keva_values, reconcile, ReconcileInput, Stamped};
pub use status::{SyncDirection, SyncStatus, Trigger};
pub use text_enum::UnknownVariant;
pub use transform::{known_region, normalize_phone, phone_e164, Transform};
pub use validate::{
    closest_property, mapping_limits, missing_properties, validate_mappings, MappingIssue,
    MappingIssueKind, PropertyChoice, PropertyInfo,
};
