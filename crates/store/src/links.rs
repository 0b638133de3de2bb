//! Customer ↔ contact links, and the sync commit that writes a customer, its link and a history row in one transaction.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use keva_core::{Bases, Customer, CustomerPatch, KevaField, SyncStatus};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::db::parse;
use crate::history::NewHistory;
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `LinkRow`.
macro_rules! link_columns {
    () => {
        "connector_id, workspace_id, customer_id, hubspot_id, bases, status, status_reason, \
         last_synced_at, updated_at"
    };
}

pub(crate) use link_columns;

pub(crate) const GET_LINK: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM crm_links WHERE connector_id = $1 AND customer_id = $2"
);

pub(crate) const SAMPLE_LINKS: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM crm_links WHERE connector_id = $1 AND hubspot_id IS NOT NULL ORDER BY customer_id LIMIT $2"
);
pub(crate) const LINK_BY_HUBSPOT_ID: &str = concat!(
    "SELECT ",
    link_columns!(),
    " FROM crm_links WHERE connector_id = $1 AND hubspot_id = $2"
);

/// Creates the link (workspace taken from the connector, which must share it with
/// the customer) or changes only its status.
pub(crate) const SET_LINK_STATUS: &str = concat!(
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, status, status_reason, \
     updated_at) SELECT c.id, c.workspace_id, cu.id, $3, $4, $5 \
     FROM hubspot_connectors c JOIN customers cu ON cu.workspace_id = c.workspace_id \
     WHERE c.id = $1 AND cu.id = $2 \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET status = excluded.status, \
     status_reason = excluded.status_reason, updated_at = excluded.updated_at RETURNING ",
    link_columns!()
);

/// Writes a sync's outcome to the link. `last_synced_at` keeps its value when `$8`
/// is NULL.
pub(crate) const UPSERT_LINK: &str = concat!(
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, hubspot_id, bases, status, \
     status_reason, last_synced_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET hubspot_id = excluded.hubspot_id, \
     bases = excluded.bases, status = excluded.status, status_reason = excluded.status_reason, \
     last_synced_at = COALESCE(excluded.last_synced_at, crm_links.last_synced_at), \
     updated_at = excluded.updated_at, pending_bases = NULL RETURNING ",
    link_columns!()
);

/// A refused commit in a batch: keep the contact id (never lose a created contact)
/// and the old bases, record the failure.
pub(crate) const FAIL_LINK: &str = concat!(
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, hubspot_id, bases, status, \
     status_reason, last_synced_at, updated_at) VALUES ($1, $2, $3, $4, NULL, 'failed', $5, NULL, $6) \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET \
     hubspot_id = COALESCE(excluded.hubspot_id, crm_links.hubspot_id), status = 'failed', \
     status_reason = excluded.status_reason, updated_at = excluded.updated_at RETURNING ",
    link_columns!()
);

/// Before a live sync writes HubSpot: the bases of the writes not followed by a
/// commit yet (`$3`, a JSON list, oldest first), on the link, created (status
/// pending, no contact) if absent; nothing else of the link changes.
pub(crate) const SET_WRITE_INTENTS: &str =
    "INSERT INTO crm_links (connector_id, workspace_id, customer_id, pending_bases, status, \
     updated_at) SELECT c.id, c.workspace_id, cu.id, $3, 'pending', $4 \
     FROM hubspot_connectors c JOIN customers cu ON cu.workspace_id = c.workspace_id \
     WHERE c.id = $1 AND cu.id = $2 \
     ON CONFLICT (connector_id, customer_id) DO UPDATE SET pending_bases = excluded.pending_bases";

/// The links of a chunk's customers (an id range) that hold write intents.
pub(crate) const WRITE_INTENTS_IN_RANGE: &str =
    "SELECT customer_id, pending_bases FROM crm_links WHERE connector_id = $1 \
     AND customer_id >= $2 AND customer_id <= $3 AND pending_bases IS NOT NULL";

