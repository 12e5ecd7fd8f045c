//! The node's clone of the manifest repository, from async code: fetching, validating a fetched
//! commit from its own files, checking out, reading the checked-out commit and loading its
//! revision run on the blocking pool, never on an async worker thread. A revision load that takes
//! longer than `LOAD_TIMEOUT` is reported as a rejected revision and left to finish on its own,
//! so the reconciler goes on; a [`LoadError`] says why a revision did not load. Builds read the
//! clone's contexts from the folder its revision is loaded with. It decides neither when to fetch
//! nor which commit to check out.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use engine::desired::MissingKeys;
use engine::revision::{self, NodeAndEnvironment, Revision, RevisionError};
use engine::secret_env::NodeKeys;

use super::Settings;
use crate::blocking::on_blocking_pool;
use adapters::git::{self, GitError};
use adapters::revision::{AgeKey, CodeDir, ReadError, WorkTree};

/// The longest a revision may take to load and resolve. Within the input limits of
/// `engine::limits` a revision loads in well under a second; this bounds what the limits cannot
/// foresee (a huge build context on a slow disk, a parser bug), so drift repair goes on.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a commit's revision did not load; the last good revision stays in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The commit's files could not be written into the candidate folder.
    #[error(transparent)]
    CheckOut(GitError),
    /// Its files could not be read, or do not make a valid revision for this node.
    #[error(transparent)]
    Revision(#[from] RevisionError<ReadError>),
    #[error("the revision did not load within {}: rejected; the last good revision stays in force", humantime::format_duration(*.0))]
    TimedOut(Duration),
    /// The blocking task loading it panicked or was cancelled.
    #[error("revision task failed: {0}")]
    Task(String),
}

/// Held while a validation uses the candidate folder: a load that timed out may still be reading
/// it, and the next validation must not empty it under that load (nor be emptied by it).
static CANDIDATE_FOLDER: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(Arc::default);

/// Fetches the tracked branch; the fetched commit id.
pub async fn fetch(settings: &Settings) -> Result<String, GitError> {
    let checkout = settings.checkout();
    let remote = settings.remote.clone();
    on_blocking_pool(move || git::fetch(&checkout, &remote), GitError::Task).await
}

/// Makes the clone's work tree exactly `commit`.
pub async fn check_out(settings: &Settings, commit: &str) -> Result<(), GitError> {
    let checkout = settings.checkout();
    let commit = commit.to_string();
    on_blocking_pool(move || git::check_out(&checkout, &commit), GitError::Task).await
}

/// The commit checked out by an earlier run, if there is a clone.
pub async fn checked_out(settings: &Settings) -> Option<String> {
    let checkout = settings.checkout();
    on_blocking_pool(move || Ok(git::checked_out(&checkout)), GitError::Task)
        .await
        .ok()
        .flatten()
}

/// Whether the clone holds `commit`.
pub async fn has_commit(settings: &Settings, commit: &str) -> bool {
    let checkout = settings.checkout();
    let commit = commit.to_string();
    on_blocking_pool(
        move || Ok(git::has_commit(&checkout, &commit)),
        GitError::Task,
    )
    .await
    .unwrap_or(false)
}

/// Loads and resolves the fetched commit `commit` from its own files, written into the candidate
/// folder, with the same `codeDir` rules as the clone: the clone's work tree is not touched, so
/// it keeps the last good revision whatever `commit` holds.
pub async fn validate(settings: &Settings, commit: &str) -> Result<Revision, LoadError> {
    let checkout = settings.checkout();
    let candidate = settings.paths().candidate();
    let tree = work_tree(settings, candidate.clone());
    let selection = selection(settings);
    let commit = commit.to_string();
    let folder = CANDIDATE_FOLDER.clone();
    within(LOAD_TIMEOUT, async move {
        let held = folder.lock_owned().await;
        on_blocking_pool(
            move || {
                let _held = held;
                git::check_out_into(&checkout, &commit, &candidate).map_err(LoadError::CheckOut)?;
                let loaded =
                    revision::desired_state(&tree, &commit, &selection).map_err(Into::into);
                // A failed removal only leaves files behind that the next validation wipes first.
                let _ = std::fs::remove_dir_all(&candidate);
                loaded
            },
            LoadError::Task,
        )
        .await
    })
    .await
}

/// Loads and resolves the revision `commit` checked out in the clone.
pub async fn load(settings: &Settings, commit: &str) -> Result<Revision, LoadError> {
    let tree = work_tree(settings, settings.checkout());
    let selection = selection(settings);
    let commit = commit.to_string();
    within(
        LOAD_TIMEOUT,
        on_blocking_pool(
            move || Ok(revision::desired_state(&tree, &commit, &selection)?),
            LoadError::Task,
        ),
    )
    .await
}

/// `load`'s result, or a rejection once `limit` has passed; the blocking task it waits for is
/// left to finish on its own.
async fn within(
    limit: Duration,
    load: impl Future<Output = Result<Revision, LoadError>>,
) -> Result<Revision, LoadError> {
    tokio::time::timeout(limit, load)
        .await
        .unwrap_or(Err(LoadError::TimedOut(limit)))
}

/// The revision in `root`; build contexts under `codeDir`, by default `root` itself, so that build
/// tags hash the files of the revision being read.
fn work_tree(settings: &Settings, root: PathBuf) -> WorkTree {
    WorkTree {
        root,
        code_dir: CodeDir::Fixed(settings.code_dir.clone()),
        age_key: AgeKey::File(settings.age_key_path.clone()),
    }
}

/// Where builds read the contexts of the revision in the clone.
pub fn code_dir(settings: &Settings) -> PathBuf {
    work_tree(settings, settings.checkout()).code_dir(None)
}

fn selection(settings: &Settings) -> NodeAndEnvironment {
    NodeAndEnvironment {
        environment: settings.environment.clone(),
        node: settings.node_name.clone(),
        require_node: false,
        branch: Some(settings.remote.branch.clone()),
        policy: settings.policy(),
        engine: settings.config.as_ref().map(|config| config.spec.engine),
        node_keys: settings
            .config
            .as_ref()
            .map(NodeKeys::of_node)
            .unwrap_or_default(),
        missing_keys: MissingKeys::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_load_that_outlasts_its_limit_is_rejected_and_not_waited_for() {
        let stuck = on_blocking_pool(
            || -> Result<Revision, LoadError> {
                std::thread::sleep(Duration::from_secs(3));
                Err(LoadError::Task("finished".into()))
            },
            LoadError::Task,
        );
        let error = within(Duration::from_millis(20), stuck).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "the revision did not load within 20ms: rejected; the last good revision stays in force"
        );
    }
}
