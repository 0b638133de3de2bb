//! What every table module shares: decoding rows into records (`DecodeRows`,
//! `parse`, `count`), the "UPDATE by id touched nothing" check (`found`), the fetch
//! of one row by `(workspace_id, id)`, and `impl_store!`, which instantiates every
//! module's `queries!` for a backend.
//!
//! A backend type provides `reader()` and `writer()` pools, `begin_write()` (a
//! transaction that already holds the write lock on SQLite), a `key` field with the
//! `MasterKey`, and the few statements whose dialects differ (`CUSTOMER_FOR_UPDATE`,
//! `BATCH_FOR_UPDATE`, `CLAIM_JOBS`, `CUSTOMERS_BY_IDS`, `LINKS_BY_HUBSPOT_IDS`).

use crate::StoreError;

pub(crate) fn decode_error(msg: String) -> sqlx::Error {
    sqlx::Error::Decode(msg.into())
}

/// Parses a text column holding an enum; an unknown spelling fails the read.
pub(crate) fn parse<T>(
    what: &str,
    text: &str,
    f: impl FnOnce(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    f(text).ok_or_else(|| decode_error(format!("unknown {what} {text:?}")))
}

/// Non-negative counts stored as integers.
pub(crate) fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })
}

/// An UPDATE by id that touched no row means the id does not exist (there).
pub(crate) fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Fetched rows (one optional row, or many) into their public records.
pub(crate) trait DecodeRows<T> {
    fn decode(self) -> Result<T, StoreError>;
}

impl<R, T> DecodeRows<Option<T>> for Option<R>
where
    T: TryFrom<R>,
    StoreError: From<T::Error>,
{
    fn decode(self) -> Result<Option<T>, StoreError> {
        self.map(|r| T::try_from(r).map_err(StoreError::from))
            .transpose()
    }
}

impl<R, T> DecodeRows<Vec<T>> for Vec<R>
where
    T: TryFrom<R>,
    StoreError: From<T::Error>,
{
    fn decode(self) -> Result<Vec<T>, StoreError> {
        self.into_iter()
            .map(|r| T::try_from(r).map_err(StoreError::from))
            .collect()
    }
}

/// The backend-generic helpers every `queries!` may use.
macro_rules! helpers {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The row `sql` selects with `$1 = workspace_id` and `$2 = id`, decoded.
            async fn fetch_scoped<R, T>(
                &self,
                sql: &'static str,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<T>, $crate::StoreError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
                T: TryFrom<R>,
                $crate::StoreError: From<T::Error>,
            {
                sqlx::query_as::<$db, R>(sql)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>("SELECT 1")
                    .execute(self.reader())
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use helpers;

/// Every store operation for one backend.
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        $crate::db::helpers!($store, $db);
        $crate::workspaces::queries!($store, $db);
        $crate::api_keys::queries!($store, $db);
        $crate::customers::queries!($store, $db);
        $crate::customer_attributes::queries!($store, $db);
        $crate::tickets::queries!($store, $db);
        $crate::connectors::queries!($store, $db);
        $crate::webhook_settings::queries!($store, $db);
        $crate::mappings::queries!($store, $db);
        $crate::links::queries!($store, $db);
        $crate::history::queries!($store, $db);
        $crate::webhooks::queries!($store, $db);
        $crate::batches::queries!($store, $db);
        $crate::queue::queries!($store, $db);
        $crate::portal_leases::queries!($store, $db);
        $crate::oauth_states::queries!($store, $db);
        $crate::retention::queries!($store, $db);
        $crate::crm_context::queries!($store, $db);
        $crate::rotation::queries!($store, $db);
        $crate::users::queries!($store, $db);
        $crate::sessions::queries!($store, $db);
    };
}

pub(crate) use impl_store;
