//! Prometheus metrics of the node (docs/status-api.md): polls and failures, reconciles, actions by kind and
//! result, probe failures, the last successful sync time and the current backoff. Encoded as
//! OpenMetrics or as the Prometheus text format 0.0.4, as the client asks; serving them is the
//! status API's job.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::status::NodeStatus;

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
    /// Copied from the node's status when metrics are read ([`Metrics::record_node`]).
    healthy: Gauge,
    behind_head: Gauge,
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
            healthy: Gauge::default(),
            behind_head: Gauge::default(),
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
        registry.register(
            "healthy",
            "1 when the last Git fetch and the last reconcile succeeded, else 0",
            metrics.healthy.clone(),
        );
        registry.register(
            "applied_behind_head",
            "1 while the applied commit is not the fetched head of the branch, else 0",
            metrics.behind_head.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Copies the node's health and whether it is behind its branch from its status.
    pub fn record_node(&self, node: &NodeStatus) {
        let behind = node.git_head.is_some() && node.git_head != node.applied_commit;
        self.healthy.set(i64::from(node.healthy));
        self.behind_head.set(i64::from(behind));
    }

    /// Every metric in the format `accept` (a request's `Accept` header) asks for.
    pub fn encode(&self, accept: Option<&str>) -> Encoded {
        let mut families = String::new();
        prometheus_client::encoding::text::encode_registry(&mut families, &self.registry)
            .expect("writing to a String cannot fail");
        if accept.is_some_and(accepts_openmetrics) {
            Encoded {
                content_type: OPENMETRICS_CONTENT_TYPE,
                body: families + "# EOF\n",
            }
        } else {
            Encoded {
                content_type: PROMETHEUS_TEXT_CONTENT_TYPE,
                body: prometheus_text(&families),
            }
        }
    }
}

/// The Prometheus text format 0.0.4, what scrapers and `curl` get unless they ask for more.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics 1.0, for clients whose `Accept` header names it.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition and its media type.
#[derive(Debug)]
pub struct Encoded {
    pub content_type: &'static str,
    pub body: String,
}

/// Whether an `Accept` header lists OpenMetrics with a quality above zero.
fn accepts_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or_default();
        let refused = parts.any(|parameter| {
            parameter
                .strip_prefix("q=")
                .and_then(|quality| quality.parse::<f64>().ok())
                .is_some_and(|quality| quality <= 0.0)
        });
        media_type.eq_ignore_ascii_case("application/openmetrics-text") && !refused
    })
}

/// Rewrites metric families in OpenMetrics text (without `# EOF`) as Prometheus text 0.0.4: a
/// counter's `HELP` and `TYPE` name its `_total` series, `unknown` becomes `untyped`, and the
/// `UNIT` lines and counter `_created` series the older format lacks are dropped.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let is_counter_created = |line: &str| {
        counters.iter().any(|name| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix("_created"))
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
    };
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" || is_counter_created(line) {
            continue;
        }
        let rewritten = match line.split_once(' ') {
            Some(("#", comment)) => prometheus_comment(comment, &counters),
            _ => line.to_string(),
        };
        text.push_str(&rewritten);
        text.push('\n');
    }
    text
}

/// A `# HELP` or `# TYPE` line (given without its `# `) in the 0.0.4 form.
fn prometheus_comment(comment: &str, counters: &[&str]) -> String {
    let mut words = comment.splitn(3, ' ');
    let (keyword, name, rest) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let name = if counters.contains(&name) {
        format!("{name}_total")
    } else {
        name.to_string()
    };
    let rest = if keyword == "TYPE" && rest == "unknown" {
        "untyped"
    } else {
        rest
    };
    format!("# {keyword} {name} {rest}")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metrics {
        let metrics = Metrics::new();
        metrics.polls.inc();
        metrics
            .actions
            .get_or_create(&ActionLabels {
                kind: "create".into(),
                result: "ok".into(),
            })
            .inc();
        metrics.backoff_seconds.set(5.0);
        metrics
    }

    #[test]
    fn plain_clients_get_prometheus_text_with_counters_named_by_their_series() {
        for accept in [None, Some("text/plain"), Some("*/*")] {
            let encoded = sample().encode(accept);
            assert_eq!(encoded.content_type, PROMETHEUS_TEXT_CONTENT_TYPE);
            let text = encoded.body;
            assert!(!text.contains("# EOF"), "{text}");
            assert!(
                text.contains("# TYPE orun_git_polls_total counter\n"),
                "{text}"
            );
            assert!(text.contains("# HELP orun_git_polls_total "), "{text}");
            assert!(text.contains("\norun_git_polls_total 1\n"), "{text}");
            assert!(
                text.contains("orun_actions_total{kind=\"create\",result=\"ok\"} 1\n"),
                "{text}"
            );
            assert!(
                text.contains("# TYPE orun_poll_backoff_seconds gauge\n"),
                "{text}"
            );
        }
    }

    #[test]
    fn every_family_has_help_text() {
        let text = sample().encode(None).body;
        let types = text
            .lines()
            .filter(|line| line.starts_with("# TYPE "))
            .count();
        let helps = text
            .lines()
            .filter(|line| line.starts_with("# HELP "))
            .count();
        assert_eq!(types, helps, "{text}");
    }

    #[test]
    fn health_and_lag_come_from_the_status_document() {
        let metrics = Metrics::new();
        let mut node = NodeStatus::starting(
            "web-01".into(),
            "production".into(),
            "main".into(),
            std::time::SystemTime::UNIX_EPOCH,
        );
        metrics.record_node(&node);
        let text = metrics.encode(None).body;
        assert!(text.contains("\norun_healthy 0\n"), "{text}");
        assert!(text.contains("\norun_applied_behind_head 0\n"), "{text}");
        node.git_head = Some("b".into());
        node.applied_commit = Some("a".into());
        node.healthy = true;
        metrics.record_node(&node);
        let text = metrics.encode(None).body;
        assert!(text.contains("\norun_healthy 1\n"), "{text}");
        assert!(text.contains("\norun_applied_behind_head 1\n"), "{text}");
    }

    #[test]
    fn openmetrics_when_the_client_asks_for_it() {
        let prometheus_server = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let encoded = sample().encode(Some(prometheus_server));
        assert_eq!(encoded.content_type, OPENMETRICS_CONTENT_TYPE);
        assert!(encoded.body.ends_with("# EOF\n"), "{}", encoded.body);
        assert!(encoded.body.contains("# TYPE orun_git_polls counter\n"));
        let refused = sample().encode(Some("application/openmetrics-text; q=0, text/plain"));
        assert_eq!(refused.content_type, PROMETHEUS_TEXT_CONTENT_TYPE);
    }

    #[test]
    fn units_created_series_and_unknown_types_are_rewritten() {
        let openmetrics = "# HELP a_seconds A.\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1\na_seconds_created 17\n# HELP b B.\n# TYPE b unknown\nb 2\n";
        assert_eq!(
            prometheus_text(openmetrics),
            "# HELP a_seconds_total A.\n# TYPE a_seconds_total counter\na_seconds_total 1\n# HELP b B.\n# TYPE b untyped\nb 2\n"
        );
    }
}
