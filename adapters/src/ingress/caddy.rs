//! The supervised Caddy child process: started from a config file that always holds the latest
//! routes (so a restart restores them), restarted if it dies, reconfigured through the admin API
//! (`POST /load`) one change at a time, and stopped on shutdown. The admin API listens on a unix
//! socket that only orun's user may open (mode 0600, by default in Caddy's 0700 data folder, Caddy
//! started with umask 077), spoken to with hyper's HTTP/1 client. Its errors are a
//! [`CaddyError`], naming the file, folder or socket involved. It does not choose routes.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;
use tokio::process::Command;
use tokio::sync::{oneshot, watch, Mutex};
use tracing::{info, warn};

use engine::routes::Route;

use super::config::{render, CaddySettings};

/// How long Caddy's admin API may take to answer after a start.
const ADMIN_WAIT: Duration = Duration::from_secs(15);
/// Pause before restarting a Caddy that died.
const RESTART_DELAY: Duration = Duration::from_secs(1);
/// How long one admin API request may take, connecting included.
const ADMIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The admin socket's mode: its owner, orun's user, alone may connect.
const ADMIN_SOCKET_MODE: u32 = 0o600;
/// The mode of Caddy's data folder and of the admin socket's folder.
const PRIVATE_DIR_MODE: u32 = 0o700;

/// Why Caddy could not be started or given its routes.
#[derive(Debug, thiserror::Error)]
pub enum CaddyError {
    #[error("cannot create {what} {}: {error}", .dir.display())]
    CreateFolder {
        what: &'static str,
        dir: PathBuf,
        error: io::Error,
    },
    #[error("cannot restrict {what} {} to its owner: {error}", .dir.display())]
    RestrictFolder {
        what: &'static str,
        dir: PathBuf,
        error: io::Error,
    },
    #[error("cannot restrict Caddy's admin socket {}: {error}", .socket.display())]
    RestrictSocket { socket: PathBuf, error: io::Error },
    #[error("cannot write the Caddy config {}: {error}", .path.display())]
    WriteConfig { path: PathBuf, error: io::Error },
    #[error("cannot start Caddy ({}): {error}", .binary.display())]
    Spawn { binary: PathBuf, error: io::Error },
    /// Caddy started but its admin API never answered: most likely it could not bind its ports.
    #[error("Caddy ({}) did not answer on its admin socket {} within {}s; check that ports {} and {} are free", .binary.display(), .settings.admin.display(), ADMIN_WAIT.as_secs(), .settings.http_port, .settings.https_port)]
    Silent {
        binary: PathBuf,
        settings: CaddySettings,
    },
    #[error("the Caddy supervisor stopped")]
    SupervisorStopped,
    #[error("Caddy admin API on {} unreachable: {error}", .socket.display())]
    Unreachable { socket: PathBuf, error: AdminError },
    #[error("Caddy admin API on {} refused the config: {status} {body}", .socket.display())]
    Refused {
        socket: PathBuf,
        status: StatusCode,
        /// Caddy's answer, trimmed.
        body: String,
    },
}

/// Why a request to Caddy's admin API got no answer. Each message is whole: no variant has a
/// `source`, so nothing prints twice in a chain.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Connect(io::Error),
    #[error("{}", with_causes(.0))]
    Http(hyper::Error),
    #[error("{0}")]
    Request(hyper::http::Error),
    #[error("no answer within {}s", ADMIN_REQUEST_TIMEOUT.as_secs())]
    NoAnswer,
}

impl From<hyper::Error> for AdminError {
    fn from(error: hyper::Error) -> Self {
        AdminError::Http(error)
    }
}

impl From<hyper::http::Error> for AdminError {
    fn from(error: hyper::http::Error) -> Self {
        AdminError::Request(error)
    }
}

/// `error` and the errors that caused it on one line: hyper's own message names only the first.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(&format!(": {error}"));
        cause = error.source();
    }
    text
}

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
    served: Arc<Mutex<ServedRoutes>>,
}

