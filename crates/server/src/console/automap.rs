//! *Auto-Map Fields* on Field Mappings: the review of the auto-mapping API's
//! suggestions (`POST /api/crm/hubspot/automap`'s `suggest`) for one object —
//! per Keva field the proposed HubSpot property by label and internal name, the
//! confidence, the reason, the direction and the alternatives — where each row is
//! accepted or rejected and its property (the suggestion, an alternative or any
//! portal property) and direction may be changed. *Save accepted mappings* merges
//! the accepted rows into the current mappings and saves them through the mapping
//! editor's own path (`mappings::save`, the API's validation): on a refusal
//! nothing is saved and the review comes back with the error and the choices made.
//!
//! Keva fields are handled by their string keys (built-ins and custom attributes
//! alike), so this page does not depend on how the core represents them.

use std::collections::BTreeMap;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use keva_core::{Direction, KevaField, ObjectKind, PropertyInfo};
use keva_store::Connector;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::mappings::{
    direction_label, field_label, mapping_from, property_label, target, url_for, AddForm,
};
use super::session::AdminUser;
use crate::api::crm::automap::{suggest, AutomapRequest, AutomapSuggestion};
use crate::api::crm::mappings::{current, defined_keys, portal_properties, save};
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path (GET reviews, POST saves).
pub const PATH: &str = "/settings/crm-sync/hubspot/mappings/automap";

/// Suggestions at or above this confidence start out accepted.
const ACCEPT_FROM: f64 = 0.5;

#[derive(Debug, Default, Deserialize)]
pub struct ReviewQuery {
    pub object: Option<String>,
}

/// One row as the person left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Choice {
    accept: bool,
    property: String,
    direction: String,
}

/// The automap API's name of an object.
fn api_object(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "contacts",
        ObjectKind::Company => "companies",
    }
}

fn key_label(key: &str) -> String {
    KevaField::builtin(key).map_or_else(|| key.to_string(), |f| field_label(f).to_string())
}

