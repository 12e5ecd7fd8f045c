//! What the node remembers about each deployment between passes (docs/node.md): quarantine after a
//! rolled-back rollout (per commit), flapping (its containers changed 5 times within 10 minutes;
//! pulls and builds do not count), liveness restarts, and, for each of its replicas, liveness
//! failures and the last probe result. A new commit lifts quarantine and flapping; `state.rs`
//! keeps those two across restarts. It decides what to hold; it does not talk to Docker and does
//! not log.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use engine::copies::primary_name;
use engine::plan::ActionKind;
use std::time::Instant;

use engine::outcome::{ActionError, Outcome};

/// A deployment acted on this many times within [`FLAP_WINDOW`] is flapping.
pub const FLAP_ACTIONS: usize = 5;
pub const FLAP_WINDOW: Duration = Duration::from_secs(600);

#[derive(Clone, Debug, Default)]
pub struct DeploymentHealth {
    /// The commit whose rollout failed and was rolled back, with the failure.
    pub quarantine: Option<(String, String)>,
    pub flapping: bool,
    /// When orun acted on the deployment, oldest first, within the flap window.
    acted: VecDeque<Instant>,
    /// Containers of the deployment restarted after failing liveness, all replicas together.
    pub restarts: u64,
    /// The probes of each replica, by the replica's container name.
    replicas: BTreeMap<String, ReplicaHealth>,
}

/// The probes of one replica of a deployment: one failing replica gets no traffic while the
/// others serve.
#[derive(Clone, Debug, Default)]
pub struct ReplicaHealth {
    pub liveness_failures: u32,
    pub next_liveness: Option<Instant>,
    pub last_probe_error: Option<String>,
    /// The last probe (readiness or liveness) passed; `None` before any probe ran.
    pub probe_ok: Option<bool>,
}

impl DeploymentHealth {
    /// The probes of the replica whose container is `container`, if any ran or were scheduled.
    pub fn replica(&self, container: &str) -> Option<&ReplicaHealth> {
        self.replicas.get(container)
    }

    pub fn replica_mut(&mut self, container: &str) -> &mut ReplicaHealth {
        self.replicas.entry(container.to_string()).or_default()
    }

    /// Whether the last probe of replica `container` did not fail (none ran counts as passed).
    pub fn probe_ok(&self, container: &str) -> bool {
        self.replica(container)
            .is_none_or(|replica| replica.probe_ok != Some(false))
    }
}

/// A change in a deployment's health worth telling the operator about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthEvent {
    /// The deployment started to flap: left alone until a new commit.
    Flapping { deployment: String },
    /// Its rollout was rolled back: the commit is quarantined for it.
    Quarantined { deployment: String, error: String },
}

#[derive(Clone, Debug, Default)]
pub struct Tracker {
    deployments: BTreeMap<String, DeploymentHealth>,
}

impl Tracker {
    pub fn get(&self, deployment: &str) -> Option<&DeploymentHealth> {
        self.deployments.get(deployment)
    }

    /// Every deployment with health records, by name.
    pub fn deployments(&self) -> impl Iterator<Item = (&String, &DeploymentHealth)> {
        self.deployments.iter()
    }

    pub fn entry(&mut self, deployment: &str) -> &mut DeploymentHealth {
        self.deployments.entry(deployment.to_string()).or_default()
    }

    /// Forgets deployments that are no longer desired.
    pub fn retain(&mut self, desired: &BTreeSet<String>) {
        self.deployments.retain(|name, _| desired.contains(name));
    }

    /// A new commit: quarantine and flapping are lifted, the flap history starts over.
    pub fn new_commit(&mut self) {
        for health in self.deployments.values_mut() {
            health.quarantine = None;
            health.flapping = false;
            health.acted.clear();
        }
    }

