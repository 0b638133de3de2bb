//! Customers: the records, their per-field change times and the lookups.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use keva_core::{Customer, CustomerPatch, KevaField};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::StoreError;

mod json_text;
mod rules;

pub(crate) use json_text::JsonText;

pub(crate) use rules::{apply_patch, field_times_to_dates, new_customer, normalize_email};

// --- SQL ----------------------------------------------------------------------

/// The columns of `CustomerRow`, in the order `bind_customer` binds them after
/// `email_normalized` (which is only a lookup key, never read back).
macro_rules! customer_columns {
    () => {
        "id, workspace_id, email, name, phone, company, job_title, location, notes, \
         field_updated_at, created_at, updated_at, attributes"
    };
}

pub(crate) use customer_columns;

macro_rules! insert_customer {
    ($on_conflict:literal) => {
        concat!(
            "INSERT INTO customers (email_normalized, ",
            customer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            $on_conflict,
            " RETURNING ",
            customer_columns!()
        )
    };
}

macro_rules! select_customers {
    ($where:literal) => {
        concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE ",
            $where
        )
    };
}

pub(crate) const INSERT_CUSTOMER: &str = insert_customer!("");
/// Used by tickets: a concurrent creator of the same email wins, and the loser
/// reads that row back instead of failing.
pub(crate) const INSERT_CUSTOMER_IF_ABSENT: &str =
    insert_customer!(" ON CONFLICT (workspace_id, email_normalized) DO NOTHING");
pub(crate) const CUSTOMER_BY_ID: &str = select_customers!("workspace_id = $1 AND id = $2");
pub(crate) const CUSTOMER_BY_EMAIL: &str =
    select_customers!("workspace_id = $1 AND email_normalized = $2");
pub(crate) const UPDATE_CUSTOMER: &str =
    "UPDATE customers SET email = $3, email_normalized = $4, name = $5, \
     phone = $6, company = $7, job_title = $8, location = $9, notes = $10, field_updated_at = $11, \
     updated_at = $12, attributes = $13 WHERE workspace_id = $1 AND id = $2";
pub(crate) const LIST_CUSTOMERS_FIRST: &str =
    select_customers!("workspace_id = $1 ORDER BY id LIMIT $2");
pub(crate) const LIST_CUSTOMERS_AFTER: &str =
    select_customers!("workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3");
pub(crate) const COUNT_CUSTOMERS: &str = "SELECT COUNT(*) FROM customers WHERE workspace_id = $1";

// --- records -----------------------------------------------------------------

/// The fields of a customer to create; the email is expected to be validated by
/// the caller (the store only trims it and derives the lookup key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomer {
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Canonical attribute values (the API validates them against definitions).
    pub attributes: keva_core::AttributeValues,
}

impl NewCustomer {
    /// A customer with only an email, the shape tickets create.
    pub fn with_email(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            ..Self::default()
        }
    }
}

/// Per-field last-change times, unix milliseconds, stored as JSON.
pub(crate) type FieldTimes = BTreeMap<KevaField, i64>;

#[derive(sqlx::FromRow)]
pub(crate) struct CustomerRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub field_updated_at: Json<FieldTimes>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub attributes: JsonText<keva_core::AttributeValues>,
}

