//! Client-side rate limiting, per portal: HubSpot's rolling 10-second budget and the
//! search endpoints' separate per-second budget; the portal's daily limit as
//! HubSpot's headers report it (`DailyBudget`, for batch runs to stop short of it).
//!
//! Why not `governor`: HubSpot counts requests in a *rolling* window ("at most N in any
//! 10 s"). GCRA (governor) refills continuously, so `burst = N` lets request N+1 go
//! 100 ms after a full burst and earns a 429; a GCRA that is safe for a rolling window
//! needs `burst + rate·window <= N`, i.e. half the burst and half the rate — needless
//! waits. A sliding log of the last N requests models the window exactly, so it is what
//! this module implements.
//!
//! A slot is timestamped when its response *arrives*, not when the request leaves:
//! HubSpot counted the request at some moment before that, so "completion + interval"
//! is never earlier than HubSpot's own expiry, whatever the latency. That makes the
//! limiter safe without guessing a clock margin, at the cost of one latency per window.
//!
//! Fairness: callers of one portal queue FIFO (a fair tokio mutex per priority class;
//! only the head of each queue polls the window). Portals are independent limiters.
//! Priorities: `Bulk` callers leave one slot free per waiting `Interactive`
//! caller, up to the reserve share, so live traffic (e.g. webhook-driven syncs
//! while a backfill runs) takes the next slots that free up, within one window
//! at most, and gets at least the reserve when it needs that much. While none
//! waits, `Bulk` may use the reserve too, all but a small headroom
//! (work-conserving: an idle reserve would only slow the backfill).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Who is asking; `Bulk` leaves the reserved share to `Interactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    #[default]
    Interactive,
    Bulk,
}

/// Limits of one portal.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per `interval` (HubSpot: 100 Free/Starter, 190 Pro/Enterprise, 110 OAuth apps).
    pub max: u32,
    pub interval: Duration,
    /// Search requests per second (HubSpot's changelog: 4 per token; docs: 5 per account).
    pub search_per_second: u32,
    /// Share of `max` that `Bulk` callers leave for `Interactive` ones, 0.0..1.0.
    pub bulk_reserve_share: f64,
    /// Whether search calls also consume the general budget.
    pub search_counts_toward_general: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max: 100,
            interval: Duration::from_secs(10),
            search_per_second: 4,
            bulk_reserve_share: 0.0,
            search_counts_toward_general: true,
        }
    }
}

/// What the window says about granting a slot now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Grant,
    /// The oldest finished slot leaves the window at this instant.
    WaitUntil(Instant),
    /// Every slot is in flight: wait for a response (then its expiry).
    WaitForCompletion,
}

/// The sliding log: in-flight requests plus completion times within the interval.
#[derive(Debug)]
struct WindowState {
    max: u32,
    interval: Duration,
    reserve: u32,
    in_flight: u32,
    completed: VecDeque<Instant>,
    /// Slots taken by traffic that is not ours (learned from headers), by time seen.
    foreign: VecDeque<Instant>,
    /// Grants ever made: lets `observe` bound what HubSpot can have seen of ours.
    grants: u64,
    /// `Interactive` callers waiting for a slot: `Bulk` callers leave one slot
    /// each (up to the reserve, at least `headroom`).
    interactive_waiting: u32,
}

/// Our view when a request was granted: slots in use (itself included) and the
/// grant counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantSnapshot {
    used: u32,
    grants: u64,
}

impl WindowState {
    fn new(max: u32, interval: Duration, reserve_share: f64) -> Self {
        let mut s = Self {
            max: max.max(1),
            interval,
            reserve: 0,
            in_flight: 0,
            completed: VecDeque::new(),
            foreign: VecDeque::new(),
            grants: 0,
            interactive_waiting: 0,
        };
        s.set_reserve(reserve_share);
        s
    }

