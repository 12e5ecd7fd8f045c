//! Desired state (docs/manifests.md): from a valid revision, an environment, decrypted secrets and build tags
//! to the containers and routes one node should have. It does not look at Docker (see `plan`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::attachments::{self, RepositoryFiles};
use crate::changes::{self, SpecFields};
use crate::depends::LABEL_DEPENDS_ON;
use crate::duration::Duration;
use crate::environment::Environment;
use crate::error::{ManifestError, ManifestErrors};
use crate::image;
use crate::jobs::{self, LABEL_JOB};
use crate::manifest::job::job_key;
use crate::manifest::{
    BuildSpec, Concurrency, ContainerFields, DeploymentSpec, ExtraHost, HealthSpec, ImageUpdates,
    JobSpec, Manifest, Manifests, NetworkMode, NodeEngine, Placement, PortSpec, PullPolicy,
    Rollout, ServiceSpec, TmpfsMount, VolumeSource, VolumeSpec,
};
use crate::resources::Limits;
use crate::schedule::Schedule;
pub use crate::secret_env::MissingKeys;
use crate::secret_env::{self, NodeKeys};
use crate::spec::{
    self, CanonicalBuild, CanonicalPort, CanonicalSpec, CanonicalTmpfs, CanonicalUlimit,
    CanonicalVolume, ContainerSettings, EnvValue, KernelSettings, LogRotation, SecretValue,
};

/// Decrypted secret values (docs/secrets.md), already out of their SOPS envelope and
/// fingerprinted with the data key of `secrets.yaml`.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    /// Key/value pairs of `secrets.yaml`, given to the deployments whose `secretEnv` scopes them,
    /// except the keys Node settings read (see `secret_env`).
    pub shared: BTreeMap<String, SecretValue>,
    /// Inline `ENC[…]` values: deployment → variable → value.
    pub inline: BTreeMap<String, BTreeMap<String, SecretValue>>,
}

/// Everything resolution needs besides the manifests.
#[derive(Clone, Debug)]
pub struct ResolveInput<'a> {
    pub environment: Environment,
    /// The Git commit the revision comes from; recorded in the `run.orcra.dev/commit` label.
    pub commit: String,
    pub secrets: &'a Secrets,
    /// Image tags of build-mode deployments (see `build::image_tag`), by deployment name.
    pub build_tags: &'a BTreeMap<String, String>,
    /// The repository files `files` mount, by `source` (see `mounts`).
    pub files: &'a RepositoryFiles,
    /// What a key that `secretFiles` or a `secretEnv` list names and `secrets` lacks does.
    pub missing_keys: MissingKeys,
}

#[derive(Clone, Debug)]
pub struct DesiredState {
    pub environment: Environment,
    pub commit: String,
    /// The node whose share this is (docs/manifests.md); `None` when placement was not applied
    /// and every deployment of the environment is desired.
    pub node: Option<String>,
    /// Whether the deployments run as containers of this host or as services of its Swarm.
    pub engine: NodeEngine,
    pub deployments: BTreeMap<String, DesiredDeployment>,
    pub services: BTreeMap<String, DesiredService>,
    pub jobs: BTreeMap<String, DesiredJob>,
}

/// A job of the share, resolved (docs/manifests.md): its container as a deployment's, and when it
/// runs.
#[derive(Clone, Debug)]
pub struct DesiredJob {
    pub name: String,
    /// Its container resolved as a deployment's would be — image, environment, canonical spec,
    /// hash, pull policy, limits — except for the labels, which name the job
    /// (`run.orcra.dev/job`) instead of a deployment, and the name, `container`, which is the
    /// change run's `<base>.job-<12 hex of the spec hash>`.
    pub container: DesiredDeployment,
    /// Its run containers' names before `.job-<id>`: the name, with the environment in front
    /// outside production, like a deployment's container.
    pub base: String,
    pub trigger: Trigger,
    /// How long a run may take before it is stopped and counts as failed.
    pub timeout: Duration,
}

