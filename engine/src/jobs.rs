//! Jobs (docs/manifests.md): the rules a revision's Jobs must follow, the names and label of their
//! run containers, what is known of past runs (`JobRuns`: a node's record of every change run by
//! spec hash and image, which outlives the containers) and which finished runs are pruned. It
//! plans nothing itself (see `plan`) and runs nothing (the executor and the node do).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::depends::DependencyGraph;
use crate::error::{ManifestError, Unloaded};
use crate::manifest::Manifests;
use crate::observed::{Observed, ObservedRun};
use crate::placement::{self, listed};

/// The label naming the job a run container belongs to; job containers carry no
/// `run.orcra.dev/deployment`, so the deployments' drift, duplicate and orphan rules never see
/// them.
pub const LABEL_JOB: &str = "run.orcra.dev/job";

/// How many finished runs of each job are kept (for `docker logs`); older ones are removed.
pub const KEPT_RUNS: usize = 3;

/// The container of one run of a job whose containers are named after `base` (the job's name,
/// with the environment in front outside production): `<base>.job-<id>`, where `id` is the first
/// twelve hex digits of the spec hash for a change run, or the run's minute for a scheduled one
/// (`schedule::run_stamp`).
pub fn run_name(base: &str, id: &str) -> String {
    format!("{base}.job-{id}")
}

/// The id a change run's container takes from the spec hash (`v1:<hex>`): its first 12 hex digits.
pub fn hash_id(spec_hash: &str) -> &str {
    let hex = spec_hash.rsplit(':').next().unwrap_or(spec_hash);
    &hex[..hex.len().min(12)]
}

/// A finished change run as a node remembers it: the job's spec hash and the id of the image it
/// ran — together what makes a change run distinct — and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub spec_hash: String,
    pub image_id: String,
    /// The container's exit code; `None` when it was stopped at its `timeout`.
    pub exit_code: Option<i64>,
}

impl RunRecord {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The change runs a node remembers, by job: the record that outlives the pruning of their
/// containers, so a spec that already ran does not run again.
pub type JobRuns = BTreeMap<String, Vec<RunRecord>>;

/// Adds `record` to `runs` of `job` unless it is there, replacing an earlier record of the same
/// spec and image.
pub fn remember(runs: &mut JobRuns, job: &str, record: RunRecord) {
    let records = runs.entry(job.to_string()).or_default();
    if records.contains(&record) {
        return;
    }
    records.retain(|old| (&old.spec_hash, &old.image_id) != (&record.spec_hash, &record.image_id));
    records.push(record);
}

/// How many change runs of one job a node remembers; the oldest are forgotten first.
pub const REMEMBERED_RUNS: usize = 100;

/// Whether `run` is a change run: its container is named after its spec hash, where a scheduled
/// run's is named after its minute.
pub fn is_change_run(run: &ObservedRun) -> bool {
    run.container
        .ends_with(&format!(".job-{}", hash_id(&run.spec_hash)))
}

/// Adds every finished change run of `observed` to `runs`, keeping at most [`REMEMBERED_RUNS`]
/// per job; true when `runs` changed.
pub fn remember_finished(runs: &mut JobRuns, observed: &Observed) -> bool {
    let before = runs.clone();
    for run in observed.runs.iter().filter(|run| is_change_run(run)) {
        if run.finished_at.is_none() {
            continue;
        }
        remember(
            runs,
            &run.job,
            RunRecord {
                spec_hash: run.spec_hash.clone(),
                image_id: run.image_id.clone(),
                exit_code: run.exit_code,
            },
        );
    }
    for records in runs.values_mut() {
        let excess = records.len().saturating_sub(REMEMBERED_RUNS);
        records.drain(..excess);
    }
    *runs != before
}

/// The finished runs of one job's containers to remove so that at most `keep` of them stay,
/// newest (by the time they finished, then by name) kept; running ones are never pruned.
pub fn to_prune<'a>(runs: impl IntoIterator<Item = &'a ObservedRun>, keep: usize) -> Vec<String> {
    let mut finished: Vec<&ObservedRun> = runs
        .into_iter()
        .filter(|run| run.finished_at.is_some())
        .collect();
    finished.sort_by(|a, b| (&b.finished_at, &b.container).cmp(&(&a.finished_at, &a.container)));
    let mut names: Vec<String> = finished
        .into_iter()
        .skip(keep)
        .map(|run| run.container.clone())
        .collect();
    names.sort();
    names
}

/// The runs of the snapshot that belong to `job` of `environment`.
pub fn runs_of<'a>(
    observed: &'a Observed,
    environment: &'a str,
    job: &'a str,
) -> impl Iterator<Item = &'a ObservedRun> + 'a {
    observed
        .runs
        .iter()
        .filter(move |run| run.environment == environment && run.job == job)
}

