//! An in-memory container engine for the executor's unit tests: containers by name with their
//! labels and whether they run, every call (route changes included) written to a journal,
//! readiness as a test sets it, and the observed snapshot the planner reads. Compiled for tests
//! only; it asserts nothing and decides nothing about rollouts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Target;
use bollard::auth::DockerCredentials;
use bollard::models::ContainerStateStatusEnum;
use engine::desired::DesiredDeployment;
use engine::manifest::{NodeEngine, ReadinessProbe};
use engine::observed::{ContainerState, ObservedContainer, ObservedImage, ObservedResource};
use engine::outcome::{BuildError, CheckFailure};
use engine::resources::Limits;
use engine::spec::{CanonicalBuild, LABEL_SPEC_HASH};
use engine::{Environment, Observed};
use futures_util::future::BoxFuture;

use super::runtime::{Runtime, ServiceChange};
use super::{TrafficError, TrafficSwitch};
use crate::docker::container::ContainerStatus;
use crate::docker::credentials::Credentials;
use crate::docker::image::{PullError, PullProgress};
use crate::docker::service::Settled;
use crate::docker::{Call, DockerError, Failure};
use crate::probe::ReadinessError;

/// One container of the fake engine.
#[derive(Clone, Debug)]
pub struct FakeContainer {
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    /// Its address on the environment network.
    pub ip: String,
}

#[derive(Default)]
struct Engine {
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeSet<String>,
    journal: Vec<String>,
    /// Spec hashes whose containers exit right after they start.
    crashing: BTreeSet<String>,
    /// Spec hashes whose containers run but never pass their readiness probe.
    never_ready: BTreeSet<String>,
    addresses: u8,
}

/// The fake engine; clones share one state, so a test keeps a handle while the executor works.
#[derive(Clone, Default)]
pub struct FakeDocker {
    engine: Arc<Mutex<Engine>>,
}

impl FakeDocker {
    /// A container as an earlier apply of `desired` left it, named `name`.
    pub fn put(&self, name: &str, desired: &DesiredDeployment, running: bool) {
        let mut engine = self.engine.lock().unwrap();
        engine.addresses += 1;
        let container = FakeContainer {
            labels: (*desired.labels).clone(),
            running,
            ip: format!("10.0.0.{}", engine.addresses),
        };
        engine.containers.insert(name.to_string(), container);
    }

    /// A running container that an earlier apply of this environment did not leave: one of
    /// another program, or of another environment, with only `labels`.
    pub fn put_foreign(&self, name: &str, labels: &[(&str, &str)]) {
        let mut engine = self.engine.lock().unwrap();
        engine.addresses += 1;
        let container = FakeContainer {
            labels: labels
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            running: true,
            ip: format!("10.0.0.{}", engine.addresses),
        };
        engine.containers.insert(name.to_string(), container);
    }

    /// New containers of `desired` exit right after they start.
    pub fn crash(&self, desired: &DesiredDeployment) {
        let mut engine = self.engine.lock().unwrap();
        engine.crashing.insert(desired.spec_hash.clone());
    }

    /// New containers of `desired` run but never pass their readiness probe.
    pub fn never_ready(&self, desired: &DesiredDeployment) {
        let mut engine = self.engine.lock().unwrap();
        engine.never_ready.insert(desired.spec_hash.clone());
    }

    /// Every call so far, one line each (`stop web`, `rename web web.orun-old`, …), including
    /// route switches through [`FakeDocker::traffic`].
    pub fn journal(&self) -> Vec<String> {
        self.engine.lock().unwrap().journal.clone()
    }

    /// The containers by name: their spec hash and whether they run.
    pub fn containers(&self) -> BTreeMap<String, (String, bool)> {
        let engine = self.engine.lock().unwrap();
        engine
            .containers
            .iter()
            .map(|(name, container)| {
                let hash = container.labels.get(LABEL_SPEC_HASH).cloned();
                (name.clone(), (hash.unwrap_or_default(), container.running))
            })
            .collect()
    }

