//! *Settings → CRM Sync → HubSpot → Field Mappings*: the object type (*Contact* /
//! *Company*), the mapping table (Keva field, HubSpot property by label and
//! internal name, direction, transformation, default), *Add Mapping* (a Keva-field
//! dropdown of the built-in fields and the workspace's live custom attributes
//! as `attributes.<key>`, a HubSpot-property field searchable through the browser's own list of
//! the portal's properties from describe, direction, optional transformation and
//! default), *Remove*, *Refresh Properties*, *Test Mapping*, the connector's
//! conflict policy and the way into *Auto-Map Fields* (`automap`). Saving goes
//! through the API's own validation and save (`mappings::save`): on error nothing
//! is saved and the API's message is shown next to the form ("use jobtitle, not
//! Job Title"). The conflict policy is saved by the connector settings API's own
//! `update_settings`, with its validation.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::BTreeSet;

use keva_core::{
    AttributeKey, ConflictPolicy, Direction, FieldMapping, FieldName, KevaField, ObjectKind,
    PropertyInfo, Transform,
};
use keva_store::Connector;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::AdminUser;
use crate::api::crm::connector_for;
use crate::api::crm::connectors::{update_settings, UpdateSettings};
use crate::api::crm::mappings::{current, defined_keys, object_kind, portal_properties, save};
use crate::api::crm::sync_now::{dry_run, TestMappingResult};
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path.
pub const PATH: &str = "/settings/crm-sync/hubspot/mappings";

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub object: Option<String>,
    pub saved: Option<String>,
    pub refreshed: Option<usize>,
    pub policy: Option<String>,
    pub automapped: Option<usize>,
}

/// What the Add Mapping form sent (kept on the page when it is refused).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AddForm {
    pub object: Option<String>,
    pub keva_field: String,
    pub hubspot_property: String,
    pub direction: Option<String>,
    pub transform: Option<String>,
    pub default: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ObjectForm {
    pub object: Option<String>,
    pub keva_field: Option<String>,
}

pub(super) fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::Bidirectional => "Bidirectional",
        Direction::ToCrm => "To CRM",
        Direction::FromCrm => "From CRM",
    }
}

pub(super) fn field_label(f: KevaField) -> &'static str {
    match f {
        KevaField::Email => "Email",
        KevaField::Name => "Name",
        KevaField::Phone => "Phone",
        KevaField::Company => "Company",
        KevaField::JobTitle => "Job title",
        KevaField::Location => "Location",
        KevaField::Notes => "Notes",
        KevaField::Attribute(k) => k.wire(),
    }
}

pub(super) fn property_label(props: &[PropertyInfo], name: &str) -> Markup {
    match props.iter().find(|p| p.name == name) {
        Some(p) => html! { (p.label) " " span.muted { "(" (p.name) ")" } },
        None => html! { (name) },
    }
}

pub(super) fn url_for(object: ObjectKind, extra: &str) -> String {
    format!("{PATH}?object={}{extra}", object.as_str())
}

async fn connector(state: &AppState, admin: &AdminUser) -> Result<Connector, ConsoleError> {
    Ok(connector_for(state, admin.0.user.workspace_id, None).await?)
}

/// What a form acts on: its object type and the workspace's connector.
pub(super) async fn target(
    state: &AppState,
    admin: &AdminUser,
    object: Option<&str>,
) -> Result<(ObjectKind, Connector), ConsoleError> {
    Ok((object_kind(object)?, connector(state, admin).await?))
}

struct View<'a> {
    object: ObjectKind,
    notice: Option<(bool, String)>,
    form: Option<&'a AddForm>,
    status: StatusCode,
    /// Customers to choose for Test Mapping (filled by `render`).
    customers: Vec<keva_store::Customer>,
    test: Option<TestMappingResult>,
}

impl<'a> View<'a> {
    fn new(object: ObjectKind, status: StatusCode) -> Self {
        View {
            object,
            notice: None,
            form: None,
            status,
            customers: Vec::new(),
            test: None,
        }
    }
}

