//! The node's clone of the manifest repository, from async code: fetching, checking out, reading
//! the checked-out commit and loading its revision run on the blocking pool, never on an async
//! worker thread. It decides neither when to fetch nor which commit to check out.

use engine::revision::{self, Revision, Selection};

use super::status::SyncError;
use super::Settings;
use crate::git::{self, GitError};
use crate::revision::{AgeKey, WorkTree};

/// Fetches the tracked branch; the fetched commit id.
pub async fn fetch(settings: &Settings) -> Result<String, GitError> {
    let checkout = settings.checkout();
    let remote = settings.remote.clone();
    blocking(move || git::fetch(&checkout, &remote)).await
}

/// Makes the work tree exactly `commit`.
pub async fn check_out(settings: &Settings, commit: &str) -> Result<(), GitError> {
    let checkout = settings.checkout();
    let commit = commit.to_string();
    blocking(move || git::check_out(&checkout, &commit)).await
}

/// The commit checked out by an earlier run, if there is a clone.
pub async fn checked_out(settings: &Settings) -> Option<String> {
    let checkout = settings.checkout();
    blocking(move || Ok(git::checked_out(&checkout)))
        .await
        .ok()
        .flatten()
}

/// Loads and resolves the checked-out revision `commit` for this node.
pub async fn load(settings: &Settings, commit: &str) -> Result<Revision, SyncError> {
    let tree = WorkTree {
        root: settings.checkout(),
        code_dir: Some(settings.code_dir()),
        age_key: AgeKey::File(settings.age_key_path.clone()),
    };
    let selection = Selection {
        environment: settings.environment.clone(),
        node: settings.node_name.clone(),
        require_node: false,
        branch: Some(settings.remote.branch.clone()),
    };
    let commit = commit.to_string();
    let loaded =
        tokio::task::spawn_blocking(move || revision::desired_state(&tree, &commit, &selection))
            .await;
    match loaded {
        Ok(Ok(revision)) => Ok(revision),
        Ok(Err(error)) => Err(SyncError::Revision(error.to_string())),
        Err(error) => Err(SyncError::Revision(format!(
            "revision task failed: {error}"
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|error| Err(GitError::Task(error.to_string())))
}
