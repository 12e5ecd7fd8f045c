//! The Docker requests that make and update a container from its canonical spec: the create
//! body (ports, mounts, networks, resources, kernel and host-access settings, labels) and the
//! update body of its limits. Pure translation: no call to Docker, no sequencing.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, DeviceMapping, DeviceRequest, EndpointSettings,
    HostConfig, HostConfigLogConfig, NetworkingConfig, PortBinding, ResourcesUlimits,
};
use engine::desired::{DesiredDeployment, DesiredReplica};
use engine::manifest::{Gpus, NetworkMode, Propagation, Selinux};
use engine::resources::Limits;
use engine::spec::{
    CanonicalPort, CanonicalSpec, CanonicalTmpfs, CanonicalUlimit, CanonicalVolume, KernelSettings,
    LogRotation,
};
use engine::Environment;

use super::stop_seconds;
use crate::mount_files::FileDirs;

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

pub(in crate::docker) fn ulimits(
    ulimits: &BTreeMap<String, CanonicalUlimit>,
) -> Vec<ResourcesUlimits> {
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
pub(super) fn endpoint(name: &str, aliases: &[String]) -> EndpointSettings {
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
pub(in crate::docker) fn log_options(logging: &LogRotation) -> HashMap<String, String> {
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
pub(in crate::docker) fn docker_int(value: u64) -> i64 {
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
pub(in crate::docker) fn reported_limits(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
