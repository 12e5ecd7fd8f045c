//! A Docker API endpoint a test can cut: a unix socket in a temporary folder whose connections are
//! relayed byte for byte to `/var/run/docker.sock`. `cut` drops every open connection and stops
//! listening (the socket file goes, so clients fail at once instead of waiting); `resume` listens
//! again on the same path. A delaying proxy holds what a client sends for a moment, so a cut made
//! right after one Docker call lands before the client's next call reaches the engine. It neither
//! parses nor changes the traffic.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tempfile::TempDir;

/// The engine the proxy relays to.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// How long the acceptor sleeps when no connection is waiting.
const ACCEPT_PAUSE: Duration = Duration::from_millis(5);

/// The proxy: its socket, and the thread accepting on it. Dropping it closes everything.
pub struct DockerProxy {
    _dir: TempDir,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// A handle that cuts the proxy, for a thread other than the test's (see `Tripwire`).
#[derive(Clone)]
pub struct Cutter(Arc<Shared>);

struct Shared {
    path: PathBuf,
    /// How long what a client sends is held before it goes to the engine.
    delay: Duration,
    stop: AtomicBool,
    state: Mutex<State>,
}

/// Everything that `cut` must see at once: accepting and cutting never interleave.
#[derive(Default)]
struct State {
    listener: Option<UnixListener>,
    /// Both ends of every open relayed connection, to shut them down on a cut.
    open: BTreeMap<u64, [UnixStream; 2]>,
    next_id: u64,
    relays: Vec<JoinHandle<()>>,
}

impl DockerProxy {
    pub fn start() -> Self {
        Self::delaying(Duration::ZERO)
    }

    /// A proxy that holds every piece of a request for `delay` before relaying it; answers are
    /// relayed at once.
    pub fn delaying(delay: Duration) -> Self {
        let dir = TempDir::new().unwrap();
        let shared = Arc::new(Shared {
            path: dir.path().join("docker.sock"),
            delay,
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        });
        shared.listen();
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || shared.accept_until_stopped())
        };
        DockerProxy {
            _dir: dir,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The `DOCKER_HOST` value that reaches the engine through the proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.shared.path.display())
    }

    pub fn cutter(&self) -> Cutter {
        Cutter(self.shared.clone())
    }

    /// Listens again on the same path after a cut.
    pub fn resume(&self) {
        self.shared.listen();
    }
}

impl Cutter {
    /// Drops every open connection and stops listening: the Docker API is gone.
    pub fn cut(&self) {
        self.0.cut();
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.shared.cut();
        let relays = std::mem::take(&mut self.shared.state.lock().unwrap().relays);
        for relay in relays {
            let _ = relay.join();
        }
    }
}

impl Shared {
    fn listen(&self) {
        let mut state = self.state.lock().unwrap();
        if state.listener.is_none() {
            let listener = UnixListener::bind(&self.path)
                .unwrap_or_else(|error| panic!("bind {}: {error}", self.path.display()));
            listener.set_nonblocking(true).unwrap();
            state.listener = Some(listener);
        }
    }

    fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.listener = None;
        let _ = fs::remove_file(&self.path);
        for ends in state.open.values() {
            for end in ends {
                let _ = end.shutdown(Shutdown::Both);
            }
        }
    }

    fn accept_until_stopped(self: Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            let mut state = self.state.lock().unwrap();
            let accepted = state.listener.as_ref().map(UnixListener::accept);
            match accepted {
                Some(Ok((client, _))) => self.relay(&mut state, client),
                _ => {
                    state.relays.retain(|relay| !relay.is_finished());
                    drop(state);
                    std::thread::sleep(ACCEPT_PAUSE);
                }
            }
        }
    }

    /// Connects `client` to the engine with a thread per direction; a client the engine refuses
    /// is dropped.
    fn relay(self: &Arc<Self>, state: &mut State, client: UnixStream) {
        let Ok(upstream) = UnixStream::connect(DOCKER_SOCKET) else {
            return;
        };
        let ends = (|| -> io::Result<_> {
            client.set_nonblocking(false)?;
            Ok((
                [client.try_clone()?, upstream.try_clone()?],
                client.try_clone()?,
                upstream.try_clone()?,
            ))
        })();
        let Ok((registered, client_reply, upstream_reply)) = ends else {
            return;
        };
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, registered);
        let shared = self.clone();
        state.relays.push(std::thread::spawn(move || {
            let replies =
                std::thread::spawn(move || pipe(upstream_reply, client_reply, Duration::ZERO));
            pipe(client, upstream, shared.delay);
            let _ = replies.join();
            shared.state.lock().unwrap().open.remove(&id);
        }));
    }
}

/// Copies `from` into `to`, each read `delay` later, until either side ends or is cut; then tells
/// `to` nothing more is coming.
fn pipe(mut from: UnixStream, mut to: UnixStream, delay: Duration) {
    let mut buffer = vec![0; 64 << 10];
    while let Ok(length @ 1..) = from.read(&mut buffer) {
        std::thread::sleep(delay);
        if to.write_all(&buffer[..length]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
