//! CRM search (`POST /crm/v3/objects/{type}/search`): filter groups, sorts, free-text
//! query, offset paging, and HubSpot's caps.
//!
//! Filters that an index can answer (email EQ/IN, `hs_object_id` ranges, last-modified
//! ranges) pick the candidates; everything else is checked record by record, so the
//! common sync queries stay fast at a million contacts.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

use super::record::Record;
use super::store::{PortalData, SortKey};
use super::{normalize_email, ObjectType};
use crate::error::ErrorResponse;

pub const MAX_GROUPS: usize = 5;
pub const MAX_FILTERS_PER_GROUP: usize = 10;
pub const MAX_FILTERS_TOTAL: usize = 25;
pub const MAX_LIMIT: usize = 200;
pub const MAX_RESULTS: usize = 10_000;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    #[serde(default)]
    pub high_value: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct FilterGroup {
    #[serde(default)]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub filter_groups: Vec<FilterGroup>,
    /// `[{propertyName, direction}]`, or plain property names as the spec types them.
    #[serde(default)]
    pub sorts: Vec<Value>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub properties: Option<Vec<String>>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub after: Option<Value>,
}

/// The ids of one page and the total number of matches.
#[derive(Debug)]
pub struct SearchPage {
    pub total: usize,
    pub ids: Vec<u64>,
    pub next_after: Option<usize>,
}

struct Sort {
    property: String,
    descending: bool,
}

/// Epoch ms from an epoch-ms number, an ISO date-time, or a `YYYY-MM-DD` date.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const OPERATORS: &[&str] = &[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
];

fn validate(req: &SearchRequest) -> Result<(usize, usize), ErrorResponse> {
    if req.filter_groups.len() > MAX_GROUPS {
        return Err(ErrorResponse::validation(format!(
            "Too many filter groups: {}. The maximum number of filter groups is {MAX_GROUPS}.",
            req.filter_groups.len()
        )));
    }
    let mut total = 0;
    for group in &req.filter_groups {
        if group.filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(ErrorResponse::validation(format!(
                "Too many filters in a filter group: {}. The maximum number of filters per group is {MAX_FILTERS_PER_GROUP}.",
                group.filters.len()
            )));
        }
        total += group.filters.len();
        for f in &group.filters {
            if !OPERATORS.contains(&f.operator.as_str()) {
                return Err(ErrorResponse::validation(format!(
                    "Invalid operator {} for property {}",
                    f.operator, f.property_name
                )));
            }
            let needs_values = matches!(f.operator.as_str(), "IN" | "NOT_IN");
            if needs_values && f.values.is_none() {
                return Err(ErrorResponse::validation(format!(
                    "Operator {} requires values for property {}",
                    f.operator, f.property_name
                )));
            }
            let needs_value = !needs_values
                && !matches!(f.operator.as_str(), "HAS_PROPERTY" | "NOT_HAS_PROPERTY");
            if needs_value && f.value.is_none() {
                return Err(ErrorResponse::validation(format!(
                    "Operator {} requires a value for property {}",
                    f.operator, f.property_name
                )));
            }
            if f.operator == "BETWEEN" && f.high_value.is_none() {
                return Err(ErrorResponse::validation(format!(
                    "Operator BETWEEN requires a highValue for property {}",
                    f.property_name
                )));
            }
        }
    }
    if total > MAX_FILTERS_TOTAL {
        return Err(ErrorResponse::validation(format!(
            "Too many filters: {total}. The maximum number of filters across all filter groups is {MAX_FILTERS_TOTAL}."
        )));
    }
    let limit = req.limit.unwrap_or(10);
    if limit < 0 || limit as usize > MAX_LIMIT {
        return Err(ErrorResponse::validation(format!(
            "limit must be between 0 and {MAX_LIMIT}, got {limit}"
        )));
    }
    let after = match &req.after {
        None | Some(Value::Null) => 0,
        Some(v) => {
            let t = text(v);
            if t.is_empty() {
                0
            } else {
                t.parse::<usize>()
                    .map_err(|_| ErrorResponse::validation(format!("Invalid after value: {t}")))?
            }
        }
    };
    if after >= MAX_RESULTS {
        return Err(ErrorResponse::validation(format!(
            "Cannot page past {MAX_RESULTS} results: after={after}. Narrow the search (e.g. hs_object_id GT the last id) instead."
        )));
    }
    Ok((limit as usize, after))
}

fn parse_sorts(req: &SearchRequest) -> Vec<Sort> {
    req.sorts
        .iter()
        .filter_map(|s| match s {
            Value::String(name) => Some(match name.strip_prefix('-') {
                Some(rest) => Sort {
                    property: rest.to_string(),
                    descending: true,
                },
                None => Sort {
                    property: name.clone(),
                    descending: false,
                },
            }),
            Value::Object(o) => Some(Sort {
                property: o.get("propertyName").map(text)?,
                descending: o
                    .get("direction")
                    .map(text)
                    .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING")),
            }),
            _ => None,
        })
        .take(1)
        .collect()
}

