//! The fields of a container as a manifest writes them — image or build, command, env, ports,
//! volumes, the container settings, resource limits, network — in one struct that every kind
//! running a container reads its spec's container fields into, and the types of those fields.
//! They serialize as written, leaving out what is absent or at its default, so that
//! `orun import compose` writes manifests with these types. It does not resolve them into the
//! container orun creates (see `desired`) nor read a kind's own fields (see `split`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};

use super::fields::{AbsolutePath, EnvMap, HostIp, ImageReference, InnerPath, Name, PortNumber};
use super::fields::{ScalarText, Text};
use super::files::{FileMount, NetworkJoin, SecretFileMount};
use super::host_access::{Device, Gpus, GroupName, SecurityOpt, UlimitMap};
use super::is_default;
use super::kernel::{
    CpuShares, Cpuset, DeviceCgroupRule, DnsOption, DnsSearch, DnsServer, IpcMode, OomScoreAdj,
    PidMode, StorageOptMap, UsernsMode,
};
use super::mounts::{Propagation, Selinux, TmpfsMount};
use super::settings::{
    Capability, Cpus, ExtraHost, Hostname, LabelMap, LogFiles, MemoryLimit, PidsLimit, Signal,
    Size, SysctlMap, User,
};
use crate::duration::Duration;

