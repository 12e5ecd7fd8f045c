//! What became of a plan's actions when they ran: each action's outcome, why one failed (a failed
//! build with the builder's output apart), what a rollback put back, and a failed probe check.
//! Plain data the executor produces and the node's decisions (health, events, the status) read;
//! it runs nothing.

use std::fmt;
use std::time::Duration;

use crate::plan::Action;

/// What happened to one action.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub action: Action,
    pub result: Result<(), ActionError>,
    pub duration: Duration,
}

/// Why an action did not succeed. A message is the failed call's error as it prints.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    Failed(String),
    /// A build failed.
    #[error(transparent)]
    Build(BuildError),
    /// The new container failed; the previous one is in service, as `previous` tells.
    #[error("{previous}: {error}")]
    RolledBack { previous: Previous, error: String },
    /// Cancellation was requested before the action started.
    #[error("not started: orun is shutting down")]
    ShuttingDown,
    /// A new container with a readiness probe and no previous copy never became ready; it was
    /// stopped and kept for `docker logs`, which the message names. It never quotes the
    /// container's output, which may hold secrets.
    #[error("{0}")]
    NeverReady(String),
    /// Not started because a deployment it depends on does not run or is not ready.
    #[error("not started: dependency {dependency} {problem}")]
    Dependency { dependency: String, problem: String },
}

/// A failed build: what failed, and the builder's last output lines, which only the log and the
/// terminal show. It prints as both, the lines under `last build output:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    /// `build <tag>: ` and the builder's error, or why the build could not start.
    pub message: String,
    /// The builder's last output lines, oldest first; none when it wrote nothing.
    pub output: Vec<String>,
}

impl fmt::Display for BuildError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)?;
        if !self.output.is_empty() {
            formatter.write_str("\nlast build output:")?;
            for line in &self.output {
                write!(formatter, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

/// What became of the previous container when a rollout was rolled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Previous {
    /// It was renamed back into place: the stopped old container of a stop-first rollout
    /// (started again), or the copy an interrupted rollout left.
    Restored,
    /// Start-first: it was never stopped, so it served throughout.
    NeverStopped,
    /// A swarm service: Swarm rolled it back to its previous spec.
    SwarmRolledBack,
}

impl fmt::Display for Previous {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Previous::Restored => "the previous container was restored",
            Previous::NeverStopped => "the previous container was never stopped",
            Previous::SwarmRolledBack => "Swarm rolled the service back to its previous version",
        })
    }
}

/// Every action's outcome, in plan order. `skipped` are the actions not started: every one after
/// a failed network, volume, pull or build, and a deployment's replicas after the one whose
/// replacement failed (they keep the version they run).
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub outcomes: Vec<Outcome>,
    pub skipped: Vec<Action>,
}

impl ApplyReport {
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.result.is_err())
    }

    pub fn is_success(&self) -> bool {
        self.failed().next().is_none() && self.skipped.is_empty()
    }
}

/// The result of one failed check: what was tried (`GET <url>`, `connect <host:port>`,
/// `exec <command>`) and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    pub attempt: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_prints_its_output_under_its_message() {
        let failed = BuildError {
            message: "build app:1: exit code 2".to_string(),
            output: vec![
                "Step 1/2 : RUN make".to_string(),
                "make: *** Error 2".to_string(),
            ],
        };
        assert_eq!(
            ActionError::Build(failed.clone()).to_string(),
            "build app:1: exit code 2\nlast build output:\n  Step 1/2 : RUN make\n  make: *** Error 2"
        );
        let silent = BuildError {
            output: Vec::new(),
            ..failed
        };
        assert_eq!(silent.to_string(), "build app:1: exit code 2");
    }
}
