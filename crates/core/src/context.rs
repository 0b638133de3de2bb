//! B2B context from HubSpot, as pure rules: a customer's company and deals become a
//! customer status, a priority score and a short text an assistant can be given.
//! `docs/crm-context.md` explains the rules; the server fetches and stores the
//! facts, this module only decides what they mean.
//!
//! - A deal is won when its stage is closed with probability 1.0, lost when closed
//!   with any lower probability, otherwise open. Labels never decide it: HubSpot
//!   users rename stages freely.
//! - Status: any won deal → `customer`, else any open → `prospect`, else only lost
//!   → `churned`, else `lead`; each outcome is configurable per connector.
//! - Priority: `round(100 · W / (W + 10,000))` with `W = Σ amount × probability`
//!   over open deals, so it grows with weighted pipeline value and never reaches 100.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

/// The weighted open amount at which the priority score is 50.
pub const PRIORITY_HALF_POINT: f64 = 10_000.0;

text_enum! {
    /// Where a deal stands, from its stage's metadata.
    pub enum DealState {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
}

text_enum! {
    /// The customer's commercial relationship, derived from its deals.
    pub enum CustomerStatus {
        Lead => "lead",
        Prospect => "prospect",
        Customer => "customer",
        Churned => "churned",
    }
}

/// Which status each situation gives; a connector may change any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatusRules {
    /// At least one won deal.
    pub any_won: CustomerStatus,
    /// No won deal, at least one open.
    pub any_open: CustomerStatus,
    /// Only lost deals.
    pub only_lost: CustomerStatus,
    /// No deals at all.
    pub no_deals: CustomerStatus,
}

impl Default for StatusRules {
    fn default() -> Self {
        Self {
            any_won: CustomerStatus::Customer,
            any_open: CustomerStatus::Prospect,
            only_lost: CustomerStatus::Churned,
            no_deals: CustomerStatus::Lead,
        }
    }
}

/// A deal's state from its stage: closed at probability 1.0 is won, closed below
/// it is lost, anything else is open (including a stage the pipelines don't know).
pub fn deal_state(is_closed: bool, probability: Option<f64>) -> DealState {
    match (is_closed, probability) {
        (true, Some(p)) if p >= 1.0 => DealState::Won,
        (true, _) => DealState::Lost,
        (false, _) => DealState::Open,
    }
}

/// One company, with enumeration values already replaced by their labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextCompany {
    pub id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub website: Option<String>,
    pub employee_count: Option<i64>,
    /// The company's record page in HubSpot.
    pub url: Option<String>,
    /// The extra properties the connector shows, by internal name (labels for
    /// enumeration values).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// One deal with its pipeline and stage shown by label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextDeal {
    pub id: String,
    pub name: Option<String>,
    pub amount: Option<f64>,
    /// ISO currency code (`USD` when the deal names none).
    pub currency: String,
    pub pipeline_id: Option<String>,
    pub pipeline: Option<String>,
    pub stage_id: Option<String>,
    pub stage: Option<String>,
    /// The stage's win probability, 0.0 ..= 1.0.
    pub probability: Option<f64>,
    pub close_date: Option<String>,
    pub state: DealState,
    pub url: Option<String>,
}

/// What a customer's company and deals mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Derived {
    pub status: CustomerStatus,
    /// 0..=99, see [`priority`].
    pub priority: u8,
    pub ai_context: String,
}

/// The status the rules give for these deals.
pub fn customer_status(deals: &[ContextDeal], rules: &StatusRules) -> CustomerStatus {
    let any = |s: DealState| deals.iter().any(|d| d.state == s);
    if any(DealState::Won) {
        rules.any_won
    } else if any(DealState::Open) {
        rules.any_open
    } else if any(DealState::Lost) {
        rules.only_lost
    } else {
        rules.no_deals
    }
}

/// `round(100 · W / (W + 10,000))`, `W` the open deals' amounts weighted by their
/// stage probability (a deal without amount or probability adds nothing).
pub fn priority(deals: &[ContextDeal]) -> u8 {
    let weighted: f64 = deals
        .iter()
        .filter(|d| d.state == DealState::Open)
        .map(|d| d.amount.unwrap_or(0.0).max(0.0) * d.probability.unwrap_or(0.0).clamp(0.0, 1.0))
        .sum();
    if !weighted.is_finite() || weighted <= 0.0 {
        return 0;
    }
    let score = (100.0 * weighted / (weighted + PRIORITY_HALF_POINT)).round();
    // In 0..=100 by construction; the cast cannot truncate.
    score.clamp(0.0, 100.0) as u8
}

/// Status, priority and the AI context text together.
pub fn derive(
    company: Option<&ContextCompany>,
    deals: &[ContextDeal],
    rules: &StatusRules,
) -> Derived {
    Derived {
        status: customer_status(deals, rules),
        priority: priority(deals),
        ai_context: ai_context(company, deals),
    }
}

/// `48000` → "$48,000", `1234.5` EUR → "€1,234.50": whole amounts without cents.
pub fn format_money(amount: f64, currency: &str) -> String {
    let symbol = match currency.to_ascii_uppercase().as_str() {
        "USD" | "" => "$".to_string(),
        "EUR" => "€".to_string(),
        "GBP" => "£".to_string(),
        "JPY" => "¥".to_string(),
        other => format!("{other} "),
    };
    let negative = amount < 0.0;
    let cents_total = (amount.abs() * 100.0).round();
    let whole = (cents_total / 100.0).trunc();
    let cents = cents_total - whole * 100.0;
    let digits = format!("{whole:.0}");
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if negative { "-" } else { "" };
    if cents > 0.0 {
        format!("{sign}{symbol}{grouped}.{cents:02.0}")
    } else {
        format!("{sign}{symbol}{grouped}")
    }
}

