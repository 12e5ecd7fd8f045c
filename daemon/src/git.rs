//! Git facts about a local manifest checkout (git2). It does not fetch or change repositories.

use std::path::Path;

/// Commit id recorded for revisions that are not in a Git repository.
pub const UNCOMMITTED: &str = "uncommitted";

/// The HEAD commit id of the repository containing `dir`, or `uncommitted` outside Git.
pub fn head_commit(dir: &Path) -> String {
    git2::Repository::discover(dir)
        .ok()
        .and_then(|repo| {
            let commit = repo.head().ok()?.peel_to_commit().ok()?;
            Some(commit.id().to_string())
        })
        .unwrap_or_else(|| UNCOMMITTED.to_string())
}