    /// Deployments to leave alone at `commit`: quarantined for it, or flapping.
    pub fn held(&self, commit: &str) -> BTreeSet<String> {
        self.deployments
            .iter()
            .filter(|(_, health)| {
                health.flapping
                    || health
                        .quarantine
                        .as_ref()
                        .is_some_and(|(quarantined, _)| quarantined == commit)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Records that orun acted on `deployment` at `now`; returns true when this makes it flap.
    pub fn acted(&mut self, deployment: &str, now: Instant) -> bool {
        let health = self.entry(deployment);
        health.acted.push_back(now);
        while health
            .acted
            .front()
            .is_some_and(|first| now.duration_since(*first) > FLAP_WINDOW)
        {
            health.acted.pop_front();
        }
        if !health.flapping && health.acted.len() >= FLAP_ACTIONS {
            health.flapping = true;
            return true;
        }
        false
    }

    /// Quarantines `deployment` for `commit` after its rollout was rolled back, or its new
    /// container never became ready.
    pub fn quarantine(&mut self, deployment: &str, commit: &str, error: &str) {
        self.entry(deployment).quarantine = Some((commit.to_string(), error.to_string()));
    }

    /// Records the outcomes of a pass at `commit`, finished at `now`: a deployment the pass
    /// changed counts once towards flapping, however many of its replicas changed; a rolled-back
    /// rollout quarantines the commit for its deployment, and a replica whose container was
    /// (re)started and passed its checks counts as probed ok. Returns what changed, in outcome
    /// order.
    pub fn record_pass(
        &mut self,
        commit: &str,
        outcomes: &[Outcome],
        now: Instant,
    ) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        // A pass acts on a deployment once, however many of its replicas it changed.
        let mut counted = BTreeSet::new();
        for outcome in outcomes {
            let action = &outcome.action;
            // An action held back for a dependency changed nothing.
            let waited = matches!(outcome.result, Err(ActionError::Dependency { .. }));
            // A job's runs and their pruning are no deployment's health.
            if !action.kind.changes_container() || waited || action.job.is_some() {
                continue;
            }
            let deployment = action.deployment.clone();
            if counted.insert(deployment.clone()) && self.acted(&deployment, now) {
                events.push(HealthEvent::Flapping {
                    deployment: deployment.clone(),
                });
            }
            match &outcome.result {
                Err(error @ (ActionError::RolledBack { .. } | ActionError::NeverReady(_))) => {
                    let error = error.to_string();
                    self.quarantine(&deployment, commit, &error);
                    events.push(HealthEvent::Quarantined { deployment, error });
                }
                Ok(())
                    if matches!(
                        action.kind,
                        ActionKind::Create | ActionKind::Recreate | ActionKind::Start
                    ) =>
                {
                    let replica = self
                        .entry(&deployment)
                        .replica_mut(primary_name(&action.container));
                    replica.probe_ok = Some(true);
                    replica.liveness_failures = 0;
                    replica.next_liveness = None;
                }
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::outcome;
    use engine::outcome::Previous;

    #[test]
    fn five_actions_within_ten_minutes_flap() {
        let mut tracker = Tracker::default();
        let start = Instant::now();
        for minute in 0..4 {
            assert!(!tracker.acted("web", start + Duration::from_secs(minute * 60)));
        }
        assert!(tracker.acted("web", start + Duration::from_secs(240)));
        assert_eq!(tracker.held("c1"), BTreeSet::from(["web".to_string()]));
        tracker.new_commit();
        assert!(tracker.held("c1").is_empty());
    }

    #[test]
    fn actions_spread_over_more_than_ten_minutes_do_not_flap() {
        let mut tracker = Tracker::default();
        let start = Instant::now();
        for step in 0..10 {
            assert!(!tracker.acted("web", start + Duration::from_secs(step * 200)));
        }
    }

    #[test]
    fn a_rolled_back_rollout_quarantines_its_commit() {
        let mut tracker = Tracker::default();
        let outcomes = [
            outcome(
                "web",
                ActionKind::Recreate,
                Err(ActionError::RolledBack {
                    previous: Previous::Restored,
                    error: "not ready".to_string(),
                }),
            ),
            outcome(
                "db",
                ActionKind::Recreate,
                Err(ActionError::Failed("no image".into())),
            ),
        ];
        let events = tracker.record_pass("c1", &outcomes, Instant::now());
        assert_eq!(
            events,
            [HealthEvent::Quarantined {
                deployment: "web".to_string(),
                error: "the previous container was restored: not ready".to_string(),
            }]
        );
        assert_eq!(tracker.held("c1"), BTreeSet::from(["web".to_string()]));
    }

    #[test]
    fn a_never_ready_new_container_quarantines_and_waiting_for_a_dependency_changes_nothing() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let never_ready = [outcome(
            "db",
            ActionKind::Create,
            Err(ActionError::NeverReady("not ready; kept".into())),
        )];
        let events = tracker.record_pass("c1", &never_ready, now);
        assert_eq!(
            events,
            [HealthEvent::Quarantined {
                deployment: "db".to_string(),
                error: "not ready; kept".to_string(),
            }]
        );
        let waiting = [outcome(
            "web",
            ActionKind::Create,
            Err(ActionError::Dependency {
                dependency: "db".into(),
                problem: "is not running (container db)".into(),
            }),
        )];
        for _ in 0..FLAP_ACTIONS {
            assert!(tracker.record_pass("c1", &waiting, now).is_empty());
        }
        assert!(tracker.get("web").is_none());
        assert_eq!(tracker.held("c1"), BTreeSet::from(["db".to_string()]));
    }

    #[test]
    fn a_started_container_counts_as_probed_ok_and_blocked_actions_do_not_count() {
        let mut tracker = Tracker::default();
        for replica in ["web", "web.2"] {
            let probes = tracker.entry("web").replica_mut(replica);
            probes.probe_ok = Some(false);
            probes.liveness_failures = 2;
        }
        let now = Instant::now();
        let started = [outcome("web", ActionKind::Start, Ok(()))];
        assert!(tracker.record_pass("c1", &started, now).is_empty());
        let web = tracker.get("web").unwrap();
        let probes = web.replica("web").unwrap();
        assert_eq!((probes.probe_ok, probes.liveness_failures), (Some(true), 0));
        assert!(
            web.probe_ok("web") && !web.probe_ok("web.2"),
            "only web started"
        );
        assert!(
            web.probe_ok("web.3"),
            "a replica never probed has not failed"
        );
        let blocked = [outcome(
            "api",
            ActionKind::Blocked,
            Err(ActionError::Failed("held".into())),
        )];
        for _ in 0..FLAP_ACTIONS {
            assert!(tracker.record_pass("c1", &blocked, now).is_empty());
        }
        assert!(tracker.get("api").is_none());
    }

    #[test]
    fn the_fifth_action_reports_flapping() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let started = [outcome("web", ActionKind::Start, Ok(()))];
        for _ in 1..FLAP_ACTIONS {
            assert!(tracker.record_pass("c1", &started, now).is_empty());
        }
        assert_eq!(
            tracker.record_pass("c1", &started, now),
            [HealthEvent::Flapping {
                deployment: "web".to_string()
            }]
        );
    }

    #[test]
    fn failed_pulls_and_builds_never_make_a_deployment_flap() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let failed = [
            outcome(
                "web",
                ActionKind::Pull,
                Err(ActionError::Failed("registry down".into())),
            ),
            outcome(
                "api",
                ActionKind::Build,
                Err(ActionError::Failed("no base".into())),
            ),
        ];
        for _ in 0..FLAP_ACTIONS * 2 {
            assert!(tracker.record_pass("c1", &failed, now).is_empty());
        }
        assert!(tracker.held("c1").is_empty());
    }

    #[test]
    fn job_runs_and_their_pruning_never_make_anything_flap() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let job = |kind| {
            let mut outcome = outcome("", kind, Ok(()));
            outcome.action.job = Some("backup".into());
            outcome
        };
        let pass = [job(ActionKind::Run), job(ActionKind::Remove)];
        for _ in 0..FLAP_ACTIONS * 2 {
            assert!(tracker.record_pass("c1", &pass, now).is_empty());
        }
        assert_eq!(tracker.deployments().count(), 0);
    }

    #[test]
    fn quarantine_holds_only_its_commit() {
        let mut tracker = Tracker::default();
        tracker.quarantine("web", "c1", "readiness probe failed");
        assert_eq!(tracker.held("c1"), BTreeSet::from(["web".to_string()]));
        assert!(tracker.held("c2").is_empty());
    }
}
