//! The HTTP API under `/api`, one file per resource.

pub mod attribute_values;
pub mod batch;
pub mod crm;
pub mod customer_attributes;
pub mod customers;
pub mod health;
pub mod schema;
pub mod tickets;
pub mod workspace;
