//! The one pipeline from a revision's files to the desired state of one node: load the manifests,
//! choose the node and its environment, hash the build contexts, take the secrets, resolve, find
//! the node's notification receivers. The CLI, the daemon and the plan-case tests all call it. It reads nothing itself: a
//! [`RevisionSource`] hands it the files, so it stays free of I/O.

use std::collections::BTreeMap;

use crate::build::{image_tag, BuildInputs, ContextFile};
use crate::desired::{resolve, DesiredState, ResolveInput, Secrets};
use crate::environment::{Environment, EnvironmentError};
use crate::error::ManifestErrors;
use crate::load::{load, SourceFile};
use crate::manifest::{BuildSpec, Manifest, Manifests, NodeSpec, Text};
use crate::notify::{receivers, Receiver};

/// Where a revision's files come from: a work tree, the node's clone, a test case folder.
pub trait RevisionSource {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every candidate manifest: the files under `nodes/`, `deployments/` and `services/`, with
    /// paths relative to the repository root.
    fn manifest_files(&self) -> Result<Vec<SourceFile>, Self::Error>;

    /// The files of `build`'s context as the builder would receive them. `node` is the selected
    /// node's manifest, whose `codeDir` may say where contexts live.
    fn build_context(
        &self,
        node: Option<&NodeSpec>,
        build: &BuildSpec,
    ) -> Result<Vec<ContextFile>, Self::Error>;

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
    /// The node whose manifest in the revision picks the environment when none is explicit.
    pub node: Option<String>,
    /// A node named in `node` that the revision lacks is an error (`--node`); otherwise the
    /// environment falls back to `branch` (a daemon whose node file is not in the repository).
    pub require_node: bool,
    /// The branch the node tracks; without it the fallback is production.
    pub branch: Option<String>,
}

/// A valid revision resolved for one node.
#[derive(Clone, Debug)]
pub struct Revision {
    pub manifests: Manifests,
    /// The selected node's manifest, when the revision has it.
    pub node: Option<Manifest<NodeSpec>>,
    pub desired: DesiredState,
    /// The decrypted secrets the revision was resolved with; `notify::receivers` looks a Node's
    /// `urlFrom` up in them.
    pub secrets: Secrets,
    /// The notification receivers of the selected node's manifest; none without it.
    pub receivers: Vec<Receiver>,
}

/// Why a revision yields no desired state. `E` is the source's own error.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Read(E),
    #[error(transparent)]
    Invalid(#[from] ManifestErrors),
    #[error("no Node named {name:?} in nodes/ (found: {})", known_list(.known))]
    UnknownNode { name: String, known: Vec<String> },
    #[error("{}: {source}", .origin.as_deref().unwrap_or("environment"))]
    Environment {
        /// The manifest field the environment came from (`nodes/a.yaml: spec.gitBranch`), if any.
        origin: Option<String>,
        source: EnvironmentError,
    },
    #[error("{file}: spec.build.context: {source}")]
    BuildContext { file: String, source: E },
    #[error(transparent)]
    Secrets(E),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    }
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
    let build_tags = build_tags(source, &manifests, node_spec)?;
    let secrets = source
        .secrets(&manifests, node_spec)
        .map_err(RevisionError::Secrets)?;
    let input = ResolveInput {
        environment,
        commit: commit.to_string(),
        secrets: &secrets,
        build_tags: &build_tags,
    };
    let desired = resolve(&manifests, &input)?;
    let receivers = match &node {
        Some(node) => receivers(&node.file, &node.spec.notifications, &secrets.shared)
            .map_err(ManifestErrors)?,
        None => Vec::new(),
    };
    Ok(Revision {
        manifests,
        node,
        desired,
        secrets,
        receivers,
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

/// Content-addressed image tags of every build-mode deployment.
fn build_tags<S: RevisionSource>(
    source: &S,
    manifests: &Manifests,
    node: Option<&NodeSpec>,
) -> Result<BTreeMap<String, String>, RevisionError<S::Error>> {
    let mut tags = BTreeMap::new();
    for deployment in manifests.deployments.values() {
        let Some(build) = &deployment.spec.container.build else {
            continue;
        };
        let files =
            source
                .build_context(node, build)
                .map_err(|source| RevisionError::BuildContext {
                    file: deployment.file.clone(),
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
        tags.insert(
            deployment.name.clone(),
            image_tag(&deployment.name, &inputs),
        );
    }
    Ok(tags)
}