    fn set_reserve(&mut self, share: f64) {
        let share = share.clamp(0.0, 0.9);
        // Bulk keeps at least one slot so it can never starve completely.
        self.reserve = ((f64::from(self.max) * share).floor() as u32).min(self.max - 1);
    }

    fn purge(&mut self, now: Instant) {
        let interval = self.interval;
        for log in [&mut self.completed, &mut self.foreign] {
            while log.front().is_some_and(|&t| t + interval <= now) {
                log.pop_front();
            }
        }
    }

    /// Our own slots in the window.
    fn ours(&self) -> u32 {
        self.in_flight + self.completed.len() as u32
    }

    fn used(&self) -> u32 {
        self.ours() + self.foreign.len() as u32
    }

    fn limit_for(&self, priority: Priority) -> u32 {
        match priority {
            Priority::Interactive => self.max,
            Priority::Bulk => self.max - self.held_for_interactive(),
        }
    }

    /// Slots `Bulk` leaves free: one per waiting `Interactive` caller (so each
    /// takes the next slot that frees, within one window), at most the
    /// reserve, and at least the headroom. Holding the whole reserve for one
    /// waiting call would idle the rest of it: on a backfill with a live sync
    /// every second that cost a tenth of the run.
    fn held_for_interactive(&self) -> u32 {
        self.interactive_waiting
            .clamp(self.headroom(), self.reserve.max(self.headroom()))
    }

    /// Slots `Bulk` leaves free even while no `Interactive` caller waits (2 % of
    /// the window, at most the reserve), so a live sync arriving usually finds
    /// one at once instead of waiting for the oldest slot to expire.
    fn headroom(&self) -> u32 {
        self.max.div_ceil(50).min(self.reserve)
    }

    fn decide(&mut self, now: Instant, priority: Priority) -> Decision {
        self.purge(now);
        let limit = self.limit_for(priority);
        let used = self.used();
        if used < limit {
            return Decision::Grant;
        }
        // Slots free up oldest-first; we need `used - limit + 1` of them to expire.
        let must_expire = (used - limit) as usize;
        let mut finished: Vec<Instant> = self
            .completed
            .iter()
            .chain(self.foreign.iter())
            .copied()
            .collect();
        if must_expire >= finished.len() {
            return Decision::WaitForCompletion;
        }
        let (_, nth, _) = finished.select_nth_unstable(must_expire);
        Decision::WaitUntil(*nth + self.interval)
    }

    fn grant(&mut self) -> GrantSnapshot {
        self.in_flight += 1;
        self.grants += 1;
        GrantSnapshot {
            used: self.ours(),
            grants: self.grants,
        }
    }

    fn complete(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.completed.push_back(now);
    }

    /// Folds in what HubSpot reported in the response to the request granted at
    /// `snapshot`. Returns true if capacity may have grown.
    fn observe(
        &mut self,
        now: Instant,
        report: RateReport,
        snapshot: Option<GrantSnapshot>,
        reserve_share: f64,
    ) -> bool {
        let mut grew = false;
        if let Some(interval) = report.interval.filter(|i| !i.is_zero()) {
            if interval != self.interval {
                grew |= interval < self.interval;
                self.interval = interval;
            }
        }
        if let Some(max) = report.max.filter(|m| *m > 0) {
            if max != self.max {
                grew |= max > self.max;
                self.max = max;
                self.set_reserve(reserve_share);
            }
        }
        self.purge(now);
        if let (Some(max), Some(remaining), Some(snap)) = (report.max, report.remaining, snapshot) {
            // HubSpot counted this request when it arrived. Of ours it can have seen at
            // most what we held when we granted it (our slots expire after its copies)
            // plus what we granted since. Anything above that is someone else's traffic
            // on the same app and portal; the part we do not know of yet is added as
            // just-finished slots. (Comparing with our *current* count instead would
            // misread a stale header as foreign traffic.)
            let server_used = max.saturating_sub(remaining);
            let ours_bound = u64::from(snap.used) + (self.grants - snap.grants);
            let foreign = u64::from(server_used).saturating_sub(ours_bound);
            let known = self.foreign.len() as u64;
            for _ in known..foreign.min(u64::from(max)) {
                self.foreign.push_back(now);
            }
        }
        grew
    }
}

