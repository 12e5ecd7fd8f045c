//! Container operations on one named container (create from the desired spec, start, stop, rename,
//! remove, inspect, a job container's run, run a command in it, read its last log lines), each bounded by a timeout and
//! named in its [`DockerError`]. No sequencing here: the
//! recreate-with-rollback sequence lives in `apply`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerUpdateBody,
    DeviceMapping, DeviceRequest, EndpointSettings, HostConfig, HostConfigLogConfig,
    NetworkConnectRequest, NetworkingConfig, PortBinding, ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;
use engine::desired::{DesiredDeployment, DesiredReplica};
use engine::jobs::LABEL_JOB;
use engine::manifest::{Gpus, NetworkMode, Propagation, Selinux};
use engine::observed::{ObservedContainer, ObservedRun};
use engine::resources::Limits;
use engine::spec::{
    CanonicalPort, CanonicalSpec, CanonicalTmpfs, CanonicalUlimit, CanonicalVolume, KernelSettings,
    LogRotation, LABEL_ENVIRONMENT, LABEL_SPEC_HASH,
};
use engine::Environment;
use futures_util::StreamExt;

use super::{timed, Call, DockerError, Failure, CALL_TIMEOUT};
use crate::mount_files::{FileDirs, WriteError};

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

/// The Docker create request for replica `replica` of a desired deployment of `environment`: its
/// container spec's body (see [`container_body`]) with the replica's full label set and its
/// number in the environment, and the network it is created on (the first of its networks) with
/// the deployment's name as the container's alias there, so other containers of the
/// environment reach it — every replica of it — by that name.
pub fn create_body(
    desired: &DesiredDeployment,
    replica: &DesiredReplica,
    environment: &Environment,
    dirs: &FileDirs,
) -> ContainerCreateBody {
    let labels = replica
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut body = container_body(&desired.spec, &desired.resources, labels, environment, dirs);
    let (network_mode, networking_config) = network(
        desired.spec.network,
        &desired.name,
        &desired.networks(environment),
    );
    body.networking_config = networking_config;
    if let Some(host) = body.host_config.as_mut() {
        host.network_mode = Some(network_mode);
    }
    if let (Some((key, value)), Some(env)) = (replica.env(), body.env.as_mut()) {
        // orun's number wins over a key of `secrets.yaml` by that name.
        let prefix = format!("{key}=");
        env.retain(|entry| !entry.starts_with(&prefix));
        env.push(format!("{prefix}{value}"));
    }
    body
}

