//! Swarm services (docs/swarm.md): the service spec a desired deployment becomes, orun's services
//! as the snapshot lists them, create, update, scale and remove, waiting until Swarm has carried
//! a change out (or rolled it back), and whether this host is the swarm's leader. Every call is
//! bounded by a timeout and named in its [`DockerError`]. Which values a service gets is
//! `engine::swarm`'s, and whether it must change is the planner's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, HealthConfig, Limit, Mount, MountBindOptions, MountBindOptionsPropagationEnum,
    MountTmpfsOptions, MountType, NetworkAttachmentConfig, ResourceObject, Service, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatusStateEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecDnsConfig, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecResources, TaskState,
};
use bollard::query_parameters::{
    ListServicesOptionsBuilder, ListTasksOptionsBuilder, UpdateServiceOptionsBuilder,
};
use bollard::Docker;
use engine::desired::DesiredDeployment;
use engine::manifest::{PortMode, Propagation, Rollout};
use engine::observed::ObservedService;
use engine::resources::Limits;
use engine::spec::{CanonicalSpec, KernelSettings, REPLICA_ENV};
use engine::swarm::{self, Role};
use engine::Environment;

use super::container::{docker_int, log_options, reported_limits, ulimits, update_body};
use super::{timed, Call, DockerError, Failure, CALL_TIMEOUT};

