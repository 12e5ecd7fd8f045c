//! What the node remembers across restarts (docs/node.md), as data: the last good and the
//! applied commit, quarantined (deployment, commit, error) triples, flapping marks and the change
//! runs of jobs, and an operator's suspension and pin; what to
//! remember from the health, what a restart gets back, and where a restart starts from. Pure:
//! `state.rs` reads and writes the file, and the node loop decides when.

use std::collections::BTreeMap;

use engine::jobs::JobRuns;
use serde::{Deserialize, Serialize};

use super::control::{Pinned, Suspended};
use super::health::Tracker;

/// The version of the file's layout; a newer orun reads older versions.
pub const FORMAT_VERSION: u32 = 1;

/// What the node remembers across restarts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub format_version: u32,
    /// The newest commit that passed validation: in force while newer ones are invalid.
    pub last_good_commit: Option<String>,
    /// The commit whose reconcile last finished without a failed action.
    pub applied_commit: Option<String>,
    /// Deployments whose rollout of `commit` was rolled back: not retried for that commit.
    #[serde(default)]
    pub quarantined: Vec<Quarantined>,
    /// Deployments left alone until a commit newer than `commit`.
    #[serde(default)]
    pub flapping: Vec<Flapping>,
    /// The change runs of jobs, by job: which spec hash and image ran and how it ended, kept
    /// after their containers are pruned so that a spec that ran never runs again.
    #[serde(default, skip_serializing_if = "JobRuns::is_empty")]
    pub job_runs: JobRuns,
    /// The node was suspended by `orun suspend` and not resumed yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspended>,
    /// The node was pinned by `orun pin` and not unpinned yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pinned>,
    /// The digest each deployment with `imageUpdates: notify` was last notified of, so that a
    /// restart does not notify it again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_notified: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub deployment: String,
    pub commit: String,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flapping {
    pub deployment: String,
    pub commit: String,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState {
            format_version: FORMAT_VERSION,
            last_good_commit: None,
            applied_commit: None,
            quarantined: Vec::new(),
            flapping: Vec::new(),
            job_runs: JobRuns::new(),
            suspended: None,
            pinned: None,
            image_notified: BTreeMap::new(),
        }
    }
}

impl NodeState {
    /// What there is to remember now: the last good commit, the applied commit, and the health
    /// marks. Flapping marks hold for the last good commit, since a new commit lifts them.
    pub fn capture(last_good: Option<&str>, applied: Option<&str>, health: &Tracker) -> Self {
        let mut state = NodeState {
            last_good_commit: last_good.map(str::to_string),
            applied_commit: applied.map(str::to_string),
            ..NodeState::default()
        };
        for (deployment, health) in health.deployments() {
            if let Some((commit, error)) = &health.quarantine {
                state.quarantined.push(Quarantined {
                    deployment: deployment.clone(),
                    commit: commit.clone(),
                    error: error.clone(),
                });
            }
            if let (true, Some(commit)) = (health.flapping, last_good) {
                state.flapping.push(Flapping {
                    deployment: deployment.clone(),
                    commit: commit.to_string(),
                });
            }
        }
        state
    }

    /// Puts the quarantines and flapping marks of `commit`, the revision the node starts from,
    /// back into `health`; those of other commits were lifted by a newer one.
    pub fn restore(&self, commit: &str, health: &mut Tracker) {
        for quarantined in self.quarantined.iter().filter(|q| q.commit == commit) {
            health.quarantine(&quarantined.deployment, commit, &quarantined.error);
        }
        for flapping in self.flapping.iter().filter(|f| f.commit == commit) {
            health.entry(&flapping.deployment).flapping = true;
        }
    }
}

/// The revision a starting node reconciles before its first fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartingPoint {
    pub commit: String,
    /// The commit was adopted but never applied without failures (for example, orun was killed
    /// during its first pass): plan it as a new commit, so `pullPolicy: Always` and
    /// `buildMode: always` still act on it.
    pub new_commit: bool,
}

