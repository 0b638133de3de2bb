//! The OpenAPI document served at `/api/openapi.json`, generated from the handlers'
//! `#[utoipa::path]` annotations so it cannot drift from the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;

/// Title, version and the bearer-key scheme the handlers refer to as `api_key`.
pub fn decorate(mut api: OpenApi) -> OpenApi {
    api.info.title = "Keva Sync API".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "Two-way sync between Keva customers and HubSpot contacts. Every /api route except \
         the HubSpot webhook receiver takes `Authorization: Bearer keva_live_…`."
            .into(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("keva_live_…")
                .build(),
        ),
    );
    api
}