/// What `X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds` said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateReport {
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval: Option<Duration>,
}

/// One rolling-window budget, shared by all tasks that talk to one portal.
#[derive(Debug)]
pub struct WindowLimiter {
    name: &'static str,
    state: Mutex<WindowState>,
    reserve_share: f64,
    queues: [tokio::sync::Mutex<()>; 2],
    changed: Notify,
}

/// A granted slot. Dropping it records the completion time, so keep it until the
/// response (or the error) has arrived.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<WindowLimiter>,
    snapshot: GrantSnapshot,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.state.lock().complete(Instant::now());
        self.limiter.changed.notify_waiters();
    }
}

/// One `Interactive` caller waiting for a slot of `limiter`, until dropped.
struct InteractiveWaiting<'a> {
    limiter: &'a WindowLimiter,
}

impl<'a> InteractiveWaiting<'a> {
    fn new(limiter: &'a WindowLimiter) -> Self {
        limiter.state.lock().interactive_waiting += 1;
        Self { limiter }
    }
}

impl Drop for InteractiveWaiting<'_> {
    fn drop(&mut self) {
        let none_left = {
            let mut st = self.limiter.state.lock();
            st.interactive_waiting = st.interactive_waiting.saturating_sub(1);
            st.interactive_waiting == 0
        };
        if none_left {
            // Bulk callers may use the reserve again.
            self.limiter.changed.notify_waiters();
        }
    }
}

impl WindowLimiter {
    pub fn new(name: &'static str, max: u32, interval: Duration, reserve_share: f64) -> Arc<Self> {
        Arc::new(Self {
            name,
            state: Mutex::new(WindowState::new(max, interval, reserve_share)),
            reserve_share,
            queues: [tokio::sync::Mutex::new(()), tokio::sync::Mutex::new(())],
            changed: Notify::new(),
        })
    }

    /// Waits for a slot (FIFO among callers of the same priority).
    pub async fn acquire(self: &Arc<Self>, priority: Priority) -> Permit {
        let started = Instant::now();
        let queue = match priority {
            Priority::Interactive => &self.queues[0],
            Priority::Bulk => &self.queues[1],
        };
        // Counted from arrival to grant (or cancellation): meanwhile Bulk gives
        // the reserve back.
        let _waiting = (priority == Priority::Interactive).then(|| InteractiveWaiting::new(self));
        // tokio's Mutex is fair: waiters are served in arrival order.
        let _head = queue.lock().await;
        let snapshot;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Register before looking, so a notification between look and wait is kept.
            changed.as_mut().enable();
            let (decision, granted) = {
                let mut st = self.state.lock();
                let d = st.decide(Instant::now(), priority);
                let granted = (d == Decision::Grant).then(|| st.grant());
                (d, granted)
            };
            if let Some(snap) = granted {
                snapshot = snap;
                break;
            }
            match decision {
                Decision::Grant => {}
                Decision::WaitUntil(t) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(t) => {}
                        _ = &mut changed => {}
                    }
                }
                Decision::WaitForCompletion => changed.await,
            }
        }
        let waited = started.elapsed();
        metrics::histogram!("hubspot_limiter_wait_seconds", "limiter" => self.name)
            .record(waited.as_secs_f64());
        Permit {
            limiter: Arc::clone(self),
            snapshot,
        }
    }

    /// Adapts to the rate headers of a response; `permit` is the slot the request
    /// was sent with (without it, only max and interval are taken).
    pub fn observe(&self, report: RateReport, permit: Option<&Permit>) {
        let snapshot = permit
            .filter(|p| std::ptr::eq(Arc::as_ptr(&p.limiter), self))
            .map(|p| p.snapshot);
        let grew = self
            .state
            .lock()
            .observe(Instant::now(), report, snapshot, self.reserve_share);
        if grew {
            self.changed.notify_waiters();
        }
    }

    /// Current `(max, interval)`.
    pub fn budget(&self) -> (u32, Duration) {
        let st = self.state.lock();
        (st.max, st.interval)
    }
}