/// The container fields of a kind's spec (docs/manifests.md), each at its default when absent
/// and left out when written. `deny_unknown_fields` only guards reading this struct alone: a
/// kind's spec names its unknown fields itself, listing its own fields too (see `split`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerFields {
    #[serde(skip_serializing_if = "is_default")]
    pub image: Option<ImageReference>,
    #[serde(skip_serializing_if = "is_default")]
    pub build: Option<BuildSpec>,
    #[serde(skip_serializing_if = "is_default")]
    pub pull_policy: PullPolicy,
    #[serde(skip_serializing_if = "is_default")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_default")]
    pub ports: Vec<PortSpec>,
    #[serde(skip_serializing_if = "is_default")]
    pub volumes: Vec<VolumeSpec>,
    #[serde(skip_serializing_if = "is_default")]
    pub env: EnvMap,
    /// The grace period between SIGTERM and SIGKILL; see [`ContainerFields::stop_timeout`].
    #[serde(deserialize_with = "written", skip_serializing_if = "is_default")]
    pub stop_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "is_default")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_default")]
    pub working_dir: Option<AbsolutePath>,
    #[serde(skip_serializing_if = "is_default")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "is_default")]
    pub hostname: Option<Hostname>,
    #[serde(skip_serializing_if = "is_default")]
    pub extra_hosts: Vec<ExtraHost>,
    #[serde(skip_serializing_if = "is_default")]
    pub cap_add: Vec<Capability>,
    #[serde(skip_serializing_if = "is_default")]
    pub cap_drop: Vec<Capability>,
    #[serde(skip_serializing_if = "is_default")]
    pub read_only_root_filesystem: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub init: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub stop_signal: Option<Signal>,
    #[serde(skip_serializing_if = "is_default")]
    pub labels: LabelMap,
    #[serde(skip_serializing_if = "is_default")]
    pub sysctls: SysctlMap,
    #[serde(skip_serializing_if = "is_default")]
    pub shm_size: Option<Size>,
    #[serde(skip_serializing_if = "is_default")]
    pub logging: LoggingSpec,
    /// Limits Docker can change on a running container (docs/plans.md: `update`).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: ResourcesSpec,
    /// Which network the container joins (docs/manifests.md).
    #[serde(skip_serializing_if = "is_default")]
    pub network: NetworkMode,
    /// Container paths mounted as tmpfs, each with its size and mode when given.
    #[serde(skip_serializing_if = "is_default")]
    pub tmpfs: Vec<TmpfsMount>,
    // Docker settings that compose files use daily (docs/manifests.md, "Host access").
    /// Keep the container's standard input open (Docker's OpenStdin).
    #[serde(skip_serializing_if = "is_default")]
    pub interactive: bool,
    /// Give the container a terminal.
    #[serde(skip_serializing_if = "is_default")]
    pub tty: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub ulimits: UlimitMap,
    #[serde(skip_serializing_if = "is_default")]
    pub security_opt: Vec<SecurityOpt>,
    #[serde(skip_serializing_if = "is_default")]
    pub devices: Vec<Device>,
    #[serde(skip_serializing_if = "is_default")]
    pub group_add: Vec<GroupName>,
    #[serde(skip_serializing_if = "is_default")]
    pub gpus: Option<Gpus>,
    // Namespaces and kernel settings (docs/manifests.md, "Namespaces and kernel settings").
    /// Every capability and device of the host, no confinement (Docker's `--privileged`).
    #[serde(skip_serializing_if = "is_default")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub pid: Option<PidMode>,
    #[serde(skip_serializing_if = "is_default")]
    pub ipc: Option<IpcMode>,
    #[serde(skip_serializing_if = "is_default")]
    pub userns_mode: Option<UsernsMode>,
    #[serde(skip_serializing_if = "is_default")]
    pub dns: Vec<DnsServer>,
    #[serde(skip_serializing_if = "is_default")]
    pub dns_search: Vec<DnsSearch>,
    #[serde(skip_serializing_if = "is_default")]
    pub dns_options: Vec<DnsOption>,
    /// The container's NIS domain name.
    #[serde(skip_serializing_if = "is_default")]
    pub domainname: Option<Hostname>,
    #[serde(skip_serializing_if = "is_default")]
    pub device_cgroup_rules: Vec<DeviceCgroupRule>,
    /// Memory the kernel tries to leave the container when memory runs short (a soft limit).
    #[serde(skip_serializing_if = "is_default")]
    pub memory_reservation: Option<MemoryLimit>,
    #[serde(skip_serializing_if = "is_default")]
    pub cpu_shares: Option<CpuShares>,
    #[serde(skip_serializing_if = "is_default")]
    pub cpuset: Option<Cpuset>,
    #[serde(skip_serializing_if = "is_default")]
    pub oom_score_adj: Option<OomScoreAdj>,
    #[serde(skip_serializing_if = "is_default")]
    pub oom_kill_disable: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub storage_opt: StorageOptMap,
    /// Repository files mounted read-only (docs/manifests.md: files).
    #[serde(skip_serializing_if = "is_default")]
    pub files: Vec<FileMount>,
    /// Keys of `secrets.yaml` mounted read-only from a tmpfs (docs/secrets.md: secret files).
    #[serde(skip_serializing_if = "is_default")]
    pub secret_files: Vec<SecretFileMount>,
    /// The environment networks joined; the environment network alone when absent.
    #[serde(deserialize_with = "written", skip_serializing_if = "is_default")]
    pub networks: Option<Vec<NetworkJoin>>,
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

/// json-file log rotation as written; on by default (see [`LoggingSpec::max_size`] and
/// [`LoggingSpec::max_files`]) so a chatty container cannot fill the disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LoggingSpec {
    #[serde(deserialize_with = "written", skip_serializing_if = "is_default")]
    pub max_size: Option<Size>,
    #[serde(deserialize_with = "written", skip_serializing_if = "is_default")]
    pub max_files: Option<LogFiles>,
}

impl LoggingSpec {
    /// `maxSize`, 10m when absent.
    pub fn max_size(&self) -> Size {
        self.max_size
            .clone()
            .unwrap_or_else(|| Size::parse("10m").expect("constant size"))
    }

    /// `maxFiles`, 3 when absent.
    pub fn max_files(&self) -> LogFiles {
        self.max_files.unwrap_or(LogFiles(3))
    }
}