pub(crate) const GET_WRITE_INTENTS: &str =
    "SELECT pending_bases FROM crm_links WHERE connector_id = $1 AND customer_id = $2";

/// Write intents kept per link while no commit follows (each a write that may
/// have landed): enough for the reruns a few crashes in a row cause.
pub const MAX_WRITE_INTENTS: usize = 8;

pub(crate) const UNLINK_HUBSPOT: &str = concat!(
    "UPDATE crm_links SET hubspot_id = NULL, bases = NULL, pending_bases = NULL, status = $3, \
     status_reason = $4, updated_at = $5 WHERE connector_id = $1 AND hubspot_id = $2 RETURNING ",
    link_columns!()
);

pub(crate) const MOVE_LINK: &str = concat!(
    "UPDATE crm_links SET hubspot_id = $3, pending_bases = NULL, updated_at = $4 \
     WHERE connector_id = $1 AND hubspot_id = $2 RETURNING ",
    link_columns!()
);

// --- records -----------------------------------------------------------------

/// The link between a Keva customer and a HubSpot contact, for one connector.
/// There is at most one per (connector, customer), and a contact is linked to at
/// most one customer per connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmLink {
    pub connector_id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    /// `None` before the first link and after the contact was deleted.
    pub hubspot_id: Option<String>,
    /// The values both sides last agreed on (see `docs/sync-contract.md`); `None` before the first sync.
    pub bases: Option<Bases>,
    pub status: SyncStatus,
    pub status_reason: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// What a sync commit writes to the link, as given: `None` for `hubspot_id` or
/// `bases` clears them (pass the current values to keep them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUpdate {
    pub hubspot_id: Option<String>,
    pub bases: Option<Bases>,
    pub status: SyncStatus,
    pub status_reason: Option<String>,
    /// Becomes `last_synced_at`; `None` keeps the previous value.
    pub synced_at: Option<DateTime<Utc>>,
}

/// Everything one applied plan writes on the Keva side, committed together.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncCommit {
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub customer_id: Uuid,
    /// The Keva side of the plan (`Plan::keva_patch`); `Some("")` clears a field.
    pub customer_patch: Option<CustomerPatch>,
    /// What Keva held, when the plan read it, in the built-in fields the patch
    /// writes. A field that holds something else at commit time was edited
    /// since (the plan raced a Keva edit): the commit leaves the edit in place,
    /// and the edit's own sync (or the next one) sends it to HubSpot.
    pub keva_expected: BTreeMap<KevaField, Option<String>>,
    pub link: LinkUpdate,
    pub history: NewHistory,
}

impl SyncCommit {
    /// The patch without the fields `current` no longer holds as the plan read
    /// them (`keva_expected`).
    pub(crate) fn patch_for(&self, current: &Customer) -> Option<CustomerPatch> {
        let mut patch = self.customer_patch.clone()?;
        let held = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        for (field, expected) in &self.keva_expected {
            let now = current.field(*field);
            if held(now.as_deref()) != held(expected.as_deref()) {
                patch.set(*field, None);
            }
        }
        Some(patch)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    pub connector_id: DbId,
    pub workspace_id: DbId,
    pub customer_id: DbId,
    pub hubspot_id: Option<String>,
    pub bases: Option<Json<Bases>>,
    pub status: String,
    pub status_reason: Option<String>,
    pub last_synced_at: Option<DbTime>,
    pub updated_at: DbTime,
}

impl TryFrom<LinkRow> for CrmLink {
    type Error = sqlx::Error;

