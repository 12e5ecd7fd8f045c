//! The executor's ownership guard: a [`Runtime`] in front of the engine that inspects a container
//! before every call changing it (stop, rename, remove, resource update, start, unpause) and makes
//! the call only when the container is orun's in the environment being applied, whatever the plan
//! says; one that is not fails the call with [`Failure::NotOwned`]. Everything else passes
//! through. It decides nothing else.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use engine::manifest::{NodeEngine, ReadinessProbe};
use engine::outcome::BuildError;
use engine::resources::Limits;
use engine::spec::{owned_by, CanonicalBuild};
use engine::Environment;
use futures_util::future::BoxFuture;

use super::runtime::{Runtime, ServiceChange};
use super::Target;
use crate::docker::container::ContainerStatus;
use crate::docker::credentials::Credentials;
use crate::docker::image::{PullError, PullProgress};
use crate::docker::service::Settled;
use crate::docker::{Call, DockerError, Failure};
use crate::probe::ReadinessError;

/// `inner` with every call that changes an existing container held to those of `environment`.
pub(super) struct Owned<'a> {
    inner: &'a dyn Runtime,
    environment: &'a str,
}

impl<'a> Owned<'a> {
    pub(super) fn new(inner: &'a dyn Runtime, environment: &'a str) -> Self {
        Owned { inner, environment }
    }

    /// An error for `call` when a container named `name` exists and is not orun's; the call
    /// itself says what becomes of a name that holds none.
    async fn check(&self, name: &str, call: Call) -> Result<(), DockerError> {
        match self.inner.inspect(name).await? {
            None => Ok(()),
            Some(status) if owned_by(&status.labels, self.environment) => Ok(()),
            Some(_) => Err(DockerError {
                call,
                failure: Failure::NotOwned {
                    environment: self.environment.to_string(),
                },
            }),
        }
    }
}

impl Runtime for Owned<'_> {
    fn create_network<'a>(
        &'a self,
        name: &'a str,
        environment: &'a str,
        engine: NodeEngine,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.inner.create_network(name, environment, engine)
    }

    fn create_volume<'a>(
        &'a self,
        name: &'a str,
        environment: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.inner.create_volume(name, environment)
    }

    fn pull<'a>(
        &'a self,
        image: &'a str,
        credentials: Option<&'a Credentials>,
        progress: &'a (dyn Fn(PullProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), PullError>> {
        self.inner.pull(image, credentials, progress)
    }

    fn build<'a>(
        &'a self,
        tag: &'a str,
        code_dir: &'a Path,
        build: &'a CanonicalBuild,
        registries: HashMap<String, DockerCredentials>,
        output: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), BuildError>> {
        self.inner.build(tag, code_dir, build, registries, output)
    }

    fn create<'a>(
        &'a self,
        name: &'a str,
        target: Target<'a>,
        environment: &'a Environment,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        self.inner.create(name, target, environment)
    }

    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            self.check(name, Call::Start(name.to_string())).await?;
            self.inner.start(name).await
        })
    }

    fn unpause<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            self.check(name, Call::Unpause(name.to_string())).await?;
            self.inner.unpause(name).await
        })
    }

    fn stop<'a>(
        &'a self,
        name: &'a str,
        grace: Duration,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            self.check(name, Call::Stop(name.to_string())).await?;
            self.inner.stop(name, grace).await
        })
    }

    fn rename<'a>(
        &'a self,
        name: &'a str,
        new_name: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            let call = Call::Rename {
                from: name.to_string(),
                to: new_name.to_string(),
            };
            self.check(name, call).await?;
            self.inner.rename(name, new_name).await
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            self.check(name, Call::Remove(name.to_string())).await?;
            self.inner.remove(name).await
        })
    }

    fn update<'a>(
        &'a self,
        name: &'a str,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            self.check(name, Call::Update(name.to_string())).await?;
            self.inner.update(name, limits).await
        })
    }

    fn inspect<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ContainerStatus>, DockerError>> {
        self.inner.inspect(name)
    }

    fn last_logs<'a>(
        &'a self,
        name: &'a str,
        lines: usize,
    ) -> BoxFuture<'a, Result<String, DockerError>> {
        self.inner.last_logs(name, lines)
    }

    fn wait_ready<'a>(
        &'a self,
        name: &'a str,
        probe: &'a ReadinessProbe,
    ) -> BoxFuture<'a, Result<(), ReadinessError>> {
        self.inner.wait_ready(name, probe)
    }

    /// The Docker adapter holds service changes to orun's services of the environment itself:
    /// it inspects each service it updates, scales or removes.
    fn service<'a>(
        &'a self,
        change: ServiceChange<'a>,
        credentials: Option<DockerCredentials>,
    ) -> BoxFuture<'a, Result<Settled, DockerError>> {
        self.inner.service(change, credentials)
    }
}
