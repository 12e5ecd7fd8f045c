//! The manifest schema (docs/manifests.md) as typed, strictly parsed structures: every field, every default.
//! It does not resolve environments or check rules that span fields or files (see `validate`).

pub mod commit_status;
pub mod container;
pub mod fields;
pub mod files;
pub mod host_access;
pub mod image_updates;
pub mod job;
pub mod kernel;
pub mod mounts;
pub mod node_defaults;
pub mod notification;
pub mod placement;
pub mod policy;
pub mod secret_env;
pub mod settings;
mod split;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::de::MapAccess;
use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::Duration;
pub use commit_status::CommitStatusSpec;
pub use container::{
    BuildMode, BuildSpec, ContainerFields, LoggingSpec, NetworkMode, PortMode, PortSpec, Protocol,
    PullPolicy, ResourcesSpec, VolumeSource, VolumeSpec,
};
pub use fields::{
    AbsolutePath, Domain, EnvMap, EnvironmentName, ExecCommand, HostIp, HttpTarget, HttpUrl,
    ImageReference, InnerPath, Name, PortNumber, ProbeTarget, ScalarText, StatusAddr, TcpTarget,
    Text,
};
pub use files::{
    Alias, FileMode, FileMount, NetworkJoin, SecretFileMount, SecretKey, DEFAULT_NETWORK,
};
pub use host_access::{
    Device, DeviceMapping, Gpus, GroupName, SecurityOpt, Ulimit, UlimitMap, UlimitName, UlimitValue,
};
pub use image_updates::{ImageUpdates, UpdateMode};
pub use job::{Concurrency, JobSpec, RunOn};
pub use kernel::{
    CpuShares, Cpuset, DeviceCgroupRule, DnsOption, DnsSearch, DnsServer, IpcMode, OomScoreAdj,
    PidMode, StorageOptMap, StorageOptName, StorageOptValue, UsernsMode,
};
pub use mounts::{Propagation, Selinux, TmpfsMode, TmpfsMount};
use node_defaults::NodePaths;
pub use notification::NotificationSpec;
pub use placement::{NodeLabels, Placement, Replicas};
pub use policy::{NodePolicy, Permission};
pub use secret_env::SecretEnv;
pub use settings::{
    Capability, Cpus, ExtraHost, Hostname, LabelMap, LogFiles, MemoryLimit, PidsLimit, Signal,
    Size, SysctlMap, User,
};
use split::KindSpec;

pub const API_VERSION: &str = "run.orcra.dev/v0alpha";

/// For `skip_serializing_if`: a field at its default is left out of a written manifest.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// One parsed manifest: its `metadata.name`, the file it came from and its spec.
#[derive(Clone, Debug)]
pub struct Manifest<S> {
    pub name: String,
    pub file: String,
    pub spec: S,
}

/// A valid revision: every resource by kind, keyed by `metadata.name`.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    pub nodes: BTreeMap<String, Manifest<NodeSpec>>,
    pub deployments: BTreeMap<String, Manifest<DeploymentSpec>>,
    pub services: BTreeMap<String, Manifest<ServiceSpec>>,
    pub jobs: BTreeMap<String, Manifest<JobSpec>>,
}

impl Manifests {
    /// Every container spec of the revision with the file it is in and the key its build tag
    /// and inline secrets are filed under: each deployment's by its name, each job's by
    /// [`job::job_key`].
    pub fn containers(&self) -> impl Iterator<Item = (String, &str, &ContainerFields)> {
        let deployments = self.deployments.values().map(|deployment| {
            let spec = &deployment.spec.container;
            (deployment.name.clone(), deployment.file.as_str(), spec)
        });
        let jobs = self.jobs.values().map(|job| {
            let spec = &job.spec.container;
            (job::job_key(&job.name), job.file.as_str(), spec)
        });
        deployments.chain(jobs)
    }

    /// The first Node with `engine: swarm`. With one, every deployment of the repository is a
    /// service of that swarm, and placement is the swarm's to apply (docs/swarm.md).
    pub fn swarm_node(&self) -> Option<&Manifest<NodeSpec>> {
        self.nodes
            .values()
            .find(|node| node.spec.engine == NodeEngine::Swarm)
    }
}

