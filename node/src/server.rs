//! The status API (docs/status-api.md) with axum: `/healthz`, `/status` (GET or POST), `/metrics`,
//! JSON 404 and 405 errors; `/status` as `public.rs` cleans it for anyone on the network, and `/`
//! the same cleaned document as an HTML dashboard (`dashboard/`) with its stylesheet and script;
//! `/observed`, Docker observed now as plans read it (`observation.rs`); `/history`, the newest
//! applies (`history.rs`); and
//! `POST /hooks/git`, its only path that is not a read: with a proof of the webhook secret
//! (`webhook.rs`) it asks the poller for a fetch, nothing more. Its own
//! accept loop on hyper bounds what clients can hold, so a flood of slow connections cannot take
//! file descriptors from Git and Docker or keep `/healthz` from answering: request headers must
//! arrive within [`HEADER_READ_TIMEOUT`], a connection that moves no byte for [`IDLE_TIMEOUT`] is
//! closed, and beyond [`MAX_CONNECTIONS`] a new connection closes the oldest one not serving a
//! request. Nothing here changes the node's state.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{service_fn, Service as _};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::dashboard::{self, node_page, node_page::NodePage};
use super::decisions::history::{self as apply_history, HistoryEntry};
use super::history::HistoryFile;
use super::metrics::Metrics;
use super::observation::Observations;
use super::public::{self, LocalPaths};
use super::status::SharedStatus;
use super::webhook::{self, Hook};

/// Connections held open at once; each holds one file descriptor.
pub const MAX_CONNECTIONS: usize = 256;
/// A request's headers must arrive whole within this long after the connection is ready for a
/// request (after it opens, and after each response on a kept-alive connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that reads and writes nothing for this long is closed (a client that stops
/// reading a response, or sending a body).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed accept (out of file descriptors, say), rather than retrying in a spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(250);

#[derive(Clone)]
struct ApiState {
    status: SharedStatus,
    metrics: Arc<Metrics>,
    paths: Arc<LocalPaths>,
    hook: Hook,
    observations: Arc<Observations>,
    history: HistoryFile,
}

/// How many of the newest applies the dashboard shows.
const DASHBOARD_HISTORY: usize = 10;

/// How many entries `/history` answers with when the request names no `limit`.
pub const HISTORY_LIMIT: usize = 20;

fn router(
    status: SharedStatus,
    metrics: Arc<Metrics>,
    paths: LocalPaths,
    hook: Hook,
    observations: Arc<Observations>,
    history: HistoryFile,
) -> Router {
    dashboard::with_assets(Router::new())
        .route("/", get(dashboard_page))
        .route("/healthz", get(healthz).post(healthz))
        .route("/status", get(status_document).post(status_document))
        .route("/observed", get(observed_snapshot))
        .route("/history", get(history_entries))
        .route("/metrics", get(metrics_text))
        .route(webhook::PATH, any(git_hook))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ApiState {
            status,
            metrics,
            paths: Arc::new(paths),
            hook,
            observations,
            history,
        })
}

/// The status API's address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for the status API on {addr}: {error}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub error: io::Error,
}

/// Binds `addr` and serves the API until the process ends.
pub async fn serve(
    addr: SocketAddr,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    paths: LocalPaths,
    hook: Hook,
    observations: Arc<Observations>,
    history: HistoryFile,
) -> Result<(), ListenError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| ListenError { addr, error })?;
    let router = router(status, metrics, paths, hook, observations, history);
    tokio::spawn(accept_loop(listener, router));
    Ok(())
}

async fn accept_loop(listener: TcpListener, router: Router) {
    let connections = Arc::new(Connections::default());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                warn!(%error, "status API cannot accept a connection");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let slot = Connections::open(&connections, MAX_CONNECTIONS);
        tokio::spawn(serve_connection(stream, router.clone(), slot));
    }
}