/// How often a change is looked at while it settles.
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// The service spec of `desired` in `environment` (docs/swarm.md): its container spec with the
/// deployment's labels on the service, the environment's overlay network with the deployment's
/// name as alias, ports, mounts, limits, placement constraints, the readiness probe as health
/// check and the update policy with rollback on failure.
pub fn service_spec(desired: &DesiredDeployment, environment: &Environment) -> ServiceSpec {
    let spec = &desired.spec;
    let policy = swarm::update_policy(desired);
    let order = match policy.order {
        Rollout::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
        Rollout::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
    };
    let rollback_order = match policy.order {
        Rollout::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        Rollout::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
    };
    let monitor = nanos(policy.monitor.as_std());
    let constraints = swarm::constraints(&desired.placement);
    let limits = update_body(&desired.resources);
    ServiceSpec {
        name: Some(desired.service.clone()),
        labels: Some(hash_map(&desired.labels)),
        task_template: Some(TaskSpec {
            container_spec: Some(container_spec(desired, environment)),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus: limits.nano_cpus,
                    memory_bytes: limits.memory,
                    pids: limits.pids_limit,
                }),
                reservations: spec
                    .settings
                    .kernel
                    .memory_reservation
                    .map(|bytes| ResourceObject {
                        memory_bytes: Some(docker_int(bytes)),
                        ..Default::default()
                    }),
                ..Default::default()
            }),
            placement: (!constraints.is_empty()).then(|| TaskSpecPlacement {
                constraints: Some(constraints),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(environment.network_name()),
                aliases: Some(vec![desired.name.clone()]),
                ..Default::default()
            }]),
            log_driver: Some(TaskSpecLogDriver {
                name: Some("json-file".to_string()),
                options: Some(log_options(&spec.settings.logging)),
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(desired.replicas.len() as i64),
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(monitor),
            max_failure_ratio: Some(0.0),
            order: Some(order),
            ..Default::default()
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(monitor),
            max_failure_ratio: Some(0.0),
            order: Some(rollback_order),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            ports: Some(ports(spec)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The task's container: image, command, env (with `ORUN_REPLICA` set to each task's slot),
/// mounts, the container settings and the health check.
fn container_spec(desired: &DesiredDeployment, environment: &Environment) -> TaskSpecContainerSpec {
    let spec = &desired.spec;
    let settings = &spec.settings;
    let non_empty = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
    let mut env = spec.env_list();
    let prefix = format!("{REPLICA_ENV}=");
    env.retain(|entry| !entry.starts_with(&prefix));
    env.push(format!("{prefix}{{{{.Task.Slot}}}}"));
    TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        labels: Some(hash_map(&settings.labels)),
        command: settings.entrypoint.clone(),
        args: spec.command.clone(),
        hostname: settings.hostname.clone(),
        env: Some(env),
        dir: settings.working_dir.clone(),
        user: settings.user.clone(),
        read_only: settings.read_only_root_filesystem.then_some(true),
        mounts: Some(mounts(spec, environment)),
        stop_signal: settings.stop_signal.clone(),
        stop_grace_period: Some(nanos(spec.stop_timeout.as_std())),
        health_check: swarm::health_check(&desired.health).map(|check| HealthConfig {
            test: Some(
                std::iter::once("CMD".to_string())
                    .chain(check.command)
                    .collect(),
            ),
            interval: Some(nanos(check.interval.as_std())),
            timeout: Some(nanos(check.timeout.as_std())),
            start_period: Some(nanos(check.start_period.as_std())),
            retries: Some(i64::from(check.retries)),
            ..Default::default()
        }),
        // Docker's `host:ip` becomes Swarm's `ip host`.
        hosts: non_empty(
            &settings
                .extra_hosts
                .iter()
                .filter_map(|entry| entry.split_once(':'))
                .map(|(host, ip)| format!("{ip} {host}"))
                .collect(),
        ),
        init: settings.init.then_some(true),
        sysctls: (!settings.sysctls.is_empty()).then(|| hash_map(&settings.sysctls)),
        capability_add: non_empty(&settings.cap_add),
        capability_drop: non_empty(&settings.cap_drop),
        open_stdin: settings.interactive.then_some(true),
        tty: settings.tty.then_some(true),
        groups: non_empty(&settings.group_add),
        ulimits: (!settings.ulimits.is_empty()).then(|| ulimits(&settings.ulimits)),
        dns_config: dns_config(&settings.kernel),
        ..Default::default()
    }
}

/// The resolver settings; `None` leaves Swarm's own.
fn dns_config(kernel: &KernelSettings) -> Option<TaskSpecContainerSpecDnsConfig> {
    let non_empty = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
    let written =
        !kernel.dns.is_empty() || !kernel.dns_search.is_empty() || !kernel.dns_options.is_empty();
    written.then(|| TaskSpecContainerSpecDnsConfig {
        nameservers: non_empty(&kernel.dns),
        search: non_empty(&kernel.dns_search),
        options: non_empty(&kernel.dns_options),
    })
}

/// Bind mounts, the environment's named volumes (created by the volume driver on whichever node
/// runs the task) and tmpfs mounts.
fn mounts(spec: &CanonicalSpec, environment: &Environment) -> Vec<Mount> {
    let volumes = spec.volumes.iter().map(|volume| {
        let (typ, source) = match (&volume.host_path, &volume.name) {
            (Some(host_path), _) => (MountType::BIND, host_path.clone()),
            (None, name) => (
                MountType::VOLUME,
                environment.volume_name(name.as_deref().unwrap_or_default()),
            ),
        };
        Mount {
            target: Some(volume.container_path.clone()),
            source: Some(source),
            typ: Some(typ),
            read_only: Some(volume.read_only),
            bind_options: volume.propagation.map(|propagation| MountBindOptions {
                propagation: Some(bind_propagation(propagation)),
                ..Default::default()
            }),
            ..Default::default()
        }
    });
    let tmpfs = spec.tmpfs.iter().map(|tmpfs| Mount {
        target: Some(tmpfs.path.clone()),
        typ: Some(MountType::TMPFS),
        tmpfs_options: (tmpfs.size.is_some() || tmpfs.mode.is_some()).then(|| MountTmpfsOptions {
            size_bytes: tmpfs.size.as_ref().map(|size| docker_int(size.bytes())),
            mode: tmpfs.mode.as_ref().map(|mode| i64::from(mode.bits())),
            ..Default::default()
        }),
        ..Default::default()
    });
    volumes.chain(tmpfs).collect()
}

/// Published ports through the routing mesh or on the task's host (`mode`); a port without a
/// host port is reachable on the overlay network only and needs no entry.
fn ports(spec: &CanonicalSpec) -> Vec<EndpointPortConfig> {
    spec.ports
        .iter()
        .filter_map(|port| {
            let published = port.port?;
            let protocol = match port.protocol.as_str() {
                "udp" => EndpointPortConfigProtocolEnum::UDP,
                _ => EndpointPortConfigProtocolEnum::TCP,
            };
            let publish_mode = match swarm::publish_mode(port) {
                PortMode::Host => EndpointPortConfigPublishModeEnum::HOST,
                PortMode::Ingress => EndpointPortConfigPublishModeEnum::INGRESS,
            };
            Some(EndpointPortConfig {
                protocol: Some(protocol),
                target_port: Some(i64::from(port.container_port)),
                published_port: Some(i64::from(published)),
                publish_mode: Some(publish_mode),
                ..Default::default()
            })
        })
        .collect()
}

fn bind_propagation(propagation: Propagation) -> MountBindOptionsPropagationEnum {
    match propagation {
        Propagation::Rprivate => MountBindOptionsPropagationEnum::RPRIVATE,
        Propagation::Private => MountBindOptionsPropagationEnum::PRIVATE,
        Propagation::Rshared => MountBindOptionsPropagationEnum::RSHARED,
        Propagation::Shared => MountBindOptionsPropagationEnum::SHARED,
        Propagation::Rslave => MountBindOptionsPropagationEnum::RSLAVE,
        Propagation::Slave => MountBindOptionsPropagationEnum::SLAVE,
    }
}

fn hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// orun's services of `environment` and the services holding a `wanted` name, with their
/// replicas, running tasks and limits.
pub async fn list(
    docker: &Docker,
    environment: &str,
    wanted: &BTreeSet<String>,
) -> Result<Vec<ObservedService>, DockerError> {
    let options = ListServicesOptionsBuilder::default().status(true).build();
    let services = timed(
        CALL_TIMEOUT,
        Call::ListServices,
        docker.list_services(Some(options)),
    )
    .await?;
    let mut observed: Vec<ObservedService> = services
        .into_iter()
        .filter_map(|service| {
            let spec = service.spec.as_ref()?;
            let name = spec.name.clone().unwrap_or_default();
            let labels: BTreeMap<String, String> = spec
                .labels
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            let ours = engine::spec::owned_by(&labels, environment);
            (ours || wanted.contains(&name)).then(|| ObservedService {
                replicas: replicas_of(spec),
                running_tasks: service
                    .service_status
                    .as_ref()
                    .and_then(|status| status.running_tasks)
                    .unwrap_or_default(),
                resources: limits_of(spec),
                name,
                labels,
            })
        })
        .collect();
    observed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(observed)
}

fn replicas_of(spec: &ServiceSpec) -> Option<u64> {
    let replicas = spec.mode.as_ref()?.replicated.as_ref()?.replicas?;
    u64::try_from(replicas).ok()
}

fn limits_of(spec: &ServiceSpec) -> Limits {
    let limits = spec
        .task_template
        .as_ref()
        .and_then(|task| task.resources.as_ref())
        .and_then(|resources| resources.limits.as_ref());
    reported_limits(
        limits.and_then(|limits| limits.memory_bytes),
        limits.and_then(|limits| limits.nano_cpus),
        limits.and_then(|limits| limits.pids),
    )
}

/// What became of a change once Swarm was done with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Every task of the new spec runs (and is healthy, with a health check).
    Converged,
    /// A new task failed and Swarm rolled the service back to its previous spec; Swarm's message.
    RolledBack(String),
    /// Neither within the time allowed, or Swarm paused the update; why.
    Failed(String),
}

