//! Rules that span fields or files (docs/manifests.md): image xor build, host port clashes
//! between deployments that may share a node, a start-first rollout with published ports, ports
//! and Services of a deployment without its own network, replicas that would bind one host port
//! twice, the reserved `ORUN_REPLICA`, mount points used twice, the `networks` joined, `dependsOn` names and cycles,
//! `placement.nodes` naming Nodes (`placement::check`), what a swarm cannot run
//! (`swarm::check`), the rules of Jobs (`jobs::check`), dangling service references, domain
//! clashes, positive intervals, Node values safe to hand to ssh, a shell and systemd,
//! notification entries. Rules about a single value's syntax live in `manifest::fields`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::backoff::MIN_POLL_INTERVAL;
use crate::depends::DependencyGraph;
use crate::error::{ManifestError, Unloaded};
use crate::jobs;
use crate::manifest::{
    image_updates, DeploymentSpec, Manifest, Manifests, NetworkMode, Protocol, Rollout,
};
use crate::placement;
use crate::spec::REPLICA_ENV;
use crate::swarm;

pub fn validate(manifests: &Manifests, unloaded: &Unloaded) -> Vec<ManifestError> {
    let mut errors = Vec::new();
    check_nodes(manifests, &mut errors);
    check_node_values(manifests, &mut errors);
    check_deployments(manifests, &mut errors);
    check_replicas(manifests, &mut errors);
    check_networks(manifests, &mut errors);
    check_mount_points(manifests, &mut errors);
    check_memory_reservations(manifests, &mut errors);
    check_host_ports(manifests, &mut errors);
    check_dependencies(manifests, unloaded, &mut errors);
    errors.extend(placement::check(manifests, unloaded));
    errors.extend(swarm::check(manifests));
    errors.extend(jobs::check(manifests, unloaded));
    check_services(manifests, unloaded, &mut errors);
    errors
}

fn check_nodes(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for node in manifests.nodes.values() {
        if node.spec.poll_interval.as_std() < MIN_POLL_INTERVAL {
            errors.push(ManifestError::new(
                &node.file,
                Some("spec.pollInterval"),
                "must be at least 1s",
            ));
        }
        errors.extend(crate::notify::check(&node.file, &node.spec.notifications));
    }
}

/// The Node fields `orun bootstrap` passes to `ssh`, to commands on the node and into the
/// systemd unit, and the node passes to Git. Quoting keeps them one word each, but a control
/// character would still end a unit line or a log line early, and a word starting with `-` is
/// read as an option by the program receiving it.
fn check_node_values(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for node in manifests.nodes.values() {
        let spec = &node.spec;
        let fields = [
            ("host", Some(spec.host.as_str())),
            ("user", Some(spec.user.as_str())),
            ("sshKeyPath", Some(spec.ssh_key_path.as_str())),
            ("gitRepo", Some(spec.git_repo.as_str())),
            ("gitBranch", Some(spec.git_branch.as_str())),
            ("dataDir", Some(spec.data_dir.as_str())),
            ("codeDir", spec.code_dir.as_deref()),
            ("deployKeyPath", spec.deploy_key_path.as_deref()),
            ("knownHostsPath", spec.known_hosts_path.as_deref()),
            (
                "dockerConfig",
                spec.docker_config.as_ref().map(|path| path.as_str()),
            ),
            ("webhookSecretFile", spec.webhook_secret_file.as_deref()),
            (
                "secretFilesDir",
                spec.secret_files_dir_setting
                    .as_ref()
                    .map(|path| path.as_str()),
            ),
        ];
        for (field, value) in fields {
            if let Some(problem) = value.and_then(command_word_problem) {
                errors.push(ManifestError::new(
                    &node.file,
                    Some(&format!("spec.{field}")),
                    problem,
                ));
            }
        }
    }
}

