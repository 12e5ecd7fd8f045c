//! The one pipeline from a revision's files to the desired state of one node: load the manifests,
//! choose the node and its environment, cut the node's share, check it against the node's
//! operator policy, hash the build contexts of the share, take the secrets, resolve, find the
//! node's notification receivers. The CLI, the daemon and the plan-case tests all call it. It
//! reads nothing itself: a [`RevisionSource`] hands it the files, so it stays free of I/O.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::attachments::{RepositoryFile, RepositoryFiles, MAX_FILE_BYTES};
use crate::build::{image_tag, BuildInputs, ContextFile};
use crate::commit_status;
use crate::desired::{resolve_with, DesiredState, MissingKeys, ResolveInput, Secrets};
use crate::environment::{Environment, EnvironmentError};
use crate::error::ManifestErrors;
use crate::load::{load, SourceFile};
use crate::manifest::{
    BuildSpec, InnerPath, Manifest, Manifests, NodeEngine, NodeLabels, NodePolicy, NodeSpec, Text,
};
use crate::notify::{receivers, Receiver};
use crate::placement::{self, listed};
use crate::policy;
use crate::secret_env::NodeKeys;

/// Where a revision's files come from: a work tree, the node's clone, a test case folder.
pub trait RevisionSource {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every candidate manifest: the files under `nodes/`, `deployments/`, `services/` and `jobs/`, with
    /// paths relative to the repository root.
    fn manifest_files(&self) -> Result<Vec<SourceFile>, Self::Error>;

    /// The files of `build`'s context as the builder would receive them. `node` is the selected
    /// node's manifest, whose `codeDir` may say where contexts live.
    fn build_context(
        &self,
        node: Option<&NodeSpec>,
        build: &BuildSpec,
    ) -> Result<Vec<ContextFile>, Self::Error>;

    /// The content of `path`, a file of the repository that a deployment's `files` mounts: a
    /// regular file inside the repository, at most [`MAX_FILE_BYTES`] long.
    fn repository_file(&self, path: &InnerPath) -> Result<Vec<u8>, Self::Error>;

    /// The revision's decrypted secrets; `node` is the selected node's manifest, whose `dataDir`
    /// may say where the age identity lives.
    fn secrets(
        &self,
        manifests: &Manifests,
        node: Option<&NodeSpec>,
    ) -> Result<Secrets, Self::Error>;
}

/// Which node and environment a revision is resolved for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAndEnvironment {
    /// An explicit environment (`--environment`, or the node's own settings): it wins.
    pub environment: Option<Environment>,
    /// The node whose share is resolved and whose manifest in the revision picks the environment
    /// when none is explicit; without one, every deployment is resolved.
    pub node: Option<String>,
    /// A node named in `node` that the revision lacks is an error (`--node`); otherwise the
    /// environment falls back to `branch` and the share is matched by the name alone (a daemon
    /// whose node file is not in the repository).
    pub require_node: bool,
    /// The branch the node tracks; without it the fallback is production.
    pub branch: Option<String>,
    /// The operator policy of the node's `--config` file (docs/node.md), which the share must
    /// keep; a Node manifest's own `policy` in the revision is never read here.
    pub policy: NodePolicy,
    /// The keys of `secrets.yaml` that the node's `--config` file reads (`urlFrom`), kept from
    /// containers like those the revision's Nodes read.
    pub node_keys: NodeKeys,
    /// The engine the node's own settings name, for a node whose manifest the revision lacks;
    /// the revision's manifest wins.
    pub engine: Option<NodeEngine>,
    /// What a key of `secrets.yaml` that the revision names and the file lacks does: refused,
    /// except for `orun validate` of a repository that has no `secrets.yaml` yet.
    pub missing_keys: MissingKeys,
}

/// A valid revision resolved for one node.
#[derive(Clone, Debug)]
pub struct Revision {
    /// Every manifest of the revision, the node's share or not.
    pub manifests: Manifests,
    /// The selected node's manifest, when the revision has it.
    pub node: Option<Manifest<NodeSpec>>,
    pub desired: DesiredState,
    /// The decrypted secrets the revision was resolved with; `notify::receivers` looks a Node's
    /// `urlFrom` up in them.
    pub secrets: Secrets,
    /// The notification receivers of the selected node's manifest; none without it.
    pub receivers: Vec<Receiver>,
    /// Where the selected node's manifest has commit statuses posted; none without it.
    pub commit_status: Option<commit_status::Target>,
}

