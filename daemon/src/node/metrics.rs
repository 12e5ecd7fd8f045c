//! Prometheus metrics of the node (docs/status-api.md): polls and failures, reconciles, actions by kind and
//! result, probe failures, the last successful sync time and the current backoff. Text encoding
//! only; serving them is the status API's job.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub kind: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    pub deployment: String,
}

pub struct Metrics {
    registry: Registry,
    pub polls: Counter,
    pub poll_failures: Counter,
    pub reconciles: Counter,
    pub actions: Family<ActionLabels, Counter>,
    pub probe_failures: Counter,
    pub restarts: Family<DeploymentLabels, Counter>,
    pub last_successful_sync: Gauge<f64, AtomicU64>,
    pub backoff_seconds: Gauge<f64, AtomicU64>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("orun");
        let metrics = Metrics {
            polls: Counter::default(),
            poll_failures: Counter::default(),
            reconciles: Counter::default(),
            actions: Family::default(),
            probe_failures: Counter::default(),
            restarts: Family::default(),
            last_successful_sync: Gauge::default(),
            backoff_seconds: Gauge::default(),
            registry: Registry::default(),
        };
        // Register clones (they share their values), then move the filled registry in.
        registry.register(
            "git_polls",
            "Git polls of the tracked branch",
            metrics.polls.clone(),
        );
        registry.register(
            "git_poll_failures",
            "Git polls that failed",
            metrics.poll_failures.clone(),
        );
        registry.register("reconciles", "Reconcile passes", metrics.reconciles.clone());
        registry.register(
            "actions",
            "Plan actions executed, by kind and result",
            metrics.actions.clone(),
        );
        registry.register(
            "probe_failures",
            "Failed health probes",
            metrics.probe_failures.clone(),
        );
        registry.register(
            "container_restarts",
            "Containers restarted after failing their liveness probe, by deployment",
            metrics.restarts.clone(),
        );
        registry.register(
            "last_successful_sync_timestamp_seconds",
            "Unix time of the last successful Git sync",
            metrics.last_successful_sync.clone(),
        );
        registry.register(
            "poll_backoff_seconds",
            "Current wait between Git polls",
            metrics.backoff_seconds.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
