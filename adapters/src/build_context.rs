//! The files of a build context as Docker sees them: everything under the context folder except
//! what `.dockerignore` excludes (patterns anchored at the context root, `!` exceptions, `**`),
//! with the Dockerfile and `.dockerignore` always included, and read once: the content hash of
//! the image tag and the tar sent to Docker are made from the same bytes. Each file and the whole
//! context are read within caps, since they are held in memory. It does not hash or archive, and
//! it walks with `files`, the one walker, so nothing outside `codeDir` is ever taken.

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

/// The largest file of a build context, in bytes (64 MiB).
pub const MAX_CONTEXT_FILE_BYTES: usize = 64 * 1024 * 1024;

/// The largest build context, all its files together, in bytes (256 MiB).
pub const MAX_CONTEXT_BYTES: usize = 256 * 1024 * 1024;

/// How much of a build context is read at most: per file and in all.
#[derive(Clone, Copy, Debug)]
struct Caps {
    file: usize,
    total: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Read(#[from] Refusal),
    #[error("{file}: the build context's files up to this one add up to more than {limit} bytes, the limit for a build context: leave files out with .dockerignore")]
    TooLarge { file: String, limit: usize },
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
/// order, refusing a file over [`MAX_CONTEXT_FILE_BYTES`] or a context over
/// [`MAX_CONTEXT_BYTES`]. `dockerfile` is relative to the context.
pub fn read_context(
    code_dir: &Path,
    context: &str,
    dockerfile: &str,
) -> Result<ReadContext, ContextError> {
    let caps = Caps {
        file: MAX_CONTEXT_FILE_BYTES,
        total: MAX_CONTEXT_BYTES,
    };
    read_within(code_dir, context, dockerfile, caps)
}

fn read_within(
    code_dir: &Path,
    context: &str,
    dockerfile: &str,
    caps: Caps,
) -> Result<ReadContext, ContextError> {
    let found = context_files(&code_dir.join(context), code_dir, dockerfile)?;
    let mut read = ReadContext {
        files: Vec::with_capacity(found.len()),
        metadata: Vec::with_capacity(found.len()),
    };
    let mut total = 0usize;
    for file in found {
        let left = caps.total - total;
        // Within the file cap, unless what is left of the total cap is smaller.
        let per_file = caps.file <= left;
        let limit = if per_file { caps.file } else { left + 1 };
        let (contents, metadata) =
            read_regular_with_metadata(&file.path, &file.relative, Some(limit)).map_err(
                |refusal| match refusal {
                    Refusal::TooLarge { file, .. } if !per_file => ContextError::TooLarge {
                        file,
                        limit: caps.total,
                    },
                    refusal => refusal.into(),
                },
            )?;
        total += contents.len();
        if total > caps.total {
            return Err(ContextError::TooLarge {
                file: file.relative,
                limit: caps.total,
            });
        }
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
    fn a_file_or_a_context_over_its_cap_is_refused_by_name() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("app")).unwrap();
        fs::write(root.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(root.join("app/a.bin"), vec![b'a'; 600]).unwrap();
        fs::write(root.join("app/b.bin"), vec![b'b'; 500]).unwrap();
        let read = |file, total| {
            read_within(root, "app", "Dockerfile", Caps { file, total })
                .map(|read| read.files.len())
                .map_err(|error| error.to_string())
        };
        assert_eq!(read(600, 1113), Ok(3));
        assert_eq!(
            read(599, 10_000),
            Err(
                "a.bin: larger than 599 bytes, the limit for this file: refusing to read it".into()
            )
        );
        let over = "b.bin: the build context's files up to this one add up to more than 1112 bytes, the limit for a build context: leave files out with .dockerignore";
        assert_eq!(read(600, 1112), Err(over.into()));
        assert_eq!(read(10_000, 1112), Err(over.into()));
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
