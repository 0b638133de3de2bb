//! Keva customers: the support platform's side of a link.
//!
//! A customer's email is stored as text, not as `Email`, on purpose: customers can
//! arrive from imports with addresses HubSpot would refuse, and the sync must be able
//! to hold them and say why they are not synced, rather than lose them. The HTTP API
//! still refuses invalid emails on create and update.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::attribute::{AttributeChanges, AttributeValues};

/// The Keva profile fields a mapping can name. `as_str` is the wire name used in
/// the API and in mappings (`jobTitle`, not `job_title`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KevaField {
    Email,
    Name,
    Phone,
    Company,
    JobTitle,
    Location,
    Notes,
}

impl KevaField {
    pub const ALL: [KevaField; 7] = [
        KevaField::Email,
        KevaField::Name,
        KevaField::Phone,
        KevaField::Company,
        KevaField::JobTitle,
        KevaField::Location,
        KevaField::Notes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KevaField::Email => "email",
            KevaField::Name => "name",
            KevaField::Phone => "phone",
            KevaField::Company => "company",
            KevaField::JobTitle => "jobTitle",
            KevaField::Location => "location",
            KevaField::Notes => "notes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
    }
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Custom attribute values by key, canonical (see [`crate::attribute`]).
    #[serde(default)]
    pub attributes: AttributeValues,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The value of one profile field, `None` when empty.
    pub fn field(&self, f: KevaField) -> Option<&str> {
        let v = match f {
            KevaField::Email => Some(self.email.as_str()),
            KevaField::Name => self.name.as_deref(),
            KevaField::Phone => self.phone.as_deref(),
            KevaField::Company => self.company.as_deref(),
            KevaField::JobTitle => self.job_title.as_deref(),
            KevaField::Location => self.location.as_deref(),
            KevaField::Notes => self.notes.as_deref(),
        };
        v.filter(|s| !s.is_empty())
    }
}

/// The editable profile fields; `None` means "leave as is" in an update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Attribute keys to set (`Some`) or clear (`None`); keys not named stay.
    #[serde(default, skip_serializing_if = "AttributeChanges::is_empty")]
    pub attributes: AttributeChanges,
}

impl CustomerPatch {
    pub fn is_empty(&self) -> bool {
        *self == CustomerPatch::default()
    }

    /// The fields this patch sets, for per-field change timestamps.
    pub fn fields(&self) -> Vec<KevaField> {
        KevaField::ALL
            .into_iter()
            .filter(|f| self.get(*f).is_some())
            .collect()
    }

    pub fn get(&self, f: KevaField) -> Option<&str> {
        match f {
            KevaField::Email => self.email.as_deref(),
            KevaField::Name => self.name.as_deref(),
            KevaField::Phone => self.phone.as_deref(),
            KevaField::Company => self.company.as_deref(),
            KevaField::JobTitle => self.job_title.as_deref(),
            KevaField::Location => self.location.as_deref(),
            KevaField::Notes => self.notes.as_deref(),
        }
    }

    pub fn set(&mut self, f: KevaField, v: Option<String>) {
        let slot = match f {
            KevaField::Email => &mut self.email,
            KevaField::Name => &mut self.name,
            KevaField::Phone => &mut self.phone,
            KevaField::Company => &mut self.company,
            KevaField::JobTitle => &mut self.job_title,
            KevaField::Location => &mut self.location,
            KevaField::Notes => &mut self.notes,
        };
        *slot = v;
    }
}
