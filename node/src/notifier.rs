//! Sends notifications off the reconcile path (docs/node.md): [`Notifier::send`] only puts a
//! notice on a bounded queue and returns; a background task POSTs it to each receiver that wants
//! the event, with short timeouts and a few retries, several deliveries at once, so a receiver that
//! is down or never answers delays neither convergence nor the other receivers. A full queue drops
//! the notice with a log line. Logs name receivers by label, never by URL. Which events a pass
//! makes is `events.rs`'s call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use adapters::request_problem::describe;
use engine::notify::{Notice, Receiver};
use tokio::sync::{mpsc, Semaphore};
use tracing::{debug, info, warn};

use super::public::{self, LocalPaths};
use super::status::timestamp;
use crate::decisions::events::NoticeDraft;

/// Notices waiting to be sent; beyond this a new one is dropped.
pub const QUEUE_CAPACITY: usize = 256;
/// Deliveries in progress at once.
const MAX_IN_FLIGHT: usize = 8;
/// Attempts per delivery; the waits between them double from [`FIRST_RETRY`].
const ATTEMPTS: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The facts every notice of the node shares, and where they go.
#[derive(Clone, Debug, Default)]
struct Context {
    node: String,
    environment: String,
    /// The last good commit.
    commit: String,
    receivers: Vec<Receiver>,
}

/// A handle to the node's notification queue; clones share it.
#[derive(Clone)]
pub struct Notifier {
    context: Arc<Mutex<Context>>,
    /// Messages name local paths as the status API does.
    paths: Arc<LocalPaths>,
    queue: mpsc::Sender<(Receiver, Notice)>,
}

impl Notifier {
    /// Starts the delivery task of the node named `node`; it ends when every handle is dropped.
    pub fn start(node: String, paths: LocalPaths) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(deliver_all(pending));
        Notifier {
            context: Arc::new(Mutex::new(Context {
                node,
                ..Context::default()
            })),
            paths: Arc::new(paths),
            queue,
        }
    }

    /// The receivers, environment and commit of the revision in force.
    pub fn configure(&self, receivers: Vec<Receiver>, environment: &str, commit: &str) {
        let mut context = self.context.lock().expect("notifier context");
        if context.receivers != receivers {
            let labels: Vec<&str> = receivers.iter().map(Receiver::label).collect();
            info!(receivers = ?labels, "notification receivers");
        }
        context.receivers = receivers;
        context.environment = environment.to_string();
        context.commit = commit.to_string();
    }

    /// Queues `draft` about the commit in force for every receiver that wants it.
    pub fn send(&self, draft: NoticeDraft) {
        self.send_about(draft, None);
    }

    /// Queues `draft` about `commit` (or the commit in force) for every receiver that wants it.
    pub fn send_about(&self, draft: NoticeDraft, commit: Option<&str>) {
        let context = self.context.lock().expect("notifier context").clone();
        let notice = Notice {
            event: draft.event,
            node: context.node,
            environment: context.environment,
            deployment: draft.deployment,
            commit: commit.map_or(context.commit, str::to_string),
            message: public::message(&draft.message, &self.paths),
            time: timestamp(SystemTime::now()),
        };
        for receiver in context.receivers {
            if !receiver.wants(notice.event) {
                continue;
            }
            if self
                .queue
                .try_send((receiver.clone(), notice.clone()))
                .is_err()
            {
                warn!(
                    receiver = receiver.label(),
                    event = %notice.event,
                    "notification dropped: the queue is full"
                );
            }
        }
    }
}

/// Takes notices off the queue and delivers up to [`MAX_IN_FLIGHT`] at once.
async fn deliver_all(mut pending: mpsc::Receiver<(Receiver, Notice)>) {
    let client = match http_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT) {
        Ok(client) => client,
        Err(error) => {
            warn!(%error, "notifications disabled: cannot build an HTTP client");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some((receiver, notice)) = pending.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let client = client.clone();
        tokio::spawn(async move {
            deliver(&client, &receiver, &notice).await;
            drop(slot);
        });
    }
}

/// A client for requests off the reconcile path: no proxy variables, and both timeouts.
pub(crate) fn http_client(
    connect: Duration,
    request: Duration,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(connect)
        .timeout(request)
        .build()
}

/// POSTs `notice` to `receiver`, retrying a failure or an answer other than 2xx.
async fn deliver(client: &reqwest::Client, receiver: &Receiver, notice: &Notice) {
    let body = notice.body(receiver.format).to_string();
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(receiver.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        let problem = match sent {
            Ok(response) if response.status().is_success() => {
                debug!(receiver = receiver.label(), event = %notice.event, "notification sent");
                return;
            }
            Ok(response) => format!("the receiver answered {}", response.status()),
            // Without the URL: it may hold a token.
            Err(error) => describe(&error),
        };
        if attempt == ATTEMPTS {
            warn!(receiver = receiver.label(), event = %notice.event, attempts = ATTEMPTS, error = %problem, "notification not delivered");
            return;
        }
        debug!(receiver = receiver.label(), event = %notice.event, attempt, error = %problem, "notification failed; retrying");
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use engine::manifest::{HttpUrl, NotificationSpec};
    use engine::notify::{Event, Format};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn receiver(url: &str, format: Format) -> Receiver {
        let spec = NotificationSpec {
            url: Some(HttpUrl::parse(url).unwrap()),
            url_from: None,
            events: Some(vec![Event::RolloutSucceeded]),
            format,
        };
        engine::notify::receivers("nodes/a.yaml", &[spec], &BTreeMap::new())
            .unwrap()
            .remove(0)
    }

    fn succeeded() -> NoticeDraft {
        NoticeDraft {
            event: Event::RolloutSucceeded,
            deployment: Some("web".to_string()),
            message: "web created (missing) and ready".to_string(),
        }
    }

    /// Reads one request, answers 204, and hands the body back.
    async fn one_request(listener: TcpListener) -> String {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    stream
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await
                        .unwrap();
                    return body.to_string();
                }
            }
        }
    }

    #[tokio::test]
    async fn a_notice_reaches_a_receiver_that_wants_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let notifier = Notifier::start("web-01".to_string(), LocalPaths::default());
        notifier.configure(vec![receiver(&url, Format::Json)], "production", "c0ffee");
        notifier.send(NoticeDraft {
            event: Event::Flapping,
            deployment: None,
            message: "not wanted".to_string(),
        });
        notifier.send(succeeded());
        let body = tokio::time::timeout(Duration::from_secs(10), one_request(listener))
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["event"], "rollout_succeeded");
        assert_eq!(body["node"], "web-01");
        assert_eq!(body["environment"], "production");
        assert_eq!(body["deployment"], "web");
        assert_eq!(body["commit"], "c0ffee");
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_does_not_hold_the_sender_up() {
        // Accepts connections (the kernel does) and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", silent.local_addr().unwrap());
        let notifier = Notifier::start("web-01".to_string(), LocalPaths::default());
        notifier.configure(vec![receiver(&url, Format::Slack)], "production", "c0ffee");
        let started = std::time::Instant::now();
        for _ in 0..(QUEUE_CAPACITY * 2) {
            notifier.send(succeeded());
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
