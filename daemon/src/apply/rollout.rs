//! The two recreate sequences of the executor and how they fall back: stop-first, which keeps
//! `<name>.orun-old` until the new container runs and restores it on failure; start-first, which
//! starts `<name>.orun-next` beside the old container, moves the routes to it and drains the old
//! one; and retiring the copies an interrupted rollout left, only once `<name>` is ready. It
//! decides nothing about which sequence to use; the desired deployment says.

use anyhow::{anyhow, Context, Result};
use engine::desired::DesiredDeployment;
use engine::plan::{NEXT_SUFFIX, ROLLBACK_SUFFIX};

use super::{ActionError, Executor, Previous};
use crate::docker::container::{self, ContainerStatus};
use crate::probe;

impl Executor<'_> {
    /// The container a recreate replaces, as it is now.
    pub(super) async fn replaced(&self, name: &str) -> Result<ContainerStatus> {
        self.inspect(name).await?.ok_or_else(|| {
            anyhow!("recreate {name}: the container disappeared before it could be replaced")
        })
    }

    /// Stop the old container (`previous`, as inspected), keep it as `<name>.orun-old`, create
    /// and start the new one, and remove the old one only once the new one runs; otherwise put
    /// the old one back.
    pub(super) async fn recreate_stop_first(
        &self,
        desired: &DesiredDeployment,
        previous: ContainerStatus,
    ) -> Result<(), ActionError> {
        let name = desired.container.as_str();
        let rollback = format!("{name}{ROLLBACK_SUFFIX}");
        {
            let _permit = self.permit().await?;
            // A rollback copy left by an earlier interrupted run is older than `name`: drop it.
            container::remove(self.docker, &rollback).await?;
            container::stop(self.docker, name, desired.spec.stop_timeout.as_std()).await?;
            container::rename(self.docker, name, &rollback).await?;
        }
        if let Err(error) = self.create_and_start(desired).await {
            // An old container that did not run was not what served; a serving copy was.
            if let Some(next) = self.serving_copy(name).await?.filter(|_| !previous.running) {
                return Err(self.roll_back(error, name, &next, false).await);
            }
            return Err(self
                .roll_back(error, name, &rollback, previous.running)
                .await);
        }
        let _permit = self.permit().await?;
        container::remove(self.docker, &rollback).await?;
        Ok(())
    }

    /// Start the new container as `<name>.orun-next` beside the old, running one (`previous`, as
    /// inspected); once it is ready, move the routes to it, give the old one `drainTimeout` for
    /// requests in flight, stop and remove it, and rename the new one `<name>`. A new container
    /// that never gets ready is removed, and the old one never stopped serving.
    pub(super) async fn recreate_start_first(
        &self,
        desired: &DesiredDeployment,
        previous: ContainerStatus,
    ) -> Result<(), ActionError> {
        let name = desired.container.as_str();
        let next = format!("{name}{NEXT_SUFFIX}");
        if let Err(error) = self.start_beside(desired, &next).await {
            return Err(self.abandon(&next, error, true).await);
        }
        if let Err(error) = self.options.traffic.switch(&desired.name, &next).await {
            let error = error.context(format!(
                "moving the routes of {} to {next} failed, {name} keeps serving",
                desired.name
            ));
            return Err(self.abandon(&next, error, false).await);
        }
        self.drain_and_remove(desired, name, &previous).await?;
        let _permit = self.permit().await?;
        container::rename(self.docker, &next, name).await?;
        Ok(())
    }

    /// Gives `old` (whose routes moved away) `drainTimeout` to finish requests in flight, then
    /// stops it with its own grace period, `status` as inspected, and removes it.
    pub(super) async fn drain_and_remove(
        &self,
        desired: &DesiredDeployment,
        old: &str,
        status: &ContainerStatus,
    ) -> Result<()> {
        tokio::time::sleep(desired.drain_timeout.as_std()).await;
        let grace = status
            .stop_timeout
            .unwrap_or(desired.spec.stop_timeout.as_std());
        let _permit = self.permit().await?;
        container::stop(self.docker, old, grace).await?;
        container::remove(self.docker, old).await
    }

    /// Creates and starts `next` for `desired`, replacing a stale one, and waits until it is
    /// started (running, and ready if it has a readiness probe).
    pub(super) async fn start_beside(&self, desired: &DesiredDeployment, next: &str) -> Result<()> {
        {
            let _permit = self.permit().await?;
            container::remove(self.docker, next).await?;
            container::create(self.docker, next, desired, &self.desired.environment).await?;
            container::start(self.docker, next).await?;
        }
        self.check_ready(next, desired).await
    }

    /// Removes the new copy `next` of a start-first rollout after `error`; the old container was
    /// never stopped. When the new container itself failed (`rolled_back`), the rollout is rolled
    /// back; a route that could not move is a plain failure, tried again by the next pass.
    pub(super) async fn abandon(
        &self,
        next: &str,
        error: anyhow::Error,
        rolled_back: bool,
    ) -> ActionError {
        let removed = async {
            let _permit = self.permit().await?;
            container::remove(self.docker, next).await
        };
        match removed.await {
            Err(remove_error) => remove_error
                .context(format!("{error:#}; removing {next} failed"))
                .into(),
            Ok(()) if rolled_back => ActionError::RolledBack {
                previous: Previous::NeverStopped,
                error: format!("{error:#}"),
            },
            Ok(()) => error.into(),
        }
    }

    /// A rollback copy left by an interrupted recreate goes only once `primary` is ready; if
    /// `primary` never becomes ready, the copy is put back in its place.
    pub(super) async fn retire_rollback_copy(
        &self,
        desired: &DesiredDeployment,
        primary: &str,
        rollback: &str,
    ) -> Result<(), ActionError> {
        if let (Some(readiness), true) = (&desired.health.readiness, self.options.wait) {
            if let Err(error) =
                probe::wait_ready(self.docker, &self.probes, primary, readiness).await
            {
                return Err(self.roll_back(error, primary, rollback, true).await);
            }
        }
        let _permit = self.permit().await?;
        container::remove(self.docker, rollback).await?;
        Ok(())
    }

    /// The new copy of an interrupted start-first rollout, while it runs, may be what serves: it
    /// goes only once `primary` runs and is ready, after the routes moved to `primary` and the copy
    /// had `drainTimeout` for requests in flight; if `primary` never becomes ready, the copy is put
    /// in its place. A copy that does not run serves nothing, and one beside a `primary` that does
    /// not run was planned away because another copy runs: either is removed at once.
    pub(super) async fn retire_next_copy(
        &self,
        desired: &DesiredDeployment,
        primary: &str,
        next: &str,
    ) -> Result<(), ActionError> {
        let copy = self.inspect(next).await?;
        let primary_runs = self
            .inspect(primary)
            .await?
            .is_some_and(|status| status.running);
        let Some(copy) = copy.filter(|copy| copy.running && primary_runs) else {
            let _permit = self.permit().await?;
            container::remove(self.docker, next).await?;
            return Ok(());
        };
        if let (Some(readiness), true) = (&desired.health.readiness, self.options.wait) {
            if let Err(error) =
                probe::wait_ready(self.docker, &self.probes, primary, readiness).await
            {
                return Err(self.roll_back(error, primary, next, false).await);
            }
        }
        self.options
            .traffic
            .switch(&desired.name, primary)
            .await
            .with_context(|| {
                format!(
                    "moving the routes of {} to {primary} failed, {next} keeps serving",
                    desired.name
                )
            })?;
        self.drain_and_remove(desired, next, &copy).await?;
        Ok(())
    }

    /// After `error`, puts the copy `rollback` back in service as `name`: the action is rolled
    /// back, or, if restoring fails too, it failed with both errors.
    pub(super) async fn roll_back(
        &self,
        error: anyhow::Error,
        name: &str,
        rollback: &str,
        start: bool,
    ) -> ActionError {
        match self.restore(name, rollback, start).await {
            Ok(()) => ActionError::RolledBack {
                previous: Previous::Restored,
                error: format!("{error:#}"),
            },
            Err(restore_error) => restore_error
                .context(format!("{error:#}; restoring {rollback} failed"))
                .into(),
        }
    }

    /// Removes whatever holds `name` and renames `rollback` back, starting it if `start` (it was
    /// running before it was stopped).
    pub(super) async fn restore(&self, name: &str, rollback: &str, start: bool) -> Result<()> {
        let _permit = self.permit().await?;
        container::remove(self.docker, name).await?;
        container::rename(self.docker, rollback, name).await?;
        if start {
            container::start(self.docker, name).await?;
        }
        Ok(())
    }
}
