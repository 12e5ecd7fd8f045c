//! What the node tells its log about a pass: each plan, each action (kind, container, reason,
//! duration, result) counted in the action metrics, build output, the last log lines of a new
//! container that never became ready (which only the log keeps), and health events. It renders
//! nothing for terminals and changes no state besides the counters.

use engine::plan::Plan;
use tracing::{info, warn};

use super::commit_statuses::Pending;
use super::metrics::{ActionLabels, Metrics};
use crate::decisions::health::{HealthEvent, FLAP_ACTIONS, FLAP_WINDOW};
use adapters::apply::Reporter;
use adapters::converge::PlanObserver;
use engine::outcome::Outcome;

/// Logs plans and actions and counts actions.
pub struct LogReporter<'a> {
    pub metrics: &'a Metrics,
    /// The commit whose `pending` status a pass's plan posts, when statuses are posted.
    pub commit_status: Option<Pending<'a>>,
}

impl Reporter for LogReporter<'_> {
    fn action_finished(&self, outcome: &Outcome) {
        let action = &outcome.action;
        let result = if outcome.result.is_ok() {
            "ok"
        } else {
            "failed"
        };
        self.metrics
            .actions
            .get_or_create(&ActionLabels {
                kind: action.kind.as_str().to_string(),
                result: result.to_string(),
            })
            .inc();
        let duration_ms = outcome.duration.as_millis() as u64;
        match &outcome.result {
            Ok(()) => info!(
                kind = action.kind.as_str(),
                container = %action.subject(),
                reason = action.reason.as_str(),
                duration_ms,
                result,
                "action"
            ),
            Err(error) => warn!(
                kind = action.kind.as_str(),
                container = %action.subject(),
                reason = action.reason.as_str(),
                duration_ms,
                result,
                %error,
                "action"
            ),
        }
    }

    fn build_output(&self, deployment: &str, line: &str) {
        info!(deployment, line, "build");
    }

    fn container_log(&self, container: &str, line: &str) {
        warn!(
            container,
            line, "log of a container that never became ready"
        );
    }
}

impl PlanObserver for LogReporter<'_> {
    fn plan_ready(&self, plan: &Plan, follow_up: bool) {
        if let Some(pending) = &self.commit_status {
            pending.plan_ready(plan, follow_up);
        }
        if !plan.is_empty() {
            info!(
                actions = plan.actions.len(),
                follow_up,
                summary = %serde_json::to_string(&plan.summary).unwrap_or_default(),
                "plan"
            );
        }
    }
}

/// Warns about a deployment that starts to flap or whose rollout of `commit` was rolled back.
pub fn health_event(event: &HealthEvent, commit: &str) {
    match event {
        HealthEvent::Flapping { deployment } => warn!(
            deployment = %deployment,
            "flapping: acted on {FLAP_ACTIONS} times within {}; left alone until a new commit",
            humantime::format_duration(FLAP_WINDOW)
        ),
        HealthEvent::Quarantined { deployment, error } => warn!(
            deployment = %deployment,
            commit,
            %error,
            "rollout rolled back; commit quarantined for this deployment"
        ),
    }
}