impl PortalData {
    /// Runs a search; returns the matching ids of the requested page.
    pub fn search(&self, ty: ObjectType, req: &SearchRequest) -> Result<SearchPage, ErrorResponse> {
        let (limit, after) = validate(req)?;
        let sorts = parse_sorts(req);
        let query = req
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        let table = self.table(ty);

        // No filters, no query, id order: page straight off the ordered table.
        if req.filter_groups.is_empty()
            && query.is_none()
            && sorts
                .iter()
                .all(|s| s.property == "hs_object_id" && !s.descending)
        {
            let total = self.live_count(ty);
            let ids: Vec<u64> = table
                .records
                .values()
                .filter(|r| r.is_live())
                .skip(after)
                .take(limit)
                .map(|r| r.id)
                .collect();
            let next_after = (after + limit < total && limit > 0).then_some(after + limit);
            return Ok(SearchPage {
                total,
                ids,
                next_after,
            });
        }

        let mut matched: Vec<u64> = Vec::new();
        if req.filter_groups.is_empty() {
            matched.extend(
                table
                    .records
                    .values()
                    .filter(|r| r.is_live() && self.matches_query(ty, r, query.as_deref()))
                    .map(|r| r.id),
            );
        } else {
            for group in &req.filter_groups {
                self.collect_group(ty, group, query.as_deref(), &mut matched);
            }
            matched.sort_unstable();
            matched.dedup();
        }

        if let Some(sort) = sorts.first() {
            let mut keyed: Vec<(Option<SortKey>, u64)> = matched
                .iter()
                .filter_map(|id| table.records.get(id))
                .map(|r| (self.sort_value(ty, r, &sort.property), r.id))
                .collect();
            keyed.sort_by(|(a, ida), (b, idb)| {
                let ord = match (a, b) {
                    (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                let ord = if sort.descending { ord.reverse() } else { ord };
                ord.then(ida.cmp(idb))
            });
            matched = keyed.into_iter().map(|(_, id)| id).collect();
        }

        let total = matched.len();
        let ids: Vec<u64> = matched.into_iter().skip(after).take(limit).collect();
        let next_after = (after + limit < total && limit > 0).then_some(after + limit);
        Ok(SearchPage {
            total,
            ids,
            next_after,
        })
    }

    fn collect_group(
        &self,
        ty: ObjectType,
        group: &FilterGroup,
        query: Option<&str>,
        out: &mut Vec<u64>,
    ) {
        let table = self.table(ty);
        let compiled: Vec<Compiled<'_>> =
            group.filters.iter().map(|f| self.compile(ty, f)).collect();
        let keep = |r: &Record| {
            r.is_live()
                && compiled.iter().all(|c| self.filter_matches(ty, r, c))
                && self.matches_query(ty, r, query)
        };

        // Email equality or membership: straight from the email index.
        if ty == ObjectType::Contacts {
            if let Some(f) = group
                .filters
                .iter()
                .find(|f| f.property_name == "email" && (f.operator == "EQ" || f.operator == "IN"))
            {
                let wanted: Vec<String> = match f.operator.as_str() {
                    "EQ" => f.value.iter().map(text).collect(),
                    _ => f.values.iter().flatten().map(text).collect(),
                };
                for email in wanted {
                    if let Some(r) = self
                        .find_by_email(&normalize_email(&email))
                        .and_then(|id| table.records.get(&id))
                    {
                        if keep(r) {
                            out.push(r.id);
                        }
                    }
                }
                return;
            }
        }
        // Id ranges (the documented way to page past 10,000 results).
        if let Some((lo, hi)) = self.range_for(group, |name| name == "hs_object_id") {
            let lo = lo.max(0.0) as u64;
            let hi = if hi >= u64::MAX as f64 {
                u64::MAX
            } else {
                hi.max(0.0) as u64
            };
            if lo <= hi {
                out.extend(
                    table
                        .records
                        .range(lo..=hi)
                        .map(|(_, r)| r)
                        .filter(|r| keep(r))
                        .map(|r| r.id),
                );
            }
            return;
        }
        // Modified-since ranges (sync polling).
        let lm = ty.lastmodified_property();
        if let Some((lo, hi)) =
            self.range_for(group, |name| name == lm || name == "hs_lastmodifieddate")
        {
            let lo = lo.max(i64::MIN as f64) as i64;
            let hi = hi.min(i64::MAX as f64) as i64;
            if lo <= hi {
                out.extend(
                    table
                        .by_updated
                        .range((lo, 0)..=(hi, u64::MAX))
                        .filter_map(|(_, id)| table.records.get(id))
                        .filter(|r| keep(r))
                        .map(|r| r.id),
                );
            }
            return;
        }
        out.extend(table.records.values().filter(|r| keep(r)).map(|r| r.id));
    }

    /// The inclusive numeric bounds that the group's range filters on `pick` put on
    /// the property, if any (the filters are still checked per record afterwards).
    fn range_for(&self, group: &FilterGroup, pick: impl Fn(&str) -> bool) -> Option<(f64, f64)> {
        let mut lo = f64::MIN;
        let mut hi = f64::MAX;
        let mut found = false;
        for f in group.filters.iter().filter(|f| pick(&f.property_name)) {
            let v = f
                .value
                .as_ref()
                .map(text)
                .and_then(|t| parse_time_ms(&t))
                .map(|n| n as f64);
            let h = f
                .high_value
                .as_ref()
                .map(text)
                .and_then(|t| parse_time_ms(&t))
                .map(|n| n as f64);
            match (f.operator.as_str(), v) {
                ("EQ", Some(v)) => {
                    lo = lo.max(v);
                    hi = hi.min(v);
                }
                ("GT", Some(v)) => lo = lo.max(v + 1.0),
                ("GTE", Some(v)) => lo = lo.max(v),
                ("LT", Some(v)) => hi = hi.min(v - 1.0),
                ("LTE", Some(v)) => hi = hi.min(v),
                ("BETWEEN", Some(v)) => {
                    lo = lo.max(v);
                    if let Some(h) = h {
                        hi = hi.min(h);
                    }
                }
                _ => continue,
            }
            found = true;
        }
        found.then_some((lo, hi))
    }

    fn matches_query(&self, ty: ObjectType, r: &Record, query: Option<&str>) -> bool {
        let Some(q) = query else { return true };
        let fields: &[&str] = match ty {
            ObjectType::Contacts => &["email", "firstname", "lastname", "phone", "company"],
            ObjectType::Companies => &["name", "domain", "website", "phone"],
            ObjectType::Deals => &["dealname"],
        };
        fields
            .iter()
            .any(|f| r.stored(f).is_some_and(|v| v.to_lowercase().contains(q)))
    }

    /// Parses a filter's values once per search rather than once per record.
    fn compile<'f>(&self, ty: ObjectType, f: &'f Filter) -> Compiled<'f> {
        let name = f.property_name.as_str();
        let def = self.registry(ty).get(name);
        let numeric = name == "hs_object_id" || def.is_some_and(|d| d.is_numeric() || d.is_date());
        let key = |v: &Value| self.filter_key(ty, name, &text(v));
        Compiled {
            filter: f,
            numeric,
            value: f.value.as_ref().map(key),
            values: f.values.iter().flatten().map(key).collect(),
            high: f.high_value.as_ref().map(key),
        }
    }

