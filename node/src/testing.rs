//! Fixtures for the unit tests of the node's pure modules: action outcomes, beside the engine's
//! desired-state and action fixtures (`engine::testing`). Compiled for tests only; it asserts
//! nothing.

use std::time::Duration;

use engine::plan::{ActionKind, Reason};
use engine::testing::action;

use engine::outcome::{ActionError, Outcome};

use crate::decisions::memory::{Flapping, NodeState, Quarantined, FORMAT_VERSION};

pub fn outcome(deployment: &str, kind: ActionKind, result: Result<(), ActionError>) -> Outcome {
    Outcome {
        action: action(deployment, kind, Reason::Missing),
        result,
        duration: Duration::ZERO,
    }
}

/// A remembered state: c2 good, c1 applied, web quarantined and worker flapping at c2.
pub fn remembered() -> NodeState {
    NodeState {
        format_version: FORMAT_VERSION,
        last_good_commit: Some("c2".into()),
        applied_commit: Some("c1".into()),
        quarantined: vec![Quarantined {
            deployment: "web".into(),
            commit: "c2".into(),
            error: "readiness probe failed".into(),
        }],
        job_runs: Default::default(),
        suspended: None,
        pinned: None,
        flapping: vec![Flapping {
            deployment: "worker".into(),
            commit: "c2".into(),
        }],
        image_notified: Default::default(),
    }
}