/// When a job runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Once per spec hash and image, before the deployments `before` names (sorted) are created
    /// or recreated.
    Change { before: Vec<String> },
    /// At the times of a cron schedule, in UTC.
    Schedule {
        schedule: Schedule,
        concurrency: Concurrency,
    },
}

impl DesiredJob {
    /// The deployments a change run of this job precedes; none for a scheduled job.
    pub fn before(&self) -> &[String] {
        match &self.trigger {
            Trigger::Change { before } => before,
            Trigger::Schedule { .. } => &[],
        }
    }
}

#[derive(Clone, Debug)]
pub struct DesiredDeployment {
    pub name: String,
    /// The container of replica 1, which is `replicas[0]`.
    pub container: String,
    /// Every container of the deployment, replica 1 first (docs/manifests.md).
    pub replicas: Vec<DesiredReplica>,
    pub spec: CanonicalSpec,
    /// `spec`'s label JSON split into top-level fields (secrets fingerprinted), for field diffs.
    pub spec_fields: SpecFields,
    pub spec_hash: String,
    /// The complete label set of docs/manifests.md, shared with the plan's create/recreate actions.
    pub labels: Arc<BTreeMap<String, String>>,
    pub pull_policy: PullPolicy,
    pub health: HealthSpec,
    /// How a recreate replaces the container: as written, or the default of [`rollout_of`].
    pub rollout: Rollout,
    /// How long the old container of a start-first rollout keeps running after the routes moved.
    pub drain_timeout: Duration,
    /// Resource limits, compared with what Docker reports rather than through the spec hash.
    pub resources: Limits,
    /// The deployments this one needs running and ready first, sorted (docs/manifests.md).
    pub depends_on: Vec<String>,
    /// Where it may run; on a swarm node, the service's placement constraints (docs/swarm.md).
    pub placement: Placement,
    /// Its Swarm service's name (see `Environment::service_name`), used on swarm nodes only.
    pub service: String,
    /// Whether the node watches the registry for a new image under its tag.
    pub image_updates: Option<ImageUpdates>,
}

/// One container of a deployment: replica `index`, its container name and labels.
#[derive(Clone, Debug)]
pub struct DesiredReplica {
    pub index: u32,
    pub container: String,
    /// The deployment's labels; replicas 2 and up add their number.
    pub labels: Arc<BTreeMap<String, String>>,
}

impl DesiredReplica {
    /// The environment variable a replica's container gets besides the spec's: its number, for
    /// replicas 2 and up; replica 1 is the deployment's container as it always was.
    pub fn env(&self) -> Option<(&'static str, String)> {
        (self.index > 1).then(|| (spec::REPLICA_ENV, self.index.to_string()))
    }
}

impl DesiredDeployment {
    /// The Docker networks its containers join with the extra aliases on each, the environment
    /// network first when joined, then by name; the first is the one the container is created
    /// on. The environment network alone without `networks`; none off the environment network
    /// (`network: host` or `none`).
    pub fn networks(&self, environment: &Environment) -> Vec<(String, Vec<String>)> {
        if self.spec.network != NetworkMode::Environment {
            return Vec::new();
        }
        let Some(joined) = &self.spec.networks else {
            return vec![(environment.network_name(), Vec::new())];
        };
        let (default, others): (Vec<_>, Vec<_>) = joined
            .iter()
            .partition(|(name, _)| name.as_str() == crate::manifest::DEFAULT_NETWORK);
        default
            .into_iter()
            .chain(others)
            .map(|(name, aliases)| (environment.joined_network_name(name), aliases.clone()))
            .collect()
    }

    /// The replica whose container is `container`, or one of its rollout copies.
    pub fn replica_of(&self, container: &str) -> Option<&DesiredReplica> {
        let primary = crate::copies::primary_name(container);
        self.replicas
            .iter()
            .find(|replica| replica.container == primary)
    }
}

#[derive(Clone, Debug)]
pub struct DesiredService {
    pub name: String,
    pub deployment: String,
    pub port: u16,
    /// The domain served in this environment; `None` when the service has no route here.
    pub domain: Option<String>,
    pub ssl: bool,
}

