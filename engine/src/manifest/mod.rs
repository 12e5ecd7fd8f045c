//! The manifest schema (docs/manifests.md) as typed, strictly parsed structures: every field, every default.
//! It does not resolve environments or check rules that span fields or files (see `validate`).

pub mod fields;
pub mod node_defaults;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
pub use fields::{
    AbsolutePath, Domain, EnvMap, EnvironmentName, HostIp, HttpTarget, ImageReference, InnerPath,
    Name, PortNumber, ScalarText, StatusAddr, Text,
};
use node_defaults::NodePaths;

pub const API_VERSION: &str = "run.orcra.dev/v0alpha";

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

/// The three resource kinds and the folder each lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Node,
    Deployment,
    Service,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Node, Kind::Deployment, Kind::Service];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Deployment => "Deployment",
            Kind::Service => "Service",
        }
    }

    pub fn folder(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Deployment => "deployments",
            Kind::Service => "services",
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
    /// Let this node remove every managed container when a revision has no deployments (docs/plans.md).
    #[serde(default)]
    pub allow_empty: bool,
    /// Where `orun fleet status` reaches this node's status API; see [`NodeSpec::status_addr`].
    pub status_addr: Option<StatusAddr>,
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

    /// `knownHostsPath`, defaulting to `<dataDir>/keys/known_hosts`.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.known_hosts_path
            .as_ref()
            .map_or_else(|| self.paths().known_hosts(), PathBuf::from)
    }
}

/// A `Deployment` manifest (docs/manifests.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub image: Option<ImageReference>,
    pub build: Option<BuildSpec>,
    #[serde(default)]
    pub pull_policy: PullPolicy,
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    #[serde(default)]
    pub env: EnvMap,
    #[serde(default)]
    pub health: HealthSpec,
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: Duration,
    /// How a recreate replaces the container; when absent, `desired` picks it from the ports and
    /// volumes (docs/manifests.md).
    pub rollout: Option<Rollout>,
    /// How long the old container of a start-first rollout keeps running after the routes moved.
    #[serde(default = "two_seconds")]
    pub drain_timeout: Duration,
}

fn default_stop_timeout() -> Duration {
    Duration::from_secs(10)
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum PullPolicy {
    #[default]
    IfNotPresent,
    Always,
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuildSpec {
    pub context: InnerPath,
    #[serde(default = "default_dockerfile")]
    pub dockerfile: InnerPath,
    #[serde(default)]
    pub args: BTreeMap<String, ScalarText>,
    #[serde(default)]
    pub build_mode: BuildMode,
    /// The Dockerfile stage to build; the last stage when absent.
    pub target: Option<Text>,
}

fn default_dockerfile() -> InnerPath {
    InnerPath::parse(crate::build::DEFAULT_DOCKERFILE).expect("constant path")
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildMode {
    #[default]
    BuildOnce,
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortSpec {
    pub container_port: PortNumber,
    pub port: PortNumber,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(rename = "hostIP", default)]
    pub host_ip: HostIp,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeSpec {
    pub host_path: AbsolutePath,
    pub container_path: AbsolutePath,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    pub readiness: Option<ReadinessProbe>,
    pub liveness: Option<LivenessProbe>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadinessProbe {
    pub http: HttpTarget,
    #[serde(default = "two_seconds")]
    pub interval: Duration,
    #[serde(default = "two_seconds")]
    pub timeout: Duration,
    #[serde(default = "sixty_seconds")]
    pub deadline: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LivenessProbe {
    pub http: HttpTarget,
    #[serde(default = "ten_seconds")]
    pub interval: Duration,
    #[serde(default = "two_seconds")]
    pub timeout: Duration,
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
}

fn two_seconds() -> Duration {
    Duration::from_secs(2)
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