/// What HubSpot last said about a portal's daily limit
/// (`X-HubSpot-RateLimit-Daily` / `-Daily-Remaining`; private apps only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyBudget {
    pub max: u64,
    pub remaining: u64,
    /// When it was last said: news after a moment tells what the limit allows now.
    pub seen_at: Instant,
    /// The UTC day it was said on: the limit has reset since an earlier day's.
    pub day: chrono::NaiveDate,
}

impl DailyBudget {
    /// The calls `Bulk` work leaves to `Interactive` work today: `share` of the
    /// daily limit (as the window's reserve), at least one.
    pub fn reserve(&self, share: f64) -> u64 {
        let share = share.clamp(0.0, 0.9);
        ((self.max as f64 * share).ceil() as u64).max(1)
    }
}

/// The budgets of one portal.
#[derive(Debug)]
pub struct PortalLimiter {
    pub general: Arc<WindowLimiter>,
    pub search: Arc<WindowLimiter>,
    search_counts_toward_general: bool,
    reserve_share: f64,
    daily: Mutex<Option<DailyBudget>>,
}

/// The slots one request holds.
#[derive(Debug)]
pub struct RequestPermits {
    _search: Option<Permit>,
    general: Option<Permit>,
}

impl RequestPermits {
    /// The general-budget slot, to pair a response's rate headers with.
    pub fn general(&self) -> Option<&Permit> {
        self.general.as_ref()
    }
}

impl PortalLimiter {
    pub fn new(config: &RateLimitConfig) -> Arc<Self> {
        Arc::new(Self {
            general: WindowLimiter::new(
                "general",
                config.max,
                config.interval,
                config.bulk_reserve_share,
            ),
            search: WindowLimiter::new(
                "search",
                config.search_per_second,
                Duration::from_secs(1),
                config.bulk_reserve_share,
            ),
            search_counts_toward_general: config.search_counts_toward_general,
            reserve_share: config.bulk_reserve_share,
            daily: Mutex::new(None),
        })
    }

    /// The share of each budget `Bulk` callers leave to `Interactive` ones.
    pub fn reserve_share(&self) -> f64 {
        self.reserve_share
    }

    /// Folds in a response's daily-limit headers. Responses overtake each other,
    /// so within one day and limit the lowest remaining count stands.
    pub fn observe_daily(&self, max: u64, remaining: u64) {
        self.observe_daily_on(max, remaining, chrono::Utc::now().date_naive());
    }

    fn observe_daily_on(&self, max: u64, remaining: u64, day: chrono::NaiveDate) {
        let mut daily = self.daily.lock();
        let remaining = match *daily {
            Some(d) if d.day == day && d.max == max => d.remaining.min(remaining),
            _ => remaining,
        };
        *daily = Some(DailyBudget {
            max,
            remaining,
            seen_at: Instant::now(),
            day,
        });
    }

    /// Today's daily budget as HubSpot last reported it (`None`: not reported
    /// today, e.g. OAuth apps, which have no daily limit).
    pub fn daily(&self) -> Option<DailyBudget> {
        let today = chrono::Utc::now().date_naive();
        (*self.daily.lock()).filter(|d| d.day == today)
    }

    /// Slots for one request: the search budget for `/search`, and the general one.
    pub async fn acquire(&self, is_search: bool, priority: Priority) -> RequestPermits {
        let search = if is_search {
            Some(self.search.acquire(priority).await)
        } else {
            None
        };
        let general = if !is_search || self.search_counts_toward_general {
            Some(self.general.acquire(priority).await)
        } else {
            None
        };
        RequestPermits {
            _search: search,
            general,
        }
    }
}

