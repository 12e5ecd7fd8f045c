//! Fixtures for the unit tests of the node's pure modules: action outcomes, beside the engine's
//! desired-state and action fixtures (`engine::testing`). Compiled for tests only; it asserts
//! nothing.

use std::time::Duration;

use engine::plan::{ActionKind, Reason};
use engine::testing::action;

use engine::outcome::{ActionError, Outcome};

pub fn outcome(deployment: &str, kind: ActionKind, result: Result<(), ActionError>) -> Outcome {
    Outcome {
        action: action(deployment, kind, Reason::Missing),
        result,
        duration: Duration::ZERO,
    }
}
