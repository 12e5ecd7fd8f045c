//! Loading the revision, choosing the environment and resolving the desired state, shared by
//! `validate`, `plan` and `apply`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use daemon::revision::{self, Revision, RevisionError};
use daemon::secrets;
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

/// What `--node` or `--environment` selects: the environment (production without either), and
/// the node's `codeDir` and `dataDir` when a node is selected.
pub struct Selected {
    pub environment: Environment,
    pub code_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

pub fn select(selection: &Selection, repo: &Path) -> Result<Selected> {
    if let Some(environment) = &selection.environment {
        let environment =
            Environment::named(environment).map_err(|error| anyhow!("--environment: {error}"))?;
        return Ok(Selected {
            environment,
            code_dir: None,
            data_dir: None,
        });
    }
    let Some(name) = &selection.node else {
        return Ok(Selected {
            environment: Environment::production(),
            code_dir: None,
            data_dir: None,
        });
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
    Ok(Selected {
        environment,
        code_dir: node.spec.code_dir.as_ref().map(|dir| repo.join(dir)),
        data_dir: Some(PathBuf::from(&node.spec.data_dir)),
    })
}

/// The age identity for `validate`, `plan` and `apply`: `--age-key-path`, else
/// `$SOPS_AGE_KEY_FILE`, else `keys/age.key` under the selected node's `dataDir` or `/opt/orun/`.
pub fn age_key(explicit: Option<&Path>, data_dir: Option<&Path>) -> PathBuf {
    secrets::age_key_path(
        explicit,
        data_dir.unwrap_or_else(|| Path::new(engine::manifest::node_defaults::DATA_DIR)),
    )
}

/// The secrets of the revision at `repo` (`secrets.yaml` and inline values), decrypted.
pub fn decrypt(repo: &Path, revision: &Revision, age_key: &Path) -> Result<Secrets> {
    secrets::load_secrets(repo, &revision.manifests, age_key)
}

/// The desired state of the selected environment and where its build contexts live.
pub struct Prepared {
    pub desired: DesiredState,
    pub code_dir: PathBuf,
}

pub fn prepare(repo: &Path, selection: &Selection) -> Result<Prepared> {
    let Selected {
        environment,
        code_dir,
        data_dir,
    } = select(selection, repo)?;
    let revision = load(repo, code_dir.as_deref())?;
    let age_key = age_key(selection.age_key_path.as_deref(), data_dir.as_deref());
    let secrets = decrypt(repo, &revision, &age_key)?;
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
