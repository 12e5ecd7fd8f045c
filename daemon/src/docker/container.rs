//! Container operations on one named container (create from the desired spec, start, stop, rename,
//! remove, inspect, run a command in it, read its last log lines), each bounded by a timeout and
//! named in its errors. No sequencing here: the
//! recreate-with-rollback sequence lives in `apply`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;
use engine::desired::DesiredDeployment;
use futures_util::StreamExt;

use super::{status_code, timed, CALL_TIMEOUT};

/// What `inspect` reports about a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStatus {
    pub status: ContainerStateStatusEnum,
    pub running: bool,
    pub exit_code: i64,
    pub restart_count: i64,
    pub error: String,
    /// The container's address on its Docker network (the default bridge first).
    pub ip: Option<String>,
    /// Published ports: `80/tcp` → (host IP, host port).
    pub published: Vec<(String, String, String)>,
    /// The grace period the container was created with, between SIGTERM and SIGKILL.
    pub stop_timeout: Option<Duration>,
}

/// The Docker create request for a desired deployment: image, command, plaintext env, the full
/// label set, published ports, bind mounts and stop timeout. No Docker restart policy: orun alone
/// restarts containers (drift repair, liveness), so it can count restarts and detect flapping.
pub fn create_body(desired: &DesiredDeployment) -> ContainerCreateBody {
    let spec = &desired.spec;
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for port in &spec.ports {
        let key = format!("{}/{}", port.container_port, port.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(port.host_ip.clone()),
                host_port: Some(port.port.to_string()),
            });
    }
    let binds = spec
        .volumes
        .iter()
        .map(|volume| {
            let mode = if volume.read_only { ":ro" } else { "" };
            format!("{}:{}{mode}", volume.host_path, volume.container_path)
        })
        .collect();
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        env: Some(spec.env_list()),
        labels: Some(
            desired
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        exposed_ports: Some(exposed),
        stop_timeout: Some(stop_seconds(spec.stop_timeout.as_std())),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            binds: Some(binds),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Whole seconds Docker waits between SIGTERM and SIGKILL, rounded up.
pub fn stop_seconds(timeout: Duration) -> i64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Creates the container for `desired` under `name`; missing bind-mount sources are created first.
pub async fn create(docker: &Docker, name: &str, desired: &DesiredDeployment) -> Result<String> {
    for volume in &desired.spec.volumes {
        tokio::fs::create_dir_all(&volume.host_path)
            .await
            .with_context(|| {
                format!("create {name}: cannot create hostPath {}", volume.host_path)
            })?;
    }
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let response = timed(
        CALL_TIMEOUT,
        &format!("create {name}"),
        docker.create_container(Some(options), create_body(desired)),
    )
    .await?;
    Ok(response.id)
}

pub async fn start(docker: &Docker, name: &str) -> Result<()> {
    timed(
        CALL_TIMEOUT,
        &format!("start {name}"),
        docker.start_container(name, None::<StartContainerOptions>),
    )
    .await
}

pub async fn unpause(docker: &Docker, name: &str) -> Result<()> {
    timed(
        CALL_TIMEOUT,
        &format!("unpause {name}"),
        docker.unpause_container(name),
    )
    .await
}

/// Stops `name`, giving it `grace` between SIGTERM and SIGKILL; stopping a stopped container is fine.
pub async fn stop(docker: &Docker, name: &str, grace: Duration) -> Result<()> {
    let seconds = stop_seconds(grace);
    let options = StopContainerOptionsBuilder::default()
        .t(i32::try_from(seconds).unwrap_or(i32::MAX))
        .build();
    timed(
        grace + CALL_TIMEOUT,
        &format!("stop {name}"),
        docker.stop_container(name, Some(options)),
    )
    .await
}

/// Restarts `name`, giving it `grace` between SIGTERM and SIGKILL.
pub async fn restart(docker: &Docker, name: &str, grace: Duration) -> Result<()> {
    let seconds = stop_seconds(grace);
    let options = RestartContainerOptionsBuilder::default()
        .t(i32::try_from(seconds).unwrap_or(i32::MAX))
        .build();
    timed(
        grace + CALL_TIMEOUT,
        &format!("restart {name}"),
        docker.restart_container(name, Some(options)),
    )
    .await
}

pub async fn rename(docker: &Docker, name: &str, new_name: &str) -> Result<()> {
    let options = RenameContainerOptionsBuilder::default()
        .name(new_name)
        .build();
    timed(
        CALL_TIMEOUT,
        &format!("rename {name} to {new_name}"),
        docker.rename_container(name, options),
    )
    .await
}

/// Removes `name` (stopping it if needed); a container that is already gone is not an error.
pub async fn remove(docker: &Docker, name: &str) -> Result<()> {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let call = docker.remove_container(name, Some(options));
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Err(error)) if status_code(&error) == Some(404) => Ok(()),
        Ok(result) => result
            .map_err(|error| anyhow::anyhow!("remove {name}: {}", super::docker_message(&error))),
        Err(_) => anyhow::bail!(
            "remove {name}: no answer from Docker within {}s",
            CALL_TIMEOUT.as_secs()
        ),
    }
}

/// The state of `name`, or `None` when no such container exists.
pub async fn inspect(docker: &Docker, name: &str) -> Result<Option<ContainerStatus>> {
    let call = docker.inspect_container(name, None::<InspectContainerOptions>);
    let info = match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(info)) => info,
        Ok(Err(error)) if status_code(&error) == Some(404) => return Ok(None),
        Ok(Err(error)) => anyhow::bail!("inspect {name}: {}", super::docker_message(&error)),
        Err(_) => anyhow::bail!(
            "inspect {name}: no answer from Docker within {}s",
            CALL_TIMEOUT.as_secs()
        ),
    };
    let state = info.state.unwrap_or_default();
    let stop_timeout = info
        .config
        .and_then(|config| config.stop_timeout)
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map(Duration::from_secs);
    let network = info.network_settings.unwrap_or_default();
    let networks = network.networks.unwrap_or_default();
    let ip = networks
        .get("bridge")
        .into_iter()
        .chain(networks.values())
        .filter_map(|endpoint| endpoint.ip_address.clone())
        .find(|ip| !ip.is_empty());
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
    }))
}

/// What a command run inside a container left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutcome {
    pub exit_code: i64,
    /// Its stdout and stderr, interleaved as they came.
    pub output: String,
}

/// Runs `command` inside the running container `name` (Docker exec, no shell, no TTY) and waits
/// for it to exit. The caller bounds the wait: Docker has no call to stop an exec'd process.
pub async fn exec(docker: &Docker, name: &str, command: &[String]) -> Result<ExecOutcome> {
    let what = format!("exec in {name}");
    let options = CreateExecOptions {
        cmd: Some(command.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = timed(CALL_TIMEOUT, &what, docker.create_exec(name, options)).await?;
    let started = timed(CALL_TIMEOUT, &what, docker.start_exec(&created.id, None)).await?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = started
    {
        while let Some(chunk) = stream.next().await {
            output.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
        }
    }
    let inspected = timed(CALL_TIMEOUT, &what, docker.inspect_exec(&created.id)).await?;
    Ok(ExecOutcome {
        exit_code: inspected.exit_code.unwrap_or(-1),
        output,
    })
}

/// The last `lines` lines `name` wrote to stdout and stderr.
pub async fn last_logs(docker: &Docker, name: &str, lines: usize) -> Result<String> {
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
    timed(CALL_TIMEOUT, &format!("read the logs of {name}"), read).await
}
