//! Custom attribute values in the customer and ticket APIs: checking a body's
//! `attributes` object against the workspace's definitions (a 422 naming the
//! attribute, before anything is written) and showing a customer's values.
//!
//! A retired attribute's values stay stored but are hidden, so a customer view
//! only ever shows keys of live definitions.

use keva_core::{AttributeChanges, AttributeSpec, AttributeValues, Customer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::customers::CustomerView;
use crate::error::ApiError;
use crate::state::AppState;

/// A workspace's attribute definitions, loaded once per request.
pub(crate) struct WorkspaceAttributes {
    specs: Vec<AttributeSpec>,
}

impl WorkspaceAttributes {
    /// Every definition, retired ones included (so writing one is refused with
    /// "retired" rather than "no such attribute").
    pub(crate) async fn load(state: &AppState, workspace_id: Uuid) -> Result<Self, ApiError> {
        let specs = state.store.attribute_specs(workspace_id).await?;
        Ok(Self { specs })
    }

    /// The changes a body asks for; 422 naming the attribute when one is wrong.
    pub(crate) fn check(
        &self,
        input: Option<&Map<String, Value>>,
    ) -> Result<AttributeChanges, ApiError> {
        match input {
            None => Ok(AttributeChanges::new()),
            Some(map) => keva_core::attribute::check_changes(&self.specs, map)
                .map_err(|e| ApiError::Unprocessable(e.to_string())),
        }
    }

    /// Values to store on a new customer (a `null` on create is just "no value").
    pub(crate) fn initial(
        &self,
        input: Option<&Map<String, Value>>,
    ) -> Result<AttributeValues, ApiError> {
        Ok(self
            .check(input)?
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// A customer as the API shows it, without retired attributes' values.
    pub(crate) fn view(&self, mut customer: Customer) -> CustomerView {
        customer
            .attributes
            .retain(|key, _| self.specs.iter().any(|s| &s.key == key && !s.retired));
        customer.into()
    }
}
