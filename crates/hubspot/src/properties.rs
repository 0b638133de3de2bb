//! Property definitions (`/crm/v3/properties/{type}`): list, get, create, and
//! property groups (create). The sync
//! engine reads them to validate mappings before writing (HubSpot rejects writes to
//! unknown or read-only properties).

use reqwest::Method;

use crate::client::{Call, HubspotClient};
use crate::error::Result;
use crate::models::{ObjectType, Property, PropertyCreate, PropertyGroup, ResultsOnly};
use crate::retry::RetryPolicy;

/// The property endpoints of one object type.
#[derive(Clone, Copy)]
pub struct Properties<'a> {
    client: &'a HubspotClient,
    object_type: ObjectType,
}

impl<'a> Properties<'a> {
    pub(crate) fn new(client: &'a HubspotClient, object_type: ObjectType) -> Self {
        Self {
            client,
            object_type,
        }
    }

    fn path(&self, rest: Option<&str>) -> Vec<String> {
        let mut p = vec![
            "crm".to_string(),
            "v3".into(),
            "properties".into(),
            self.object_type.as_str().into(),
        ];
        p.extend(rest.map(str::to_string));
        p
    }

    /// All (non-archived) property definitions.
    pub async fn list(&self) -> Result<Vec<Property>> {
        let call = Call::new(
            Method::GET,
            "GET /crm/v3/properties/{type}",
            self.path(None),
        );
        let page: ResultsOnly<Property> = self.client.json(&call, RetryPolicy::Idempotent).await?;
        Ok(page.results)
    }

    /// One definition; 404 when it does not exist.
    pub async fn get(&self, name: &str) -> Result<Property> {
        let call = Call::new(
            Method::GET,
            "GET /crm/v3/properties/{type}/{name}",
            self.path(Some(name)),
        );
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// Creates a custom property (e.g. a `notes` textarea on contacts).
    pub async fn create(&self, property: &PropertyCreate) -> Result<Property> {
        let call = Call::new(
            Method::POST,
            "POST /crm/v3/properties/{type}",
            self.path(None),
        )
        .json(property)?;
        // A repeat after an ambiguous failure answers 409 at worst: no duplicate.
        self.client.json(&call, RetryPolicy::Idempotent).await
    }

    /// Creates a property group (e.g. `keva`, holding the properties Keva
    /// creates); HubSpot answers 409 when the group exists.
    pub async fn create_group(&self, group: &PropertyGroup) -> Result<PropertyGroup> {
        let call = Call::new(
            Method::POST,
            "POST /crm/v3/properties/{type}/groups",
            self.path(Some("groups")),
        )
        .json(group)?;
        self.client.json(&call, RetryPolicy::Idempotent).await
    }
}
