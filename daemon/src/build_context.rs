//! The files of a build context as Docker sees them: everything under the context folder except
//! what `.dockerignore` excludes (patterns anchored at the context root, `!` exceptions, `**`),
//! with the Dockerfile and `.dockerignore` always included. Both the content hash of the image
//! tag and the tar sent to Docker use this one list. It does not hash or archive.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// A file of the context: its path relative to the context (with `/`) and its location on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextEntry {
    pub relative: String,
    pub path: PathBuf,
}

/// Files of `context` that Docker would receive, sorted by relative path; symlinks count as the
/// files they point to. `dockerfile` is relative to the context.
pub fn context_files(context: &Path, dockerfile: &str) -> Result<Vec<ContextEntry>> {
    if !context.is_dir() {
        anyhow::bail!("{} is not a directory", context.display());
    }
    let ignore = dockerignore(context)?;
    let mut entries = Vec::new();
    let mut pending = vec![context.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let listing =
            fs::read_dir(&folder).with_context(|| format!("cannot list {}", folder.display()))?;
        for entry in listing {
            let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
            let path = entry.path();
            let relative = relative(context, &path);
            let is_dir = path.is_dir();
            let always = relative == dockerfile || relative == ".dockerignore";
            if !always
                && ignore
                    .matched_path_or_any_parents(&relative, is_dir)
                    .is_ignore()
            {
                // An excluded folder may still hold re-included files (`!dir/keep`); keep walking.
                if is_dir && ignore.num_whitelists() > 0 {
                    pending.push(path);
                }
                continue;
            }
            if is_dir {
                pending.push(path);
            } else if path.is_file() {
                entries.push(ContextEntry { relative, path });
            }
        }
    }
    entries.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(entries)
}

/// `.dockerignore` as a matcher; every pattern is anchored at the context root, as Docker does.
fn dockerignore(context: &Path) -> Result<Gitignore> {
    let mut builder = GitignoreBuilder::new(context);
    let file = context.join(".dockerignore");
    if file.is_file() {
        let text =
            fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
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
                .with_context(|| format!("{}: invalid pattern {line:?}", file.display()))?;
        }
    }
    builder
        .build()
        .with_context(|| format!("{}: invalid patterns", file.display()))
}

fn relative(base: &Path, path: &Path) -> String {
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

    fn names(context: &Path) -> Vec<String> {
        context_files(context, "Dockerfile")
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
