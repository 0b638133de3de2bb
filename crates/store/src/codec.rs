//! How ids and timestamps are encoded per backend, so row structs can be shared.
//!
//! SQLite: ids as hyphenated lower-case TEXT (uuid v7 text sorts like its bytes, so
//! keyset paging by id works), timestamps as fixed-width RFC 3339 TEXT with
//! milliseconds (`2026-11-27T13:01:58.123Z`, which sorts chronologically).
//! PostgreSQL: native `uuid` and `timestamptz`. Times are truncated to milliseconds
//! before they are stored so both backends hand back identical values.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Database, Decode, Encode, Type};
use uuid::Uuid;

/// The current time at the precision the store keeps.
pub(crate) fn now() -> DateTime<Utc> {
    to_millis(Utc::now())
}

pub(crate) fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// `t + d` at store precision, with `d` capped at 100 years so the result stays in
/// the range SQLite's fixed-width time text can hold.
pub(crate) fn plus(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    const CAP: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    let d = chrono::TimeDelta::from_std(d.min(CAP)).unwrap_or(chrono::TimeDelta::zero());
    to_millis(t.checked_add_signed(d).unwrap_or(t))
}

/// A uuid column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbId(pub Uuid);

/// A timestamp column value (always millisecond precision once stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub DateTime<Utc>);

impl From<Uuid> for DbId {
    fn from(u: Uuid) -> Self {
        DbId(u)
    }
}

impl From<DateTime<Utc>> for DbTime {
    fn from(t: DateTime<Utc>) -> Self {
        DbTime(to_millis(t))
    }
}

const SQLITE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

// --- SQLite ---------------------------------------------------------------

impl Type<Sqlite> for DbId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbId {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.hyphenated().to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(DbId(Uuid::parse_str(text)?))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        let text = to_millis(self.0).format(SQLITE_TIME_FORMAT).to_string();
        <String as Encode<Sqlite>>::encode(text, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(DbTime(
            DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc),
        ))
    }
}

// --- PostgreSQL -----------------------------------------------------------

impl Type<Postgres> for DbId {
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for DbId {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <Uuid as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbId(<Uuid as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode(to_millis(self.0), buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbTime(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_time_text_is_fixed_width_and_sortable() {
        let a = Utc
            .timestamp_millis_opt(1_700_000_000_000)
            .single()
            .expect("valid");
        let b = Utc
            .timestamp_millis_opt(1_700_000_000_123)
            .single()
            .expect("valid");
        let fa = a.format(SQLITE_TIME_FORMAT).to_string();
        let fb = b.format(SQLITE_TIME_FORMAT).to_string();
        assert_eq!(fa, "2023-11-14T22:13:20.000Z");
        assert_eq!(fb.len(), fa.len());
        assert!(fa < fb);
        assert_eq!(
            DateTime::parse_from_rfc3339(&fb)
                .expect("parse")
                .with_timezone(&Utc),
            b
        );
    }

    #[test]
    fn now_has_millisecond_precision() {
        let t = now();
        assert_eq!(t.timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
