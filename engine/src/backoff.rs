//! The Git poll backoff policy (docs/node.md): the interval doubles with each consecutive failure, up
//! to five minutes, and is the configured interval again after a success. No clock: callers pass
//! the failure count.

use std::time::Duration;

/// The longest wait between two polls while the remote keeps failing.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// The wait before the next poll after `consecutive_failures` failed polls in a row.
pub fn poll_delay(poll_interval: Duration, consecutive_failures: u32) -> Duration {
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
    fn a_success_resets_to_the_interval() {
        assert_eq!(poll_delay(FIVE_SECONDS, 0), FIVE_SECONDS);
        assert_eq!(
            poll_delay(Duration::from_millis(500), 1),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn an_interval_above_the_cap_is_capped() {
        assert_eq!(poll_delay(Duration::from_secs(600), 0), MAX_POLL_INTERVAL);
    }
}
