//! The apply history file, `<dataDir>/history.jsonl` (docs/node.md#history): one JSON entry a
//! line, oldest first, the newest `decisions::history::KEPT` kept. Each append rewrites the file
//! atomically (mode 600, like `state.json`), so a crash leaves the old or the new file whole; a
//! line that does not parse is skipped on read all the same. Blocking calls run on the blocking
//! pool. What an entry holds and how many are kept is `decisions/history.rs`; this module does not
//! log.

use std::io;
use std::path::PathBuf;

use crate::blocking::on_blocking_pool;
use crate::decisions::history::{self, HistoryEntry};
use crate::state::write_private;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot write the apply history {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read the apply history {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The blocking task panicked or was cancelled.
    #[error("apply history task failed: {0}")]
    Task(String),
}

/// `<dataDir>/history.jsonl`.
#[derive(Clone, Debug)]
pub struct HistoryFile {
    path: PathBuf,
}

impl HistoryFile {
    pub fn new(path: PathBuf) -> Self {
        HistoryFile { path }
    }

    /// Adds `entry`, dropping the oldest beyond what is kept.
    pub async fn append(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let path = self.path.clone();
        on_blocking_pool(
            move || {
                let entries = read_entries(&path).map_err(|source| HistoryError::Read {
                    path: path.clone(),
                    source,
                })?;
                let text = history::appended(entries, entry);
                write_private(&path, text.as_bytes())
                    .map_err(|source| HistoryError::Write { path, source })
            },
            HistoryError::Task,
        )
        .await
    }

    /// The entries, oldest first; none before the first apply.
    pub async fn read(&self) -> Result<Vec<HistoryEntry>, HistoryError> {
        let path = self.path.clone();
        on_blocking_pool(
            move || read_entries(&path).map_err(|source| HistoryError::Read { path, source }),
            HistoryError::Task,
        )
        .await
    }
}

fn read_entries(path: &std::path::Path) -> io::Result<Vec<HistoryEntry>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(history::parse(&text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::history::ApplyOutcome;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn entries_are_appended_private_and_read_back() {
        let dir = tempfile::TempDir::new().unwrap();
        let file = HistoryFile::new(dir.path().join("data/history.jsonl"));
        assert!(file.read().await.unwrap().is_empty());
        for commit in ["c1", "c2"] {
            file.append(HistoryEntry {
                commit: commit.into(),
                started_at: "2026-12-06T10:00:00Z".into(),
                finished_at: "2026-12-06T10:00:01Z".into(),
                outcome: ApplyOutcome::Applied,
                deployments: Vec::new(),
            })
            .await
            .unwrap();
        }
        let entries = file.read().await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].commit, "c2");
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("data/history.jsonl")), 0o600);
        assert_eq!(mode(&dir.path().join("data")), 0o700);
    }
}