    fn try_from(r: LinkRow) -> Result<Self, Self::Error> {
        Ok(CrmLink {
            connector_id: r.connector_id.0,
            workspace_id: r.workspace_id.0,
            customer_id: r.customer_id.0,
            hubspot_id: r.hubspot_id,
            bases: r.bases.map(|b| b.0),
            status: parse("sync status", &r.status, SyncStatus::parse)?,
            status_reason: r.status_reason,
            last_synced_at: r.last_synced_at.map(|t| t.0),
            updated_at: r.updated_at.0,
        })
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn get_link(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::GET_LINK)
                    .bind($crate::codec::DbId(connector_id))
                    .bind($crate::codec::DbId(customer_id))
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn link_by_hubspot_id(
                &self,
                connector_id: uuid::Uuid,
                hubspot_id: &str,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::LINK_BY_HUBSPOT_ID)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(hubspot_id)
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn sample_links(
                &self,
                connector_id: uuid::Uuid,
                limit: u32,
            ) -> Result<Vec<$crate::CrmLink>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::SAMPLE_LINKS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }

            pub async fn links_by_hubspot_ids(
                &self,
                connector_id: uuid::Uuid,
                hubspot_ids: &[String],
            ) -> Result<Vec<$crate::CrmLink>, $crate::StoreError> {
                if hubspot_ids.is_empty() {
                    return Ok(Vec::new());
                }
                sqlx::query_as::<$db, $crate::links::LinkRow>(Self::LINKS_BY_HUBSPOT_IDS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(sqlx::types::Json(hubspot_ids))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }

            pub async fn set_link_status(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
                status: keva_core::SyncStatus,
                reason: Option<&str>,
            ) -> Result<$crate::CrmLink, $crate::StoreError> {
                let row =
                    sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::SET_LINK_STATUS)
                        .bind($crate::codec::DbId(connector_id))
                        .bind($crate::codec::DbId(customer_id))
                        .bind(status.as_str())
                        .bind(reason)
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .fetch_optional(self.writer())
                        .await?
                        .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn unlink_hubspot(
                &self,
                connector_id: uuid::Uuid,
                hubspot_id: &str,
                status: keva_core::SyncStatus,
                reason: Option<&str>,
                lease: Option<&$crate::JobLease>,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                if let Some(lease) = lease {
                    Self::check_job_fence(&mut tx, lease).await?;
                }
                let row =
                    sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::UNLINK_HUBSPOT)
                        .bind($crate::codec::DbId(connector_id))
                        .bind(hubspot_id)
                        .bind(status.as_str())
                        .bind(reason)
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                row.decode()
            }

            pub async fn record_write_intent(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
                bases: &keva_core::Bases,
                lease: Option<&$crate::JobLease>,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                if let Some(lease) = lease {
                    Self::check_job_fence(&mut tx, lease).await?;
                }
                let done =
                    Self::push_write_intent(&mut tx, connector_id, customer_id, bases).await?;
                tx.commit().await?;
                Ok(done)
            }

            pub async fn record_write_intents(
                &self,
                connector_id: uuid::Uuid,
                items: &[(uuid::Uuid, keva_core::Bases)],
            ) -> Result<(), $crate::StoreError> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for (customer_id, bases) in items {
                    Self::push_write_intent(&mut tx, connector_id, *customer_id, bases).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Appends `bases` to the link's intents (the last `MAX_WRITE_INTENTS`
            /// kept); `false` if customer and connector are not in one workspace.
            async fn push_write_intent(
                conn: &mut <$db as sqlx::Database>::Connection,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
                bases: &keva_core::Bases,
            ) -> Result<bool, $crate::StoreError> {
                let mut intents =
                    Self::write_intents_on(&mut *conn, connector_id, customer_id).await?;
                intents.push(bases.clone());
                let extra = intents
                    .len()
                    .saturating_sub($crate::links::MAX_WRITE_INTENTS);
                intents.drain(..extra);
                let done = sqlx::query::<$db>($crate::links::SET_WRITE_INTENTS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind($crate::codec::DbId(customer_id))
                    .bind(sqlx::types::Json(&intents))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn write_intents_in_range(
                &self,
                connector_id: uuid::Uuid,
                first: uuid::Uuid,
                last: uuid::Uuid,
            ) -> Result<
                std::collections::HashMap<uuid::Uuid, Vec<keva_core::Bases>>,
                $crate::StoreError,
            > {
                let rows = sqlx::query_as::<
                    $db,
                    (
                        $crate::codec::DbId,
                        sqlx::types::Json<Vec<keva_core::Bases>>,
                    ),
                >($crate::links::WRITE_INTENTS_IN_RANGE)
                .bind($crate::codec::DbId(connector_id))
                .bind($crate::codec::DbId(first))
                .bind($crate::codec::DbId(last))
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, intents)| (id.0, intents.0))
                    .filter(|(_, intents)| !intents.is_empty())
                    .collect())
            }

