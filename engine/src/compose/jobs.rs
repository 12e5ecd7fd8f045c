//! One-shot services as Jobs: a service that others wait on with `depends_on: {x: {condition:
//! service_completed_successfully}}` runs to completion before them, which is what a Job with
//! `runOn: change` and `before` does. Which services those are, and the Job written for one from
//! its translated container; the Deployment-only settings it cannot keep are noted.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use super::output::Envelope;
use super::values::{key_text, text, Path};
use super::Report;
use crate::manifest::{DeploymentSpec, JobSpec, Name, RunOn};

/// The condition that makes the service waited on a one-shot.
const COMPLETED: &str = "service_completed_successfully";

/// The one-shot services of `services`, each with the deployments (by their `names`) that wait
/// for it to complete, sorted.
pub fn one_shots(
    services: &Mapping,
    names: &BTreeMap<String, Name>,
) -> BTreeMap<String, Vec<Name>> {
    let mut one_shots: BTreeMap<String, BTreeSet<Name>> = BTreeMap::new();
    for (key, settings) in services {
        let waiting = key_text(key);
        let Some(name) = names.get(&waiting) else {
            continue;
        };
        let depends_on = settings
            .as_mapping()
            .and_then(|settings| settings.get("depends_on"))
            .and_then(Value::as_mapping);
        for (service, options) in depends_on.into_iter().flatten() {
            let condition = options
                .as_mapping()
                .and_then(|options| options.get("condition"))
                .and_then(text);
            if condition.as_deref() == Some(COMPLETED) {
                one_shots
                    .entry(key_text(service))
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    one_shots
        .into_iter()
        .filter(|(service, _)| names.contains_key(service))
        .map(|(service, before)| (service, before.into_iter().collect()))
        .collect()
}

/// The file of Job `name`, the one-shot service at `path` translated to `spec`, running on
/// every change before the deployments in `before`, after the ones its own `depends_on` names.
/// What only a Deployment has is dropped with a note.
pub fn job_yaml(
    name: &str,
    spec: DeploymentSpec,
    before: &[Name],
    path: &Path,
    report: &mut Report,
) -> String {
    let defaults = DeploymentSpec::default();
    if spec.health != defaults.health {
        report.note(
            &path.key("healthcheck"),
            "dropped, a job runs to completion and its exit code is what counts",
        );
    }
    if spec.replicas != defaults.replicas {
        report.note(&path.key("deploy"), "dropped, a job runs one container");
    }
    let job = JobSpec {
        container: spec.container,
        run_on: Some(RunOn::Change),
        before: before.to_vec(),
        depends_on: spec.depends_on,
        placement: spec.placement,
        secret_env: spec.secret_env,
        ..JobSpec::default()
    };
    Envelope::new("Job", name, job).to_yaml()
}