    /// A record's value of `name` for comparisons, borrowing stored text.
    fn actual<'r>(
        &self,
        ty: ObjectType,
        r: &'r Record,
        name: &str,
        numeric: bool,
    ) -> Option<Actual<'r>> {
        if numeric {
            if let Some(SortKey::Num(n)) = self.computed_number(ty, r, name) {
                return Some(Actual::Num(n));
            }
        }
        let value = self.value_of(ty, r, name)?;
        if numeric {
            if let Ok(n) = value.trim().parse::<f64>() {
                return Some(Actual::Num(n));
            }
            if let Some(ms) = parse_time_ms(&value) {
                return Some(Actual::Num(ms as f64));
            }
        }
        Some(Actual::Text(value))
    }

    /// Record fields HubSpot exposes as number or date properties.
    fn computed_number(&self, ty: ObjectType, r: &Record, name: &str) -> Option<SortKey> {
        match name {
            "hs_object_id" => Some(SortKey::Num(r.id as f64)),
            "createdate" | "hs_createdate" => Some(SortKey::Num(r.created_ms as f64)),
            "hs_lastmodifieddate" => Some(SortKey::Num(r.updated_ms as f64)),
            "lastmodifieddate" if ty == ObjectType::Contacts => {
                Some(SortKey::Num(r.updated_ms as f64))
            }
            _ => None,
        }
    }

    fn filter_matches(&self, ty: ObjectType, r: &Record, c: &Compiled<'_>) -> bool {
        let f = c.filter;
        let name = f.property_name.as_str();
        let op = f.operator.as_str();
        if op == "CONTAINS_TOKEN" || op == "NOT_CONTAINS_TOKEN" {
            let found = match (self.value_of(ty, r, name), f.value.as_ref()) {
                (Some(actual), Some(v)) => contains_token(&actual, &text(v)),
                _ => false,
            };
            return found == (op == "CONTAINS_TOKEN");
        }
        let actual = self.actual(ty, r, name, c.numeric);
        let cmp = |key: &SortKey| actual.as_ref().map(|a| a.compare(key));
        match op {
            "HAS_PROPERTY" => actual.is_some(),
            "NOT_HAS_PROPERTY" => actual.is_none(),
            "EQ" => c
                .value
                .as_ref()
                .is_some_and(|v| cmp(v) == Some(Ordering::Equal)),
            "NEQ" => c
                .value
                .as_ref()
                .is_some_and(|v| cmp(v) != Some(Ordering::Equal)),
            "IN" => c.values.iter().any(|v| cmp(v) == Some(Ordering::Equal)),
            "NOT_IN" => !c.values.iter().any(|v| cmp(v) == Some(Ordering::Equal)),
            "LT" | "LTE" | "GT" | "GTE" => {
                let Some(ord) = c.value.as_ref().and_then(&cmp) else {
                    return false;
                };
                match op {
                    "LT" => ord == Ordering::Less,
                    "LTE" => ord != Ordering::Greater,
                    "GT" => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }
            }
            "BETWEEN" => {
                let (Some(lo), Some(hi)) = (c.value.as_ref(), c.high.as_ref()) else {
                    return false;
                };
                cmp(lo).is_some_and(|o| o != Ordering::Less)
                    && cmp(hi).is_some_and(|o| o != Ordering::Greater)
            }
            _ => false,
        }
    }

    /// A filter value in the same comparable form as the property's values.
    fn filter_key(&self, ty: ObjectType, name: &str, value: &str) -> SortKey {
        let def = self.registry(ty).get(name);
        let numeric = name == "hs_object_id" || def.is_some_and(|d| d.is_numeric());
        let date = def.is_some_and(|d| d.is_date());
        if numeric {
            if let Ok(n) = value.trim().parse::<f64>() {
                return SortKey::Num(n);
            }
        }
        if date {
            if let Some(ms) = parse_time_ms(value) {
                return SortKey::Num(ms as f64);
            }
        }
        SortKey::Text(value.trim().to_lowercase())
    }
}

