//! The revision of `--repo` for `validate`, `plan` and `apply`: the CLI's flags mapped onto the
//! one pipeline of `engine::revision`, reading the work tree through `adapters::revision::WorkTree`.

use std::fs;
use std::path::{Path, PathBuf};

use adapters::revision::WorkTree;
use anyhow::{anyhow, bail, Context, Result};
use engine::load::load_node;
use engine::manifest::{node_defaults, NodeSpec};
use engine::revision::{self, NodeAndEnvironment, RevisionError, RevisionSource};
use engine::secret_env::{self, NodeKeys};
use engine::{placement, swarm};
use engine::{DesiredState, Environment, Finding, Manifests, MissingKeys, SourceFile};

use crate::args::NodeOrEnvironmentArgs;
use crate::render::plan::Header;

/// The desired state of the selected environment, where its build contexts live, the
/// selected node's `dockerConfig`, and what the plan header says about placement.
pub struct Prepared {
    pub desired: DesiredState,
    pub code_dir: PathBuf,
    /// The selected node's `dataDir`, the default without one.
    pub data_dir: PathBuf,
    /// The selected node's `secretFilesDir`, the default without one.
    pub secret_files_dir: PathBuf,
    /// The folder, and the file and field naming it.
    pub docker_config: Option<(String, PathBuf)>,
    pub header: Header,
}

/// Resolves the revision at `repo` for `--node` or `--environment` (production without either).
pub fn prepare(repo: &Path, selection: &NodeOrEnvironmentArgs) -> Result<Prepared> {
    let environment = selection
        .environment
        .as_deref()
        .map(Environment::named)
        .transpose()
        .map_err(|error| anyhow!("--environment: {error}"))?;
    let tree = WorkTree::new(repo, selection.age_key_path.as_deref());
    let wanted = NodeAndEnvironment {
        environment,
        node: selection.node.clone(),
        require_node: true,
        branch: None,
        ..operator_settings(selection.policy.as_deref())?
    };
    let commit = adapters::git::head_commit(repo);
    let revision =
        revision::desired_state(&tree, &commit, &wanted).map_err(|error| match error {
            RevisionError::UnknownNode { .. } => anyhow!(
                "--node {}: {error} in {}",
                selection.node.as_deref().unwrap_or_default(),
                repo.display()
            ),
            error => anyhow!(error),
        })?;
    let docker_config = revision.node.as_ref().and_then(|node| {
        let folder = node.spec.docker_config_dir()?;
        Some((format!("{}: spec.dockerConfig", node.file), folder))
    });
    let node = revision.node.as_ref().map(|node| &node.spec);
    // Only a revision that places deployments makes a plan of all of them worth a word.
    let header = Header {
        placement_not_applied: selection.node.is_none()
            && placement::places_deployments(&revision.manifests),
    };
    Ok(Prepared {
        code_dir: tree.code_dir(node),
        data_dir: PathBuf::from(
            node.map_or(node_defaults::DATA_DIR, |node| node.data_dir.as_str()),
        ),
        secret_files_dir: node.map_or_else(
            || PathBuf::from(node_defaults::SECRET_FILES_DIR),
            NodeSpec::secret_files_dir,
        ),
        docker_config,
        desired: revision.desired,
        header,
    })
}

/// What `validate` checked: the manifests, the environments they resolved for, and the
/// warnings and notes of the valid revision.
pub struct Checked {
    pub manifests: Manifests,
    pub environments: Vec<String>,
    pub findings: Vec<Finding>,
}

/// Loads and validates the manifests at `repo`, decrypts its secrets, and resolves the revision
/// for `environment`; without one, for production and for every node of the repository, so a
/// clash that appears only once `$ENV` is replaced is caught too. Every failing resolution is
/// reported.
pub fn check(
    repo: &Path,
    environment: Option<&str>,
    age_key_flag: Option<&Path>,
    policy_file: Option<&Path>,
) -> Result<Checked> {
    // Without a secrets.yaml, the keys the revision names are still to be added: warnings here,
    // while a node, `plan` and `apply` refuse the revision until they are.
    let missing_keys = if adapters::secrets::has_secrets_file(repo)? {
        MissingKeys::Refused
    } else {
        MissingKeys::Awaited
    };
    let operator = NodeAndEnvironment {
        missing_keys,
        ..operator_settings(policy_file)?
    };
    let tree = WorkTree::new(repo, age_key_flag);
    let manifests = revision::manifests(&tree)?;
    tree.secrets(&manifests, None)?;
    let mut selections = Vec::new();
    match environment {
        Some(name) => {
            let environment =
                Environment::named(name).map_err(|error| anyhow!("--environment: {error}"))?;
            selections.push((
                format!("environment {environment}"),
                NodeAndEnvironment {
                    environment: Some(environment),
                    ..operator.clone()
                },
            ));
        }
        None => {
            selections.push(("environment production".to_string(), operator.clone()));
            for name in manifests.nodes.keys() {
                selections.push((
                    format!("node {name}"),
                    NodeAndEnvironment {
                        node: Some(name.clone()),
                        require_node: true,
                        ..operator.clone()
                    },
                ));
            }
        }
    }
    let commit = adapters::git::head_commit(repo);
    let mut environments = Vec::new();
    let mut failures = Vec::new();
    for (what, selection) in &selections {
        match revision::desired_state(&tree, &commit, selection) {
            Ok(revision) => {
                let name = revision.desired.environment.to_string();
                if !environments.contains(&name) {
                    environments.push(name);
                }
            }
            Err(error) => failures.push(format!("for {what}: {error}")),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    let mut findings = placement::findings(&manifests);
    findings.extend(swarm::findings(&manifests));
    if missing_keys == MissingKeys::Awaited {
        findings.extend(secret_env::awaited(
            &manifests,
            &NodeKeys::of(&manifests).and(&operator.node_keys),
        ));
    }
    findings.sort();
    Ok(Checked {
        findings,
        manifests,
        environments,
    })
}

/// What the Node file `--policy` names holds for every node it is: its operator policy, and the
/// keys of `secrets.yaml` its settings read, which no container gets; nothing without one. The
/// file is read as a node's `--config` is: a whole Node manifest, checked like one.
fn operator_settings(path: Option<&Path>) -> Result<NodeAndEnvironment> {
    let Some(path) = path else {
        return Ok(NodeAndEnvironment::default());
    };
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read --policy {}", path.display()))?;
    let node = load_node(&SourceFile {
        path: path.display().to_string(),
        text,
    })
    .map_err(|errors| anyhow!("--policy {}: {errors}", path.display()))?;
    Ok(NodeAndEnvironment {
        node_keys: NodeKeys::of_node(&node),
        policy: node.spec.policy,
        ..NodeAndEnvironment::default()
    })
}
