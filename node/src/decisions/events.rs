//! Which notification events a pass, a health event or a fetch makes (docs/node.md), with the
//! deployment they concern and a message. Pure: `notifier.rs` adds the node's facts and sends.

use engine::notify::{Event, SYNC_FAILING_AFTER};
use engine::plan::ActionKind;

use super::health::HealthEvent;
use engine::outcome::{ActionError, Outcome};

/// A notification as far as a pure decision can write it: the notifier adds the node, environment,
/// commit and time to make the `Notice` receivers get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeDraft {
    pub event: Event,
    pub deployment: Option<String>,
    pub message: String,
}

/// The rollouts of a pass: each create or recreate that ended ready, each one rolled back, and
/// each one that failed with nothing in service from before; and each job run that finished.
pub fn of_outcomes(outcomes: &[Outcome]) -> Vec<NoticeDraft> {
    outcomes
        .iter()
        .filter_map(|outcome| {
            let action = &outcome.action;
            if action.kind == ActionKind::Run {
                return of_run(outcome);
            }
            let verb = match action.kind {
                ActionKind::Create => "created",
                ActionKind::Recreate => "recreated",
                _ => return None,
            };
            let reason = action.reason.as_str();
            let container = &action.container;
            let (event, message) = match &outcome.result {
                Ok(()) => (
                    Event::RolloutSucceeded,
                    format!("{container} {verb} ({reason}) and ready"),
                ),
                Err(error @ ActionError::RolledBack { .. }) => (
                    Event::RolledBack,
                    format!("{container} rolled back: {error}"),
                ),
                Err(
                    error @ (ActionError::Failed(_)
                    | ActionError::NeverReady(_)
                    | ActionError::Build(_)),
                ) => (
                    Event::RolloutFailed,
                    format!("{container} not {verb} ({reason}): {error}"),
                ),
                // Not attempted: nothing was rolled out, and the next pass tries again.
                Err(ActionError::ShuttingDown | ActionError::Dependency { .. }) => return None,
            };
            Some(NoticeDraft {
                event,
                deployment: Some(action.deployment.clone()),
                message,
            })
        })
        .collect()
}

/// A job's change run that finished: it succeeded, or it failed (exit code or timeout) and the
/// deployments it precedes keep their version. A run not started says nothing.
fn of_run(outcome: &Outcome) -> Option<NoticeDraft> {
    let action = &outcome.action;
    let job = action.job.as_deref().unwrap_or_default();
    let reason = action.reason.as_str();
    let (event, message) = match &outcome.result {
        Ok(()) => (
            Event::JobSucceeded,
            format!("job {job} ran ({reason}) in {} and exited with code 0", action.container),
        ),
        Err(ActionError::ShuttingDown | ActionError::Dependency { .. }) => return None,
        Err(error) => (
            Event::JobFailed,
            format!("job {job} failed ({reason}): {error}; the deployments it precedes keep their version"),
        ),
    };
    Some(NoticeDraft {
        event,
        deployment: None,
        message,
    })
}

/// A deployment that starts to flap; a rollback is reported from the pass's outcomes instead.
pub fn of_health_event(event: &HealthEvent) -> Option<NoticeDraft> {
    match event {
        HealthEvent::Flapping { deployment } => Some(NoticeDraft {
            event: Event::Flapping,
            deployment: Some(deployment.clone()),
            message: format!("{deployment} was acted on too often: left alone until a new commit"),
        }),
        HealthEvent::Quarantined { .. } => None,
    }
}

