//! Posts commit statuses off the reconcile path (docs/node.md): [`CommitStatuses::post`] only puts
//! a status on a bounded queue and returns; one background task posts them in order (a `pending`
//! before its `success`), with short timeouts and a few retries, so a Git host that is down or
//! slow never holds a pass up. A full queue drops the status with a log line. Logs name the host
//! by provider and API origin, never by token. What a status says and the request's shape are
//! `engine::commit_status`'s call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::commit_status::{self, State, StatusRequest, Target};
use engine::plan::Plan;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::notifier::http_client;
use super::public::{self, LocalPaths};
use adapters::request_problem::describe;

/// Statuses waiting to be posted; beyond this a new one is dropped.
const QUEUE_CAPACITY: usize = 64;
/// Attempts per status; the waits between them double from [`FIRST_RETRY`].
const ATTEMPTS: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The Git host in force and the repository statuses go to.
#[derive(Clone, Debug)]
struct Destination {
    target: Target,
    repository: String,
}

/// One status on the queue, with how logs name its host.
struct Queued {
    label: String,
    state: State,
    request: StatusRequest,
}

/// A handle to the node's commit status queue; clones share it.
#[derive(Clone)]
pub struct CommitStatuses {
    /// `orun/<node name>`.
    context: String,
    destination: Arc<Mutex<Option<Destination>>>,
    /// Descriptions name local paths as the status API does.
    paths: Arc<LocalPaths>,
    queue: mpsc::Sender<Queued>,
}

impl CommitStatuses {
    /// Starts the posting task of the node named `node`; it ends when every handle is dropped.
    pub fn start(node: &str, paths: LocalPaths) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(post_all(pending));
        CommitStatuses {
            context: format!("orun/{node}"),
            destination: Arc::new(Mutex::new(None)),
            paths: Arc::new(paths),
            queue,
        }
    }

    /// The Git host of the revision in force (none: statuses are off), for the repository of
    /// `remote`, the node's Git remote URL.
    pub fn configure(&self, target: Option<Target>, remote: &str) {
        let destination =
            target.and_then(
                |target| match commit_status::repository(target.provider, remote) {
                    Some(repository) => Some(Destination { target, repository }),
                    None => {
                        warn!(
                            host = %target.label(),
                            "commit statuses off: the remote URL names no owner and repository"
                        );
                        None
                    }
                },
            );
        let mut current = self.destination.lock().expect("commit status destination");
        let label = |destination: &Option<Destination>| {
            destination
                .as_ref()
                .map(|d| (d.target.label(), d.repository.clone()))
        };
        if label(&current) != label(&destination) {
            if let Some(destination) = &destination {
                info!(host = %destination.target.label(), repository = %destination.repository, "commit statuses");
            }
        }
        *current = destination;
    }

    /// Queues `state` with `description` for `commit`, when statuses are on.
    pub fn post(&self, commit: &str, state: State, description: &str) {
        let Some(destination) = self
            .destination
            .lock()
            .expect("commit status destination")
            .clone()
        else {
            return;
        };
        let description = public::message(description, &self.paths);
        let request = commit_status::request(
            &destination.target,
            &destination.repository,
            commit,
            state,
            &self.context,
            &description,
        );
        let queued = Queued {
            label: destination.target.label(),
            state,
            request,
        };
        if let Err(error) = self.queue.try_send(queued) {
            let queued = match error {
                mpsc::error::TrySendError::Full(queued)
                | mpsc::error::TrySendError::Closed(queued) => queued,
            };
            warn!(host = %queued.label, state = ?queued.state, "commit status dropped: the queue is full");
        }
    }
}

/// The commit a pass applies: its `pending` status goes out once the pass's first plan is ready
/// and acts.
pub struct Pending<'a> {
    pub statuses: &'a CommitStatuses,
    pub commit: &'a str,
}

impl Pending<'_> {
    pub fn plan_ready(&self, plan: &Plan, follow_up: bool) {
        if !follow_up && commit_status::acts(plan) {
            self.statuses.post(
                self.commit,
                State::Pending,
                &commit_status::plan_description(plan),
            );
        }
    }
}

/// Takes statuses off the queue and posts them one after the other, in order.
async fn post_all(mut pending: mpsc::Receiver<Queued>) {
    let client = match http_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT) {
        Ok(client) => client,
        Err(error) => {
            warn!(%error, "commit statuses off: cannot build an HTTP client");
            return;
        }
    };
    while let Some(queued) = pending.recv().await {
        post(&client, &queued).await;
    }
}

/// POSTs one status, retrying a failure or an answer other than 2xx.
async fn post(client: &reqwest::Client, queued: &Queued) {
    let Queued {
        label,
        state,
        request,
    } = queued;
    let (header, token) = &request.auth;
    let Ok(mut value) = reqwest::header::HeaderValue::from_str(token) else {
        warn!(host = %label, "commit status not posted: the token is not a header value");
        return;
    };
    value.set_sensitive(true);
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(&request.url)
            .header(*header, value.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(request.body.to_string())
            .send()
            .await;
        let problem = match sent {
            Ok(response) if response.status().is_success() => {
                debug!(host = %label, ?state, "commit status posted");
                return;
            }
            Ok(response) => format!("the host answered {}", response.status()),
            Err(error) => describe(&error),
        };
        if attempt == ATTEMPTS {
            warn!(host = %label, ?state, attempts = ATTEMPTS, error = %problem, "commit status not posted");
            return;
        }
        debug!(host = %label, ?state, attempt, error = %problem, "commit status failed; retrying");
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}
