//! Environment names and container naming (docs/manifests.md): which environment a branch serves and what its
//! containers are called. It does not decide which node runs where.

use std::fmt;

use crate::manifest::{EnvironmentName, NodeSpec};

pub const PRODUCTION: &str = "production";

/// The environment a node serves: `production` or a derived/explicit name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Environment(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    #[error(
        "branch {0:?} yields an empty environment name: set the node's environment explicitly"
    )]
    EmptyFromBranch(String),
    #[error("{0}")]
    Invalid(String),
}

impl Environment {
    pub fn production() -> Self {
        Environment(PRODUCTION.to_string())
    }

    /// An explicit name, validated like `Node.environment`.
    pub fn named(name: &str) -> Result<Self, EnvironmentError> {
        EnvironmentName::parse(name)
            .map(|name| Environment(name.as_str().to_string()))
            .map_err(EnvironmentError::Invalid)
    }

    /// The environment a branch serves: `main`/`master` are production; any other branch is
    /// lowercased, runs outside `[a-z0-9-]` become `-`, `-` is trimmed at both ends, and the
    /// result is cut to 40 characters, less any `-` the cut leaves at its end, so that the name is
    /// one `--environment` and the `environment` field accept.
    pub fn from_branch(branch: &str) -> Result<Self, EnvironmentError> {
        if branch == "main" || branch == "master" {
            return Ok(Self::production());
        }
        let mut name = String::with_capacity(branch.len());
        let mut in_run = false;
        for c in branch.to_lowercase().chars() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                name.push(c);
                in_run = false;
            } else if !in_run {
                name.push('-');
                in_run = true;
            }
        }
        let cut: String = name.trim_matches('-').chars().take(40).collect();
        let name = cut.trim_end_matches('-').to_string();
        if name.is_empty() {
            return Err(EnvironmentError::EmptyFromBranch(branch.to_string()));
        }
        Ok(Environment(name))
    }

    /// The environment a node serves: its explicit `environment`, else derived from `gitBranch`.
    pub fn for_node(node: &NodeSpec) -> Result<Self, EnvironmentError> {
        match &node.environment {
            Some(explicit) => Self::named(explicit.as_str()),
            None => Self::from_branch(node.git_branch.as_str()),
        }
    }

    /// The environment a node serves, one rule for every caller: an explicit choice (a flag, or
    /// the node's own settings) wins; then the node's manifest in the revision; then the branch
    /// the node tracks; production when none of them is known.
    pub fn select(
        explicit: Option<&Environment>,
        node: Option<&NodeSpec>,
        branch: Option<&str>,
    ) -> Result<Self, EnvironmentError> {
        match (explicit, node, branch) {
            (Some(explicit), _, _) => Ok(explicit.clone()),
            (None, Some(node), _) => Self::for_node(node),
            (None, None, Some(branch)) => Self::from_branch(branch),
            (None, None, None) => Ok(Self::production()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_production(&self) -> bool {
        self.0 == PRODUCTION
    }

    /// The container name of a deployment: `<deployment>` in production, `<env>.<deployment>` elsewhere.
    pub fn container_name(&self, deployment: &str) -> String {
        if self.is_production() {
            deployment.to_string()
        } else {
            format!("{}.{deployment}", self.0)
        }
    }

    /// The container of replica `index` of `deployment`: replica 1 is the deployment's own
    /// container, replica i ≥ 2 is `<container>.<i>` (docs/manifests.md).
    pub fn replica_name(&self, deployment: &str, index: u32) -> String {
        let container = self.container_name(deployment);
        if index <= 1 {
            container
        } else {
            format!("{container}.{index}")
        }
    }

    /// The Swarm service of a deployment: `<deployment>` in production, `<env>_<deployment>`
    /// elsewhere, because Swarm refuses a `.` in a service name (docs/swarm.md).
    pub fn service_name(&self, deployment: &str) -> String {
        if self.is_production() {
            deployment.to_string()
        } else {
            format!("{}_{deployment}", self.0)
        }
    }

    /// The environment's bridge network: `orun-<env>` (`orun-production` for production).
    pub fn network_name(&self) -> String {
        format!("orun-{}", self.0)
    }

    /// The Docker network of the environment that `networks` calls `name`: the environment
    /// network itself for `default`, else `orun-<env>.<name>`.
    pub fn joined_network_name(&self, name: &str) -> String {
        if name == crate::manifest::DEFAULT_NETWORK {
            self.network_name()
        } else {
            format!("orun-{}.{name}", self.0)
        }
    }

    /// The Docker name of the environment's named volume `volume`: `volume` itself in
    /// production, `<env>.<volume>` elsewhere, like container names.
    pub fn volume_name(&self, volume: &str) -> String {
        self.container_name(volume)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(branch: &str) -> String {
        Environment::from_branch(branch).unwrap().0
    }

    #[test]
    fn main_and_master_are_production() {
        assert_eq!(derived("main"), "production");
        assert_eq!(derived("master"), "production");
    }

    #[test]
    fn other_branches_are_slugged() {
        assert_eq!(derived("feat/auth"), "feat-auth");
        assert_eq!(derived("Feature/Login__Page"), "feature-login-page");
        assert_eq!(derived("--x--"), "x");
        assert_eq!(derived("staging"), "staging");
        assert_eq!(derived(&"a".repeat(50)).len(), 40);
    }

    #[test]
    fn a_cut_that_ends_in_a_dash_loses_it() {
        let branch = format!("{}/{}", "a".repeat(39), "b".repeat(10));
        let name = derived(&branch);
        assert_eq!(name, "a".repeat(39));
        assert!(Environment::named(&name).is_ok(), "{name}");
        let runs = format!("{}-__x", "a".repeat(38));
        assert_eq!(derived(&runs), "a".repeat(38));
    }

    #[test]
    fn branch_of_only_symbols_is_an_error() {
        assert!(Environment::from_branch("///").is_err());
    }

    #[test]
    fn explicit_choice_wins_then_node_then_branch_then_production() {
        let node: NodeSpec =
            serde_yaml::from_str("host: h\ngitRepo: r\ngitBranch: feat/x\n").unwrap();
        let staging = Environment::named("staging").unwrap();
        let select =
            |explicit, node, branch| Environment::select(explicit, node, branch).unwrap().0;
        assert_eq!(select(Some(&staging), Some(&node), Some("dev")), "staging");
        assert_eq!(select(None, Some(&node), Some("dev")), "feat-x");
        assert_eq!(select(None, None, Some("dev")), "dev");
        assert_eq!(select(None, None, None), "production");
    }

    #[test]
    fn container_names() {
        assert_eq!(Environment::production().container_name("web"), "web");
        let env = Environment::from_branch("feat/auth").unwrap();
        assert_eq!(env.container_name("hello-world"), "feat-auth.hello-world");
        assert_eq!(env.replica_name("web", 1), "feat-auth.web");
        assert_eq!(env.replica_name("web", 3), "feat-auth.web.3");
        assert_eq!(Environment::production().replica_name("web", 12), "web.12");
        assert_eq!(env.service_name("web"), "feat-auth_web");
        assert_eq!(Environment::production().service_name("web"), "web");
    }

    #[test]
    fn network_and_volume_names() {
        let production = Environment::production();
        assert_eq!(production.network_name(), "orun-production");
        assert_eq!(production.volume_name("data"), "data");
        let env = Environment::from_branch("feat/auth").unwrap();
        assert_eq!(env.network_name(), "orun-feat-auth");
        assert_eq!(env.joined_network_name("default"), "orun-feat-auth");
        assert_eq!(env.joined_network_name("backend"), "orun-feat-auth.backend");
        assert_eq!(env.volume_name("data"), "feat-auth.data");
    }
}