impl CustomerRow {
    pub fn into_parts(self) -> (Customer, FieldTimes) {
        let customer = Customer {
            id: self.id.0,
            workspace_id: self.workspace_id.0,
            email: self.email,
            name: self.name,
            phone: self.phone,
            company: self.company,
            job_title: self.job_title,
            location: self.location,
            notes: self.notes,
            attributes: self.attributes.0,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        };
        (customer, self.field_updated_at.0)
    }
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Self {
        r.into_parts().0
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_customer(
                &self,
                workspace_id: uuid::Uuid,
                c: $crate::NewCustomer,
            ) -> Result<$crate::Customer, $crate::StoreError> {
                let (customer, times) = $crate::customers::new_customer(
                    uuid::Uuid::now_v7(),
                    workspace_id,
                    c,
                    $crate::codec::now(),
                );
                Self::bind_customer(
                    sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                        $crate::customers::INSERT_CUSTOMER,
                    ),
                    &customer,
                    times,
                )
                .fetch_one(self.writer())
                .await
                .map(Into::into)
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        format!("a customer with email {} already exists", customer.email)
                    })
                })
            }

            /// Binds the 14 columns of `INSERT_CUSTOMER`/`INSERT_CUSTOMER_IF_ABSENT`.
            fn bind_customer<'q>(
                q: sqlx::query::QueryAs<
                    'q,
                    $db,
                    $crate::customers::CustomerRow,
                    <$db as sqlx::Database>::Arguments,
                >,
                c: &$crate::Customer,
                times: $crate::customers::FieldTimes,
            ) -> sqlx::query::QueryAs<
                'q,
                $db,
                $crate::customers::CustomerRow,
                <$db as sqlx::Database>::Arguments,
            > {
                q.bind($crate::customers::normalize_email(&c.email))
                    .bind($crate::codec::DbId(c.id))
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind(c.email.clone())
                    .bind(c.name.clone())
                    .bind(c.phone.clone())
                    .bind(c.company.clone())
                    .bind(c.job_title.clone())
                    .bind(c.location.clone())
                    .bind(c.notes.clone())
                    .bind(sqlx::types::Json(times))
                    .bind($crate::codec::DbTime(c.created_at))
                    .bind($crate::codec::DbTime(c.updated_at))
                    .bind($crate::customers::JsonText(c.attributes.clone()))
            }

            /// Writes a changed customer (`apply_patch`'s result) on `conn`.
            /// `Conflict` if its new email is taken.
            async fn write_customer(
                conn: &mut <$db as sqlx::Database>::Connection,
                c: &$crate::Customer,
                times: $crate::customers::FieldTimes,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::customers::UPDATE_CUSTOMER)
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind($crate::codec::DbId(c.id))
                    .bind(c.email.clone())
                    .bind($crate::customers::normalize_email(&c.email))
                    .bind(c.name.clone())
                    .bind(c.phone.clone())
                    .bind(c.company.clone())
                    .bind(c.job_title.clone())
                    .bind(c.location.clone())
                    .bind(c.notes.clone())
                    .bind(sqlx::types::Json(times))
                    .bind($crate::codec::DbTime(c.updated_at))
                    .bind($crate::customers::JsonText(c.attributes.clone()))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!("a customer with email {} already exists", c.email)
                        })
                    })?;
                Ok(())
            }

            pub async fn get_customer(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                Ok(self.customer_row(workspace_id, id).await?.map(Into::into))
            }

            async fn customer_row(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::customers::CustomerRow>, $crate::StoreError> {
                self.fetch_scoped::<$crate::customers::CustomerRow, _>(
                    $crate::customers::CUSTOMER_BY_ID,
                    workspace_id,
                    id,
                )
                .await
            }

            pub async fn customer_by_email(
                &self,
                workspace_id: uuid::Uuid,
                email: &str,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                    $crate::customers::CUSTOMER_BY_EMAIL,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::customers::normalize_email(email))
                .fetch_optional(self.reader())
                .await?
                .decode()
            }

            pub async fn update_customer(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                patch: &keva_core::CustomerPatch,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let Some(row) = sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                    Self::CUSTOMER_FOR_UPDATE,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(id))
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(None);
                };
                let (current, times) = row.into_parts();
                let Some((next, next_times)) =
                    $crate::customers::apply_patch(&current, &times, patch, $crate::codec::now())
                else {
                    return Ok(Some(current));
                };
                Self::write_customer(&mut tx, &next, next_times).await?;
                tx.commit().await?;
                Ok(Some(next))
            }

            pub async fn list_customers(
                &self,
                workspace_id: uuid::Uuid,
                after: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::Customer>, $crate::StoreError> {
                let query = match after {
                    None => sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                        $crate::customers::LIST_CUSTOMERS_FIRST,
                    )
                    .bind($crate::codec::DbId(workspace_id)),
                    Some(after) => sqlx::query_as::<$db, $crate::customers::CustomerRow>(
                        $crate::customers::LIST_CUSTOMERS_AFTER,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(after)),
                };
                query
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }

            pub async fn count_customers(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<u64, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar::<$db, i64>($crate::customers::COUNT_CUSTOMERS)
                    .bind($crate::codec::DbId(workspace_id))
                    .fetch_one(self.reader())
                    .await?;
                // COUNT(*) is never negative.
                Ok(u64::try_from(n).unwrap_or_default())
            }

            pub async fn customer_field_times(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<
                std::collections::BTreeMap<keva_core::KevaField, chrono::DateTime<chrono::Utc>>,
                $crate::StoreError,
            > {
                let row = self
                    .customer_row(workspace_id, id)
                    .await?
                    .ok_or($crate::StoreError::NotFound)?;
                Ok($crate::customers::field_times_to_dates(
                    &row.field_updated_at.0,
                ))
            }

            pub async fn customers_by_ids(
                &self,
                workspace_id: uuid::Uuid,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::Customer>, $crate::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
                sqlx::query_as::<$db, $crate::customers::CustomerRow>(Self::CUSTOMERS_BY_IDS)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(sqlx::types::Json(ids))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    /// `Conflict` if the workspace has a customer with this email (compared trimmed
    /// and case-insensitively); `NotFound` if the workspace does not exist.
    #[tracing::instrument(skip(self, c))]
    pub async fn insert_customer(
        &self,
        workspace_id: Uuid,
        c: NewCustomer,
    ) -> Result<Customer, StoreError> {
        dispatch!(self.insert_customer(workspace_id, c))
    }

    /// `None` also for another workspace's customer id.
    #[tracing::instrument(skip(self))]
    pub async fn get_customer(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.get_customer(workspace_id, id))
    }

    /// Matches trimmed and case-insensitively.
    #[tracing::instrument(skip(self, email))]
    pub async fn customer_by_email(
        &self,
        workspace_id: Uuid,
        email: &str,
    ) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.customer_by_email(workspace_id, email))
    }

    /// Applies a patch: `None` fields stay, `Some("")` clears a field (stored as
    /// NULL; an empty email is ignored, emails cannot be cleared). Only fields whose
    /// value changes get a new field time, and `updated_at` moves only if something
    /// changed. `Conflict` (and nothing changed) if the new email is taken.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_customer(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        patch: &CustomerPatch,
    ) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.update_customer(workspace_id, id, patch))
    }

    /// Up to `limit` customers in id (= creation) order, starting after `after`.
    #[tracing::instrument(skip(self))]
    pub async fn list_customers(
        &self,
        workspace_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        dispatch!(self.list_customers(workspace_id, after, limit))
    }

    #[tracing::instrument(skip(self))]
    pub async fn count_customers(&self, workspace_id: Uuid) -> Result<u64, StoreError> {
        dispatch!(self.count_customers(workspace_id))
    }

    /// When each field last changed value (fields never set are absent).
    /// `NotFound` for an unknown customer.
    #[tracing::instrument(skip(self))]
    pub async fn customer_field_times(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<BTreeMap<KevaField, DateTime<Utc>>, StoreError> {
        dispatch!(self.customer_field_times(workspace_id, id))
    }

    /// The workspace's customers among `ids`, in id order (unknown ids skipped).
    #[tracing::instrument(skip(self, ids), fields(n = ids.len()))]
    pub async fn customers_by_ids(
        &self,
        workspace_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<Customer>, StoreError> {
        dispatch!(self.customers_by_ids(workspace_id, ids))
    }
}
