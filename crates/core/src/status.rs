//! What a customer's sync looks like from outside: its status, the direction of an
//! attempt and what triggered it. Stored as text (see `text_enum`).

use crate::text_enum::text_enum;

text_enum! {
    /// A customer's sync status, as `GET /api/customers/{id}/crm` shows it.
    pub enum SyncStatus {
        /// A job is queued or running for this customer.
        Pending => "pending",
        Synced => "synced",
        /// The last attempt failed; the history holds the reason.
        Failed => "failed",
        /// The last reconcile resolved a conflict; both values are in the history.
        Conflict => "conflict",
        /// No HubSpot contact is linked (never synced, or the contact was deleted).
        NotLinked => "not_linked",
    }
}

text_enum! {
    /// Which way an attempt wrote.
    pub enum SyncDirection {
        ToCrm => "to_crm",
        FromCrm => "from_crm",
        Both => "both",
        /// Nothing needed writing.
        None => "none",
    }
}

impl SyncDirection {
    /// The direction of an attempt that wrote to HubSpot and/or to Keva.
    pub fn of(wrote_crm: bool, wrote_keva: bool) -> Self {
        match (wrote_crm, wrote_keva) {
            (true, true) => SyncDirection::Both,
            (true, false) => SyncDirection::ToCrm,
            (false, true) => SyncDirection::FromCrm,
            (false, false) => SyncDirection::None,
        }
    }
}

text_enum! {
    /// What caused a sync attempt.
    pub enum Trigger {
        /// A ticket arrived (possibly from an unknown email).
        Ticket => "ticket",
        /// A customer was edited through the API.
        ProfileUpdate => "profile_update",
        /// HubSpot told us a contact changed.
        Webhook => "webhook",
        /// "Sync Now".
        Manual => "manual",
        Batch => "batch",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings() {
        assert_eq!(SyncStatus::NotLinked.as_str(), "not_linked");
        assert_eq!(
            serde_json::to_string(&Trigger::ProfileUpdate).expect("serialize"),
            "\"profile_update\""
        );
        assert_eq!(
            SyncDirection::parse("from_crm"),
            Some(SyncDirection::FromCrm)
        );
        assert_eq!(SyncStatus::parse("unknown"), None);
        for s in SyncStatus::ALL {
            assert_eq!(SyncStatus::parse(s.as_str()), Some(*s));
        }
    }

    #[test]
    fn direction_of_writes() {
        assert_eq!(SyncDirection::of(true, true), SyncDirection::Both);
        assert_eq!(SyncDirection::of(true, false), SyncDirection::ToCrm);
        assert_eq!(SyncDirection::of(false, true), SyncDirection::FromCrm);
        assert_eq!(SyncDirection::of(false, false), SyncDirection::None);
    }
}