/// The envelope every manifest file shares.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resource<S> {
    pub api_version: ApiVersion,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: S,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: Name,
}

/// The only accepted `apiVersion`.
#[derive(Clone, Debug)]
pub struct ApiVersion;

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == API_VERSION {
            Ok(ApiVersion)
        } else {
            Err(serde::de::Error::custom(format!(
                "unsupported apiVersion {text:?}, expected {API_VERSION:?}"
            )))
        }
    }
}

/// The resource kinds and the folder each lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Node,
    Deployment,
    Service,
    Job,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Node, Kind::Deployment, Kind::Service, Kind::Job];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Deployment => "Deployment",
            Kind::Service => "Service",
            Kind::Job => "Job",
        }
    }

    pub fn folder(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Deployment => "deployments",
            Kind::Service => "services",
            Kind::Job => "jobs",
        }
    }
}

/// A `Node` manifest (docs/manifests.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSpec {
    pub host: Text,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default = "default_ssh_key_path")]
    pub ssh_key_path: String,
    pub git_repo: Text,
    #[serde(default = "default_git_branch")]
    pub git_branch: Text,
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Duration,
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    pub code_dir: Option<String>,
    pub environment: Option<EnvironmentName>,
    pub deploy_key_path: Option<String>,
    pub known_hosts_path: Option<String>,
    /// The folder of the Docker client configuration (`config.json`) whose registry credentials
    /// pulls and builds use, like `docker --config`.
    pub docker_config: Option<AbsolutePath>,
    /// Let this node remove every managed container when a revision has no deployments (docs/plans.md).
    #[serde(default)]
    pub allow_empty: bool,
    /// Accept a `git://` or plain `http://` remote (docs/node.md).
    #[serde(default)]
    pub allow_insecure_transport: bool,
    /// The file holding the secret that proves a `POST /hooks/git` (docs/node.md).
    pub webhook_secret_file: Option<String>,
    /// The tmpfs folder of the secret files containers mount (docs/secrets.md); see
    /// [`NodeSpec::secret_files_dir`].
    #[serde(rename = "secretFilesDir")]
    pub secret_files_dir_setting: Option<AbsolutePath>,
    /// Where to report rollouts and sync trouble (docs/node.md).
    #[serde(default)]
    pub notifications: Vec<NotificationSpec>,
    /// Where to report how applying each commit went, as a status on the commit (docs/node.md).
    pub commit_status: Option<CommitStatusSpec>,
    /// Where `orun fleet status` reaches this node's status API; see [`NodeSpec::status_addr`].
    pub status_addr: Option<StatusAddr>,
    /// Labels that deployments' `placement.labels` select this node by (docs/manifests.md).
    #[serde(default)]
    pub labels: NodeLabels,
    /// What runs the deployments: containers on this host, or services of a Swarm (docs/swarm.md).
    #[serde(default)]
    pub engine: NodeEngine,
    /// What a revision may ask of this node; in force only from the node's `--config` file
    /// (docs/node.md).
    #[serde(default)]
    pub policy: NodePolicy,
}

impl NodeSpec {
    /// `secretFilesDir`, `/run/orun` when absent.
    pub fn secret_files_dir(&self) -> PathBuf {
        PathBuf::from(
            self.secret_files_dir_setting
                .as_ref()
                .map_or(node_defaults::SECRET_FILES_DIR, AbsolutePath::as_str),
        )
    }
}

/// What a node runs its deployments as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeEngine {
    /// Containers of the host's Docker engine.
    #[default]
    Docker,
    /// Services of the Docker Swarm the host manages (docs/swarm.md).
    Swarm,
}

impl NodeEngine {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeEngine::Docker => "docker",
            NodeEngine::Swarm => "swarm",
        }
    }
}

