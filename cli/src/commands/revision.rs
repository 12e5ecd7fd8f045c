//! The revision of `--repo` for `validate`, `plan` and `apply`: the CLI's flags mapped onto the
//! one pipeline of `engine::revision`, reading the work tree through `daemon::revision::WorkTree`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use daemon::revision::WorkTree;
use engine::revision::{self, RevisionError, RevisionSource, Selection as RevisionSelection};
use engine::{DesiredState, Environment, Manifests};

use crate::args::Selection;

/// The desired state of the selected environment and where its build contexts live.
pub struct Prepared {
    pub desired: DesiredState,
    pub code_dir: PathBuf,
}

/// Resolves the revision at `repo` for `--node` or `--environment` (production without either).
pub fn prepare(repo: &Path, selection: &Selection) -> Result<Prepared> {
    let environment = selection
        .environment
        .as_deref()
        .map(Environment::named)
        .transpose()
        .map_err(|error| anyhow!("--environment: {error}"))?;
    let tree = WorkTree::new(repo, selection.age_key_path.as_deref());
    let wanted = RevisionSelection {
        environment,
        node: selection.node.clone(),
        require_node: true,
        branch: None,
    };
    let commit = daemon::git::head_commit(repo);
    let revision =
        revision::desired_state(&tree, &commit, &wanted).map_err(|error| match error {
            RevisionError::UnknownNode { .. } => anyhow!(
                "--node {}: {error} in {}",
                selection.node.as_deref().unwrap_or_default(),
                repo.display()
            ),
            error => anyhow!(error),
        })?;
    Ok(Prepared {
        code_dir: tree.code_dir(revision.node.as_ref().map(|node| &node.spec)),
        desired: revision.desired,
    })
}

/// Loads and validates the manifests at `repo` and decrypts its secrets, as `validate` does.
pub fn check(repo: &Path, age_key_flag: Option<&Path>) -> Result<Manifests> {
    let tree = WorkTree::new(repo, age_key_flag);
    let manifests = revision::manifests(&tree)?;
    tree.secrets(&manifests, None)?;
    Ok(manifests)
}