/// The HubSpot properties the suggestion stands for (`firstname, lastname` for Name).
fn suggested_properties(s: &AutomapSuggestion) -> Option<String> {
    let first = s.property.as_ref()?;
    Some(
        std::iter::once(first)
            .chain(s.also.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn default_choice(s: &AutomapSuggestion) -> Choice {
    Choice {
        accept: s.property.is_some() && s.confidence >= ACCEPT_FROM,
        property: suggested_properties(s).unwrap_or_default(),
        direction: s.direction.as_str().to_string(),
    }
}

async fn suggestions(
    state: &AppState,
    admin: &AdminUser,
    object: ObjectKind,
    connector: &Connector,
) -> Result<Vec<AutomapSuggestion>, ApiError> {
    let request = AutomapRequest {
        connector_id: connector.id,
        object: api_object(object).to_string(),
    };
    Ok(suggest(state, admin.0.user.workspace_id, &request)
        .await?
        .suggestions)
}

/// The review page; `choices` (from a refused save) override the defaults.
async fn render(
    state: &AppState,
    admin: &AdminUser,
    object: ObjectKind,
    connector: &Connector,
    choices: &BTreeMap<String, Choice>,
    notice: Option<(bool, String)>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let user = &admin.0;
    let list = suggestions(state, admin, object, connector).await?;
    // The describe cache: every portal property may be chosen instead.
    let props = portal_properties(state, connector, object, false)
        .await
        .unwrap_or_default();
    let title = "Auto-Map Fields";
    let body = html! {
        p { a href=(url_for(object, "")) { "← Field Mappings" } }
        h1 { (title) " · " (object.as_str()) }
        @if let Some((ok, message)) = &notice { (flash(*ok, message)) }
        p.muted { "For every Keva field not mapped yet: the HubSpot property auto-mapping proposes, how sure it is, and why. Accept, reject or change each row, then save the accepted ones; they join the current mappings." }
        @if list.is_empty() {
            section { p { "Every Keva field is mapped already: nothing to suggest." } }
        } @else {
            form method="post" action=(PATH) {
                (csrf_input(&user.csrf))
                input type="hidden" name="object" value=(object.as_str());
                section {
                    div style="overflow-x:auto" {
                        table #automap {
                            thead { tr {
                                th { "Keva field" } th { "Proposed HubSpot property" } th { "Confidence" }
                                th { "Reason" } th { "Alternatives" } th { "Decision" } th { "Property" } th { "Direction" }
                            } }
                            tbody { @for s in &list { (row(s, &props, choices.get(&s.key))) } }
                        }
                    }
                    p { button type="submit" { "Save accepted mappings" } }
                }
            }
        }
    };
    Ok((status, page(user, title, Nav::Mappings, body)).into_response())
}

fn row(s: &AutomapSuggestion, props: &[PropertyInfo], chosen: Option<&Choice>) -> Markup {
    let choice = chosen.cloned().unwrap_or_else(|| default_choice(s));
    let key = &s.key;
    let suggested = suggested_properties(s);
    // The suggestion and the alternatives first, then any other portal property.
    let mut offered: Vec<(String, String)> = Vec::new();
    if let Some(p) = &suggested {
        offered.push((
            p.clone(),
            format!("{} ({p})", s.label.as_deref().unwrap_or(p)),
        ));
    }
    for a in &s.alternatives {
        let label = a.label.as_deref().unwrap_or(&a.property);
        offered.push((
            a.property.clone(),
            format!("{label} ({}) — alternative", a.property),
        ));
    }
    let others: Vec<&PropertyInfo> = props
        .iter()
        .filter(|p| !offered.iter().any(|(v, _)| *v == p.name))
        .collect();
    let known = offered.iter().any(|(v, _)| *v == choice.property)
        || others.iter().any(|p| p.name == choice.property);
    let label_of = |name: &str| {
        props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.label.clone())
    };
    html! {
        tr data-key=(key) data-property=[s.property.as_deref()] {
            td { (key_label(key)) br; span.muted { (key) } input type="hidden" name="key" value=(key); }
            td {
                @match &s.property {
                    Some(p) => {
                        (s.label.clone().or_else(|| label_of(p)).unwrap_or_else(|| p.clone()))
                        " " span.muted { "(" (p) ")" }
                        @for a in &s.also { " + " (property_label(props, a)) }
                    },
                    None => span.muted { "No match" },
                }
            }
            td data-confidence=(format!("{:.2}", s.confidence)) { (format!("{:.0}%", s.confidence * 100.0)) }
            td { (s.reason) }
            td {
                @if s.alternatives.is_empty() { span.muted { "—" } }
                @for a in &s.alternatives {
                    div { (a.label.as_deref().unwrap_or(&a.property)) " " span.muted { "(" (a.property) ", " (format!("{:.0}%", a.confidence * 100.0)) ")" } }
                }
            }
            td {
                fieldset style="border:0;padding:0;margin:0" {
                    legend.visually-hidden { "Use a property for " (key) "?" }
                    label style="font-weight:normal;display:block;white-space:nowrap;margin:0" {
                        input type="radio" name={ "decision." (key) } value="accept" checked[choice.accept]; " Accept"
                    }
                    label style="font-weight:normal;display:block;white-space:nowrap;margin:0" {
                        input type="radio" name={ "decision." (key) } value="reject" checked[!choice.accept]; " Reject"
                    }
                }
            }
            td {
                label.visually-hidden for={ "property." (key) } { "HubSpot property for " (key) }
                select id={ "property." (key) } name={ "property." (key) } style="min-width:14rem" {
                    option value="" selected[choice.property.is_empty()] { "— choose —" }
                    @if !known && !choice.property.is_empty() {
                        option value=(choice.property) selected { (choice.property) }
                    }
                    @for (value, text) in &offered {
                        option value=(value) selected[*value == choice.property] { (text) }
                    }
                    @if !others.is_empty() {
                        optgroup label="All properties" {
                            @for p in &others {
                                option value=(p.name) selected[p.name == choice.property] { (p.label) " (" (p.name) ")" }
                            }
                        }
                    }
                }
            }
            td {
                label.visually-hidden for={ "direction." (key) } { "Direction for " (key) }
                select id={ "direction." (key) } name={ "direction." (key) } style="min-width:9rem" {
                    @for d in [Direction::Bidirectional, Direction::ToCrm, Direction::FromCrm] {
                        option value=(d.as_str()) selected[choice.direction == d.as_str()] { (direction_label(d)) }
                    }
                }
            }
        }
    }
}

/// *Auto-Map Fields*: the suggestions for the object, to review.
pub async fn review(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<ReviewQuery>,
) -> Result<Response, ConsoleError> {
    let (object, connector) = target(&state, &admin, q.object.as_deref()).await?;
    render(
        &state,
        &admin,
        object,
        &connector,
        &BTreeMap::new(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The mapping target a suggestion's key names: auto-map keys a custom
/// attribute by its bare key (`mrr`), a mapping by its wire name
/// (`attributes.mrr`).
fn mapping_field(key: &str) -> String {
    match KevaField::builtin(key) {
        Some(_) => key.to_string(),
        None => format!("{}{key}", keva_core::AttributeKey::PREFIX),
    }
}

/// The rows of the review form, by Keva field key, in the page's order.
fn choices_from(fields: &[(String, String)]) -> Vec<(String, Choice)> {
    let value = |name: String| {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut out: Vec<(String, Choice)> = Vec::new();
    for (name, key) in fields {
        if name != "key" || out.iter().any(|(k, _)| k == key) {
            continue;
        }
        let choice = Choice {
            accept: value(format!("decision.{key}")) == "accept",
            property: value(format!("property.{key}")),
            direction: value(format!("direction.{key}")),
        };
        out.push((key.clone(), choice));
    }
    out
}

/// *Save accepted mappings*: the accepted rows replace those fields' mappings (or
/// join them), validated and saved like the mapping editor's *Save*.
pub async fn save_accepted(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let object_raw = fields
        .iter()
        .find(|(k, _)| k == "object")
        .map(|(_, v)| v.as_str());
    let (object, connector) = target(&state, &admin, object_raw).await?;
    let rows = choices_from(&fields);
    let choices: BTreeMap<String, Choice> = rows.iter().cloned().collect();
    let (st, ad, con, ch) = (&state, &admin, &connector, &choices);
    let refused = |message: String| async move {
        render(
            st,
            ad,
            object,
            con,
            ch,
            Some((false, format!("Not saved: {message}"))),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    };
    let defined = defined_keys(&state, connector.workspace_id).await?;
    let mut accepted = Vec::new();
    let mut problems = Vec::new();
    for (key, c) in rows.iter().filter(|(_, c)| c.accept) {
        let form = AddForm {
            object: None,
            keva_field: mapping_field(key),
            hubspot_property: c.property.clone(),
            direction: Some(c.direction.clone()),
            transform: None,
            default: None,
        };
        match mapping_from(&form, &defined) {
            Ok(m) => accepted.push(m),
            Err(why) => problems.push(format!("{key}: {why}")),
        }
    }
    if !problems.is_empty() {
        return refused(format!("{}.", problems.join("; "))).await;
    }
    let count = accepted.len();
    if count == 0 {
        return Ok(Redirect::to(&url_for(object, "&automapped=0")).into_response());
    }
    let mut mappings = current(&state, &connector, object).await?.mappings;
    mappings.retain(|m| !accepted.iter().any(|a| a.keva_field == m.keva_field));
    mappings.extend(accepted);
    match save(&state, &connector, object, &mappings).await {
        Ok(_) => {
            Ok(Redirect::to(&url_for(object, &format!("&automapped={count}"))).into_response())
        }
        Err(e @ ApiError::Unprocessable(_)) => refused(e.to_string()).await,
        Err(e) => Err(e.into()),
    }
}
