//! Deployments as Swarm services (docs/swarm.md): the rules a repository with a swarm node keeps,
//! what `orun validate` tells about it, and the values of a service that orun decides — its
//! placement constraints, the health check a readiness probe becomes, the update policy and how
//! long a change may take to settle. It does not talk to Docker (the Docker adapter builds the
//! API's request from these) nor decide whether a service must change (`plan`).

use crate::desired::DesiredDeployment;
use crate::duration::Duration;
use crate::error::{Finding, Level, ManifestError};
use crate::manifest::{
    ContainerFields, HealthSpec, Manifests, NetworkMode, NodeEngine, Placement, PortMode,
    ProbeTarget, Rollout,
};
use crate::spec::CanonicalPort;

/// Swarm's own default for how long it watches a new task before counting the update done.
pub const DEFAULT_MONITOR: Duration = Duration::from_secs(5);

/// Failed health checks, after the start period, that make Swarm replace a task.
pub const HEALTH_RETRIES: u32 = 3;

/// What a swarm cannot do that a revision asks for, one error per field, when the repository has
/// a swarm node: every other Node must be one too, Services are not served, images are not
/// built, containers join the environment's network, `placement.nodes` names one host.
pub fn check(manifests: &Manifests) -> Vec<ManifestError> {
    let Some(swarm) = manifests.swarm_node() else {
        return Vec::new();
    };
    let because = format!("{} has engine: swarm", swarm.file);
    let mut errors = Vec::new();
    for node in manifests.nodes.values() {
        if node.spec.engine == NodeEngine::Docker {
            errors.push(ManifestError::new(
                &node.file,
                Some("spec.engine"),
                format!(
                    "a repository runs either on Docker nodes or on one swarm, and {because}; \
                     set engine: swarm or move this node to another repository"
                ),
            ));
        }
    }
    for service in manifests.services.values() {
        errors.push(ManifestError::new(
            &service.file,
            None,
            format!(
                "Services are not served on swarm nodes yet ({because}); publish the deployment's \
                 ports instead"
            ),
        ));
    }
    for deployment in manifests.deployments.values() {
        let file = deployment.file.as_str();
        let container = &deployment.spec.container;
        if container.build.is_some() {
            errors.push(ManifestError::new(
                file,
                Some("spec.build"),
                format!(
                    "swarm nodes run images from a registry, they do not build ({because}); push \
                     the image and set spec.image"
                ),
            ));
        }
        if container.network != NetworkMode::Environment {
            errors.push(ManifestError::new(
                file,
                Some("spec.network"),
                format!(
                    "network: {} is not supported on swarm nodes ({because}): services join the \
                     environment's overlay network",
                    container.network.as_str()
                ),
            ));
        }
        let node_local = [
            (
                "files",
                !container.files.is_empty(),
                "a repository file is written on the orun node, not where a task runs",
            ),
            (
                "secretFiles",
                !container.secret_files.is_empty(),
                "a secret file is written on the orun node's tmpfs, not where a task runs",
            ),
            (
                "networks",
                container.networks.is_some(),
                "services join the environment's overlay network only",
            ),
        ];
        for (field, written, why) in node_local {
            if written {
                errors.push(ManifestError::new(
                    file,
                    Some(&format!("spec.{field}")),
                    format!("{field} is not supported on swarm nodes ({because}): {why}"),
                ));
            }
        }
        if container.shm_size.is_some() {
            errors.push(ManifestError::new(
                file,
                Some("spec.shmSize"),
                format!("Swarm services have no shm size ({because})"),
            ));
        }
        errors.extend(host_access_errors(file, container, &because));
        errors.extend(kernel_errors(file, container, &because));
        for (index, port) in container.ports.iter().enumerate() {
            if port.host_ip.is_some() {
                errors.push(ManifestError::new(
                    file,
                    Some(&format!("spec.ports[{index}].hostIP")),
                    format!(
                        "Swarm publishes a port on every address of a node ({because}); leave \
                         out hostIP"
                    ),
                ));
            }
        }
        let nodes = deployment
            .spec
            .placement
            .as_ref()
            .map_or(0, |placement| placement.nodes.len());
        if nodes > 1 {
            errors.push(ManifestError::new(
                file,
                Some("spec.placement.nodes"),
                format!(
                    "a swarm service can be held to one host by name ({because}); give the hosts \
                     a node label and use placement.labels"
                ),
            ));
        }
    }
    errors
}

/// The container settings Swarm's service spec has no field for: security options, devices,
/// GPUs (Swarm reserves generic resources, not Docker's device requests) and SELinux relabelling.
fn host_access_errors(
    file: &str,
    container: &ContainerFields,
    because: &str,
) -> Vec<ManifestError> {
    let mut errors = Vec::new();
    let mut refuse = |field: String, what: &str| {
        errors.push(ManifestError::new(
            file,
            Some(&field),
            format!("Swarm services have no {what} ({because})"),
        ));
    };
    if !container.security_opt.is_empty() {
        refuse("spec.securityOpt".into(), "security options");
    }
    if !container.devices.is_empty() {
        refuse("spec.devices".into(), "device mappings");
    }
    if container.gpus.is_some() {
        refuse("spec.gpus".into(), "GPU requests");
    }
    for (index, volume) in container.volumes.iter().enumerate() {
        if volume.selinux.is_some() {
            refuse(
                format!("spec.volumes[{index}].selinux"),
                "SELinux relabelling of mounts",
            );
        }
    }
    errors
}