/// Creates the service of `desired` and waits until its tasks run.
pub async fn create(
    docker: &Docker,
    desired: &DesiredDeployment,
    environment: &Environment,
    credentials: Option<DockerCredentials>,
) -> Result<Settled, DockerError> {
    let name = desired.service.as_str();
    timed(
        CALL_TIMEOUT,
        Call::CreateService(name.to_string()),
        docker.create_service(service_spec(desired, environment), credentials),
    )
    .await?;
    let limit = swarm::settle_limit(desired, false).as_std();
    settle(docker, name, None, limit).await
}

/// Replaces the service's spec with that of `desired` and waits until Swarm has updated every
/// task or rolled the service back.
pub async fn update(
    docker: &Docker,
    desired: &DesiredDeployment,
    environment: &Environment,
    credentials: Option<DockerCredentials>,
) -> Result<Settled, DockerError> {
    let name = desired.service.as_str();
    let current = inspect(docker, name).await?;
    owned(
        &current,
        environment.as_str(),
        Call::UpdateService(name.to_string()),
    )?;
    let before = update_started(&current);
    let options = UpdateServiceOptionsBuilder::default()
        .version(version_of(&current))
        .build();
    timed(
        CALL_TIMEOUT,
        Call::UpdateService(name.to_string()),
        docker.update_service(
            name,
            service_spec(desired, environment),
            options,
            credentials,
        ),
    )
    .await?;
    let limit = swarm::settle_limit(desired, true).as_std();
    settle(docker, name, Some(before), limit).await
}

