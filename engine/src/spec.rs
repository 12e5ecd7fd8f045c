//! The canonical container spec (docs/plans.md), its versioned hash, the label set of docs/manifests.md, and
//! secret fingerprints keyed by the revision's SOPS data key. It does not decide whether a
//! container must change (see `plan`).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::duration::Duration;
use crate::manifest::{
    BuildMode, Gpus, LogFiles, LoggingSpec, NetworkMode, Propagation, Selinux, Size, TmpfsMode,
};

pub const LABEL_MANAGED_BY: &str = "run.orcra.dev/managed-by";
pub const LABEL_ENVIRONMENT: &str = "run.orcra.dev/environment";
pub const LABEL_DEPLOYMENT: &str = "run.orcra.dev/deployment";
pub const LABEL_SPEC_HASH: &str = "run.orcra.dev/spec-hash";
pub const LABEL_SPEC: &str = "run.orcra.dev/spec";
pub const LABEL_COMMIT: &str = "run.orcra.dev/commit";
/// The replica number of a deployment's second and further containers (docs/manifests.md).
pub const LABEL_REPLICA: &str = "run.orcra.dev/replica";
/// The environment variable telling replicas 2 and up their number; replica 1 has none.
pub const REPLICA_ENV: &str = "ORUN_REPLICA";
pub const MANAGED_BY_ORUN: &str = "orun";

/// Whether a container with `labels` is orun's in `environment` (docs/manifests.md ownership):
/// the only containers orun ever stops, renames, changes or removes.
pub fn owned_by(labels: &BTreeMap<String, String>, environment: &str) -> bool {
    labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_ORUN)
        && labels.get(LABEL_ENVIRONMENT).map(String::as_str) == Some(environment)
}

/// The prefix of hashes computed by this scheme. A later scheme gets a new prefix and must still
/// accept `v1:` hashes, so an upgrade never recreates every container.
pub const HASH_SCHEME: &str = "v1:";

/// The resolved container configuration that decides whether a container must be recreated.
/// Field order is the canonical key order of the JSON form; names follow the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalSpec {
    pub image: String,
    pub command: Option<Vec<String>>,
    pub ports: Vec<CanonicalPort>,
    pub volumes: Vec<CanonicalVolume>,
    pub env: BTreeMap<String, EnvValue>,
    pub stop_timeout: Duration,
    pub build: Option<CanonicalBuild>,
    /// `environment`, `host` or `none`. Always present, also at its default: a container created
    /// before environment networks existed sits on Docker's default bridge, and the missing field
    /// is what recreates it once, onto its environment network.
    pub network: NetworkMode,
    /// Left out when empty, so specs without tmpfs mounts keep their hash.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<CanonicalTmpfs>,
    /// Repository files by container path; left out when empty, like every field below, so
    /// specs without them keep their hash.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, CanonicalFile>,
    /// Secret files by container path, their values as fingerprints.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_files: BTreeMap<String, CanonicalSecretFile>,
    /// The networks a `networks` field joins: network name (`default` for the environment
    /// network) → extra aliases, sorted. `None` for the environment network alone, however
    /// written, so that a container that joins only it keeps its hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, Vec<String>>>,
    #[serde(flatten)]
    pub settings: ContainerSettings,
}

/// The container settings added after the first release. Each is left out of the JSON while it
/// has its default, so specs that do not use it keep their `v1` hash; `logging` is always there,
/// because its default changed what Docker is asked for (json-file rotation). This is the label's
/// form of the settings of `manifest::ContainerFields`, kept apart from it: the hash fixes its
/// keys, their order and what is left out, where the manifest writes back what was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only_root_filesystem: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub init: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<Size>,
    #[serde(skip_serializing_if = "is_false")]
    pub interactive: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, CanonicalUlimit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// `host:container:permissions`, defaults filled in, so `/dev/fuse` and
    /// `/dev/fuse:/dev/fuse:rwm` are one spec.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Gpus>,
    #[serde(flatten)]
    pub kernel: KernelSettings,
    pub logging: LogRotation,
}

/// The namespaces and kernel settings of a container (docs/manifests.md), each left out at its
/// default like every setting after the first release. Sizes are in bytes, so `512Mi` and
/// `536870912` are one spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelSettings {
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
    #[serde(skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: BTreeMap<String, String>,
}

