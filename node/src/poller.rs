//! The Git poller: fetches the tracked branch forever, every poll interval with jitter and doubling
//! the wait after each consecutive failure (engine::backoff), or at once when the webhook asks;
//! records each fetch in the status and metrics, reports sync trouble and recovery to the
//! notifier, and hands the result to the reconciler. It never touches the work tree; only the
//! reconciler checks commits out.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch, Notify};
use tracing::{debug, info, warn};

use super::metrics::Metrics;
use super::notifier::Notifier;
use super::repo;
use super::status::{timestamp, NodeStatus, SharedStatus, SyncError, SyncState};
use super::Settings;
use crate::decisions::events;
use adapters::git::GitError;

/// What the poller reports to besides the reconciler.
pub struct PollerOutputs {
    pub status: SharedStatus,
    pub metrics: Arc<Metrics>,
    pub notifier: Notifier,
}

/// Polls until `stop` changes or the reconciler is gone; `fetch_now` (the webhook) cuts a wait short.
pub async fn poll_loop(
    settings: Arc<Settings>,
    interval: watch::Receiver<Duration>,
    outputs: PollerOutputs,
    fetch_now: Arc<Notify>,
    results: mpsc::Sender<Result<String, GitError>>,
    mut stop: watch::Receiver<bool>,
) {
    let PollerOutputs {
        status,
        metrics,
        notifier,
    } = outputs;
    let mut failures: u32 = 0;
    loop {
        let before = failures;
        let started = Instant::now();
        let result = repo::fetch(&settings).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        metrics.polls.inc();
        let now = SystemTime::now();
        match &result {
            Ok(head) => {
                debug!(commit = %head, duration_ms, "git poll");
                failures = 0;
                let unix = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                metrics.last_successful_sync.set(unix.as_secs_f64());
                fetched(&mut status.lock().node, head, now);
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                metrics.poll_failures.inc();
                warn!(%error, consecutive_failures = failures, "git poll failed");
                fetch_failed(&mut status.lock().node, error, failures);
            }
        }
        let error = result.as_ref().err().map(ToString::to_string);
        if let Some(happening) = events::of_fetch(before, failures, error.as_deref()) {
            notifier.send(happening);
        }
        let delay = engine::backoff::next_poll(*interval.borrow(), failures, uniform_random());
        metrics.backoff_seconds.set(delay.as_secs_f64());
        status.lock().node.next_poll_at = Some(timestamp(now + delay));
        if results.send(result).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = fetch_now.notified() => info!("fetching now: the webhook asked"),
            _ = stop.changed() => return,
        }
    }
}

/// A number uniform in `[0, 1)` for the poll jitter; 0.5 (no jitter) if the system has no
/// randomness to give.
fn uniform_random() -> f64 {
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// A successful fetch of `head` at `now` ends a backoff.
fn fetched(node: &mut NodeStatus, head: &str, now: SystemTime) {
    node.last_sync_time = Some(timestamp(now));
    node.consecutive_failures = 0;
    node.git_head = Some(head.to_string());
    node.fetch_ok = true;
    if node.sync_state == SyncState::Backoff {
        node.sync_state = SyncState::Synced;
        node.sync_error = None;
    }
    // Under the same lock as the state it follows from: `/status` never shows one without the other.
    node.refresh_healthy();
}

/// The `failures`-th failed fetch in a row.
fn fetch_failed(node: &mut NodeStatus, error: &GitError, failures: u32) {
    node.consecutive_failures = failures;
    node.sync_state = SyncState::Backoff;
    node.sync_error = Some(SyncError::Git(error.clone()));
    node.fetch_ok = false;
    node.refresh_healthy();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_changes_with_the_fetch_that_decides_it() {
        let now = SystemTime::now();
        let mut node = NodeStatus::starting("n".into(), "production".into(), "main".into(), now);
        fetched(&mut node, "abc", now);
        assert!(node.healthy);
        fetch_failed(&mut node, &GitError::Task("gone".into()), 1);
        assert_eq!(node.sync_state, SyncState::Backoff);
        assert!(!node.healthy, "backoff shown with healthy true");
        fetched(&mut node, "abc", now);
        assert_eq!(node.sync_state, SyncState::Synced);
        assert!(node.healthy);
    }
}
