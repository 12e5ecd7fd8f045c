//! The two recreate sequences of the executor and how they fall back: stop-first, which keeps
//! `<name>.orun-old` until the new container runs and restores it on failure, and takes a replica
//! of a deployment with several out of the routes while it is replaced; start-first, which starts
//! `<name>.orun-next` beside the old container, moves the replica's upstream to it and drains the
//! old one; retiring the copies an interrupted rollout left, only once `<name>` is ready; and
//! putting a fallback copy back. It decides nothing: the plan's action says which sequence, which
//! copies and which fallback.

use engine::copies::{next_name, rollback_name, Fallback};
use engine::desired::DesiredDeployment;

use super::{Executor, Failed, OrFailed, StepError, Target};
use crate::docker::container::ContainerStatus;
use crate::docker::DockerError;
use engine::outcome::{ActionError, Previous};

impl Executor<'_> {
    /// The container a recreate replaces, as it is now.
    pub(super) async fn replaced(&self, name: &str) -> Result<ContainerStatus, StepError> {
        self.inspect(name)
            .await?
            .ok_or_else(|| StepError::GoneBeforeRecreate(name.to_string()))
    }

    /// Stop the old container, keep it as `<name>.orun-old`, create and start the new one, and
    /// remove the old one only once the new one runs; otherwise put `fallback` back: the old
    /// container, or the serving new copy of an interrupted rollout when the old one did not run.
    /// A replica of a deployment with several is first taken out of the routes, so the others
    /// serve while it is replaced, and put back once its new container is ready; one that was
    /// rolled back comes back with the routes loaded after the pass.
    pub(super) async fn recreate_stop_first(
        &self,
        target: Target<'_>,
        fallback: &Fallback,
    ) -> Result<(), ActionError> {
        let name = target.replica.container.as_str();
        let rollback = rollback_name(name);
        let shared = target.deployment.replicas.len() > 1;
        if shared {
            self.withdraw(target.deployment, name).await?;
        }
        {
            let _permit = self.permit().await;
            // A rollback copy left by an earlier interrupted run is older than `name`: drop it.
            self.runtime.remove(&rollback).await.or_failed()?;
            self.runtime
                .stop(name, target.deployment.spec.stop_timeout.as_std())
                .await
                .or_failed()?;
            self.runtime.rename(name, &rollback).await.or_failed()?;
        }
        if let Err(error) = self.create_and_start(target).await {
            return Err(self.roll_back(error, name, fallback).await);
        }
        {
            let _permit = self.permit().await;
            self.runtime.remove(&rollback).await.or_failed()?;
        }
        if shared {
            let deployment = &target.deployment.name;
            self.options
                .traffic
                .switch(deployment, name, name)
                .await
                .map_err(|error| StepError::Rejoin {
                    deployment: deployment.clone(),
                    container: name.to_string(),
                    error: Box::new(error),
                })
                .or_failed()?;
        }
        Ok(())
    }

    /// Takes replica `name` of `deployment` out of its routes and, when that changed a route,
    /// gives it `drainTimeout` for the requests already sent to it, before it is stopped.
    pub(super) async fn withdraw(
        &self,
        deployment: &DesiredDeployment,
        name: &str,
    ) -> Result<(), ActionError> {
        let withdrawn = self
            .options
            .traffic
            .withdraw(&deployment.name, name)
            .await
            .map_err(|error| StepError::Withdraw {
                deployment: deployment.name.clone(),
                container: name.to_string(),
                error: Box::new(error),
            })
            .or_failed()?;
        if withdrawn {
            tokio::time::sleep(deployment.drain_timeout.as_std()).await;
        }
        Ok(())
    }

    /// Start the new container as `<name>.orun-next` beside the old, running one (`previous`, as
    /// inspected); once it is ready, move the routes to it, give the old one `drainTimeout` for
    /// requests in flight, stop and remove it, and rename the new one `<name>`. A new container
    /// that never gets ready is removed, and the old one never stopped serving.
    pub(super) async fn recreate_start_first(
        &self,
        target: Target<'_>,
        previous: ContainerStatus,
    ) -> Result<(), ActionError> {
        let name = target.replica.container.as_str();
        let next = next_name(name);
        if let Err(error) = self.start_beside(target, &next).await {
            return Err(self.abandon(&next, error, true).await);
        }
        if let Err(error) = self
            .options
            .traffic
            .switch(&target.deployment.name, name, &next)
            .await
        {
            let error = StepError::Traffic {
                deployment: target.deployment.name.clone(),
                container: next.clone(),
                serving: name.to_string(),
                error: Box::new(error),
            };
            return Err(self.abandon(&next, error, false).await);
        }
        self.drain_and_remove(target, name, &previous)
            .await
            .or_failed()?;
        let _permit = self.permit().await;
        self.runtime.rename(&next, name).await.or_failed()?;
        Ok(())
    }

    /// Gives `old` (whose routes moved away) `drainTimeout` to finish requests in flight, then
    /// stops it with its own grace period, `status` as inspected, and removes it.
    pub(super) async fn drain_and_remove(
        &self,
        target: Target<'_>,
        old: &str,
        status: &ContainerStatus,
    ) -> Result<(), DockerError> {
        tokio::time::sleep(target.deployment.drain_timeout.as_std()).await;
        let grace = status
            .stop_timeout
            .unwrap_or(target.deployment.spec.stop_timeout.as_std());
        let _permit = self.permit().await;
        self.runtime.stop(old, grace).await?;
        self.runtime.remove(old).await
    }

    /// Creates and starts `next` for `desired`, replacing a stale one, and waits until it is
    /// started (running, and ready if it has a readiness probe).
    pub(super) async fn start_beside(
        &self,
        target: Target<'_>,
        next: &str,
    ) -> Result<(), StepError> {
        {
            let _permit = self.permit().await;
            self.runtime.remove(next).await?;
            self.runtime
                .create(next, target, &self.desired.environment)
                .await?;
            self.runtime.start(next).await?;
        }
        self.check_ready(next, target).await
    }

    /// Removes the new copy `next` of a start-first rollout after `error`; the old container was
    /// never stopped. When the new container itself failed (`rolled_back`), the rollout is rolled
    /// back; a route that could not move is a plain failure, tried again by the next pass.
    pub(super) async fn abandon(
        &self,
        next: &str,
        error: StepError,
        rolled_back: bool,
    ) -> ActionError {
        let removed = async {
            let _permit = self.permit().await;
            self.runtime.remove(next).await
        };
        match removed.await {
            Err(remove_error) => {
                ActionError::Failed(format!("{error}; removing {next} failed: {remove_error}"))
            }
            Ok(()) if rolled_back => ActionError::RolledBack {
                previous: Previous::NeverStopped,
                error: error.to_string(),
            },
            Ok(()) => error.failed(),
        }
    }

    /// A leftover copy of a running `<name>` goes only once `<name>` is ready; if it never
    /// becomes ready, the copy (`copy`, as the plan names it) is put back in its place. A copy
    /// that runs may be what serves: the routes move to `<name>` first and the copy gets
    /// `drainTimeout` for requests in flight before it stops.
    pub(super) async fn retire(
        &self,
        target: Target<'_>,
        copy: &Fallback,
    ) -> Result<(), ActionError> {
        let primary = target.replica.container.as_str();
        if let (Some(readiness), true) = (&target.deployment.health.readiness, self.options.wait) {
            if let Err(error) = self.runtime.wait_ready(primary, readiness).await {
                return Err(self.roll_back(error.into(), primary, copy).await);
            }
        }
        let serving = match self.inspect(&copy.container).await.or_failed()? {
            Some(status) if !copy.start => status,
            _ => {
                let _permit = self.permit().await;
                self.runtime.remove(&copy.container).await.or_failed()?;
                return Ok(());
            }
        };
        self.options
            .traffic
            .switch(&target.deployment.name, primary, primary)
            .await
            .map_err(|error| StepError::Traffic {
                deployment: target.deployment.name.clone(),
                container: primary.to_string(),
                serving: copy.container.clone(),
                error: Box::new(error),
            })
            .or_failed()?;
        self.drain_and_remove(target, &copy.container, &serving)
            .await
            .or_failed()?;
        Ok(())
    }

    /// After `error`, puts `fallback` back in service as `name`: the action is rolled back, or,
    /// if restoring fails too, it failed with both errors.
    pub(super) async fn roll_back(
        &self,
        error: StepError,
        name: &str,
        fallback: &Fallback,
    ) -> ActionError {
        match self.restore(name, fallback).await {
            Ok(()) => ActionError::RolledBack {
                previous: Previous::Restored,
                error: error.to_string(),
            },
            Err(restore_error) => ActionError::Failed(format!(
                "{error}; restoring {} failed: {restore_error}",
                fallback.container
            )),
        }
    }

    /// Removes whatever holds `name`, renames the fallback copy back and starts it if it is a
    /// stopped one.
    async fn restore(&self, name: &str, fallback: &Fallback) -> Result<(), DockerError> {
        let _permit = self.permit().await;
        self.runtime.remove(name).await?;
        self.runtime.rename(&fallback.container, name).await?;
        if fallback.start {
            self.runtime.start(name).await?;
        }
        Ok(())
    }
}
