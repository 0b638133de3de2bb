//! One portal's records and the operations on them (create, update, archive,
//! restore, merge, associate), each validating like HubSpot and collecting the
//! `ChangeEvent`s it causes.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::properties::{invalid_values_error, value_text, PropertyRegistry};
use super::record::Record;
use super::{iso_ms, normalize_email, Actor, ObjectType};
use crate::error::ErrorResponse;
use crate::events::{ChangeEvent, EventKind};

/// Records of one object type.
#[derive(Debug, Default)]
pub struct ObjectTable {
    /// Ordered by id, for paging and `hs_object_id` ranges.
    pub records: BTreeMap<u64, Record>,
    /// Live records by (last modified, id), for "modified since" searches.
    pub by_updated: BTreeSet<(i64, u64)>,
    live: usize,
}

/// What a read asks for: `properties`, `propertiesWithHistory`, `associations`.
#[derive(Debug, Clone, Default)]
pub struct ReadOpts {
    /// `None`: the type's default properties.
    pub properties: Option<Vec<String>>,
    pub properties_with_history: Vec<String>,
    pub associations: Vec<ObjectType>,
}

pub struct PortalData {
    pub portal_id: u64,
    tables: [ObjectTable; 3],
    pub props: [PropertyRegistry; 3],
    /// Lowercased email → live contact id (merged-away emails point at the survivor).
    email_index: HashMap<String, u64>,
    next_id: u64,
    /// Deal pipelines, the default one first.
    pub pipelines: Vec<super::pipelines::Pipeline>,
}

/// HubSpot's default association type ids (from → to), with their primary variants.
pub fn default_type_id(from: ObjectType, to: ObjectType) -> Option<u32> {
    use ObjectType::*;
    match (from, to) {
        (Contacts, Companies) => Some(279),
        (Companies, Contacts) => Some(280),
        (Contacts, Deals) => Some(4),
        (Deals, Contacts) => Some(3),
        (Deals, Companies) => Some(341),
        (Companies, Deals) => Some(342),
        _ => None,
    }
}

/// The type id of the same association seen from the other side.
pub fn inverse_type_id(id: u32) -> u32 {
    match id {
        279 => 280,
        280 => 279,
        1 => 2,
        2 => 1,
        4 => 3,
        3 => 4,
        341 => 342,
        342 => 341,
        5 => 6,
        6 => 5,
        other => other,
    }
}

/// HUBSPOT_DEFINED for the built-in ids, USER_DEFINED otherwise.
pub fn type_category(id: u32) -> &'static str {
    match id {
        1..=6 | 279 | 280 | 341 | 342 => "HUBSPOT_DEFINED",
        _ => "USER_DEFINED",
    }
}

/// The label HubSpot shows for a type id (`None` for unlabelled defaults).
pub fn type_label(id: u32) -> Option<&'static str> {
    match id {
        1 | 2 | 5 | 6 => Some("Primary"),
        _ => None,
    }
}

/// The v3 `type` string of an association, e.g. `contact_to_company_unlabeled`.
pub fn v3_type_name(from: ObjectType, to: ObjectType, id: u32) -> String {
    let base = format!("{}_to_{}", from.singular(), to.singular());
    match id {
        279 | 280 | 341 | 342 => format!("{base}_unlabeled"),
        _ => base,
    }
}

fn conflict_error(existing: u64, email: &str) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::CONFLICT,
        "CONFLICT",
        format!("Contact already exists. Existing ID: {existing}"),
    )
    .extra("error", "CONTACT_EXISTS")
    .error_detail(json!({
        "message": format!("A contact with email {email} already exists. Existing ID: {existing}"),
        "in": "email",
    }))
}

/// A contact's email and the ones merged into it (`hs_additional_emails`).
fn all_emails(record: &Record) -> Vec<String> {
    let mut out: Vec<String> = record
        .stored("email")
        .map(str::to_string)
        .into_iter()
        .collect();
    if let Some(extra) = record.stored("hs_additional_emails") {
        out.extend(
            extra
                .split(';')
                .filter(|e| !e.is_empty())
                .map(str::to_string),
        );
    }
    out
}

pub fn not_found(ty: ObjectType, id: &str) -> ErrorResponse {
    ErrorResponse::not_found(format!(
        "Object not found.  objectId are usually numeric. ({} {id})",
        ty.upper()
    ))
}