            pub async fn write_intents(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
            ) -> Result<Vec<keva_core::Bases>, $crate::StoreError> {
                let mut conn = self.reader().acquire().await?;
                Self::write_intents_on(&mut conn, connector_id, customer_id).await
            }

            async fn write_intents_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
            ) -> Result<Vec<keva_core::Bases>, $crate::StoreError> {
                let intents = sqlx::query_scalar::<
                    $db,
                    Option<sqlx::types::Json<Vec<keva_core::Bases>>>,
                >($crate::links::GET_WRITE_INTENTS)
                .bind($crate::codec::DbId(connector_id))
                .bind($crate::codec::DbId(customer_id))
                .fetch_optional(&mut *conn)
                .await?;
                Ok(intents.flatten().map(|b| b.0).unwrap_or_default())
            }

            pub async fn relink(
                &self,
                connector_id: uuid::Uuid,
                from_hubspot_id: &str,
                to_hubspot_id: &str,
                lease: Option<&$crate::JobLease>,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                let now = $crate::codec::now();
                let mut tx = self.begin_write().await?;
                if let Some(lease) = lease {
                    Self::check_job_fence(&mut tx, lease).await?;
                }
                let taken = sqlx::query_as::<$db, $crate::links::LinkRow>(
                    $crate::links::LINK_BY_HUBSPOT_ID,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(to_hubspot_id)
                .fetch_optional(&mut *tx)
                .await?;
                let row = match taken {
                    // Merged into a contact that another customer is linked to: the
                    // survivor keeps its customer, the merged one's customer is unlinked.
                    Some(_) if from_hubspot_id != to_hubspot_id => {
                        let reason = format!(
                            "HubSpot contact {from_hubspot_id} was merged into contact \
                             {to_hubspot_id}, which is linked to another customer"
                        );
                        sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::UNLINK_HUBSPOT)
                            .bind($crate::codec::DbId(connector_id))
                            .bind(from_hubspot_id)
                            .bind(keva_core::SyncStatus::NotLinked.as_str())
                            .bind(reason)
                            .bind($crate::codec::DbTime(now))
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                    _ => sqlx::query_as::<$db, $crate::links::LinkRow>($crate::links::MOVE_LINK)
                        .bind($crate::codec::DbId(connector_id))
                        .bind(from_hubspot_id)
                        .bind(to_hubspot_id)
                        .bind($crate::codec::DbTime(now))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| {
                            $crate::error::conflict_or_db(e, || {
                                format!("HubSpot contact {to_hubspot_id} is already linked")
                            })
                        })?,
                };
                tx.commit().await?;
                row.decode()
            }

            pub async fn commit_sync(
                &self,
                commit: &$crate::SyncCommit,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let customer = Self::apply_commit(&mut tx, commit).await?;
                if customer.is_some() {
                    tx.commit().await?;
                }
                Ok(customer)
            }