/// Limiters keyed by portal, shared by every client of the process so two clients of
/// one portal draw from one budget.
#[derive(Debug, Default)]
pub struct RateLimiters {
    config: RateLimitConfig,
    portals: Mutex<HashMap<String, Arc<PortalLimiter>>>,
}

impl RateLimiters {
    pub fn new(config: RateLimitConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            portals: Mutex::new(HashMap::new()),
        })
    }

    /// The limiter of a portal (key: portal id, or any stable per-portal string).
    pub fn for_portal(&self, key: &str) -> Arc<PortalLimiter> {
        let mut map = self.portals.lock();
        Arc::clone(
            map.entry(key.to_string())
                .or_insert_with(|| PortalLimiter::new(&self.config)),
        )
    }

    /// Drops portals nobody else holds (call now and then; portal ids are few, but
    /// the map should not only ever grow).
    pub fn sweep(&self) {
        self.portals.lock().retain(|_, l| Arc::strong_count(l) > 1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TEN: Duration = Duration::from_secs(10);

    fn fill(st: &mut WindowState, n: u32, at: Instant) {
        for _ in 0..n {
            assert_eq!(st.decide(at, Priority::Interactive), Decision::Grant);
            st.grant();
        }
    }

    #[test]
    fn grants_up_to_max_then_waits_for_completion() {
        let t0 = Instant::now();
        let mut st = WindowState::new(3, TEN, 0.0);
        fill(&mut st, 3, t0);
        assert_eq!(
            st.decide(t0, Priority::Interactive),
            Decision::WaitForCompletion
        );
    }

    #[test]
    fn slot_frees_exactly_one_interval_after_completion() {
        let t0 = Instant::now();
        let mut st = WindowState::new(2, TEN, 0.0);
        fill(&mut st, 2, t0);
        let done1 = t0 + Duration::from_millis(30);
        st.complete(done1);
        st.complete(done1 + Duration::from_millis(5));
        assert_eq!(
            st.decide(done1, Priority::Interactive),
            Decision::WaitUntil(done1 + TEN)
        );
        let just_before = done1 + TEN - Duration::from_millis(1);
        assert_eq!(
            st.decide(just_before, Priority::Interactive),
            Decision::WaitUntil(done1 + TEN)
        );
        assert_eq!(
            st.decide(done1 + TEN, Priority::Interactive),
            Decision::Grant
        );
    }

    #[test]
    fn waits_for_the_right_slot_when_over_budget() {
        // max lowered from 4 to 2 by headers while 4 slots are finished:
        // three must expire before one more fits (used must drop to 1), so the
        // wait ends when the third-oldest leaves the window.
        let t0 = Instant::now();
        let mut st = WindowState::new(4, TEN, 0.0);
        fill(&mut st, 4, t0);
        for i in 0..4 {
            st.complete(t0 + Duration::from_secs(i));
        }
        st.observe(
            t0 + Duration::from_secs(4),
            RateReport {
                max: Some(2),
                ..RateReport::default()
            },
            None,
            0.0,
        );
        assert_eq!(
            st.decide(t0 + Duration::from_secs(4), Priority::Interactive),
            Decision::WaitUntil(t0 + Duration::from_secs(2) + TEN)
        );
    }

    #[test]
    fn bulk_uses_the_reserve_while_no_live_sync_waits() {
        let t0 = Instant::now();
        let mut st = WindowState::new(100, TEN, 0.2);
        // All but the 2 % headroom: 98 of 100, not 80.
        for _ in 0..98 {
            assert_eq!(st.decide(t0, Priority::Bulk), Decision::Grant);
            st.grant();
        }
        assert_eq!(st.decide(t0, Priority::Bulk), Decision::WaitForCompletion);
        assert_eq!(st.decide(t0, Priority::Interactive), Decision::Grant);
    }

    #[test]
    fn a_waiting_live_sync_takes_the_reserve_back_within_one_window() {
        let t0 = Instant::now();
        let mut st = WindowState::new(100, TEN, 0.2);
        for i in 0..98 {
            st.grant();
            st.complete(t0 + Duration::from_millis(i * 10));
        }
        let arrival = t0 + Duration::from_secs(1);
        st.interactive_waiting = 2;
        // Bulk leaves the two of them a slot each (the headroom): it waits for
        // its oldest slot to expire.
        assert_eq!(
            st.decide(arrival, Priority::Bulk),
            Decision::WaitUntil(t0 + TEN)
        );
        // Thirty waiting: Bulk leaves them the whole reserve (20), no more.
        st.interactive_waiting = 30;
        assert_eq!(st.limit_for(Priority::Bulk), 80);
        assert_eq!(
            st.decide(arrival, Priority::Bulk),
            Decision::WaitUntil(t0 + Duration::from_millis(180) + TEN)
        );
        st.interactive_waiting = 2;
        // The live syncs get the two free slots at once…
        for _ in 0..2 {
            assert_eq!(st.decide(arrival, Priority::Interactive), Decision::Grant);
            st.grant();
        }
        // …and the next one the oldest slot, within one window of arriving.
        match st.decide(arrival, Priority::Interactive) {
            Decision::WaitUntil(t) => assert!(t <= arrival + TEN, "{t:?}"),
            other => panic!("{other:?}"),
        }
        // Once none waits, Bulk may fill the window again (but the headroom).
        st.interactive_waiting = 0;
        assert_eq!(st.limit_for(Priority::Bulk), 98);
    }

    #[test]
    fn without_a_reserve_bulk_has_the_whole_window() {
        let mut st = WindowState::new(100, TEN, 0.0);
        assert_eq!(st.limit_for(Priority::Bulk), 100);
        st.interactive_waiting = 1;
        assert_eq!(st.limit_for(Priority::Bulk), 100);
        let small = WindowState::new(10, TEN, 0.3);
        assert_eq!(small.limit_for(Priority::Bulk), 9, "headroom 1 of 10");
    }

    #[tokio::test]
    async fn a_live_caller_is_counted_while_it_waits_and_released_when_served() {
        let limiter = WindowLimiter::new("test", 10, TEN, 0.5);
        let mut bulk = Vec::new();
        for _ in 0..9 {
            bulk.push(limiter.acquire(Priority::Bulk).await);
        }
        assert_eq!(limiter.state.lock().interactive_waiting, 0);
        let live = limiter.acquire(Priority::Interactive).await;
        assert_eq!(
            limiter.state.lock().interactive_waiting,
            0,
            "served at once"
        );
        // The window is full: a second live caller waits, and Bulk leaves it
        // a slot (the headroom already is one).
        let waiting = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire(Priority::Interactive).await }
        });
        while limiter.state.lock().interactive_waiting == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(limiter.state.lock().limit_for(Priority::Bulk), 9);
        limiter.state.lock().interactive_waiting += 3;
        assert_eq!(
            limiter.state.lock().limit_for(Priority::Bulk),
            6,
            "one slot per waiting caller"
        );
        limiter.state.lock().interactive_waiting -= 3;
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(limiter.state.lock().interactive_waiting, 0, "cancelled");
        assert_eq!(limiter.state.lock().limit_for(Priority::Bulk), 9);
        drop((live, bulk));
    }

    fn report(max: u32, remaining: u32) -> RateReport {
        RateReport {
            max: Some(max),
            remaining: Some(remaining),
            interval: None,
        }
    }

    #[test]
    fn foreign_traffic_reported_by_headers_is_counted() {
        let t0 = Instant::now();
        let mut st = WindowState::new(100, TEN, 0.0);
        let snap = st.grant();
        // HubSpot says 40 used in the window; we had sent only this one.
        st.observe(t0, report(100, 60), Some(snap), 0.0);
        assert_eq!(st.used(), 40);
        // A more optimistic report adds nothing.
        st.observe(t0, report(100, 90), Some(snap), 0.0);
        assert_eq!(st.used(), 40);
    }

    #[test]
    fn a_stale_header_is_not_mistaken_for_foreign_traffic() {
        // We granted 10 (the window is full), then HubSpot's copy of the oldest
        // expired and ours too; the response of request 10 arrives late saying
        // "10 used" although we now count 9. That is our own traffic, not foreign.
        let t0 = Instant::now();
        let mut st = WindowState::new(10, TEN, 0.0);
        let mut last = None;
        for _ in 0..10 {
            last = Some(st.grant());
        }
        for i in 0..10 {
            st.complete(t0 + Duration::from_millis(i));
        }
        let later = t0 + TEN + Duration::from_millis(1);
        st.purge(later);
        assert_eq!(st.used(), 8);
        st.observe(later, report(10, 0), last, 0.0);
        assert_eq!(st.used(), 8);
    }

    #[test]
    fn header_max_and_interval_replace_the_configured_budget() {
        let t0 = Instant::now();
        let mut st = WindowState::new(100, TEN, 0.0);
        let r = RateReport {
            max: Some(190),
            remaining: None,
            interval: Some(TEN),
        };
        assert!(st.observe(t0, r, None, 0.0));
        assert_eq!(st.max, 190);
        let r = RateReport {
            max: Some(110),
            ..RateReport::default()
        };
        assert!(!st.observe(t0, r, None, 0.0));
        assert_eq!(st.max, 110);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let limiter = WindowLimiter::new("test", 1, Duration::from_secs(1), 0.0);
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = limiter.acquire(Priority::Interactive).await;
        let mut tasks = Vec::new();
        for i in 0..5 {
            let l = Arc::clone(&limiter);
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                let _p = l.acquire(Priority::Interactive).await;
                order.lock().push(i);
            }));
            // Let task i enqueue before task i+1 starts.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn daily_reports_keep_the_lowest_count_of_a_day_and_reset_with_it() {
        let limiter = PortalLimiter::new(&RateLimitConfig {
            bulk_reserve_share: 0.2,
            ..RateLimitConfig::default()
        });
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
        assert_eq!(*limiter.daily.lock(), None);
        limiter.observe_daily_on(1000, 400, day);
        // A response that left earlier arrives later with an older count.
        limiter.observe_daily_on(1000, 450, day);
        let d = limiter.daily.lock().unwrap();
        assert_eq!((d.max, d.remaining), (1000, 400));
        assert_eq!(d.reserve(limiter.reserve_share()), 200);
        // A raised limit, and a new day, replace the count.
        limiter.observe_daily_on(5000, 4300, day);
        assert_eq!(limiter.daily.lock().unwrap().remaining, 4300);
        limiter.observe_daily_on(5000, 4990, day.succ_opt().unwrap());
        assert_eq!(limiter.daily.lock().unwrap().remaining, 4990);
        // A report from an earlier day says nothing about today.
        limiter.observe_daily_on(5000, 10, day);
        assert_eq!(limiter.daily(), None);
        limiter.observe_daily(5000, 10);
        assert_eq!(limiter.daily().map(|d| d.remaining), Some(10));
        assert_eq!(d.reserve(0.0), 1, "at least one call is left to live syncs");
    }

    #[tokio::test]
    async fn portals_are_independent() {
        let limiters = RateLimiters::new(RateLimitConfig {
            max: 1,
            ..RateLimitConfig::default()
        });
        let a = limiters.for_portal("1");
        let b = limiters.for_portal("2");
        let _pa = a.acquire(false, Priority::Interactive).await;
        // Portal 2 still has its whole budget: this must not wait on portal 1.
        let st = b.general.state.lock().used();
        assert_eq!(st, 0);
        assert_eq!(a.general.state.lock().used(), 1);
        assert!(Arc::ptr_eq(&a, &limiters.for_portal("1")));
    }
}