/// Resource limits; each one absent means unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    #[serde(skip_serializing_if = "is_default")]
    pub memory: Option<MemoryLimit>,
    #[serde(skip_serializing_if = "is_default")]
    pub cpus: Option<Cpus>,
    #[serde(skip_serializing_if = "is_default")]
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
    #[serde(
        default = "default_dockerfile",
        skip_serializing_if = "is_default_dockerfile"
    )]
    pub dockerfile: InnerPath,
    #[serde(default, skip_serializing_if = "is_default")]
    pub args: BTreeMap<String, ScalarText>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub build_mode: BuildMode,
    /// The Dockerfile stage to build; the last stage when absent.
    #[serde(skip_serializing_if = "is_default")]
    pub target: Option<Text>,
}

fn default_dockerfile() -> InnerPath {
    InnerPath::parse(crate::build::DEFAULT_DOCKERFILE).expect("constant path")
}

fn is_default_dockerfile(dockerfile: &InnerPath) -> bool {
    dockerfile.as_str() == crate::build::DEFAULT_DOCKERFILE
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
    #[serde(skip_serializing_if = "is_default")]
    pub port: Option<PortNumber>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub protocol: Protocol,
    /// The address the host port is bound on; see [`PortSpec::host_address`].
    #[serde(
        rename = "hostIP",
        default,
        deserialize_with = "written",
        skip_serializing_if = "is_default"
    )]
    pub host_ip: Option<HostIp>,
    /// How a swarm node publishes the port: through the routing mesh (`ingress`, Swarm's
    /// default) or on the host running the task (`host`). Containers of a Docker node always
    /// publish on their host.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: Option<PortMode>,
}

/// How Swarm publishes a port (docs/swarm.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    /// The routing mesh: every node of the swarm answers on the port.
    Ingress,
    /// Only the node running the task answers, like a container's published port.
    Host,
}

impl PortMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PortMode::Ingress => "ingress",
            PortMode::Host => "host",
        }
    }
}

impl PortSpec {
    /// `hostIP`, every IPv4 address (`0.0.0.0`) when absent.
    pub fn host_address(&self) -> IpAddr {
        self.host_ip
            .as_ref()
            .map_or(IpAddr::from([0, 0, 0, 0]), HostIp::address)
    }
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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "VolumeFields", into = "VolumeFields")]
pub struct VolumeSpec {
    pub source: VolumeSource,
    pub container_path: AbsolutePath,
    pub read_only: bool,
    /// How Docker relabels the content for SELinux; not at all when absent.
    pub selinux: Option<Selinux>,
    /// A bind mount's propagation; Docker's (`rprivate`) when absent.
    pub propagation: Option<Propagation>,
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
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VolumeFields {
    #[serde(skip_serializing_if = "is_default")]
    host_path: Option<AbsolutePath>,
    #[serde(skip_serializing_if = "is_default")]
    name: Option<Name>,
    container_path: AbsolutePath,
    #[serde(default, skip_serializing_if = "is_default")]
    read_only: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    selinux: Option<Selinux>,
    #[serde(default, skip_serializing_if = "is_default")]
    propagation: Option<Propagation>,
}

impl From<VolumeSpec> for VolumeFields {
    fn from(volume: VolumeSpec) -> Self {
        let (host_path, name) = match volume.source {
            VolumeSource::HostPath(path) => (Some(path), None),
            VolumeSource::Named(name) => (None, Some(name)),
        };
        VolumeFields {
            host_path,
            name,
            container_path: volume.container_path,
            read_only: volume.read_only,
            selinux: volume.selinux,
            propagation: volume.propagation,
        }
    }
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
        if let (VolumeSource::Named(_), Some(_)) = (&source, fields.propagation) {
            return Err(
                "propagation applies to bind mounts (hostPath) only: Docker refuses it on a named volume"
                    .into(),
            );
        }
        Ok(VolumeSpec {
            source,
            container_path: fields.container_path,
            read_only: fields.read_only,
            selinux: fields.selinux,
            propagation: fields.propagation,
        })
    }
}
