//! The node's durable memory, `<dataDir>/state.json` (docs/node.md): the last good and the applied
//! commit, quarantined (deployment, commit, error) triples and flapping marks, so that a restart,
//! even after SIGKILL, keeps what the node had learnt. Written atomically (temporary file, fsync,
//! rename, fsync of the folder); a file that cannot be read is moved aside and the node starts
//! from Git alone. What to remember and where to start from are pure functions here; when to
//! save is the reconciler's call, and this module does not log.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::decisions::health::Tracker;

/// The version of the file's layout; a newer orun reads older versions.
const FORMAT_VERSION: u32 = 1;

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

/// How loading went.
#[derive(Debug)]
pub enum LoadOutcome {
    /// No state file yet: a first start.
    Fresh,
    Restored(NodeState),
    /// The file could not be read or parsed (`error`); it now lies at `moved_to`.
    MovedAside {
        moved_to: PathBuf,
        error: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write node state {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot move unreadable node state {} aside ({reason}): {source}", .path.display())]
    MoveAside {
        path: PathBuf,
        reason: String,
        source: io::Error,
    },
}

/// `<dataDir>/state.json`. Blocking: use it from a blocking thread.
#[derive(Clone, Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: PathBuf) -> Self {
        StateFile { path }
    }

    /// Reads the state; an unreadable or corrupt file is renamed `state.json.corrupt-<time>`.
    pub fn load(&self, now: SystemTime) -> Result<LoadOutcome, StateError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(LoadOutcome::Fresh),
            Err(error) => return self.move_aside(error.to_string(), now),
        };
        match serde_json::from_slice::<NodeState>(&bytes) {
            Ok(state) if state.format_version <= FORMAT_VERSION => Ok(LoadOutcome::Restored(state)),
            Ok(state) => self.move_aside(
                format!(
                    "format_version {} is newer than this orun reads ({FORMAT_VERSION})",
                    state.format_version
                ),
                now,
            ),
            Err(error) => self.move_aside(error.to_string(), now),
        }
    }

    fn move_aside(&self, reason: String, now: SystemTime) -> Result<LoadOutcome, StateError> {
        let mut moved_to = self.path.clone().into_os_string();
        moved_to.push(format!(
            ".corrupt-{}",
            humantime::format_rfc3339_seconds(now)
        ));
        let moved_to = PathBuf::from(moved_to);
        match fs::rename(&self.path, &moved_to) {
            Ok(()) => Ok(LoadOutcome::MovedAside {
                moved_to,
                error: reason,
            }),
            Err(source) => Err(StateError::MoveAside {
                path: self.path.clone(),
                reason,
                source,
            }),
        }
    }

    /// Replaces the file with `state` so that a crash at any point leaves the old or the new file
    /// whole: write a temporary file, fsync it, rename it over, fsync the folder.
    pub fn save(&self, state: &NodeState) -> Result<(), StateError> {
        let failed = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(state)
            .map_err(io::Error::other)
            .map_err(failed)?;
        text.push(b'\n');
        let folder = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(folder).map_err(failed)?;
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut file = File::create(&temporary).map_err(failed)?;
        file.write_all(&text).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        fs::rename(&temporary, &self.path).map_err(failed)?;
        File::open(folder)
            .and_then(|folder| folder.sync_all())
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NodeState {
        NodeState {
            format_version: FORMAT_VERSION,
            last_good_commit: Some("c2".into()),
            applied_commit: Some("c1".into()),
            quarantined: vec![Quarantined {
                deployment: "web".into(),
                commit: "c2".into(),
                error: "readiness probe failed".into(),
            }],
            flapping: vec![Flapping {
                deployment: "worker".into(),
                commit: "c2".into(),
            }],
        }
    }

    #[test]
    fn a_saved_state_loads_back() {
        let dir = tempfile::TempDir::new().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        assert!(matches!(
            file.load(SystemTime::now()).unwrap(),
            LoadOutcome::Fresh
        ));
        file.save(&NodeState::default()).unwrap();
        file.save(&sample()).unwrap();
        match file.load(SystemTime::now()).unwrap() {
            LoadOutcome::Restored(state) => assert_eq!(state, sample()),
            other => panic!("{other:?}"),
        }
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn the_file_is_plain_json_with_named_fields() {
        let text = serde_json::to_value(sample()).unwrap();
        assert_eq!(
            text,
            serde_json::json!({
                "format_version": 1,
                "last_good_commit": "c2",
                "applied_commit": "c1",
                "quarantined": [
                    {"deployment": "web", "commit": "c2", "error": "readiness probe failed"}
                ],
                "flapping": [{"deployment": "worker", "commit": "c2"}]
            })
        );
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_with_the_time_in_its_name() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "{\"last_good_commit\": ").unwrap();
        let file = StateFile::new(path.clone());
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        match file.load(now).unwrap() {
            LoadOutcome::MovedAside { moved_to, error } => {
                assert_eq!(
                    moved_to,
                    dir.path().join("state.json.corrupt-2027-01-15T08:00:00Z")
                );
                assert_eq!(
                    fs::read_to_string(moved_to).unwrap(),
                    "{\"last_good_commit\": "
                );
                assert!(error.contains("EOF"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!path.exists());
        assert!(matches!(file.load(now).unwrap(), LoadOutcome::Fresh));
    }

    #[test]
    fn a_file_from_a_newer_orun_or_not_a_file_is_moved_aside() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("state.json");
        let newer = serde_json::json!({"format_version": 2, "last_good_commit": null, "applied_commit": null});
        fs::write(&path, newer.to_string()).unwrap();
        let file = StateFile::new(path.clone());
        let now = SystemTime::UNIX_EPOCH;
        match file.load(now).unwrap() {
            LoadOutcome::MovedAside { error, .. } => {
                assert_eq!(error, "format_version 2 is newer than this orun reads (1)");
            }
            other => panic!("{other:?}"),
        }
        fs::create_dir(&path).unwrap();
        let later = now + std::time::Duration::from_secs(1);
        assert!(matches!(
            file.load(later).unwrap(),
            LoadOutcome::MovedAside { .. }
        ));
        assert!(!path.exists());
    }

    #[test]
    fn a_state_that_cannot_be_written_names_the_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "").unwrap();
        let path = blocker.join("state.json");
        let error = StateFile::new(path.clone()).save(&sample()).unwrap_err();
        let prefix = format!("cannot write node state {}: ", path.display());
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }

    #[test]
    fn capture_records_quarantines_and_flapping_marks_for_the_last_good_commit() {
        let mut health = Tracker::default();
        health.quarantine("web", "c2", "readiness probe failed");
        health.entry("worker").flapping = true;
        health.entry("db").restarts = 3;
        let state = NodeState::capture(Some("c2"), Some("c1"), &health);
        assert_eq!(state, sample());
        assert_eq!(
            NodeState::capture(None, None, &Tracker::default()),
            NodeState::default()
        );
    }

    #[test]
    fn restore_brings_back_only_the_marks_of_the_starting_commit() {
        let mut state = sample();
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
            sample()
        );

        let mut other = Tracker::default();
        state.restore("c3", &mut other);
        assert!(other.held("c3").is_empty());
    }

    #[test]
    fn a_node_starts_from_the_remembered_last_good_commit_when_the_clone_has_it() {
        let state = sample();
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
    fn a_commit_already_applied_or_not_remembered_is_not_new() {
        let mut state = sample();
        state.applied_commit = Some("c2".into());
        let applied = starting_point(Some("c2"), Some(&state), true).unwrap();
        assert!(!applied.new_commit);
        let without_state = starting_point(Some("c2"), None, false).unwrap();
        assert_eq!(without_state.commit, "c2");
        assert!(!without_state.new_commit);
    }
}
