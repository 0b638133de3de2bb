//! Sync jobs: their lifecycle states and the retry schedule.
//!
//! The queue itself lives in the store; this module holds the pure parts so that
//! both backends and the worker agree on them. Randomness is an argument
//! (`rand_value` in `0..1`), keeping the schedule testable without a seed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum! {
    /// A queued job's state.
    pub enum JobState {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        /// Ended with an error that retrying cannot fix (e.g. a 400).
        Failed => "failed",
        /// Gave up after the last allowed attempt; the API can retry it by hand.
        Dead => "dead",
    }
}

impl JobState {
    /// A job in a terminal state is never picked up again by a worker.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Dead
        )
    }
}

/// The delay before retry number `attempt` (1 = the first retry): `base · 2^(attempt-1)`,
/// capped at `cap`, then reduced by up to `jitter_fraction` of itself
/// (`delay · (1 − jitter_fraction · rand_value)`).
///
/// Jitter only ever shortens the delay, so `cap` is a real upper bound, and workers
/// that failed together spread out instead of retrying in lockstep. Out-of-range
/// inputs are clamped: `jitter_fraction` and `rand_value` to `0..=1` (NaN as 0),
/// attempt 0 is treated as 1.
pub fn next_delay(
    attempt: u32,
    base: Duration,
    cap: Duration,
    jitter_fraction: f64,
    rand_value: f64,
) -> Duration {
    let exponent = attempt.saturating_sub(1).min(63);
    let factor = 2f64.powi(exponent as i32);
    let full = base.as_secs_f64() * factor;
    let capped = if full.is_finite() {
        full.min(cap.as_secs_f64())
    } else {
        cap.as_secs_f64()
    };
    let jitter = unit(jitter_fraction) * unit(rand_value);
    let secs = (capped * (1.0 - jitter)).max(0.0);
    Duration::from_secs_f64(secs).min(cap)
}

fn unit(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// How often and how patiently a job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub jitter_fraction: f64,
    /// Attempts in total, the first included; after the last one the job is dead.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
            jitter_fraction: 0.25,
            max_attempts: 8,
        }
    }
}

/// What to do after attempt number `attempts_made` failed with a retryable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    RetryAfter(Duration),
    Dead,
}

impl RetryPolicy {
    pub fn after_failure(&self, attempts_made: u32, rand_value: f64) -> RetryDecision {
        if attempts_made >= self.max_attempts {
            RetryDecision::Dead
        } else {
            RetryDecision::RetryAfter(next_delay(
                attempts_made,
                self.base,
                self.cap,
                self.jitter_fraction,
                rand_value,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn doubles_from_base_until_the_cap() {
        let d: Vec<_> = (1..=6)
            .map(|a| next_delay(a, S(1), S(10), 0.0, 0.5))
            .collect();
        assert_eq!(d, [S(1), S(2), S(4), S(8), S(10), S(10)]);
        assert_eq!(next_delay(0, S(3), S(10), 0.0, 0.0), S(3));
        assert_eq!(next_delay(u32::MAX, S(3), S(10), 0.0, 0.0), S(10));
    }

    #[test]
    fn jitter_shortens_by_the_given_fraction() {
        assert_eq!(next_delay(3, S(1), S(60), 0.5, 1.0), S(2));
        assert_eq!(next_delay(3, S(1), S(60), 0.5, 0.5), S(3));
        assert_eq!(next_delay(3, S(1), S(60), 0.5, 0.0), S(4));
        assert_eq!(next_delay(3, S(1), S(60), f64::NAN, 1.0), S(4));
        assert_eq!(next_delay(3, S(1), S(60), 7.0, 1.0), Duration::ZERO);
    }

    #[test]
    fn policy_gives_up_after_max_attempts() {
        let p = RetryPolicy {
            base: S(1),
            cap: S(100),
            jitter_fraction: 0.0,
            max_attempts: 3,
        };
        assert_eq!(p.after_failure(1, 0.0), RetryDecision::RetryAfter(S(1)));
        assert_eq!(p.after_failure(2, 0.0), RetryDecision::RetryAfter(S(2)));
        assert_eq!(p.after_failure(3, 0.0), RetryDecision::Dead);
    }

    #[test]
    fn states() {
        assert!(JobState::Dead.is_terminal() && !JobState::Running.is_terminal());
        assert_eq!(JobState::parse("succeeded"), Some(JobState::Succeeded));
    }

    proptest! {
        #[test]
        fn delay_is_within_jitter_band_and_cap(
            attempt in 0u32..100,
            base_ms in 1u64..10_000,
            cap_ms in 1u64..1_000_000,
            jitter in 0.0f64..=1.0,
            r in 0.0f64..1.0,
        ) {
            let base = Duration::from_millis(base_ms);
            let cap = Duration::from_millis(cap_ms);
            let d = next_delay(attempt, base, cap, jitter, r);
            let unjittered = next_delay(attempt, base, cap, 0.0, 0.0);
            prop_assert!(d <= cap);
            prop_assert!(d <= unjittered);
            prop_assert!(d.as_secs_f64() >= unjittered.as_secs_f64() * (1.0 - jitter) - 1e-9);
        }

        #[test]
        fn unjittered_delay_never_shrinks_with_attempts(attempt in 0u32..80, base_ms in 1u64..5_000) {
            let base = Duration::from_millis(base_ms);
            let cap = Duration::from_secs(3600);
            prop_assert!(next_delay(attempt + 1, base, cap, 0.0, 0.0) >= next_delay(attempt, base, cap, 0.0, 0.0));
        }
    }
}