/// Everything Docker's create request takes from a container spec but its network, in one
/// place: image, command, plaintext env, ports (published when they have a host port), bind
/// mounts, named volumes, the node's copies of mounted files (in `dirs`), tmpfs mounts, stop
/// timeout, the container settings, json-file log rotation
/// and resource limits (as an in-place update sets them). No Docker restart policy: orun alone
/// restarts containers (drift repair, liveness), so it can count restarts and detect flapping.
fn container_body(
    spec: &CanonicalSpec,
    limits: &Limits,
    labels: HashMap<String, String>,
    environment: &Environment,
    dirs: &FileDirs,
) -> ContainerCreateBody {
    let settings = &spec.settings;
    let (exposed, bindings) = published_ports(&spec.ports);
    let limits = update_body(limits);
    let non_empty = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: settings.entrypoint.clone(),
        working_dir: settings.working_dir.clone(),
        user: settings.user.clone(),
        hostname: settings.hostname.clone(),
        stop_signal: settings.stop_signal.clone(),
        open_stdin: settings.interactive.then_some(true),
        tty: settings.tty.then_some(true),
        env: Some(spec.env_list()),
        labels: Some(labels),
        exposed_ports: Some(exposed),
        stop_timeout: Some(stop_seconds(spec.stop_timeout.as_std())),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            binds: Some(
                binds(&spec.volumes, environment)
                    .into_iter()
                    .chain(file_binds(spec, environment, dirs))
                    .collect(),
            ),
            extra_hosts: non_empty(&settings.extra_hosts),
            cap_add: non_empty(&settings.cap_add),
            cap_drop: non_empty(&settings.cap_drop),
            readonly_rootfs: settings.read_only_root_filesystem.then_some(true),
            init: settings.init.then_some(true),
            sysctls: (!settings.sysctls.is_empty()).then(|| {
                settings
                    .sysctls
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            shm_size: settings
                .shm_size
                .as_ref()
                .map(|size| docker_int(size.bytes())),
            log_config: Some(log_config(&settings.logging)),
            memory: limits.memory,
            memory_swap: limits.memory_swap,
            nano_cpus: limits.nano_cpus,
            pids_limit: limits.pids_limit,
            tmpfs: Some(
                spec.tmpfs
                    .iter()
                    .map(|tmpfs| (tmpfs.path.clone(), tmpfs_options(tmpfs)))
                    .collect(),
            ),
            ulimits: (!settings.ulimits.is_empty()).then(|| ulimits(&settings.ulimits)),
            security_opt: non_empty(&settings.security_opt),
            devices: (!settings.devices.is_empty()).then(|| devices(&settings.devices)),
            group_add: non_empty(&settings.group_add),
            device_requests: settings.gpus.map(|gpus| vec![gpu_request(gpus)]),
            ..kernel_host_config(&settings.kernel)
        }),
        domainname: settings.kernel.domainname.clone(),
        ..Default::default()
    }
}

/// The host config's namespaces and kernel settings; each left to Docker's default when absent.
fn kernel_host_config(kernel: &KernelSettings) -> HostConfig {
    let non_empty = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
    HostConfig {
        privileged: kernel.privileged.then_some(true),
        pid_mode: kernel.pid.clone(),
        ipc_mode: kernel.ipc.clone(),
        userns_mode: kernel.userns_mode.clone(),
        dns: non_empty(&kernel.dns),
        dns_search: non_empty(&kernel.dns_search),
        dns_options: non_empty(&kernel.dns_options),
        device_cgroup_rules: non_empty(&kernel.device_cgroup_rules),
        memory_reservation: kernel.memory_reservation.map(docker_int),
        cpu_shares: kernel.cpu_shares.map(docker_int),
        cpuset_cpus: kernel.cpuset.clone(),
        oom_score_adj: kernel.oom_score_adj,
        oom_kill_disable: kernel.oom_kill_disable.then_some(true),
        storage_opt: (!kernel.storage_opt.is_empty()).then(|| {
            kernel
                .storage_opt
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        }),
        ..Default::default()
    }
}

/// Docker's exposed ports (`80/tcp`, each once, in the spec's order) and the host bindings of
/// those published on the host, several for a port published more than once.
fn published_ports(ports: &[CanonicalPort]) -> (Vec<String>, PortBindings) {
    let mut bindings: PortBindings = HashMap::new();
    let mut exposed = Vec::new();
    for port in ports {
        let key = format!("{}/{}", port.container_port, port.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let Some(host_port) = port.port else {
            continue;
        };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(port.host_ip.clone()),
                host_port: Some(host_port.to_string()),
            });
    }
    (exposed, bindings)
}

/// Docker's port bindings: `80/tcp` → where the host publishes it.
type PortBindings = HashMap<String, Option<Vec<PortBinding>>>;

/// `source:target[:options]` for every volume: a bind mount's host folder, or the Docker name of
/// the environment's named volume, with `ro`, the SELinux relabel (`z`, `Z`) and the propagation.
fn binds(volumes: &[CanonicalVolume], environment: &Environment) -> Vec<String> {
    volumes
        .iter()
        .map(|volume| {
            let source = match (&volume.host_path, &volume.name) {
                (Some(host_path), _) => host_path.clone(),
                (None, name) => environment.volume_name(name.as_deref().unwrap_or_default()),
            };
            let options: Vec<&str> = volume
                .read_only
                .then_some("ro")
                .into_iter()
                .chain(volume.selinux.map(Selinux::docker_option))
                .chain(volume.propagation.map(Propagation::as_str))
                .collect();
            let mut bind = format!("{source}:{}", volume.container_path);
            if !options.is_empty() {
                bind.push(':');
                bind.push_str(&options.join(","));
            }
            bind
        })
        .collect()
}

