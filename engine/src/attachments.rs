//! What a container's `files`, `secretFiles` and `networks` resolve to (docs/manifests.md): the
//! files with their content's SHA-256, the secret files with their values' fingerprints, the
//! networks with their aliases; and the names the node gives the files it writes for them, and
//! which of those files containers still use. It reads no file (the revision's source hands the
//! contents in) and writes none (the node's file writer does).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ManifestError;
use crate::manifest::{ContainerFields, NetworkJoin, User, DEFAULT_NETWORK};
use crate::secret_env::{MissingKeys, NodeKeys};
use crate::secrets::SECRETS_FILE;
use crate::spec::{sha256_hex, CanonicalFile, CanonicalSecretFile, FileContent, SecretValue};

/// The largest repository file `files` may mount: 1 MiB.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// A repository file's content as the revision's source read it, with its SHA-256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositoryFile {
    pub sha256: String,
    pub content: FileContent,
}

impl RepositoryFile {
    pub fn new(content: Vec<u8>) -> Self {
        RepositoryFile {
            sha256: sha256_hex(&content),
            content: FileContent(content.into()),
        }
    }
}

/// The repository files a revision's containers mount, by `source` as written.
pub type RepositoryFiles = BTreeMap<String, RepositoryFile>;

/// `files` by target: the content `contents` holds for each source, with its mode.
pub fn files_of(
    file: &str,
    container: &ContainerFields,
    contents: &RepositoryFiles,
) -> Result<BTreeMap<String, CanonicalFile>, Vec<ManifestError>> {
    let mut files = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, mount) in container.files.iter().enumerate() {
        match contents.get(mount.source.as_str()) {
            Some(read) => {
                files.insert(
                    mount.target.to_string(),
                    CanonicalFile {
                        mode: mount.mode.to_string(),
                        sha256: read.sha256.clone(),
                        content: read.content.clone(),
                    },
                );
            }
            None => errors.push(ManifestError::new(
                file,
                Some(&format!("spec.files[{index}].source")),
                format!("{} was not read from the repository", mount.source),
            )),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// `secretFiles` by target, each value from `shared` (the pairs of `secrets.yaml`); a key of the
/// node's own is an error at its entry, and so is an unknown one unless `missing` awaits it,
/// which leaves its entry out. Owner and group default to those of a
/// numeric `user` (`1000`, `1000:1000`), else root.
pub fn secret_files_of(
    file: &str,
    container: &ContainerFields,
    shared: &BTreeMap<String, SecretValue>,
    node_keys: &NodeKeys,
    missing: MissingKeys,
) -> Result<BTreeMap<String, CanonicalSecretFile>, Vec<ManifestError>> {
    let (user_uid, user_gid) = numeric_user(container.user.as_ref());
    let mut secret_files = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, mount) in container.secret_files.iter().enumerate() {
        let key = mount.key.as_str();
        let value = match (shared.get(key), node_keys.reader(key)) {
            (_, Some(reader)) => Err(format!(
                "{key} is read by {reader}: it is the node's own and never given to containers"
            )),
            (None, None) if missing == MissingKeys::Awaited => continue,
            (None, None) => Err(format!("{SECRETS_FILE} has no key {key}")),
            (Some(value), None) => Ok(value),
        };
        match value {
            Ok(value) => {
                let uid = mount.uid.or(user_uid).unwrap_or(0);
                secret_files.insert(
                    mount.target(),
                    CanonicalSecretFile {
                        key: key.to_string(),
                        mode: mount.mode.to_string(),
                        uid,
                        gid: mount.gid.or(user_gid).or(mount.uid).unwrap_or(0),
                        value: value.clone(),
                    },
                );
            }
            Err(problem) => errors.push(ManifestError::new(
                file,
                Some(&format!("spec.secretFiles[{index}].key")),
                problem,
            )),
        }
    }
    if errors.is_empty() {
        Ok(secret_files)
    } else {
        Err(errors)
    }
}

/// The uid and gid of a `user` written as numbers.
fn numeric_user(user: Option<&User>) -> (Option<u32>, Option<u32>) {
    let Some(user) = user else {
        return (None, None);
    };
    let text = user.to_string();
    let (uid, gid) = match text.split_once(':') {
        Some((uid, gid)) => (uid.to_string(), Some(gid.to_string())),
        None => (text, None),
    };
    (uid.parse().ok(), gid.and_then(|gid| gid.parse().ok()))
}

/// `networks` as the spec records it: name → sorted aliases; `None` for the environment network
/// alone (the field absent, or `[default]`), so that such a container keeps its hash.
pub fn networks_of(networks: Option<&Vec<NetworkJoin>>) -> Option<BTreeMap<String, Vec<String>>> {
    let joined: BTreeMap<String, Vec<String>> = networks?
        .iter()
        .map(|join| {
            let mut aliases: Vec<String> = join.aliases.iter().map(ToString::to_string).collect();
            aliases.sort();
            aliases.dedup();
            (join.name.to_string(), aliases)
        })
        .collect();
    let environment_only =
        joined.len() == 1 && joined.get(DEFAULT_NETWORK).is_some_and(Vec::is_empty);
    (!environment_only).then_some(joined)
}

/// The name of the node's copy of a repository file: its content's SHA-256 and its mode, so one
/// copy serves every container mounting that content with that mode.
pub fn file_name(file: &CanonicalFile) -> String {
    copy_name(&file.sha256, &file.mode)
}

fn copy_name(sha256: &str, mode: &str) -> String {
    format!("{sha256}-{mode}")
}

/// The name of the tmpfs copy of a secret file: its value's fingerprint (never the value), mode
/// and owner, so that a changed value, mode or owner is a new file.
pub fn secret_file_name(file: &CanonicalSecretFile) -> String {
    secret_copy_name(file.value.fingerprint(), &file.mode, file.uid, file.gid)
}

fn secret_copy_name(fingerprint: &str, mode: &str, uid: u32, gid: u32) -> String {
    let digits = fingerprint.strip_prefix("secret:").unwrap_or(fingerprint);
    format!("{digits}-{mode}-{uid}-{gid}")
}

/// The names of the file copies the spec labels `labels` (`run.orcra.dev/spec` of containers)
/// mount: repository files and secret files. A label that cannot be read names none.
pub fn names_in_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> MountedNames {
    let mut names = MountedNames::default();
    for label in labels {
        let Ok(spec) = serde_json::from_str::<LabelMounts>(label) else {
            continue;
        };
        for file in spec.files.values() {
            names.files.insert(copy_name(&file.sha256, &file.mode));
        }
        for file in spec.secret_files.values() {
            names.secret_files.insert(secret_copy_name(
                &file.value,
                &file.mode,
                file.uid,
                file.gid,
            ));
        }
    }
    names
}

/// The names of the file copies containers mount, which a clean-up keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountedNames {
    pub files: BTreeSet<String>,
    pub secret_files: BTreeSet<String>,
}