fn default_user() -> String {
    node_defaults::USER.to_string()
}
fn default_ssh_key_path() -> String {
    node_defaults::SSH_KEY_PATH.to_string()
}
fn default_git_branch() -> Text {
    Text::parse(node_defaults::GIT_BRANCH).expect("constant branch name")
}
fn default_poll_interval() -> Duration {
    node_defaults::POLL_INTERVAL
}
fn default_data_dir() -> String {
    node_defaults::DATA_DIR.to_string()
}

/// The insecure transport a remote URL uses (`git://` or plain `http://`), where anyone on the
/// network path can change what is fetched; `None` for https, ssh (also `git@host:path`), file
/// URLs and local paths.
pub fn insecure_transport(url: &str) -> Option<&'static str> {
    let scheme = url.split_once("://")?.0.to_ascii_lowercase();
    match scheme.as_str() {
        "git" => Some("git://"),
        "http" => Some("http://"),
        _ => None,
    }
}

impl NodeSpec {
    /// The paths under `dataDir`.
    pub fn paths(&self) -> NodePaths {
        NodePaths::new(&self.data_dir)
    }

    /// `deployKeyPath`, defaulting to `<dataDir>/keys/deploy_key`.
    pub fn deploy_key_path(&self) -> PathBuf {
        self.deploy_key_path
            .as_ref()
            .map_or_else(|| self.paths().deploy_key(), PathBuf::from)
    }

    /// `statusAddr`, defaulting to the `host` without its SSH port, at port 9100.
    pub fn status_addr(&self) -> String {
        if let Some(addr) = &self.status_addr {
            return addr.to_string();
        }
        let (host, _ssh_port) = fields::split_host_port(self.host.as_str());
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", node_defaults::STATUS_PORT)
        } else {
            format!("{host}:{}", node_defaults::STATUS_PORT)
        }
    }

    /// `dockerConfig`, the folder of the Docker client configuration, when set.
    pub fn docker_config_dir(&self) -> Option<PathBuf> {
        self.docker_config
            .as_ref()
            .map(|path| PathBuf::from(path.as_str()))
    }

    /// `knownHostsPath`, defaulting to `<dataDir>/keys/known_hosts`.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.known_hosts_path
            .as_ref()
            .map_or_else(|| self.paths().known_hosts(), PathBuf::from)
    }
}

/// A `Deployment` manifest (docs/manifests.md): a container, and how orun keeps it running and
/// replaces it. Its spec is one mapping; the container's fields are read into `container`, the
/// rest into the Deployment's own fields (see `split`). It serializes as one mapping too, without
/// the fields at their default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// What runs: image or build, command, env, ports, volumes and the container settings.
    #[serde(flatten)]
    pub container: ContainerFields,
    #[serde(skip_serializing_if = "is_default")]
    pub health: HealthSpec,
    /// How a recreate replaces the container; when absent, `desired` picks it from the ports and
    /// volumes (docs/manifests.md).
    #[serde(skip_serializing_if = "is_default")]
    pub rollout: Option<Rollout>,
    /// How long the old container of a start-first rollout keeps running after the routes moved.
    #[serde(skip_serializing_if = "is_two_seconds")]
    pub drain_timeout: Duration,
    /// Deployments this one needs running (and ready) before it is created, recreated or started
    /// (docs/manifests.md); checked against the revision in `validate`.
    #[serde(skip_serializing_if = "is_default")]
    pub depends_on: Vec<Name>,
    /// The nodes that run it; every node of the environment without it (docs/manifests.md).
    #[serde(skip_serializing_if = "is_default")]
    pub placement: Option<Placement>,
    /// How many containers of it run on each node of its share (docs/manifests.md).
    #[serde(skip_serializing_if = "is_default")]
    pub replicas: Replicas,
    /// Which keys of `secrets.yaml` become its environment variables (docs/secrets.md).
    #[serde(skip_serializing_if = "is_default")]
    pub secret_env: SecretEnv,
    /// Whether the node watches the registry for a new image under the tag (docs/manifests.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_updates: Option<ImageUpdates>,
}