/// Where a node starts: the remembered last good commit when the clone holds it (the clone's
/// checkout can lag behind it after a crash), else the clone's checkout, which only ever holds a
/// good revision; nothing when there is neither.
pub fn starting_point(
    checked_out: Option<&str>,
    remembered: Option<&NodeState>,
    clone_has_last_good: bool,
) -> Option<StartingPoint> {
    let last_good = remembered
        .and_then(|state| state.last_good_commit.as_deref())
        .filter(|_| clone_has_last_good);
    let commit = last_good.or(checked_out)?;
    let new_commit = remembered.is_some_and(|state| {
        state.last_good_commit.as_deref() == Some(commit)
            && state.applied_commit.as_deref() != Some(commit)
    });
    Some(StartingPoint {
        commit: commit.to_string(),
        new_commit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::remembered;

    #[test]
    fn capture_records_quarantines_and_flapping_marks_for_the_last_good_commit() {
        let mut health = Tracker::default();
        health.quarantine("web", "c2", "readiness probe failed");
        health.entry("worker").flapping = true;
        health.entry("db").restarts = 3;
        let state = NodeState::capture(Some("c2"), Some("c1"), &health);
        assert_eq!(state, remembered());
        assert_eq!(
            NodeState::capture(None, None, &Tracker::default()),
            NodeState::default()
        );
    }

    #[test]
    fn restore_brings_back_only_the_marks_of_the_starting_commit() {
        let mut state = remembered();
        state.quarantined.push(Quarantined {
            deployment: "api".into(),
            commit: "c1".into(),
            error: "old".into(),
        });
        let mut health = Tracker::default();
        state.restore("c2", &mut health);
        assert_eq!(
            health.held("c2"),
            ["web".to_string(), "worker".to_string()].into()
        );
        let web = health.get("web").unwrap();
        assert_eq!(
            web.quarantine,
            Some(("c2".to_string(), "readiness probe failed".to_string()))
        );
        assert!(health.get("api").is_none());
        assert_eq!(
            NodeState::capture(Some("c2"), Some("c1"), &health),
            remembered()
        );

        let mut other = Tracker::default();
        state.restore("c3", &mut other);
        assert!(other.held("c3").is_empty());
    }

    #[test]
    fn a_node_starts_from_the_remembered_last_good_commit_when_the_clone_has_it() {
        let state = remembered();
        assert_eq!(
            starting_point(Some("c1"), Some(&state), true),
            Some(StartingPoint {
                commit: "c2".into(),
                new_commit: true
            })
        );
        assert_eq!(
            starting_point(Some("c1"), Some(&state), false),
            Some(StartingPoint {
                commit: "c1".into(),
                new_commit: false
            })
        );
        assert_eq!(starting_point(None, Some(&state), false), None);
        assert_eq!(starting_point(None, None, false), None);
    }

    #[test]
    fn a_file_of_an_older_orun_loads_without_holds_and_holds_round_trip() {
        let older: NodeState = serde_json::from_value(serde_json::json!({
            "format_version": 1, "last_good_commit": "c1", "applied_commit": "c1"
        }))
        .unwrap();
        assert_eq!((older.suspended, older.pinned), (None, None));
        let held = NodeState {
            suspended: Some(Suspended {
                reason: Some("db upgrade".into()),
                since: "2026-12-06T10:00:00Z".into(),
            }),
            pinned: Some(Pinned {
                commit: "c1".into(),
                reason: None,
                since: "2026-12-06T10:00:00Z".into(),
            }),
            ..NodeState::default()
        };
        let text = serde_json::to_string(&held).unwrap();
        assert_eq!(serde_json::from_str::<NodeState>(&text).unwrap(), held);
    }

    #[test]
    fn a_commit_already_applied_or_not_remembered_is_not_new() {
        let mut state = remembered();
        state.applied_commit = Some("c2".into());
        let applied = starting_point(Some("c2"), Some(&state), true).unwrap();
        assert!(!applied.new_commit);
        let without_state = starting_point(Some("c2"), None, false).unwrap();
        assert_eq!(without_state.commit, "c2");
        assert!(!without_state.new_commit);
    }
}
