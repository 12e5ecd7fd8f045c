//! What the status API shows of the node's errors to anyone who can reach it: the same messages
//! as the log, with the node's local paths replaced by the setting that names them
//! (`<deployKeyPath>`, `<dataDir>`, …), credentials in URLs redacted, and a failed build's output
//! left to the log. Pure: it rewrites a copy of the status document, never the node's own.

use std::path::Path;

use super::status::Status;
use super::Settings;
use adapters::docker::image::BUILD_OUTPUT_HEADING;

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
        let docker_config = settings.at_start().docker_config;
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

/// `text` as others may read it: local paths by name, URL credentials redacted, build output cut.
pub fn message(text: &str, paths: &LocalPaths) -> String {
    let mut shown = match text.split_once(BUILD_OUTPUT_HEADING) {
        Some((message, _output)) => format!("{message} (build output in the node's log)"),
        None => text.to_string(),
    };
    for (path, name) in &paths.replacements {
        shown = shown.replace(path.as_str(), name);
    }
    engine::redact::url_credentials(&shown).into_owned()
}

/// A copy of `status` for the status API: every error and note through [`message`].
pub fn status(mut status: Status, paths: &LocalPaths) -> Status {
    status.node.rewrite_sync_error(|text| message(text, paths));
    for deployment in status.deployments.values_mut() {
        if let Some(error) = &deployment.last_error {
            deployment.last_error = Some(message(error, paths));
        }
    }
    for service in status.services.values_mut() {
        if let Some(note) = &service.note {
            service.note = Some(message(note, paths));
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use super::*;
    use crate::status::{NodeStatus, SyncError};
    use adapters::git::{FetchFailure, GitError};

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
        let error = format!(
            "build orun.local/app:1a2b: The command '/bin/sh -c make' returned a non-zero code: 2{BUILD_OUTPUT_HEADING}\n  TOKEN=hunter2\n  make: *** [all] Error 2"
        );
        assert_eq!(
            message(&error, &paths()),
            "build orun.local/app:1a2b: The command '/bin/sh -c make' returned a non-zero code: 2 (build output in the node's log)"
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
        node.set_sync_error(Some(SyncError::Git(GitError::Fetch {
            url: "https://***@git.example.com/infra.git".to_string(),
            branch: "main".to_string(),
            failure: FetchFailure::Remote(
                "host key of git.example.com is unknown: it is not listed in /opt/orun/keys/known_hosts; see https://u:p@x/y".to_string(),
            ),
        })));
        let full = Status {
            node,
            deployments: BTreeMap::new(),
            services: BTreeMap::new(),
            volumes: BTreeMap::new(),
        };
        let shown = status(full.clone(), &paths());
        assert_eq!(
            shown.node.sync_error(),
            Some("fetch https://***@git.example.com/infra.git (branch main): host key of git.example.com is unknown: it is not listed in <knownHostsPath>; see https://***@x/y")
        );
        assert_eq!(shown.node.sync_failure(), full.node.sync_failure());
        assert!(full
            .node
            .sync_error()
            .unwrap()
            .contains("/opt/orun/keys/known_hosts"));
    }
}
