//! The canonical container spec (docs/plans.md), its versioned hash, the label set of docs/manifests.md, and
//! secret fingerprints. It does not decide whether a container must change (see `plan`).

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::duration::Duration;
use crate::manifest::BuildMode;

pub const LABEL_MANAGED_BY: &str = "run.orcra.dev/managed-by";
pub const LABEL_ENVIRONMENT: &str = "run.orcra.dev/environment";
pub const LABEL_DEPLOYMENT: &str = "run.orcra.dev/deployment";
pub const LABEL_SPEC_HASH: &str = "run.orcra.dev/spec-hash";
pub const LABEL_SPEC: &str = "run.orcra.dev/spec";
pub const LABEL_COMMIT: &str = "run.orcra.dev/commit";
pub const MANAGED_BY_ORUN: &str = "orun";

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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalPort {
    pub container_port: u16,
    pub port: u16,
    pub protocol: String,
    #[serde(rename = "hostIP")]
    pub host_ip: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalVolume {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
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

/// An environment value; secrets serialize as their fingerprint, never as plaintext.
#[derive(Clone, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    Secret(String),
}

impl EnvValue {
    /// The value the container receives.
    pub fn plaintext(&self) -> &str {
        match self {
            EnvValue::Plain(value) | EnvValue::Secret(value) => value,
        }
    }
}

impl std::fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::Plain(value) => write!(f, "{value:?}"),
            EnvValue::Secret(value) => f.write_str(&fingerprint(value)),
        }
    }
}

impl Serialize for EnvValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EnvValue::Plain(value) => serializer.serialize_str(value),
            EnvValue::Secret(value) => serializer.serialize_str(&fingerprint(value)),
        }
    }
}

/// `secret:` + the first 12 hex digits of the value's SHA-256.
pub fn fingerprint(secret: &str) -> String {
    format!("secret:{}", &sha256_hex(secret.as_bytes())[..12])
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
    /// of the hash while a changed secret still changes the hash.
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

/// The complete label set a container gets (docs/manifests.md), given the spec's label JSON.
pub fn labels(
    environment: &str,
    deployment: &str,
    spec_json: String,
    commit: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY_ORUN.to_string()),
        (LABEL_ENVIRONMENT.to_string(), environment.to_string()),
        (LABEL_DEPLOYMENT.to_string(), deployment.to_string()),
        (LABEL_SPEC_HASH.to_string(), hash_label_json(&spec_json)),
        (LABEL_SPEC.to_string(), spec_json),
        (LABEL_COMMIT.to_string(), commit.to_string()),
    ])
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
        }
    }

    #[test]
    fn label_json_has_fixed_key_order() {
        let spec = spec(&[("A", EnvValue::Plain("1".into()))]);
        let json = spec.to_label_json();
        assert_eq!(
            json,
            r#"{"image":"nginx:alpine","command":null,"ports":[],"volumes":[],"env":{"A":"1"},"stopTimeout":"10s","build":null}"#
        );
    }

    #[test]
    fn secrets_appear_only_as_fingerprints() {
        let secret = spec(&[("TOKEN", EnvValue::Secret("hunter2".into()))]);
        let json = secret.to_label_json();
        assert!(!json.contains("hunter2"));
        assert!(json.contains(&fingerprint("hunter2")));
        assert_eq!(fingerprint("hunter2").len(), "secret:".len() + 12);
        assert!(!format!("{secret:?}").contains("hunter2"));
        let changed = spec(&[("TOKEN", EnvValue::Secret("hunter3".into()))]);
        assert_ne!(secret.hash(), changed.hash());
        assert!(secret.hash().starts_with("v1:"));
        assert_eq!(secret.env_list(), vec!["TOKEN=hunter2".to_string()]);
    }
}