impl Default for DeploymentSpec {
    fn default() -> Self {
        DeploymentSpec {
            container: ContainerFields::default(),
            health: HealthSpec::default(),
            rollout: None,
            drain_timeout: two_seconds(),
            depends_on: Vec::new(),
            placement: None,
            replicas: Replicas::default(),
            secret_env: SecretEnv::All,
            image_updates: None,
        }
    }
}

impl KindSpec for DeploymentSpec {
    const NAME: &'static str = "DeploymentSpec";
    const OWN_FIELDS: &'static [&'static str] = &[
        "health",
        "rollout",
        "drainTimeout",
        "dependsOn",
        "placement",
        "replicas",
        "secretEnv",
        "imageUpdates",
    ];

    fn read_own<'de, A: MapAccess<'de>>(
        &mut self,
        field: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            "health" => self.health = map.next_value()?,
            "rollout" => self.rollout = map.next_value()?,
            "drainTimeout" => self.drain_timeout = map.next_value()?,
            "placement" => self.placement = Some(map.next_value()?),
            "replicas" => self.replicas = map.next_value()?,
            "secretEnv" => self.secret_env = map.next_value()?,
            "imageUpdates" => self.image_updates = Some(map.next_value()?),
            _ => self.depends_on = map.next_value()?,
        }
        Ok(())
    }

    fn container_mut(&mut self) -> &mut ContainerFields {
        &mut self.container
    }

    fn fields() -> &'static [&'static str] {
        static FIELDS: OnceLock<Vec<&'static str>> = OnceLock::new();
        split::kind_fields(&FIELDS, Self::OWN_FIELDS)
    }
}

impl<'de> Deserialize<'de> for DeploymentSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        split::deserialize(deserializer)
    }
}

/// The order in which a recreate replaces a container (docs/plans.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rollout {
    /// The new container starts beside the old one and takes over once it is ready.
    StartFirst,
    /// The old container stops before the new one starts.
    StopFirst,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    #[serde(skip_serializing_if = "is_default")]
    pub readiness: Option<ReadinessProbe>,
    #[serde(skip_serializing_if = "is_default")]
    pub liveness: Option<LivenessProbe>,
}

/// A readiness probe (docs/health.md): what it checks, and how often and how long it may try.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "ReadinessFields", into = "ReadinessFields")]
pub struct ReadinessProbe {
    pub target: ProbeTarget,
    pub interval: Duration,
    pub timeout: Duration,
    pub deadline: Duration,
}

/// A readiness probe as written, before the one kind of check is picked out.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReadinessFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<HttpTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<TcpTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec: Option<ExecCommand>,
    #[serde(default = "two_seconds")]
    interval: Duration,
    #[serde(default = "two_seconds")]
    timeout: Duration,
    #[serde(default = "sixty_seconds")]
    deadline: Duration,
}

impl TryFrom<ReadinessFields> for ReadinessProbe {
    type Error = String;

    fn try_from(fields: ReadinessFields) -> Result<Self, String> {
        Ok(ReadinessProbe {
            target: probe_target(fields.http, fields.tcp, fields.exec)?,
            interval: fields.interval,
            timeout: fields.timeout,
            deadline: fields.deadline,
        })
    }
}

/// A liveness probe (docs/health.md): what it checks, how often, and after how many failures in a
/// row the container is restarted.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "LivenessFields", into = "LivenessFields")]
pub struct LivenessProbe {
    pub target: ProbeTarget,
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
}

/// A liveness probe as written, before the one kind of check is picked out.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LivenessFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<HttpTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<TcpTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec: Option<ExecCommand>,
    #[serde(default = "ten_seconds")]
    interval: Duration,
    #[serde(default = "two_seconds")]
    timeout: Duration,
    #[serde(default = "default_failure_threshold")]
    failure_threshold: u32,
}

impl TryFrom<LivenessFields> for LivenessProbe {
    type Error = String;

    fn try_from(fields: LivenessFields) -> Result<Self, String> {
        Ok(LivenessProbe {
            target: probe_target(fields.http, fields.tcp, fields.exec)?,
            interval: fields.interval,
            timeout: fields.timeout,
            failure_threshold: fields.failure_threshold,
        })
    }
}

