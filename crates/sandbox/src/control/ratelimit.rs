//! HubSpot's rate limits: a rolling 10-second window per app per portal, a daily
//! limit per portal (private-app calls only: OAuth calls have none), and the
//! search endpoints' own per-second limit per portal.
//!
//! Rolling windows are exact sliding logs (one timestamp per accepted request,
//! capped at the limit), so a burst of N+1 requests inside any 10 seconds gets a 429
//! on the last one, as HubSpot's `TEN_SECONDLY_ROLLING` policy does. Refused
//! requests are not recorded: they do not use up the window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

/// The limits in force; changeable at runtime through `PUT /_sandbox/ratelimits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Requests per rolling window per (app, portal).
    pub ten_second: u32,
    /// The rolling window's length (10 s at HubSpot).
    pub interval_ms: u64,
    /// Requests per calendar day (UTC) per portal, private-app tokens only.
    pub daily: u64,
    /// Search requests per rolling second per portal.
    pub search_per_second: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ten_second: 100,
            interval_ms: 10_000,
            daily: 250_000,
            search_per_second: 5,
        }
    }
}

/// Which HubSpot policy refused a request (`policyName` in the 429 body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    TenSecondlyRolling,
    Daily,
    Secondly,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::TenSecondlyRolling => "TEN_SECONDLY_ROLLING",
            Policy::Daily => "DAILY",
            Policy::Secondly => "SECONDLY",
        }
    }

    /// HubSpot's 429 message for the policy.
    pub fn message(self) -> &'static str {
        match self {
            Policy::TenSecondlyRolling => "You have reached your ten_secondly_rolling limit.",
            Policy::Daily => "You have reached your daily limit.",
            Policy::Secondly => "You have reached your secondly limit.",
        }
    }
}

/// What one request is, for the limiter.
#[derive(Debug, Clone, Copy)]
pub struct RequestKey {
    pub app_id: u64,
    pub portal_id: u64,
    /// Private-app calls count against (and report) the daily limit.
    pub daily_applies: bool,
    pub is_search: bool,
}

/// The numbers behind the `X-HubSpot-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    pub max: u32,
    pub remaining: u32,
    pub interval_ms: u64,
    /// `(limit, remaining)` when the daily limit applies.
    pub daily: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Limits are off: no headers either.
    Unlimited,
    Allowed(Budget),
    Limited(Policy, Budget),
}

/// An exact sliding log of accepted requests inside one window.
#[derive(Debug, Default)]
pub struct RollingWindow {
    hits: VecDeque<Instant>,
}

impl RollingWindow {
    fn prune(&mut self, now: Instant, window: Duration) {
        while let Some(&first) = self.hits.front() {
            if now.saturating_duration_since(first) >= window {
                self.hits.pop_front();
            } else {
                break;
            }
        }
    }

    /// Requests still allowed in the window ending at `now`.
    pub fn remaining(&mut self, now: Instant, window: Duration, limit: u32) -> u32 {
        self.prune(now, window);
        limit.saturating_sub(self.hits.len() as u32)
    }

    pub fn record(&mut self, now: Instant, limit: u32) {
        self.hits.push_back(now);
        // Lowering the limit at runtime must not leave the log longer than needed.
        while self.hits.len() > limit as usize {
            self.hits.pop_front();
        }
    }
}

/// A per-day counter; `day` is days since the epoch (UTC).
#[derive(Debug, Default, Clone, Copy)]
pub struct DailyCounter {
    day: i64,
    count: u64,
}

impl DailyCounter {
    fn roll(&mut self, day: i64) {
        if self.day != day {
            self.day = day;
            self.count = 0;
        }
    }

    pub fn remaining(&mut self, day: i64, limit: u64) -> u64 {
        self.roll(day);
        limit.saturating_sub(self.count)
    }