/// A filter with its values parsed into comparable keys.
struct Compiled<'f> {
    filter: &'f Filter,
    /// Number, date or id property: compare as numbers.
    numeric: bool,
    value: Option<SortKey>,
    values: Vec<SortKey>,
    high: Option<SortKey>,
}

/// A record's value for a comparison; text stays borrowed.
enum Actual<'r> {
    Num(f64),
    Text(std::borrow::Cow<'r, str>),
}

impl Actual<'_> {
    /// Compares with a filter key; text case-insensitively (keys are lowercase).
    /// Numbers sort before text, as `SortKey`'s variant order has it.
    fn compare(&self, key: &SortKey) -> Ordering {
        match (self, key) {
            (Actual::Num(a), SortKey::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Actual::Num(_), SortKey::Text(_)) => Ordering::Less,
            (Actual::Text(_), SortKey::Num(_)) => Ordering::Greater,
            (Actual::Text(a), SortKey::Text(b)) => {
                let a = a.trim();
                if a.is_ascii() {
                    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes())
                } else {
                    a.to_lowercase().as_str().cmp(b.as_str())
                }
            }
        }
    }
}

/// HubSpot token matching: the value split into words (on anything but letters and
/// digits) contains the token; `*` in the token is a wildcard.
fn contains_token(actual: &str, token: &str) -> bool {
    let token = token.trim().to_lowercase();
    let actual = actual.to_lowercase();
    if token.is_empty() {
        return false;
    }
    if token.contains('*') {
        return wildcard(&token, &actual)
            || actual
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| wildcard(&token, w));
    }
    if actual == token {
        return true;
    }
    let words: Vec<&str> = actual
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let wanted: Vec<&str> = token
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    !wanted.is_empty() && words.windows(wanted.len()).any(|w| w == wanted.as_slice())
}

fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !rest.starts_with(part) {
                return false;
            }
            rest = &rest[part.len()..];
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    parts
        .last()
        .is_none_or(|last| last.is_empty() || s.ends_with(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_wildcards() {
        assert!(contains_token("Jane Doe", "doe"));
        assert!(contains_token("jane@example.com", "example"));
        assert!(!contains_token("Jane Doe", "do"));
        assert!(contains_token("Jane Doe", "do*"));
        assert!(contains_token("jane@example.com", "*@example.com"));
    }

    #[test]
    fn times_parse_from_ms_iso_and_dates() {
        assert_eq!(parse_time_ms("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time_ms("1970-01-01T00:00:01.000Z"), Some(1000));
        assert_eq!(parse_time_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time_ms("soon"), None);
    }
}
