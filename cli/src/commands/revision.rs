//! Loading the revision and choosing the environment, shared by `plan` and `validate`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use daemon::revision::{self, Revision, RevisionError};
use engine::Environment;

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