/// A resource limit with both values, `-1` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CanonicalUlimit {
    pub soft: i64,
    pub hard: i64,
}

/// A tmpfs mount: its path alone while it has no options, so specs written before tmpfs options
/// existed keep their hash, else the path with its size and mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalTmpfs {
    pub path: String,
    pub size: Option<Size>,
    pub mode: Option<TmpfsMode>,
}

/// The mapping form of [`CanonicalTmpfs`].
#[derive(Serialize)]
struct TmpfsWithOptions<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<&'a Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a TmpfsMode>,
}

impl Serialize for CanonicalTmpfs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.size.is_none() && self.mode.is_none() {
            return serializer.serialize_str(&self.path);
        }
        TmpfsWithOptions {
            path: &self.path,
            size: self.size.as_ref(),
            mode: self.mode.as_ref(),
        }
        .serialize(serializer)
    }
}

/// json-file log rotation as Docker gets it: a manifest's `logging` with its defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRotation {
    pub max_size: Size,
    pub max_files: LogFiles,
}

impl From<&LoggingSpec> for LogRotation {
    fn from(logging: &LoggingSpec) -> Self {
        LogRotation {
            max_size: logging.max_size(),
            max_files: logging.max_files(),
        }
    }
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation::from(&LoggingSpec::default())
    }
}

/// For `skip_serializing_if`: a `false` flag is left out of a written document.
fn is_false(value: &bool) -> bool {
    !value
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalPort {
    pub container_port: u16,
    /// The host port; absent for a port that is not published on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub protocol: String,
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    /// How a swarm publishes the port, as written; left out when not written, so ports keep
    /// their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalVolume {
    /// A bind mount's host folder; exactly one of `host_path` and `name` is set, and the absent
    /// one is left out, so bind mounts keep their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// A named volume as the manifest names it (`data`), not its Docker name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub container_path: String,
    pub read_only: bool,
    /// `shared` or `private`; left out when absent, so volumes keep their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<Selinux>,
    /// A bind mount's propagation; left out when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<Propagation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalBuild {
    pub context: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub build_mode: BuildMode,
    /// Left out when absent, so specs without a target keep their `v1` hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A repository file mounted into the container: its mode and the SHA-256 of its content, which
/// the label records, and the content itself, which only the node's file writer reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CanonicalFile {
    pub mode: String,
    pub sha256: String,
    #[serde(skip)]
    pub content: FileContent,
}

/// The bytes of a repository file; `Debug` shows their length only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FileContent(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for FileContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// A key of `secrets.yaml` mounted as a file: the label records its fingerprint only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CanonicalSecretFile {
    pub key: String,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub value: SecretValue,
}

/// An environment value; secrets serialize as their fingerprint, never as plaintext.
#[derive(Clone, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    Secret(SecretValue),
}

impl EnvValue {
    /// The value the container receives.
    pub fn plaintext(&self) -> &str {
        match self {
            EnvValue::Plain(value) => value,
            EnvValue::Secret(secret) => secret.plaintext(),
        }
    }
}

impl std::fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::Plain(value) => write!(f, "{value:?}"),
            EnvValue::Secret(secret) => secret.fmt(f),
        }
    }
}

impl Serialize for EnvValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EnvValue::Plain(value) => serializer.serialize_str(value),
            EnvValue::Secret(secret) => serializer.serialize_str(secret.fingerprint()),
        }
    }
}

/// A decrypted secret: the plaintext a container receives, and the fingerprint that labels,
/// plans, `changes` and `Debug` show instead.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    plaintext: String,
    fingerprint: String,
}

impl SecretValue {
    pub fn new(plaintext: String, key: &FingerprintKey) -> Self {
        SecretValue {
            fingerprint: key.fingerprint(&plaintext),
            plaintext,
        }
    }

    pub fn plaintext(&self) -> &str {
        &self.plaintext
    }

    /// `secret:` + 12 hex digits, see [`FingerprintKey::fingerprint`].
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.fingerprint)
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.fingerprint)
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The label that derives a fingerprint key from a SOPS data key: the data key itself only ever
/// encrypts, and a later scheme gets a new label.
const FINGERPRINT_KEY_LABEL: &[u8] = b"orun secret fingerprint v1";

