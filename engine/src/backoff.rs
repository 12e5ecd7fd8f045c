//! The Git poll backoff policy (docs/node.md): after a failure the wait doubles with each
//! consecutive failure, up to five minutes, and is the configured interval again after a success.
//! The cap bounds only the failure backoff: a `pollInterval` above five minutes is honoured while
//! the remote answers. No clock: callers pass the failure count.

use std::time::Duration;

/// The shortest `pollInterval` a node accepts: polling faster only loads the Git host.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait between two polls while the remote keeps failing.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);

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
    fn a_success_resets_to_the_interval() {
        assert_eq!(poll_delay(FIVE_SECONDS, 0), FIVE_SECONDS);
        assert_eq!(
            poll_delay(Duration::from_millis(500), 1),
            Duration::from_secs(1)
        );
    }
}
