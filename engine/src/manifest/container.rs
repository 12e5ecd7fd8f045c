//! The fields of a container as a manifest writes them — image or build, command, env, ports,
//! volumes, the container settings, resource limits, network — in one struct that every kind
//! running a container reads its spec's container fields into, and the types of those fields.
//! It does not resolve them into the container orun creates (see `desired`) nor read a kind's
//! own fields (see `split`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::fields::{AbsolutePath, EnvMap, HostIp, ImageReference, InnerPath, Name, PortNumber};
use super::fields::{ScalarText, Text};
use super::settings::{
    Capability, Cpus, ExtraHost, Hostname, LabelMap, LogFiles, MemoryLimit, PidsLimit, Signal,
    Size, SysctlMap, User,
};
use crate::duration::Duration;

/// The container fields of a kind's spec (docs/manifests.md), each at its default when absent.
/// `deny_unknown_fields` only guards reading this struct alone: a kind's spec names its unknown
/// fields itself, listing its own fields too (see `split`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerFields {
    pub image: Option<ImageReference>,
    pub build: Option<BuildSpec>,
    pub pull_policy: PullPolicy,
    pub command: Option<Vec<String>>,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    pub env: EnvMap,
    /// The grace period between SIGTERM and SIGKILL; see [`ContainerFields::stop_timeout`].
    #[serde(deserialize_with = "written")]
    pub stop_timeout: Option<Duration>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<AbsolutePath>,
    pub user: Option<User>,
    pub hostname: Option<Hostname>,
    pub extra_hosts: Vec<ExtraHost>,
    pub cap_add: Vec<Capability>,
    pub cap_drop: Vec<Capability>,
    pub read_only_root_filesystem: bool,
    pub init: bool,
    pub stop_signal: Option<Signal>,
    pub labels: LabelMap,
    pub sysctls: SysctlMap,
    pub shm_size: Option<Size>,
    pub logging: LoggingSpec,
    /// Limits Docker can change on a running container (docs/plans.md: `update`).
    pub resources: ResourcesSpec,
    /// Which network the container joins (docs/manifests.md).
    pub network: NetworkMode,
    /// Absolute container paths mounted as tmpfs.
    pub tmpfs: Vec<AbsolutePath>,
}

/// `stopTimeout` when the manifest leaves it out.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl ContainerFields {
    /// `stopTimeout`, [`DEFAULT_STOP_TIMEOUT`] when absent.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT)
    }
}

/// Reads an optional field that, once written, must hold a value of its type: unlike a plain
/// `Option`, a `null` is refused with the type's own error, as for a field with a default.
fn written<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// json-file log rotation; on by default so a chatty container cannot fill the disk.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoggingSpec {
    #[serde(default = "default_log_max_size")]
    pub max_size: Size,
    #[serde(default = "default_log_max_files")]
    pub max_files: LogFiles,
}

impl Default for LoggingSpec {
    fn default() -> Self {
        LoggingSpec {
            max_size: default_log_max_size(),
            max_files: default_log_max_files(),
        }
    }
}

fn default_log_max_size() -> Size {
    Size::parse("10m").expect("constant size")
}
fn default_log_max_files() -> LogFiles {
    LogFiles(3)
}

/// Resource limits; each one absent means unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    pub memory: Option<MemoryLimit>,
    pub cpus: Option<Cpus>,
    pub pids: Option<PidsLimit>,
}

/// The network a deployment's container joins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The environment's bridge network `orun-<env>`, reachable there by the deployment's name.
    #[default]
    Environment,
    /// The host's network stack: no isolation, no published ports.
    Host,
    /// No network at all but loopback.
    None,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Environment => "environment",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        }
    }
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
    /// The host port; without it the container port is not published on the host.
    pub port: Option<PortNumber>,
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

/// A `volumes[]` item: a bind mount of a host folder or a named volume of the environment.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "VolumeFields")]
pub struct VolumeSpec {
    pub source: VolumeSource,
    pub container_path: AbsolutePath,
    pub read_only: bool,
}

/// Where a volume's data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSource {
    /// `hostPath`: a folder of the host, bind-mounted.
    HostPath(AbsolutePath),
    /// `name`: a Docker named volume of the environment, created by orun and never removed.
    Named(Name),
}

/// A `volumes[]` item as written, before the exactly-one-source rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VolumeFields {
    host_path: Option<AbsolutePath>,
    name: Option<Name>,
    container_path: AbsolutePath,
    #[serde(default)]
    read_only: bool,
}

impl TryFrom<VolumeFields> for VolumeSpec {
    type Error = String;

    fn try_from(fields: VolumeFields) -> Result<Self, String> {
        let source = match (fields.host_path, fields.name) {
            (Some(host_path), None) => VolumeSource::HostPath(host_path),
            (None, Some(name)) => VolumeSource::Named(name),
            (Some(_), Some(_)) => {
                return Err("hostPath and name are mutually exclusive: set exactly one".into())
            }
            (None, None) => {
                return Err(
                    "one of hostPath (bind mount) or name (named volume) is required".into(),
                )
            }
        };
        Ok(VolumeSpec {
            source,
            container_path: fields.container_path,
            read_only: fields.read_only,
        })
    }
}
