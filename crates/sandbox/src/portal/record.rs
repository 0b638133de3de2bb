//! One CRM record: property values with their history, timestamps, archive state
//! and associations.
//!
//! Memory matters at a million contacts: property names are shared `Arc<str>`s from
//! the portal's registry, values are boxed strings, and the current value is simply
//! the newest history entry (no second copy).

use std::collections::HashMap;
use std::sync::Arc;

use super::ObjectType;

/// HubSpot's `sourceType` of a property value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Integration,
    CrmUi,
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Integration => "INTEGRATION",
            Source::CrmUi => "CRM_UI",
            Source::Import => "IMPORT",
        }
    }
}

/// One value a property had, newest last in `Prop::history`.
#[derive(Debug, Clone)]
pub struct HistEntry {
    pub value: Box<str>,
    pub timestamp_ms: i64,
    pub source: Source,
    pub source_id: Option<Box<str>>,
}

#[derive(Debug, Clone)]
pub struct Prop {
    pub name: Arc<str>,
    pub history: Vec<HistEntry>,
}

impl Prop {
    /// The current value; an empty string means "cleared".
    pub fn current(&self) -> Option<&str> {
        self.history.last().map(|h| &*h.value)
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub id: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
    /// Set when this record was merged into another one: reads follow it.
    pub merged_into: Option<u64>,
    /// Few per record, so a vector with linear search beats a map.
    pub props: Vec<Prop>,
    /// Associations to other records: (type, id) → association type ids.
    pub assoc: AssocList,
}

impl Record {
    pub fn new(id: u64, now_ms: i64) -> Self {
        Self {
            id,
            created_ms: now_ms,
            updated_ms: now_ms,
            archived_ms: None,
            merged_into: None,
            props: Vec::new(),
            assoc: AssocList::default(),
        }
    }

    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| &*p.name == name)
    }

    /// The stored value of `name`, `None` when unset or cleared.
    pub fn stored(&self, name: &str) -> Option<&str> {
        self.prop(name)
            .and_then(Prop::current)
            .filter(|v| !v.is_empty())
    }

    /// Sets `name` to `value`; returns whether the value actually changed.
    pub fn set(
        &mut self,
        name: &Arc<str>,
        value: &str,
        ts: i64,
        source: Source,
        source_id: Option<&str>,
    ) -> bool {
        let entry = HistEntry {
            value: value.into(),
            timestamp_ms: ts,
            source,
            source_id: source_id.map(Into::into),
        };
        match self.props.iter_mut().find(|p| p.name == *name) {
            Some(prop) => {
                if prop.current() == Some(value) {
                    return false;
                }
                prop.history.push(entry);
                true
            }
            None => {
                if value.is_empty() {
                    return false;
                }
                self.props.push(Prop {
                    name: name.clone(),
                    history: vec![entry],
                });
                true
            }
        }
    }

    /// Current values, computed ones included; for tests and admin dumps.
    pub fn current_properties(&self) -> HashMap<String, String> {
        let mut out: HashMap<String, String> = self
            .props
            .iter()
            .filter_map(|p| {
                p.current()
                    .filter(|v| !v.is_empty())
                    .map(|v| (p.name.to_string(), v.to_string()))
            })
            .collect();
        out.insert("hs_object_id".into(), self.id.to_string());
        out
    }

    pub fn is_live(&self) -> bool {
        self.archived_ms.is_none() && self.merged_into.is_none()
    }
}

/// A record's associations, (type, id) → association type ids, kept sorted in one
/// vector: most records have one or two, and a B-tree node per record would cost
/// hundreds of bytes at a million contacts.
#[derive(Debug, Clone, Default)]
pub struct AssocList(Vec<((ObjectType, u64), Vec<u32>)>);

impl AssocList {
    fn position(&self, key: &(ObjectType, u64)) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub fn insert(&mut self, key: (ObjectType, u64), ids: Vec<u32>) {
        match self.position(&key) {
            Ok(i) => self.0[i].1 = ids,
            Err(i) => self.0.insert(i, (key, ids)),
        }
    }

    /// The type ids for `key`, inserting an empty list when absent.
    pub fn entry_or_default(&mut self, key: (ObjectType, u64)) -> &mut Vec<u32> {
        let i = match self.position(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, Vec::new()));
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn remove(&mut self, key: &(ObjectType, u64)) -> Option<Vec<u32>> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Associations to records of `ty`, ordered by id.
    pub fn of_type(&self, ty: ObjectType) -> impl Iterator<Item = (&(ObjectType, u64), &Vec<u32>)> {
        let start = self.0.partition_point(|((t, _), _)| *t < ty);
        self.0[start..]
            .iter()
            .take_while(move |((t, _), _)| *t == ty)
            .map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &(ObjectType, u64)> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for AssocList {
    type Item = ((ObjectType, u64), Vec<u32>);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
