//! Row shapes shared by both backends (the `DbId`/`DbTime` codecs absorb the type
//! differences) and their conversion into the public records.

use std::collections::BTreeMap;

use keva_core::{ConflictPolicy, Customer, KevaField};
use sqlx::types::Json;

use crate::codec::{DbId, DbTime};
use crate::model::{ApiKey, AuthKind, Connector, ConnectorStatus, Ticket, Workspace};

/// Per-field last-change times, unix milliseconds, stored as JSON.
pub(crate) type FieldTimes = BTreeMap<KevaField, i64>;

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    pub id: DbId,
    pub name: String,
    pub created_at: DbTime,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace {
            id: r.id.0,
            name: r.name,
            created_at: r.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub prefix: String,
    pub created_at: DbTime,
    pub last_used_at: Option<DbTime>,
    pub revoked_at: Option<DbTime>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            prefix: r.prefix,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.map(|t| t.0),
            revoked_at: r.revoked_at.map(|t| t.0),
        }
    }
}

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

#[derive(sqlx::FromRow)]
pub(crate) struct ConnectorRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub portal_id: i64,
    pub auth_kind: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub scopes: Json<Vec<String>>,
    pub token_expires_at: Option<DbTime>,
    pub last_sync_at: Option<DbTime>,
    pub conflict_policy: String,
    pub import_contacts: bool,
    pub batch_schedule: Option<String>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

impl TryFrom<ConnectorRow> for Connector {
    type Error = sqlx::Error;

    fn try_from(r: ConnectorRow) -> Result<Self, Self::Error> {
        let auth_kind = AuthKind::parse(&r.auth_kind)
            .ok_or_else(|| decode_error(format!("unknown auth_kind {:?}", r.auth_kind)))?;
        let status = ConnectorStatus::parse(&r.status)
            .ok_or_else(|| decode_error(format!("unknown connector status {:?}", r.status)))?;
        let conflict_policy = ConflictPolicy::parse(&r.conflict_policy).ok_or_else(|| {
            decode_error(format!("unknown conflict policy {:?}", r.conflict_policy))
        })?;
        Ok(Connector {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            portal_id: r.portal_id,
            auth_kind,
            status,
            status_reason: r.status_reason,
            scopes: r.scopes.0,
            token_expires_at: r.token_expires_at.map(|t| t.0),
            last_sync_at: r.last_sync_at.map(|t| t.0),
            conflict_policy,
            import_contacts: r.import_contacts,
            batch_schedule: r.batch_schedule,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

/// The sealed token columns of a connector.
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub id: DbId,
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_expires_at: Option<DbTime>,
}

fn decode_error(msg: String) -> sqlx::Error {
    sqlx::Error::Decode(msg.into())
}