impl DesiredState {
    /// The container names this state wants: what an observation of Docker must look for.
    pub fn container_names(&self) -> BTreeSet<String> {
        self.deployments
            .values()
            .flat_map(|deployment| &deployment.replicas)
            .map(|replica| replica.container.clone())
            .collect()
    }

    /// The containers of the deployments and the jobs, as resolved.
    pub fn containers(&self) -> impl Iterator<Item = &DesiredDeployment> {
        let jobs = self.jobs.values().map(|job| &job.container);
        self.deployments.values().chain(jobs)
    }

    /// The environment's networks the containers of deployments and jobs join, sorted: the
    /// environment network when a container joins it, and those `networks` names.
    pub fn networks(&self) -> BTreeSet<String> {
        let mut networks = BTreeSet::new();
        for container in self.containers() {
            networks.extend(
                container
                    .networks(&self.environment)
                    .into_iter()
                    .map(|(network, _)| network),
            );
        }
        networks
    }

    /// The named volumes the deployments and jobs mount: manifest name → Docker volume name.
    pub fn volumes(&self) -> BTreeMap<String, String> {
        self.containers()
            .flat_map(|deployment| &deployment.spec.volumes)
            .filter_map(|volume| volume.name.as_ref())
            .map(|name| (name.clone(), self.environment.volume_name(name)))
            .collect()
    }

    /// `sha256:` + hex SHA-256 over the environment, the commit and every deployment's and job's
    /// container name, spec hash and pull policy: equal fingerprints plan equally against the same engine.
    pub fn fingerprint(&self) -> String {
        let mut text = format!("{}\n{}\n", self.environment, self.commit);
        for deployment in self.containers() {
            text.push_str(&format!(
                "{} {} {:?} {:?}\n",
                deployment.container,
                deployment.spec_hash,
                deployment.pull_policy,
                deployment.resources
            ));
        }
        format!("sha256:{}", crate::spec::sha256_hex(text.as_bytes()))
    }
}

/// The rollout a deployment gets: `rollout` as written; otherwise start-first, unless two copies
/// could not run side by side — a published host port cannot be bound twice, nor can a port of
/// a container on the host's network, and two containers must not write one named volume (or,
/// likewise, one bind-mounted folder) — which makes it stop-first. A port without a host `port`
/// is not published and does not count.
pub fn rollout_of(spec: &DeploymentSpec) -> Rollout {
    let container = &spec.container;
    let binds_host_ports = container.ports.iter().any(|port| port.port.is_some())
        || container.network == NetworkMode::Host;
    let writes_volumes = container.volumes.iter().any(|volume| !volume.read_only);
    match spec.rollout {
        Some(rollout) => rollout,
        None if binds_host_ports || writes_volumes => Rollout::StopFirst,
        None => Rollout::StartFirst,
    }
}

/// True for values of the form `ENC[…]`, which SOPS encrypted inline.
pub fn is_encrypted(value: &str) -> bool {
    value.starts_with("ENC[") && value.ends_with(']')
}

pub fn resolve(
    manifests: &Manifests,
    input: &ResolveInput,
) -> Result<DesiredState, ManifestErrors> {
    resolve_with(manifests, input, &NodeKeys::default())
}

/// [`resolve`], with `node_keys` — the keys the node's own settings outside the revision read
/// (its `--config` file) — kept from containers besides those the revision's Nodes read.
pub fn resolve_with(
    manifests: &Manifests,
    input: &ResolveInput,
    node_keys: &NodeKeys,
) -> Result<DesiredState, ManifestErrors> {
    let mut errors = Vec::new();
    let mut deployments = BTreeMap::new();
    let node_keys = NodeKeys::of(manifests).and(node_keys);
    for deployment in manifests.deployments.values() {
        match resolve_deployment(deployment, input, &node_keys, &deployment.name) {
            Ok(desired) => {
                deployments.insert(desired.name.clone(), desired);
            }
            Err(mut problems) => errors.append(&mut problems),
        }
    }
    let services = resolve_services(manifests, &input.environment, &mut errors);
    let mut jobs = BTreeMap::new();
    for job in manifests.jobs.values() {
        match resolve_job(job, input, &node_keys) {
            Ok(desired) => {
                jobs.insert(desired.name.clone(), desired);
            }
            Err(mut problems) => errors.append(&mut problems),
        }
    }
    if errors.is_empty() {
        Ok(DesiredState {
            environment: input.environment.clone(),
            commit: input.commit.clone(),
            node: None,
            engine: NodeEngine::Docker,
            deployments,
            services,
            jobs,
        })
    } else {
        errors.sort();
        Err(ManifestErrors(errors))
    }
}