/// The rules of Jobs that span fields or files: exactly one of `runOn` and `schedule`; `before`
/// and `concurrency` only where they mean something; `before` naming deployments once; a
/// `placement.nodes` entry naming a Node; no jobs on a swarm (a swarm has no place for a
/// container that runs to completion beside its services).
pub fn check(manifests: &Manifests, unloaded: &Unloaded) -> Vec<ManifestError> {
    let mut errors = Vec::new();
    for job in manifests.jobs.values() {
        let spec = &job.spec;
        let file = job.file.as_str();
        let mut error = |field: &str, message: String| {
            errors.push(ManifestError::new(file, Some(field), message));
        };
        if let Some(swarm) = manifests.swarm_node() {
            error(
                "spec",
                format!(
                    "a swarm node runs no jobs, and {} has engine: swarm; run this job from a \
                     Docker node's repository",
                    swarm.file
                ),
            );
        }
        match (&spec.container.image, &spec.container.build) {
            (Some(_), Some(_)) => error(
                "spec",
                "image and build are mutually exclusive: set exactly one".into(),
            ),
            (None, None) => error("spec", "one of image or build is required".into()),
            _ => {}
        }
        match (spec.run_on, &spec.schedule) {
            (Some(_), Some(_)) => error(
                "spec.schedule",
                "a job has exactly one of runOn and schedule, but this one has both".into(),
            ),
            (None, None) => error(
                "spec",
                "a job needs one of runOn: change (run on every change) or schedule (a cron \
                 expression)"
                    .into(),
            ),
            _ => {}
        }
        if spec.run_on.is_some() && spec.concurrency.is_some() {
            error(
                "spec.concurrency",
                "concurrency applies to scheduled jobs only, and this job has runOn".into(),
            );
        }
        for (field, names) in [("before", &spec.before), ("dependsOn", &spec.depends_on)] {
            if spec.run_on.is_none() && !names.is_empty() {
                error(
                    &format!("spec.{field}"),
                    format!(
                        "{field} applies to runOn: change jobs only: a scheduled run is ordered \
                         with no deployment"
                    ),
                );
            }
            let mut seen = BTreeSet::new();
            for (index, deployment) in names.iter().enumerate() {
                let name = deployment.as_str();
                let problem = if !manifests.deployments.contains_key(name) {
                    unloaded.deployment(name).unwrap_or_else(|| {
                        format!(
                            "deployment {name:?} does not exist in this revision (found: {})",
                            listed(manifests.deployments.keys())
                        )
                    })
                } else if !seen.insert(name) {
                    format!("deployment {name:?} is listed twice")
                } else {
                    continue;
                };
                error(&format!("spec.{field}[{index}]"), problem);
            }
        }
        if let Some(cycle) = cycle_through(manifests, &job.name) {
            error(
                "spec.dependsOn",
                format!(
                    "job {} runs before {} and after {}: dependsOn cycle: {}",
                    job.name,
                    cycle[cycle.len() - 2],
                    cycle[1],
                    cycle.join(" -> ")
                ),
            );
        }
        if manifests.swarm_node().is_none() {
            let unknown = placement::unknown_nodes(spec.placement.as_ref(), manifests, unloaded);
            for (field, problem) in unknown {
                error(&field, problem);
            }
        }
    }
    errors
}

/// The dependency cycle that runs through job `name`, if one does, as the path from the job back
/// to it (`job migrate -> db -> web -> job migrate`): the job comes after its `dependsOn` and
/// before its `before`, and deployments after their `dependsOn`.
fn cycle_through(manifests: &Manifests, name: &str) -> Option<Vec<String>> {
    let job = &manifests.jobs[name];
    let key = format!("job {name}");
    let mut edges: Vec<(String, Vec<String>)> = manifests
        .deployments
        .values()
        .map(|deployment| {
            let needs = deployment.spec.depends_on.iter().map(ToString::to_string);
            (deployment.name.to_string(), needs.collect())
        })
        .collect();
    edges.push((
        key.clone(),
        job.spec
            .depends_on
            .iter()
            .map(ToString::to_string)
            .collect(),
    ));
    for before in &job.spec.before {
        edges.push((before.to_string(), vec![key.clone()]));
    }
    DependencyGraph::new(edges)
        .cycles()
        .into_iter()
        .find(|cycle| cycle.contains(&key))
        .map(|cycle| {
            let start = cycle.iter().position(|step| *step == key).unwrap_or(0);
            let ring = &cycle[..cycle.len() - 1];
            let mut path: Vec<String> = ring[start..]
                .iter()
                .chain(&ring[..start])
                .cloned()
                .collect();
            path.push(key.clone());
            path
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(container: &str, finished_at: Option<&str>) -> ObservedRun {
        ObservedRun {
            container: container.into(),
            job: "backup".into(),
            environment: "production".into(),
            spec_hash: "v1:ab".into(),
            image_id: "sha256:1".into(),
            started_at: "2026-12-06T10:00:00Z".into(),
            finished_at: finished_at.map(str::to_string),
            exit_code: finished_at.map(|_| 0),
        }
    }

    #[test]
    fn the_three_newest_finished_runs_stay_and_running_ones_are_never_pruned() {
        let runs = [
            run("backup.job-202612061001", Some("2026-12-06T10:01:05Z")),
            run("backup.job-202612061002", Some("2026-12-06T10:02:05Z")),
            run("backup.job-202612061003", Some("2026-12-06T10:03:05Z")),
            run("backup.job-202612061004", Some("2026-12-06T10:04:05Z")),
            run("backup.job-202612061000", Some("2026-12-06T10:00:05Z")),
            run("backup.job-202612061005", None),
        ];
        assert_eq!(
            to_prune(&runs, KEPT_RUNS),
            ["backup.job-202612061000", "backup.job-202612061001"]
        );
        assert!(to_prune(&runs[..3], KEPT_RUNS).is_empty());
    }

    #[test]
    fn a_change_run_is_named_after_its_spec_hash() {
        let hash = "v1:0123456789abcdef0123";
        assert_eq!(
            run_name("staging.migrate", hash_id(hash)),
            "staging.migrate.job-0123456789ab"
        );
    }
}