/// Why a revision yields no desired state. `E` is the source's own error.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Read(E),
    #[error(transparent)]
    Invalid(#[from] ManifestErrors),
    #[error("no Node named {name:?} in nodes/ (found: {})", listed(.known))]
    UnknownNode { name: String, known: Vec<String> },
    #[error("{}: {source}", .origin.as_deref().unwrap_or("environment"))]
    Environment {
        /// The manifest field the environment came from (`nodes/a.yaml: spec.gitBranch`), if any.
        origin: Option<String>,
        source: EnvironmentError,
    },
    #[error("{file}: spec.build.context: {source}")]
    BuildContext { file: String, source: E },
    /// A file a deployment's `files` mounts could not be read; `place` names the deployment's
    /// file and the field (`deployments/web.yaml: spec.files[0].source`).
    #[error("{place}: {error}")]
    File { place: String, error: E },
    #[error("{place}: {path} is larger than {MAX_FILE_BYTES} bytes (1 MiB), the limit for a mounted file")]
    FileTooLarge { place: String, path: String },
    #[error(transparent)]
    Secrets(E),
}

/// Loads and validates the revision's manifests; every problem is reported at once.
pub fn manifests<S: RevisionSource>(source: &S) -> Result<Manifests, RevisionError<S::Error>> {
    let files = source.manifest_files().map_err(RevisionError::Read)?;
    Ok(load(&files)?)
}

/// Loads the revision from `source`, attributed to `commit`, and resolves it for `selection`.
pub fn desired_state<S: RevisionSource>(
    source: &S,
    commit: &str,
    selection: &NodeAndEnvironment,
) -> Result<Revision, RevisionError<S::Error>> {
    let manifests = manifests(source)?;
    let node = select_node(&manifests, selection)?;
    let node_spec = node.as_ref().map(|node| &node.spec);
    let environment = Environment::select(
        selection.environment.as_ref(),
        node_spec,
        selection.branch.as_deref(),
    )
    .map_err(|source| RevisionError::Environment {
        origin: node
            .as_ref()
            .filter(|_| selection.environment.is_none())
            .map(|node| {
                let field = match node.spec.environment {
                    Some(_) => "spec.environment",
                    None => "spec.gitBranch",
                };
                format!("{}: {field}", node.file)
            }),
        source,
    })?;
    let engine = node_spec
        .map(|node| node.engine)
        .or(selection.engine)
        .unwrap_or_default();
    // A swarm schedules every deployment itself: placement becomes its constraints, not a share.
    let share = match engine {
        NodeEngine::Docker => share_of(&manifests, selection.node.as_deref(), node_spec),
        NodeEngine::Swarm => Cow::Borrowed(&manifests),
    };
    let denied = policy::check(&share, &selection.policy);
    if !denied.is_empty() {
        return Err(ManifestErrors(denied).into());
    }
    let build_tags = build_tags(source, &share, node_spec)?;
    let files = repository_files(source, &share)?;
    let secrets = source
        .secrets(&manifests, node_spec)
        .map_err(RevisionError::Secrets)?;
    let input = ResolveInput {
        environment,
        commit: commit.to_string(),
        secrets: &secrets,
        build_tags: &build_tags,
        files: &files,
        missing_keys: selection.missing_keys,
    };
    let mut desired = resolve_with(&share, &input, &selection.node_keys)?;
    desired.node = selection.node.clone();
    desired.engine = engine;
    let receivers = match &node {
        Some(node) => receivers(&node.file, &node.spec.notifications, &secrets.shared)
            .map_err(ManifestErrors)?,
        None => Vec::new(),
    };
    let commit_status = match &node {
        Some(node) => node
            .spec
            .commit_status
            .as_ref()
            .map(|spec| commit_status::target(&node.file, spec, &secrets.shared))
            .transpose()
            .map_err(|error| ManifestErrors(vec![error]))?,
        None => None,
    };
    Ok(Revision {
        manifests,
        node,
        desired,
        secrets,
        receivers,
        commit_status,
    })
}

