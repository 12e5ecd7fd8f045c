//! Liveness policy (docs/health.md): which replicas have a liveness probe, when each is due, and
//! what one probe result means: a failure counts, `failureThreshold` failures in a row of one
//! replica call for a restart of that replica. Pure: the reconciler inspects, probes and restarts.

use std::collections::BTreeSet;
use std::time::Duration;

use engine::manifest::LivenessProbe;
use engine::manifest::NodeEngine;
use engine::DesiredState;
use std::time::Instant;

use super::health::DeploymentHealth;
use engine::outcome::CheckFailure;

/// A replica of a deployment with a liveness probe.
#[derive(Clone, Debug)]
pub struct Target {
    pub deployment: String,
    /// The replica's container.
    pub container: String,
    pub probe: LivenessProbe,
    /// Grace period of a restart.
    pub stop_timeout: Duration,
}

/// What one probe result means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The probe failed; `restart` once `failureThreshold` failures came in a row.
    Failed {
        message: String,
        restart: bool,
    },
}

/// Every replica of the deployments with a liveness probe, except those `held` (quarantined or
/// flapping), replica 1 first; none on a swarm node, where Swarm runs the health checks and
/// replaces failing tasks itself.
pub fn targets(desired: &DesiredState, held: &BTreeSet<String>) -> Vec<Target> {
    if desired.engine == NodeEngine::Swarm {
        return Vec::new();
    }
    desired
        .deployments
        .values()
        .filter(|deployment| !held.contains(&deployment.name))
        .flat_map(|deployment| {
            let probe = deployment.health.liveness.clone();
            deployment.replicas.iter().filter_map(move |replica| {
                Some(Target {
                    deployment: deployment.name.clone(),
                    container: replica.container.clone(),
                    probe: probe.clone()?,
                    stop_timeout: deployment.spec.stop_timeout.as_std(),
                })
            })
        })
        .collect()
}

/// Whether `target`'s probe runs at `now`; if so, or if none was scheduled yet, the next one is
/// scheduled an interval later. The first check comes one interval after the first look.
pub fn due(health: &mut DeploymentHealth, target: &Target, now: Instant) -> bool {
    let next = now + target.probe.interval.as_std();
    let replica = health.replica_mut(&target.container);
    match replica.next_liveness {
        Some(due) if due > now => false,
        None => {
            replica.next_liveness = Some(next);
            false
        }
        Some(_) => {
            replica.next_liveness = Some(next);
            true
        }
    }
}

/// Counts one probe result of `target`'s replica into `health`. A restart starts the replica's
/// count over and adds to the deployment's `restarts`.
pub fn judge(
    health: &mut DeploymentHealth,
    target: &Target,
    result: Result<(), CheckFailure>,
) -> Verdict {
    let replica = health.replica_mut(&target.container);
    let failure = match result {
        Ok(()) => {
            replica.liveness_failures = 0;
            replica.probe_ok = Some(true);
            return Verdict::Passed;
        }
        Err(failure) => failure,
    };
    replica.liveness_failures += 1;
    replica.probe_ok = Some(false);
    let threshold = target.probe.failure_threshold;
    let message = format!(
        "liveness probe of {} failed: {} answered {} ({} of failureThreshold {threshold})",
        target.container, failure.attempt, failure.detail, replica.liveness_failures
    );
    replica.last_probe_error = Some(message.clone());
    let restart = replica.liveness_failures >= threshold;
    if restart {
        replica.liveness_failures = 0;
        health.restarts += 1;
    }
    Verdict::Failed { message, restart }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::testing::{deployment, desired};

    const LIVENESS: &str = "  health:\n    liveness:\n      http: localhost:8080/health\n      interval: 5s\n      failureThreshold: 2\n";

    fn web() -> Target {
        let desired = desired("production", &[deployment("web", LIVENESS)]);
        let mut targets = targets(&desired, &BTreeSet::new());
        assert_eq!(targets.len(), 1);
        targets.remove(0)
    }

    fn refused() -> Result<(), CheckFailure> {
        Err(CheckFailure {
            attempt: "GET http://172.17.0.3:8080/health".to_string(),
            detail: "connection refused".to_string(),
        })
    }

    #[test]
    fn every_replica_is_a_target() {
        let spec = format!("{LIVENESS}  replicas: 3\n");
        let desired = desired("staging", &[deployment("web", &spec)]);
        let containers: Vec<String> = targets(&desired, &BTreeSet::new())
            .into_iter()
            .map(|target| target.container)
            .collect();
        assert_eq!(
            containers,
            ["staging.web", "staging.web.2", "staging.web.3"]
        );
    }

    #[test]
    fn only_deployments_with_a_probe_that_are_not_held_are_probed() {
        let desired = desired(
            "production",
            &[deployment("web", LIVENESS), deployment("db", "")],
        );
        let targets: Vec<String> = targets(&desired, &BTreeSet::new())
            .into_iter()
            .map(|target| target.deployment)
            .collect();
        assert_eq!(targets, ["web"]);
        let held = BTreeSet::from(["web".to_string()]);
        assert!(super::targets(&desired, &held).is_empty());
    }

    #[test]
    fn the_first_look_schedules_and_probes_come_an_interval_apart() {
        let target = web();
        let mut health = DeploymentHealth::default();
        let start = Instant::now();
        assert!(!due(&mut health, &target, start));
        assert!(!due(&mut health, &target, start + Duration::from_secs(4)));
        assert!(due(&mut health, &target, start + Duration::from_secs(5)));
        assert_eq!(
            health.replica("web").unwrap().next_liveness,
            Some(start + Duration::from_secs(10))
        );
    }

    #[test]
    fn the_threshold_of_failures_in_a_row_restarts() {
        let target = web();
        let mut health = DeploymentHealth::default();
        let first = judge(&mut health, &target, refused());
        assert_eq!(
            first,
            Verdict::Failed {
                message: "liveness probe of web failed: GET http://172.17.0.3:8080/health answered connection refused (1 of failureThreshold 2)".to_string(),
                restart: false,
            }
        );
        assert!(!health.probe_ok("web"));
        assert_eq!(judge(&mut health, &target, Ok(())), Verdict::Passed);
        let probes = health.replica("web").unwrap();
        assert_eq!((probes.liveness_failures, probes.probe_ok), (0, Some(true)));

        judge(&mut health, &target, refused());
        let Verdict::Failed { message, restart } = judge(&mut health, &target, refused()) else {
            panic!("the second failure in a row is a failure");
        };
        assert!(restart);
        assert!(message.ends_with("(2 of failureThreshold 2)"), "{message}");
        let probes = health.replica("web").unwrap();
        assert_eq!(probes.last_probe_error.as_deref(), Some(message.as_str()));
        assert_eq!((probes.liveness_failures, health.restarts), (0, 1));
    }

    #[test]
    fn each_replica_counts_its_own_failures() {
        let spec = format!("{LIVENESS}  replicas: 2\n");
        let desired = desired("production", &[deployment("web", &spec)]);
        let [first, second] = <[Target; 2]>::try_from(targets(&desired, &BTreeSet::new())).unwrap();
        let mut health = DeploymentHealth::default();
        judge(&mut health, &second, refused());
        judge(&mut health, &first, Ok(()));
        let Verdict::Failed { restart, .. } = judge(&mut health, &second, refused()) else {
            panic!("web.2 failed twice");
        };
        assert!(restart, "web.2 reached its threshold on its own");
        assert!(health.probe_ok("web") && !health.probe_ok("web.2"));
        assert_eq!(health.restarts, 1);
    }
}