/// The key of secret fingerprints, derived from the SOPS data key of `secrets.yaml`
/// (`sops::DataKey::fingerprint_key`). Without the data key a fingerprint cannot be computed, so
/// reading one from a label or `/status` does not let anyone test guesses of a weak secret; with
/// the same `secrets.yaml` the same value always has the same fingerprint, so an unchanged secret
/// does not recreate its container.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintKey([u8; 32]);

impl FingerprintKey {
    /// HMAC-SHA256 of [`FINGERPRINT_KEY_LABEL`] keyed by `data_key`.
    pub(crate) fn derive(data_key: &[u8; 32]) -> Self {
        let mut mac = HmacSha256::new_from_slice(data_key).expect("HMAC takes any key length");
        mac.update(FINGERPRINT_KEY_LABEL);
        FingerprintKey(mac.finalize().into_bytes().into())
    }

    /// `secret:` + the first 12 hex digits of HMAC-SHA256 of `secret` under this key.
    pub fn fingerprint(&self, secret: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(secret.as_bytes());
        let digest = format!("{:x}", mac.finalize().into_bytes());
        format!("secret:{}", &digest[..12])
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(redacted)")
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl CanonicalSpec {
    /// Compact JSON in canonical key order, secrets as fingerprints: the `run.orcra.dev/spec` label.
    pub fn to_label_json(&self) -> String {
        serde_json::to_string(self).expect("canonical spec serializes")
    }

    /// `v1:` + hex SHA-256 of the label JSON. Hashing the fingerprinted form keeps plaintext out
    /// of the hash while a changed secret still changes the hash; a spec without secrets hashes
    /// the same whatever key fingerprints secrets.
    pub fn hash(&self) -> String {
        hash_label_json(&self.to_label_json())
    }

    /// Environment as `NAME=value` with plaintext values, as Docker takes it.
    pub fn env_list(&self) -> Vec<String> {
        self.env
            .iter()
            .map(|(name, value)| format!("{name}={}", value.plaintext()))
            .collect()
    }
}

pub fn hash_label_json(json: &str) -> String {
    format!("{HASH_SCHEME}{}", sha256_hex(json.as_bytes()))
}

/// The complete label set a container gets (docs/manifests.md), given the spec's label JSON and
/// the deployment's own `labels` (which validation keeps out of orun's prefix).
pub fn labels(
    environment: &str,
    deployment: &str,
    spec_json: String,
    commit: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = extra.clone();
    labels.extend([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY_ORUN.to_string()),
        (LABEL_ENVIRONMENT.to_string(), environment.to_string()),
        (LABEL_DEPLOYMENT.to_string(), deployment.to_string()),
        (LABEL_SPEC_HASH.to_string(), hash_label_json(&spec_json)),
        (LABEL_SPEC.to_string(), spec_json),
        (LABEL_COMMIT.to_string(), commit.to_string()),
    ]);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(env: &[(&str, EnvValue)]) -> CanonicalSpec {
        CanonicalSpec {
            image: "nginx:alpine".into(),
            command: None,
            ports: vec![],
            volumes: vec![],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            stop_timeout: Duration::from_secs(10),
            build: None,
            network: NetworkMode::Environment,
            tmpfs: vec![],
            files: BTreeMap::new(),
            secret_files: BTreeMap::new(),
            networks: None,
            settings: ContainerSettings::default(),
        }
    }

    #[test]
    fn label_json_has_fixed_key_order() {
        let spec = spec(&[("A", EnvValue::Plain("1".into()))]);
        let json = spec.to_label_json();
        assert_eq!(
            json,
            r#"{"image":"nginx:alpine","command":null,"ports":[],"volumes":[],"env":{"A":"1"},"stopTimeout":"10s","build":null,"network":"environment","logging":{"maxSize":"10m","maxFiles":3}}"#
        );
    }

    #[test]
    fn settings_enter_the_spec_only_when_set() {
        let mut with_init = spec(&[]);
        with_init.settings.init = true;
        with_init.settings.cap_add = vec!["NET_ADMIN".into()];
        let json = with_init.to_label_json();
        assert!(
            json.ends_with(
                r#""capAdd":["NET_ADMIN"],"init":true,"logging":{"maxSize":"10m","maxFiles":3}}"#
            ),
            "{json}"
        );
        assert_ne!(with_init.hash(), spec(&[]).hash());
    }

    #[test]
    fn host_access_and_mount_options_enter_the_spec_only_when_set() {
        let plain = spec(&[]);
        let mut with = spec(&[]);
        with.settings.tty = true;
        with.settings.ulimits = BTreeMap::from([(
            "nofile".to_string(),
            CanonicalUlimit {
                soft: 1024,
                hard: -1,
            },
        )]);
        with.settings.gpus = Some(Gpus::All);
        with.tmpfs = vec![CanonicalTmpfs {
            path: "/cache".into(),
            size: Some(Size::parse("8Mi").unwrap()),
            mode: Some(TmpfsMode::parse("1777").unwrap()),
        }];
        let json = with.to_label_json();
        assert!(
            json.contains(r#""tmpfs":[{"path":"/cache","size":"8Mi","mode":"1777"}]"#)
                && json.ends_with(
                    r#""tty":true,"ulimits":{"nofile":{"soft":1024,"hard":-1}},"gpus":"all","logging":{"maxSize":"10m","maxFiles":3}}"#
                ),
            "{json}"
        );
        assert_ne!(with.hash(), plain.hash());
    }

    fn key(byte: u8) -> FingerprintKey {
        FingerprintKey::derive(&[byte; 32])
    }

    fn secret(value: &str) -> EnvValue {
        EnvValue::Secret(SecretValue::new(value.into(), &key(7)))
    }

    #[test]
    fn secrets_appear_only_as_fingerprints() {
        let secret_spec = spec(&[("TOKEN", secret("hunter2"))]);
        let json = secret_spec.to_label_json();
        assert!(!json.contains("hunter2"));
        let fingerprint = key(7).fingerprint("hunter2");
        assert!(json.contains(&fingerprint));
        assert_eq!(fingerprint.len(), "secret:".len() + 12);
        assert!(!format!("{secret_spec:?}").contains("hunter2"));
        let changed = spec(&[("TOKEN", secret("hunter3"))]);
        assert_ne!(secret_spec.hash(), changed.hash());
        assert!(secret_spec.hash().starts_with("v1:"));
        assert_eq!(secret_spec.env_list(), vec!["TOKEN=hunter2".to_string()]);
    }

    #[test]
    fn fingerprints_are_keyed_by_the_data_key_and_stable_for_it() {
        // Pinned: a different value here recreates every container with a secret.
        assert_eq!(key(7).fingerprint("hunter2"), "secret:d670505dfe84");
        assert_eq!(key(7).fingerprint("hunter2"), key(7).fingerprint("hunter2"));
        assert_ne!(key(7).fingerprint("hunter2"), key(8).fingerprint("hunter2"));
        let unsalted = format!("secret:{}", &sha256_hex(b"hunter2")[..12]);
        assert_ne!(key(7).fingerprint("hunter2"), unsalted);
        assert_eq!(format!("{:?}", key(7)), "FingerprintKey(redacted)");
    }

    #[test]
    fn specs_without_secrets_keep_their_hash() {
        let plain = spec(&[("A", EnvValue::Plain("1".into()))]);
        assert_eq!(
            plain.hash(),
            "v1:3473df726a79991e9de0f16ebc6d57ded6251e299ba492deec9bf1db3713ae99"
        );
    }

    #[test]
    fn bind_mounts_keep_their_label_form_and_named_volumes_show_their_name() {
        let volume = |host_path: Option<&str>, name: Option<&str>| CanonicalVolume {
            host_path: host_path.map(str::to_string),
            name: name.map(str::to_string),
            container_path: "/data".into(),
            read_only: false,
            selinux: None,
            propagation: None,
        };
        let mut with_volumes = spec(&[]);
        with_volumes.volumes = vec![volume(Some("/srv/data"), None), volume(None, Some("data"))];
        with_volumes.tmpfs = vec![CanonicalTmpfs {
            path: "/tmp".into(),
            size: None,
            mode: None,
        }];
        let json = with_volumes.to_label_json();
        assert!(json.contains(r#""volumes":[{"hostPath":"/srv/data","containerPath":"/data","readOnly":false},{"name":"data","containerPath":"/data","readOnly":false}]"#), "{json}");
        assert!(
            json.contains(r#""network":"environment","tmpfs":["/tmp"],"logging""#),
            "{json}"
        );
    }
}
