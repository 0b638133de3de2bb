//! *Settings → Integrations → HubSpot*: the workspace's connectors with their
//! *Connection status* (Connected / Needs reconnection with the reason and
//! *Reconnect* / Disconnected), *Portal ID* (linking to the portal in HubSpot) and
//! *Last sync*; *Connect* (OAuth: the browser goes to HubSpot's consent page,
//! where the portal is chosen, and comes back through the API's callback),
//! *Connect with a private app token*, and *Disconnect*. Every action calls the
//! API's own functions (`begin_authorize`, `connect_with_token`, `disconnect`).

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::{AdminUser, ConsoleUser};
use crate::api::crm::connectors::{connect_with_token, disconnect, view, ConnectorView};
use crate::api::crm::oauth::begin_authorize;
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path (also the OAuth callback's default `returnTo`).
pub const PATH: &str = "/settings/integrations/hubspot";

/// What the OAuth callback and this page's own actions append to the URL.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub hubspot: Option<String>,
    pub reason: Option<String>,
    pub portal_id: Option<i64>,
    pub missing_scopes: Option<String>,
    pub disconnected: Option<i64>,
}

impl Outcome {
    fn notice(&self) -> Option<(bool, String)> {
        if let Some(p) = self.disconnected {
            return Some((true, format!("Portal {p} was disconnected.")));
        }
        match self.hubspot.as_deref()? {
            "connected" => Some((
                true,
                match self.portal_id {
                    Some(p) => format!("HubSpot portal {p} is connected."),
                    None => "HubSpot is connected.".to_string(),
                },
            )),
            _ => {
                let why = match self.reason.as_deref() {
                    Some("access_denied") => "access was denied in HubSpot".to_string(),
                    Some("missing_scopes") => format!(
                        "HubSpot did not grant the required scopes: {}",
                        self.missing_scopes.as_deref().unwrap_or("unknown")
                    ),
                    Some("code_rejected") => "HubSpot rejected the authorization".to_string(),
                    Some(other) => other.replace('_', " "),
                    None => "unknown reason".to_string(),
                };
                Some((false, format!("HubSpot was not connected: {why}.")))
            }
        }
    }
}

fn status_label(status: &str) -> &'static str {
    match status {
        "connected" => "Connected",
        "needs_reconnection" => "Needs reconnection",
        "disconnected" => "Disconnected",
        _ => "Error",
    }
}

fn connect_button(csrf: &str, text: &str) -> Markup {
    html! {
        form.inline method="post" action={ (PATH) "/connect" } {
            (csrf_input(csrf))
            button type="submit" { (text) }
        }
    }
}

fn connector_card(csrf: &str, c: &ConnectorView) -> Markup {
    let broken = matches!(
        c.status.as_str(),
        "needs_reconnection" | "disconnected" | "error"
    );
    html! {
        section aria-label={ "Portal " (c.portal_id) } {
            dl {
                dt { "Connection status" }
                dd {
                    span class={ "status-" (c.status) } data-status=(c.status) { (status_label(&c.status)) }
                    @if let Some(reason) = &c.status_reason { " — " (reason) }
                }
                dt { "Portal ID" }
                dd { a href={ "https://app.hubspot.com/contacts/" (c.portal_id) } rel="noopener" target="_blank" data-portal-id=(c.portal_id) { (c.portal_id) } }
                dt { "Connected with" }
                dd { (if c.auth_kind == "oauth" { "OAuth" } else { "Private app token" }) }
                @if let Some(u) = &c.connected_user { dt { "Connected by" } dd { (u) } }
                dt { "Last sync" }
                dd {
                    @match c.last_sync_at {
                        Some(t) => time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) },
                        None => span.muted { "Never" },
                    }
                }
            }
            @if broken { (connect_button(csrf, "Reconnect")) " " }
            @if c.status != "disconnected" {
                form.inline method="post" action={ (PATH) "/connectors/" (c.id) "/disconnect" } {
                    (csrf_input(csrf))
                    button.danger type="submit" { "Disconnect" }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &AdminUser,
    notice: Option<(bool, String)>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let user = &admin.0;
    let mut connectors = Vec::new();
    for c in state.store.list_connectors(user.user.workspace_id).await? {
        connectors.push(view(state, c).await?);
    }
    let any_connected = connectors.iter().any(|c| c.status == "connected");
    let body = html! {
        h1 { "Integrations → HubSpot" }
        @if let Some((ok, message)) = &notice { (flash(*ok, message)) }
        @if connectors.is_empty() {
            section {
                dl {
                    dt { "Connection status" }
                    dd { span.status-disconnected data-status="disconnected" { "Disconnected" } }
                }
            }
        }
        @for c in &connectors { (connector_card(&user.csrf, c)) }
        section {
            h2 { @if any_connected { "Connect another portal" } @else { "Connect HubSpot" } }
            p { "You sign in to HubSpot, choose the portal and approve; then you come back here." }
            (connect_button(&user.csrf, "Connect"))
        }
        section {
            h2 { "Connect with a private app token" }
            form method="post" action={ (PATH) "/token" } {
                (csrf_input(&user.csrf))
                label for="access_token" { "Private app access token" }
                input #access_token type="password" name="access_token" required autocomplete="off";
                p { button type="submit" { "Connect with a private app token" } }
            }
        }
    };
    Ok((
        status,
        page(
            user,
            "Integrations → HubSpot",
            Nav::IntegrationsHubspot,
            body,
        ),
    )
        .into_response())
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(outcome): Query<Outcome>,
) -> Result<Response, ConsoleError> {
    render(&state, &admin, outcome.notice(), StatusCode::OK).await
}

/// *Connect* / *Reconnect*: to HubSpot's consent page, back to this page.
pub async fn connect(
    State(state): State<AppState>,
    admin: AdminUser,
) -> Result<Response, ConsoleError> {
    let user = &admin.0.user;
    match begin_authorize(
        &state,
        user.workspace_id,
        Some(user.id),
        Some(PATH.to_string()),
    )
    .await
    {
        Ok(a) => Ok((StatusCode::SEE_OTHER, [(header::LOCATION, a.authorize_url)]).into_response()),
        Err(e @ ApiError::Unavailable(_)) => {
            render(&state, &admin, Some((false, e.to_string())), e.status()).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub access_token: String,
}

/// *Connect with a private app token*; HubSpot's refusal is shown on the page.
pub async fn connect_token(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<TokenForm>,
) -> Result<Response, ConsoleError> {
    match connect_with_token(&state, admin.0.user.workspace_id, &form.access_token).await {
        Ok(c) => Ok(Redirect::to(&format!(
            "{PATH}?hubspot=connected&portalId={}",
            c.portal_id
        ))
        .into_response()),
        Err(
            e @ (ApiError::Unprocessable(_) | ApiError::Conflict(_) | ApiError::Unavailable(_)),
        ) => {
            let message = format!("HubSpot was not connected: {e}.");
            render(&state, &admin, Some((false, message)), e.status()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// *Disconnect*: another workspace's connector is a 404, as in the API.
pub async fn disconnect_connector(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("connector"))?;
    let done = disconnect(&state, admin.0.user.workspace_id, id).await?;
    Ok(Redirect::to(&format!("{PATH}?disconnected={}", done.connector.portal_id)).into_response())
}

/// A HubSpot settings page while no portal is connected: where to connect one.
pub fn connect_first(user: &ConsoleUser, title: &str, nav: Nav) -> Markup {
    let body = html! {
        h1 { (title) }
        p { "Connect HubSpot first: " a href=(PATH) { "Integrations → HubSpot" } "." }
    };
    page(user, title, nav, body)
}