/// Docker's tmpfs mount options: the size in bytes and the octal mode, when given.
fn tmpfs_options(tmpfs: &CanonicalTmpfs) -> String {
    let size = tmpfs
        .size
        .as_ref()
        .map(|size| format!("size={}", size.bytes()));
    let mode = tmpfs
        .mode
        .as_ref()
        .map(|mode| format!("mode={:o}", mode.bits()));
    size.into_iter().chain(mode).collect::<Vec<_>>().join(",")
}

pub(super) fn ulimits(ulimits: &BTreeMap<String, CanonicalUlimit>) -> Vec<ResourcesUlimits> {
    ulimits
        .iter()
        .map(|(name, limit)| ResourcesUlimits {
            name: Some(name.clone()),
            soft: Some(limit.soft),
            hard: Some(limit.hard),
        })
        .collect()
}

/// `host:container:permissions` entries, as the canonical spec writes them, as Docker's mappings.
fn devices(devices: &[String]) -> Vec<DeviceMapping> {
    devices
        .iter()
        .filter_map(|device| {
            let mut parts = device.splitn(3, ':');
            Some(DeviceMapping {
                path_on_host: Some(parts.next()?.to_string()),
                path_in_container: Some(parts.next()?.to_string()),
                cgroup_permissions: Some(parts.next()?.to_string()),
            })
        })
        .collect()
}

/// What `docker run --gpus` sends: any driver that offers the `gpu` capability, that many GPUs
/// (`-1` for all).
fn gpu_request(gpus: Gpus) -> DeviceRequest {
    DeviceRequest {
        driver: Some(String::new()),
        count: Some(gpus.docker_count()),
        capabilities: Some(vec![vec!["gpu".to_string()]]),
        ..Default::default()
    }
}

/// `source:target:ro` for every repository file and secret file: the node's copy of each
/// (see `mount_files`), read-only.
fn file_binds(spec: &CanonicalSpec, environment: &Environment, dirs: &FileDirs) -> Vec<String> {
    let files = spec.files.keys().filter_map(|target| {
        let path = dirs.file_path(environment, spec, target)?;
        Some(format!("{}:{target}:ro", path.display()))
    });
    let secret_files = spec.secret_files.keys().filter_map(|target| {
        let path = dirs.secret_file_path(environment, spec, target)?;
        Some(format!("{}:{target}:ro", path.display()))
    });
    files.chain(secret_files).collect()
}

/// A network endpoint on which the container answers to its deployment's name and `aliases`.
fn endpoint(name: &str, aliases: &[String]) -> EndpointSettings {
    let mut names = vec![name.to_string()];
    names.extend(aliases.iter().cloned());
    EndpointSettings {
        aliases: Some(names),
        ..Default::default()
    }
}

/// json-file logging rotated by size in bytes and file count.
fn log_config(logging: &LogRotation) -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".to_string()),
        config: Some(log_options(logging)),
    }
}

/// The json-file driver's rotation options: size in bytes and file count.
pub(super) fn log_options(logging: &LogRotation) -> HashMap<String, String> {
    HashMap::from([
        ("max-size".to_string(), logging.max_size.bytes().to_string()),
        ("max-file".to_string(), logging.max_files.0.to_string()),
    ])
}

