//! The Docker adapter (bollard): connecting, observing the engine into the snapshot of docs/plans.md,
//! and the container, image and Swarm service operations the executor needs, each with a timeout, and
//! [`DockerError`], which names the call and what it was about. It makes no decisions about what
//! to change; that is `engine::plan`.

pub mod container;
pub mod credentials;
pub mod image;
pub mod observe;
pub mod registry;
pub mod resource;
pub mod service;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bollard::errors::Error as BollardError;
pub use bollard::Docker;

/// Upper bound for one request/response Docker call (list, inspect, create, rename, remove).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A Docker call that failed: the call, naming its container, image, network or volume, and why.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {failure}")]
pub struct DockerError {
    pub call: Call,
    pub failure: Failure,
}

/// A call to the Docker engine, with what it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    NegotiateVersion,
    ListContainers,
    ListImages,
    ListNetworks,
    ListVolumes,
    CreateNetwork(String),
    CreateVolume(String),
    /// Join network `.0` with container `.1`.
    ConnectNetwork(String, String),
    Pull(String),
    Create(String),
    Start(String),
    Unpause(String),
    Stop(String),
    Restart(String),
    Rename {
        from: String,
        to: String,
    },
    Remove(String),
    Inspect(String),
    Update(String),
    Exec(String),
    Logs(String),
    Info,
    InspectNode(String),
    ListServices,
    ListTasks(String),
    CreateService(String),
    InspectService(String),
    UpdateService(String),
    RemoveService(String),
}

/// Why a Docker call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Docker answered with an error: the answer's HTTP status code, when it had one, and
    /// Docker's own message.
    #[error("{message}")]
    Answer {
        status: Option<u16>,
        message: String,
    },
    /// No answer within the call's time limit.
    #[error("no answer from Docker within {}s", .limit.as_secs())]
    NoAnswer { limit: Duration },
    /// A streamed answer (a pull's or a build's progress) stopped coming for `idle`.
    #[error("stalled: no progress for {}s", .idle.as_secs())]
    Stalled { idle: Duration },
    /// The host folder of a bind mount could not be created before the container.
    #[error("cannot create hostPath {path}: {error}")]
    HostPath { path: String, error: std::io::Error },
    /// The node's copy of a file the container mounts could not be written before it.
    #[error(transparent)]
    MountedFile(crate::mount_files::WriteError),
    /// The container is not orun's in `environment`, so the executor did not make the call.
    #[error("not touched: the container is not orun's in environment {environment} (it lacks the labels run.orcra.dev/managed-by=orun and run.orcra.dev/environment={environment})")]
    NotOwned { environment: String },
}

impl DockerError {
    /// The error of `call` from bollard's `error`.
    pub fn new(call: Call, error: &BollardError) -> Self {
        DockerError {
            call,
            failure: Failure::of(error),
        }
    }

    /// The HTTP status code of Docker's answer, if it answered with one.
    pub fn status(&self) -> Option<u16> {
        match self.failure {
            Failure::Answer { status, .. } => status,
            _ => None,
        }
    }
}

impl Failure {
    /// Docker's own message for `error`, without bollard's wrapping; an engine that cannot be
    /// reached is named by its address.
    pub fn of(error: &BollardError) -> Self {
        let message = match error {
            BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
            BollardError::DockerStreamError { error } => error.trim().to_string(),
            BollardError::HyperLegacyError { err } if err.is_connect() => {
                format!("cannot reach the Docker engine at {}", engine_address())
            }
            BollardError::SocketNotFoundError(path) => {
                format!("cannot reach the Docker engine: no socket at {path}")
            }
            other => other.to_string(),
        };
        let status = match error {
            BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
            _ => None,
        };
        Failure::Answer { status, message }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::NegotiateVersion => f.write_str("negotiate the Docker API version"),
            Call::ListContainers => f.write_str("list containers"),
            Call::ListImages => f.write_str("list images"),
            Call::ListNetworks => f.write_str("list networks"),
            Call::ListVolumes => f.write_str("list volumes"),
            Call::CreateNetwork(name) => write!(f, "create network {name}"),
            Call::CreateVolume(name) => write!(f, "create volume {name}"),
            Call::ConnectNetwork(network, name) => write!(f, "connect {name} to network {network}"),
            Call::Pull(reference) => write!(f, "pull {reference}"),
            Call::Create(name) => write!(f, "create {name}"),
            Call::Start(name) => write!(f, "start {name}"),
            Call::Unpause(name) => write!(f, "unpause {name}"),
            Call::Stop(name) => write!(f, "stop {name}"),
            Call::Restart(name) => write!(f, "restart {name}"),
            Call::Rename { from, to } => write!(f, "rename {from} to {to}"),
            Call::Remove(name) => write!(f, "remove {name}"),
            Call::Inspect(name) => write!(f, "inspect {name}"),
            Call::Update(name) => write!(f, "update the resources of {name}"),
            Call::Exec(name) => write!(f, "exec in {name}"),
            Call::Logs(name) => write!(f, "read the logs of {name}"),
            Call::Info => f.write_str("read the engine's swarm state"),
            Call::InspectNode(id) => write!(f, "inspect swarm node {id}"),
            Call::ListServices => f.write_str("list services"),
            Call::ListTasks(name) => write!(f, "list the tasks of service {name}"),
            Call::CreateService(name) => write!(f, "create service {name}"),
            Call::InspectService(name) => write!(f, "inspect service {name}"),
            Call::UpdateService(name) => write!(f, "update service {name}"),
            Call::RemoveService(name) => write!(f, "remove service {name}"),
        }
    }
}

/// Why no Docker engine could be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No client for the local engine could be set up.
    #[error("cannot connect to the Docker engine (is dockerd running and /var/run/docker.sock reachable?): {0}")]
    Client(BollardError),
    #[error("Docker engine unreachable: {0}")]
    Unreachable(DockerError),
}

/// Connects to the local engine (`DOCKER_HOST` or `/var/run/docker.sock`) and negotiates the API version.
pub async fn connect() -> Result<Docker, ConnectError> {
    let docker = Docker::connect_with_local_defaults().map_err(ConnectError::Client)?;
    timed(
        CALL_TIMEOUT,
        Call::NegotiateVersion,
        docker.negotiate_version(),
    )
    .await
    .map_err(ConnectError::Unreachable)
}

/// Runs `call` with a deadline; the error names the call and carries Docker's answer.
pub async fn timed<T>(
    limit: Duration,
    call: Call,
    future: impl Future<Output = Result<T, BollardError>>,
) -> Result<T, DockerError> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(DockerError::new(call, &error)),
        Err(_) => Err(DockerError {
            call,
            failure: Failure::NoAnswer { limit },
        }),
    }
}

/// Where the engine is expected: `DOCKER_HOST`, else the local socket.
fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}