    /// The snapshot the planner reads: every container and network, and `images` as present.
    pub fn observed(&self, images: &[&str]) -> Observed {
        let engine = self.engine.lock().unwrap();
        let containers = engine
            .containers
            .iter()
            .map(|(name, container)| ObservedContainer {
                id: format!("id-{name}"),
                name: format!("/{name}"),
                image: "busybox".to_string(),
                image_id: "sha256:busybox".to_string(),
                state: if container.running {
                    ContainerState::Running
                } else {
                    ContainerState::Exited
                },
                labels: container.labels.clone(),
                resources: Limits::default(),
                address: Some(container.ip.clone()),
                started_at: None,
            })
            .collect();
        let images = images
            .iter()
            .map(|image| ObservedImage {
                id: format!("sha256:{image}"),
                tags: vec![format!("{image}:latest")],
                digests: Vec::new(),
            })
            .collect();
        let networks = engine
            .networks
            .iter()
            .map(|name| ObservedResource {
                name: name.clone(),
                labels: BTreeMap::new(),
            })
            .collect();
        Observed {
            containers,
            images,
            networks,
            volumes: Vec::new(),
            services: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// A traffic switch that writes each route move to the journal.
    pub fn traffic(&self) -> Arc<dyn TrafficSwitch> {
        Arc::new(self.clone())
    }

    /// Writes `line` to the journal and answers with what `act` makes of the engine, at once.
    fn call<T: Send + 'static, E: Send + 'static>(
        &self,
        line: String,
        act: impl FnOnce(&mut Engine) -> Result<T, E>,
    ) -> BoxFuture<'static, Result<T, E>> {
        let mut engine = self.engine.lock().unwrap();
        engine.journal.push(line);
        Box::pin(std::future::ready(act(&mut engine)))
    }
}

/// Docker's answer to `call` when it names a container of a name that holds none.
fn refused(call: Call, status: u16, message: &str) -> DockerError {
    DockerError {
        call,
        failure: Failure::Answer {
            status: Some(status),
            message: message.to_string(),
        },
    }
}

impl Engine {
    /// Container `name`, which `call` is about.
    fn container(&mut self, name: &str, call: Call) -> Result<&mut FakeContainer, DockerError> {
        self.containers
            .get_mut(name)
            .ok_or_else(|| refused(call, 404, "no such container"))
    }

    fn spec_hash(&self, name: &str) -> String {
        self.containers
            .get(name)
            .and_then(|container| container.labels.get(LABEL_SPEC_HASH))
            .cloned()
            .unwrap_or_default()
    }
}

impl TrafficSwitch for FakeDocker {
    /// Journalled as `route <replica> <container>`.
    fn switch<'a>(
        &'a self,
        _deployment: &'a str,
        replica: &'a str,
        container: &'a str,
    ) -> BoxFuture<'a, Result<(), TrafficError>> {
        self.call(format!("route {replica} {container}"), |_| Ok(()))
    }

    /// Journalled as `withdraw <replica>`; always changes a route.
    fn withdraw<'a>(
        &'a self,
        _deployment: &'a str,
        replica: &'a str,
    ) -> BoxFuture<'a, Result<bool, TrafficError>> {
        self.call(format!("withdraw {replica}"), |_| Ok(true))
    }
}