    pub fn record(&mut self, day: i64) {
        self.roll(day);
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Windows {
    ten_second: HashMap<(u64, u64), RollingWindow>,
    daily: HashMap<u64, DailyCounter>,
    search: HashMap<u64, RollingWindow>,
}

/// The limiter the API guard consults on every request.
#[derive(Debug)]
pub struct RateLimiter {
    settings: RwLock<RateLimitSettings>,
    windows: Mutex<Windows>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        Self {
            settings: RwLock::new(settings),
            windows: Mutex::new(Windows::default()),
        }
    }

    pub fn settings(&self) -> RateLimitSettings {
        *self.settings.read()
    }

    pub fn set_settings(&self, settings: RateLimitSettings) {
        *self.settings.write() = settings;
    }

    /// Forgets every window and counter (used by tests and `stats/reset`).
    pub fn reset(&self) {
        *self.windows.lock() = Windows::default();
    }

    pub fn check(&self, key: RequestKey) -> Decision {
        let day = chrono::Utc::now().timestamp().div_euclid(86_400);
        self.check_at(key, Instant::now(), day)
    }

    /// Decides and, when allowed, records the request at `now` on `day`.
    pub fn check_at(&self, key: RequestKey, now: Instant, day: i64) -> Decision {
        let s = self.settings();
        if !s.enabled {
            return Decision::Unlimited;
        }
        let window = Duration::from_millis(s.interval_ms.max(1));
        let mut w = self.windows.lock();
        let ten = w
            .ten_second
            .entry((key.app_id, key.portal_id))
            .or_default()
            .remaining(now, window, s.ten_second);
        let daily_left = key.daily_applies.then(|| {
            w.daily
                .entry(key.portal_id)
                .or_default()
                .remaining(day, s.daily)
        });
        let search_left = key.is_search.then(|| {
            w.search.entry(key.portal_id).or_default().remaining(
                now,
                Duration::from_secs(1),
                s.search_per_second,
            )
        });
        let budget = |ten_left: u32, daily_left: Option<u64>| Budget {
            max: s.ten_second,
            remaining: ten_left,
            interval_ms: s.interval_ms,
            daily: daily_left.map(|d| (s.daily, d)),
        };
        if search_left == Some(0) {
            return Decision::Limited(Policy::Secondly, budget(ten, daily_left));
        }
        if ten == 0 {
            return Decision::Limited(Policy::TenSecondlyRolling, budget(0, daily_left));
        }
        if daily_left == Some(0) {
            return Decision::Limited(Policy::Daily, budget(ten, Some(0)));
        }
        w.ten_second
            .entry((key.app_id, key.portal_id))
            .or_default()
            .record(now, s.ten_second);
        if key.daily_applies {
            w.daily.entry(key.portal_id).or_default().record(day);
        }
        if key.is_search {
            w.search
                .entry(key.portal_id)
                .or_default()
                .record(now, s.search_per_second);
        }
        Decision::Allowed(budget(ten - 1, daily_left.map(|d| d - 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(is_search: bool, daily: bool) -> RequestKey {
        RequestKey {
            app_id: 1,
            portal_id: 2,
            daily_applies: daily,
            is_search,
        }
    }

    fn limiter(ten: u32, daily: u64, search: u32) -> RateLimiter {
        RateLimiter::new(RateLimitSettings {
            enabled: true,
            ten_second: ten,
            interval_ms: 10_000,
            daily,
            search_per_second: search,
        })
    }

    #[test]
    fn window_refuses_the_request_after_the_limit_and_counts_down() {
        let l = limiter(3, 1000, 10);
        let t0 = Instant::now();
        let remaining: Vec<u32> = (0..3)
            .map(
                |i| match l.check_at(key(false, false), t0 + Duration::from_millis(i), 0) {
                    Decision::Allowed(b) => b.remaining,
                    other => panic!("expected allowed, got {other:?}"),
                },
            )
            .collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        assert!(matches!(
            l.check_at(key(false, false), t0 + Duration::from_millis(5), 0),
            Decision::Limited(Policy::TenSecondlyRolling, Budget { remaining: 0, .. })
        ));
    }

    #[test]
    fn window_rolls_rather_than_resetting_on_a_boundary() {
        let l = limiter(2, 1000, 10);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(matches!(
            l.check_at(key(false, false), at(0), 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            l.check_at(key(false, false), at(6_000), 0),
            Decision::Allowed(_)
        ));
        // 9.9 s after the first: both still inside the window.
        assert!(matches!(
            l.check_at(key(false, false), at(9_900), 0),
            Decision::Limited(..)
        ));
        // 10 s after the first, only it has left the window.
        assert!(matches!(
            l.check_at(key(false, false), at(10_000), 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            l.check_at(key(false, false), at(15_000), 0),
            Decision::Limited(..)
        ));
        assert!(matches!(
            l.check_at(key(false, false), at(16_000), 0),
            Decision::Allowed(_)
        ));
    }

    #[test]
    fn windows_are_per_app_and_portal() {
        let l = limiter(1, 1000, 10);
        let t0 = Instant::now();
        assert!(matches!(
            l.check_at(key(false, false), t0, 0),
            Decision::Allowed(_)
        ));
        let other_app = RequestKey {
            app_id: 9,
            ..key(false, false)
        };
        let other_portal = RequestKey {
            portal_id: 9,
            ..key(false, false)
        };
        assert!(matches!(l.check_at(other_app, t0, 0), Decision::Allowed(_)));
        assert!(matches!(
            l.check_at(other_portal, t0, 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            l.check_at(key(false, false), t0, 0),
            Decision::Limited(..)
        ));
    }

    #[test]
    fn daily_limit_applies_to_private_calls_and_resets_next_day() {
        let l = limiter(100, 2, 10);
        let t0 = Instant::now();
        for i in 0..2 {
            let d = l.check_at(key(false, true), t0 + Duration::from_secs(i * 20), 5);
            assert!(matches!(
                d,
                Decision::Allowed(Budget {
                    daily: Some((2, _)),
                    ..
                })
            ));
        }
        let t = t0 + Duration::from_secs(100);
        assert!(matches!(
            l.check_at(key(false, true), t, 5),
            Decision::Limited(Policy::Daily, _)
        ));
        // OAuth calls (no daily limit) still pass, and report no daily numbers.
        assert!(matches!(
            l.check_at(key(false, false), t, 5),
            Decision::Allowed(Budget { daily: None, .. })
        ));
        assert!(matches!(
            l.check_at(key(false, true), t, 6),
            Decision::Allowed(_)
        ));
    }

    #[test]
    fn search_has_its_own_per_second_window() {
        let l = limiter(100, 1000, 2);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(matches!(
            l.check_at(key(true, false), at(0), 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            l.check_at(key(true, false), at(100), 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            l.check_at(key(true, false), at(200), 0),
            Decision::Limited(Policy::Secondly, _)
        ));
        // Non-search calls are unaffected; search frees up a second later.
        assert!(matches!(
            l.check_at(key(false, false), at(300), 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            l.check_at(key(true, false), at(1_000), 0),
            Decision::Allowed(_)
        ));
    }

    #[test]
    fn refused_requests_do_not_use_up_the_window_and_disabling_lifts_limits() {
        let l = limiter(1, 1000, 10);
        let t0 = Instant::now();
        assert!(matches!(
            l.check_at(key(false, false), t0, 0),
            Decision::Allowed(_)
        ));
        for _ in 0..5 {
            assert!(matches!(
                l.check_at(key(false, false), t0, 0),
                Decision::Limited(..)
            ));
        }
        assert!(matches!(
            l.check_at(key(false, false), t0 + Duration::from_secs(10), 0),
            Decision::Allowed(_)
        ));
        l.set_settings(RateLimitSettings {
            enabled: false,
            ..l.settings()
        });
        assert_eq!(
            l.check_at(key(false, false), t0 + Duration::from_secs(10), 0),
            Decision::Unlimited
        );
    }
}
