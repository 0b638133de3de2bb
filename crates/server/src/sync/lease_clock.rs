//! How long a lease (a job's or a batch run's) is surely still ours, on this
//! process's monotonic clock.
//!
//! The database ends a lease `lease` after the claim or heartbeat that set it, so
//! counting from when that request was *sent*, minus a margin for the clocks'
//! tick, never outlives it. A process paused past that bound (SIGSTOP, a stalled
//! VM, a partition) may already have been superseded and must not write.
//! `expired()` looks at the clock on every poll, not only when its timer fires:
//! a task resumed after a pause sees the loss before it takes another step, in
//! whatever order the runtime wakes the resumed tasks (a heartbeat running on its
//! own task may well be woken after the work it guards).

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// The local bound on one lease's validity, moved forward by each successful
/// heartbeat.
#[derive(Debug)]
pub struct LeaseClock {
    lease: Duration,
    until: Mutex<Instant>,
}

impl LeaseClock {
    /// A lease of `lease` just set (by a claim made a moment ago).
    pub fn new(lease: Duration) -> Self {
        let clock = Self {
            lease,
            until: Mutex::new(Instant::now()),
        };
        clock.renewed(Instant::now());
        clock
    }

    /// A heartbeat sent at `sent` succeeded: the lease runs `lease` from a moment
    /// after that.
    pub fn renewed(&self, sent: Instant) {
        let margin = (self.lease / 10).max(Duration::from_millis(20));
        *self.until.lock() = sent + self.lease.saturating_sub(margin);
    }

    pub fn until(&self) -> Instant {
        *self.until.lock()
    }

    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.until()
    }

    /// Resolves once the bound has passed (checked against the clock at every
    /// poll; a renewal meanwhile moves the timer).
    pub async fn expired(&self) {
        let mut sleep = pin!(tokio::time::sleep_until(self.until()));
        std::future::poll_fn(|cx| {
            let until = self.until();
            if Instant::now() >= until {
                return Poll::Ready(());
            }
            if sleep.deadline() != until {
                sleep.as_mut().reset(until);
            }
            sleep.as_mut().poll(cx)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_bound_ends_a_margin_before_the_lease_and_moves_with_renewals() {
        let clock = LeaseClock::new(Duration::from_secs(60));
        assert!(!clock.is_expired());
        assert!(futures::poll!(pin!(clock.expired())).is_pending());
        let sent = Instant::now() + Duration::from_secs(30);
        clock.renewed(sent);
        assert_eq!(clock.until(), sent + Duration::from_secs(54));
    }

    #[tokio::test]
    async fn a_past_bound_is_seen_at_the_first_poll() {
        // A lease shorter than its margin is over at once.
        let clock = LeaseClock::new(Duration::from_millis(10));
        assert!(clock.is_expired());
        assert!(futures::poll!(pin!(clock.expired())).is_ready());
    }
}