impl Runtime for FakeDocker {
    fn create_network<'a>(
        &'a self,
        name: &'a str,
        _environment: &'a str,
        _engine: NodeEngine,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("network {name}"), |engine| {
            engine.networks.insert(name.to_string());
            Ok(())
        })
    }

    fn create_volume<'a>(
        &'a self,
        name: &'a str,
        _environment: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("volume {name}"), |_| Ok(()))
    }

    fn pull<'a>(
        &'a self,
        image: &'a str,
        _credentials: Option<&'a Credentials>,
        _progress: &'a (dyn Fn(PullProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), PullError>> {
        self.call(format!("pull {image}"), |_| Ok(()))
    }

    fn build<'a>(
        &'a self,
        tag: &'a str,
        _code_dir: &'a Path,
        _build: &'a CanonicalBuild,
        _registries: HashMap<String, DockerCredentials>,
        _output: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), BuildError>> {
        self.call(format!("build {tag}"), |_| Ok(()))
    }

    fn create<'a>(
        &'a self,
        name: &'a str,
        target: Target<'a>,
        _environment: &'a Environment,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("create {name}"), |engine| {
            if engine.containers.contains_key(name) {
                let call = Call::Create(name.to_string());
                return Err(refused(call, 409, "the name is in use"));
            }
            engine.addresses += 1;
            let container = FakeContainer {
                labels: (*target.replica.labels).clone(),
                running: false,
                ip: format!("10.0.0.{}", engine.addresses),
            };
            engine.containers.insert(name.to_string(), container);
            Ok(())
        })
    }

    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("start {name}"), |engine| {
            let crashes = engine.crashing.contains(&engine.spec_hash(name));
            engine
                .container(name, Call::Start(name.to_string()))?
                .running = !crashes;
            Ok(())
        })
    }

    fn unpause<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        self.start(name)
    }

    fn stop<'a>(
        &'a self,
        name: &'a str,
        _grace: Duration,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("stop {name}"), |engine| {
            engine
                .container(name, Call::Stop(name.to_string()))?
                .running = false;
            Ok(())
        })
    }

    fn rename<'a>(
        &'a self,
        name: &'a str,
        new_name: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("rename {name} {new_name}"), |engine| {
            let call = Call::Rename {
                from: name.to_string(),
                to: new_name.to_string(),
            };
            if engine.containers.contains_key(new_name) {
                return Err(refused(call, 409, "the name is in use"));
            }
            let container = engine
                .containers
                .remove(name)
                .ok_or_else(|| refused(call, 404, "no such container"))?;
            engine.containers.insert(new_name.to_string(), container);
            Ok(())
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("remove {name}"), |engine| {
            engine.containers.remove(name);
            Ok(())
        })
    }

    fn update<'a>(
        &'a self,
        name: &'a str,
        _limits: &'a Limits,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.call(format!("update {name}"), |engine| {
            engine
                .container(name, Call::Update(name.to_string()))
                .map(|_| ())
        })
    }

    fn inspect<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ContainerStatus>, DockerError>> {
        let engine = self.engine.lock().unwrap();
        let status = engine
            .containers
            .get(name)
            .map(|container| ContainerStatus {
                status: if container.running {
                    ContainerStateStatusEnum::RUNNING
                } else {
                    ContainerStateStatusEnum::EXITED
                },
                running: container.running,
                exit_code: if container.running { 0 } else { 1 },
                restart_count: 0,
                error: String::new(),
                ip: Some(container.ip.clone()),
                published: Vec::new(),
                stop_timeout: None,
                labels: container.labels.clone(),
            });
        Box::pin(async move { Ok(status) })
    }

    fn last_logs<'a>(
        &'a self,
        name: &'a str,
        _lines: usize,
    ) -> BoxFuture<'a, Result<String, DockerError>> {
        self.call(format!("logs {name}"), |_| Ok("listening\n".to_string()))
    }

    fn wait_ready<'a>(
        &'a self,
        name: &'a str,
        probe: &'a ReadinessProbe,
    ) -> BoxFuture<'a, Result<(), ReadinessError>> {
        self.call(format!("probe {name}"), |engine| {
            let hash = engine.spec_hash(name);
            let never_ready = engine.never_ready.contains(&hash);
            let name = name.to_string();
            match engine.containers.get(&name) {
                None => Err(ReadinessError::Disappeared { name }),
                Some(container) if !container.running => Err(ReadinessError::Stopped {
                    name,
                    target: probe.target.clone(),
                    exit_code: 1,
                }),
                Some(_) if never_ready => Err(ReadinessError::NotReady {
                    name,
                    last: CheckFailure {
                        attempt: format!("probe {}", probe.target),
                        detail: "status 503".to_string(),
                    },
                    deadline: probe.deadline,
                }),
                Some(_) => Ok(()),
            }
        })
    }

    fn service<'a>(
        &'a self,
        change: ServiceChange<'a>,
        _credentials: Option<DockerCredentials>,
    ) -> BoxFuture<'a, Result<Settled, DockerError>> {
        let line = match change {
            ServiceChange::Create(desired, _) => format!("service create {}", desired.service),
            ServiceChange::Update(desired, _) => format!("service update {}", desired.service),
            ServiceChange::Scale(desired) => {
                format!(
                    "service scale {} {}",
                    desired.service,
                    desired.replicas.len()
                )
            }
            ServiceChange::Remove(name, _) => format!("service remove {name}"),
        };
        self.call(line, |_| Ok(Settled::Converged))
    }
}
