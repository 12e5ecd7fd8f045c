//! Container operations on one named container (create from the desired spec, start, stop, rename,
//! remove, inspect, a job container's run, run a command in it, read its last log lines), each bounded by a timeout and
//! named in its [`DockerError`]. No sequencing here: the
//! recreate-with-rollback sequence lives in `apply`.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, NetworkConnectRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;
use engine::desired::{DesiredDeployment, DesiredReplica};
use engine::jobs::LABEL_JOB;
use engine::observed::{ObservedContainer, ObservedRun};
use engine::resources::Limits;
use engine::spec::{LABEL_ENVIRONMENT, LABEL_SPEC_HASH};
use engine::Environment;
use futures_util::StreamExt;

use super::{timed, Call, DockerError, Failure, CALL_TIMEOUT};
use crate::mount_files::{FileDirs, WriteError};

mod body;

use body::endpoint;
pub use body::{create_body, limits_of, update_body};
pub(in crate::docker) use body::{docker_int, log_options, reported_limits, ulimits};

/// What `inspect` reports about a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStatus {
    pub status: ContainerStateStatusEnum,
    pub running: bool,
    pub exit_code: i64,
    pub restart_count: i64,
    pub error: String,
    /// The container's address on its Docker network (see `address_of`), `127.0.0.1` on the
    /// host's network, none without a network.
    pub ip: Option<String>,
    /// Published ports: `80/tcp` → (host IP, host port).
    pub published: Vec<(String, String, String)>,
    /// The grace period the container was created with, between SIGTERM and SIGKILL.
    pub stop_timeout: Option<Duration>,
    /// Its labels, which say whether it is orun's (`engine::spec::owned_by`).
    pub labels: BTreeMap<String, String>,
}

/// Sets `name`'s resource limits in place: the container keeps its id and is not restarted.
pub async fn update(docker: &Docker, name: &str, limits: &Limits) -> Result<(), DockerError> {
    timed(
        CALL_TIMEOUT,
        Call::Update(name.to_string()),
        docker.update_container(name, update_body(limits)),
    )
    .await?;
    Ok(())
}

/// What only inspecting a container tells: its resource limits, network address and start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspected {
    pub limits: Limits,
    pub address: Option<String>,
    /// When it last started (RFC 3339, as Docker reports it); `None` if it never started.
    pub started_at: Option<String>,
}

/// What inspecting `name` tells, or `None` when no such container exists.
pub async fn inspected(docker: &Docker, name: &str) -> Result<Option<Inspected>, DockerError> {
    Ok(inspect_response(docker, name).await?.map(|info| {
        let address = address_of(&info);
        let started_at = info
            .state
            .as_ref()
            .and_then(|state| state.started_at.clone())
            // Docker writes the zero time for a container that never started.
            .filter(|time| !time.starts_with("0001-"));
        Inspected {
            limits: limits_of(&info.host_config.unwrap_or_default()),
            address,
            started_at,
        }
    }))
}

/// The container's address on its network, the first of its networks by name when it joins
/// several (the environment network `orun-<env>` sorts before its `orun-<env>.<name>`
/// networks); a container on the host's network listens on the host's own addresses. Caddy and
/// probes run on the host, which reaches a container on any bridge network.
fn address_of(info: &ContainerInspectResponse) -> Option<String> {
    let host_network = info
        .host_config
        .as_ref()
        .and_then(|config| config.network_mode.as_deref())
        .is_some_and(|mode| mode == "host");
    info.network_settings
        .as_ref()
        .and_then(|settings| settings.networks.as_ref())
        .and_then(|networks| {
            networks
                .iter()
                .collect::<BTreeMap<_, _>>()
                .into_values()
                .filter_map(|endpoint| endpoint.ip_address.clone())
                .find(|ip| !ip.is_empty())
        })
        .or_else(|| host_network.then(|| "127.0.0.1".to_string()))
}

