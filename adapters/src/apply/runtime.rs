//! What the executor needs of a container engine, as one narrow trait: [`DockerRuntime`] carries
//! each call to the Docker adapter (and readiness to the prober), and the tests' in-memory fake
//! (`apply/fake.rs`) stands in for Docker, so the executor's sequences are unit-tested without
//! it. Neither side decides anything: the plan says what to do.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::Docker;
use engine::desired::DesiredDeployment;
use engine::manifest::{NodeEngine, ReadinessProbe};
use engine::resources::Limits;
use engine::spec::CanonicalBuild;
use engine::Environment;
use futures_util::future::BoxFuture;

use super::Target;
use crate::docker::container::{self, ContainerStatus};
use crate::docker::credentials::Credentials;
use crate::docker::image::{self, PullError, PullProgress};
use crate::docker::service::{self, Settled};
use crate::docker::{resource, DockerError};
use crate::mount_files::FileDirs;
use crate::probe::{self, ReadinessError};
use engine::outcome::BuildError;

/// The container engine calls of the executor. Every call names its container, image, network or
/// volume in its error: a [`DockerError`], or the pull's, build's or probe's own.
pub trait Runtime: Send + Sync {
    /// Creates the environment's network: a bridge, or an overlay network on a swarm node.
    fn create_network<'a>(
        &'a self,
        name: &'a str,
        environment: &'a str,
        engine: NodeEngine,
    ) -> BoxFuture<'a, Result<(), DockerError>>;
    fn create_volume<'a>(
        &'a self,
        name: &'a str,
        environment: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>>;
    fn pull<'a>(
        &'a self,
        image: &'a str,
        credentials: Option<&'a Credentials>,
        progress: &'a (dyn Fn(PullProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), PullError>>;
    fn build<'a>(
        &'a self,
        tag: &'a str,
        code_dir: &'a Path,
        build: &'a CanonicalBuild,
        registries: HashMap<String, DockerCredentials>,
        output: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), BuildError>>;
    /// Creates container `name` for `desired`, not started.
    fn create<'a>(
        &'a self,
        name: &'a str,
        target: Target<'a>,
        environment: &'a Environment,
    ) -> BoxFuture<'a, Result<(), DockerError>>;
    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>>;
    fn unpause<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>>;
    fn stop<'a>(&'a self, name: &'a str, grace: Duration)
        -> BoxFuture<'a, Result<(), DockerError>>;
    fn rename<'a>(
        &'a self,
        name: &'a str,
        new_name: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>>;
    /// Removes the container, stopping it first; one that is already gone is not an error.
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>>;
    /// Sets the container's resource limits in place.
    fn update<'a>(
        &'a self,
        name: &'a str,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<(), DockerError>>;
    /// The container as it is now; `None` when there is none of that name.
    fn inspect<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ContainerStatus>, DockerError>>;
    fn last_logs<'a>(
        &'a self,
        name: &'a str,
        lines: usize,
    ) -> BoxFuture<'a, Result<String, DockerError>>;
    /// Polls `probe` until it passes or its deadline passes; a container that stops meanwhile
    /// fails at once.
    fn wait_ready<'a>(
        &'a self,
        name: &'a str,
        probe: &'a ReadinessProbe,
    ) -> BoxFuture<'a, Result<(), ReadinessError>>;
    /// Carries a swarm service change out and waits until Swarm has settled it.
    fn service<'a>(
        &'a self,
        change: ServiceChange<'a>,
        credentials: Option<DockerCredentials>,
    ) -> BoxFuture<'a, Result<Settled, DockerError>>;
}

/// A change to a swarm service (docs/swarm.md).
#[derive(Clone, Copy, Debug)]
pub enum ServiceChange<'a> {
    Create(&'a DesiredDeployment, &'a Environment),
    Update(&'a DesiredDeployment, &'a Environment),
    Scale(&'a DesiredDeployment),
    /// Removes the service of this name, of this environment.
    Remove(&'a str, &'a str),
}