/// Sets the service's replica count, leaving the rest of its spec as it is, and waits until that
/// many tasks run.
pub async fn scale(docker: &Docker, desired: &DesiredDeployment) -> Result<Settled, DockerError> {
    let name = desired.service.as_str();
    let current = inspect(docker, name).await?;
    let environment = desired.labels[engine::spec::LABEL_ENVIRONMENT].as_str();
    owned(&current, environment, Call::UpdateService(name.to_string()))?;
    let mut spec = current.spec.clone().unwrap_or_default();
    spec.mode = Some(ServiceSpecMode {
        replicated: Some(ServiceSpecModeReplicated {
            replicas: Some(desired.replicas.len() as i64),
        }),
        ..Default::default()
    });
    let options = UpdateServiceOptionsBuilder::default()
        .version(version_of(&current))
        .build();
    timed(
        CALL_TIMEOUT,
        Call::UpdateService(name.to_string()),
        docker.update_service(name, spec, options, None),
    )
    .await?;
    let limit = swarm::settle_limit(desired, false).as_std();
    settle(docker, name, None, limit).await
}

/// Removes the service, which must be orun's in `environment`; one that is already gone is not
/// an error.
pub async fn remove(docker: &Docker, name: &str, environment: &str) -> Result<(), DockerError> {
    let call = Call::RemoveService(name.to_string());
    match inspect(docker, name).await {
        Ok(current) => owned(&current, environment, call)?,
        Err(error) if error.status() == Some(404) => return Ok(()),
        Err(error) => return Err(error),
    }
    match timed(
        CALL_TIMEOUT,
        Call::RemoveService(name.to_string()),
        docker.delete_service(name),
    )
    .await
    {
        Err(DockerError {
            failure: Failure::Answer {
                status: Some(404), ..
            },
            ..
        }) => Ok(()),
        other => other,
    }
}

