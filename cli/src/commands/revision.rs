//! Loading the revision, choosing the environment and resolving the desired state, shared by
//! `validate`, `plan` and `apply`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use daemon::revision::{self, Revision, RevisionError};
use engine::{DesiredState, Environment, ResolveInput, Secrets};

use crate::args::Selection;

/// Loads the revision at `repo`; invalid manifests become one error listing every problem.
pub fn load(repo: &Path, code_dir: Option<&Path>) -> Result<Revision> {
    let commit = daemon::git::head_commit(repo);
    match revision::load_revision(repo, &commit, code_dir) {
        Ok(revision) => Ok(revision),
        Err(RevisionError::Invalid(errors)) => Err(anyhow!(errors)),
        Err(RevisionError::Io(error)) => Err(error),
    }
}

/// The environment selected by `--node` or `--environment` (production without either), and the
/// node's `codeDir` when a node is selected.
pub fn select(selection: &Selection, repo: &Path) -> Result<(Environment, Option<PathBuf>)> {
    if let Some(environment) = &selection.environment {
        let environment =
            Environment::named(environment).map_err(|error| anyhow!("--environment: {error}"))?;
        return Ok((environment, None));
    }
    let Some(name) = &selection.node else {
        return Ok((Environment::production(), None));
    };
    let revision = load(repo, None)?;
    let Some(node) = revision.manifests.nodes.get(name) else {
        let known: Vec<&str> = revision
            .manifests
            .nodes
            .keys()
            .map(String::as_str)
            .collect();
        bail!(
            "--node {name}: no Node named {name:?} in {}/nodes (found: {})",
            repo.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let environment = Environment::for_node(&node.spec)
        .map_err(|error| anyhow!("{}: spec.gitBranch: {error}", node.file))?;
    let code_dir = node.spec.code_dir.as_ref().map(|dir| repo.join(dir));
    Ok((environment, code_dir))
}

/// The desired state of the selected environment and where its build contexts live.
pub struct Prepared {
    pub desired: DesiredState,
    pub code_dir: PathBuf,
}

impl Prepared {
    /// Container names the desired state wants: what the Docker observation must look for.
    pub fn wanted_names(&self) -> BTreeSet<String> {
        self.desired
            .deployments
            .values()
            .map(|deployment| deployment.container.clone())
            .collect()
    }
}

pub fn prepare(repo: &Path, selection: &Selection) -> Result<Prepared> {
    let (environment, code_dir) = select(selection, repo)?;
    let revision = load(repo, code_dir.as_deref())?;
    let secrets = Secrets::default();
    let desired = engine::resolve(
        &revision.manifests,
        &ResolveInput {
            environment,
            commit: revision.commit.clone(),
            secrets: &secrets,
            build_tags: &revision.build_tags,
        },
    )
    .map_err(|errors| anyhow!(errors))?;
    Ok(Prepared {
        desired,
        code_dir: code_dir.unwrap_or_else(|| repo.to_path_buf()),
    })
}
