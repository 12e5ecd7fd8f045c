//! The control socket, `<dataDir>/control.sock` (docs/node.md#local-control): a unix socket,
//! mode 600, through which `orun suspend`, `resume`, `pin` and `unpin` reach the running node.
//! One JSON line in (a [`Command`]), one JSON line out (a [`Reply`]) per connection. It only
//! carries commands to the reconciler and its answers back; what a command does is the node
//! loop's decision. Nothing of it is on the network.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::decisions::control::Answer;
pub use crate::decisions::control::Command;

/// The longest a command line may be.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// A client must send its command within this long after it connects.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's answer on the socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The command was done.
    pub ok: bool,
    /// What was done, or why it was refused.
    pub message: String,
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Self {
        match answer {
            Ok(message) => Reply { ok: true, message },
            Err(message) => Reply { ok: false, message },
        }
    }
}

/// A command on its way to the reconciler, with where its answer goes.
#[derive(Debug)]
pub struct ControlRequest {
    pub command: Command,
    pub answer: oneshot::Sender<Answer>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("another orun node answers on its control socket {}: stop it first, or give this one another --data-dir", .0.display())]
    InUse(PathBuf),
    #[error("cannot open the control socket {}: {source}", .path.display())]
    Bind { path: PathBuf, source: io::Error },
}

/// Binds `path` (mode 600; a socket left there by a node that is gone is replaced) and serves it
/// on its own task; commands arrive on the returned channel.
pub fn listen(path: &Path) -> Result<mpsc::Receiver<ControlRequest>, ControlError> {
    let bind_failed = |source| ControlError::Bind {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(bind_failed)?;
    }
    let listener = UnixListener::bind(path).map_err(bind_failed)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_failed)?;
    let (requests, received) = mpsc::channel(8);
    tokio::spawn(accept_loop(listener, requests));
    Ok(received)
}

async fn accept_loop(listener: UnixListener, requests: mpsc::Sender<ControlRequest>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, requests.clone()));
            }
            Err(error) => {
                warn!(%error, "control socket cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// Reads one command, hands it to the reconciler and writes its answer.
async fn serve(stream: UnixStream, requests: mpsc::Sender<ControlRequest>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES));
    let read = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await;
    let reply = match read {
        Err(_) => Reply::from(Err("no command within 10s".to_string())),
        Ok(Err(error)) => Reply::from(Err(format!("cannot read the command: {error}"))),
        Ok(Ok(_)) => match serde_json::from_str::<Command>(line.trim_end()) {
            Err(error) => Reply::from(Err(format!("cannot read the command: {error}"))),
            Ok(command) => ask(&requests, command).await,
        },
    };
    let mut text = serde_json::to_string(&reply).unwrap_or_default();
    text.push('\n');
    if let Err(error) = write.write_all(text.as_bytes()).await {
        debug!(%error, "control client left before the answer");
    }
}

async fn ask(requests: &mpsc::Sender<ControlRequest>, command: Command) -> Reply {
    let (answer, answered) = oneshot::channel();
    if requests
        .send(ControlRequest { command, answer })
        .await
        .is_err()
    {
        return Reply::from(Err("the node is shutting down".to_string()));
    }
    answered
        .await
        .unwrap_or_else(|_| Err("the node is shutting down".to_string()))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_is_handed_over_and_its_answer_sent_back() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("control.sock");
        let mut received = listen(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(listen(&path), Err(ControlError::InUse(_))));
        tokio::spawn(async move {
            while let Some(request) = received.recv().await {
                let answer = match request.command {
                    Command::Suspend { reason } => Ok(format!("suspended: {reason:?}")),
                    _ => Err("no".to_string()),
                };
                let _ = request.answer.send(answer);
            }
        });
        let exchange = |line: &'static str| {
            let path = path.clone();
            async move {
                let mut stream = UnixStream::connect(&path).await.unwrap();
                stream.write_all(line.as_bytes()).await.unwrap();
                let mut answer = String::new();
                stream.read_to_string(&mut answer).await.unwrap();
                serde_json::from_str::<Reply>(&answer).unwrap()
            }
        };
        let reply = exchange("{\"command\":\"suspend\",\"reason\":\"db upgrade\"}\n").await;
        assert_eq!(
            reply,
            Reply {
                ok: true,
                message: "suspended: Some(\"db upgrade\")".into()
            }
        );
        let reply = exchange("{\"command\":\"reboot\"}\n").await;
        assert!(!reply.ok);
        assert!(
            reply
                .message
                .starts_with("cannot read the command: unknown variant `reboot`"),
            "{}",
            reply.message
        );
    }
}