impl PortalData {
    pub fn new(portal_id: u64) -> Self {
        let now = super::now_ms();
        Self {
            portal_id,
            tables: Default::default(),
            props: ObjectType::ALL.map(|ty| PropertyRegistry::for_type(ty, now)),
            email_index: HashMap::new(),
            next_id: 101,
            pipelines: vec![super::pipelines::default_pipeline()],
        }
    }

    pub fn table(&self, ty: ObjectType) -> &ObjectTable {
        &self.tables[ty.index()]
    }

    pub fn registry(&self, ty: ObjectType) -> &PropertyRegistry {
        &self.props[ty.index()]
    }

    pub fn registry_mut(&mut self, ty: ObjectType) -> &mut PropertyRegistry {
        &mut self.props[ty.index()]
    }

    pub fn live_count(&self, ty: ObjectType) -> usize {
        self.tables[ty.index()].live
    }

    pub fn find_by_email(&self, email: &str) -> Option<u64> {
        self.email_index.get(&normalize_email(email)).copied()
    }

    pub fn record(&self, ty: ObjectType, id: u64) -> Option<&Record> {
        self.tables[ty.index()].records.get(&id)
    }

    /// Resolves a path or input id (record id, or email with `idProperty=email`) to a
    /// record id in the wanted archive state. Merged-away ids resolve to the survivor.
    pub fn resolve(
        &self,
        ty: ObjectType,
        id: &str,
        id_property: Option<&str>,
        archived: bool,
    ) -> Result<Option<u64>, ErrorResponse> {
        let table = &self.tables[ty.index()];
        let found = match id_property.filter(|p| !p.is_empty() && *p != "hs_object_id") {
            None => {
                let Ok(n) = id.trim().parse::<u64>() else {
                    return Ok(None);
                };
                let mut rec = table.records.get(&n);
                while let Some(target) = rec.and_then(|r| r.merged_into) {
                    rec = table.records.get(&target);
                }
                rec.map(|r| r.id)
            }
            Some("email") if ty == ObjectType::Contacts => {
                if archived {
                    let wanted = normalize_email(id);
                    table
                        .records
                        .values()
                        .find(|r| {
                            r.archived_ms.is_some()
                                && r.merged_into.is_none()
                                && r.stored("email") == Some(wanted.as_str())
                        })
                        .map(|r| r.id)
                } else {
                    self.find_by_email(id)
                }
            }
            Some(other) => {
                let def = self.registry(ty).get(other);
                if !def.is_some_and(|d| d.has_unique_value) {
                    return Err(ErrorResponse::validation(format!(
                        "{other} is not a unique property for {}",
                        ty.plural()
                    )));
                }
                table
                    .records
                    .values()
                    .find(|r| r.stored(other) == Some(id))
                    .map(|r| r.id)
            }
        };
        Ok(found.filter(|fid| {
            table
                .records
                .get(fid)
                .is_some_and(|r| r.archived_ms.is_some() == archived)
        }))
    }

    fn event(
        &self,
        ty: ObjectType,
        kind: EventKind,
        id: u64,
        actor: &Actor,
        now: i64,
    ) -> ChangeEvent {
        ChangeEvent::new(
            self.portal_id,
            ty.singular(),
            kind,
            id,
            actor.source.as_str(),
            actor.source_id.clone(),
            now,
        )
    }

    /// A written value as HubSpot keeps it: dates as ISO-8601 instants (they may be
    /// written as epoch milliseconds or dates), numbers trimmed.
    fn stored_text(&self, ty: ObjectType, name: &str, value: &Value) -> String {
        let text = value_text(value);
        match self.registry(ty).get(name) {
            Some(def) if def.is_date() && !text.is_empty() => super::search::parse_time_ms(&text)
                .map(iso_ms)
                .unwrap_or(text),
            Some(def) if def.is_numeric() => text.trim().to_string(),
            _ => text,
        }
    }

    /// Validates written properties (names, read-only, values) for `ty`.
    pub fn validate(
        &self,
        ty: ObjectType,
        props: &Map<String, Value>,
    ) -> Result<(), ErrorResponse> {
        let invalid = self.registry(ty).validate_write(ty, props);
        if invalid.is_empty() {
            Ok(())
        } else {
            Err(invalid_values_error(&invalid))
        }
    }

