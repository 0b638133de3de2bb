//! What the batch adds to the merge path it shares with the engine
//! (`sync/merge.rs`): when a plan computed without HubSpot's timestamps must be
//! re-planned, and what an applied plan counts as in the run's counters.

use keva_core::{Plan, Resolution};

/// Whether a plan computed without HubSpot's per-property timestamps may change
/// once they are known: only a conflict between two changed sides reads them
/// (`newest_wins`, and the "empty never overwrites unless newer" rule of every
/// policy). A first link never does. The batch re-reads just those contacts with
/// history, so its decisions equal the engine's at a fraction of the calls.
pub fn needs_history(plan: &Plan) -> bool {
    plan.conflicts
        .iter()
        .any(|c| c.resolution != Resolution::FirstLink)
}

/// What one customer's applied plan did, for the run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    pub to_crm: bool,
    pub from_crm: bool,
    pub conflict: bool,
}

impl Effect {
    pub fn of(plan: &Plan) -> Self {
        Self {
            to_crm: !plan.to_hubspot.is_empty(),
            from_crm: !plan.to_keva.is_empty(),
            conflict: needs_history(plan),
        }
    }
}