/// The namespaces and kernel settings Swarm's service spec has no field for (in the Docker API
/// orun speaks); its resolver settings and memory reservation it has.
fn kernel_errors(file: &str, container: &ContainerFields, because: &str) -> Vec<ManifestError> {
    let set = [
        ("privileged", container.privileged),
        ("pid", container.pid.is_some()),
        ("ipc", container.ipc.is_some()),
        ("usernsMode", container.userns_mode.is_some()),
        ("domainname", container.domainname.is_some()),
        (
            "deviceCgroupRules",
            !container.device_cgroup_rules.is_empty(),
        ),
        ("cpuShares", container.cpu_shares.is_some()),
        ("cpuset", container.cpuset.is_some()),
        ("oomScoreAdj", container.oom_score_adj.is_some()),
        ("oomKillDisable", container.oom_kill_disable),
        ("storageOpt", !container.storage_opt.is_empty()),
    ];
    set.into_iter()
        .filter(|(_, written)| *written)
        .map(|(field, _)| {
            ManifestError::new(
                file,
                Some(&format!("spec.{field}")),
                format!("Swarm services have no {field} setting ({because})"),
            )
        })
        .collect()
}

/// What a swarm node does differently from what a deployment says, worth a warning: an `http`
/// or `tcp` readiness probe is not run, because Swarm's health checks run inside the container
/// and orun does not assume the image has a client for them.
pub fn findings(manifests: &Manifests) -> Vec<Finding> {
    if manifests.swarm_node().is_none() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    for deployment in manifests.deployments.values() {
        let Some(readiness) = &deployment.spec.health.readiness else {
            continue;
        };
        let kind = match readiness.target {
            ProbeTarget::Exec(_) => continue,
            ProbeTarget::Http(_) => "an http",
            ProbeTarget::Tcp(_) => "a tcp",
        };
        findings.push(Finding {
            level: Level::Warning,
            file: deployment.file.clone(),
            field: "spec.health.readiness".to_string(),
            message: format!(
                "{kind} probe is not run on swarm nodes: a task counts as ready once it runs; \
                 use an exec probe to gate rollouts on a swarm"
            ),
        });
    }
    findings
}

/// The placement constraints of a service: `node.hostname==<name>` for a host named in
/// `placement.nodes` (validation allows one), `node.labels.<key>==<value>` for each label.
pub fn constraints(placement: &Placement) -> Vec<String> {
    let hosts = placement
        .nodes
        .iter()
        .map(|host| format!("node.hostname=={}", host.as_str()));
    let labels = placement
        .labels
        .0
        .iter()
        .map(|(key, value)| format!("node.labels.{key}=={value}"));
    hosts.chain(labels).collect()
}

/// A service's health check: the readiness probe's command when it is an `exec` probe, run by
/// Docker inside each task. Failures during the readiness deadline do not count (the start
/// period); after it, [`HEALTH_RETRIES`] failures in a row make Swarm replace the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

pub fn health_check(health: &HealthSpec) -> Option<HealthCheck> {
    let readiness = health.readiness.as_ref()?;
    let ProbeTarget::Exec(command) = &readiness.target else {
        return None;
    };
    Some(HealthCheck {
        command: command.words().to_vec(),
        interval: readiness.interval,
        timeout: readiness.timeout,
        start_period: readiness.deadline,
        retries: HEALTH_RETRIES,
    })
}

/// How Swarm replaces a service's tasks on an update: in the deployment's rollout order, one
/// task at a time, rolled back on the first failure, each new task watched for the readiness
/// deadline (Swarm's default without a probe).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdatePolicy {
    pub order: Rollout,
    pub monitor: Duration,
}

pub fn update_policy(deployment: &DesiredDeployment) -> UpdatePolicy {
    let monitor = deployment
        .health
        .readiness
        .as_ref()
        .map_or(DEFAULT_MONITOR, |readiness| readiness.deadline);
    UpdatePolicy {
        order: deployment.rollout,
        monitor,
    }
}

/// How long the executor waits for a created, updated or scaled service to settle before it
/// calls the change failed: for each task, its image pull and start, its readiness deadline and
/// health retries, the monitor, and the old task's stop timeout. An update replaces one task at
/// a time (`rolling`); a create or a scale starts every task at once.
pub fn settle_limit(deployment: &DesiredDeployment, rolling: bool) -> Duration {
    const PULL_AND_START: u64 = 60;
    let readiness = deployment.health.readiness.as_ref();
    let deadline = readiness.map_or(0, |readiness| readiness.deadline.as_std().as_secs());
    let retries = readiness.map_or(0, |readiness| {
        readiness.interval.as_std().as_secs() * u64::from(HEALTH_RETRIES)
    });
    let monitor = update_policy(deployment).monitor.as_std().as_secs();
    let stop = deployment.spec.stop_timeout.as_std().as_secs();
    let per_task = PULL_AND_START + deadline + retries + monitor + stop;
    let tasks = if rolling {
        deployment.replicas.len() as u64
    } else {
        1
    };
    Duration::from_secs(per_task * tasks.max(1))
}

/// How a port is published on a swarm: through the routing mesh unless it says `mode: host`.
pub fn publish_mode(port: &CanonicalPort) -> PortMode {
    match port.mode.as_deref() {
        Some(mode) if mode == PortMode::Host.as_str() => PortMode::Host,
        _ => PortMode::Ingress,
    }
}

/// A swarm node's part in its swarm: only the leader of the managers acts, so that orun can run
/// on every manager and another takes over when the leader goes (docs/swarm.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The Raft leader: it reconciles.
    Leader,
    /// Another manager: it plans and reports, and takes no action.
    Standby,
    /// Not a manager of a swarm: it cannot serve a swarm node.
    NotManager,
}

impl Role {
    /// Whether this manager carries plans out: only the leader does.
    pub fn acts(self) -> bool {
        self == Role::Leader
    }

    /// The word `/status` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Standby => "standby",
            Role::NotManager => "not_manager",
        }
    }
}
