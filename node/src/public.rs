//! What the status API shows to anyone who can reach it: the node's status projected into the
//! status document (`status::wire`), its errors the same messages as the log, with the node's
//! local paths replaced by the setting that names them (`<deployKeyPath>`, `<dataDir>`, …),
//! credentials in URLs redacted, and a failed build's output left to the log. Pure: it reads the
//! node's status and changes nothing.

use std::path::Path;

use engine::outcome::{ActionError, BuildError};

use super::status::wire::{DeploymentDocument, NodeDocument, StatusDocument};
use super::status::{DeploymentStatus, LastError, NodeStatus, ServiceStatus, Status};
use super::Settings;

/// The node's local paths, each with the placeholder shown instead, longest first so that a
/// path inside another is replaced by its own name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalPaths {
    replacements: Vec<(String, &'static str)>,
}

impl LocalPaths {
    /// The paths `settings` names: the key files, the code folder, the Docker client
    /// configuration folder and the data folder.
    pub fn new(settings: &Settings) -> Self {
        let docker_config = settings.at_start().docker_config.map(|folder| folder.path);
        let mut paths = vec![
            (settings.remote.deploy_key.as_path(), "<deployKeyPath>"),
            (settings.remote.known_hosts.as_path(), "<knownHostsPath>"),
            (settings.age_key_path.as_path(), "<ageKeyPath>"),
            (settings.data_dir.as_path(), "<dataDir>"),
        ];
        if let Some(code_dir) = &settings.code_dir {
            paths.push((code_dir.as_path(), "<codeDir>"));
        }
        if let Some(docker_config) = &docker_config {
            paths.push((docker_config.as_path(), "<dockerConfig>"));
        }
        Self::from_pairs(paths)
    }

    fn from_pairs<'a>(paths: impl IntoIterator<Item = (&'a Path, &'static str)>) -> Self {
        let mut replacements: Vec<(String, &'static str)> = paths
            .into_iter()
            .filter_map(|(path, name)| {
                let text = path.display().to_string();
                let text = text.trim_end_matches('/');
                // `/` alone, or an empty path, would swallow every path in a message.
                (text.len() > 1).then(|| (text.to_string(), name))
            })
            .collect();
        replacements.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        replacements.dedup_by(|a, b| a.0 == b.0);
        LocalPaths { replacements }
    }
}

/// `text` as others may read it: local paths by name, URL credentials redacted. Paths are
/// replaced in the text, not taken from the errors' fields: libgit2's, Docker's and the system's
/// own messages name paths too.
pub fn message(text: &str, paths: &LocalPaths) -> String {
    let mut shown = text.to_string();
    for (path, name) in &paths.replacements {
        shown = shown.replace(path.as_str(), name);
    }
    engine::redact::url_credentials(&shown).into_owned()
}

/// The status document the API serves for `status`: every error and note through [`message`].
pub fn document(status: &Status, paths: &LocalPaths) -> StatusDocument {
    StatusDocument {
        node: node(&status.node, paths),
        deployments: status
            .deployments
            .iter()
            .map(|(name, deployment)| (name.clone(), self::deployment(deployment, paths)))
            .collect(),
        services: status
            .services
            .iter()
            .map(|(name, service)| {
                let note = service.note.as_deref().map(|note| message(note, paths));
                (
                    name.clone(),
                    ServiceStatus {
                        note,
                        ..service.clone()
                    },
                )
            })
            .collect(),
        volumes: status.volumes.clone(),
        jobs: status.jobs.clone(),
        last_plan: status.last_plan.clone(),
        pending_actions: status.pending_actions.clone(),
    }
}

fn node(node: &NodeStatus, paths: &LocalPaths) -> NodeDocument {
    NodeDocument {
        name: node.name.clone(),
        environment: node.environment.clone(),
        branch: node.branch.clone(),
        started_at: node.started_at.clone(),
        sync_state: node.sync_state.to_string(),
        git_head: node.git_head.clone(),
        applied_commit: node.applied_commit.clone(),
        last_sync_time: node.last_sync_time.clone(),
        last_reconcile_time: node.last_reconcile_time.clone(),
        sync_error: node
            .sync_error
            .as_ref()
            .map(|error| message(&error.to_string(), paths)),
        consecutive_failures: node.consecutive_failures,
        next_poll_at: node.next_poll_at.clone(),
        healthy: node.healthy,
        role: node.role.map(|role| role.as_str().to_string()),
        suspended: node.suspended.clone(),
        pinned: node.pinned.clone(),
    }
}