/// A deployment's desired container, step by step: the image, the environment with its secrets,
/// the canonical container spec, the labels that carry it, and how a recreate replaces it. Its
/// build tag and inline secrets are filed under `key` (see `Manifests::containers`).
fn resolve_deployment(
    deployment: &Manifest<DeploymentSpec>,
    input: &ResolveInput,
    node_keys: &NodeKeys,
    key: &str,
) -> Result<DesiredDeployment, Vec<ManifestError>> {
    let spec = &deployment.spec;
    let name = deployment.name.as_str();
    let image = image_of(deployment, input.build_tags, key).map_err(|error| vec![error])?;
    let env = env_of(deployment, input, node_keys, key)?;
    let mut canonical = container_spec(&spec.container, image, env);
    mount_files(&mut canonical, deployment, input, node_keys)?;
    let spec_json = canonical.to_label_json();
    let spec_fields = changes::spec_fields(&spec_json);
    let depends_on = dependencies_of(spec);
    let labels = Arc::new(labels_of(
        name,
        spec_json,
        &spec.container,
        &depends_on,
        input,
    ));
    let replicas = replicas_of(name, spec.replicas.get(), &labels, &input.environment);
    Ok(DesiredDeployment {
        name: name.to_string(),
        container: replicas[0].container.clone(),
        replicas,
        spec_hash: labels[spec::LABEL_SPEC_HASH].clone(),
        spec: canonical,
        spec_fields,
        labels,
        pull_policy: spec.container.pull_policy,
        health: spec.health.clone(),
        rollout: rollout_of(spec),
        drain_timeout: spec.drain_timeout,
        resources: Limits::of(&spec.container.resources),
        depends_on,
        placement: spec.placement.clone().unwrap_or_default(),
        service: input.environment.service_name(name),
        image_updates: spec.image_updates,
    })
}

/// A job's container, resolved through the deployment steps as a deployment without health,
/// rollout or replicas would be, then named and labelled as the job's change run.
fn resolve_job(
    job: &Manifest<JobSpec>,
    input: &ResolveInput,
    node_keys: &NodeKeys,
) -> Result<DesiredJob, Vec<ManifestError>> {
    let spec = &job.spec;
    let as_deployment = Manifest {
        name: job.name.clone(),
        file: job.file.clone(),
        spec: DeploymentSpec {
            container: spec.container.clone(),
            placement: spec.placement.clone(),
            secret_env: spec.secret_env.clone(),
            depends_on: spec.depends_on.clone(),
            ..DeploymentSpec::default()
        },
    };
    let mut container = resolve_deployment(&as_deployment, input, node_keys, &job_key(&job.name))?;
    let mut labels = (*container.labels).clone();
    labels.remove(spec::LABEL_DEPLOYMENT);
    labels.insert(LABEL_JOB.to_string(), job.name.clone());
    let labels = Arc::new(labels);
    let base = input.environment.container_name(&job.name);
    container.container = jobs::run_name(&base, jobs::hash_id(&container.spec_hash));
    container.replicas = vec![DesiredReplica {
        index: 1,
        container: container.container.clone(),
        labels: labels.clone(),
    }];
    container.labels = labels;
    let trigger = match &spec.schedule {
        Some(schedule) => Trigger::Schedule {
            schedule: schedule.clone(),
            concurrency: spec.concurrency(),
        },
        None => {
            let mut before: Vec<String> = spec.before.iter().map(ToString::to_string).collect();
            before.sort();
            before.dedup();
            Trigger::Change { before }
        }
    };
    Ok(DesiredJob {
        name: job.name.clone(),
        container,
        base,
        trigger,
        timeout: spec.timeout,
    })
}