/// Refuses `call` on a service that is not orun's in `environment`, whatever a plan says.
fn owned(service: &Service, environment: &str, call: Call) -> Result<(), DockerError> {
    let labels: BTreeMap<String, String> = service
        .spec
        .as_ref()
        .and_then(|spec| spec.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    if engine::spec::owned_by(&labels, environment) {
        return Ok(());
    }
    Err(DockerError {
        call,
        failure: Failure::NotOwned {
            environment: environment.to_string(),
        },
    })
}

async fn inspect(docker: &Docker, name: &str) -> Result<Service, DockerError> {
    timed(
        CALL_TIMEOUT,
        Call::InspectService(name.to_string()),
        docker.inspect_service(name, None),
    )
    .await
}

fn version_of(service: &Service) -> i32 {
    let index = service
        .version
        .as_ref()
        .and_then(|version| version.index)
        .unwrap_or_default();
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// When the service's last update started, as Swarm writes it; empty when it was never updated.
fn update_started(service: &Service) -> String {
    service
        .update_status
        .as_ref()
        .and_then(|status| status.started_at.clone())
        .unwrap_or_default()
}

/// Waits for the service to settle: with `update_before` (the start of the update before ours),
/// until Swarm reports our update completed or rolled back; in any case until as many tasks run
/// as the service asks for. Gives up after `limit` with what it saw.
async fn settle(
    docker: &Docker,
    name: &str,
    update_before: Option<String>,
    limit: Duration,
) -> Result<Settled, DockerError> {
    let started = Instant::now();
    loop {
        let service = inspect(docker, name).await?;
        let status = service.update_status.as_ref();
        let ours = update_before
            .as_ref()
            .is_some_and(|before| *before != update_started(&service));
        let message = status
            .and_then(|status| status.message.clone())
            .unwrap_or_default();
        let updated = match (update_before.is_some(), ours, status.and_then(|s| s.state)) {
            (false, _, _) => true,
            (true, false, _) => false,
            (true, true, Some(ServiceUpdateStatusStateEnum::COMPLETED)) => true,
            (true, true, Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED)) => {
                return Ok(Settled::RolledBack(message));
            }
            (
                true,
                true,
                Some(
                    ServiceUpdateStatusStateEnum::PAUSED
                    | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED,
                ),
            ) => {
                return Ok(Settled::Failed(format!(
                    "Swarm paused the update: {message}"
                )))
            }
            (true, true, _) => false,
        };
        let wanted = service
            .spec
            .as_ref()
            .and_then(replicas_of)
            .unwrap_or_default();
        let (running, last_error) = tasks(docker, name).await?;
        if updated && running == wanted {
            return Ok(Settled::Converged);
        }
        // A rollback Swarm started gets as long again to finish: it is the way back.
        let rolling_back = ours
            && status.and_then(|status| status.state)
                == Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED);
        let allowed = if rolling_back { limit * 2 } else { limit };
        if started.elapsed() >= allowed {
            let why =
                last_error.map_or(String::new(), |error| format!("; last task error: {error}"));
            return Ok(Settled::Failed(format!(
                "service {name} did not settle within {}s: {running} of {wanted} tasks running{why}",
                allowed.as_secs()
            )));
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// The service's tasks that Swarm wants running and that run, and the newest error a task
/// reported.
async fn tasks(docker: &Docker, name: &str) -> Result<(u64, Option<String>), DockerError> {
    let filters = HashMap::from([("service", vec![name])]);
    let options = ListTasksOptionsBuilder::default().filters(&filters).build();
    let tasks = timed(
        CALL_TIMEOUT,
        Call::ListTasks(name.to_string()),
        docker.list_tasks(Some(options)),
    )
    .await?;
    let running = tasks
        .iter()
        .filter(|task| task.desired_state == Some(TaskState::RUNNING))
        .filter(|task| task.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
        .count() as u64;
    let last_error = tasks
        .iter()
        .filter_map(|task| {
            let status = task.status.as_ref()?;
            Some((status.timestamp.clone()?, status.err.clone()?))
        })
        .max()
        .map(|(_, error)| error);
    Ok((running, last_error))
}

/// This host's part in the swarm: the leader acts, another manager stands by; a host that is
/// no manager cannot serve a swarm node.
pub async fn role(docker: &Docker) -> Result<Role, DockerError> {
    let info = timed(CALL_TIMEOUT, Call::Info, docker.info()).await?;
    let swarm = info.swarm.unwrap_or_default();
    let node_id = swarm.node_id.unwrap_or_default();
    if !swarm.control_available.unwrap_or(false) || node_id.is_empty() {
        return Ok(Role::NotManager);
    }
    let node = timed(
        CALL_TIMEOUT,
        Call::InspectNode(node_id.clone()),
        docker.inspect_node(&node_id),
    )
    .await?;
    let leader = node
        .manager_status
        .and_then(|status| status.leader)
        .unwrap_or(false);
    Ok(if leader { Role::Leader } else { Role::Standby })
}

#[cfg(test)]
mod tests {
    use engine::testing::{deployment, desired};

    use super::*;

    fn web(spec: &str) -> DesiredDeployment {
        let manager = (
            "nodes/manager.yaml".to_string(),
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: manager\nspec:\n  \
             host: manager.example\n  gitRepo: https://git.example/infra.git\n  engine: swarm\n"
                .to_string(),
        );
        let state = desired("staging", &[manager, deployment("web", spec)]);
        state.deployments["web"].clone()
    }

    #[test]
    fn a_service_spec_carries_the_deployment_as_swarm_runs_it() {
        let deployment = web(
            "  replicas: 3\n  env: {A: b}\n  ports:\n  \
             - {containerPort: 80, port: 8080}\n  - {containerPort: 9000, port: 9000, mode: host}\n  \
             volumes: [{name: data, containerPath: /data}]\n  resources: {memory: 64Mi}\n  \
             placement: {labels: {disk: ssd}}\n  health:\n    readiness:\n      exec: [/bin/ok]\n      \
             deadline: 30s\n",
        );
        let environment = Environment::named("staging").unwrap();
        let spec = service_spec(&deployment, &environment);
        assert_eq!(spec.name.as_deref(), Some("staging_web"));
        assert_eq!(spec.mode.unwrap().replicated.unwrap().replicas, Some(3));
        let task = spec.task_template.unwrap();
        let container = task.container_spec.unwrap();
        let env = container.env.unwrap();
        assert!(env.contains(&"A=b".to_string()));
        assert!(env.contains(&"ORUN_REPLICA={{.Task.Slot}}".to_string()));
        let health = container.health_check.unwrap();
        assert_eq!(health.test.unwrap(), ["CMD", "/bin/ok"]);
        assert_eq!(health.start_period, Some(30_000_000_000));
        let mounts = container.mounts.unwrap();
        assert_eq!(mounts[0].source.as_deref(), Some("staging.data"));
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        assert_eq!(
            task.placement.unwrap().constraints.unwrap(),
            ["node.labels.disk==ssd"]
        );
        let network = &task.networks.unwrap()[0];
        assert_eq!(network.target.as_deref(), Some("orun-staging"));
        assert_eq!(network.aliases.as_ref().unwrap(), &["web".to_string()]);
        assert_eq!(
            task.resources.unwrap().limits.unwrap().memory_bytes,
            Some(64 * 1024 * 1024)
        );
        let ports = spec.endpoint_spec.unwrap().ports.unwrap();
        assert_eq!(
            ports[0].publish_mode,
            Some(EndpointPortConfigPublishModeEnum::INGRESS)
        );
        assert_eq!(
            ports[1].publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
        let update = spec.update_config.unwrap();
        assert_eq!(
            update.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(update.monitor, Some(30_000_000_000));
        assert_eq!(
            spec.labels.unwrap()["run.orcra.dev/spec-hash"],
            deployment.spec_hash
        );
    }

    #[test]
    fn a_service_spec_carries_the_resolver_and_the_memory_reservation() {
        let deployment = web("  dns: [1.1.1.1]\n  dnsSearch: [corp.example.com]\n  \
             dnsOptions: ['ndots:2']\n  memoryReservation: 32Mi\n");
        let environment = Environment::named("staging").unwrap();
        let task = service_spec(&deployment, &environment)
            .task_template
            .unwrap();
        let dns = task.container_spec.unwrap().dns_config.unwrap();
        assert_eq!(dns.nameservers.unwrap(), ["1.1.1.1"]);
        assert_eq!(dns.search.unwrap(), ["corp.example.com"]);
        assert_eq!(dns.options.unwrap(), ["ndots:2"]);
        let reservations = task.resources.unwrap().reservations.unwrap();
        assert_eq!(reservations.memory_bytes, Some(32 << 20));
    }

    #[test]
    fn a_service_spec_carries_the_settings_swarm_has() {
        let deployment = web("  interactive: true\n  tty: true\n  groupAdd: [video]\n  \
             extraHosts: ['gw:host-gateway', 'v6:::1']\n  ulimits: {nofile: 100}\n  \
             volumes: [{hostPath: /srv/a, containerPath: /a, propagation: rslave}]\n  \
             tmpfs: [{path: /run, size: 1Mi, mode: '1777'}]\n");
        let environment = Environment::named("staging").unwrap();
        let task = service_spec(&deployment, &environment)
            .task_template
            .unwrap();
        let container = task.container_spec.unwrap();
        assert_eq!(
            (container.open_stdin, container.tty),
            (Some(true), Some(true))
        );
        assert_eq!(container.groups.unwrap(), ["video"]);
        assert_eq!(container.hosts.unwrap(), ["host-gateway gw", "::1 v6"]);
        let ulimit = &container.ulimits.unwrap()[0];
        assert_eq!((ulimit.soft, ulimit.hard), (Some(100), Some(100)));
        let mounts = container.mounts.unwrap();
        assert_eq!(
            mounts[0].bind_options.as_ref().unwrap().propagation,
            Some(MountBindOptionsPropagationEnum::RSLAVE)
        );
        let tmpfs = mounts[1].tmpfs_options.as_ref().unwrap();
        assert_eq!(
            (tmpfs.size_bytes, tmpfs.mode),
            (Some(1 << 20), Some(0o1777))
        );
    }
}