fn select_node<E: std::error::Error + 'static>(
    manifests: &Manifests,
    selection: &NodeAndEnvironment,
) -> Result<Option<Manifest<NodeSpec>>, RevisionError<E>> {
    let Some(name) = &selection.node else {
        return Ok(None);
    };
    match manifests.nodes.get(name) {
        Some(node) => Ok(Some(node.clone())),
        None if selection.require_node => Err(RevisionError::UnknownNode {
            name: name.clone(),
            known: manifests.nodes.keys().cloned().collect(),
        }),
        None => Ok(None),
    }
}

/// What the node `name` runs: its share, matched by its manifest's labels, or by its name alone
/// when the revision lacks its manifest (a daemon whose node file is not in the repository).
/// Without a node, placement is not applied: every deployment.
fn share_of<'a>(
    manifests: &'a Manifests,
    name: Option<&str>,
    node: Option<&NodeSpec>,
) -> Cow<'a, Manifests> {
    let Some(name) = name else {
        return Cow::Borrowed(manifests);
    };
    let unlabelled = NodeLabels::default();
    let labels = node.map_or(&unlabelled, |node| &node.labels);
    Cow::Owned(placement::share(manifests, name, labels))
}

/// Content-addressed image tags of every build-mode deployment and job of the share.
fn build_tags<S: RevisionSource>(
    source: &S,
    manifests: &Manifests,
    node: Option<&NodeSpec>,
) -> Result<BTreeMap<String, String>, RevisionError<S::Error>> {
    let mut tags = BTreeMap::new();
    for (key, file, container) in manifests.containers() {
        let Some(build) = &container.build else {
            continue;
        };
        let files =
            source
                .build_context(node, build)
                .map_err(|source| RevisionError::BuildContext {
                    file: file.to_string(),
                    source,
                })?;
        let args = build
            .args
            .iter()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect();
        let inputs = BuildInputs {
            files: &files,
            args: &args,
            dockerfile: build.dockerfile.as_str(),
            target: build.target.as_ref().map(Text::as_str),
        };
        let tag = image_tag(&key, &inputs);
        tags.insert(key, tag);
    }
    Ok(tags)
}

