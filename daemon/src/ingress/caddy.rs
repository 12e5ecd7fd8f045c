//! The supervised Caddy child process: started from a config file that always holds the latest
//! routes (so a restart restores them), restarted if it dies, reconfigured through the admin API
//! (`POST /load`) one change at a time, and stopped on shutdown. It does not choose routes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::process::Command;
use tokio::sync::{watch, Mutex};
use tracing::{info, warn};

use super::config::{render, CaddySettings, Route};

/// How long Caddy's admin API may take to answer after a start.
const ADMIN_WAIT: Duration = Duration::from_secs(15);
/// Pause before restarting a Caddy that died.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// A running, supervised Caddy.
pub struct Caddy {
    routes: CaddyRoutes,
    stop: watch::Sender<bool>,
    supervisor: tokio::task::JoinHandle<()>,
}

/// Loads routes into a running Caddy. Clones share Caddy's routes, and changes are made one at a
/// time, so two rollouts moving their own routes at once do not undo each other.
#[derive(Clone)]
pub struct CaddyRoutes {
    settings: CaddySettings,
    dir: PathBuf,
    loaded: Arc<Mutex<Loaded>>,
    client: reqwest::Client,
}

/// The routes Caddy serves and the config they rendered to.
struct Loaded {
    routes: Vec<Route>,
    config: Value,
}

impl Caddy {
    /// Starts `binary` with its data under `dir` and waits until its admin API answers.
    pub async fn start(binary: &Path, dir: &Path, settings: CaddySettings) -> Result<Caddy> {
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("cannot create Caddy's data folder {}", dir.display()))?;
        let loaded = Arc::new(Mutex::new(Loaded {
            routes: Vec::new(),
            config: render(&settings, dir, &[]),
        }));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        let (stop, stop_rx) = watch::channel(false);
        let (started_tx, mut started_rx) = watch::channel(None::<Result<(), String>>);
        let supervisor = tokio::spawn(supervise(
            binary.to_path_buf(),
            dir.to_path_buf(),
            settings.clone(),
            loaded.clone(),
            client.clone(),
            stop_rx,
            started_tx,
        ));
        let first = loop {
            if let Some(result) = started_rx.borrow_and_update().clone() {
                break result;
            }
            if started_rx.changed().await.is_err() {
                break Err("the Caddy supervisor stopped".to_string());
            }
        };
        first.map_err(|error| anyhow!(error))?;
        let routes = CaddyRoutes {
            settings,
            dir: dir.to_path_buf(),
            loaded,
            client,
        };
        Ok(Caddy {
            routes,
            stop,
            supervisor,
        })
    }

    /// A handle on Caddy's routes, for changes made while a pass runs.
    pub fn routes(&self) -> CaddyRoutes {
        self.routes.clone()
    }

    /// Makes `routes` Caddy's routes; nothing is sent when they are unchanged.
    pub async fn apply(&self, routes: &[Route]) -> Result<()> {
        self.routes.change(|_| routes.to_vec()).await
    }

    /// Stops Caddy gracefully through its admin API, then makes sure the process is gone.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.supervisor.await;
    }
}

impl CaddyRoutes {
    /// Replaces Caddy's routes with what `change` makes of them, and returns once Caddy serves
    /// them; nothing is sent when they are unchanged.
    pub async fn change(&self, change: impl FnOnce(&[Route]) -> Vec<Route>) -> Result<()> {
        let mut loaded = self.loaded.lock().await;
        let routes = change(&loaded.routes);
        let wanted = render(&self.settings, &self.dir, &routes);
        if loaded.config == wanted {
            return Ok(());
        }
        write_config(&self.dir, &wanted).await?;
        load(&self.client, &self.settings, &wanted).await?;
        info!(routes = routes.len(), "ingress routes updated");
        *loaded = Loaded {
            routes,
            config: wanted,
        };
        Ok(())
    }
}

fn config_path(dir: &Path) -> PathBuf {
    dir.join("orun-caddy.json")
}