    /// Creates a record. Associations are `(to type, to id, type id)`.
    pub fn create(
        &mut self,
        ty: ObjectType,
        props: &Map<String, Value>,
        assocs: &[(ObjectType, u64, u32)],
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> Result<u64, ErrorResponse> {
        self.validate(ty, props)?;
        let email = if ty == ObjectType::Contacts {
            props
                .get("email")
                .map(value_text)
                .map(|e| normalize_email(&e))
                .filter(|e| !e.is_empty())
        } else {
            None
        };
        if let Some(email) = &email {
            if let Some(existing) = self.email_index.get(email) {
                return Err(conflict_error(*existing, email));
            }
        }
        for (to_ty, to_id, _) in assocs {
            if !self.record(*to_ty, *to_id).is_some_and(Record::is_live) {
                return Err(ErrorResponse::validation(format!(
                    "No {} with ID {to_id} exists",
                    to_ty.singular()
                )));
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut record = Record::new(id, now);
        let source_id = actor.source_id.as_deref();
        for (name, value) in props {
            let Some(arc) = self.props[ty.index()].name_arc(name) else {
                continue;
            };
            let text = if &*arc == "email" {
                email.clone().unwrap_or_default()
            } else {
                self.stored_text(ty, name, value)
            };
            record.set(&arc, &text, now, actor.source, source_id);
        }
        self.insert_new(ty, record);
        events.push(self.event(ty, EventKind::Creation, id, actor, now));
        for (to_ty, to_id, type_id) in assocs {
            self.associate(ty, id, *to_ty, *to_id, *type_id, actor, now, events)?;
        }
        Ok(id)
    }

    /// Adds a fully built live record (seeding and `create`).
    pub fn insert_new(&mut self, ty: ObjectType, record: Record) {
        let id = record.id;
        if ty == ObjectType::Contacts {
            if let Some(email) = record.stored("email") {
                self.email_index.insert(email.to_string(), id);
            }
        }
        let table = &mut self.tables[ty.index()];
        table.by_updated.insert((record.updated_ms, id));
        table.records.insert(id, record);
        table.live += 1;
        self.next_id = self.next_id.max(id + 1);
    }

    pub fn allocate_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Applies `props` to a live record; returns whether anything changed.
    pub fn update(
        &mut self,
        ty: ObjectType,
        id: u64,
        props: &Map<String, Value>,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> Result<bool, ErrorResponse> {
        self.validate(ty, props)?;
        if !self.record(ty, id).is_some_and(Record::is_live) {
            return Err(not_found(ty, &id.to_string()));
        }
        let mut new_email = None;
        if ty == ObjectType::Contacts {
            if let Some(v) = props.get("email") {
                let email = normalize_email(&value_text(v));
                if let Some(&existing) = self.email_index.get(&email) {
                    if existing != id && !email.is_empty() {
                        return Err(conflict_error(existing, &email));
                    }
                }
                new_email = Some(email);
            }
        }
        let names: Vec<(std::sync::Arc<str>, String)> = props
            .iter()
            .filter_map(|(name, value)| {
                let arc = self.props[ty.index()].name_arc(name)?;
                let text = if &*arc == "email" {
                    new_email.clone().unwrap_or_default()
                } else {
                    self.stored_text(ty, name, value)
                };
                Some((arc, text))
            })
            .collect();
        let table = &mut self.tables[ty.index()];
        let Some(record) = table.records.get_mut(&id) else {
            return Err(not_found(ty, &id.to_string()));
        };
        let old_email = record.stored("email").map(str::to_string);
        let mut changed = Vec::new();
        for (arc, text) in &names {
            if record.set(arc, text, now, actor.source, actor.source_id.as_deref()) {
                changed.push((arc.to_string(), text.clone()));
            }
        }
        if changed.is_empty() {
            return Ok(false);
        }
        let old_updated = record.updated_ms;
        record.updated_ms = now;
        table.by_updated.remove(&(old_updated, id));
        table.by_updated.insert((now, id));
        if ty == ObjectType::Contacts && new_email.is_some() && new_email != old_email {
            if let Some(old) = old_email {
                if self.email_index.get(&old) == Some(&id) {
                    self.email_index.remove(&old);
                }
            }
            if let Some(email) = new_email.filter(|e| !e.is_empty()) {
                self.email_index.insert(email, id);
            }
        }
        for (name, value) in changed {
            let mut e = self.event(ty, EventKind::PropertyChange, id, actor, now);
            e.property_name = Some(name);
            e.property_value = Some(value);
            events.push(e);
        }
        Ok(true)
    }

    /// Archives a live record; `false` when there was none.
    pub fn archive(
        &mut self,
        ty: ObjectType,
        id: u64,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> bool {
        let table = &mut self.tables[ty.index()];
        let Some(record) = table.records.get_mut(&id).filter(|r| r.is_live()) else {
            return false;
        };
        record.archived_ms = Some(now);
        let emails = all_emails(record);
        table.by_updated.remove(&(record.updated_ms, id));
        table.live -= 1;
        if ty == ObjectType::Contacts {
            // Emails merged into this contact point at it too; free them all.
            for email in emails {
                if self.email_index.get(&email) == Some(&id) {
                    self.email_index.remove(&email);
                }
            }
        }
        events.push(self.event(ty, EventKind::Deletion, id, actor, now));
        true
    }

    /// Removes a record for good (GDPR delete): no restore, associations dropped.
    pub fn purge(
        &mut self,
        ty: ObjectType,
        id: u64,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> bool {
        let was_live = self.record(ty, id).is_some_and(Record::is_live);
        if was_live {
            self.archive(ty, id, actor, now, events);
        }
        let Some(record) = self.tables[ty.index()].records.remove(&id) else {
            return false;
        };
        for (to_ty, to_id) in record.assoc.keys() {
            if let Some(other) = self.tables[to_ty.index()].records.get_mut(to_id) {
                other.assoc.remove(&(ty, id));
            }
        }
        true
    }

    /// Brings an archived (not merged) record back.
    pub fn restore(
        &mut self,
        ty: ObjectType,
        id: u64,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> Result<(), ErrorResponse> {
        let Some(record) = self
            .record(ty, id)
            .filter(|r| r.archived_ms.is_some() && r.merged_into.is_none())
        else {
            return Err(not_found(ty, &id.to_string()));
        };
        let email = record.stored("email").map(str::to_string);
        let merged_emails = all_emails(record);
        if let Some(email) = &email {
            if let Some(&existing) = self.email_index.get(email) {
                return Err(conflict_error(existing, email));
            }
        }
        let table = &mut self.tables[ty.index()];
        if let Some(record) = table.records.get_mut(&id) {
            record.archived_ms = None;
            record.updated_ms = now;
            table.by_updated.insert((now, id));
            table.live += 1;
        }
        if ty == ObjectType::Contacts {
            for e in merged_emails {
                self.email_index.entry(e).or_insert(id);
            }
        }
        events.push(self.event(ty, EventKind::Restore, id, actor, now));
        Ok(())
    }

    /// Merges `secondary` into `primary`: the survivor keeps its values, takes the
    /// other's missing ones, its associations, and (contacts) its email as an
    /// additional email.
    pub fn merge(
        &mut self,
        ty: ObjectType,
        primary: u64,
        secondary: u64,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> Result<(), ErrorResponse> {
        if primary == secondary {
            return Err(ErrorResponse::validation(
                "Cannot merge an object with itself",
            ));
        }
        for id in [primary, secondary] {
            if !self.record(ty, id).is_some_and(Record::is_live) {
                return Err(not_found(ty, &id.to_string()));
            }
        }
        let table = &mut self.tables[ty.index()];
        let Some(mut loser) = table.records.get(&secondary).cloned() else {
            return Err(not_found(ty, &secondary.to_string()));
        };
        let reg = &self.props[ty.index()];
        let merged_ids_name = reg.name_arc("hs_merged_object_ids");
        let additional_name = reg.name_arc("hs_additional_emails");
        let all_vids_name = reg.name_arc("hs_all_contact_vids");
        let Some(winner) = table.records.get_mut(&primary) else {
            return Err(not_found(ty, &primary.to_string()));
        };
        for prop in &loser.props {
            if &*prop.name == "email" || winner.stored(&prop.name).is_some() {
                continue;
            }
            if let Some(v) = prop.current().filter(|v| !v.is_empty()) {
                winner.set(&prop.name, v, now, actor.source, actor.source_id.as_deref());
            }
        }
        let mut merged: Vec<String> = winner
            .stored("hs_merged_object_ids")
            .map(|s| s.split(';').map(str::to_string).collect())
            .unwrap_or_default();
        merged.push(secondary.to_string());
        if let Some(prev) = loser.stored("hs_merged_object_ids") {
            merged.extend(prev.split(';').map(str::to_string));
        }
        if let Some(name) = &merged_ids_name {
            winner.set(
                name,
                &merged.join(";"),
                now,
                actor.source,
                actor.source_id.as_deref(),
            );
        }
        if let Some(name) = &all_vids_name {
            let mut all = vec![primary.to_string()];
            all.extend(merged.iter().cloned());
            winner.set(
                name,
                &all.join(";"),
                now,
                actor.source,
                actor.source_id.as_deref(),
            );
        }
        let loser_emails = all_emails(&loser);
        if let (false, Some(name)) = (loser_emails.is_empty(), &additional_name) {
            let mut extra: Vec<String> = winner
                .stored("hs_additional_emails")
                .map(|s| s.split(';').map(str::to_string).collect())
                .unwrap_or_default();
            extra.extend(loser_emails.iter().cloned());
            winner.set(
                name,
                &extra.join(";"),
                now,
                actor.source,
                actor.source_id.as_deref(),
            );
        }
        let old_updated = winner.updated_ms;
        winner.updated_ms = now;
        table.by_updated.remove(&(old_updated, primary));
        table.by_updated.insert((now, primary));
        table.by_updated.remove(&(loser.updated_ms, secondary));
        if let Some(l) = table.records.get_mut(&secondary) {
            l.merged_into = Some(primary);
            l.archived_ms = Some(now);
            l.assoc.clear();
        }
        table.live -= 1;
        for email in loser_emails {
            if self.email_index.get(&email) == Some(&secondary) {
                self.email_index.insert(email, primary);
            }
        }
        // Move the loser's associations to the survivor.
        let moved = std::mem::take(&mut loser.assoc);
        for ((to_ty, to_id), type_ids) in moved {
            if let Some(other) = self.tables[to_ty.index()].records.get_mut(&to_id) {
                other.assoc.remove(&(ty, secondary));
            }
            for t in type_ids {
                let mut ignored = Vec::new();
                let _ = self.associate(ty, primary, to_ty, to_id, t, actor, now, &mut ignored);
            }
        }
        let mut e = self.event(ty, EventKind::Merge, primary, actor, now);
        e.primary_object_id = Some(primary);
        e.merged_object_ids = vec![secondary];
        events.push(e);
        Ok(())
    }

    /// Adds association `type_id` from → to (and its inverse); both must be live.
    #[allow(clippy::too_many_arguments)]
    pub fn associate(
        &mut self,
        from_ty: ObjectType,
        from_id: u64,
        to_ty: ObjectType,
        to_id: u64,
        type_id: u32,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> Result<bool, ErrorResponse> {
        if !self.record(from_ty, from_id).is_some_and(Record::is_live) {
            return Err(not_found(from_ty, &from_id.to_string()));
        }
        if !self.record(to_ty, to_id).is_some_and(Record::is_live) {
            return Err(not_found(to_ty, &to_id.to_string()));
        }
        let mut added = false;
        if let Some(r) = self.tables[from_ty.index()].records.get_mut(&from_id) {
            let ids = r.assoc.entry_or_default((to_ty, to_id));
            if !ids.contains(&type_id) {
                ids.push(type_id);
                added = true;
            }
        }
        if let Some(r) = self.tables[to_ty.index()].records.get_mut(&to_id) {
            let ids = r.assoc.entry_or_default((from_ty, from_id));
            let inv = inverse_type_id(type_id);
            if !ids.contains(&inv) {
                ids.push(inv);
            }
        }
        if added {
            events.push(self.association_event(from_ty, from_id, to_ty, to_id, false, actor, now));
        }
        Ok(added)
    }

    /// Removes every association between the two records.
    #[allow(clippy::too_many_arguments)]
    pub fn dissociate(
        &mut self,
        from_ty: ObjectType,
        from_id: u64,
        to_ty: ObjectType,
        to_id: u64,
        actor: &Actor,
        now: i64,
        events: &mut Vec<ChangeEvent>,
    ) -> bool {
        let removed = self.tables[from_ty.index()]
            .records
            .get_mut(&from_id)
            .and_then(|r| r.assoc.remove(&(to_ty, to_id)))
            .is_some();
        if let Some(r) = self.tables[to_ty.index()].records.get_mut(&to_id) {
            r.assoc.remove(&(from_ty, from_id));
        }
        if removed {
            events.push(self.association_event(from_ty, from_id, to_ty, to_id, true, actor, now));
        }
        removed
    }

    #[allow(clippy::too_many_arguments)]
    fn association_event(
        &self,
        from_ty: ObjectType,
        from_id: u64,
        to_ty: ObjectType,
        to_id: u64,
        removed: bool,
        actor: &Actor,
        now: i64,
    ) -> ChangeEvent {
        let mut e = self.event(from_ty, EventKind::AssociationChange, from_id, actor, now);
        e.association_type = Some(format!("{}_TO_{}", from_ty.upper(), to_ty.upper()));
        e.from_object_id = Some(from_id);
        e.to_object_id = Some(to_id);
        e.association_removed = Some(removed);
        e
    }

    /// Live associations of a record to `to_ty`, ordered by target id.
    pub fn associations_of(
        &self,
        ty: ObjectType,
        id: u64,
        to_ty: ObjectType,
    ) -> Vec<(u64, Vec<u32>)> {
        let Some(record) = self.record(ty, id) else {
            return Vec::new();
        };
        record
            .assoc
            .of_type(to_ty)
            .filter(|((t, tid), _)| self.record(*t, *tid).is_some_and(Record::is_live))
            .map(|((_, tid), ids)| (*tid, ids.clone()))
            .collect()
    }

    /// A property's value including the ones HubSpot computes (ids, dates).
    pub fn value_of<'a>(
        &self,
        ty: ObjectType,
        record: &'a Record,
        name: &str,
    ) -> Option<Cow<'a, str>> {
        match name {
            "hs_object_id" => Some(Cow::Owned(record.id.to_string())),
            "createdate" | "hs_createdate" => Some(Cow::Owned(iso_ms(record.created_ms))),
            "hs_lastmodifieddate" => Some(Cow::Owned(iso_ms(record.updated_ms))),
            "lastmodifieddate" if ty == ObjectType::Contacts => {
                Some(Cow::Owned(iso_ms(record.updated_ms)))
            }
            "hs_email_domain" if ty == ObjectType::Contacts => record
                .stored("email")
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| Cow::Borrowed(d)),
            "associatedcompanyid" if ty == ObjectType::Contacts => record
                .assoc
                .of_type(ObjectType::Companies)
                .find(|(_, ids)| ids.contains(&1))
                .map(|((_, cid), _)| Cow::Owned(cid.to_string())),
            _ => record.stored(name).map(Cow::Borrowed),
        }
    }

    /// The value used for comparisons: dates as epoch milliseconds.
    pub fn sort_value(&self, ty: ObjectType, record: &Record, name: &str) -> Option<SortKey> {
        match name {
            "hs_object_id" => return Some(SortKey::Num(record.id as f64)),
            "createdate" | "hs_createdate" => return Some(SortKey::Num(record.created_ms as f64)),
            "hs_lastmodifieddate" => return Some(SortKey::Num(record.updated_ms as f64)),
            "lastmodifieddate" if ty == ObjectType::Contacts => {
                return Some(SortKey::Num(record.updated_ms as f64))
            }
            _ => {}
        }
        let value = self.value_of(ty, record, name)?;
        let def = self.registry(ty).get(name);
        if def.is_some_and(|d| d.is_numeric()) {
            if let Ok(n) = value.trim().parse::<f64>() {
                return Some(SortKey::Num(n));
            }
        }
        if def.is_some_and(|d| d.is_date()) {
            if let Some(ms) = super::search::parse_time_ms(&value) {
                return Some(SortKey::Num(ms as f64));
            }
        }
        Some(SortKey::Text(value.to_lowercase()))
    }

    /// HubSpot's `SimplePublicObject` JSON (plus associations when asked for).
    pub fn render(&self, ty: ObjectType, record: &Record, opts: &ReadOpts) -> Value {
        let reg = self.registry(ty);
        let mut properties = Map::new();
        let defaults: Vec<String>;
        let names: &[String] = match &opts.properties {
            Some(list) => list,
            None => {
                defaults = ty
                    .default_read_properties()
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                &defaults
            }
        };
        for name in names {
            if reg.get(name).is_none() {
                continue;
            }
            let value = self
                .value_of(ty, record, name)
                .map(|v| Value::String(v.into_owned()));
            properties.insert(name.clone(), value.unwrap_or(Value::Null));
        }
        let mut out = Map::new();
        out.insert("id".into(), Value::String(record.id.to_string()));
        out.insert("properties".into(), Value::Object(properties));
        if !opts.properties_with_history.is_empty() {
            let mut hist = Map::new();
            for name in &opts.properties_with_history {
                if reg.get(name).is_none() {
                    continue;
                }
                let entries: Vec<Value> = match record.prop(name) {
                    Some(prop) => prop
                        .history
                        .iter()
                        .rev()
                        .map(|h| {
                            let mut e = json!({
                                "value": &*h.value,
                                "timestamp": iso_ms(h.timestamp_ms),
                                "sourceType": h.source.as_str(),
                            });
                            if let (Some(sid), Some(obj)) = (&h.source_id, e.as_object_mut()) {
                                obj.insert("sourceId".into(), Value::String(sid.to_string()));
                            }
                            e
                        })
                        .collect(),
                    None => match self.value_of(ty, record, name) {
                        Some(v) => vec![json!({
                            "value": v,
                            "timestamp": iso_ms(record.created_ms),
                            "sourceType": "CALCULATED",
                        })],
                        None => Vec::new(),
                    },
                };
                hist.insert(name.clone(), Value::Array(entries));
            }
            out.insert("propertiesWithHistory".into(), Value::Object(hist));
        }
        out.insert("createdAt".into(), Value::String(iso_ms(record.created_ms)));
        out.insert("updatedAt".into(), Value::String(iso_ms(record.updated_ms)));
        out.insert("archived".into(), Value::Bool(record.archived_ms.is_some()));
        if let Some(at) = record.archived_ms {
            out.insert("archivedAt".into(), Value::String(iso_ms(at)));
        }
        if !opts.associations.is_empty() {
            let mut assoc = Map::new();
            for to_ty in &opts.associations {
                let results: Vec<Value> = self
                    .associations_of(ty, record.id, *to_ty)
                    .into_iter()
                    .flat_map(|(tid, ids)| {
                        ids.into_iter()
                            .map(move |t| json!({"id": tid.to_string(), "type": v3_type_name(ty, *to_ty, t)}))
                    })
                    .collect();
                if !results.is_empty() {
                    assoc.insert(to_ty.plural().into(), json!({ "results": results }));
                }
            }
            if !assoc.is_empty() {
                out.insert("associations".into(), Value::Object(assoc));
            }
        }
        Value::Object(out)
    }

    pub fn tables_mut(&mut self, ty: ObjectType) -> &mut ObjectTable {
        &mut self.tables[ty.index()]
    }

    /// Shared property name for seeding.
    pub fn name_arc(&self, ty: ObjectType, name: &str) -> Option<Arc<str>> {
        self.registry(ty).name_arc(name)
    }
}

/// A comparable property value: numbers (and dates as ms) or lowercased text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortKey {
    Num(f64),
    Text(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::portal::Source;

    fn props(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect()
    }

    fn api() -> Actor {
        Actor {
            source: Source::Integration,
            source_id: Some("7".into()),
        }
    }

    /// Creates a record through the API actor, with no associations.
    fn create(
        d: &mut PortalData,
        ty: ObjectType,
        pairs: &[(&str, &str)],
        now: i64,
        ev: &mut Vec<ChangeEvent>,
    ) -> u64 {
        d.create(ty, &props(pairs), &[], &api(), now, ev).unwrap()
    }

    /// Associates contact `c` with company `co` (type 279) through the API actor.
    fn link_contact_to_company(
        d: &mut PortalData,
        c: u64,
        co: u64,
        now: i64,
        ev: &mut Vec<ChangeEvent>,
    ) -> bool {
        d.associate(
            ObjectType::Contacts,
            c,
            ObjectType::Companies,
            co,
            279,
            &api(),
            now,
            ev,
        )
        .unwrap()
    }

    #[test]
    fn email_index_follows_create_update_archive_restore() {
        let mut d = PortalData::new(1);
        let mut ev = Vec::new();
        let id = create(
            &mut d,
            ObjectType::Contacts,
            &[("email", " A@X.io ")],
            10,
            &mut ev,
        );
        assert_eq!(d.find_by_email("a@x.io"), Some(id));
        d.update(
            ObjectType::Contacts,
            id,
            &props(&[("email", "b@x.io")]),
            &api(),
            20,
            &mut ev,
        )
        .unwrap();
        assert_eq!(d.find_by_email("a@x.io"), None);
        assert_eq!(d.find_by_email("B@x.io"), Some(id));
        assert!(d.archive(ObjectType::Contacts, id, &api(), 30, &mut ev));
        assert_eq!(d.find_by_email("b@x.io"), None);
        assert_eq!(d.live_count(ObjectType::Contacts), 0);
        d.restore(ObjectType::Contacts, id, &api(), 40, &mut ev)
            .unwrap();
        assert_eq!(d.find_by_email("b@x.io"), Some(id));
        let kinds: Vec<EventKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Creation,
                EventKind::PropertyChange,
                EventKind::Deletion,
                EventKind::Restore
            ]
        );
        assert_eq!(ev[1].property_value.as_deref(), Some("b@x.io"));
    }

    #[test]
    fn unchanged_values_neither_bump_modified_nor_emit() {
        let mut d = PortalData::new(1);
        let mut ev = Vec::new();
        let id = create(
            &mut d,
            ObjectType::Contacts,
            &[("firstname", "Ann")],
            10,
            &mut ev,
        );
        let changed = d
            .update(
                ObjectType::Contacts,
                id,
                &props(&[("firstname", "Ann")]),
                &api(),
                99,
                &mut ev,
            )
            .unwrap();
        assert!(!changed);
        assert_eq!(ev.len(), 1);
        assert_eq!(d.record(ObjectType::Contacts, id).unwrap().updated_ms, 10);
        assert!(d.table(ObjectType::Contacts).by_updated.contains(&(10, id)));
    }

    #[test]
    fn associations_are_stored_both_ways_and_dropped_on_dissociate() {
        let mut d = PortalData::new(1);
        let mut ev = Vec::new();
        let c = create(
            &mut d,
            ObjectType::Contacts,
            &[("email", "c@x.io")],
            1,
            &mut ev,
        );
        let co = create(&mut d, ObjectType::Companies, &[("name", "X")], 1, &mut ev);
        assert!(link_contact_to_company(&mut d, c, co, 2, &mut ev));
        assert!(!link_contact_to_company(&mut d, c, co, 3, &mut ev));
        assert_eq!(
            d.associations_of(ObjectType::Companies, co, ObjectType::Contacts),
            vec![(c, vec![280])]
        );
        assert!(d.dissociate(
            ObjectType::Contacts,
            c,
            ObjectType::Companies,
            co,
            &api(),
            4,
            &mut ev
        ));
        assert!(d
            .associations_of(ObjectType::Companies, co, ObjectType::Contacts)
            .is_empty());
        let assoc_events = ev
            .iter()
            .filter(|e| e.kind == EventKind::AssociationChange)
            .count();
        assert_eq!(assoc_events, 2);
        assert_eq!(ev.last().unwrap().association_removed, Some(true));
    }

    #[test]
    fn seed_creates_unique_emails_and_associations() {
        let mut d = PortalData::new(5);
        let report = d.seed(1000, 10, 20, 1_700_000_000_000);
        assert_eq!(report.contacts, 1000);
        assert_eq!(d.live_count(ObjectType::Contacts), 1000);
        assert_eq!(d.email_index.len(), 1000, "every seeded email is distinct");
        let first = report.first_contact_id.unwrap();
        assert_eq!(
            d.associations_of(ObjectType::Contacts, first, ObjectType::Companies)
                .len(),
            1
        );
        let deals = d
            .table(ObjectType::Deals)
            .records
            .keys()
            .copied()
            .collect::<Vec<_>>();
        assert_eq!(deals.len(), 20);
        assert_eq!(
            d.associations_of(ObjectType::Deals, deals[0], ObjectType::Contacts)
                .len(),
            1
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod merge_tests {
    use super::*;

    fn email(e: &str) -> Map<String, Value> {
        [("email".to_string(), Value::String(e.to_string()))]
            .into_iter()
            .collect()
    }

    #[test]
    fn archiving_a_survivor_frees_the_emails_merged_into_it() {
        let mut d = PortalData::new(1);
        let mut ev = Vec::new();
        let ui = Actor::crm_ui();
        let a = d
            .create(ObjectType::Contacts, &email("a@x.io"), &[], &ui, 1, &mut ev)
            .unwrap();
        let b = d
            .create(ObjectType::Contacts, &email("b@x.io"), &[], &ui, 1, &mut ev)
            .unwrap();
        d.merge(ObjectType::Contacts, a, b, &ui, 2, &mut ev)
            .unwrap();
        assert_eq!(d.find_by_email("b@x.io"), Some(a));
        d.archive(ObjectType::Contacts, a, &ui, 3, &mut ev);
        assert_eq!(d.find_by_email("b@x.io"), None);
        let c = d
            .create(ObjectType::Contacts, &email("b@x.io"), &[], &ui, 4, &mut ev)
            .unwrap();
        assert_eq!(d.find_by_email("b@x.io"), Some(c));
        // Restoring the survivor takes back its own email; the re-used one stays put.
        d.restore(ObjectType::Contacts, a, &ui, 5, &mut ev).unwrap();
        assert_eq!(d.find_by_email("a@x.io"), Some(a));
        assert_eq!(d.find_by_email("b@x.io"), Some(c));
    }
}
