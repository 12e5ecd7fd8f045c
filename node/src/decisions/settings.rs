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

/// The settings in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InForce {
    pub poll_interval: Duration,
    /// The file holding the webhook secret; without one, `/hooks/git` answers 404.
    pub webhook_secret_file: Option<PathBuf>,
    /// The Docker client configuration folder holding registry credentials.
    pub docker_config: Option<PathBuf>,
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
    let node = revision.or(config).map(|manifest| &manifest.spec);
    InForce {
        poll_interval: flags.poll_interval.unwrap_or_else(|| {
            node.map_or(node_defaults::POLL_INTERVAL, |spec| spec.poll_interval)
                .as_std()
        }),
        webhook_secret_file: flags.webhook_secret_file.clone().or_else(|| {
            node.and_then(|spec| spec.webhook_secret_file.as_ref())
                .map(PathBuf::from)
        }),
        docker_config: node.and_then(NodeSpec::docker_config_dir),
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
            at_start.webhook_secret_file,
            Some(PathBuf::from("/etc/orun/hook"))
        );
        assert_eq!(
            at_start.docker_config,
            Some(PathBuf::from("/etc/orun/docker"))
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

        let flags = StartFlags {
            poll_interval: Some(Duration::from_secs(5)),
            webhook_secret_file: Some(PathBuf::from("/run/hook")),
        };
        let fixed = effective_settings(&flags, Some(&config), Some(&revision));
        assert_eq!(fixed.poll_interval, Duration::from_secs(5));
        assert_eq!(fixed.webhook_secret_file, Some(PathBuf::from("/run/hook")));
    }
}