/// Docker's inspect document of `name`, or `None` when no such container exists.
async fn inspect_response(
    docker: &Docker,
    name: &str,
) -> Result<Option<ContainerInspectResponse>, DockerError> {
    let call = docker.inspect_container(name, None::<InspectContainerOptions>);
    match timed(CALL_TIMEOUT, Call::Inspect(name.to_string()), call).await {
        Ok(info) => Ok(Some(info)),
        Err(error) if error.status() == Some(404) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Whole seconds Docker waits between SIGTERM and SIGKILL, rounded up.
pub fn stop_seconds(timeout: Duration) -> i64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Creates the container of `replica` of `desired` of `environment` under `name`; missing
/// bind-mount sources are created first, and the copies of the files it mounts written (see
/// `mount_files`); then it joins the other networks of its `networks`.
pub async fn create(
    docker: &Docker,
    name: &str,
    desired: &DesiredDeployment,
    replica: &DesiredReplica,
    environment: &Environment,
    dirs: &FileDirs,
) -> Result<String, DockerError> {
    for host_path in desired
        .spec
        .volumes
        .iter()
        .filter_map(|v| v.host_path.as_ref())
    {
        tokio::fs::create_dir_all(host_path)
            .await
            .map_err(|error| DockerError {
                call: Call::Create(name.to_string()),
                failure: Failure::HostPath {
                    path: host_path.clone(),
                    error,
                },
            })?;
    }
    let owned = (dirs.clone(), environment.clone(), desired.spec.clone());
    let written = tokio::task::spawn_blocking(move || owned.0.write(&owned.1, &owned.2));
    let written = match written.await {
        Ok(written) => written,
        Err(task) => Err(WriteError::Io {
            path: dirs.files.clone(),
            error: std::io::Error::other(task.to_string()),
        }),
    };
    written.map_err(|error| DockerError {
        call: Call::Create(name.to_string()),
        failure: Failure::MountedFile(error),
    })?;
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let response = timed(
        CALL_TIMEOUT,
        Call::Create(name.to_string()),
        docker.create_container(
            Some(options),
            create_body(desired, replica, environment, dirs),
        ),
    )
    .await?;
    // Docker's API before 1.44 takes one network at create: the others are joined before start.
    for (network, aliases) in desired.networks(environment).iter().skip(1) {
        let request = NetworkConnectRequest {
            container: name.to_string(),
            endpoint_config: Some(endpoint(&desired.name, aliases)),
        };
        timed(
            CALL_TIMEOUT,
            Call::ConnectNetwork(network.clone(), name.to_string()),
            docker.connect_network(network, request),
        )
        .await?;
    }
    Ok(response.id)
}

pub async fn start(docker: &Docker, name: &str) -> Result<(), DockerError> {
    timed(
        CALL_TIMEOUT,
        Call::Start(name.to_string()),
        docker.start_container(name, None::<StartContainerOptions>),
    )
    .await
}

pub async fn unpause(docker: &Docker, name: &str) -> Result<(), DockerError> {
    timed(
        CALL_TIMEOUT,
        Call::Unpause(name.to_string()),
        docker.unpause_container(name),
    )
    .await
}

/// Stops `name`, giving it `grace` between SIGTERM and SIGKILL; stopping a stopped container is fine.
pub async fn stop(docker: &Docker, name: &str, grace: Duration) -> Result<(), DockerError> {
    let seconds = stop_seconds(grace);
    let options = StopContainerOptionsBuilder::default()
        .t(i32::try_from(seconds).unwrap_or(i32::MAX))
        .build();
    timed(
        grace + CALL_TIMEOUT,
        Call::Stop(name.to_string()),
        docker.stop_container(name, Some(options)),
    )
    .await
}

/// Restarts `name`, giving it `grace` between SIGTERM and SIGKILL.
pub async fn restart(docker: &Docker, name: &str, grace: Duration) -> Result<(), DockerError> {
    let seconds = stop_seconds(grace);
    let options = RestartContainerOptionsBuilder::default()
        .t(i32::try_from(seconds).unwrap_or(i32::MAX))
        .build();
    timed(
        grace + CALL_TIMEOUT,
        Call::Restart(name.to_string()),
        docker.restart_container(name, Some(options)),
    )
    .await
}

pub async fn rename(docker: &Docker, name: &str, new_name: &str) -> Result<(), DockerError> {
    let options = RenameContainerOptionsBuilder::default()
        .name(new_name)
        .build();
    timed(
        CALL_TIMEOUT,
        Call::Rename {
            from: name.to_string(),
            to: new_name.to_string(),
        },
        docker.rename_container(name, options),
    )
    .await
}

/// Removes `name` (stopping it if needed); a container that is already gone is not an error.
pub async fn remove(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let call = docker.remove_container(name, Some(options));
    match timed(CALL_TIMEOUT, Call::Remove(name.to_string()), call).await {
        Err(error) if error.status() == Some(404) => Ok(()),
        result => result,
    }
}

/// The state of `name`, or `None` when no such container exists.
pub async fn inspect(docker: &Docker, name: &str) -> Result<Option<ContainerStatus>, DockerError> {
    let Some(info) = inspect_response(docker, name).await? else {
        return Ok(None);
    };
    let ip = address_of(&info);
    let state = info.state.unwrap_or_default();
    let config = info.config.unwrap_or_default();
    let stop_timeout = config
        .stop_timeout
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map(Duration::from_secs);
    let labels = config.labels.unwrap_or_default().into_iter().collect();
    let network = info.network_settings.unwrap_or_default();
    let mut published = Vec::new();
    for (port, bindings) in network.ports.unwrap_or_default() {
        for binding in bindings.unwrap_or_default() {
            published.push((
                port.clone(),
                binding.host_ip.unwrap_or_default(),
                binding.host_port.unwrap_or_default(),
            ));
        }
    }
    published.sort();
    Ok(Some(ContainerStatus {
        status: state.status.unwrap_or(ContainerStateStatusEnum::EMPTY),
        running: state.running.unwrap_or(false),
        exit_code: state.exit_code.unwrap_or_default(),
        restart_count: info.restart_count.unwrap_or_default(),
        error: state.error.unwrap_or_default(),
        ip,
        published,
        stop_timeout,
        labels,
    }))
}

/// What a command run inside a container left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutcome {
    pub exit_code: i64,
    /// The end of its stdout and stderr, interleaved as they came: at most [`EXEC_OUTPUT_KEPT`]
    /// bytes, so a command that prints without end cannot grow the daemon.
    pub output: String,
}

/// How much of an exec'd command's output is kept, from its end.
pub const EXEC_OUTPUT_KEPT: usize = 4 * 1024;

/// The last `limit` bytes of a stream: older bytes are dropped as new ones come.
#[derive(Debug)]
struct Tail {
    bytes: std::collections::VecDeque<u8>,
    limit: usize,
}

impl Tail {
    fn new(limit: usize) -> Self {
        Tail {
            bytes: std::collections::VecDeque::with_capacity(limit),
            limit,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.limit)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The kept bytes as text; a character cut at the start shows as U+FFFD.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.iter().copied().collect::<Vec<_>>()).into_owned()
    }
}