impl From<ReadinessProbe> for ReadinessFields {
    fn from(probe: ReadinessProbe) -> Self {
        let (http, tcp, exec) = probe_kinds(probe.target);
        ReadinessFields {
            http,
            tcp,
            exec,
            interval: probe.interval,
            timeout: probe.timeout,
            deadline: probe.deadline,
        }
    }
}

impl From<LivenessProbe> for LivenessFields {
    fn from(probe: LivenessProbe) -> Self {
        let (http, tcp, exec) = probe_kinds(probe.target);
        LivenessFields {
            http,
            tcp,
            exec,
            interval: probe.interval,
            timeout: probe.timeout,
            failure_threshold: probe.failure_threshold,
        }
    }
}

/// A probe's check as the field of its kind, for writing it back.
fn probe_kinds(
    target: ProbeTarget,
) -> (Option<HttpTarget>, Option<TcpTarget>, Option<ExecCommand>) {
    match target {
        ProbeTarget::Http(http) => (Some(http), None, None),
        ProbeTarget::Tcp(tcp) => (None, Some(tcp), None),
        ProbeTarget::Exec(command) => (None, None, Some(command)),
    }
}

/// The error of a probe without a kind of check; the loader drops it when the kind was there but
/// hidden after its own problem.
pub const NO_PROBE_KIND: &str = "a probe needs one of http, tcp or exec";

/// The fields that name a probe's kind of check.
pub const PROBE_KINDS: [&str; 3] = ["http", "tcp", "exec"];

/// The one kind of check a probe names: `http`, `tcp` or `exec`.
fn probe_target(
    http: Option<HttpTarget>,
    tcp: Option<TcpTarget>,
    exec: Option<ExecCommand>,
) -> Result<ProbeTarget, String> {
    match (http, tcp, exec) {
        (Some(http), None, None) => Ok(ProbeTarget::Http(http)),
        (None, Some(tcp), None) => Ok(ProbeTarget::Tcp(tcp)),
        (None, None, Some(command)) => Ok(ProbeTarget::Exec(command)),
        (None, None, None) => Err(NO_PROBE_KIND.to_string()),
        (http, tcp, exec) => {
            let given: Vec<&str> = [
                http.map(|_| "http"),
                tcp.map(|_| "tcp"),
                exec.map(|_| "exec"),
            ]
            .into_iter()
            .flatten()
            .collect();
            Err(format!(
                "a probe has exactly one of http, tcp or exec, but this one has {}",
                given.join(" and ")
            ))
        }
    }
}

fn two_seconds() -> Duration {
    Duration::from_secs(2)
}
fn is_two_seconds(duration: &Duration) -> bool {
    *duration == two_seconds()
}
fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}
fn sixty_seconds() -> Duration {
    Duration::from_secs(60)
}
fn default_failure_threshold() -> u32 {
    3
}

/// A `Service` manifest (docs/manifests.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceSpec {
    pub deployment: Name,
    pub port: Option<PortNumber>,
    pub ingress: IngressSpec,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSpec {
    pub domain: DomainSpec,
    #[serde(default)]
    pub ssl: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSpec {
    pub default: Domain,
    pub environment: Option<Domain>,
}

#[cfg(test)]
mod tests {
    use super::insecure_transport;

    #[test]
    fn only_git_and_plain_http_remotes_are_insecure_transports() {
        assert_eq!(
            insecure_transport("git://git.example.com/infra.git"),
            Some("git://")
        );
        assert_eq!(
            insecure_transport("HTTP://git.example.com/infra.git"),
            Some("http://")
        );
        for secure in [
            "https://deploy:token@git.example.com/infra.git",
            "ssh://git@git.example.com:2222/infra.git",
            "git@git.example.com:ops/infra.git",
            "file:///srv/infra.git",
            "/srv/infra.git",
            "infra",
        ] {
            assert_eq!(insecure_transport(secure), None, "{secure}");
        }
    }
}