fn deployment(deployment: &DeploymentStatus, paths: &LocalPaths) -> DeploymentDocument {
    DeploymentDocument {
        name: deployment.name.clone(),
        image: deployment.image.clone(),
        container_id: deployment.container_id.clone(),
        state: deployment.state.to_string(),
        started_at: deployment.started_at.clone(),
        ready: deployment.ready,
        replicas: deployment.replicas,
        replicas_ready: deployment.replicas_ready,
        restarts: deployment.restarts,
        last_action: deployment.last_action.map(|action| action.to_string()),
        last_reason: deployment.last_reason.map(|reason| reason.to_string()),
        last_error: deployment
            .last_error
            .as_ref()
            .map(|error| message(&last_error(error), paths)),
        quarantined: deployment.quarantined,
        flapping: deployment.flapping,
        spec_hash: deployment.spec_hash.clone(),
        tasks_desired: deployment.tasks.map(|tasks| tasks.desired),
        tasks_running: deployment.tasks.map(|tasks| tasks.running),
        image_update: deployment.image_update.clone(),
    }
}

/// A deployment's error without a failed build's output, which only the log shows.
fn last_error(error: &LastError) -> String {
    match error {
        LastError::Action(ActionError::Build(BuildError { message, output }))
            if !output.is_empty() =>
        {
            format!("{message} (build output in the node's log)")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use super::*;
    use crate::status::{DeploymentState, JobRun, JobStatus, LastAction, LastReason, SyncError};
    use adapters::git::{FetchFailure, GitError};
    use engine::observed::ContainerState;
    use engine::plan::{ActionKind, Reason};
    use serde_json::json;

    fn paths() -> LocalPaths {
        LocalPaths::from_pairs([
            (Path::new("/opt/orun/keys/deploy_key"), "<deployKeyPath>"),
            (Path::new("/opt/orun/keys/known_hosts"), "<knownHostsPath>"),
            (Path::new("/opt/orun/keys/age.key"), "<ageKeyPath>"),
            (Path::new("/opt/orun/"), "<dataDir>"),
            (Path::new("/"), "<codeDir>"),
            (Path::new("/etc/orun/docker"), "<dockerConfig>"),
        ])
    }

    #[test]
    fn local_paths_are_named_by_their_setting() {
        assert_eq!(
            message(
                "fetch git@host:infra.git (branch main): the remote rejected the deploy key /opt/orun/keys/deploy_key",
                &paths()
            ),
            "fetch git@host:infra.git (branch main): the remote rejected the deploy key <deployKeyPath>"
        );
        assert_eq!(
            message(
                "cannot read /opt/orun/candidate/deployments/web.yaml: permission denied; age identity /opt/orun/keys/age.key",
                &paths()
            ),
            "cannot read <dataDir>/candidate/deployments/web.yaml: permission denied; age identity <ageKeyPath>"
        );
        assert_eq!(
            message(
                "pull ghcr.io/acme/app:1: /etc/orun/docker/config.json: not a Docker client configuration (line 3, column 7)",
                &paths()
            ),
            "pull ghcr.io/acme/app:1: <dockerConfig>/config.json: not a Docker client configuration (line 3, column 7)"
        );
    }

    #[test]
    fn build_output_stays_in_the_log() {
        let failed = BuildError {
            message: "build orun.local/app:1a2b: The command '/bin/sh -c make' returned a non-zero code: 2".to_string(),
            output: vec!["TOKEN=hunter2".to_string(), "make: *** [all] Error 2".to_string()],
        };
        let error = LastError::Action(ActionError::Build(failed.clone()));
        assert_eq!(
            last_error(&error),
            "build orun.local/app:1a2b: The command '/bin/sh -c make' returned a non-zero code: 2 (build output in the node's log)"
        );
        assert!(
            error.to_string().contains("TOKEN=hunter2"),
            "the log's text"
        );
        let silent = LastError::Action(ActionError::Build(BuildError {
            output: Vec::new(),
            ..failed
        }));
        assert_eq!(
            last_error(&silent),
            "build orun.local/app:1a2b: The command '/bin/sh -c make' returned a non-zero code: 2"
        );
    }

    #[test]
    fn the_status_document_is_cleaned_but_the_node_keeps_the_full_text() {
        let mut node = NodeStatus::starting(
            "a".to_string(),
            "production".to_string(),
            "main".to_string(),
            SystemTime::UNIX_EPOCH,
        );
        node.sync_error = Some(SyncError::Git(GitError::Fetch {
            url: "https://***@git.example.com/infra.git".to_string(),
            branch: "main".to_string(),
            failure: FetchFailure::Remote(
                "host key of git.example.com is unknown: it is not listed in /opt/orun/keys/known_hosts; see https://u:p@x/y".to_string(),
            ),
        }));
        let full = Status {
            node,
            deployments: BTreeMap::new(),
            services: BTreeMap::new(),
            volumes: BTreeMap::new(),
            jobs: BTreeMap::new(),
            last_plan: None,
            pending_actions: None,
        };
        let shown = document(&full, &paths());
        assert_eq!(
            shown.node.sync_error.as_deref(),
            Some("fetch https://***@git.example.com/infra.git (branch main): host key of git.example.com is unknown: it is not listed in <knownHostsPath>; see https://***@x/y")
        );
        assert!(full
            .node
            .sync_error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("/opt/orun/keys/known_hosts"));
    }

    #[test]
    fn the_document_has_the_documented_keys_and_values() {
        let mut status = Status {
            node: NodeStatus::starting(
                "a".to_string(),
                "production".to_string(),
                "main".to_string(),
                SystemTime::UNIX_EPOCH,
            ),
            deployments: BTreeMap::new(),
            services: BTreeMap::new(),
            volumes: BTreeMap::new(),
            jobs: BTreeMap::new(),
            last_plan: None,
            pending_actions: None,
        };
        status.deployments.insert(
            "web".to_string(),
            DeploymentStatus {
                name: "web".to_string(),
                image: "nginx:alpine".to_string(),
                container_id: Some("4c01db0b339c".to_string()),
                state: DeploymentState::Observed(ContainerState::Running),
                started_at: Some("2026-12-06T08:00:00Z".to_string()),
                ready: true,
                replicas: 1,
                replicas_ready: 1,
                restarts: 0,
                last_action: Some(LastAction::Planned(ActionKind::Create)),
                last_reason: Some(LastReason::Planned(Reason::Missing)),
                last_error: None,
                quarantined: false,
                flapping: false,
                spec_hash: "v1:abc".to_string(),
                tasks: None,
                image_update: None,
            },
        );
        status.jobs.insert(
            "backup".to_string(),
            JobStatus {
                name: "backup".to_string(),
                run_on: None,
                schedule: Some("@daily".to_string()),
                before: Vec::new(),
                last_run: Some(JobRun {
                    container: "backup.job-202612060000".to_string(),
                    started_at: "2026-12-06T00:00:01Z".to_string(),
                    finished_at: Some("2026-12-06T00:00:09Z".to_string()),
                    exit_code: Some(0),
                }),
                next_run_at: Some("2026-12-07T00:00:00Z".to_string()),
            },
        );
        let shown = serde_json::to_value(document(&status, &paths())).unwrap();
        assert_eq!(
            shown,
            json!({
                "node": {
                    "name": "a", "environment": "production", "branch": "main",
                    "started_at": "1970-01-01T00:00:00Z", "sync_state": "starting",
                    "git_head": null, "applied_commit": null,
                    "last_sync_time": null, "last_reconcile_time": null,
                    "sync_error": null, "consecutive_failures": 0, "next_poll_at": null,
                    "healthy": false
                },
                "deployments": {
                    "web": { "name": "web", "image": "nginx:alpine", "container_id": "4c01db0b339c",
                             "state": "running", "started_at": "2026-12-06T08:00:00Z",
                             "ready": true,
                             "replicas": 1, "replicas_ready": 1, "restarts": 0,
                             "last_action": "create", "last_reason": "missing", "last_error": null,
                             "quarantined": false, "flapping": false, "spec_hash": "v1:abc" }
                },
                "services": {},
                "volumes": {},
                "jobs": {
                    "backup": { "name": "backup", "run_on": null, "schedule": "@daily", "before": [],
                                "last_run": { "container": "backup.job-202612060000",
                                              "started_at": "2026-12-06T00:00:01Z",
                                              "finished_at": "2026-12-06T00:00:09Z",
                                              "exit_code": 0 },
                                "next_run_at": "2026-12-07T00:00:00Z" }
                }
            })
        );
    }
}