fn deal_line(d: &ContextDeal, with_stage: bool) -> String {
    let mut parts = vec![d.name.clone().unwrap_or_else(|| format!("Deal {}", d.id))];
    if let Some(a) = d.amount {
        parts.push(format_money(a, &d.currency));
    }
    if with_stage {
        if let Some(stage) = &d.stage {
            match d.probability {
                Some(p) => parts.push(format!("{stage} ({:.0}%)", p * 100.0)),
                None => parts.push(stage.clone()),
            }
        }
    }
    parts.join(", ")
}

/// A few plain facts on one line: "Acme Inc · Computer Software · 250 employees ·
/// Open: Renewal 2027, $48,000, Contract Sent (90%) · Won: Pilot, $5,000".
pub fn ai_context(company: Option<&ContextCompany>, deals: &[ContextDeal]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(c) = company {
        parts.extend(c.name.clone().or_else(|| c.domain.clone()));
        parts.extend(c.industry.clone());
        if let Some(n) = c.employee_count {
            parts.push(format!("{n} employees"));
        }
    }
    for (state, title) in [
        (DealState::Open, "Open"),
        (DealState::Won, "Won"),
        (DealState::Lost, "Lost"),
    ] {
        let lines: Vec<String> = deals
            .iter()
            .filter(|d| d.state == state)
            .map(|d| deal_line(d, state == DealState::Open))
            .collect();
        if !lines.is_empty() {
            parts.push(format!("{title}: {}", lines.join("; ")));
        }
    }
    if parts.is_empty() {
        "No company or deals in HubSpot".to_string()
    } else {
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(name: &str, amount: f64, stage: &str, p: f64, state: DealState) -> ContextDeal {
        ContextDeal {
            id: name.into(),
            name: Some(name.into()),
            amount: Some(amount),
            currency: "USD".into(),
            pipeline_id: None,
            pipeline: None,
            stage_id: None,
            stage: Some(stage.into()),
            probability: Some(p),
            close_date: None,
            state,
            url: None,
        }
    }

    #[test]
    fn stage_metadata_decides_the_deal_state() {
        assert_eq!(deal_state(true, Some(1.0)), DealState::Won);
        assert_eq!(deal_state(true, Some(0.0)), DealState::Lost);
        assert_eq!(deal_state(true, None), DealState::Lost);
        assert_eq!(deal_state(false, Some(0.8)), DealState::Open);
    }

    #[test]
    fn status_follows_the_rules_in_order() {
        let r = StatusRules::default();
        let open = deal("A", 1.0, "S", 0.5, DealState::Open);
        let won = deal("B", 1.0, "S", 1.0, DealState::Won);
        let lost = deal("C", 1.0, "S", 0.0, DealState::Lost);
        assert_eq!(customer_status(&[], &r), CustomerStatus::Lead);
        assert_eq!(
            customer_status(std::slice::from_ref(&lost), &r),
            CustomerStatus::Churned
        );
        assert_eq!(
            customer_status(&[lost.clone(), open.clone()], &r),
            CustomerStatus::Prospect
        );
        assert_eq!(
            customer_status(&[open, won, lost], &r),
            CustomerStatus::Customer
        );
        let custom = StatusRules {
            no_deals: CustomerStatus::Prospect,
            ..StatusRules::default()
        };
        assert_eq!(customer_status(&[], &custom), CustomerStatus::Prospect);
    }

    #[test]
    fn priority_weighs_open_amounts_by_probability() {
        assert_eq!(priority(&[]), 0);
        // W = 48,000 × 0.9 = 43,200 → 100 · 43,200 / 53,200 = 81.2.
        let open = deal("Renewal", 48_000.0, "Contract Sent", 0.9, DealState::Open);
        assert_eq!(priority(std::slice::from_ref(&open)), 81);
        // Won and lost deals add nothing.
        let won = deal("Pilot", 5_000.0, "Closed Won", 1.0, DealState::Won);
        assert_eq!(priority(&[open, won]), 81);
        // W = 10,000 is the half point.
        let half = deal("X", 20_000.0, "S", 0.5, DealState::Open);
        assert_eq!(priority(&[half]), 50);
    }

    #[test]
    fn ai_context_reads_like_the_example() {
        let company = ContextCompany {
            id: "1".into(),
            name: Some("Acme Inc".into()),
            industry: Some("Computer Software".into()),
            employee_count: Some(250),
            ..ContextCompany::default()
        };
        let deals = [
            deal(
                "Renewal 2027",
                48_000.0,
                "Contract Sent",
                0.9,
                DealState::Open,
            ),
            deal("Pilot", 5_000.0, "Closed Won", 1.0, DealState::Won),
        ];
        assert_eq!(
            ai_context(Some(&company), &deals),
            "Acme Inc · Computer Software · 250 employees · Open: Renewal 2027, $48,000, \
             Contract Sent (90%) · Won: Pilot, $5,000"
        );
        assert_eq!(ai_context(None, &[]), "No company or deals in HubSpot");
    }

    #[test]
    fn money_is_grouped_with_cents_only_when_needed() {
        assert_eq!(format_money(48_000.0, "USD"), "$48,000");
        assert_eq!(format_money(1_234_567.5, "EUR"), "€1,234,567.50");
        assert_eq!(format_money(999.0, "CHF"), "CHF 999");
        assert_eq!(format_money(0.0, "USD"), "$0");
    }
}
