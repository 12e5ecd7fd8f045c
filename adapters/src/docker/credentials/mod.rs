//! Registry credentials for pulls and for the base images of builds, found the way the `docker`
//! CLI finds them: `<folder>/config.json` of the Node's `dockerConfig`, else `$DOCKER_CONFIG`,
//! else `~/.docker`; a registry's `credHelpers` helper, else the `credsStore` helper, else its
//! `auths` entry. The file is read at every lookup, so a `docker login` takes effect without a
//! restart, as a regular file of at most [`CONFIG_LIMIT`] bytes, off the async workers and within
//! [`CONFIG_READ_TIMEOUT`] (`files::read_setting_file`), so a FIFO or device there cannot stall a
//! pull. Credentials are handed to Docker only; they are never logged or put in a message, a
//! [`CredentialsError`] included.

pub mod config;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bollard::auth::DockerCredentials;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tracing::warn;

use crate::files::{self, Refusal};
use config::{helper_has_none, parse_helper_answer, parse_helper_list, ConfigFile};
pub use config::{registry_key, registry_name, Credentials};

/// The largest `config.json` read.
pub const CONFIG_LIMIT: usize = 1024 * 1024;

/// How long reading `config.json` may take.
pub const CONFIG_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a credential helper may take to answer.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest part of a failed helper's output quoted in an error.
const HELPER_OUTPUT_LIMIT: usize = 200;

/// Why registry credentials could not be looked up. No variant holds a value of `config.json` or
/// of a helper's answer.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// `config.json` could not be read, or is not a regular file within the size and time limits.
    #[error(transparent)]
    Read(Refusal),
    /// `config.json` is not a Docker client configuration, or its entry for a registry is not
    /// usable; `problem` says where, never what the value is.
    #[error("{}: {problem}", .path.display())]
    Config { path: PathBuf, problem: String },
    /// A credential helper could not be run, or its answer could not be read.
    #[error("{helper}: {failure}")]
    Helper {
        helper: Helper,
        failure: HelperFailure,
    },
    /// A credential helper exited with a failure; `output` is the first line of its standard
    /// error.
    #[error("{helper}{} failed ({status}): {output}", if matches!(.helper, Helper::List { .. }) { " list" } else { "" })]
    HelperFailed {
        helper: Helper,
        status: ExitStatus,
        output: String,
    },
}

/// A credential helper, as asked: for one registry's credentials, or for the registries it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Helper {
    Get { program: String, registry: String },
    List { program: String },
}

/// Why a credential helper gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum HelperFailure {
    #[error("{program} is not on PATH")]
    NotOnPath { program: String },
    #[error("cannot run {program}: {error}")]
    Run { program: String, error: io::Error },
    #[error("cannot talk to {program}: {error}")]
    Talk { program: String, error: io::Error },
    #[error("{program} gave no answer within {}s", HELPER_TIMEOUT.as_secs())]
    NoAnswer { program: String },
    /// Its answer is not what the helper protocol says; the problem never quotes it.
    #[error("{0}")]
    Answer(String),
}

impl fmt::Display for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Helper::Get { program, registry } => {
                write!(f, "credential helper {program} for registry {registry}")
            }
            Helper::List { program } => write!(f, "credential helper {program}"),
        }
    }
}

impl Helper {
    fn program(&self) -> &str {
        match self {
            Helper::Get { program, .. } | Helper::List { program } => program,
        }
    }
}

/// Where a node's registry credentials come from: the folder of a Docker client configuration,
/// and the setting that named it, if one did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryCredentials {
    folder: PathBuf,
    setting: Option<String>,
}

