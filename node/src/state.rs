//! The node's durable memory, `<dataDir>/state.json` (docs/node.md): the last good and the applied
//! commit, quarantined (deployment, commit, error) triples and flapping marks, so that a restart,
//! even after SIGKILL, keeps what the node had learnt. Written atomically (temporary file, fsync,
//! rename, fsync of the folder); a file that cannot be read is moved aside and the node starts
//! from Git alone. The file is mode 600 (it names commits and the errors of quarantined
//! deployments) and a folder it creates mode 700. What to remember and where to start from are
//! `decisions/memory.rs`; when to save is the node loop's call, and this module does not log.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::decisions::memory::{NodeState, FORMAT_VERSION};

/// How loading went.
#[derive(Debug)]
pub enum LoadOutcome {
    /// No state file yet: a first start.
    Fresh,
    Restored(Box<NodeState>),
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
            Ok(state) if state.format_version <= FORMAT_VERSION => {
                Ok(LoadOutcome::Restored(Box::new(state)))
            }
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
    /// whole (see [`write_private`]).
    pub fn save(&self, state: &NodeState) -> Result<(), StateError> {
        let mut text = serde_json::to_vec_pretty(state).map_err(io::Error::other);
        if let Ok(text) = &mut text {
            text.push(b'\n');
        }
        text.and_then(|text| write_private(&self.path, &text))
            .map_err(|source| StateError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

/// Replaces `path` with `bytes`, readable by the owner alone, so that a crash at any point leaves
/// the old or the new file whole: write a temporary file, fsync it, rename it over, fsync the
/// folder (created with mode 700 when missing).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)?;
    let mut temporary = path.to_path_buf().into_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    // A temporary file left by an earlier crash keeps its mode when reopened.
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    File::open(folder).and_then(|folder| folder.sync_all())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::remembered;

    #[test]
    fn a_saved_state_loads_back() {
        let dir = tempfile::TempDir::new().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        assert!(matches!(
            file.load(SystemTime::now()).unwrap(),
            LoadOutcome::Fresh
        ));
        file.save(&NodeState::default()).unwrap();
        file.save(&remembered()).unwrap();
        match file.load(SystemTime::now()).unwrap() {
            LoadOutcome::Restored(state) => assert_eq!(*state, remembered()),
            other => panic!("{other:?}"),
        }
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn only_the_owner_may_read_the_file_and_a_folder_it_creates() {
        let dir = tempfile::TempDir::new().unwrap();
        let folder = dir.path().join("data");
        let path = folder.join("state.json");
        fs::create_dir(&folder).unwrap();
        // A temporary file left behind by a crash, readable by everyone.
        fs::write(folder.join("state.json.tmp"), "").unwrap();
        fs::set_permissions(folder.join("state.json.tmp"), Permissions::from_mode(0o644)).unwrap();
        StateFile::new(path.clone()).save(&remembered()).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);

        let created = dir.path().join("new/data/state.json");
        StateFile::new(created.clone()).save(&remembered()).unwrap();
        assert_eq!(mode(&created), 0o600);
        assert_eq!(mode(created.parent().unwrap()), 0o700);
    }

    #[test]
    fn the_file_is_plain_json_with_named_fields() {
        let text = serde_json::to_value(remembered()).unwrap();
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
        let error = StateFile::new(path.clone())
            .save(&remembered())
            .unwrap_err();
        let prefix = format!("cannot write node state {}: ", path.display());
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }
}
