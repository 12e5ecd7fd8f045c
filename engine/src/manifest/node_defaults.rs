//! The defaults of a `Node` manifest and the paths derived from its `dataDir`, written once for
//! the parser, `orun start`, `orun bootstrap` and the daemon. Pure joins: it never touches the filesystem.

use std::path::{Path, PathBuf};

use crate::duration::Duration;

/// `user`: who `orun bootstrap` connects as.
pub const USER: &str = "root";
/// `sshKeyPath`: the operator's key for `orun bootstrap`.
pub const SSH_KEY_PATH: &str = "~/.ssh/id_ed25519";
/// `gitBranch`: the tracked branch.
pub const GIT_BRANCH: &str = "main";
/// `pollInterval`: how often the node fetches.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The port of `statusAddr` when it is not given: the status API's default port.
pub const STATUS_PORT: u16 = 9100;
/// `dataDir`: where the node keeps its clone, keys and state.
pub const DATA_DIR: &str = "/opt/orun/";
/// `secretFilesDir`: the tmpfs folder of the secret files containers mount.
pub const SECRET_FILES_DIR: &str = "/run/orun";

/// The files and folders under a node's `dataDir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePaths {
    data_dir: PathBuf,
}

impl NodePaths {
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        NodePaths {
            data_dir: data_dir.as_ref().to_path_buf(),
        }
    }

    /// `<dataDir>/node.yaml`: the Node manifest `orun bootstrap` writes and the unit starts with.
    pub fn config(&self) -> PathBuf {
        self.data_dir.join("node.yaml")
    }

    /// `<dataDir>/keys`: the deploy key, known hosts and age identity.
    pub fn keys(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    /// `<dataDir>/keys/deploy_key`: the default of `deployKeyPath`.
    pub fn deploy_key(&self) -> PathBuf {
        self.keys().join("deploy_key")
    }

    /// `<dataDir>/keys/known_hosts`: the default of `knownHostsPath`.
    pub fn known_hosts(&self) -> PathBuf {
        self.keys().join("known_hosts")
    }

    /// `<dataDir>/keys/age.key`: the age identity when neither a flag nor `$SOPS_AGE_KEY_FILE` names one.
    pub fn age_key(&self) -> PathBuf {
        self.keys().join("age.key")
    }

    /// `<dataDir>/repo`: the local clone of the manifest repository.
    pub fn checkout(&self) -> PathBuf {
        self.data_dir.join("repo")
    }

    /// `<dataDir>/caddy`: Caddy's data (certificates, ACME state).
    pub fn caddy(&self) -> PathBuf {
        self.data_dir.join("caddy")
    }

    /// `<dataDir>/caddy/admin.sock`: the unix socket of Caddy's admin API, unless
    /// `--caddy-admin` names another.
    pub fn caddy_admin(&self) -> PathBuf {
        self.caddy().join("admin.sock")
    }

    /// `<dataDir>/candidate`: a fetched commit's files, validated before they replace the clone's
    /// work tree.
    pub fn candidate(&self) -> PathBuf {
        self.data_dir.join("candidate")
    }

    /// `<dataDir>/state.json`: what the node remembers across restarts.
    pub fn state(&self) -> PathBuf {
        self.data_dir.join("state.json")
    }

    /// `<dataDir>/history.jsonl`: the node's newest applies.
    pub fn history(&self) -> PathBuf {
        self.data_dir.join("history.jsonl")
    }

    /// `<dataDir>/control.sock`: the unix socket `orun suspend`, `resume`, `pin` and `unpin`
    /// talk to the running node through.
    pub fn control_socket(&self) -> PathBuf {
        self.data_dir.join("control.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_default_data_dir() {
        let paths = NodePaths::new(DATA_DIR);
        assert_eq!(paths.config(), Path::new("/opt/orun/node.yaml"));
        assert_eq!(paths.keys(), Path::new("/opt/orun/keys"));
        assert_eq!(paths.deploy_key(), Path::new("/opt/orun/keys/deploy_key"));
        assert_eq!(paths.known_hosts(), Path::new("/opt/orun/keys/known_hosts"));
        assert_eq!(paths.age_key(), Path::new("/opt/orun/keys/age.key"));
        assert_eq!(paths.checkout(), Path::new("/opt/orun/repo"));
        assert_eq!(paths.caddy(), Path::new("/opt/orun/caddy"));
        assert_eq!(paths.caddy_admin(), Path::new("/opt/orun/caddy/admin.sock"));
        assert_eq!(paths.candidate(), Path::new("/opt/orun/candidate"));
        assert_eq!(paths.state(), Path::new("/opt/orun/state.json"));
    }

    #[test]
    fn a_trailing_slash_makes_no_difference() {
        assert_eq!(
            NodePaths::new("/srv/orun").deploy_key(),
            NodePaths::new("/srv/orun/").deploy_key()
        );
        assert_eq!(
            NodePaths::new("/srv/orun/").config().display().to_string(),
            "/srv/orun/node.yaml"
        );
    }
}
