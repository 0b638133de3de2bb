//! Portal leases: which worker process holds a HubSpot portal's rate budget.

use std::time::Duration;

use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// Takes the lease if it is free, expired or already ours (then extends it).
pub(crate) const ACQUIRE_PORTAL_LEASE: &str =
    "INSERT INTO portal_leases (portal_id, owner, lease_until) VALUES ($1, $2, $3) \
     ON CONFLICT (portal_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
     WHERE portal_leases.owner = excluded.owner OR portal_leases.lease_until <= $4";

pub(crate) const RELEASE_PORTAL_LEASE: &str =
    "DELETE FROM portal_leases WHERE portal_id = $1 AND owner = $2";

// --- records -----------------------------------------------------------------

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn acquire_portal_lease(
                &self,
                portal_id: i64,
                owner: &str,
                lease: std::time::Duration,
            ) -> Result<bool, $crate::StoreError> {
                let now = $crate::codec::now();
                let done = sqlx::query::<$db>($crate::portal_leases::ACQUIRE_PORTAL_LEASE)
                    .bind(portal_id)
                    .bind(owner)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, lease)))
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn release_portal_lease(
                &self,
                portal_id: i64,
                owner: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::portal_leases::RELEASE_PORTAL_LEASE)
                    .bind(portal_id)
                    .bind(owner)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// Holds portal `portal_id`'s HubSpot rate budget for `owner` (a worker process
    /// id) until `lease` from now: `true` if it was free, expired or already
    /// `owner`'s (then extended), `false` while another owner's lease runs. Call
    /// again before it runs out to keep it.
    #[tracing::instrument(skip(self))]
    pub async fn acquire_portal_lease(
        &self,
        portal_id: i64,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self.acquire_portal_lease(portal_id, owner, lease))
    }

    /// Gives the portal up; `false` if `owner` did not hold it.
    #[tracing::instrument(skip(self))]
    pub async fn release_portal_lease(
        &self,
        portal_id: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self.release_portal_lease(portal_id, owner))
    }
}