/// The image the container runs: `image` normalized, or the content-addressed tag of its build,
/// filed under `key`.
fn image_of(
    deployment: &Manifest<DeploymentSpec>,
    build_tags: &BTreeMap<String, String>,
    key: &str,
) -> Result<String, ManifestError> {
    match &deployment.spec.container.image {
        Some(image) => Ok(image::normalize(image.as_str()).into_owned()),
        None => build_tags.get(key).cloned().ok_or_else(|| {
            ManifestError::new(
                &deployment.file,
                Some("spec.build"),
                "the build context was not hashed, so the image tag is unknown",
            )
        }),
    }
}

/// The container's environment: the keys of `secrets.yaml` its `secretEnv` scopes (never the
/// node's own), then `env`, whose inline `ENC[…]` values are the deployment's decrypted secrets,
/// filed under `filed_under`; `env` wins.
fn env_of(
    deployment: &Manifest<DeploymentSpec>,
    input: &ResolveInput,
    node_keys: &NodeKeys,
    filed_under: &str,
) -> Result<BTreeMap<String, EnvValue>, Vec<ManifestError>> {
    let secrets = input.secrets;
    let mut env: BTreeMap<String, EnvValue> =
        secret_env::scoped(deployment, &secrets.shared, node_keys, input.missing_keys)?
            .into_iter()
            .map(|(key, value)| (key.to_string(), EnvValue::Secret(value.clone())))
            .collect();
    for (key, value) in &deployment.spec.container.env.0 {
        let value = if is_encrypted(&value.0) {
            let secret = secrets
                .inline
                .get(filed_under)
                .and_then(|values| values.get(key))
                .ok_or_else(|| {
                    vec![ManifestError::new(
                        &deployment.file,
                        Some(&format!("spec.env.{key}")),
                        "encrypted value could not be decrypted: no secrets.yaml data key is available",
                    )]
                })?;
            EnvValue::Secret(secret.clone())
        } else {
            EnvValue::Plain(value.0.clone())
        };
        env.insert(key.clone(), value);
    }
    Ok(env)
}

/// The canonical spec of a container with its image and environment resolved: what its label
/// records and its hash covers. Resource limits stay out of it (see [`Limits`]).
fn container_spec(
    container: &ContainerFields,
    image: String,
    env: BTreeMap<String, EnvValue>,
) -> CanonicalSpec {
    CanonicalSpec {
        image,
        command: container.command.clone(),
        ports: container.ports.iter().map(port_of).collect(),
        volumes: container.volumes.iter().map(volume_of).collect(),
        env,
        stop_timeout: container.stop_timeout(),
        build: container.build.as_ref().map(build_of),
        network: container.network,
        tmpfs: container.tmpfs.iter().map(tmpfs_of).collect(),
        files: BTreeMap::new(),
        secret_files: BTreeMap::new(),
        networks: attachments::networks_of(container.networks.as_ref()),
        settings: settings_of(container),
    }
}

/// The repository files and secret files the container mounts, into its spec: both are
/// resolved from what the revision read, so that every problem of both is reported.
fn mount_files(
    canonical: &mut CanonicalSpec,
    deployment: &Manifest<DeploymentSpec>,
    input: &ResolveInput,
    node_keys: &NodeKeys,
) -> Result<(), Vec<ManifestError>> {
    let container = &deployment.spec.container;
    let files = attachments::files_of(&deployment.file, container, input.files);
    let secret_files = attachments::secret_files_of(
        &deployment.file,
        container,
        &input.secrets.shared,
        node_keys,
        input.missing_keys,
    );
    match (files, secret_files) {
        (Ok(files), Ok(secret_files)) => {
            canonical.files = files;
            canonical.secret_files = secret_files;
            Ok(())
        }
        (files, secret_files) => Err(files
            .err()
            .into_iter()
            .chain(secret_files.err())
            .flatten()
            .collect()),
    }
}

