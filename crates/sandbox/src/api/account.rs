//! `GET /account-info/v3/details`: the portal a token belongs to. Private-app
//! tokens carry no portal id of their own, so a service connecting with one asks
//! this endpoint which portal it has been given.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{json, Caller};
use crate::error::ErrorResponse;

/// HubSpot's `AccountDetails` for the caller's portal (fixed, plausible settings).
pub async fn details(c: Caller) -> Result<Response, ErrorResponse> {
    Ok(json(
        StatusCode::OK,
        json!({
            "portalId": c.portal.id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }),
    ))
}
