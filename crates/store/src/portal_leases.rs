//! Portal leases: which `serve` process holds a HubSpot portal's rate budget, and
//! the live processes (instances) that share the portals out. All times come
//! from the database clock.

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

pub(crate) const RELEASE_ALL_PORTAL_LEASES: &str = "DELETE FROM portal_leases WHERE owner = $1";

pub(crate) const LIVE_PORTAL_LEASES: &str =
    "SELECT portal_id, owner FROM portal_leases WHERE lease_until > $1 ORDER BY portal_id";

pub(crate) const INSTANCE_HEARTBEAT: &str =
    "INSERT INTO instances (id, heartbeat_until, started_at) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET heartbeat_until = excluded.heartbeat_until";

pub(crate) const LIVE_INSTANCES: &str =
    "SELECT id FROM instances WHERE heartbeat_until > $1 ORDER BY id";

pub(crate) const REMOVE_INSTANCE: &str =
    "DELETE FROM instances WHERE id = $1 OR heartbeat_until <= $2";

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
                let now = self.db_now().await?;
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

            pub async fn release_portal_leases(
                &self,
                owner: &str,
            ) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::portal_leases::RELEASE_ALL_PORTAL_LEASES)
                    .bind(owner)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            pub async fn live_portal_leases(
                &self,
            ) -> Result<Vec<(i64, String)>, $crate::StoreError> {
                let now = self.db_now().await?;
                Ok(
                    sqlx::query_as::<$db, (i64, String)>($crate::portal_leases::LIVE_PORTAL_LEASES)
                        .bind($crate::codec::DbTime(now))
                        .fetch_all(self.reader())
                        .await?,
                )
            }

            pub async fn instance_heartbeat(
                &self,
                id: &str,
                lease: std::time::Duration,
            ) -> Result<Vec<String>, $crate::StoreError> {
                let now = self.db_now().await?;
                sqlx::query::<$db>($crate::portal_leases::INSTANCE_HEARTBEAT)
                    .bind(id)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, lease)))
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await?;
                Ok(
                    sqlx::query_scalar::<$db, String>($crate::portal_leases::LIVE_INSTANCES)
                        .bind($crate::codec::DbTime(now))
                        .fetch_all(self.reader())
                        .await?,
                )
            }

            pub async fn remove_instance(&self, id: &str) -> Result<(), $crate::StoreError> {
                let now = self.db_now().await?;
                sqlx::query::<$db>($crate::portal_leases::REMOVE_INSTANCE)
                    .bind(id)
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await?;
                Ok(())
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

    /// The database's clock (what every lease is measured against).
    #[tracing::instrument(skip(self))]
    pub async fn database_now(&self) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
        Ok(dispatch!(self.db_now())?)
    }

    /// Gives up every portal `owner` holds (graceful shutdown); how many.
    #[tracing::instrument(skip(self))]
    pub async fn release_portal_leases(&self, owner: &str) -> Result<u64, StoreError> {
        dispatch!(self.release_portal_leases(owner))
    }

    /// `(portal_id, owner)` of every unexpired portal lease, by portal.
    #[tracing::instrument(skip(self))]
    pub async fn live_portal_leases(&self) -> Result<Vec<(i64, String)>, StoreError> {
        dispatch!(self.live_portal_leases())
    }

    /// Marks instance `id` alive until `lease` from now and returns the ids of
    /// every live instance (itself included), sorted.
    #[tracing::instrument(skip(self))]
    pub async fn instance_heartbeat(
        &self,
        id: &str,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self.instance_heartbeat(id, lease))
    }

    /// Removes instance `id` (shutdown) and any instance whose heartbeat ran out.
    #[tracing::instrument(skip(self))]
    pub async fn remove_instance(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self.remove_instance(id))
    }
}
