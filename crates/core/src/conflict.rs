//! Conflicts: what happens when both sides changed a field since they last agreed.
//!
//! The connector's [`ConflictPolicy`] picks the winner; [`resolve`] then applies
//! the one rule that overrides every policy: an empty value never silently
//! overwrites a non-empty one, unless the emptying is provably the newer change
//! (both timestamps known, the empty side's strictly later). Every conflict is
//! recorded with both values, both timestamps, the winner and why it won.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::KevaField;
use crate::mapping::Direction;
use crate::text_enum::text_enum;

text_enum! {
    /// A connector's rule for fields changed on both sides.
    #[derive(Default)]
    pub enum ConflictPolicy {
        /// The most recent change wins (Keva's per-field `updated_at` against
        /// HubSpot's per-property timestamp).
        #[default]
        NewestWins => "newest_wins",
        KevaWins => "keva_wins",
        HubspotWins => "hubspot_wins",
    }
}

text_enum! {
    /// One side of a link.
    pub enum Side {
        Keva => "keva",
        Hubspot => "hubspot",
    }
}

text_enum! {
    /// Why the winner of a conflict won.
    pub enum Resolution {
        /// `newest_wins` with both timestamps known and different.
        NewerChange => "newer_change",
        /// `newest_wins` with a timestamp missing or both equal: the side the
        /// mapping's direction reads from wins (HubSpot for bidirectional and
        /// from-CRM fields, Keva for to-CRM fields), as on a first link.
        TieFallback => "tie_fallback",
        KevaWinsPolicy => "keva_wins",
        HubspotWinsPolicy => "hubspot_wins",
        /// The policy's winner was empty and not provably newer, so the non-empty
        /// value was kept.
        EmptyNeverOverwrites => "empty_never_overwrites",
        /// First link (no agreed values yet), both sides holding different values.
        FirstLink => "first_link",
    }
}

/// One side's claim in a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contender {
    pub empty: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A field both sides changed (or held differently at first link), as recorded in
/// the sync history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub field: KevaField,
    pub keva_value: Option<String>,
    /// HubSpot's value in Keva's form (names joined, transform applied; `None`
    /// when HubSpot's properties are empty, whatever the mapping's default).
    pub hubspot_value: Option<String>,
    /// HubSpot's raw property values behind `hubspot_value`.
    pub hubspot_properties: BTreeMap<String, Option<String>>,
    pub keva_ts: Option<DateTime<Utc>>,
    pub hubspot_ts: Option<DateTime<Utc>>,
    pub winner: Side,
    pub resolution: Resolution,
}

/// The side a mapping reads from when nothing else decides.
pub fn source_side(direction: Direction) -> Side {
    match direction {
        Direction::ToCrm => Side::Keva,
        Direction::Bidirectional | Direction::FromCrm => Side::Hubspot,
    }
}

/// Picks the winner of a conflict between two changed values.
pub fn resolve(
    policy: ConflictPolicy,
    direction: Direction,
    keva: Contender,
    hubspot: Contender,
) -> (Side, Resolution) {
    let (winner, resolution) = match policy {
        ConflictPolicy::KevaWins => (Side::Keva, Resolution::KevaWinsPolicy),
        ConflictPolicy::HubspotWins => (Side::Hubspot, Resolution::HubspotWinsPolicy),
        ConflictPolicy::NewestWins => match newer(keva.updated_at, hubspot.updated_at) {
            Some(side) => (side, Resolution::NewerChange),
            None => (source_side(direction), Resolution::TieFallback),
        },
    };
    let (win, lose) = match winner {
        Side::Keva => (keva, hubspot),
        Side::Hubspot => (hubspot, keva),
    };
    let emptying_is_newer = match (win.updated_at, lose.updated_at) {
        (Some(w), Some(l)) => w > l,
        _ => false,
    };
    if win.empty && !lose.empty && !emptying_is_newer {
        (other(winner), Resolution::EmptyNeverOverwrites)
    } else {
        (winner, resolution)
    }
}

/// The side with the strictly later timestamp, if both are known.
fn newer(keva: Option<DateTime<Utc>>, hubspot: Option<DateTime<Utc>>) -> Option<Side> {
    match (keva, hubspot) {
        (Some(k), Some(h)) if k > h => Some(Side::Keva),
        (Some(k), Some(h)) if h > k => Some(Side::Hubspot),
        _ => None,
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Keva => Side::Hubspot,
        Side::Hubspot => Side::Keva,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(secs, 0)
    }

    fn c(empty: bool, ts: Option<DateTime<Utc>>) -> Contender {
        Contender {
            empty,
            updated_at: ts,
        }
    }

    const BI: Direction = Direction::Bidirectional;

    #[test]
    fn newest_wins_compares_timestamps() {
        let p = ConflictPolicy::NewestWins;
        assert_eq!(
            resolve(p, BI, c(false, at(20)), c(false, at(10))),
            (Side::Keva, Resolution::NewerChange)
        );
        assert_eq!(
            resolve(p, BI, c(false, at(10)), c(false, at(20))),
            (Side::Hubspot, Resolution::NewerChange)
        );
    }

    #[test]
    fn ties_and_missing_timestamps_fall_back_to_the_source_side() {
        let p = ConflictPolicy::NewestWins;
        for (k, h) in [(at(5), at(5)), (at(5), None), (None, at(5)), (None, None)] {
            assert_eq!(
                resolve(p, BI, c(false, k), c(false, h)),
                (Side::Hubspot, Resolution::TieFallback)
            );
            assert_eq!(
                resolve(p, Direction::ToCrm, c(false, k), c(false, h)),
                (Side::Keva, Resolution::TieFallback)
            );
        }
    }

    #[test]
    fn fixed_policies_ignore_timestamps() {
        assert_eq!(
            resolve(
                ConflictPolicy::KevaWins,
                BI,
                c(false, at(1)),
                c(false, at(9))
            ),
            (Side::Keva, Resolution::KevaWinsPolicy)
        );
        assert_eq!(
            resolve(
                ConflictPolicy::HubspotWins,
                BI,
                c(false, at(9)),
                c(false, at(1))
            ),
            (Side::Hubspot, Resolution::HubspotWinsPolicy)
        );
    }

    #[test]
    fn emptying_wins_only_when_provably_newer() {
        let p = ConflictPolicy::NewestWins;
        assert_eq!(
            resolve(p, BI, c(true, at(20)), c(false, at(10))),
            (Side::Keva, Resolution::NewerChange)
        );
        // Tie fallback would pick HubSpot's empty value: kept non-empty instead.
        assert_eq!(
            resolve(p, BI, c(false, None), c(true, None)),
            (Side::Keva, Resolution::EmptyNeverOverwrites)
        );
        // A fixed policy does not let an older emptying wipe a newer value.
        assert_eq!(
            resolve(
                ConflictPolicy::KevaWins,
                BI,
                c(true, at(5)),
                c(false, at(10))
            ),
            (Side::Hubspot, Resolution::EmptyNeverOverwrites)
        );
        assert_eq!(
            resolve(
                ConflictPolicy::KevaWins,
                BI,
                c(true, at(15)),
                c(false, at(10))
            ),
            (Side::Keva, Resolution::KevaWinsPolicy)
        );
    }

    #[test]
    fn policy_text() {
        assert_eq!(ConflictPolicy::default(), ConflictPolicy::NewestWins);
        assert_eq!(
            ConflictPolicy::parse("hubspot_wins"),
            Some(ConflictPolicy::HubspotWins)
        );
    }
}