fn test_result(t: &TestMappingResult) -> Markup {
    html! {
        div #test-mapping-result {
            h3 { "Preview" }
            @if t.preview.is_empty() { p.muted { "Nothing would be sent." } }
            @else {
                table {
                    thead { tr { th { "HubSpot property" } th { "Value" } } }
                    tbody { @for (k, v) in &t.preview { tr data-property=(k) { td { (k) } td { (v) } } } }
                }
            }
            @if !t.warnings.is_empty() {
                h3 { "Warnings" }
                ul { @for w in &t.warnings { li { (w) } } }
            }
            @if !t.errors.is_empty() {
                h3 { "Errors" }
                ul { @for e in &t.errors { li { (e) } } }
            }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &AdminUser,
    mut view: View<'_>,
) -> Result<Response, ConsoleError> {
    let user = &admin.0;
    view.customers = state
        .store
        .list_customers(user.user.workspace_id, None, 100)
        .await?;
    let object = view.object;
    let title = "CRM Sync → HubSpot → Field Mappings";
    let connector = match connector_for(state, user.user.workspace_id, None).await {
        Ok(c) => c,
        Err(ApiError::NotFound(_)) => {
            return Ok((
                view.status,
                super::integrations::connect_first(user, title, Nav::Mappings),
            )
                .into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let mappings = current(state, &connector, object).await?;
    // Retired attributes are left out: they can no longer be written, so a
    // mapping to one would be refused on save.
    let attributes = state
        .store
        .list_attributes(user.user.workspace_id, false)
        .await?;
    let (props, props_error) = match portal_properties(state, &connector, object, false).await {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let form = view.form.cloned().unwrap_or_default();
    let chosen_direction = form.direction.as_deref().unwrap_or("bidirectional");
    let chosen_transform = form.transform.as_deref().unwrap_or("none");
    let body = html! {
        h1 { (title) }
        @if let Some((ok, message)) = &view.notice { (flash(*ok, message)) }
        @if let Some(e) = &props_error { (flash(false, &format!("HubSpot's property list could not be read: {e}"))) }
        nav aria-label="Object type" {
            p {
                "Object type: "
                @for o in [ObjectKind::Contact, ObjectKind::Company] {
                    @if o == object { strong aria-current="page" { (o.as_str()) } }
                    @else { a href=(url_for(o, "")) { (o.as_str()) } }
                    " "
                }
            }
        }
        section {
            h2 { "Mappings" }
            div style="overflow-x:auto" {
                table {
                    thead { tr { th { "Keva field" } th { "HubSpot property" } th { "Direction" } th { "Transformation" } th { "Default" } th { span.muted { "Action" } } } }
                    tbody {
                        @for m in &mappings.mappings {
                            tr data-keva-field=(m.keva_field.as_str()) {
                                td { (field_label(m.keva_field)) }
                                td {
                                    @for (i, p) in m.hubspot_properties.iter().enumerate() {
                                        @if i > 0 { " + " }
                                        (property_label(&props, p))
                                    }
                                }
                                td data-direction=(m.direction.as_str()) { (direction_label(m.direction)) }
                                td { (m.transform.map(|t| t.as_str()).unwrap_or("none")) }
                                td { (m.default.as_deref().unwrap_or("")) }
                                td {
                                    form.inline method="post" action={ (PATH) "/remove" } {
                                        (csrf_input(&user.csrf))
                                        input type="hidden" name="object" value=(object.as_str());
                                        input type="hidden" name="keva_field" value=(m.keva_field.as_str());
                                        button.secondary type="submit" aria-label={ "Remove the " (field_label(m.keva_field)) " mapping" } { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Add Mapping" }
            p.muted { "Replaces the Keva field's current mapping. For Name, two properties separated by a comma (firstname, lastname)." }
            form method="post" action={ (PATH) "/add" } {
                (csrf_input(&user.csrf))
                input type="hidden" name="object" value=(object.as_str());
                label for="keva_field" { "Keva field" }
                select #keva_field name="keva_field" {
                    @for f in KevaField::ALL {
                        option value=(f.as_str()) selected[form.keva_field == f.as_str()] { (field_label(f)) }
                    }
                    @if !attributes.is_empty() {
                        optgroup label="Custom attributes" {
                            @for d in &attributes {
                                @let wire = format!("{}{}", AttributeKey::PREFIX, d.key);
                                option value=(wire) selected[form.keva_field == wire] { (d.label) " (" (wire) ")" }
                            }
                        }
                    }
                }
                label for="hubspot_property" { "HubSpot property" }
                input #hubspot_property type="text" name="hubspot_property" list="hubspot-properties"
                    value=(form.hubspot_property) required autocomplete="off";
                datalist #hubspot-properties {
                    @for p in &props { option value=(p.name) { (p.label) " (" (p.name) ")" } }
                }
                label for="direction" { "Direction" }
                select #direction name="direction" {
                    @for d in [Direction::Bidirectional, Direction::ToCrm, Direction::FromCrm] {
                        option value=(d.as_str()) selected[chosen_direction == d.as_str()] { (direction_label(d)) }
                    }
                }
                label for="transform" { "Transformation (optional)" }
                select #transform name="transform" {
                    @for t in Transform::ALL {
                        option value=(t.as_str()) selected[chosen_transform == t.as_str()] { (t.as_str()) }
                    }
                }
                label for="default" { "Default (optional)" }
                input #default type="text" name="default" value=(form.default.as_deref().unwrap_or(""));
                p { button type="submit" { "Save" } }
            }
        }
        section {
            h2 { "Auto-Map Fields" }
            p.muted { "Suggestions for the Keva fields not mapped yet, with confidence and reason: review each, then save the ones you accept." }
            form method="get" action=(super::automap::PATH) {
                input type="hidden" name="object" value=(object.as_str());
                button.secondary type="submit" { "Auto-Map Fields" }
            }
        }
        section {
            h2 { "Conflict policy" }
            p.muted { "Which side wins when a field changed in Keva and in HubSpot since they last agreed. An empty value never overwrites a filled one unless it is the newer change." }
            form method="post" action={ (PATH) "/conflict-policy" } {
                (csrf_input(&user.csrf))
                input type="hidden" name="object" value=(object.as_str());
                label for="conflict_policy" { "Conflict policy" }
                select #conflict_policy name="conflict_policy" {
                    @for p in ConflictPolicy::ALL {
                        option value=(p.as_str()) selected[*p == connector.conflict_policy] { (policy_label(*p)) }
                    }
                }
                p { button type="submit" { "Save conflict policy" } }
            }
        }
        @if object == ObjectKind::Company {
            section {
                h2 { "Test Mapping" }
                p.muted { "Test Mapping previews what a customer's Contact mappings would send to HubSpot. Company mappings only read from HubSpot, and the API's dry run covers contacts, so there is no Company preview: see a customer's profile for the company as read." }
            }
        }
        @if object == ObjectKind::Contact {
            section {
                h2 { "Test Mapping" }
                p.muted { "A dry run with a customer: what would be sent to HubSpot. Nothing is written." }
                form method="post" action={ (PATH) "/test" } {
                    (csrf_input(&user.csrf))
                    label for="test_customer" { "Customer" }
                    select #test_customer name="customer_id" {
                        @for c in &view.customers { option value=(c.id) { (c.email) } }
                    }
                    p { button.secondary type="submit" { "Test Mapping" } }
                }
                @if let Some(t) = &view.test { (test_result(t)) }
            }
        }
        section {
            h2 { "Properties" }
            p { (props.len()) " " (object.as_str()) " properties known from HubSpot." }
            form method="post" action={ (PATH) "/refresh" } {
                (csrf_input(&user.csrf))
                input type="hidden" name="object" value=(object.as_str());
                button.secondary type="submit" { "Refresh Properties" }
            }
        }
    };
    Ok((view.status, page(user, title, Nav::Mappings, body)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<PageQuery>,
) -> Result<Response, ConsoleError> {
    let object = object_kind(q.object.as_deref())?;
    let notice = match (q.saved.as_deref(), q.refreshed, q.automapped) {
        (Some(f), _, _) => Some((true, format!("Saved the {f} mapping."))),
        (_, Some(n), _) => Some((true, format!("Refreshed: {n} properties."))),
        (_, _, Some(0)) => Some((true, "No suggestion was accepted: nothing changed.".into())),
        (_, _, Some(n)) => Some((
            true,
            format!("Saved {n} accepted mapping(s) from Auto-Map."),
        )),
        _ => q
            .policy
            .as_deref()
            .and_then(ConflictPolicy::parse)
            .map(|p| (true, format!("Conflict policy saved: {}.", policy_label(p)))),
    };
    let view = View {
        notice,
        ..View::new(object, StatusCode::OK)
    };
    render(&state, &admin, view).await
}

/// The mapping the form describes, or what is wrong with it. An attribute must
/// be one of `defined` (the workspace's keys): the form's text is a request's,
/// so it is never interned unchecked (see `keva_core::FieldName`).
pub(super) fn mapping_from(
    form: &AddForm,
    defined: &BTreeSet<String>,
) -> Result<FieldMapping, String> {
    let field = FieldName::parse(&form.keva_field)
        .ok_or_else(|| format!("unknown Keva field {:?}", form.keva_field))?
        .resolve(|k| defined.contains(k))?;
    let properties: Vec<String> = form
        .hubspot_property
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if properties.is_empty() {
        return Err("choose a HubSpot property".into());
    }
    let direction = match form.direction.as_deref() {
        None | Some("") => Direction::Bidirectional,
        Some(d) => Direction::parse(d).ok_or_else(|| format!("unknown direction {d:?}"))?,
    };
    let transform = match form.transform.as_deref() {
        None | Some("") | Some("none") => None,
        Some(t) => {
            Some(Transform::parse(t).ok_or_else(|| format!("unknown transformation {t:?}"))?)
        }
    };
    Ok(FieldMapping {
        keva_field: field,
        hubspot_properties: properties,
        direction,
        transform,
        default: form
            .default
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        attribute: None,
        phone_region: None,
    })
}

/// *Save* of Add Mapping: the field's mapping replaced, validated by the API.
pub async fn add(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<AddForm>,
) -> Result<Response, ConsoleError> {
    let (object, connector) = target(&state, &admin, form.object.as_deref()).await?;
    let refused = |message: String, status: StatusCode| View {
        notice: Some((false, message)),
        form: Some(&form),
        ..View::new(object, status)
    };
    let defined = defined_keys(&state, connector.workspace_id).await?;
    let mapping = match mapping_from(&form, &defined) {
        Ok(m) => m,
        Err(why) => {
            let view = refused(
                format!("Not saved: {why}."),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
            return render(&state, &admin, view).await;
        }
    };
    let mut mappings = current(&state, &connector, object).await?.mappings;
    mappings.retain(|m| m.keva_field != mapping.keva_field);
    mappings.push(mapping.clone());
    let done = format!("&saved={}", mapping.keva_field.as_str());
    save_then_show(&state, &admin, &connector, object, &mappings, &done, |e| {
        refused(format!("Not saved: {e}"), e.status())
    })
    .await
}

/// *Remove*: the field's mapping dropped (validated and saved like any change).
pub async fn remove(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<ObjectForm>,
) -> Result<Response, ConsoleError> {
    let (object, connector) = target(&state, &admin, form.object.as_deref()).await?;
    // Matched against the saved mappings by name, so nothing is interned.
    let field = form
        .keva_field
        .as_deref()
        .and_then(FieldName::parse)
        .ok_or_else(|| ConsoleError::BadRequest("unknown Keva field".into()))?;
    let mut mappings = current(&state, &connector, object).await?.mappings;
    mappings.retain(|m| !field.names(m.keva_field));
    save_then_show(&state, &admin, &connector, object, &mappings, "", |e| {
        View {
            notice: Some((false, format!("Not removed: {e}"))),
            ..View::new(object, e.status())
        }
    })
    .await
}

/// Saves `mappings` through the API's validation: then back to the page (with
/// `done` in its query), or, refused, the page as `refused` shows it.
async fn save_then_show<'a>(
    state: &AppState,
    admin: &AdminUser,
    connector: &Connector,
    object: ObjectKind,
    mappings: &[FieldMapping],
    done: &str,
    refused: impl FnOnce(&ApiError) -> View<'a>,
) -> Result<Response, ConsoleError> {
    match save(state, connector, object, mappings).await {
        Ok(_) => Ok(Redirect::to(&url_for(object, done)).into_response()),
        Err(e @ ApiError::Unprocessable(_)) => render(state, admin, refused(&e)).await,
        Err(e) => Err(e.into()),
    }
}

/// *Refresh Properties*: describe re-fetched from HubSpot.
pub async fn refresh(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<ObjectForm>,
) -> Result<Response, ConsoleError> {
    let (object, connector) = target(&state, &admin, form.object.as_deref()).await?;
    let props = portal_properties(&state, &connector, object, true).await?;
    Ok(Redirect::to(&url_for(object, &format!("&refreshed={}", props.len()))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct TestForm {
    pub customer_id: String,
}

/// *Test Mapping*: the dry run's preview, warnings and errors on the page.
pub async fn test(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<TestForm>,
) -> Result<Response, ConsoleError> {
    let ws = admin.0.user.workspace_id;
    let connector = connector(&state, &admin).await?;
    let customer_id =
        uuid::Uuid::parse_str(&form.customer_id).map_err(|_| ApiError::NotFound("customer"))?;
    let result = dry_run(&state, ws, connector.id, customer_id).await?;
    let view = View {
        test: Some(result),
        ..View::new(ObjectKind::Contact, StatusCode::OK)
    };
    render(&state, &admin, view).await
}

fn policy_label(p: ConflictPolicy) -> &'static str {
    match p {
        ConflictPolicy::NewestWins => "Newest change wins",
        ConflictPolicy::KevaWins => "Keva wins",
        ConflictPolicy::HubspotWins => "HubSpot wins",
    }
}

#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    pub object: Option<String>,
    pub conflict_policy: String,
}

/// *Save conflict policy*: the connector settings API's own update, so the same
/// values are accepted and the same ones refused.
pub async fn conflict_policy(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<PolicyForm>,
) -> Result<Response, ConsoleError> {
    let (object, connector) = target(&state, &admin, form.object.as_deref()).await?;
    let change = UpdateSettings {
        conflict_policy: Some(form.conflict_policy.clone()),
        ..UpdateSettings::default()
    };
    match update_settings(&state, admin.0.user.workspace_id, connector.id, change).await {
        Ok(v) => {
            let done = format!("&policy={}", v.settings.conflict_policy);
            Ok(Redirect::to(&url_for(object, &done)).into_response())
        }
        Err(e @ ApiError::Unprocessable(_)) => {
            let view = View {
                notice: Some((false, format!("Not saved: {e}"))),
                ..View::new(object, e.status())
            };
            render(&state, &admin, view).await
        }
        Err(e) => Err(e.into()),
    }
}