async fn write_config(dir: &Path, config: &Value) -> Result<()> {
    let path = config_path(dir);
    tokio::fs::write(&path, serde_json::to_vec_pretty(config).expect("json"))
        .await
        .with_context(|| format!("cannot write the Caddy config {}", path.display()))
}

async fn load(client: &reqwest::Client, settings: &CaddySettings, config: &Value) -> Result<()> {
    let url = format!("http://{}/load", settings.admin);
    let response = client
        .post(&url)
        .header("Content-Type", "application/json")
        .body(config.to_string())
        .send()
        .await
        .with_context(|| format!("Caddy admin API {url} unreachable"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!(
            "Caddy admin API {url} refused the config: {status} {}",
            body.trim()
        );
    }
    Ok(())
}

/// Starts `caddy run` on the config file; Caddy gets SIGTERM if orun dies, so it never outlives it.
fn spawn_caddy(binary: &Path, dir: &Path) -> Result<tokio::process::Child> {
    let mut command = Command::new(binary);
    command
        .args(["run", "--config"])
        .arg(config_path(dir))
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .spawn()
        .with_context(|| format!("cannot start Caddy ({})", binary.display()))
}

async fn admin_answers(client: &reqwest::Client, settings: &CaddySettings) -> bool {
    let url = format!("http://{}/config/", settings.admin);
    client
        .get(&url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Runs Caddy, restarting it whenever it exits, until `stop` is set. The first start's result is
/// reported through `started`.
async fn supervise(
    binary: PathBuf,
    dir: PathBuf,
    settings: CaddySettings,
    loaded: Arc<Mutex<Loaded>>,
    client: reqwest::Client,
    mut stop: watch::Receiver<bool>,
    started: watch::Sender<Option<Result<(), String>>>,
) {
    let mut first = true;
    loop {
        let current = loaded.lock().await.config.clone();
        // A Caddy left by an orun that was killed still holds the admin address and the ports.
        if admin_answers(&client, &settings).await {
            warn!(admin = %settings.admin, "stopping a Caddy left running by an earlier orun");
            let _ = client
                .post(format!("http://{}/stop", settings.admin))
                .send()
                .await;
            tokio::time::sleep(RESTART_DELAY).await;
        }
        let spawned = match write_config(&dir, &current).await {
            Ok(()) => spawn_caddy(&binary, &dir),
            Err(error) => Err(error),
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                if first {
                    let _ = started.send(Some(Err(format!("{error:#}"))));
                    return;
                }
                warn!(error = %format!("{error:#}"), "Caddy did not restart");
                tokio::select! {
                    _ = tokio::time::sleep(RESTART_DELAY) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        let deadline = tokio::time::Instant::now() + ADMIN_WAIT;
        let mut up = false;
        while tokio::time::Instant::now() < deadline {
            if admin_answers(&client, &settings).await {
                up = true;
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if first {
            first = false;
            let result = if up {
                info!(admin = %settings.admin, "Caddy started");
                Ok(())
            } else {
                let _ = child.kill().await;
                Err(format!(
                    "Caddy ({}) did not answer on its admin address {} within {}s; check that ports {} and {} are free",
                    binary.display(),
                    settings.admin,
                    ADMIN_WAIT.as_secs(),
                    settings.http_port,
                    settings.https_port
                ))
            };
            let failed = result.is_err();
            let _ = started.send(Some(result));
            if failed {
                return;
            }
        } else if up {
            info!("Caddy restarted; routes restored");
        }
        tokio::select! {
            status = child.wait() => {
                warn!(status = ?status.ok(), "Caddy exited; restarting it");
                tokio::select! {
                    _ = tokio::time::sleep(RESTART_DELAY) => {}
                    _ = stop.changed() => return,
                }
            }
            _ = stop.changed() => {
                let _ = client.post(format!("http://{}/stop", settings.admin)).send().await;
                if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                return;
            }
        }
    }
}
