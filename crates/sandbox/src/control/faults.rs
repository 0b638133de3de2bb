//! Fault injection for HubSpot API routes: added latency, dropped connections and
//! HubSpot-shaped 429/409/5xx answers, each with a probability.
//!
//! Real integrations meet all of these against api.hubapi.com; tests switch them on
//! with `PUT /_sandbox/faults` to prove the client retries, backs off and resumes.

use axum::http::StatusCode;
use parking_lot::RwLock;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Probabilities in 0..=1 (the error rates together at most 1) and a fixed delay.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultSettings {
    pub rate429: f64,
    pub rate409: f64,
    pub rate500: f64,
    pub rate502: f64,
    pub rate503: f64,
    /// Added to every API request before it is handled.
    pub latency_ms: u64,
    /// Probability of closing the connection without a complete answer.
    pub drop_rate: f64,
}

impl FaultSettings {
    /// Why the settings are unusable, if they are.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("rate429", self.rate429),
            ("rate409", self.rate409),
            ("rate500", self.rate500),
            ("rate502", self.rate502),
            ("rate503", self.rate503),
            ("dropRate", self.drop_rate),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1, got {r}"));
            }
        }
        let sum = self.rate429 + self.rate409 + self.rate500 + self.rate502 + self.rate503;
        if sum > 1.0 + 1e-9 {
            return Err(format!("the error rates add up to {sum}, more than 1"));
        }
        Ok(())
    }

    fn is_quiet(&self) -> bool {
        *self == FaultSettings::default()
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    Drop,
    Status(StatusCode),
}

/// The current fault settings.
#[derive(Debug, Default)]
pub struct Faults {
    settings: RwLock<FaultSettings>,
}

impl Faults {
    pub fn settings(&self) -> FaultSettings {
        *self.settings.read()
    }

    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        settings.validate()?;
        *self.settings.write() = settings;
        Ok(())
    }

    /// Draws the fault (if any) for one request. Returns the delay to add too.
    pub fn draw(&self) -> (u64, Option<Injected>) {
        let s = self.settings();
        if s.is_quiet() {
            return (0, None);
        }
        let mut rng = rand::rng();
        if s.drop_rate > 0.0 && rng.random::<f64>() < s.drop_rate {
            return (s.latency_ms, Some(Injected::Drop));
        }
        (s.latency_ms, pick_status(&s, rng.random::<f64>()))
    }
}

/// Maps one uniform draw onto the error rates laid end to end.
fn pick_status(s: &FaultSettings, draw: f64) -> Option<Injected> {
    let table = [
        (s.rate429, StatusCode::TOO_MANY_REQUESTS),
        (s.rate409, StatusCode::CONFLICT),
        (s.rate500, StatusCode::INTERNAL_SERVER_ERROR),
        (s.rate502, StatusCode::BAD_GATEWAY),
        (s.rate503, StatusCode::SERVICE_UNAVAILABLE),
    ];
    let mut edge = 0.0;
    for (rate, status) in table {
        edge += rate;
        if draw < edge {
            return Some(Injected::Status(status));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_map_onto_consecutive_rate_bands() {
        let s = FaultSettings {
            rate429: 0.1,
            rate409: 0.2,
            rate503: 0.3,
            ..Default::default()
        };
        let status = |d| pick_status(&s, d);
        assert_eq!(
            status(0.05),
            Some(Injected::Status(StatusCode::TOO_MANY_REQUESTS))
        );
        assert_eq!(status(0.15), Some(Injected::Status(StatusCode::CONFLICT)));
        assert_eq!(
            status(0.45),
            Some(Injected::Status(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(status(0.65), None);
    }

    #[test]
    fn invalid_settings_are_refused() {
        let f = Faults::default();
        assert!(f
            .set(FaultSettings {
                rate500: 1.5,
                ..Default::default()
            })
            .is_err());
        assert!(f
            .set(FaultSettings {
                rate500: 0.6,
                rate502: 0.6,
                ..Default::default()
            })
            .is_err());
        assert!(f
            .set(FaultSettings {
                drop_rate: -0.1,
                ..Default::default()
            })
            .is_err());
        assert_eq!(f.settings(), FaultSettings::default());
        let ok = FaultSettings {
            rate409: 1.0,
            latency_ms: 5,
            ..Default::default()
        };
        f.set(ok).expect("valid");
        assert_eq!(f.draw(), (5, Some(Injected::Status(StatusCode::CONFLICT))));
    }
}