/// The sync event of a fetch that took the count of consecutive failed fetches from `before` to
/// `after`: the count reaching [`SYNC_FAILING_AFTER`], or a success after that; `error` is the
/// failed fetch's message.
pub fn of_fetch(before: u32, after: u32, error: Option<&str>) -> Option<NoticeDraft> {
    let (event, message) = if before < SYNC_FAILING_AFTER && after >= SYNC_FAILING_AFTER {
        (
            Event::SyncFailing,
            format!(
                "{after} fetches in a row failed: {}",
                error.unwrap_or("unknown error")
            ),
        )
    } else if before >= SYNC_FAILING_AFTER && after == 0 {
        (
            Event::SyncRecovered,
            format!("fetching works again after {before} failures"),
        )
    } else {
        return None;
    };
    Some(NoticeDraft {
        event,
        deployment: None,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::outcome;
    use engine::outcome::Previous;

    fn events(drafts: &[NoticeDraft]) -> Vec<(Event, Option<&str>)> {
        drafts
            .iter()
            .map(|draft| (draft.event, draft.deployment.as_deref()))
            .collect()
    }

    #[test]
    fn creates_and_recreates_report_their_rollout() {
        let outcomes = [
            outcome("pulled", ActionKind::Pull, Ok(())),
            outcome("web", ActionKind::Create, Ok(())),
            outcome("api", ActionKind::Recreate, Ok(())),
            outcome(
                "db",
                ActionKind::Recreate,
                Err(ActionError::RolledBack {
                    previous: Previous::Restored,
                    error: "readiness probe failed".to_string(),
                }),
            ),
            outcome(
                "new",
                ActionKind::Create,
                Err(ActionError::Failed("readiness probe failed".to_string())),
            ),
            outcome("old", ActionKind::Remove, Ok(())),
            outcome("stopped", ActionKind::Start, Ok(())),
            outcome("late", ActionKind::Create, Err(ActionError::ShuttingDown)),
            outcome(
                "never",
                ActionKind::Create,
                Err(ActionError::NeverReady("never became ready".to_string())),
            ),
            outcome(
                "waiting",
                ActionKind::Create,
                Err(ActionError::Dependency {
                    dependency: "db".to_string(),
                    problem: "is not ready".to_string(),
                }),
            ),
        ];
        let drafts = of_outcomes(&outcomes);
        assert_eq!(
            events(&drafts),
            [
                (Event::RolloutSucceeded, Some("web")),
                (Event::RolloutSucceeded, Some("api")),
                (Event::RolledBack, Some("db")),
                (Event::RolloutFailed, Some("new")),
                (Event::RolloutFailed, Some("never")),
            ]
        );
        assert_eq!(drafts[0].message, "web created (missing) and ready");
        assert_eq!(
            drafts[2].message,
            "db rolled back: the previous container was restored: readiness probe failed"
        );
        assert_eq!(
            drafts[3].message,
            "new not created (missing): readiness probe failed"
        );
    }

    #[test]
    fn flapping_is_reported_and_a_quarantine_is_left_to_the_outcomes() {
        let flapping = HealthEvent::Flapping {
            deployment: "web".to_string(),
        };
        assert_eq!(
            of_health_event(&flapping).map(|draft| draft.event),
            Some(Event::Flapping)
        );
        let quarantined = HealthEvent::Quarantined {
            deployment: "web".to_string(),
            error: "not ready".to_string(),
        };
        assert_eq!(of_health_event(&quarantined), None);
    }

    #[test]
    fn the_third_failure_in_a_row_and_the_recovery_after_it_are_reported() {
        let event = |before, after| of_fetch(before, after, Some("timeout")).map(|h| h.event);
        assert_eq!(event(0, 1), None);
        assert_eq!(event(1, 2), None);
        assert_eq!(event(2, 3), Some(Event::SyncFailing));
        assert_eq!(event(3, 4), None);
        assert_eq!(event(4, 0), Some(Event::SyncRecovered));
        assert_eq!(event(2, 0), None);
        assert_eq!(event(0, 0), None);
        assert_eq!(
            of_fetch(2, 3, Some("timeout")).unwrap().message,
            "3 fetches in a row failed: timeout"
        );
    }

    #[test]
    fn a_finished_change_run_is_a_job_event_and_a_run_not_started_is_none() {
        let run = |result| {
            let mut outcome = outcome("", ActionKind::Run, result);
            outcome.action.job = Some("migrate".into());
            outcome.action.container = "migrate.job-af6fa375495c".into();
            outcome
        };
        let drafts = of_outcomes(&[
            run(Ok(())),
            run(Err(ActionError::Failed(
                "job migrate exited with code 1: see docker logs migrate.job-af6fa375495c".into(),
            ))),
            run(Err(ActionError::ShuttingDown)),
        ]);
        assert_eq!(
            events(&drafts),
            [(Event::JobSucceeded, None), (Event::JobFailed, None)]
        );
        assert!(drafts[0].message.starts_with("job migrate ran (missing)"));
        assert!(drafts[1].message.contains("exited with code 1"));
    }
}
