//! The Docker adapter (bollard): connecting, observing the engine into the snapshot of docs/plans.md,
//! and the container and image operations the executor needs, each with a timeout. It makes no
//! decisions about what to change; that is `engine::plan`.

pub mod container;
pub mod credentials;
pub mod image;
pub mod observe;
pub mod resource;

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bollard::errors::Error as DockerError;
pub use bollard::Docker;

/// Upper bound for one request/response Docker call (list, inspect, create, rename, remove).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Connects to the local engine (`DOCKER_HOST` or `/var/run/docker.sock`) and negotiates the API version.
pub async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_local_defaults()
        .context("cannot connect to the Docker engine (is dockerd running and /var/run/docker.sock reachable?)")?;
    timed(
        CALL_TIMEOUT,
        "negotiate the Docker API version",
        docker.negotiate_version(),
    )
    .await
    .context("Docker engine unreachable")
}

/// Runs one Docker call with a deadline; the error names `what` and carries Docker's message.
pub async fn timed<T>(
    limit: Duration,
    what: &str,
    call: impl Future<Output = Result<T, DockerError>>,
) -> Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(anyhow!("{what}: {}", docker_message(&error))),
        Err(_) => Err(anyhow!(
            "{what}: no answer from Docker within {}s",
            limit.as_secs()
        )),
    }
}

/// Docker's own message for an error, without bollard's wrapping; an engine that cannot be
/// reached is named by its address.
pub fn docker_message(error: &DockerError) -> String {
    match error {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        DockerError::DockerStreamError { error } => error.trim().to_string(),
        DockerError::HyperLegacyError { err } if err.is_connect() => {
            format!("cannot reach the Docker engine at {}", engine_address())
        }
        DockerError::SocketNotFoundError(path) => {
            format!("cannot reach the Docker engine: no socket at {path}")
        }
        other => other.to_string(),
    }
}

/// Where the engine is expected: `DOCKER_HOST`, else the local socket.
fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

/// The HTTP status of a Docker error response, if it is one.
pub fn status_code(error: &DockerError) -> Option<u16> {
    match error {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}
