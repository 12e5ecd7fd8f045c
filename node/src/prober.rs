//! The liveness prober: on each tick, inspects and probes the replicas whose liveness probe is
//! due, and restarts those that reached `failureThreshold`, counting failures and restarts in the
//! metrics and telling the notifier. It only does I/O; `liveness.rs` decides what is due and what
//! a result means.

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::DesiredState;
use tokio::time::Instant;
use tracing::warn;

use super::metrics::{DeploymentLabels, Metrics};
use super::notifier::Notifier;
use super::report;
use super::status::SharedStatus;
use crate::decisions::events::{self, NoticeDraft};
use crate::decisions::health::{HealthEvent, Tracker};
use crate::decisions::liveness::{self, Target, Verdict};
use crate::decisions::status_projection;
use adapters::docker::{container, Docker};
use adapters::probe;

pub struct Prober {
    pub docker: Docker,
    pub client: reqwest::Client,
    pub metrics: Arc<Metrics>,
    pub status: SharedStatus,
    pub notifier: Notifier,
}

impl Prober {
    /// Runs the probes of `desired` (at `commit`) that are due; true when one failed, or passed
    /// after failing, so the deployments' status and routes are worth refreshing.
    pub async fn tick(&self, desired: &DesiredState, commit: &str, health: &mut Tracker) -> bool {
        let mut changed = false;
        // A deployment counts once towards flapping, however many of its replicas restarted.
        let mut restarted = BTreeSet::new();
        for target in liveness::targets(desired, &health.held(commit)) {
            if !liveness::due(
                health.entry(&target.deployment),
                &target,
                Instant::now().into_std(),
            ) {
                continue;
            }
            let Ok(Some(container)) = container::inspect(&self.docker, &target.container).await
            else {
                continue;
            };
            if !container.running {
                continue;
            }
            let context = probe::CheckContext {
                docker: &self.docker,
                client: &self.client,
                name: &target.container,
                status: &container,
            };
            let timeout = target.probe.timeout.as_std();
            let result = probe::check_target(&context, &target.probe.target, timeout).await;
            let entry = health.entry(&target.deployment);
            let failed_before = !entry.probe_ok(&target.container);
            let Verdict::Failed { message, restart } = liveness::judge(entry, &target, result)
            else {
                changed |= failed_before;
                continue;
            };
            changed = true;
            self.metrics.probe_failures.inc();
            warn!(deployment = %target.deployment, container = %target.container, error = %message, "liveness probe failed");
            if restart {
                let first = restarted.insert(target.deployment.clone());
                self.restart(&target, commit, health, message, first).await;
            }
        }
        changed
    }

    /// Restarts `target`'s container after `message`, the probe failure that reached the
    /// threshold; the `first` restart of its deployment in a tick counts towards flapping.
    async fn restart(
        &self,
        target: &Target,
        commit: &str,
        health: &mut Tracker,
        message: String,
        first: bool,
    ) {
        let name = &target.deployment;
        let labels = DeploymentLabels {
            deployment: name.clone(),
        };
        self.metrics.restarts.get_or_create(&labels).inc();
        let restarted =
            container::restart(&self.docker, &target.container, target.stop_timeout).await;
        let error = restarted.err().map(|error| format!("{error:#}"));
        warn!(deployment = %name, container = %target.container, restart_error = ?error, "failureThreshold reached: container restarted");
        let outcome = match &error {
            None => "restarted".to_string(),
            Some(error) => format!("restart failed: {error}"),
        };
        self.notifier.send(NoticeDraft {
            event: engine::notify::Event::LivenessRestart,
            deployment: Some(name.clone()),
            message: format!(
                "{} {outcome} after its liveness probe failed: {message}",
                target.container
            ),
        });
        if first && health.acted(name, Instant::now().into_std()) {
            let event = HealthEvent::Flapping {
                deployment: name.clone(),
            };
            report::health_event(&event, commit);
            if let Some(draft) = events::of_health_event(&event) {
                self.notifier.send(draft);
            }
        }
        let entries = &mut self.status.lock().deployments;
        status_projection::restarted(entries, name, error.unwrap_or(message));
    }
}