/// Docker's network mode and the endpoint of the network the container is created on, the first
/// of `joined` (see `DesiredDeployment::networks`), where it answers to `alias` and that
/// network's extra aliases.
fn network(
    mode: NetworkMode,
    alias: &str,
    joined: &[(String, Vec<String>)],
) -> (String, Option<NetworkingConfig>) {
    match (mode, joined.first()) {
        (NetworkMode::Host, _) => ("host".to_string(), None),
        (NetworkMode::None, _) | (NetworkMode::Environment, None) => ("none".to_string(), None),
        (NetworkMode::Environment, Some((network, aliases))) => {
            let config = NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.clone(),
                    endpoint(alias, aliases),
                )])),
            };
            (network.clone(), Some(config))
        }
    }
}

/// The limits Docker gets at create and in a container update, so both agree: memory without
/// swap on top (MemorySwap equals Memory, which Docker also requires with every memory update),
/// CPUs in billionths, a pids limit. An unlimited resource is not sent.
pub fn update_body(limits: &Limits) -> ContainerUpdateBody {
    let memory = limits.memory.map(docker_int);
    ContainerUpdateBody {
        memory,
        memory_swap: memory,
        nano_cpus: limits.nano_cpus.map(docker_int),
        pids_limit: limits.pids.map(docker_int),
        ..Default::default()
    }
}

/// Docker's signed integers; manifest validation keeps every value in range.
pub(super) fn docker_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The limits Docker reports in a container's host config; 0 and negative values are unlimited.
pub fn limits_of(host_config: &HostConfig) -> Limits {
    reported_limits(
        host_config.memory,
        host_config.nano_cpus,
        host_config.pids_limit,
    )
}

