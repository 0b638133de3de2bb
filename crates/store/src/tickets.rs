//! Support tickets; creating one finds or creates its customer. Reading one is
//! scoped to its workspace; the list pages newest first.

use chrono::{DateTime, Utc};
use keva_core::Customer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

macro_rules! ticket_columns {
    () => {
        "id, workspace_id, customer_id, subject, created_at"
    };
}

pub(crate) const INSERT_TICKET: &str = concat!(
    "INSERT INTO tickets (",
    ticket_columns!(),
    ") VALUES ($1, $2, $3, $4, $5) RETURNING ",
    ticket_columns!()
);
pub(crate) const TICKET_BY_ID: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE workspace_id = $1 AND id = $2"
);
// Ids are UUIDv7, so id order is creation order: newest first.
pub(crate) const LIST_TICKETS_FIRST: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2"
);
pub(crate) const LIST_TICKETS_BEFORE: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
);

// --- records -----------------------------------------------------------------

/// A support ticket; it always belongs to a customer of the same workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub subject: String,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TicketRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub customer_id: DbId,
    pub subject: String,
    pub created_at: DbTime,
}

impl From<TicketRow> for Ticket {
    fn from(r: TicketRow) -> Self {
        Ticket {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            customer_id: r.customer_id.0,
            subject: r.subject,
            created_at: r.created_at.0,
        }
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn create_ticket(
                &self,
                workspace_id: uuid::Uuid,
                email: &str,
                name: Option<&str>,
                subject: &str,
            ) -> Result<($crate::Ticket, $crate::Customer, bool), $crate::StoreError> {
                let normalized = $crate::customers::normalize_email(email);
                let mut tx = self.begin_write().await?;
                let existing = sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                    $crate::customers::CUSTOMER_BY_EMAIL,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(&normalized)
                .fetch_optional(&mut *tx)
                .await?;
                let (customer, created): ($crate::Customer, bool) = match existing {
                    Some(row) => (row.into(), false),
                    None => {
                        let now = $crate::codec::now();
                        let new = $crate::NewCustomer {
                            name: name.map(str::to_string),
                            ..$crate::NewCustomer::with_email(email)
                        };
                        let (customer, times) = $crate::customers::new_customer(
                            uuid::Uuid::now_v7(),
                            workspace_id,
                            new,
                            now,
                        );
                        let inserted = Self::bind_customer(
                            sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                                $crate::customers::INSERT_CUSTOMER_IF_ABSENT,
                            ),
                            &customer,
                            times,
                        )
                        .fetch_optional(&mut *tx)
                        .await?;
                        match inserted {
                            Some(row) => (row.into(), true),
                            // Another transaction created it after our read and has
                            // committed (the insert waited for it): use that one.
                            None => (
                                sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                                    $crate::customers::CUSTOMER_BY_EMAIL,
                                )
                                .bind($crate::codec::DbId(workspace_id))
                                .bind(&normalized)
                                .fetch_optional(&mut *tx)
                                .await?
                                .ok_or($crate::StoreError::NotFound)?
                                .into(),
                                false,
                            ),
                        }
                    }
                };
                let ticket: $crate::Ticket = sqlx::query_as::<$db, $crate::tickets::TicketRow>(
                    $crate::tickets::INSERT_TICKET,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(customer.id))
                .bind(subject)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(&mut *tx)
                .await?
                .into();
                tx.commit().await?;
                Ok((ticket, customer, created))
            }

            pub async fn get_ticket(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Ticket>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::tickets::TicketRow>(
                        $crate::tickets::TICKET_BY_ID,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(Into::into),
                )
            }

            pub async fn list_tickets(
                &self,
                workspace_id: uuid::Uuid,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::Ticket>, $crate::StoreError> {
                let query = match before {
                    None => sqlx::query_as::<$db, $crate::tickets::TicketRow>(
                        $crate::tickets::LIST_TICKETS_FIRST,
                    )
                    .bind($crate::codec::DbId(workspace_id)),
                    Some(before) => sqlx::query_as::<$db, $crate::tickets::TicketRow>(
                        $crate::tickets::LIST_TICKETS_BEFORE,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(before)),
                };
                Ok(query
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// In one transaction: finds the customer by email or creates it (with `name`),
    /// then the ticket. Concurrent calls with the same new email create exactly one
    /// customer; the flag says whether this call created it.
    #[tracing::instrument(skip(self, email, name, subject))]
    pub async fn create_ticket(
        &self,
        workspace_id: Uuid,
        email: &str,
        name: Option<&str>,
        subject: &str,
    ) -> Result<(Ticket, Customer, bool), StoreError> {
        dispatch!(self.create_ticket(workspace_id, email, name, subject))
    }

    /// `None` also for another workspace's ticket id.
    #[tracing::instrument(skip(self))]
    pub async fn get_ticket(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Ticket>, StoreError> {
        dispatch!(self.get_ticket(workspace_id, id))
    }

    /// Up to `limit` tickets, newest first, starting before `before`.
    #[tracing::instrument(skip(self))]
    pub async fn list_tickets(
        &self,
        workspace_id: Uuid,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        dispatch!(self.list_tickets(workspace_id, before, limit))
    }
}