/// A port with its defaults written out: tcp, and every IPv4 address for a published one.
fn port_of(port: &PortSpec) -> CanonicalPort {
    CanonicalPort {
        container_port: port.container_port.0,
        port: port.port.map(|port| port.0),
        protocol: port.protocol.as_str().to_string(),
        host_ip: port.host_address().to_string(),
        mode: port.mode.map(|mode| mode.as_str().to_string()),
    }
}

/// A volume as its source kind's field: `hostPath` for a bind mount, `name` for a named volume.
fn volume_of(volume: &VolumeSpec) -> CanonicalVolume {
    let (host_path, name) = match &volume.source {
        VolumeSource::HostPath(path) => (Some(path.to_string()), None),
        VolumeSource::Named(name) => (None, Some(name.to_string())),
    };
    CanonicalVolume {
        host_path,
        name,
        container_path: volume.container_path.to_string(),
        read_only: volume.read_only,
        selinux: volume.selinux,
        propagation: volume.propagation,
    }
}

fn tmpfs_of(tmpfs: &TmpfsMount) -> CanonicalTmpfs {
    CanonicalTmpfs {
        path: tmpfs.path.to_string(),
        size: tmpfs.size.clone(),
        mode: tmpfs.mode.clone(),
    }
}

fn build_of(build: &BuildSpec) -> CanonicalBuild {
    CanonicalBuild {
        context: build.context.to_string(),
        dockerfile: build.dockerfile.to_string(),
        args: build
            .args
            .iter()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect(),
        build_mode: build.build_mode,
        target: build.target.as_ref().map(ToString::to_string),
    }
}

/// The container settings, `logging` with its defaults filled in.
fn settings_of(container: &ContainerFields) -> ContainerSettings {
    ContainerSettings {
        entrypoint: container.entrypoint.clone(),
        working_dir: container.working_dir.as_ref().map(ToString::to_string),
        user: container.user.as_ref().map(ToString::to_string),
        hostname: container.hostname.as_ref().map(ToString::to_string),
        extra_hosts: container
            .extra_hosts
            .iter()
            .map(ExtraHost::docker_form)
            .collect(),
        cap_add: texts(&container.cap_add),
        cap_drop: texts(&container.cap_drop),
        read_only_root_filesystem: container.read_only_root_filesystem,
        init: container.init,
        stop_signal: container.stop_signal.as_ref().map(ToString::to_string),
        labels: container.labels.0.clone(),
        sysctls: container.sysctls.0.clone(),
        shm_size: container.shm_size.clone(),
        interactive: container.interactive,
        tty: container.tty,
        ulimits: container
            .ulimits
            .0
            .iter()
            .map(|(name, limit)| {
                let limit = CanonicalUlimit {
                    soft: limit.soft().get(),
                    hard: limit.hard().get(),
                };
                (name.to_string(), limit)
            })
            .collect(),
        security_opt: texts(&container.security_opt),
        devices: container
            .devices
            .iter()
            .map(|device| {
                let mapping = device.mapping();
                format!(
                    "{}:{}:{}",
                    mapping.host, mapping.container, mapping.permissions
                )
            })
            .collect(),
        group_add: texts(&container.group_add),
        gpus: container.gpus,
        kernel: kernel_of(container),
        logging: LogRotation::from(&container.logging),
    }
}

/// The namespaces and kernel settings as the spec label holds them.
fn kernel_of(container: &ContainerFields) -> KernelSettings {
    KernelSettings {
        privileged: container.privileged,
        pid: container.pid.map(|mode| mode.as_str().to_string()),
        ipc: container.ipc.map(|mode| mode.as_str().to_string()),
        userns_mode: container.userns_mode.map(|mode| mode.as_str().to_string()),
        dns: texts(&container.dns),
        dns_search: texts(&container.dns_search),
        dns_options: texts(&container.dns_options),
        domainname: container.domainname.as_ref().map(ToString::to_string),
        device_cgroup_rules: texts(&container.device_cgroup_rules),
        memory_reservation: container
            .memory_reservation
            .as_ref()
            .map(|reservation| reservation.0.bytes()),
        cpu_shares: container.cpu_shares.map(|shares| shares.get()),
        cpuset: container.cpuset.as_ref().map(ToString::to_string),
        oom_score_adj: container.oom_score_adj.map(|score| score.get()),
        oom_kill_disable: container.oom_kill_disable,
        storage_opt: container
            .storage_opt
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
    }
}