/// Why `value` cannot be handed to another program as one word, if it cannot.
fn command_word_problem(value: &str) -> Option<String> {
    if let Some(control) = value.chars().find(|c| c.is_control()) {
        return Some(format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(control)
        ));
    }
    value.starts_with('-').then(|| {
        format!("{value:?} must not start with '-': the program receiving it would read it as an option")
    })
}

/// `imageUpdates` follows a tag: not a digest, which never moves, nor a build, which is made on
/// the node; and it asks the registry at most once a minute.
fn image_updates_problems(file: &str, spec: &DeploymentSpec) -> Vec<ManifestError> {
    let Some(updates) = &spec.image_updates else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    if spec.container.build.is_some() {
        errors.push(ManifestError::new(
            file,
            Some("spec.imageUpdates"),
            "a build deployment's image is made on the node, not pulled: use imageUpdates with an image",
        ));
    }
    if let Some(image) = spec
        .container
        .image
        .as_ref()
        .filter(|image| image.as_str().contains('@'))
    {
        errors.push(ManifestError::new(
            file,
            Some("spec.imageUpdates"),
            format!(
                "the image {image} is pinned by digest and never changes: name a tag to follow"
            ),
        ));
    }
    if updates.interval < image_updates::MIN_INTERVAL {
        errors.push(ManifestError::new(
            file,
            Some("spec.imageUpdates.interval"),
            format!("{} is too short: at least 1m", updates.interval),
        ));
    }
    errors
}

fn check_deployments(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for deployment in manifests.deployments.values() {
        let spec = &deployment.spec;
        let file = deployment.file.as_str();
        match (&spec.container.image, &spec.container.build) {
            (Some(_), Some(_)) => errors.push(ManifestError::new(
                file,
                Some("spec"),
                "image and build are mutually exclusive: set exactly one",
            )),
            (None, None) => errors.push(ManifestError::new(
                file,
                Some("spec"),
                "one of image or build is required",
            )),
            _ => {}
        }
        errors.extend(image_updates_problems(file, spec));
        if spec.container.command.as_ref().is_some_and(Vec::is_empty) {
            errors.push(ManifestError::new(
                file,
                Some("spec.command"),
                "must not be empty: leave it out to use the image's default",
            ));
        }
        let published = spec
            .container
            .ports
            .iter()
            .find_map(|port| port.port.map(|host_port| (host_port, port.protocol)));
        if let (Some(Rollout::StartFirst), Some((host_port, protocol))) = (spec.rollout, published)
        {
            errors.push(ManifestError::new(
                file,
                Some("spec.rollout"),
                format!(
                    "startFirst cannot be used with a published host port: the new container could not bind \
                     port {}/{} while the old one holds it; use stopFirst, or leave out spec.ports[].port and reach the \
                     deployment through a Service",
                    host_port,
                    protocol.as_str()
                ),
            ));
        }
        if let Some(readiness) = &spec.health.readiness {
            for (field, value) in [
                ("interval", readiness.interval),
                ("timeout", readiness.timeout),
                ("deadline", readiness.deadline),
            ] {
                if value.is_zero() {
                    errors.push(ManifestError::new(
                        file,
                        Some(&format!("spec.health.readiness.{field}")),
                        "must be longer than 0s",
                    ));
                }
            }
        }
        if let Some(liveness) = &spec.health.liveness {
            for (field, value) in [
                ("interval", liveness.interval),
                ("timeout", liveness.timeout),
            ] {
                if value.is_zero() {
                    errors.push(ManifestError::new(
                        file,
                        Some(&format!("spec.health.liveness.{field}")),
                        "must be longer than 0s",
                    ));
                }
            }
            if liveness.failure_threshold == 0 {
                errors.push(ManifestError::new(
                    file,
                    Some("spec.health.liveness.failureThreshold"),
                    "must be at least 1",
                ));
            }
        }
    }
}