/// Serves HTTP/1 on one connection until the client is done, a limit closes it, or a newer
/// connection takes its slot.
async fn serve_connection(stream: TcpStream, router: Router, slot: Slot) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let router = TowerToHyperService::new(router);
    let connection = slot.connection.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        connection.busy.store(true, Ordering::Relaxed);
        let response = router.call(request);
        let connection = connection.clone();
        async move {
            let response = response.await;
            connection.busy.store(false, Ordering::Relaxed);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let serving = builder.serve_connection(io, service);
    // Whichever ends first drops the others, and with them the socket.
    tokio::select! {
        result = serving => {
            if let Err(error) = result {
                debug!(%error, "status API connection ended");
            }
        }
        () = slot.connection.evicted.notified() => debug!("status API connection closed for a newer one"),
        () = activity.idle_for(IDLE_TIMEOUT) => debug!("status API connection closed: idle"),
    }
}

/// The open connections in accept order.
#[derive(Default)]
struct Connections {
    open: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    open: BTreeMap<u64, Arc<Connection>>,
}

struct Connection {
    /// A request is being handled: closing the connection now would cut a response short.
    busy: AtomicBool,
    /// Told to close to make room.
    evicted: Notify,
}

/// A connection's place in [`Connections`], given back when it is dropped.
struct Slot {
    id: u64,
    connection: Arc<Connection>,
    connections: Arc<Connections>,
}

