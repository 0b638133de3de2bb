//! The records the store hands out besides `Customer` (which lives in keva-core):
//! workspaces, API keys, tickets and HubSpot connectors.

use chrono::{DateTime, Utc};
use keva_core::ConflictPolicy;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which database a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A tenant: every other record belongs to exactly one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API key's stored metadata. The plaintext key is never stored, only its
/// SHA-256 hash (which is not part of this struct, so it cannot leak through it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The first characters of the key, shown in lists so users can tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

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

/// A support ticket; it always belongs to a customer of the same workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub subject: String,
    pub created_at: DateTime<Utc>,
}

/// How a connector authenticates against HubSpot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    PrivateApp,
    #[serde(rename = "oauth")]
    OAuth,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::PrivateApp => "private_app",
            AuthKind::OAuth => "oauth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "private_app" => Some(AuthKind::PrivateApp),
            "oauth" => Some(AuthKind::OAuth),
            _ => None,
        }
    }
}

/// Whether a connector can currently be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Connected,
    /// The tokens were refused (revoked, app uninstalled): a human must reconnect.
    NeedsReconnection,
    Error,
}

impl ConnectorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorStatus::Connected => "connected",
            ConnectorStatus::NeedsReconnection => "needs_reconnection",
            ConnectorStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "connected" => Some(ConnectorStatus::Connected),
            "needs_reconnection" => Some(ConnectorStatus::NeedsReconnection),
            "error" => Some(ConnectorStatus::Error),
            _ => None,
        }
    }
}

/// A HubSpot portal connection to create; the tokens are sealed before storage.
#[derive(Debug, Clone)]
pub struct NewConnector {
    pub workspace_id: Uuid,
    pub portal_id: i64,
    pub auth_kind: AuthKind,
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

/// A stored HubSpot connection, without its tokens (see `ConnectorTokens`), so it
/// can be logged and serialised freely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub portal_id: i64,
    pub auth_kind: AuthKind,
    pub status: ConnectorStatus,
    pub status_reason: Option<String>,
    pub scopes: Vec<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub conflict_policy: ConflictPolicy,
    pub import_contacts: bool,
    /// Cron expression for scheduled batch syncs.
    pub batch_schedule: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A connector's decrypted tokens. `SecretString` redacts them in `Debug`.
#[derive(Debug, Clone)]
pub struct ConnectorTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_match_serde() {
        for kind in [AuthKind::PrivateApp, AuthKind::OAuth] {
            assert_eq!(AuthKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).expect("serialize"),
                serde_json::Value::from(kind.as_str())
            );
        }
        for status in [
            ConnectorStatus::Connected,
            ConnectorStatus::NeedsReconnection,
            ConnectorStatus::Error,
        ] {
            assert_eq!(ConnectorStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).expect("serialize"),
                serde_json::Value::from(status.as_str())
            );
        }
        assert_eq!(AuthKind::OAuth.as_str(), "oauth");
        assert_eq!(
            ConnectorStatus::NeedsReconnection.as_str(),
            "needs_reconnection"
        );
        assert_eq!(AuthKind::parse("OAuth"), None);
    }
}