impl RegistryCredentials {
    /// The folder of `docker_config` (the Node's `dockerConfig`, with the setting as errors name
    /// it: `nodes/web-01.yaml: spec.dockerConfig`), else `$DOCKER_CONFIG`, else `.docker` in the
    /// home folder of the user orun runs as.
    pub fn locate(docker_config: Option<(&str, &Path)>) -> Self {
        let Some((setting, folder)) = docker_config else {
            let folder = std::env::var_os("DOCKER_CONFIG")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    std::env::home_dir()
                        .unwrap_or_else(|| PathBuf::from("/root"))
                        .join(".docker")
                });
            return RegistryCredentials {
                folder,
                setting: None,
            };
        };
        RegistryCredentials {
            folder: folder.to_path_buf(),
            setting: Some(setting.to_string()),
        }
    }

    /// The configuration file credentials are read from.
    pub fn config_file(&self) -> PathBuf {
        self.folder.join("config.json")
    }

    /// The configuration; a missing file configures nothing.
    async fn read(&self) -> Result<ConfigFile, CredentialsError> {
        let path = self.config_file();
        let file = match &self.setting {
            Some(setting) => format!("{setting}: {}", path.display()),
            None => path.display().to_string(),
        };
        let text =
            match files::read_setting_file(&path, &file, CONFIG_LIMIT, CONFIG_READ_TIMEOUT).await {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| CredentialsError::Config {
                    path: path.clone(),
                    problem: "not UTF-8 text".to_string(),
                })?,
                Err(refusal) if refusal.is_not_found() => return Ok(ConfigFile::default()),
                Err(refusal) => return Err(CredentialsError::Read(refusal)),
            };
        config::parse(&text).map_err(|problem| CredentialsError::Config { path, problem })
    }

    /// The credentials for the registry known as `key` (see [`registry_key`]), if any are
    /// configured.
    pub async fn for_registry(&self, key: &str) -> Result<Option<Credentials>, CredentialsError> {
        let config = self.read().await?;
        self.lookup(&config, key).await
    }

    async fn lookup(
        &self,
        config: &ConfigFile,
        key: &str,
    ) -> Result<Option<Credentials>, CredentialsError> {
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
            .map_err(|problem| CredentialsError::Config {
                path: self.config_file(),
                problem,
            })
    }

    /// The credentials of every registry the configuration knows, for a build whose base images
    /// may come from any of them. A registry whose lookup fails is left out with a warning: the
    /// build then fails only if it needs that registry, with the registry's own refusal.
    pub async fn all(&self) -> Result<HashMap<String, DockerCredentials>, CredentialsError> {
        let config = self.read().await?;
        let mut keys = config.registry_keys();
        if let Some(store) = config.creds_store() {
            match helper_list(store).await {
                Ok(listed) => keys.extend(listed),
                Err(error) => warn!(%error, "registry credentials not listed"),
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
                    warn!(registry = %key, %error, "registry credentials left out of a build")
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
async fn helper_get(helper: &str, key: &str) -> Result<Option<Credentials>, CredentialsError> {
    let helper = Helper::Get {
        program: format!("docker-credential-{helper}"),
        registry: key.to_string(),
    };
    let output = run_helper(&helper, "get", key).await?;
    if !output.status.success() {
        if helper_has_none(&String::from_utf8_lossy(&output.stdout)) {
            return Ok(None);
        }
        return Err(failed(helper, &output));
    }
    parse_helper_answer(&String::from_utf8_lossy(&output.stdout))
        .map(Some)
        .map_err(|problem| CredentialsError::Helper {
            helper,
            failure: HelperFailure::Answer(problem),
        })
}

/// `docker-credential-<helper> list`: the registry keys it holds credentials for.
async fn helper_list(helper: &str) -> Result<Vec<String>, CredentialsError> {
    let helper = Helper::List {
        program: format!("docker-credential-{helper}"),
    };
    let output = run_helper(&helper, "list", "").await?;
    if !output.status.success() {
        return Err(failed(helper, &output));
    }
    parse_helper_list(&String::from_utf8_lossy(&output.stdout)).map_err(|problem| {
        CredentialsError::Helper {
            helper,
            failure: HelperFailure::Answer(problem),
        }
    })
}

/// Runs `helper` with `command` as its argument and `input` on standard input.
async fn run_helper(
    helper: &Helper,
    command: &str,
    input: &str,
) -> Result<std::process::Output, CredentialsError> {
    let program = helper.program().to_string();
    let failure = |failure: HelperFailure| CredentialsError::Helper {
        helper: helper.clone(),
        failure,
    };
    let mut child = Command::new(&program)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            failure(match error.kind() {
                ErrorKind::NotFound => HelperFailure::NotOnPath {
                    program: program.clone(),
                },
                _ => HelperFailure::Run {
                    program: program.clone(),
                    error,
                },
            })
        })?;
    let mut stdin = child
        .stdin
        .take()
        .expect("the helper's standard input is piped");
    let conversation = async move {
        stdin.write_all(input.as_bytes()).await?;
        drop(stdin);
        child.wait_with_output().await
    };
    match tokio::time::timeout(HELPER_TIMEOUT, conversation).await {
        Ok(result) => result.map_err(|error| failure(HelperFailure::Talk { program, error })),
        Err(_) => Err(failure(HelperFailure::NoAnswer { program })),
    }
}

/// The error of `helper`, which exited with a failure.
fn failed(helper: Helper, output: &std::process::Output) -> CredentialsError {
    CredentialsError::HelperFailed {
        helper,
        status: output.status,
        output: failure_text(output),
    }
}

/// The first line a failed helper wrote on its standard error, bounded. Its standard output is
/// never quoted: a helper that fails half-way may have printed the credentials there.
fn failure_text(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("no output on standard error");
    line.chars().take(HELPER_OUTPUT_LIMIT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_field_comes_first() {
        let located = RegistryCredentials::locate(Some((
            "nodes/web-01.yaml: spec.dockerConfig",
            Path::new("/etc/orun/docker"),
        )));
        assert_eq!(
            located.config_file(),
            Path::new("/etc/orun/docker/config.json")
        );
    }

    #[tokio::test]
    async fn a_missing_file_configures_nothing() {
        let folder = tempfile::TempDir::new().unwrap();
        let located = RegistryCredentials::locate(Some(("dockerConfig", folder.path())));
        assert_eq!(located.for_registry("ghcr.io").await.unwrap(), None);
        assert!(located.all().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_broken_file_is_named() {
        let folder = tempfile::TempDir::new().unwrap();
        std::fs::write(folder.path().join("config.json"), "{\"auths\": [").unwrap();
        let located = RegistryCredentials::locate(Some(("dockerConfig", folder.path())));
        let error = located.for_registry("ghcr.io").await.unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&located.config_file().display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn a_failed_helper_is_quoted_from_its_standard_error_only() {
        use std::os::unix::process::ExitStatusExt;
        let output = |stdout: &str, stderr: &str| std::process::Output {
            status: std::process::ExitStatus::from_raw(1 << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let secret = r#"{"ServerURL":"ghcr.io","Username":"u","Secret":"hunter2"}"#;
        assert_eq!(
            failure_text(&output(secret, "\n  keychain locked\nmore\n")),
            "keychain locked"
        );
        let quiet = failure_text(&output(secret, ""));
        assert_eq!(quiet, "no output on standard error");
        assert!(!quiet.contains("hunter2"));
    }

    #[tokio::test]
    async fn a_fifo_or_device_as_config_json_is_refused_at_once_naming_the_setting() {
        let folder = tempfile::TempDir::new().unwrap();
        let config = folder.path().join("config.json");
        let made = std::process::Command::new("mkfifo").arg(&config).status();
        assert!(made.unwrap().success());
        let setting = "nodes/web-01.yaml: spec.dockerConfig";
        let located = RegistryCredentials::locate(Some((setting, folder.path())));
        // Nothing writes to the FIFO: a blocking read would wait for ever.
        let lookup = tokio::time::timeout(Duration::from_secs(2), located.for_registry("ghcr.io"));
        let error = lookup.await.expect("not stalled").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{setting}: {}: not a regular file (a FIFO, socket or device): refusing to read it",
                config.display()
            )
        );

        let devices = tempfile::TempDir::new().unwrap();
        std::os::unix::fs::symlink("/dev/zero", devices.path().join("config.json")).unwrap();
        let located = RegistryCredentials::locate(Some((setting, devices.path())));
        let error = located.all().await.unwrap_err();
        assert!(
            matches!(error, CredentialsError::Read(Refusal::NotRegular { .. })),
            "{error}"
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
        let located = RegistryCredentials::locate(Some(("dockerConfig", folder.path())));
        let error = located.for_registry("ghcr.io").await.unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "credential helper docker-credential-orun-absent-helper for registry ghcr.io: docker-credential-orun-absent-helper is not on PATH"
        );
    }
}
