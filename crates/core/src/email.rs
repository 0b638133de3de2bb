//! `Email`: a trimmed, syntactically valid address, compared case-insensitively.
//!
//! Parse, don't validate: once a value is an `Email`, every later layer (store
//! lookups, HubSpot dedup) can rely on it being trimmed and well-formed. The
//! original spelling is kept for display, because users notice when we rewrite
//! "Jane.Doe@Example.com" to lower case; lookups and uniqueness use `normalized()`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than 254 characters")]
    TooLong,
    #[error("'{0}' is not a valid email address: {1}")]
    Invalid(String, String),
}

#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Trims surrounding whitespace and checks the syntax (RFC 5322 addr-spec via
    /// `email_address`), additionally requiring a dot in the domain: HubSpot rejects
    /// dotless domains, and a support platform never sees mail from `user@localhost`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let parsed = email_address::EmailAddress::from_str(trimmed)
            .map_err(|e| EmailError::Invalid(trimmed.to_string(), e.to_string()))?;
        let domain = parsed.domain();
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(EmailError::Invalid(
                trimmed.to_string(),
                "domain must contain a dot".into(),
            ));
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(EmailError::Invalid(
                trimmed.to_string(),
                "contains whitespace".into(),
            ));
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The address as the user wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key used for uniqueness and lookups: lower-cased, as HubSpot compares.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}
impl Eq for Email {}

impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized().hash(state)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_keeps_case_for_display() {
        let e = Email::parse("  Jane.Doe@Example.COM \n").expect("valid");
        assert_eq!(e.as_str(), "Jane.Doe@Example.COM");
        assert_eq!(e.normalized(), "jane.doe@example.com");
    }

    #[test]
    fn equality_ignores_case() {
        assert_eq!(
            Email::parse("A@B.co").expect("valid"),
            Email::parse("a@b.CO").expect("valid")
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "   ",
            "no-at-sign",
            "a@",
            "@b.com",
            "a@localhost",
            "a b@c.com",
            "a@b..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn empty_has_its_own_reason() {
        assert_eq!(Email::parse("  "), Err(EmailError::Empty));
    }

    proptest! {
        #[test]
        fn parse_is_idempotent(local in "[a-z0-9._%+-]{1,20}", domain in "[a-z0-9-]{1,15}", tld in "[a-z]{2,6}") {
            let raw = format!("{local}@{domain}.{tld}");
            if let Ok(e) = Email::parse(&raw) {
                let again = Email::parse(e.as_str()).expect("re-parse of a parsed email");
                prop_assert_eq!(again.as_str(), e.as_str());
            }
        }

        #[test]
        fn surrounding_whitespace_never_matters(pad in "[ \t\n]{0,4}") {
            let e = Email::parse(&format!("{pad}x@example.com{pad}")).expect("valid");
            prop_assert_eq!(e.as_str(), "x@example.com");
        }
    }
}