/// Limits as Docker reports them (memory bytes, CPUs in billionths, pids), for a container or a
/// service's tasks: 0, negative and absent values are unlimited.
pub(super) fn reported_limits(
    memory: Option<i64>,
    nano_cpus: Option<i64>,
    pids: Option<i64>,
) -> Limits {
    let limit = |value: Option<i64>| {
        value
            .and_then(|value| u64::try_from(value).ok())
            .filter(|value| *value > 0)
    };
    Limits {
        memory: limit(memory),
        nano_cpus: limit(nano_cpus),
        pids: limit(pids),
    }
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
    use std::path::Path;

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
    use engine::testing::{deployment, desired};

    #[test]
    fn a_create_body_takes_ports_mounts_and_network_from_the_container_spec() {
        let spec = "  ports:\n    - containerPort: 80\n      port: 8080\n    - containerPort: 80\n      port: 8081\n      hostIP: 127.0.0.1\n    - containerPort: 9000\n  volumes:\n    - hostPath: /srv/data\n      containerPath: /data\n      readOnly: true\n    - name: cache\n      containerPath: /cache\n  logging: {maxSize: 20m}\n";
        let state = desired("staging", &[deployment("web", spec)]);
        let web = &state.deployments["web"];
        let body = create_body(web, &web.replicas[0], &state.environment, &dirs());
        assert_eq!(
            body.exposed_ports,
            Some(vec!["80/tcp".to_string(), "9000/tcp".to_string()])
        );
        let host = body.host_config.unwrap();
        let bindings = &host.port_bindings.unwrap()["80/tcp"];
        assert_eq!(bindings.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            host.binds,
            Some(vec![
                "/srv/data:/data:ro".to_string(),
                "staging.cache:/cache".to_string()
            ])
        );
        let log = host.log_config.unwrap().config.unwrap();
        assert_eq!(
            (log["max-size"].as_str(), log["max-file"].as_str()),
            ("20000000", "3")
        );
        assert_eq!(host.network_mode.as_deref(), Some("orun-staging"));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["orun-staging"].aliases,
            Some(vec!["web".to_string()])
        );
    }

    fn dirs() -> FileDirs {
        FileDirs::new(Path::new("/var/lib/orun"), Path::new("/run/orun"))
    }

    #[test]
    fn networks_put_the_container_on_the_first_with_its_aliases_and_files_are_bound_read_only() {
        let spec = "  networks: [{name: backend, aliases: [db]}, frontend]
";
        let mut state = desired("staging", &[deployment("web", spec)]);
        let web = state.deployments.get_mut("web").unwrap();
        web.spec.files.insert(
            "/etc/app.conf".into(),
            engine::spec::CanonicalFile {
                mode: "0444".into(),
                sha256: "ab".repeat(32),
                content: engine::spec::FileContent::default(),
            },
        );
        let web = &state.deployments["web"];
        assert_eq!(
            web.networks(&state.environment),
            [
                ("orun-staging.backend".to_string(), vec!["db".to_string()]),
                ("orun-staging.frontend".to_string(), vec![])
            ]
        );
        let body = create_body(web, &web.replicas[0], &state.environment, &dirs());
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("orun-staging.backend"));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["orun-staging.backend"].aliases,
            Some(vec!["web".to_string(), "db".to_string()])
        );
        assert_eq!(
            host.binds,
            Some(vec![format!(
                "/var/lib/orun/files/staging/{}-0444:/etc/app.conf:ro",
                "ab".repeat(32)
            )])
        );
    }

    #[test]
    fn a_create_body_takes_the_namespace_and_kernel_settings() {
        let spec = "  privileged: true\n  pid: host\n  ipc: host\n  usernsMode: host\n  dns: [1.1.1.1]\n  dnsSearch: [corp.example.com]\n  dnsOptions: ['ndots:2']\n  domainname: example.com\n  deviceCgroupRules: ['c 189:* rmw']\n  memoryReservation: 32Mi\n  cpuShares: 512\n  cpuset: 0-1\n  oomScoreAdj: -500\n  oomKillDisable: true\n  storageOpt: {size: 20G}\n";
        let state = desired("production", &[deployment("web", spec)]);
        let web = &state.deployments["web"];
        let body = create_body(web, &web.replicas[0], &state.environment, &dirs());
        assert_eq!(body.domainname.as_deref(), Some("example.com"));
        let host = body.host_config.unwrap();
        assert_eq!(host.privileged, Some(true));
        assert_eq!(
            (
                host.pid_mode.as_deref(),
                host.ipc_mode.as_deref(),
                host.userns_mode.as_deref()
            ),
            (Some("host"), Some("host"), Some("host"))
        );
        assert_eq!(host.dns.unwrap(), ["1.1.1.1"]);
        assert_eq!(host.dns_search.unwrap(), ["corp.example.com"]);
        assert_eq!(host.dns_options.unwrap(), ["ndots:2"]);
        assert_eq!(host.device_cgroup_rules.unwrap(), ["c 189:* rmw"]);
        assert_eq!(host.memory_reservation, Some(32 << 20));
        assert_eq!(host.cpu_shares, Some(512));
        assert_eq!(host.cpuset_cpus.as_deref(), Some("0-1"));
        assert_eq!(host.oom_score_adj, Some(-500));
        assert_eq!(host.oom_kill_disable, Some(true));
        assert_eq!(host.storage_opt.unwrap()["size"], "20G");
        let plain = desired("production", &[deployment("web", "")]);
        let web = &plain.deployments["web"];
        let host = create_body(web, &web.replicas[0], &plain.environment, &dirs())
            .host_config
            .unwrap();
        assert_eq!(
            (host.privileged, host.pid_mode, host.dns),
            (None, None, None)
        );
    }

    #[test]
    fn a_create_body_takes_the_host_access_settings_and_mount_options() {
        let spec = "  interactive: true\n  tty: true\n  extraHosts: ['gw=host-gateway', 'v6=[::1]']\n  ulimits: {nofile: {soft: 10, hard: 20}, memlock: -1}\n  securityOpt: [no-new-privileges]\n  devices: [/dev/dri]\n  groupAdd: [video]\n  gpus: all\n  volumes:\n    - {hostPath: /srv/a, containerPath: /a, selinux: private, propagation: rslave}\n    - {name: b, containerPath: /b, readOnly: true, selinux: shared}\n  tmpfs: [/tmp, {path: /run, size: 1Mi, mode: '0700'}]\n";
        let state = desired("production", &[deployment("web", spec)]);
        let web = &state.deployments["web"];
        let body = create_body(web, &web.replicas[0], &state.environment, &dirs());
        assert_eq!((body.open_stdin, body.tty), (Some(true), Some(true)));
        let host = body.host_config.unwrap();
        assert_eq!(
            host.extra_hosts.unwrap(),
            ["gw:host-gateway".to_string(), "v6:::1".to_string()]
        );
        let ulimits = host.ulimits.unwrap();
        assert_eq!(
            (ulimits[0].name.as_deref(), ulimits[0].soft, ulimits[0].hard),
            (Some("memlock"), Some(-1), Some(-1))
        );
        assert_eq!((ulimits[1].soft, ulimits[1].hard), (Some(10), Some(20)));
        assert_eq!(host.security_opt.unwrap(), ["no-new-privileges"]);
        let device = &host.devices.unwrap()[0];
        assert_eq!(
            (
                device.path_on_host.as_deref(),
                device.path_in_container.as_deref(),
                device.cgroup_permissions.as_deref()
            ),
            (Some("/dev/dri"), Some("/dev/dri"), Some("rwm"))
        );
        assert_eq!(host.group_add.unwrap(), ["video"]);
        let request = &host.device_requests.unwrap()[0];
        assert_eq!(request.count, Some(-1));
        assert_eq!(request.capabilities, Some(vec![vec!["gpu".to_string()]]));
        assert_eq!(host.binds.unwrap(), ["/srv/a:/a:Z,rslave", "b:/b:ro,z"]);
        let tmpfs = host.tmpfs.unwrap();
        assert_eq!(tmpfs["/tmp"], "");
        assert_eq!(tmpfs["/run"], "size=1048576,mode=700");
    }

    #[test]
    fn replicas_from_2_on_carry_their_number_and_share_the_alias() {
        let state = desired(
            "production",
            &[deployment("web", "  replicas: 2\n  env:\n    A: b\n")],
        );
        let web = &state.deployments["web"];
        let first = create_body(web, &web.replicas[0], &state.environment, &dirs());
        let second = create_body(web, &web.replicas[1], &state.environment, &dirs());
        assert!(!first
            .env
            .unwrap()
            .iter()
            .any(|e| e.starts_with("ORUN_REPLICA=")));
        assert!(second.env.unwrap().contains(&"ORUN_REPLICA=2".to_string()));
        assert_eq!(second.labels.unwrap()["run.orcra.dev/replica"], "2");
        assert!(!first.labels.unwrap().contains_key("run.orcra.dev/replica"));
        let alias = |body: ContainerCreateBody| {
            body.networking_config.unwrap().endpoints_config.unwrap()["orun-production"]
                .aliases
                .clone()
        };
        assert_eq!(
            alias(create_body(
                web,
                &web.replicas[1],
                &state.environment,
                &dirs()
            )),
            Some(vec!["web".to_string()])
        );
    }

    #[test]
    fn create_and_update_give_docker_the_same_limits_without_swap() {
        let limits = Limits {
            memory: Some(128 << 20),
            nano_cpus: Some(500_000_000),
            pids: Some(50),
        };
        let update = update_body(&limits);
        assert_eq!(update.memory, Some(128 << 20));
        assert_eq!(update.memory_swap, update.memory);
        assert_eq!(update.nano_cpus, Some(500_000_000));
        assert_eq!(update.pids_limit, Some(50));
        assert_eq!(
            update_body(&Limits::default()),
            ContainerUpdateBody::default()
        );
        let reported = HostConfig {
            memory: update.memory,
            nano_cpus: update.nano_cpus,
            pids_limit: update.pids_limit,
            ..Default::default()
        };
        assert_eq!(limits_of(&reported), limits);
        let unlimited = HostConfig {
            memory: Some(0),
            nano_cpus: Some(0),
            pids_limit: Some(-1),
            ..Default::default()
        };
        assert_eq!(limits_of(&unlimited), Limits::default());
    }
}
