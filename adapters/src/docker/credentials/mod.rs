//! Registry credentials for pulls and for the base images of builds, found the way the `docker`
//! CLI finds them: `<folder>/config.json` of the Node's `dockerConfig`, else `$DOCKER_CONFIG`,
//! else `~/.docker`; a registry's `credHelpers` helper, else the `credsStore` helper, else its
//! `auths` entry. The file is read at every lookup, so a `docker login` takes effect without a
//! restart. Credentials are handed to Docker only; they are never logged or put in a message.

pub mod config;

use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bollard::auth::DockerCredentials;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tracing::warn;

use config::{helper_has_none, parse_helper_answer, parse_helper_list, ConfigFile};
pub use config::{registry_key, registry_name, Credentials};

/// How long a credential helper may take to answer.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest part of a failed helper's output quoted in an error.
const HELPER_OUTPUT_LIMIT: usize = 200;

/// Where a node's registry credentials come from: the folder of a Docker client configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryCredentials {
    folder: PathBuf,
}

impl RegistryCredentials {
    /// The folder of `docker_config` (the Node's `dockerConfig`), else `$DOCKER_CONFIG`, else
    /// `.docker` in the home folder of the user orun runs as.
    pub fn locate(docker_config: Option<&Path>) -> Self {
        let folder = docker_config.map(Path::to_path_buf).unwrap_or_else(|| {
            std::env::var_os("DOCKER_CONFIG")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    std::env::home_dir()
                        .unwrap_or_else(|| PathBuf::from("/root"))
                        .join(".docker")
                })
        });
        RegistryCredentials { folder }
    }

    /// The configuration file credentials are read from.
    pub fn config_file(&self) -> PathBuf {
        self.folder.join("config.json")
    }

    /// The configuration; a missing file configures nothing.
    async fn read(&self) -> Result<ConfigFile> {
        let path = self.config_file();
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => {
                config::parse(&text).map_err(|error| anyhow!("{}: {error}", path.display()))
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(error) => Err(anyhow!("cannot read {}: {error}", path.display())),
        }
    }

    /// The credentials for the registry known as `key` (see [`registry_key`]), if any are
    /// configured.
    pub async fn for_registry(&self, key: &str) -> Result<Option<Credentials>> {
        let config = self.read().await?;
        self.lookup(&config, key).await
    }

    async fn lookup(&self, config: &ConfigFile, key: &str) -> Result<Option<Credentials>> {
        if let Some(helper) = config.cred_helper(key) {
            return helper_get(helper, key).await;
        }
        if let Some(store) = config.creds_store() {
            if let Some(found) = helper_get(store, key).await? {
                return Ok(Some(found));
            }
        }
        config
            .stored(key)
            .map_err(|error| anyhow!("{}: {error}", self.config_file().display()))
    }

    /// The credentials of every registry the configuration knows, for a build whose base images
    /// may come from any of them. A registry whose lookup fails is left out with a warning: the
    /// build then fails only if it needs that registry, with the registry's own refusal.
    pub async fn all(&self) -> Result<HashMap<String, DockerCredentials>> {
        let config = self.read().await?;
        let mut keys = config.registry_keys();
        if let Some(store) = config.creds_store() {
            match helper_list(store).await {
                Ok(listed) => keys.extend(listed),
                Err(error) => {
                    warn!(error = %format!("{error:#}"), "registry credentials not listed")
                }
            }
        }
        let mut found = BTreeMap::new();
        for key in keys {
            match self.lookup(&config, &key).await {
                Ok(Some(credentials)) => {
                    found.insert(key.clone(), to_docker(&credentials, &key));
                }
                Ok(None) => {}
                Err(error) => {
                    warn!(registry = %key, error = %format!("{error:#}"), "registry credentials left out of a build")
                }
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// The credentials as the Docker API takes them for the registry known as `key`.
pub fn to_docker(credentials: &Credentials, key: &str) -> DockerCredentials {
    let nonempty = |value: &str| (!value.is_empty()).then(|| value.to_string());
    DockerCredentials {
        username: nonempty(&credentials.username),
        password: nonempty(&credentials.password),
        identitytoken: credentials.identity_token.clone(),
        serveraddress: Some(key.to_string()),
        ..DockerCredentials::default()
    }
}

/// `docker-credential-<helper> get` for `key`: its credentials, or none when it holds none.
async fn helper_get(helper: &str, key: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{helper}");
    let output = run_helper(&program, "get", key)
        .await
        .with_context(|| format!("credential helper {program} for registry {key}"))?;
    if !output.status.success() {
        if helper_has_none(&String::from_utf8_lossy(&output.stdout)) {
            return Ok(None);
        }
        bail!(
            "credential helper {program} for registry {key} failed ({}): {}",
            output.status,
            failure_text(&output)
        );
    }
    parse_helper_answer(&String::from_utf8_lossy(&output.stdout))
        .map(Some)
        .map_err(|error| anyhow!("credential helper {program} for registry {key}: {error}"))
}

/// `docker-credential-<helper> list`: the registry keys it holds credentials for.
async fn helper_list(helper: &str) -> Result<Vec<String>> {
    let program = format!("docker-credential-{helper}");
    let output = run_helper(&program, "list", "")
        .await
        .with_context(|| format!("credential helper {program}"))?;
    if !output.status.success() {
        bail!(
            "credential helper {program} list failed ({}): {}",
            output.status,
            failure_text(&output)
        );
    }
    parse_helper_list(&String::from_utf8_lossy(&output.stdout))
        .map_err(|error| anyhow!("credential helper {program}: {error}"))
}

/// Runs a helper with `command` as its argument and `input` on standard input.
async fn run_helper(program: &str, command: &str, input: &str) -> Result<std::process::Output> {
    let mut child = Command::new(program)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| match error.kind() {
            ErrorKind::NotFound => anyhow!("{program} is not on PATH"),
            _ => anyhow!("cannot run {program}: {error}"),
        })?;
    let mut stdin = child.stdin.take().context("no standard input")?;
    let conversation = async move {
        stdin.write_all(input.as_bytes()).await?;
        drop(stdin);
        child.wait_with_output().await
    };
    match tokio::time::timeout(HELPER_TIMEOUT, conversation).await {
        Ok(result) => result.with_context(|| format!("cannot talk to {program}")),
        Err(_) => bail!(
            "{program} gave no answer within {}s",
            HELPER_TIMEOUT.as_secs()
        ),
    }
}

/// The first line a failed helper wrote (its error), bounded; a helper prints no secret when it
/// fails.
fn failure_text(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("no output");
    line.chars().take(HELPER_OUTPUT_LIMIT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_field_comes_first() {
        let located = RegistryCredentials::locate(Some(Path::new("/etc/orun/docker")));
        assert_eq!(
            located.config_file(),
            Path::new("/etc/orun/docker/config.json")
        );
    }

    #[tokio::test]
    async fn a_missing_file_configures_nothing() {
        let folder = tempfile::TempDir::new().unwrap();
        let located = RegistryCredentials::locate(Some(folder.path()));
        assert_eq!(located.for_registry("ghcr.io").await.unwrap(), None);
        assert!(located.all().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_broken_file_is_named() {
        let folder = tempfile::TempDir::new().unwrap();
        std::fs::write(folder.path().join("config.json"), "{\"auths\": [").unwrap();
        let located = RegistryCredentials::locate(Some(folder.path()));
        let error = located.for_registry("ghcr.io").await.unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&located.config_file().display().to_string()),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_missing_helper_is_named() {
        let folder = tempfile::TempDir::new().unwrap();
        std::fs::write(
            folder.path().join("config.json"),
            r#"{"credHelpers": {"ghcr.io": "orun-absent-helper"}}"#,
        )
        .unwrap();
        let located = RegistryCredentials::locate(Some(folder.path()));
        let error = located.for_registry("ghcr.io").await.unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "credential helper docker-credential-orun-absent-helper for registry ghcr.io: docker-credential-orun-absent-helper is not on PATH"
        );
    }
}