impl Connections {
    /// Registers a new connection, first closing as many as it takes to stay within `limit`.
    fn open(connections: &Arc<Connections>, limit: usize) -> Slot {
        let mut registry = connections.open.lock().expect("connection registry");
        while registry.open.len() >= limit.max(1) {
            let busy: BTreeMap<u64, bool> = registry
                .open
                .iter()
                .map(|(id, connection)| (*id, connection.busy.load(Ordering::Relaxed)))
                .collect();
            let Some(victim) = eviction_victim(&busy) else {
                break;
            };
            if let Some(connection) = registry.open.remove(&victim) {
                connection.evicted.notify_one();
            }
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let connection = Arc::new(Connection {
            busy: AtomicBool::new(false),
            evicted: Notify::new(),
        });
        registry.open.insert(id, connection.clone());
        Slot {
            id,
            connection,
            connections: connections.clone(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut registry = self.connections.open.lock().expect("connection registry");
        registry.open.remove(&self.id);
    }
}

/// Which connection (by accept order, with whether it is serving a request) to close for a new
/// one: the oldest not serving a request, which is where slow and idle clients collect, else the
/// oldest. A client that sends its request at once is served within moments of connecting, so
/// only a flood of newer connections in that moment can push it out.
fn eviction_victim(open: &BTreeMap<u64, bool>) -> Option<u64> {
    open.iter()
        .find(|(_, busy)| !**busy)
        .or_else(|| open.iter().next())
        .map(|(id, _)| *id)
}

/// When a connection last moved a byte.
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read or write that moved data.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(elapsed, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A stream that records in [`Activity`] each read or write that moved data.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn status_document(State(state): State<ApiState>) -> Response {
    let document = public::document(&state.status.lock(), &state.paths);
    Json(document).into_response()
}

/// `/`: the dashboard, drawn from the document `/status` serves, after the lock is let go.
async fn dashboard_page(State(state): State<ApiState>) -> Response {
    let history = match state.history.read().await {
        Ok(entries) => Some(apply_history::newest_first(entries, DASHBOARD_HISTORY)),
        Err(error) => {
            warn!(%error, "dashboard: history not read");
            None
        }
    };
    let document = public::document(&state.status.lock(), &state.paths);
    let shown = NodePage {
        document: &document,
        history: history.as_deref(),
    };
    let page = node_page::render(&shown, SystemTime::now());
    dashboard::respond(StatusCode::OK, page)
}

/// `/observed`: Docker observed now for the revision in force, as plans read it; 503 when Docker
/// does not answer in time, with the error as the status shows errors.
async fn observed_snapshot(State(state): State<ApiState>, uri: Uri) -> Response {
    let environment = state.status.lock().node.environment.clone();
    match state.observations.current(&environment).await {
        Ok(observed) => Json(observed).into_response(),
        Err(error) => {
            warn!(%error, "/observed: no snapshot");
            let shown = public::message(&error.to_string(), &state.paths);
            error_response(StatusCode::SERVICE_UNAVAILABLE, &shown, &uri)
        }
    }
}

/// The `/history` document: the newest applies, newest first.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct HistoryDocument {
    pub entries: Vec<HistoryEntry>,
}

/// `/history`: the newest `limit` applies (default [`HISTORY_LIMIT`], at most
/// `decisions::history::KEPT`), newest first; a bad `limit` gets 400.
async fn history_entries(State(state): State<ApiState>, uri: Uri) -> Response {
    let limit = match history_limit(uri.query()) {
        Ok(limit) => limit,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, &error, &uri),
    };
    match state.history.read().await {
        Ok(entries) => Json(HistoryDocument {
            entries: apply_history::newest_first(entries, limit),
        })
        .into_response(),
        Err(error) => {
            warn!(%error, "/history: not read");
            let shown = public::message(&error.to_string(), &state.paths);
            error_response(StatusCode::INTERNAL_SERVER_ERROR, &shown, &uri)
        }
    }
}

/// The `limit` of a `/history` query: a whole number from 1 to `KEPT`; other parameters are
/// ignored.
fn history_limit(query: Option<&str>) -> Result<usize, String> {
    let Some(value) = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("limit="))
    else {
        return Ok(HISTORY_LIMIT);
    };
    value
        .parse::<usize>()
        .ok()
        .filter(|limit| (1..=apply_history::KEPT).contains(limit))
        .ok_or_else(|| {
            format!(
                "limit: expected a whole number from 1 to {}, got {value:?}",
                apply_history::KEPT
            )
        })
}

async fn metrics_text(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    state.metrics.record_node(&state.status.lock().node);
    let encoded = state.metrics.encode(accept);
    ([(header::CONTENT_TYPE, encoded.content_type)], encoded.body).into_response()
}

/// `/hooks/git`: 404 without a webhook secret, else POST only; a body beyond
/// [`webhook::MAX_BODY_BYTES`] is refused unread, a request without a holding proof gets 401, and
/// a proven one a fetch request (coalesced by the poller) and 202.
async fn git_hook(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let secret = state.hook.secret.borrow().clone();
    let Some(secret) = secret else {
        return not_found(uri).await;
    };
    if method != Method::POST {
        return method_not_allowed(uri).await;
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > webhook::MAX_BODY_BYTES as u64) {
        return payload_too_large(uri);
    }
    let body = match Limited::new(body, webhook::MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return payload_too_large(uri)
        }
        Err(error) => {
            debug!(%error, "webhook body not read");
            return error_response(StatusCode::BAD_REQUEST, "cannot read the body", &uri);
        }
    };
    match webhook::verify(&secret, &headers, &body) {
        Some(proof) => {
            info!(proof = proof.as_str(), "webhook: fetch requested");
            state.hook.fetch.notify_one();
            (StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response()
        }
        None => {
            warn!("webhook refused: no valid proof of the secret");
            error_response(StatusCode::UNAUTHORIZED, "unauthorized", &uri)
        }
    }
}

fn payload_too_large(uri: Uri) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload too large: at most 1 MiB",
        &uri,
    )
}

fn error_response(status: StatusCode, error: &str, uri: &Uri) -> Response {
    (status, Json(json!({ "error": error, "path": uri.path() }))).into_response()
}

async fn not_found(uri: Uri) -> Response {
    error_response(StatusCode::NOT_FOUND, "not found", &uri)
}

