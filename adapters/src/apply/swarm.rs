//! The executor on a swarm node: a plan's service actions carried to Swarm through the runtime,
//! each returning once Swarm has settled it, and a rollback Swarm made reported as one. It
//! decides nothing: the plan says which service changes how.

use engine::outcome::{ActionError, Previous};
use engine::plan::{Action, ActionKind};

use super::runtime::ServiceChange;
use super::{Executor, OrFailed, StepError};
use crate::docker::credentials::{registry_key, to_docker};
use crate::docker::service::Settled;

impl Executor<'_> {
    /// Creates, updates, scales or removes the service `action` names.
    pub(super) async fn on_swarm(&self, action: &Action) -> Result<(), ActionError> {
        let environment = &self.desired.environment;
        let change = match action.kind {
            ActionKind::Remove => ServiceChange::Remove(&action.container, environment.as_str()),
            ActionKind::Create => {
                ServiceChange::Create(self.deployment(action).or_failed()?, environment)
            }
            ActionKind::Update => {
                ServiceChange::Update(self.deployment(action).or_failed()?, environment)
            }
            ActionKind::Scale => ServiceChange::Scale(self.deployment(action).or_failed()?),
            other => {
                return Err(ActionError::Failed(format!(
                    "{}: a swarm node has no {} action",
                    action.container,
                    other.as_str()
                )))
            }
        };
        // Swarm's nodes pull the image themselves, with the credentials the request carries.
        let credentials = match change {
            ServiceChange::Create(..) | ServiceChange::Update(..) => {
                let key = registry_key(&action.image);
                self.options
                    .registry_credentials
                    .for_registry(&key)
                    .await
                    .map_err(|error| StepError::Credentials {
                        action: "pull",
                        image: action.image.clone(),
                        error: Box::new(error),
                    })
                    .or_failed()?
                    .map(|credentials| to_docker(&credentials, &key))
            }
            ServiceChange::Scale(_) | ServiceChange::Remove(..) => None,
        };
        match self
            .runtime
            .service(change, credentials)
            .await
            .or_failed()?
        {
            Settled::Converged => Ok(()),
            Settled::RolledBack(message) => Err(ActionError::RolledBack {
                previous: Previous::SwarmRolledBack,
                error: if message.is_empty() {
                    "a new task failed".to_string()
                } else {
                    message
                },
            }),
            Settled::Failed(message) => Err(ActionError::Failed(message)),
        }
    }
}
