//! A job's run as the executor carries it out (docs/plans.md): the run container created from the
//! job's spec under the name the action gives, started, and waited for until it exits or its
//! `timeout` passes (then it is stopped); a non-zero exit code or the timeout fails the action.
//! An earlier run container of the same name — the same spec run with another image — is removed
//! first. The container is kept for `docker logs`; which runs are pruned is the plan's. When the
//! node shuts down meanwhile, the run is left to finish unwatched.

use std::time::{Duration, Instant};

use engine::desired::DesiredJob;
use engine::outcome::ActionError;
use engine::plan::Action;

use super::{Executor, Failed, OrFailed, Target};
use crate::apply::error::StepError;

/// How often a running job's container is looked at.
const RUN_POLL: Duration = Duration::from_millis(500);

impl Executor<'_> {
    pub(super) fn job(&self, action: &Action) -> Result<&DesiredJob, StepError> {
        let name = action.job.as_deref().unwrap_or_default();
        self.desired
            .jobs
            .get(name)
            .ok_or_else(|| StepError::NotDesired(name.to_string()))
    }

    /// Runs the job of `action` to completion in its container `action.container`.
    pub(super) async fn run_job(&self, action: &Action) -> Result<(), ActionError> {
        let job = self.job(action).or_failed()?;
        let name = action.container.as_str();
        let target = Target {
            deployment: &job.container,
            replica: &job.container.replicas[0],
        };
        {
            let _permit = self.permit().await;
            self.runtime.remove(name).await.or_failed()?;
            self.runtime
                .create(name, target, &self.desired.environment)
                .await
                .or_failed()?;
            self.runtime.start(name).await.or_failed()?;
        }
        let timeout = job.timeout.as_std();
        let started = Instant::now();
        loop {
            tokio::time::sleep(RUN_POLL).await;
            // A node shutting down leaves the run to finish on its own; the next pass finds it.
            if self.options.cancelled() {
                return Err(ActionError::ShuttingDown);
            }
            let status = self
                .inspect(name)
                .await
                .or_failed()?
                .ok_or_else(|| StepError::GoneAfterStart(name.to_string()).failed())?;
            if !status.running {
                return match status.exit_code {
                    0 => Ok(()),
                    code => Err(ActionError::Failed(format!(
                        "job {} exited with code {code}: see docker logs {name}",
                        job.name
                    ))),
                };
            }
            if started.elapsed() >= timeout {
                let _permit = self.permit().await;
                let grace = job.container.spec.stop_timeout.as_std();
                self.runtime.stop(name, grace).await.or_failed()?;
                return Err(ActionError::Failed(format!(
                    "job {} did not finish within its timeout of {}: stopped; see docker logs {name}",
                    job.name, job.timeout
                )));
            }
        }
    }
}