/// The routes Caddy serves and the config they rendered to.
struct ServedRoutes {
    routes: Vec<Route>,
    config: Value,
}

impl Caddy {
    /// Starts `binary` with its data under `dir` and waits until its admin API answers.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        settings: CaddySettings,
    ) -> Result<Caddy, CaddyError> {
        private_dir(dir, "Caddy's data folder").await?;
        super::handover::enable().await;
        // Another folder named by `--caddy-admin` may be shared: it keeps its mode, the socket
        // in it is still its owner's alone.
        if let Some(parent) = settings.admin.parent().filter(|parent| *parent != dir) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| CaddyError::CreateFolder {
                    what: "the folder of Caddy's admin socket",
                    dir: parent.to_path_buf(),
                    error,
                })?;
        }
        let served = Arc::new(Mutex::new(ServedRoutes {
            routes: Vec::new(),
            config: render(&settings, dir, &[]),
        }));
        let (stop, stop_rx) = watch::channel(false);
        let (started_tx, started_rx) = oneshot::channel();
        let supervisor = tokio::spawn(supervise(
            binary.to_path_buf(),
            dir.to_path_buf(),
            settings.clone(),
            served.clone(),
            stop_rx,
            started_tx,
        ));
        started_rx
            .await
            .unwrap_or(Err(CaddyError::SupervisorStopped))?;
        let routes = CaddyRoutes {
            settings,
            dir: dir.to_path_buf(),
            served,
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
    pub async fn apply(&self, routes: &[Route]) -> Result<(), CaddyError> {
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
    pub async fn change(
        &self,
        change: impl FnOnce(&[Route]) -> Vec<Route>,
    ) -> Result<(), CaddyError> {
        let mut served = self.served.lock().await;
        let routes = change(&served.routes);
        let wanted = render(&self.settings, &self.dir, &routes);
        if served.config == wanted {
            // The same config can stand for other routes (an upstream named after another
            // replica); the next change starts from these.
            served.routes = routes;
            return Ok(());
        }
        write_config(&self.dir, &wanted).await?;
        load(&self.settings, &wanted).await?;
        info!(routes = routes.len(), "ingress routes updated");
        *served = ServedRoutes {
            routes,
            config: wanted,
        };
        Ok(())
    }
}

fn config_path(dir: &Path) -> PathBuf {
    dir.join("orun-caddy.json")
}

async fn write_config(dir: &Path, config: &Value) -> Result<(), CaddyError> {
    let path = config_path(dir);
    match tokio::fs::write(&path, serde_json::to_vec_pretty(config).expect("json")).await {
        Ok(()) => Ok(()),
        Err(error) => Err(CaddyError::WriteConfig { path, error }),
    }
}

/// Creates `dir` (and its parents) and makes it its owner's alone.
async fn private_dir(dir: &Path, what: &'static str) -> Result<(), CaddyError> {
    let dir = dir.to_path_buf();
    if let Err(error) = tokio::fs::create_dir_all(&dir).await {
        return Err(CaddyError::CreateFolder { what, dir, error });
    }
    let mode = std::fs::Permissions::from_mode(PRIVATE_DIR_MODE);
    match tokio::fs::set_permissions(&dir, mode).await {
        Ok(()) => Ok(()),
        Err(error) => Err(CaddyError::RestrictFolder { what, dir, error }),
    }
}

async fn load(settings: &CaddySettings, config: &Value) -> Result<(), CaddyError> {
    let socket = settings.admin.clone();
    match admin_request(&settings.admin, Method::POST, "/load", config.to_string()).await {
        Err(error) => Err(CaddyError::Unreachable { socket, error }),
        Ok((status, body)) if !status.is_success() => Err(CaddyError::Refused {
            socket,
            status,
            body: body.trim().to_string(),
        }),
        Ok(_) => Ok(()),
    }
}

/// One request to the admin API on its unix socket: the response's status and body.
async fn admin_request(
    socket: &Path,
    method: Method,
    path: &str,
    body: String,
) -> Result<(StatusCode, String), AdminError> {
    let exchange = async {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(AdminError::Connect)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            // Caddy serves a unix socket only to requests with an empty Host.
            .header(header::HOST, "")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        connection.abort();
        Ok::<_, AdminError>((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(ADMIN_REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(AdminError::NoAnswer))
}

async fn admin_answers(settings: &CaddySettings) -> bool {
    admin_request(&settings.admin, Method::GET, "/config/", String::new())
        .await
        .is_ok_and(|(status, _)| status.is_success())
}

async fn admin_stop(settings: &CaddySettings) {
    let _ = admin_request(&settings.admin, Method::POST, "/stop", String::new()).await;
}

/// Makes the admin socket its owner's alone. Caddy created it under umask 077 already; this
/// keeps it so whatever umask Caddy was given.
async fn restrict_admin_socket(settings: &CaddySettings) -> Result<(), CaddyError> {
    let socket = settings.admin.clone();
    let mode = std::fs::Permissions::from_mode(ADMIN_SOCKET_MODE);
    match tokio::fs::set_permissions(&socket, mode).await {
        Ok(()) => Ok(()),
        Err(error) => Err(CaddyError::RestrictSocket { socket, error }),
    }
}

/// Starts `caddy run` on the config file; Caddy gets SIGTERM if orun dies, so it never outlives it.
fn spawn_caddy(binary: &Path, dir: &Path) -> Result<tokio::process::Child, CaddyError> {
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
    // SAFETY: prctl and umask are async-signal-safe and touch only the child being set up.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The admin socket, certificates and keys Caddy creates are its owner's alone.
            libc::umask(0o077);
            Ok(())
        });
    }
    command.spawn().map_err(|error| CaddyError::Spawn {
        binary: binary.to_path_buf(),
        error,
    })
}

/// Runs Caddy, restarting it whenever it exits, until `stop` is set. The first start's result is
/// reported through `started`.
async fn supervise(
    binary: PathBuf,
    dir: PathBuf,
    settings: CaddySettings,
    served: Arc<Mutex<ServedRoutes>>,
    mut stop: watch::Receiver<bool>,
    started: oneshot::Sender<Result<(), CaddyError>>,
) {
    let mut started = Some(started);
    loop {
        let current = served.lock().await.config.clone();
        // A Caddy left by an orun that was killed still answers on the admin socket and holds the ports.
        if admin_answers(&settings).await {
            warn!(admin = %settings.admin.display(), "stopping a Caddy left running by an earlier orun");
            admin_stop(&settings).await;
            tokio::time::sleep(RESTART_DELAY).await;
        }
        let spawned = match write_config(&dir, &current).await {
            Ok(()) => spawn_caddy(&binary, &dir),
            Err(error) => Err(error),
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                if let Some(started) = started.take() {
                    let _ = started.send(Err(error));
                    return;
                }
                warn!(%error, "Caddy did not restart");
                tokio::select! {
                    _ = tokio::time::sleep(RESTART_DELAY) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        let deadline = tokio::time::Instant::now() + ADMIN_WAIT;
        let mut up = false;
        while tokio::time::Instant::now() < deadline {
            if admin_answers(&settings).await {
                up = true;
                if let Err(error) = restrict_admin_socket(&settings).await {
                    warn!(%error, "Caddy's admin socket keeps the mode Caddy gave it (owner only, from umask 077)");
                }
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(started) = started.take() {
            if !up {
                let _ = child.kill().await;
                let _ = started.send(Err(CaddyError::Silent {
                    binary: binary.clone(),
                    settings: settings.clone(),
                }));
                return;
            }
            info!(admin = %settings.admin.display(), "Caddy started");
            let _ = started.send(Ok(()));
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
                admin_stop(&settings).await;
                if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                return;
            }
        }
    }
}
