//! The Git poller: fetches the tracked branch forever, doubling the wait after each consecutive
//! failure (engine::backoff), records each fetch in the status and metrics, and hands the result
//! to the reconciler. It never touches the work tree; only the reconciler checks commits out.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::metrics::Metrics;
use super::repo;
use super::status::{timestamp, NodeStatus, SharedStatus, SyncError, SyncState};
use super::Settings;
use crate::git::GitError;

/// Polls until `stop` changes or the reconciler is gone.
pub async fn poll_loop(
    settings: Arc<Settings>,
    interval: watch::Receiver<Duration>,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    results: mpsc::Sender<Result<String, GitError>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    loop {
        let started = Instant::now();
        let result = repo::fetch(&settings).await;
        metrics.polls.inc();
        let now = SystemTime::now();
        match &result {
            Ok(head) => {
                debug!(%head, fetch_ms = started.elapsed().as_millis(), "git poll");
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
        let delay = engine::backoff::poll_delay(*interval.borrow(), failures);
        metrics.backoff_seconds.set(delay.as_secs_f64());
        {
            let node = &mut status.lock().node;
            node.next_poll_at = Some(timestamp(now + delay));
            node.refresh_healthy();
        }
        if results.send(result).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A successful fetch of `head` at `now` ends a backoff.
fn fetched(node: &mut NodeStatus, head: &str, now: SystemTime) {
    node.last_sync_time = Some(timestamp(now));
    node.consecutive_failures = 0;
    node.git_head = Some(head.to_string());
    node.fetch_ok = true;
    if node.sync_state == SyncState::Backoff {
        node.sync_state = SyncState::Synced;
        node.set_sync_error(None);
    }
}

/// The `failures`-th failed fetch in a row.
fn fetch_failed(node: &mut NodeStatus, error: &GitError, failures: u32) {
    node.consecutive_failures = failures;
    node.sync_state = SyncState::Backoff;
    node.set_sync_error(Some(SyncError::Git(error.clone())));
    node.fetch_ok = false;
}
