//! Which value of each setting a revision can tune is in force (docs/node.md): a flag given to
//! `orun start` wins; otherwise this node's manifest in the revision in force; without one in the
//! revision, the `--config` node file; else the default. One function decides it, at start and
//! for every revision the node puts in force. It reads no file: the webhook secret is named here
//! and read by the node.

use std::path::PathBuf;
use std::time::Duration;

use engine::manifest::node_defaults;
use engine::manifest::{Manifest, NodeSpec};

/// What `orun start`'s flags fixed, whatever the manifests say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartFlags {
    pub poll_interval: Option<Duration>,
    pub webhook_secret_file: Option<PathBuf>,
}

/// A path a setting names, with the setting as errors name it: `--webhook-secret-file`, or the
/// manifest's file and field (`nodes/web-01.yaml: spec.webhookSecretFile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingPath {
    pub path: PathBuf,
    pub setting: String,
}

impl SettingPath {
    /// The setting and the path, as an error names the file: `nodes/web-01.yaml:
    /// spec.webhookSecretFile: /etc/orun/hook`.
    pub fn named(&self) -> String {
        format!("{}: {}", self.setting, self.path.display())
    }
}

/// The settings in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InForce {
    pub poll_interval: Duration,
    /// The file holding the webhook secret; without one, `/hooks/git` answers 404.
    pub webhook_secret_file: Option<SettingPath>,
    /// The Docker client configuration folder holding registry credentials.
    pub docker_config: Option<SettingPath>,
    /// Whose `notifications` are in force: the revision's manifest of this node (`true`), else
    /// the `--config` file's.
    pub notifications_from_revision: bool,
}

/// The settings in force for `flags`, the `--config` node file and the revision's manifest of
/// this node (`None` at start, or when the revision has none).
pub fn effective_settings(
    flags: &StartFlags,
    config: Option<&Manifest<NodeSpec>>,
    revision: Option<&Manifest<NodeSpec>>,
) -> InForce {
    let manifest = revision.or(config);
    let node = manifest.map(|manifest| &manifest.spec);
    let field = |field: &str, path: PathBuf| SettingPath {
        path,
        setting: format!(
            "{}: spec.{field}",
            manifest.map_or("", |manifest| manifest.file.as_str())
        ),
    };
    InForce {
        poll_interval: flags.poll_interval.unwrap_or_else(|| {
            node.map_or(node_defaults::POLL_INTERVAL, |spec| spec.poll_interval)
                .as_std()
        }),
        webhook_secret_file: match &flags.webhook_secret_file {
            Some(path) => Some(SettingPath {
                path: path.clone(),
                setting: "--webhook-secret-file".to_string(),
            }),
            None => node
                .and_then(|spec| spec.webhook_secret_file.as_ref())
                .map(|path| field("webhookSecretFile", PathBuf::from(path))),
        },
        docker_config: node
            .and_then(NodeSpec::docker_config_dir)
            .map(|path| field("dockerConfig", path)),
        notifications_from_revision: revision.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::SourceFile;

    fn node(file: &str, extra: &str) -> Manifest<NodeSpec> {
        let text = format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: web-01\nspec:\n  host: 10.0.0.1\n  gitRepo: https://git.example.com/ops.git\n{extra}"
        );
        engine::load::load_node(&SourceFile {
            path: file.to_string(),
            text,
        })
        .expect("a valid node")
    }

    #[test]
    fn a_flag_wins_then_the_revisions_node_then_the_config_file_then_the_default() {
        let config = node(
            "/etc/orun/node.yaml",
            "  pollInterval: 30s\n  webhookSecretFile: /etc/orun/hook\n  dockerConfig: /etc/orun/docker\n",
        );
        let revision = node("nodes/web-01.yaml", "  pollInterval: 10s\n");
        let revision_with_files = node(
            "nodes/web-01.yaml",
            "  webhookSecretFile: /run/web-hook\n  dockerConfig: /run/docker\n",
        );
        let none = StartFlags::default();

        let defaults = effective_settings(&none, None, None);
        assert_eq!(
            defaults.poll_interval,
            node_defaults::POLL_INTERVAL.as_std()
        );
        assert_eq!(defaults.webhook_secret_file, None);

        let at_start = effective_settings(&none, Some(&config), None);
        assert_eq!(at_start.poll_interval, Duration::from_secs(30));
        assert_eq!(
            at_start.webhook_secret_file.unwrap().named(),
            "/etc/orun/node.yaml: spec.webhookSecretFile: /etc/orun/hook"
        );
        assert_eq!(
            at_start.docker_config.unwrap().named(),
            "/etc/orun/node.yaml: spec.dockerConfig: /etc/orun/docker"
        );
        assert!(!at_start.notifications_from_revision);

        let in_revision = effective_settings(&none, Some(&config), Some(&revision));
        assert_eq!(in_revision.poll_interval, Duration::from_secs(10));
        assert_eq!(
            in_revision.webhook_secret_file, None,
            "the revision's node manifest has no webhook: the webhook is off"
        );
        assert_eq!(in_revision.docker_config, None);
        assert!(in_revision.notifications_from_revision);
        let with_files = effective_settings(&none, Some(&config), Some(&revision_with_files));
        assert_eq!(
            with_files.webhook_secret_file.unwrap().named(),
            "nodes/web-01.yaml: spec.webhookSecretFile: /run/web-hook"
        );
        assert_eq!(
            with_files.docker_config.unwrap().named(),
            "nodes/web-01.yaml: spec.dockerConfig: /run/docker"
        );

        let flags = StartFlags {
            poll_interval: Some(Duration::from_secs(5)),
            webhook_secret_file: Some(PathBuf::from("/run/hook")),
        };
        let fixed = effective_settings(&flags, Some(&config), Some(&revision));
        assert_eq!(fixed.poll_interval, Duration::from_secs(5));
        assert_eq!(
            fixed.webhook_secret_file.unwrap().named(),
            "--webhook-secret-file: /run/hook"
        );
    }
}
