//! The Git poll schedule (docs/node.md): after a success the wait is the configured interval
//! shifted at random by up to ±10%, so that many nodes on one Git host spread out; after a failure
//! it doubles with each consecutive failure, up to five minutes, without jitter. The cap bounds
//! only the failure backoff: a `pollInterval` above five minutes is honoured while the remote
//! answers. No clock and no randomness: callers pass the failure count and a random number.

use std::time::Duration;

/// The shortest `pollInterval` a node accepts: polling faster only loads the Git host.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait between two polls while the remote keeps failing.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// The largest share of `pollInterval` by which jitter moves a poll, either way.
pub const JITTER: f64 = 0.1;

/// The wait before the next poll: [`jittered`] after a success, [`poll_delay`] after failures.
/// `random` is uniform in `[0, 1)`.
pub fn next_poll(poll_interval: Duration, consecutive_failures: u32, random: f64) -> Duration {
    if consecutive_failures == 0 {
        jittered(poll_interval, random)
    } else {
        poll_delay(poll_interval, consecutive_failures)
    }
}

/// `poll_interval` moved by up to ±[`JITTER`] of itself: `random` (uniform in `[0, 1)`, clamped)
/// 0 gives -10%, 0.5 the interval itself, towards 1 up to +10%.
pub fn jittered(poll_interval: Duration, random: f64) -> Duration {
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    poll_interval.mul_f64(1.0 - JITTER + 2.0 * JITTER * random)
}

/// The wait before the next poll after `consecutive_failures` failed polls in a row.
pub fn poll_delay(poll_interval: Duration, consecutive_failures: u32) -> Duration {
    if consecutive_failures == 0 {
        return poll_interval;
    }
    let factor = 2u32.checked_pow(consecutive_failures).unwrap_or(u32::MAX);
    poll_interval.saturating_mul(factor).min(MAX_POLL_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_SECONDS: Duration = Duration::from_secs(5);

    #[test]
    fn doubles_per_failure_from_the_poll_interval() {
        let delays: Vec<u64> = (0..8)
            .map(|n| poll_delay(FIVE_SECONDS, n).as_secs())
            .collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn never_exceeds_five_minutes_even_for_huge_counts() {
        assert_eq!(poll_delay(FIVE_SECONDS, 64), MAX_POLL_INTERVAL);
        assert_eq!(poll_delay(FIVE_SECONDS, u32::MAX), MAX_POLL_INTERVAL);
    }

    #[test]
    fn an_interval_above_five_minutes_is_kept_until_a_failure() {
        let ten_minutes = Duration::from_secs(600);
        assert_eq!(poll_delay(ten_minutes, 0), ten_minutes);
        assert_eq!(poll_delay(ten_minutes, 1), MAX_POLL_INTERVAL);
    }

    #[test]
    fn jitter_stays_within_ten_percent_either_way() {
        let interval = Duration::from_secs(60);
        assert_eq!(jittered(interval, 0.0), Duration::from_secs(54));
        assert_eq!(jittered(interval, 0.5), interval);
        assert_eq!(jittered(interval, 1.0), Duration::from_secs(66));
        for step in 0..=1000 {
            let delay = jittered(interval, f64::from(step) / 1000.0);
            assert!(delay >= Duration::from_secs(54) && delay <= Duration::from_secs(66));
        }
        assert_eq!(jittered(interval, -3.0), Duration::from_secs(54));
        assert_eq!(jittered(interval, 7.0), Duration::from_secs(66));
        assert_eq!(jittered(interval, f64::NAN), interval);
    }

    #[test]
    fn the_failure_backoff_has_no_jitter() {
        assert_eq!(next_poll(FIVE_SECONDS, 2, 0.0), Duration::from_secs(20));
        assert_eq!(next_poll(FIVE_SECONDS, 2, 0.99), Duration::from_secs(20));
        assert_eq!(next_poll(FIVE_SECONDS, 0, 0.0), Duration::from_millis(4500));
    }

    #[test]
    fn a_success_resets_to_the_interval() {
        assert_eq!(poll_delay(FIVE_SECONDS, 0), FIVE_SECONDS);
        assert_eq!(
            poll_delay(Duration::from_millis(500), 1),
            Duration::from_secs(1)
        );
    }
}
