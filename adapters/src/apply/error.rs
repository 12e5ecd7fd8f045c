//! Why a step of an action failed inside the executor: a Docker call, a pull, a readiness probe,
//! a registry lookup, a route move, or a container that is not as the step needs it. The executor
//! puts each into the action's `ActionError` as its message; nothing here decides what to do
//! about a failure.

use crate::docker::container::ContainerStatus;
use crate::docker::credentials::CredentialsError;
use crate::docker::image::PullError;
use crate::docker::DockerError;
use crate::ingress::caddy::CaddyError;
use crate::probe::ReadinessError;

/// Why one step of an action failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error(transparent)]
    Readiness(#[from] ReadinessError),
    /// The registry credentials of a pull or a build of `image` could not be read.
    #[error("{action} {image}: {error}")]
    Credentials {
        /// `pull` or `build`.
        action: &'static str,
        image: String,
        error: Box<CredentialsError>,
    },
    /// A start-first rollout could not move the routes of `deployment` to `container`, so
    /// `serving` keeps serving.
    #[error(
        "moving the routes of {deployment} to {container} failed, {serving} keeps serving: {error}"
    )]
    Traffic {
        deployment: String,
        container: String,
        serving: String,
        error: Box<TrafficError>,
    },
    /// Replica `container` of `deployment` could not be taken out of its routes before it was
    /// stopped, so it was not stopped.
    #[error("taking {container} out of the routes of {deployment} failed: {error}")]
    Withdraw {
        deployment: String,
        container: String,
        error: Box<TrafficError>,
    },
    /// The new container of replica `container` of `deployment` is ready, but could not be put
    /// back into its routes; the other replicas keep serving them.
    #[error("putting {container} back into the routes of {deployment} failed, its other replicas keep serving: {error}")]
    Rejoin {
        deployment: String,
        container: String,
        error: Box<TrafficError>,
    },
    #[error("deployment {0} is not in the desired state")]
    NotDesired(String),
    #[error("deployment {0} has no build section")]
    NoBuild(String),
    #[error("start {0}: no such container")]
    NoContainer(String),
    #[error("{0} disappeared right after it started")]
    GoneAfterStart(String),
    #[error("recreate {0}: the container disappeared before it could be replaced")]
    GoneBeforeRecreate(String),
    /// The container exited or restarted right after it started.
    #[error("{name} did not stay running: {}", describe(.status))]
    NotRunning {
        name: String,
        status: Box<ContainerStatus>,
    },
}

/// Why a rollout's routes could not move to the new container, or leave or take back a replica.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{0} disappeared before its routes could move")]
    Gone(String),
    #[error("{0} has no network address")]
    NoAddress(String),
    #[error(transparent)]
    Ingress(#[from] CaddyError),
}

/// `state exited, exit code 1, restarted 2 time(s), <Docker's error>`.
fn describe(status: &ContainerStatus) -> String {
    let mut text = format!("state {}, exit code {}", status.status, status.exit_code);
    if status.restart_count > 0 {
        text.push_str(&format!(", restarted {} time(s)", status.restart_count));
    }
    if !status.error.is_empty() {
        text.push_str(&format!(", {}", status.error));
    }
    text
}