/// Every replica is a container of its own, so two of them cannot bind one host port: neither a
/// published one nor, on the host's network, one the program opens. `ORUN_REPLICA` is orun's to
/// set on replicas, so a deployment cannot set it itself, whatever its `replicas`.
fn check_replicas(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for deployment in manifests.deployments.values() {
        let spec = &deployment.spec;
        let file = deployment.file.as_str();
        if spec.container.env.0.contains_key(REPLICA_ENV) {
            errors.push(ManifestError::new(
                file,
                Some(&format!("spec.env.{REPLICA_ENV}")),
                "is reserved for orun, which sets it to the replica's number on replicas 2 and up",
            ));
        }
        let replicas = spec.replicas.get();
        // A swarm spreads replicas over its hosts or publishes through its routing mesh.
        if replicas == 1 || manifests.swarm_node().is_some() {
            continue;
        }
        for (index, port) in spec.container.ports.iter().enumerate() {
            let Some(host_port) = port.port else {
                continue;
            };
            errors.push(ManifestError::new(
                file,
                Some(&format!("spec.ports[{index}].port")),
                format!(
                    "host port {host_port}/{} cannot be published by {replicas} replicas: each would bind it; \
                     leave out spec.ports[].port and reach the deployment through a Service, or run one replica",
                    port.protocol.as_str()
                ),
            ));
        }
        if spec.container.network == NetworkMode::Host {
            errors.push(ManifestError::new(
                file,
                Some("spec.network"),
                format!(
                    "network: host cannot run {replicas} replicas: they would share the host's ports, so two \
                     of them would bind the same ones; use network: environment, or run one replica"
                ),
            ));
        }
    }
}

/// `network: host` shares the host's ports, so there is nothing to publish; `network: none` has
/// no network at all, so nothing to publish and nothing a Service could route to.
fn check_networks(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for deployment in manifests.deployments.values() {
        let network = deployment.spec.container.network;
        if network != NetworkMode::Environment && !deployment.spec.container.ports.is_empty() {
            let why = match network {
                NetworkMode::Host => "the container uses the host's ports directly",
                _ => "the container has no network to publish from",
            };
            errors.push(ManifestError::new(
                &deployment.file,
                Some("spec.ports"),
                format!("must be empty with network: {}: {why}", network.as_str()),
            ));
        }
    }
    for deployment in manifests.deployments.values() {
        check_joined_networks(deployment, errors);
    }
    for service in manifests.services.values() {
        let Some(deployment) = manifests.deployments.get(service.spec.deployment.as_str()) else {
            continue;
        };
        if deployment.spec.container.network == NetworkMode::None {
            errors.push(ManifestError::new(
                &service.file,
                Some("spec.deployment"),
                format!(
                    "deployment {:?} ({}) has network: none, so no Service can reach it",
                    deployment.name, deployment.file
                ),
            ));
        }
    }
}

