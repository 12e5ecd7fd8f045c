//! The one folder walker orun uses (manifest folders, build contexts), built on the `ignore`
//! crate's walker with every ignore-file convention switched off: what to skip is the caller's
//! decision. Folder symlinks are never followed; a symlink to a regular file counts as that file.
//! It reads no file contents.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

/// A regular file under a root: its path relative to the root (with `/`) and on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFile {
    pub relative: String,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot list {}: {source}", .root.display())]
    List {
        root: PathBuf,
        source: Box<ignore::Error>,
    },
}

/// Regular files under `root`, sorted by relative path. `descend(relative)` says whether to enter
/// a folder, `keep(relative)` whether to take a file.
pub fn files_under(
    root: &Path,
    descend: impl Fn(&str) -> bool + Send + Sync + 'static,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<FoundFile>, WalkError> {
    if !root.is_dir() {
        return Err(WalkError::NotADirectory(root.to_path_buf()));
    }
    let base = root.to_path_buf();
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            let is_folder = entry.file_type().is_some_and(|kind| kind.is_dir());
            entry.depth() == 0 || !is_folder || descend(&relative_path(&base, entry.path()))
        })
        .build();
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|source| WalkError::List {
            root: root.to_path_buf(),
            source: Box::new(source),
        })?;
        let path = entry.path();
        if entry.file_type().is_some_and(|kind| kind.is_dir()) || !path.is_file() {
            continue;
        }
        let relative = relative_path(root, path);
        if keep(&relative) {
            files.push(FoundFile {
                relative,
                path: path.to_path_buf(),
            });
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(files)
}

/// `path` relative to `base`, with `/` separators whatever the platform.
pub fn relative_path(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walks_sorted_regular_files_and_skips_what_the_caller_says() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        for file in ["b.txt", "a/x.txt", ".git/HEAD", "skip/y.txt", ".hidden"] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, file).unwrap();
        }
        std::os::unix::fs::symlink(root.join("a"), root.join("link-to-a")).unwrap();
        std::os::unix::fs::symlink(root.join("b.txt"), root.join("link-to-b")).unwrap();
        let found: Vec<String> = files_under(
            root,
            |dir| dir != ".git" && dir != "skip",
            |file| file != "a/x.txt",
        )
        .unwrap()
        .into_iter()
        .map(|file| file.relative)
        .collect();
        assert_eq!(found, vec![".hidden", "b.txt", "link-to-b"]);
    }

    #[test]
    fn a_missing_root_is_named() {
        let error = files_under(Path::new("/nonexistent/orun"), |_| true, |_| true).unwrap_err();
        assert_eq!(error.to_string(), "/nonexistent/orun is not a directory");
    }
}