fn texts<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

/// `dependsOn`, sorted and without repeats.
fn dependencies_of(spec: &DeploymentSpec) -> Vec<String> {
    let mut depends_on = texts(&spec.depends_on);
    depends_on.sort();
    depends_on.dedup();
    depends_on
}

/// The container's label set: the deployment's own `labels`, orun's (docs/manifests.md) with the
/// spec's label JSON, and the dependencies when there are any.
fn labels_of(
    name: &str,
    spec_json: String,
    container: &ContainerFields,
    depends_on: &[String],
    input: &ResolveInput,
) -> BTreeMap<String, String> {
    let environment = input.environment.as_str();
    let mut labels = spec::labels(
        environment,
        name,
        spec_json,
        &input.commit,
        &container.labels.0,
    );
    if !depends_on.is_empty() {
        labels.insert(LABEL_DEPENDS_ON.to_string(), depends_on.join(","));
    }
    labels
}

/// The deployment's containers: replica 1 with the deployment's labels, the others with their
/// number added. The spec, and so its hash, is the same for all of them.
fn replicas_of(
    name: &str,
    count: u32,
    labels: &Arc<BTreeMap<String, String>>,
    environment: &Environment,
) -> Vec<DesiredReplica> {
    (1..=count.max(1))
        .map(|index| {
            let labels = if index == 1 {
                labels.clone()
            } else {
                let mut own = (**labels).clone();
                own.insert(spec::LABEL_REPLICA.to_string(), index.to_string());
                Arc::new(own)
            };
            DesiredReplica {
                index,
                container: environment.replica_name(name, index),
                labels,
            }
        })
        .collect()
}

/// The replica number of container `name` (or of a rollout copy of it) when it is replica i ≥ 2
/// of the deployment whose own container is `container`: `<container>.<i>`.
pub fn replica_number(container: &str, name: &str) -> Option<u32> {
    let number = crate::copies::primary_name(name)
        .strip_prefix(container)?
        .strip_prefix('.')?;
    let index: u32 = number.parse().ok()?;
    (index >= 2 && number == index.to_string()).then_some(index)
}

fn resolve_services(
    manifests: &Manifests,
    environment: &Environment,
    errors: &mut Vec<ManifestError>,
) -> BTreeMap<String, DesiredService> {
    let mut services = BTreeMap::new();
    let mut domains: BTreeMap<String, String> = BTreeMap::new();
    for service in manifests.services.values() {
        let desired = resolve_service(manifests, service, environment);
        if let Some(domain) = &desired.domain {
            if let Some(other) = domains.insert(domain.clone(), service.name.clone()) {
                errors.push(ManifestError::new(
                    &service.file,
                    Some("spec.ingress.domain"),
                    format!(
                        "domain {domain:?} in environment {environment} is already used by service {other:?}"
                    ),
                ));
            }
        }
        services.insert(desired.name.clone(), desired);
    }
    services
}

