//! Which keys of `secrets.yaml` a deployment's container gets (docs/secrets.md): never the node's
//! own keys — those a Node setting reads, such as a notification's `urlFrom` or the commit
//! status's `tokenFrom` — and of the others what its `secretEnv` asks for. It neither decrypts (see `secrets`) nor builds the environment
//! (see `desired`).

use std::collections::BTreeMap;

use crate::error::{Finding, Level, ManifestError};
use crate::manifest::{DeploymentSpec, Manifest, Manifests, NodeSpec, SecretEnv};
use crate::secrets::SECRETS_FILE;
use crate::spec::SecretValue;

/// What resolution does with a key of `secrets.yaml` that a `secretFiles` entry or a `secretEnv`
/// list names but the decrypted pairs lack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKeys {
    /// An error at the entry: a node, `orun plan` and `orun apply` refuse the revision.
    #[default]
    Refused,
    /// Left out of the container: `orun validate` of a repository that has no `secrets.yaml`
    /// yet, which reports each such key as a warning instead (see `secret_env::awaited`).
    Awaited,
}

/// The keys of `secrets.yaml` that Node settings read, each with the first setting reading it
/// (`nodes/a.yaml: spec.notifications[0].urlFrom`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeKeys(BTreeMap<String, String>);

impl NodeKeys {
    /// The keys every Node of `manifests` reads, whichever node the revision is resolved for: a
    /// key one node keeps to itself is no deployment's on any node.
    pub fn of(manifests: &Manifests) -> Self {
        manifests
            .nodes
            .values()
            .fold(NodeKeys::default(), |keys, node| {
                keys.and(&NodeKeys::of_node(node))
            })
    }

    /// The keys the settings of `node` read: a node's `--config` file, or a Node of a revision.
    pub fn of_node(node: &Manifest<NodeSpec>) -> Self {
        let mut keys = BTreeMap::new();
        for (index, notification) in node.spec.notifications.iter().enumerate() {
            if let Some(key) = &notification.url_from {
                keys.entry(key.clone()).or_insert_with(|| {
                    format!("{}: spec.notifications[{index}].urlFrom", node.file)
                });
            }
        }
        if let Some(commit_status) = &node.spec.commit_status {
            keys.entry(commit_status.token_from.clone())
                .or_insert_with(|| format!("{}: spec.commitStatus.tokenFrom", node.file));
        }
        NodeKeys(keys)
    }

    /// These keys and `other`'s; a key both read keeps its reader here.
    pub fn and(mut self, other: &NodeKeys) -> Self {
        for (key, reader) in &other.0 {
            self.0.entry(key.clone()).or_insert_with(|| reader.clone());
        }
        self
    }

    /// The setting that reads `key`, if a Node setting does.
    pub fn reader(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// The pairs of `shared` (the pairs of `secrets.yaml`) that `deployment` gets, by its
/// `secretEnv`, without the node's keys; or every `secretEnv` entry naming a key the file lacks
/// (unless `missing` awaits it, which leaves it out), a node's key, or a key already listed.
pub fn scoped<'a>(
    deployment: &Manifest<DeploymentSpec>,
    shared: &'a BTreeMap<String, SecretValue>,
    node_keys: &NodeKeys,
    missing: MissingKeys,
) -> Result<BTreeMap<&'a str, &'a SecretValue>, Vec<ManifestError>> {
    let keys = match &deployment.spec.secret_env {
        SecretEnv::None => return Ok(BTreeMap::new()),
        SecretEnv::All => {
            return Ok(shared
                .iter()
                .filter(|(key, _)| node_keys.reader(key).is_none())
                .map(|(key, value)| (key.as_str(), value))
                .collect())
        }
        SecretEnv::Keys(keys) => keys,
    };
    let mut scoped = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let problem = match (shared.get_key_value(key), node_keys.reader(key)) {
            (_, Some(reader)) => format!(
                "{key} is read by {reader}: it is the node's own and never given to containers"
            ),
            (None, None) if missing == MissingKeys::Awaited => continue,
            (None, None) => format!("{SECRETS_FILE} has no key {key}"),
            (Some((name, value)), None) => match scoped.insert(name.as_str(), value) {
                None => continue,
                Some(_) => format!("{key} is listed twice"),
            },
        };
        errors.push(ManifestError::new(
            &deployment.file,
            Some(&format!("spec.secretEnv[{index}]")),
            problem,
        ));
    }
    if errors.is_empty() {
        Ok(scoped)
    } else {
        Err(errors)
    }
}