/// The content of every file the share's deployments mount, each read once.
fn repository_files<S: RevisionSource>(
    source: &S,
    manifests: &Manifests,
) -> Result<RepositoryFiles, RevisionError<S::Error>> {
    let mut files = RepositoryFiles::new();
    for (_, file, container) in manifests.containers() {
        for (index, mount) in container.files.iter().enumerate() {
            if files.contains_key(mount.source.as_str()) {
                continue;
            }
            let place = format!("{file}: spec.files[{index}].source");
            let content = match source.repository_file(&mount.source) {
                Ok(content) => content,
                Err(error) => return Err(RevisionError::File { place, error }),
            };
            if content.len() > MAX_FILE_BYTES {
                return Err(RevisionError::FileTooLarge {
                    place,
                    path: mount.source.to_string(),
                });
            }
            files.insert(mount.source.to_string(), RepositoryFile::new(content));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::convert::Infallible;

    use super::*;
    use crate::load::SourceFile;

    /// Manifest files in memory; every build context is empty, and the ones read are noted.
    struct Files {
        manifests: Vec<SourceFile>,
        contexts_read: RefCell<Vec<String>>,
    }

    impl RevisionSource for Files {
        type Error = Infallible;

        fn manifest_files(&self) -> Result<Vec<SourceFile>, Infallible> {
            Ok(self.manifests.clone())
        }

        fn build_context(
            &self,
            _: Option<&NodeSpec>,
            build: &BuildSpec,
        ) -> Result<Vec<ContextFile>, Infallible> {
            self.contexts_read
                .borrow_mut()
                .push(build.context.to_string());
            Ok(Vec::new())
        }

        fn repository_file(&self, _: &InnerPath) -> Result<Vec<u8>, Infallible> {
            Ok(Vec::new())
        }

        fn secrets(&self, _: &Manifests, _: Option<&NodeSpec>) -> Result<Secrets, Infallible> {
            Ok(Secrets::default())
        }
    }

    fn file(path: &str, kind: &str, name: &str, spec: &str) -> SourceFile {
        SourceFile {
            path: path.to_string(),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{spec}"
            ),
        }
    }

    /// `web` on nodes labelled `role: web`, `site` (built) on `db-01`, `logs` everywhere.
    fn fleet() -> Files {
        let manifests = vec![
            file(
                "nodes/web-01.yaml",
                "Node",
                "web-01",
                "  host: web-01.internal\n  gitRepo: /srv/infra.git\n  labels: {role: web}\n",
            ),
            file(
                "nodes/db-01.yaml",
                "Node",
                "db-01",
                "  host: db-01.internal\n  gitRepo: /srv/infra.git\n",
            ),
            file(
                "deployments/web.yaml",
                "Deployment",
                "web",
                "  image: nginx\n  placement:\n    labels: {role: web}\n",
            ),
            file(
                "deployments/site.yaml",
                "Deployment",
                "site",
                "  build:\n    context: site\n  placement:\n    nodes: [db-01]\n",
            ),
            file(
                "deployments/logs.yaml",
                "Deployment",
                "logs",
                "  image: busybox\n",
            ),
        ];
        Files {
            manifests,
            contexts_read: RefCell::new(Vec::new()),
        }
    }

    /// The deployments resolved for `node`, the node the desired state names, and the build
    /// contexts read.
    fn resolved(
        node: Option<&str>,
        require_node: bool,
    ) -> (Vec<String>, Option<String>, Vec<String>) {
        let files = fleet();
        let selection = NodeAndEnvironment {
            node: node.map(str::to_string),
            require_node,
            ..NodeAndEnvironment::default()
        };
        let desired = desired_state(&files, "c1", &selection).unwrap().desired;
        let names = desired.deployments.keys().cloned().collect();
        (names, desired.node, files.contexts_read.take())
    }

    #[test]
    fn a_node_resolves_its_share_and_reads_only_the_share_s_build_contexts() {
        let (names, node, contexts) = resolved(Some("web-01"), true);
        assert_eq!(names, ["logs", "web"]);
        assert_eq!(node.as_deref(), Some("web-01"));
        assert!(contexts.is_empty(), "{contexts:?}");
        let (names, _, contexts) = resolved(Some("db-01"), true);
        assert_eq!(names, ["logs", "site"]);
        assert_eq!(contexts, ["site"]);
    }

    #[test]
    fn a_node_missing_from_the_revision_matches_by_name_without_labels() {
        let (names, node, _) = resolved(Some("web-09"), false);
        assert_eq!(names, ["logs"]);
        assert_eq!(node.as_deref(), Some("web-09"));
    }

    #[test]
    fn the_policy_is_kept_by_the_node_s_share_only() {
        let mut files = fleet();
        files.manifests.push(file(
            "deployments/tools.yaml",
            "Deployment",
            "tools",
            "  image: busybox
  network: host
  placement:
    nodes: [db-01]
",
        ));
        let selection = |node: &str| NodeAndEnvironment {
            node: Some(node.to_string()),
            require_node: true,
            policy: serde_yaml::from_str(
                "hostNetwork: deny
",
            )
            .unwrap(),
            ..NodeAndEnvironment::default()
        };
        assert!(desired_state(&files, "c1", &selection("web-01")).is_ok());
        let error = desired_state(&files, "c1", &selection("db-01"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "1 problem in the manifests\n  deployments/tools.yaml: spec.network: host is denied by the node policy (hostNetwork: deny)"
        );
        assert!(
            files.contexts_read.take().is_empty(),
            "a denied share's build contexts are not read"
        );
    }

    #[test]
    fn without_a_node_every_deployment_is_resolved() {
        let (names, node, _) = resolved(None, false);
        assert_eq!(names, ["logs", "site", "web"]);
        assert_eq!(node, None);
    }
}