            /// The customer patch, the link and the history row of one commit, on
            /// `conn` (a transaction or savepoint the caller commits). `None`, with
            /// nothing written, if the customer does not exist in the workspace.
            async fn apply_commit(
                conn: &mut <$db as sqlx::Database>::Connection,
                c: &$crate::SyncCommit,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let Some(row) = sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                    Self::CUSTOMER_FOR_UPDATE,
                )
                .bind($crate::codec::DbId(c.workspace_id))
                .bind($crate::codec::DbId(c.customer_id))
                .fetch_optional(&mut *conn)
                .await?
                else {
                    return Ok(None);
                };
                let (mut customer, times) = row.into_parts();
                let now = $crate::codec::now();
                let changed = c.patch_for(&customer).and_then(|patch| {
                    $crate::customers::apply_patch(&customer, &times, &patch, now)
                });
                if let Some((next, next_times)) = changed {
                    Self::write_customer(&mut *conn, &next, next_times).await?;
                    customer = next;
                }
                let hubspot_id = c.link.hubspot_id.as_deref();
                sqlx::query::<$db>($crate::links::UPSERT_LINK)
                    .bind($crate::codec::DbId(c.connector_id))
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind($crate::codec::DbId(c.customer_id))
                    .bind(hubspot_id)
                    .bind(c.link.bases.as_ref().map(sqlx::types::Json))
                    .bind(c.link.status.as_str())
                    .bind(c.link.status_reason.as_deref())
                    .bind(c.link.synced_at.map($crate::codec::DbTime::from))
                    .bind($crate::codec::DbTime(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!(
                                "HubSpot contact {} is already linked to another customer",
                                hubspot_id.unwrap_or_default()
                            )
                        })
                    })?;
                Self::insert_history_on(conn, &c.history).await?;
                Ok(Some(customer))
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    #[tracing::instrument(skip(self))]
    pub async fn get_link(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.get_link(connector_id, customer_id))
    }

    /// Up to `limit` of the connector's links that have a contact (in customer
    /// id order): the records auto-map samples values from.
    #[tracing::instrument(skip(self))]
    pub async fn sample_links(
        &self,
        connector_id: Uuid,
        limit: u32,
    ) -> Result<Vec<CrmLink>, StoreError> {
        dispatch!(self.sample_links(connector_id, limit))
    }

    #[tracing::instrument(skip(self))]
    pub async fn link_by_hubspot_id(
        &self,
        connector_id: Uuid,
        hubspot_id: &str,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.link_by_hubspot_id(connector_id, hubspot_id))
    }

    /// The connector's links to any of `hubspot_ids` (one query, for checking a
    /// webhook batch's echoes), in contact id order.
    #[tracing::instrument(skip(self, hubspot_ids), fields(n = hubspot_ids.len()))]
    pub async fn links_by_hubspot_ids(
        &self,
        connector_id: Uuid,
        hubspot_ids: &[String],
    ) -> Result<Vec<CrmLink>, StoreError> {
        dispatch!(self.links_by_hubspot_ids(connector_id, hubspot_ids))
    }

    /// Sets the link's status, creating the link (no contact yet) if absent.
    /// `NotFound` unless connector and customer exist in the same workspace.
    #[tracing::instrument(skip(self))]
    pub async fn set_link_status(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
        status: SyncStatus,
        reason: Option<&str>,
    ) -> Result<CrmLink, StoreError> {
        dispatch!(self.set_link_status(connector_id, customer_id, status, reason))
    }

    /// The contact was deleted in HubSpot: its link loses the contact id and the
    /// bases and takes `status` (normally `not_linked`) and `reason`; the customer
    /// stays. `None` if no customer was linked to it.
    #[tracing::instrument(skip(self))]
    pub async fn unlink_hubspot(
        &self,
        connector_id: Uuid,
        hubspot_id: &str,
        status: SyncStatus,
        reason: Option<&str>,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.unlink_hubspot(connector_id, hubspot_id, status, reason, None))
    }

    /// `unlink_hubspot` by a job handler: `LeaseLost` (nothing written) unless
    /// `lease` is still the job's current, unexpired claim.
    #[tracing::instrument(skip(self, lease), fields(job_id = %lease.job_id))]
    pub async fn unlink_hubspot_fenced(
        &self,
        connector_id: Uuid,
        hubspot_id: &str,
        status: SyncStatus,
        reason: Option<&str>,
        lease: &crate::JobLease,
    ) -> Result<Option<CrmLink>, StoreError> {
        let lease = Some(lease);
        dispatch!(self.unlink_hubspot(connector_id, hubspot_id, status, reason, lease))
    }

    /// A merge: the link to `from` moves to `to` (bases kept, so the next
    /// reconcile sees the survivor's differing values as HubSpot changes). If
    /// another customer is already linked to `to`, that link stays and the merged
    /// one is unlinked (`not_linked`, with the reason). Returns the changed link,
    /// `None` if nobody was linked to `from`.
    #[tracing::instrument(skip(self))]
    pub async fn relink(
        &self,
        connector_id: Uuid,
        from_hubspot_id: &str,
        to_hubspot_id: &str,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.relink(connector_id, from_hubspot_id, to_hubspot_id, None))
    }

    /// Before a live sync writes HubSpot (create or update): adds to the
    /// customer's link (created pending if absent) the bases that write will
    /// establish; the link's next commit clears them (the last
    /// [`MAX_WRITE_INTENTS`] are kept). A rerun
    /// after crashes between such writes and their commit finds HubSpot holding
    /// the values of one of them and reconciles against its bases
    /// (`write_intents`), so a Keva edit made meanwhile is neither undone as a
    /// first link nor lost to the landed write's later HubSpot timestamp. With
    /// `lease`, `LeaseLost` (nothing written) unless it is the job's current
    /// claim. `false` if customer and connector are not in one workspace.
    #[tracing::instrument(skip(self, bases, lease))]
    pub async fn record_write_intent(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
        bases: &Bases,
        lease: Option<&crate::JobLease>,
    ) -> Result<bool, StoreError> {
        dispatch!(self.record_write_intent(connector_id, customer_id, bases, lease))
    }

    /// `record_write_intent` for a batch chunk's writes, in one transaction.
    /// Not fenced: an intent only says a write may land, which holds for a
    /// stale batch worker's write too.
    #[tracing::instrument(skip(self, items), fields(count = items.len()))]
    pub async fn record_write_intents(
        &self,
        connector_id: Uuid,
        items: &[(Uuid, Bases)],
    ) -> Result<(), StoreError> {
        dispatch!(self.record_write_intents(connector_id, items))
    }

    /// The write intents of the customers with ids in `first..=last` (a batch
    /// chunk), by customer; customers without any are absent.
    #[tracing::instrument(skip(self))]
    pub async fn write_intents_in_range(
        &self,
        connector_id: Uuid,
        first: Uuid,
        last: Uuid,
    ) -> Result<std::collections::HashMap<Uuid, Vec<Bases>>, StoreError> {
        dispatch!(self.write_intents_in_range(connector_id, first, last))
    }

    /// The bases of the writes recorded with `record_write_intent` since the
    /// link's last commit, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn write_intents(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
    ) -> Result<Vec<Bases>, StoreError> {
        dispatch!(self.write_intents(connector_id, customer_id))
    }

    /// `relink` by a job handler: `LeaseLost` (nothing written) unless `lease`
    /// is still the job's current, unexpired claim.
    #[tracing::instrument(skip(self, lease), fields(job_id = %lease.job_id))]
    pub async fn relink_fenced(
        &self,
        connector_id: Uuid,
        from_hubspot_id: &str,
        to_hubspot_id: &str,
        lease: &crate::JobLease,
    ) -> Result<Option<CrmLink>, StoreError> {
        let lease = Some(lease);
        dispatch!(self.relink(connector_id, from_hubspot_id, to_hubspot_id, lease))
    }

    /// In one transaction: applies the Keva side of a plan (same rules and field
    /// times as `update_customer`), upserts the link and inserts the history row.
    /// `Conflict` and nothing written if the new email is taken or the contact is
    /// linked to another customer. `None` (nothing written) if the customer does
    /// not exist in the workspace; otherwise the customer after the patch.
    #[tracing::instrument(skip(self, commit), fields(customer_id = %commit.customer_id))]
    pub async fn commit_sync(&self, commit: &SyncCommit) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.commit_sync(commit))
    }
}
