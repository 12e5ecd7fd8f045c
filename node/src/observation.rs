//! The snapshot `GET /observed` serves: Docker observed afresh for the revision in force (before
//! one is, for the node's environment alone), as plans read it (`Observed::for_plans`), so a plan
//! made elsewhere against it is the plan this node would make now. One observation runs at a
//! time, bounded by [`OBSERVE_TIMEOUT`]; a request that arrives while one runs waits for it and
//! shares its result instead of starting another. It changes nothing, and it is not the
//! reconciler's snapshot: a pass may be minutes old.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adapters::docker::{Docker, DockerError};
use engine::{DesiredState, Environment, Observed};
use futures_util::future::BoxFuture;
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

/// How long one observation may take. Below the 3 s that `orun fleet plan` and
/// `orun plan --observed URL` wait, so they get this answer rather than a timeout of their own.
pub const OBSERVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why no snapshot could be served.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("Docker was not observed within {}s", .0.as_secs())]
    TimedOut(Duration),
    /// No revision is in force and the node's environment is not known yet.
    #[error("no environment to observe yet: {0}")]
    NoEnvironment(String),
}

/// What one observation gave; shared by every request that waited for it.
pub type Snapshot = Result<Arc<Observed>, Arc<ObserveError>>;

/// Observes Docker for a desired state.
type Observe = Box<
    dyn Fn(Arc<DesiredState>) -> BoxFuture<'static, Result<Observed, DockerError>> + Send + Sync,
>;

/// The source of `/observed`: the revision in force, an observer, and the last observation.
pub struct Observations {
    in_force: watch::Receiver<Option<Arc<DesiredState>>>,
    observe: Observe,
    /// The last observation and when it finished; holding the lock is running one.
    latest: Mutex<Option<(Instant, Snapshot)>>,
}

impl Observations {
    /// Observations of `docker` for the desired state the reconciler puts in `in_force`.
    pub fn of_docker(docker: Docker, in_force: watch::Receiver<Option<Arc<DesiredState>>>) -> Self {
        Self::new(in_force, move |desired| {
            let docker = docker.clone();
            Box::pin(async move { adapters::docker::observe::observe(&docker, &desired).await })
        })
    }

    /// Observations through `observe`, which tests give in place of Docker.
    pub(crate) fn new(
        in_force: watch::Receiver<Option<Arc<DesiredState>>>,
        observe: impl Fn(Arc<DesiredState>) -> BoxFuture<'static, Result<Observed, DockerError>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Observations {
            in_force,
            observe: Box::new(observe),
            latest: Mutex::new(None),
        }
    }

    /// A snapshot taken after this call began, or by the observation that was running when it
    /// began; `environment` (the node's, from its status) is observed when no revision is in
    /// force.
    pub async fn current(&self, environment: &str) -> Snapshot {
        let arrived = Instant::now();
        let mut latest = self.latest.lock().await;
        if let Some((finished, snapshot)) = latest.as_ref() {
            // Strictly after: a snapshot finished the instant this request came may be older.
            if *finished > arrived {
                return snapshot.clone();
            }
        }
        let snapshot = self.observe(environment).await;
        *latest = Some((Instant::now(), snapshot.clone()));
        snapshot
    }

    async fn observe(&self, environment: &str) -> Snapshot {
        let desired = match self.in_force.borrow().clone() {
            Some(desired) => desired,
            None => Arc::new(nothing_desired(environment).map_err(Arc::new)?),
        };
        match tokio::time::timeout(OBSERVE_TIMEOUT, (self.observe)(desired)).await {
            Ok(Ok(observed)) => Ok(Arc::new(observed.for_plans())),
            Ok(Err(error)) => Err(Arc::new(error.into())),
            Err(_) => Err(Arc::new(ObserveError::TimedOut(OBSERVE_TIMEOUT))),
        }
    }
}

/// An empty desired state of `environment`: observing for it finds every container, network and
/// volume orun made for the environment, and every image.
fn nothing_desired(environment: &str) -> Result<DesiredState, ObserveError> {
    let environment = Environment::named(environment)
        .map_err(|error| ObserveError::NoEnvironment(error.to_string()))?;
    Ok(DesiredState {
        environment,
        commit: String::new(),
        node: None,
        engine: engine::manifest::NodeEngine::Docker,
        deployments: BTreeMap::new(),
        services: BTreeMap::new(),
        jobs: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use adapters::docker::{Call, Failure};
    use engine::testing::{deployment, desired};

    use super::*;

    /// Observations that take `delay`, count themselves and see `web` running with an address
    /// and a foreign label, or fail with `failing`.
    fn counting(
        delay: Duration,
        failing: bool,
        in_force: watch::Receiver<Option<Arc<DesiredState>>>,
    ) -> (
        Arc<Observations>,
        Arc<AtomicUsize>,
        Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        let calls = Arc::new(AtomicUsize::new(0));
        let environments = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (counted, seen) = (calls.clone(), environments.clone());
        let observations = Observations::new(in_force, move |desired| {
            counted.fetch_add(1, Ordering::SeqCst);
            seen.lock()
                .unwrap()
                .push(desired.environment.as_str().to_string());
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                if failing {
                    return Err(DockerError {
                        call: Call::ListContainers,
                        failure: Failure::Answer {
                            status: Some(500),
                            message: "engine down".to_string(),
                        },
                    });
                }
                Ok(serde_json::from_str(
                    r#"{"containers":[{"id":"1","name":"web","image":"busybox","image_id":"sha256:1",
                        "state":"running","address":"172.17.0.2",
                        "labels":{"run.orcra.dev/managed-by":"orun","other":"x"}}]}"#,
                )
                .unwrap())
            })
        });
        (Arc::new(observations), calls, environments)
    }

    #[tokio::test(start_paused = true)]
    async fn requests_during_an_observation_share_it_and_later_ones_observe_again() {
        let (_keep, in_force) = watch::channel(None);
        let (observations, calls, _) = counting(Duration::from_millis(500), false, in_force);
        let waiting: Vec<_> = (0..5)
            .map(|_| {
                let observations = observations.clone();
                tokio::spawn(async move { observations.current("production").await })
            })
            .collect();
        for request in waiting {
            let snapshot = request.await.unwrap().unwrap();
            let web = &snapshot.containers[0];
            assert_eq!(web.address, None);
            assert_eq!(web.labels.len(), 1, "{:?}", web.labels);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        observations.current("production").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_engine_is_given_up_on_and_an_error_is_shared_like_a_snapshot() {
        let (_keep, in_force) = watch::channel(None);
        let (slow, _, _) = counting(OBSERVE_TIMEOUT * 2, false, in_force.clone());
        let error = slow.current("production").await.unwrap_err();
        assert_eq!(error.to_string(), "Docker was not observed within 2s");

        let (failing, calls, _) = counting(Duration::from_millis(100), true, in_force);
        let (first, second) =
            tokio::join!(failing.current("production"), failing.current("production"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            first.unwrap_err().to_string(),
            "list containers: engine down"
        );
        assert!(second.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_revision_in_force_is_observed_else_the_nodes_environment() {
        let (publish, in_force) = watch::channel(None);
        let (observations, _, environments) = counting(Duration::ZERO, false, in_force);
        observations.current("staging").await.unwrap();
        let error = observations.current("").await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("no environment to observe yet"),
            "{error}"
        );
        publish.send_replace(Some(Arc::new(desired(
            "production",
            &[deployment("web", "")],
        ))));
        observations.current("staging").await.unwrap();
        assert_eq!(*environments.lock().unwrap(), ["staging", "production"]);
    }
}