/// The parts of a spec label that name file copies.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelMounts {
    #[serde(default)]
    files: BTreeMap<String, LabelFile>,
    #[serde(default)]
    secret_files: BTreeMap<String, LabelSecretFile>,
}

#[derive(serde::Deserialize)]
struct LabelFile {
    mode: String,
    sha256: String,
}

#[derive(serde::Deserialize)]
struct LabelSecretFile {
    mode: String,
    uid: u32,
    gid: u32,
    value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::FingerprintKey;

    #[test]
    fn a_label_names_the_copies_a_desired_spec_writes() {
        let file = CanonicalFile {
            mode: "0444".into(),
            sha256: "ab".repeat(32),
            content: FileContent::default(),
        };
        let key = FingerprintKey::derive(&[1; 32]);
        let secret = CanonicalSecretFile {
            key: "PASSWORD".into(),
            mode: "0400".into(),
            uid: 70,
            gid: 70,
            value: SecretValue::new("hunter2".into(), &key),
        };
        let label = serde_json::json!({
            "image": "x",
            "files": {"/etc/a.conf": &file},
            "secretFiles": {"/run/secrets/PASSWORD": &secret},
        })
        .to_string();
        assert!(!label.contains("hunter2"));
        let names = names_in_labels([label.as_str(), "not json"]);
        assert_eq!(names.files, BTreeSet::from([file_name(&file)]));
        assert_eq!(
            names.secret_files,
            BTreeSet::from([secret_file_name(&secret)])
        );
    }

    #[test]
    fn the_environment_network_alone_is_no_networks_field() {
        let joins: Vec<NetworkJoin> = serde_yaml::from_str("[default]").unwrap();
        assert_eq!(networks_of(Some(&joins)), None);
        assert_eq!(networks_of(None), None);
        let joins: Vec<NetworkJoin> =
            serde_yaml::from_str("[{name: backend, aliases: [pg, db, db]}, default]").unwrap();
        let joined = networks_of(Some(&joins)).unwrap();
        assert_eq!(joined["backend"], ["db", "pg"]);
        assert!(joined["default"].is_empty());
    }
}