async fn method_not_allowed(uri: Uri) -> Response {
    error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", &uri)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::watch;

    use super::*;
    use crate::status::{NodeStatus, Status};
    use crate::webhook::WebhookSecret;

    /// Serves the API on a free local port with `secret` for the webhook.
    async fn serve_local(secret: Option<&str>) -> (SocketAddr, Arc<Notify>) {
        let secret = secret.map(|text| {
            let dir = tempfile::TempDir::new().unwrap();
            let path = dir.path().join("secret");
            std::fs::write(&path, text).unwrap();
            WebhookSecret::read(&crate::decisions::settings::SettingPath {
                path,
                setting: "--webhook-secret-file".to_string(),
            })
            .unwrap()
        });
        let node = NodeStatus::starting(
            "a".to_string(),
            "production".to_string(),
            "main".to_string(),
            SystemTime::UNIX_EPOCH,
        );
        let status = SharedStatus::new(Status {
            node,
            deployments: BTreeMap::new(),
            services: BTreeMap::new(),
            volumes: BTreeMap::new(),
            jobs: BTreeMap::new(),
            last_plan: None,
            pending_actions: None,
        });
        let fetch = Arc::new(Notify::new());
        let (_keep, secret) = watch::channel(secret);
        let hook = Hook {
            secret,
            fetch: fetch.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let observations = Observations::new(watch::channel(None).1, |_| {
            Box::pin(async { Ok(engine::Observed::default()) })
        });
        let router = router(
            status,
            Arc::new(Metrics::new()),
            LocalPaths::default(),
            hook,
            Arc::new(observations),
            HistoryFile::new(std::path::PathBuf::from("/nonexistent/history.jsonl")),
        );
        tokio::spawn(accept_loop(listener, router));
        (addr, fetch)
    }

    /// Sends `head` (request line and headers, without the blank line) and `body` in chunks of
    /// 64 KiB; the status code of the answer.
    async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> u16 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        for chunk in body.chunks(64 * 1024) {
            if stream.write_all(chunk).await.is_err() {
                break;
            }
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        answer.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn post(length: usize, extra: &str) -> String {
        format!("POST /hooks/git HTTP/1.1\r\nHost: a\r\nContent-Length: {length}{extra}")
    }

    #[tokio::test]
    async fn without_a_secret_the_hook_path_does_not_exist() {
        let (addr, _) = serve_local(None).await;
        let bearer = "\r\nAuthorization: Bearer x";
        assert_eq!(request(addr, &post(2, bearer), b"{}").await, 404);
        assert_eq!(
            request(addr, "GET /hooks/git HTTP/1.1\r\nHost: a", b"").await,
            404
        );
    }

    #[tokio::test]
    async fn a_proven_hook_wakes_the_poller_and_the_rest_is_refused() {
        let (addr, fetch) = serve_local(Some("s3cret\n")).await;
        let bearer = "\r\nAuthorization: Bearer s3cret";
        assert_eq!(request(addr, &post(2, ""), b"{}").await, 401);
        assert_eq!(
            request(addr, "GET /hooks/git HTTP/1.1\r\nHost: a", b"").await,
            405
        );
        let woken = tokio::time::timeout(Duration::from_millis(50), fetch.notified()).await;
        assert!(woken.is_err(), "a refused request woke the poller");

        assert_eq!(request(addr, &post(2, bearer), b"{}").await, 202);
        tokio::time::timeout(Duration::from_secs(1), fetch.notified())
            .await
            .expect("the poller is woken");
    }

    #[tokio::test]
    async fn a_body_over_one_mebibyte_is_refused_declared_or_streamed() {
        let (addr, fetch) = serve_local(Some("s3cret")).await;
        let bearer = "\r\nAuthorization: Bearer s3cret";
        let limit = webhook::MAX_BODY_BYTES;
        assert_eq!(request(addr, &post(limit + 1, bearer), b"{}").await, 413);
        let chunked =
            format!("POST /hooks/git HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked{bearer}");
        let mut body = Vec::new();
        for _ in 0..17 {
            body.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
            body.extend_from_slice(&vec![b' '; 64 * 1024]);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(request(addr, &chunked, &body).await, 413);
        let woken = tokio::time::timeout(Duration::from_millis(50), fetch.notified()).await;
        assert!(woken.is_err(), "a refused request woke the poller");
        let exactly = vec![b' '; limit];
        assert_eq!(request(addr, &post(limit, bearer), &exactly).await, 202);
    }

    #[tokio::test]
    async fn the_observed_snapshot_is_read_with_get_only() {
        let (addr, _) = serve_local(None).await;
        assert_eq!(
            request(addr, "GET /observed HTTP/1.1\r\nHost: a", b"").await,
            200
        );
        let post = "POST /observed HTTP/1.1\r\nHost: a\r\nContent-Length: 0";
        assert_eq!(request(addr, post, b"").await, 405);
    }

    #[tokio::test]
    async fn the_history_answers_an_empty_list_and_refuses_a_bad_limit() {
        let (addr, _) = serve_local(None).await;
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: a");
        assert_eq!(request(addr, &get("/history"), b"").await, 200);
        assert_eq!(request(addr, &get("/history?limit=5"), b"").await, 200);
        for bad in [
            "/history?limit=0",
            "/history?limit=201",
            "/history?limit=ten",
        ] {
            assert_eq!(request(addr, &get(bad), b"").await, 400, "{bad}");
        }
    }

    #[test]
    fn a_history_limit_is_a_whole_number_within_what_is_kept() {
        assert_eq!(history_limit(None), Ok(HISTORY_LIMIT));
        assert_eq!(history_limit(Some("x=1&limit=3")), Ok(3));
        assert_eq!(
            history_limit(Some("limit=-1")),
            Err("limit: expected a whole number from 1 to 200, got \"-1\"".to_string())
        );
    }

    #[tokio::test]
    async fn the_dashboard_and_its_files_carry_the_content_policy() {
        let (addr, _) = serve_local(None).await;
        for (path, kind) in [
            ("/", "text/html"),
            ("/dashboard.css", "text/css"),
            ("/dashboard.js", "text/javascript"),
        ] {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let head = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await.unwrap();
            let answer = String::from_utf8_lossy(&answer).to_lowercase();
            assert!(answer.starts_with("http/1.1 200"), "{answer}");
            assert!(
                answer.contains(&format!("content-type: {kind}")),
                "{answer}"
            );
            assert!(
                answer.contains("content-security-policy: default-src 'self'\r\n"),
                "{answer}"
            );
            assert!(
                answer.contains("x-content-type-options: nosniff\r\n"),
                "{answer}"
            );
        }
    }

    #[test]
    fn the_oldest_connection_not_serving_a_request_makes_room() {
        let open = BTreeMap::from([(3, true), (5, false), (8, false)]);
        assert_eq!(eviction_victim(&open), Some(5));
        let all_busy = BTreeMap::from([(3, true), (5, true)]);
        assert_eq!(eviction_victim(&all_busy), Some(3));
        assert_eq!(eviction_victim(&BTreeMap::new()), None);
    }

    #[tokio::test]
    async fn the_registry_stays_within_its_limit_and_frees_dropped_slots() {
        let connections = Arc::new(Connections::default());
        let first = Connections::open(&connections, 2);
        first.connection.busy.store(true, Ordering::Relaxed);
        let second = Connections::open(&connections, 2);
        let third = Connections::open(&connections, 2);
        // The second was idle: it made room, and was told so.
        tokio::time::timeout(Duration::from_secs(5), second.connection.evicted.notified())
            .await
            .expect("the idle connection is told to close");
        let open = |connections: &Connections| -> Vec<u64> {
            let registry = connections.open.lock().unwrap();
            registry.open.keys().copied().collect()
        };
        assert_eq!(open(&connections), vec![first.id, third.id]);
        drop(third);
        assert_eq!(open(&connections), vec![first.id]);
        drop(second);
        assert_eq!(open(&connections), vec![first.id]);
    }
}