/// Runs `command` inside the running container `name` (Docker exec, no shell, no TTY) and waits
/// for it to exit. The caller bounds the wait: Docker has no call to stop an exec'd process.
pub async fn exec(
    docker: &Docker,
    name: &str,
    command: &[String],
) -> Result<ExecOutcome, DockerError> {
    let call = || Call::Exec(name.to_string());
    let options = CreateExecOptions {
        cmd: Some(command.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = timed(CALL_TIMEOUT, call(), docker.create_exec(name, options)).await?;
    let started = timed(CALL_TIMEOUT, call(), docker.start_exec(&created.id, None)).await?;
    let mut output = Tail::new(EXEC_OUTPUT_KEPT);
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = started
    {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| DockerError::new(call(), &error))?;
            output.push(&chunk.into_bytes());
        }
    }
    let inspected = timed(CALL_TIMEOUT, call(), docker.inspect_exec(&created.id)).await?;
    Ok(ExecOutcome {
        exit_code: inspected.exit_code.unwrap_or(-1),
        output: output.text(),
    })
}

/// The last `lines` lines `name` wrote to stdout and stderr.
pub async fn last_logs(docker: &Docker, name: &str, lines: usize) -> Result<String, DockerError> {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&lines.to_string())
        .build();
    let read = async {
        let mut stream = docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
        }
        Ok::<_, bollard::errors::Error>(text)
    };
    timed(CALL_TIMEOUT, Call::Logs(name.to_string()), read).await
}

/// How the run in job container `container` went: its start, end and exit code (`None` while it
/// runs); `None` when the container is gone.
pub async fn run_of(
    docker: &Docker,
    container: &ObservedContainer,
) -> Result<Option<ObservedRun>, DockerError> {
    let name = container.bare_name();
    let Some(info) = inspect_response(docker, name).await? else {
        return Ok(None);
    };
    let state = info.state.unwrap_or_default();
    let running = state.running.unwrap_or(false) || state.restarting.unwrap_or(false);
    // Docker writes the zero time for a container that never started or never finished.
    let time = |time: Option<String>| time.filter(|time| !time.starts_with("0001-"));
    let label = |key: &str| container.labels.get(key).cloned().unwrap_or_default();
    Ok(Some(ObservedRun {
        container: name.to_string(),
        job: label(LABEL_JOB),
        environment: label(LABEL_ENVIRONMENT),
        spec_hash: label(LABEL_SPEC_HASH),
        image_id: container.image_id.clone(),
        started_at: time(state.started_at).unwrap_or_default(),
        finished_at: if running {
            None
        } else {
            time(state.finished_at)
        },
        exit_code: if running { None } else { state.exit_code },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_output_keeps_only_its_last_bytes_however_much_comes() {
        let mut tail = Tail::new(8);
        tail.push(b"abc");
        assert_eq!(tail.text(), "abc");
        tail.push(b"defghij");
        assert_eq!(tail.text(), "cdefghij");
        for _ in 0..10_000 {
            tail.push(b"y\n");
        }
        assert_eq!(tail.text(), "y\ny\ny\ny\n");
        assert_eq!(tail.bytes.len(), 8);
        tail.push(b"0123456789-the-end");
        assert_eq!(tail.text(), "-the-end");
        assert!(
            tail.bytes.capacity() < 64,
            "the buffer stays near its limit"
        );
    }
}