/// The real engine: the Docker adapter, and the probes' HTTP client.
pub struct DockerRuntime {
    docker: Docker,
    probes: reqwest::Client,
    /// Where the copies of the files containers mount are written.
    file_dirs: FileDirs,
}

impl DockerRuntime {
    pub fn new(docker: &Docker, file_dirs: &FileDirs) -> Self {
        DockerRuntime {
            docker: docker.clone(),
            probes: probe::client(),
            file_dirs: file_dirs.clone(),
        }
    }
}

impl Runtime for DockerRuntime {
    fn create_network<'a>(
        &'a self,
        name: &'a str,
        environment: &'a str,
        engine: NodeEngine,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(resource::create_network(
            &self.docker,
            name,
            environment,
            engine,
        ))
    }

    fn create_volume<'a>(
        &'a self,
        name: &'a str,
        environment: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(resource::create_volume(&self.docker, name, environment))
    }

    fn pull<'a>(
        &'a self,
        image: &'a str,
        credentials: Option<&'a Credentials>,
        progress: &'a (dyn Fn(PullProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), PullError>> {
        Box::pin(image::pull(&self.docker, image, credentials, progress))
    }

    fn build<'a>(
        &'a self,
        tag: &'a str,
        code_dir: &'a Path,
        build: &'a CanonicalBuild,
        registries: HashMap<String, DockerCredentials>,
        output: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), BuildError>> {
        Box::pin(image::build(
            &self.docker,
            tag,
            code_dir,
            build,
            registries,
            output,
        ))
    }

    fn create<'a>(
        &'a self,
        name: &'a str,
        target: Target<'a>,
        environment: &'a Environment,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            container::create(
                &self.docker,
                name,
                target.deployment,
                target.replica,
                environment,
                &self.file_dirs,
            )
            .await?;
            Ok(())
        })
    }

    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(container::start(&self.docker, name))
    }

    fn unpause<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(container::unpause(&self.docker, name))
    }

    fn stop<'a>(
        &'a self,
        name: &'a str,
        grace: Duration,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(container::stop(&self.docker, name, grace))
    }

    fn rename<'a>(
        &'a self,
        name: &'a str,
        new_name: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(container::rename(&self.docker, name, new_name))
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(container::remove(&self.docker, name))
    }

    fn update<'a>(
        &'a self,
        name: &'a str,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(container::update(&self.docker, name, limits))
    }

    fn inspect<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ContainerStatus>, DockerError>> {
        Box::pin(container::inspect(&self.docker, name))
    }

    fn last_logs<'a>(
        &'a self,
        name: &'a str,
        lines: usize,
    ) -> BoxFuture<'a, Result<String, DockerError>> {
        Box::pin(container::last_logs(&self.docker, name, lines))
    }

    fn wait_ready<'a>(
        &'a self,
        name: &'a str,
        probe: &'a ReadinessProbe,
    ) -> BoxFuture<'a, Result<(), ReadinessError>> {
        Box::pin(probe::wait_ready(&self.docker, &self.probes, name, probe))
    }

    fn service<'a>(
        &'a self,
        change: ServiceChange<'a>,
        credentials: Option<DockerCredentials>,
    ) -> BoxFuture<'a, Result<Settled, DockerError>> {
        let docker = &self.docker;
        Box::pin(async move {
            match change {
                ServiceChange::Create(desired, environment) => {
                    service::create(docker, desired, environment, credentials).await
                }
                ServiceChange::Update(desired, environment) => {
                    service::update(docker, desired, environment, credentials).await
                }
                ServiceChange::Scale(desired) => service::scale(docker, desired).await,
                ServiceChange::Remove(name, environment) => {
                    service::remove(docker, name, environment).await?;
                    Ok(Settled::Converged)
                }
            }
        })
    }
}