/// `networks` lists environment networks, each once, and only for a container on the
/// environment's networks.
fn check_joined_networks(deployment: &Manifest<DeploymentSpec>, errors: &mut Vec<ManifestError>) {
    let container = &deployment.spec.container;
    let Some(networks) = &container.networks else {
        return;
    };
    if container.network != NetworkMode::Environment {
        errors.push(ManifestError::new(
            &deployment.file,
            Some("spec.networks"),
            format!(
                "must be left out with network: {}: the container joins no environment network",
                container.network.as_str()
            ),
        ));
        return;
    }
    if networks.is_empty() {
        errors.push(ManifestError::new(
            &deployment.file,
            Some("spec.networks"),
            "must list at least one network: leave it out to join the environment network alone, or use network: none",
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, join) in networks.iter().enumerate() {
        if let Some(earlier) = seen.insert(join.name.as_str(), index) {
            errors.push(ManifestError::new(
                &deployment.file,
                Some(&format!("spec.networks[{index}]")),
                format!(
                    "network {} is already listed at spec.networks[{earlier}]",
                    join.name
                ),
            ));
        }
    }
}

/// A `memoryReservation` above `resources.memory`, which Docker refuses when it creates the
/// container.
fn check_memory_reservations(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for (_, file, container) in manifests.containers() {
        let (Some(reservation), Some(limit)) =
            (&container.memory_reservation, &container.resources.memory)
        else {
            continue;
        };
        if reservation.0.bytes() > limit.0.bytes() {
            errors.push(ManifestError::new(
                file,
                Some("spec.memoryReservation"),
                format!(
                    "{} is above resources.memory ({}): a reservation must fit within the limit",
                    reservation.0, limit.0
                ),
            ));
        }
    }
}

/// Every `volumes[].containerPath`, `tmpfs`, `files` and `secretFiles` entry of a deployment
/// mounts something at a different place: Docker refuses a container with two mounts on one
/// path.
fn check_mount_points(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    for deployment in manifests.deployments.values() {
        let spec = &deployment.spec;
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        let volumes = spec
            .container
            .volumes
            .iter()
            .enumerate()
            .map(|(index, volume)| {
                (
                    volume.container_path.as_str(),
                    format!("spec.volumes[{index}].containerPath"),
                )
            });
        let tmpfs = spec
            .container
            .tmpfs
            .iter()
            .enumerate()
            .map(|(index, tmpfs)| (tmpfs.path.as_str(), format!("spec.tmpfs[{index}]")));
        let files = spec
            .container
            .files
            .iter()
            .enumerate()
            .map(|(index, file)| {
                (
                    file.target.to_string(),
                    format!("spec.files[{index}].target"),
                )
            });
        let secret_files = spec
            .container
            .secret_files
            .iter()
            .enumerate()
            .map(|(index, file)| {
                let field = match file.target {
                    Some(_) => format!("spec.secretFiles[{index}].target"),
                    None => format!("spec.secretFiles[{index}].key"),
                };
                (file.target(), field)
            });
        let owned: Vec<(String, String)> = files.chain(secret_files).collect();
        let owned = owned
            .iter()
            .map(|(path, field)| (path.as_str(), field.clone()));
        for (path, field) in volumes.chain(tmpfs).chain(owned) {
            if let Some(earlier) = seen.get(path) {
                errors.push(ManifestError::new(
                    &deployment.file,
                    Some(&field),
                    format!("{path} is already mounted by {earlier}"),
                ));
            } else {
                seen.insert(path, field);
            }
        }
    }
}

/// Two bindings clash on the same port and protocol when their addresses are equal or either is a
/// wildcard of the same family (`0.0.0.0` takes the port on every IPv4 address).
fn addresses_clash(a: IpAddr, b: IpAddr) -> bool {
    a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
}

fn check_host_ports(manifests: &Manifests, errors: &mut Vec<ManifestError>) {
    struct Binding<'a> {
        deployment: &'a str,
        spec: &'a DeploymentSpec,
        file: &'a str,
        index: usize,
        host_ip: IpAddr,
    }
    let mut by_port: BTreeMap<(u16, Protocol), Vec<Binding>> = BTreeMap::new();
    for deployment in manifests.deployments.values() {
        for (index, port) in deployment.spec.container.ports.iter().enumerate() {
            let Some(host_port) = port.port else {
                continue;
            };
            let key = (host_port.0, port.protocol);
            let bindings = by_port.entry(key).or_default();
            // Deployments that never run on one node do not compete for its ports.
            let clashes = |earlier: &&Binding| {
                addresses_clash(earlier.host_ip, port.host_address())
                    && (earlier.deployment == deployment.name
                        || placement::may_meet(manifests, earlier.spec, &deployment.spec))
            };
            if let Some(earlier) = bindings.iter().find(clashes) {
                let holder = if earlier.deployment == deployment.name {
                    format!("spec.ports[{}] of the same deployment", earlier.index)
                } else {
                    format!(
                        "deployment {:?} ({}, spec.ports[{}])",
                        earlier.deployment, earlier.file, earlier.index
                    )
                };
                errors.push(ManifestError::new(
                    &deployment.file,
                    Some(&format!("spec.ports[{index}].port")),
                    format!(
                        "host port {}/{} on {} is already bound by {holder}",
                        host_port,
                        port.protocol.as_str(),
                        port.host_address()
                    ),
                ));
            }
            bindings.push(Binding {
                deployment: &deployment.name,
                spec: &deployment.spec,
                file: &deployment.file,
                index,
                host_ip: port.host_address(),
            });
        }
    }
}

/// Every `dependsOn` entry names another deployment of the revision, once, and no chain of them
/// comes back to where it started.
fn check_dependencies(manifests: &Manifests, unloaded: &Unloaded, errors: &mut Vec<ManifestError>) {
    for deployment in manifests.deployments.values() {
        let mut seen = Vec::new();
        for (index, dependency) in deployment.spec.depends_on.iter().enumerate() {
            let dependency = dependency.as_str();
            let problem = if dependency == deployment.name {
                Some(format!(
                    "deployment {dependency:?} cannot depend on itself (dependsOn cycle: {dependency} -> {dependency})"
                ))
            } else if !manifests.deployments.contains_key(dependency) {
                Some(unloaded.deployment(dependency).unwrap_or_else(|| {
                    format!("deployment {dependency:?} does not exist in this revision")
                }))
            } else if seen.contains(&dependency) {
                Some(format!("deployment {dependency:?} is listed twice"))
            } else {
                None
            };
            if let Some(problem) = problem {
                errors.push(ManifestError::new(
                    &deployment.file,
                    Some(&format!("spec.dependsOn[{index}]")),
                    problem,
                ));
            }
            seen.push(dependency);
        }
    }
    let graph = DependencyGraph::new(manifests.deployments.values().map(|deployment| {
        let name = deployment.name.as_str();
        let others = deployment
            .spec
            .depends_on
            .iter()
            .map(|dependency| dependency.as_str())
            .filter(move |dependency| *dependency != name);
        (name, others)
    }));
    for cycle in graph.cycles() {
        let first = &manifests.deployments[cycle[0].as_str()];
        errors.push(ManifestError::new(
            &first.file,
            Some("spec.dependsOn"),
            format!("dependsOn cycle: {}", cycle.join(" -> ")),
        ));
    }
}

fn check_services(manifests: &Manifests, unloaded: &Unloaded, errors: &mut Vec<ManifestError>) {
    let mut default_domains: BTreeMap<&str, &str> = BTreeMap::new();
    let mut templates: BTreeMap<&str, &str> = BTreeMap::new();
    for service in manifests.services.values() {
        let spec = &service.spec;
        let file = service.file.as_str();
        match manifests.deployments.get(spec.deployment.as_str()) {
            None => errors.push(ManifestError::new(
                file,
                Some("spec.deployment"),
                unloaded
                    .deployment(spec.deployment.as_str())
                    .unwrap_or_else(|| {
                        format!(
                            "deployment {:?} does not exist in this revision",
                            spec.deployment.as_str()
                        )
                    }),
            )),
            Some(deployment) if spec.port.is_none() && deployment.spec.container.ports.is_empty() => {
                errors.push(ManifestError::new(
                    file,
                    Some("spec.port"),
                    format!(
                        "required because deployment {:?} has no ports to take the first containerPort from",
                        deployment.name
                    ),
                ))
            }
            Some(_) => {}
        }
        let domain = spec.ingress.domain.default.as_str();
        if let Some(other) = default_domains.insert(domain, &service.name) {
            errors.push(ManifestError::new(
                file,
                Some("spec.ingress.domain.default"),
                format!("domain {domain:?} is already used by service {other:?}"),
            ));
        }
        if let Some(template) = &spec.ingress.domain.environment {
            let template = template.as_str();
            if let Some(other) = templates.insert(template, &service.name) {
                errors.push(ManifestError::new(
                    file,
                    Some("spec.ingress.domain.environment"),
                    format!("domain template {template:?} is already used by service {other:?}"),
                ));
            }
        }
    }
}