/// A warning for every key that a `secretFiles` entry or a `secretEnv` list of a deployment or
/// job names, for a repository that has no `secrets.yaml` yet: the revision validates, but a node
/// refuses it until each key is added. The node's own keys are left to resolution, which refuses
/// them anyway.
pub fn awaited(manifests: &Manifests, node_keys: &NodeKeys) -> Vec<Finding> {
    let deployments = manifests.deployments.values().map(|deployment| {
        (
            &deployment.file,
            &deployment.spec.container.secret_files,
            &deployment.spec.secret_env,
        )
    });
    let jobs = manifests.jobs.values().map(|job| {
        (
            &job.file,
            &job.spec.container.secret_files,
            &job.spec.secret_env,
        )
    });
    let mut findings = Vec::new();
    for (file, secret_files, secret_env) in deployments.chain(jobs) {
        let listed = match secret_env {
            SecretEnv::Keys(keys) => keys.as_slice(),
            SecretEnv::All | SecretEnv::None => &[],
        };
        let named = secret_files
            .iter()
            .enumerate()
            .map(|(index, mount)| (format!("spec.secretFiles[{index}].key"), mount.key.as_str()))
            .chain(
                listed
                    .iter()
                    .enumerate()
                    .map(|(index, key)| (format!("spec.secretEnv[{index}]"), key.as_str())),
            );
        for (field, key) in named {
            if node_keys.reader(key).is_none() {
                findings.push(Finding {
                    level: Level::Warning,
                    file: file.clone(),
                    field,
                    message: format!(
                        "{key} is not in {SECRETS_FILE}, which the repository does not have yet: a node refuses this revision until the key is added (create secrets.yaml with sops)"
                    ),
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load, SourceFile};
    use crate::sops::DataKey;

    fn revision(secret_env: &str) -> Manifests {
        let file = |path: &str, kind: &str, spec: &str| {
            SourceFile {
            path: path.into(),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: {kind}\nmetadata:\n  name: a\nspec:\n{spec}"
            ),
        }
        };
        load(&[
            file(
                "nodes/a.yaml",
                "Node",
                "  host: a\n  gitRepo: /srv/infra.git\n  notifications:\n    - url: https://example.com/hook\n    - urlFrom: SLACK_URL\n",
            ),
            file(
                "deployments/a.yaml",
                "Deployment",
                &format!("  image: nginx\n{secret_env}"),
            ),
        ])
        .unwrap()
    }

    fn shared() -> BTreeMap<String, SecretValue> {
        let key = DataKey::new([7; 32]).fingerprint_key();
        ["DB_PASSWORD", "SLACK_URL", "SMTP_TOKEN"]
            .into_iter()
            .map(|name| (name.to_string(), SecretValue::new("v".into(), &key)))
            .collect()
    }

    /// The keys deployment `a` gets with `secret_env`, or its errors as printed.
    fn keys(secret_env: &str) -> Result<Vec<String>, Vec<String>> {
        let manifests = revision(secret_env);
        let shared = shared();
        scoped(
            &manifests.deployments["a"],
            &shared,
            &NodeKeys::of(&manifests),
            MissingKeys::Refused,
        )
        .map(|scoped| scoped.keys().map(ToString::to_string).collect())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn all_gives_every_key_but_the_node_s_own() {
        assert_eq!(keys("").unwrap(), ["DB_PASSWORD", "SMTP_TOKEN"]);
        assert_eq!(
            keys("  secretEnv: all\n").unwrap(),
            ["DB_PASSWORD", "SMTP_TOKEN"]
        );
    }

    #[test]
    fn the_keys_of_the_node_s_config_file_are_its_own_too() {
        let manifests = revision("");
        let config = crate::load::load_node(&SourceFile {
            path: "/opt/orun/node.yaml".into(),
            text: "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: a\nspec:\n  host: a\n  gitRepo: /srv/infra.git\n  notifications:\n    - urlFrom: SMTP_TOKEN\n".into(),
        })
        .unwrap();
        let node_keys = NodeKeys::of(&manifests).and(&NodeKeys::of_node(&config));
        assert_eq!(
            node_keys.reader("SMTP_TOKEN"),
            Some("/opt/orun/node.yaml: spec.notifications[0].urlFrom")
        );
        let shared = shared();
        let scoped = scoped(
            &manifests.deployments["a"],
            &shared,
            &node_keys,
            MissingKeys::Refused,
        )
        .unwrap();
        assert_eq!(scoped.keys().collect::<Vec<_>>(), [&"DB_PASSWORD"]);
    }

    #[test]
    fn the_commit_status_token_is_the_node_s_own() {
        let config = crate::load::load_node(&SourceFile {
            path: "nodes/a.yaml".into(),
            text: "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: a\nspec:\n  host: a\n  gitRepo: /srv/infra.git\n  commitStatus:\n    provider: github\n    api: https://api.github.com\n    tokenFrom: SMTP_TOKEN\n".into(),
        })
        .unwrap();
        assert_eq!(
            NodeKeys::of_node(&config).reader("SMTP_TOKEN"),
            Some("nodes/a.yaml: spec.commitStatus.tokenFrom")
        );
        let manifests = revision("");
        let node_keys = NodeKeys::of(&manifests).and(&NodeKeys::of_node(&config));
        let shared = shared();
        let scoped = scoped(
            &manifests.deployments["a"],
            &shared,
            &node_keys,
            MissingKeys::Refused,
        )
        .unwrap();
        assert_eq!(scoped.keys().collect::<Vec<_>>(), [&"DB_PASSWORD"]);
    }

    #[test]
    fn none_gives_nothing_and_a_list_only_its_keys() {
        assert!(keys("  secretEnv: none\n").unwrap().is_empty());
        assert_eq!(keys("  secretEnv: [SMTP_TOKEN]\n").unwrap(), ["SMTP_TOKEN"]);
    }

    #[test]
    fn a_listed_key_must_be_in_the_file_once_and_not_the_node_s() {
        assert_eq!(
            keys("  secretEnv: [DB_PASSWORD, MISSING, SLACK_URL, DB_PASSWORD]\n").unwrap_err(),
            [
                "deployments/a.yaml: spec.secretEnv[1]: secrets.yaml has no key MISSING",
                "deployments/a.yaml: spec.secretEnv[2]: SLACK_URL is read by nodes/a.yaml: spec.notifications[1].urlFrom: it is the node's own and never given to containers",
                "deployments/a.yaml: spec.secretEnv[3]: DB_PASSWORD is listed twice",
            ]
        );
    }

    #[test]
    fn awaited_keys_are_left_out_and_warned_about_but_not_the_node_s() {
        let manifests =
            revision("  secretEnv: [MISSING, SLACK_URL]\n  secretFiles:\n    - key: DB_FILE\n");
        let node_keys = NodeKeys::of(&manifests);
        let deployment = &manifests.deployments["a"];
        let shared = shared();
        let errors = scoped(deployment, &shared, &node_keys, MissingKeys::Awaited).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].to_string().contains("SLACK_URL is read by"));
        let warnings: Vec<String> = awaited(&manifests, &node_keys)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            warnings,
            [
                "deployments/a.yaml: spec.secretFiles[0].key: DB_FILE is not in secrets.yaml, which the repository does not have yet: a node refuses this revision until the key is added (create secrets.yaml with sops)",
                "deployments/a.yaml: spec.secretEnv[0]: MISSING is not in secrets.yaml, which the repository does not have yet: a node refuses this revision until the key is added (create secrets.yaml with sops)",
            ]
        );
    }
}
