//! The typed HubSpot client: the only way the rest of Keva Sync talks to HubSpot.
//!
//! Also home of HubSpot's request-signature algorithms (`signature`), which the
//! webhook receiver verifies and the sandbox uses to sign what it delivers.

pub mod signature;
