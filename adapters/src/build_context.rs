//! The files of a build context as Docker sees them: everything under the context folder except
//! what `.dockerignore` excludes (patterns anchored at the context root, `!` exceptions, `**`),
//! with the Dockerfile and `.dockerignore` always included, and read once: the content hash of
//! the image tag and the tar sent to Docker are made from the same bytes. It does not hash or
//! archive, and it walks with `files`, the one walker, so nothing outside `codeDir` is ever taken.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use engine::build::ContextFile;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::files::{
    file_inside, files_under, read_regular, read_regular_with_metadata, FoundFile, Refusal,
    WalkError,
};

/// The largest `.dockerignore` read, in bytes.
const MAX_DOCKERIGNORE_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Read(#[from] Refusal),
    #[error("{}: invalid pattern {pattern:?}: {source}", .file.display())]
    Pattern {
        file: PathBuf,
        pattern: String,
        source: Box<ignore::Error>,
    },
}

/// A build context as read: each file's path and bytes, and the metadata of the file they came
/// from (mode, owner, times), which the tar's headers carry.
pub struct ReadContext {
    pub files: Vec<ContextFile>,
    pub metadata: Vec<Metadata>,
}

/// Reads the files of `<code_dir>/<context>` that Docker would receive, each opened once, in path
/// order. `dockerfile` is relative to the context.
pub fn read_context(
    code_dir: &Path,
    context: &str,
    dockerfile: &str,
) -> Result<ReadContext, ContextError> {
    let found = context_files(&code_dir.join(context), code_dir, dockerfile)?;
    let mut read = ReadContext {
        files: Vec::with_capacity(found.len()),
        metadata: Vec::with_capacity(found.len()),
    };
    for file in found {
        let (contents, metadata) = read_regular_with_metadata(&file.path, &file.relative, None)?;
        read.files.push(ContextFile {
            path: file.relative,
            contents,
        });
        read.metadata.push(metadata);
    }
    Ok(read)
}

/// Files of `context` that Docker would receive, sorted by relative path; symlinks to files inside
/// `code_dir` count as the files they point to. `dockerfile` is relative to the context.
fn context_files(
    context: &Path,
    code_dir: &Path,
    dockerfile: &str,
) -> Result<Vec<FoundFile>, ContextError> {
    if !context.is_dir() {
        return Err(WalkError::NotADirectory(context.to_path_buf()).into());
    }
    let ignore = dockerignore(context, code_dir)?;
    // An excluded folder may still hold re-included files (`!dir/keep`): then walk into it.
    let prune = ignore.num_whitelists() == 0;
    let folders = ignore.clone();
    let dockerfile = dockerfile.to_string();
    Ok(files_under(
        context,
        code_dir,
        move |folder| {
            !(prune
                && folders
                    .matched_path_or_any_parents(folder, true)
                    .is_ignore())
        },
        |file| {
            file == dockerfile
                || file == ".dockerignore"
                || !ignore.matched_path_or_any_parents(file, false).is_ignore()
        },
    )?)
}

/// `.dockerignore` as a matcher; every pattern is anchored at the context root, as Docker does.
fn dockerignore(context: &Path, code_dir: &Path) -> Result<Gitignore, ContextError> {
    let mut builder = GitignoreBuilder::new(context);
    let file = context.join(".dockerignore");
    if let Some(path) = file_inside(&file, code_dir, ".dockerignore")? {
        let bytes = read_regular(&path, ".dockerignore", Some(MAX_DOCKERIGNORE_BYTES))?;
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negation, pattern) = match line.strip_prefix('!') {
                Some(rest) => ("!", rest.trim()),
                None => ("", line),
            };
            let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
            builder
                .add_line(None, &format!("{negation}/{pattern}"))
                .map_err(|source| ContextError::Pattern {
                    file: file.clone(),
                    pattern: line.to_string(),
                    source: Box::new(source),
                })?;
        }
    }
    builder.build().map_err(|source| ContextError::Pattern {
        file,
        pattern: String::new(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn names(context: &Path) -> Vec<String> {
        context_files(context, context, "Dockerfile")
            .unwrap()
            .into_iter()
            .map(|entry| entry.relative)
            .collect()
    }

    #[test]
    fn dockerignore_excludes_anchored_patterns_with_exceptions() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        for file in [
            "Dockerfile",
            "app.py",
            "notes.md",
            "docs/guide.md",
            "logs/a.log",
            "logs/keep.log",
            "sub/x.tmp",
        ] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, file).unwrap();
        }
        fs::write(
            root.join(".dockerignore"),
            "*.md\nlogs\n!logs/keep.log\n**/*.tmp\nDockerfile\n",
        )
        .unwrap();
        assert_eq!(
            names(root),
            vec![
                ".dockerignore",
                "Dockerfile",
                "app.py",
                "docs/guide.md",
                "logs/keep.log"
            ]
        );
    }

    #[test]
    fn without_dockerignore_everything_counts() {
        let dir = tempfile::TempDir::new().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch").unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/b/c"), "c").unwrap();
        assert_eq!(names(dir.path()), vec!["Dockerfile", "a/b/c"]);
    }
}