fn resolve_service(
    manifests: &Manifests,
    service: &Manifest<ServiceSpec>,
    environment: &Environment,
) -> DesiredService {
    let spec = &service.spec;
    let first_container_port = manifests
        .deployments
        .get(spec.deployment.as_str())
        .and_then(|deployment| deployment.spec.container.ports.first())
        .map(|port| port.container_port.0);
    let domain = if environment.is_production() {
        Some(spec.ingress.domain.default.as_str().to_string())
    } else {
        spec.ingress
            .domain
            .environment
            .as_ref()
            .map(|template| template.as_str().replace("$ENV", environment.as_str()))
    };
    DesiredService {
        name: service.name.clone(),
        deployment: spec.deployment.as_str().to_string(),
        // Validation guarantees one of the two exists.
        port: spec
            .port
            .map(|port| port.0)
            .or(first_container_port)
            .unwrap_or_default(),
        domain,
        ssl: spec.ingress.ssl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load, SourceFile};

    fn manifests() -> Manifests {
        let file = |path: &str, text: &str| SourceFile {
            path: path.into(),
            text: text.into(),
        };
        load(&[
            file(
                "deployments/web.yaml",
                "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx\n  ports:\n    - containerPort: 8080\n      port: 80\n",
            ),
            file(
                "services/web.yaml",
                "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: web.example.com\n      environment: $ENV.web.example.com\n    ssl: true\n",
            ),
        ])
        .unwrap()
    }

    fn service(environment: Environment) -> DesiredService {
        let secrets = Secrets::default();
        let build_tags = BTreeMap::new();
        let input = ResolveInput {
            environment,
            commit: "c".into(),
            secrets: &secrets,
            build_tags: &build_tags,
            files: &RepositoryFiles::new(),
            missing_keys: MissingKeys::Refused,
        };
        resolve(&manifests(), &input).unwrap().services["web"].clone()
    }

    fn deployment_spec(fields: &str) -> DeploymentSpec {
        let text = format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx\n{fields}"
        );
        let source = SourceFile {
            path: "deployments/web.yaml".into(),
            text,
        };
        load(&[source]).unwrap().deployments["web"].spec.clone()
    }

    #[test]
    fn rollout_defaults_to_start_first_only_when_two_copies_can_run_side_by_side() {
        let ports = "  ports:\n    - containerPort: 80\n      port: 8080\n";
        let volume = |read_only: bool| {
            format!("  volumes:\n    - hostPath: /srv/data\n      containerPath: /data\n      readOnly: {read_only}\n")
        };
        assert_eq!(rollout_of(&deployment_spec("")), Rollout::StartFirst);
        assert_eq!(
            rollout_of(&deployment_spec(&volume(true))),
            Rollout::StartFirst
        );
        assert_eq!(rollout_of(&deployment_spec(ports)), Rollout::StopFirst);
        assert_eq!(
            rollout_of(&deployment_spec(&volume(false))),
            Rollout::StopFirst
        );
        assert_eq!(
            rollout_of(&deployment_spec("  rollout: stopFirst\n")),
            Rollout::StopFirst
        );
        let explicit = format!("  rollout: startFirst\n{}", volume(false));
        assert_eq!(rollout_of(&deployment_spec(&explicit)), Rollout::StartFirst);
        let named = |read_only: bool| {
            format!("  volumes:\n    - name: data\n      containerPath: /data\n      readOnly: {read_only}\n")
        };
        assert_eq!(
            rollout_of(&deployment_spec(&named(false))),
            Rollout::StopFirst
        );
        assert_eq!(
            rollout_of(&deployment_spec(&named(true))),
            Rollout::StartFirst
        );
        let tmpfs = "  tmpfs: [/tmp]\n";
        assert_eq!(rollout_of(&deployment_spec(tmpfs)), Rollout::StartFirst);
        let host = "  network: host\n";
        assert_eq!(rollout_of(&deployment_spec(host)), Rollout::StopFirst);
    }

    #[test]
    fn drain_timeout_defaults_to_two_seconds() {
        assert_eq!(deployment_spec("").drain_timeout, Duration::from_secs(2));
        let spec = deployment_spec("  drainTimeout: 500ms\n");
        assert_eq!(spec.drain_timeout, Duration::from_millis(500));
    }

    #[test]
    fn production_serves_the_default_domain_and_other_environments_the_template() {
        let production = service(Environment::production());
        assert_eq!(production.domain.as_deref(), Some("web.example.com"));
        assert_eq!(
            production.port, 8080,
            "the deployment's first containerPort"
        );
        assert!(production.ssl);
        let staging = service(Environment::from_branch("staging").unwrap());
        assert_eq!(staging.domain.as_deref(), Some("staging.web.example.com"));
    }
}
