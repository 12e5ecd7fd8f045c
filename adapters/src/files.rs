//! The one folder walker orun uses (manifest folders, build contexts), built on the `ignore`
//! crate's walker with every ignore-file convention switched off: what to skip is the caller's
//! decision; and the one way it opens a file of a revision. Folder symlinks are never followed. A
//! symlink to a file counts as that file only when its real path stays inside the walk's boundary
//! (the repository, or `codeDir` for build contexts); one that leads outside, that cannot be
//! resolved, or a FIFO, socket or device is an error naming the file, so that a revision can
//! neither read the node's own files nor block the reader. Files a node setting names
//! (`webhookSecretFile`, `dockerConfig`'s `config.json`) are read the same way — regular files only,
//! within a size cap — on the blocking pool and within a time limit. It decides nothing about
//! contents.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ignore::WalkBuilder;

/// A regular file under a root: its path relative to the root (with `/`) and the path to read it
/// from (the real path of a symlink).
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
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// A file of a revision that orun refuses to read. `file` is the name the revision gives it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{file}: a symlink whose real path is outside {}: refusing to follow it", .boundary.display())]
    Outside { file: String, boundary: PathBuf },
    #[error("{file}: cannot resolve the symlink: {error}")]
    Unresolvable { file: String, error: std::io::Error },
    #[error("{file}: not a regular file (a FIFO, socket or device): refusing to read it")]
    NotRegular { file: String },
    #[error("{file}: larger than {limit} bytes, the limit for this file: refusing to read it")]
    TooLarge { file: String, limit: usize },
    #[error("cannot read {file}: {error}")]
    Io { file: String, error: std::io::Error },
    #[error("{file}: not read within {}: refusing to wait for it", engine::duration::Duration::from(*.limit))]
    TimedOut { file: String, limit: Duration },
}

impl Refusal {
    /// Whether nothing is at the path read.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Refusal::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Regular files under `root`, sorted by relative path. `root` itself and every symlink taken
/// must resolve inside `boundary`. `descend(relative)` says whether to enter a folder,
/// `keep(relative)` whether to take a file; what is not kept is never checked or opened.
pub fn files_under(
    root: &Path,
    boundary: &Path,
    descend: impl Fn(&str) -> bool + Send + Sync + 'static,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<FoundFile>, WalkError> {
    if !root.is_dir() {
        return Err(WalkError::NotADirectory(root.to_path_buf()));
    }
    let boundary = real_path(boundary, &boundary.display().to_string())?;
    let real_root = real_path(root, &root.display().to_string())?;
    if !real_root.starts_with(&boundary) {
        return Err(Refusal::Outside {
            file: root.display().to_string(),
            boundary,
        }
        .into());
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
        let Some(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            continue;
        }
        let relative = relative_path(root, entry.path());
        if !keep(&relative) {
            continue;
        }
        let path = if kind.is_file() {
            entry.path().to_path_buf()
        } else if kind.is_symlink() {
            match followed_file(entry.path(), &boundary, &relative)? {
                Some(path) => path,
                None => continue,
            }
        } else {
            return Err(Refusal::NotRegular { file: relative }.into());
        };
        files.push(FoundFile { relative, path });
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(files)
}

/// The regular file at `path`, named `file` in errors, to be read: `None` when nothing is there,
/// the real path of a symlink that stays inside `boundary`, else a refusal. A folder counts as
/// nothing, whether it is a symlink or not.
pub fn file_inside(path: &Path, boundary: &Path, file: &str) -> Result<Option<PathBuf>, Refusal> {
    let Ok(metadata) = fs::symlink_metadata(path) else {
        return Ok(None);
    };
    let boundary = real_path(boundary, &boundary.display().to_string())?;
    if metadata.file_type().is_symlink() {
        return followed_file(path, &boundary, file);
    }
    if metadata.is_dir() {
        return Ok(None);
    }
    if !metadata.is_file() {
        return Err(Refusal::NotRegular {
            file: file.to_string(),
        });
    }
    let real = real_path(path, file)?;
    if !real.starts_with(&boundary) {
        return Err(Refusal::Outside {
            file: file.to_string(),
            boundary,
        });
    }
    Ok(Some(path.to_path_buf()))
}

/// The real path of the symlink at `path` when it leads to a regular file inside `boundary`
/// (already a real path); `None` for a folder, which is never followed wherever it leads.
fn followed_file(path: &Path, boundary: &Path, file: &str) -> Result<Option<PathBuf>, Refusal> {
    let metadata = fs::metadata(path).map_err(|error| Refusal::Unresolvable {
        file: file.to_string(),
        error,
    })?;
    if metadata.is_dir() {
        return Ok(None);
    }
    let real = real_path(path, file)?;
    if !real.starts_with(boundary) {
        return Err(Refusal::Outside {
            file: file.to_string(),
            boundary: boundary.to_path_buf(),
        });
    }
    if metadata.is_file() {
        Ok(Some(real))
    } else {
        Err(Refusal::NotRegular {
            file: file.to_string(),
        })
    }
}

fn real_path(path: &Path, file: &str) -> Result<PathBuf, Refusal> {
    fs::canonicalize(path).map_err(|error| Refusal::Unresolvable {
        file: file.to_string(),
        error,
    })
}

/// The contents of the regular file at `path` (named `file` in errors), at most `limit` bytes
/// when one is given. It is opened without following a final symlink and without blocking, and
/// read only once it is known to be a regular file: a FIFO or device swapped in after the walk
/// is refused rather than read.
pub fn read_regular(path: &Path, file: &str, limit: Option<usize>) -> Result<Vec<u8>, Refusal> {
    read_regular_with_metadata(path, file, limit).map(|(contents, _)| contents)
}

/// [`read_regular`], with the metadata of the file it read (mode, owner, times).
pub fn read_regular_with_metadata(
    path: &Path,
    file: &str,
    limit: Option<usize>,
) -> Result<(Vec<u8>, fs::Metadata), Refusal> {
    read_opened(path, file, limit, libc::O_NOFOLLOW | libc::O_NONBLOCK)
}

/// The contents of the file a node setting names (`file`: the setting and the path, as errors
/// name it), at most `limit` bytes, read on the blocking pool within `timeout`, so that an async
/// worker never waits on it. Symlinks are followed — the setting, not a revision's tree, chose the
/// path — but only a regular file is read: it is opened without blocking, so a FIFO or device is
/// refused rather than waited on or read without end.
pub async fn read_setting_file(
    path: &Path,
    file: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, Refusal> {
    let (owned_path, owned_file) = (path.to_path_buf(), file.to_string());
    let read = tokio::task::spawn_blocking(move || {
        read_opened(&owned_path, &owned_file, Some(limit), libc::O_NONBLOCK)
    });
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(read)) => read.map(|(contents, _)| contents),
        Ok(Err(task)) => Err(Refusal::Io {
            file: file.to_string(),
            error: std::io::Error::other(task.to_string()),
        }),
        Err(_) => Err(Refusal::TimedOut {
            file: file.to_string(),
            limit: timeout,
        }),
    }
}

/// [`read_setting_file`] for callers that run outside the async runtime (before it starts).
pub fn read_setting_file_blocking(
    path: &Path,
    file: &str,
    limit: usize,
) -> Result<Vec<u8>, Refusal> {
    read_opened(path, file, Some(limit), libc::O_NONBLOCK).map(|(contents, _)| contents)
}

/// Opens `path` with `flags` (always without blocking) and reads it once its metadata says it is
/// a regular file, at most `limit` bytes when one is given.
fn read_opened(
    path: &Path,
    file: &str,
    limit: Option<usize>,
    flags: libc::c_int,
) -> Result<(Vec<u8>, fs::Metadata), Refusal> {
    let io = |error| Refusal::Io {
        file: file.to_string(),
        error,
    };
    let mut opened = File::options()
        .read(true)
        .custom_flags(flags | libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let metadata = opened.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(Refusal::NotRegular {
            file: file.to_string(),
        });
    }
    let mut contents = Vec::new();
    match limit {
        Some(limit) => {
            let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            opened
                .by_ref()
                .take(most)
                .read_to_end(&mut contents)
                .map_err(io)?;
            if contents.len() > limit {
                return Err(Refusal::TooLarge {
                    file: file.to_string(),
                    limit,
                });
            }
        }
        None => {
            opened.read_to_end(&mut contents).map_err(io)?;
        }
    }
    Ok((contents, metadata))
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
    use std::os::unix::fs::symlink;

    fn write(root: &Path, file: &str, text: &str) {
        let path = root.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn walk(root: &Path) -> Result<Vec<String>, String> {
        files_under(root, root, |_| true, |_| true)
            .map(|found| found.into_iter().map(|file| file.relative).collect())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn walks_sorted_regular_files_and_skips_what_the_caller_says() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        for file in ["b.txt", "a/x.txt", ".git/HEAD", "skip/y.txt", ".hidden"] {
            write(root, file, file);
        }
        symlink(root.join("a"), root.join("link-to-a")).unwrap();
        symlink(root.join("b.txt"), root.join("link-to-b")).unwrap();
        let found: Vec<String> = files_under(
            root,
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
    fn a_symlink_to_a_file_outside_the_boundary_is_refused_by_name() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path().join("repo");
        write(&root, "deployments/web.yaml", "x");
        symlink("/etc/passwd", root.join("deployments/passwd.yaml")).unwrap();
        let error = walk(&root).unwrap_err();
        let real_root = fs::canonicalize(&root).unwrap();
        assert_eq!(
            error,
            format!(
                "deployments/passwd.yaml: a symlink whose real path is outside {}: refusing to follow it",
                real_root.display()
            )
        );
        assert!(
            !error.contains("root:"),
            "the target's contents leaked: {error}"
        );
    }

    #[test]
    fn folder_symlinks_are_never_followed_even_to_the_root_folder() {
        let dir = tempfile::TempDir::new().unwrap();
        write(dir.path(), "a.txt", "a");
        symlink("/", dir.path().join("slash")).unwrap();
        symlink(dir.path(), dir.path().join("self")).unwrap();
        assert_eq!(walk(dir.path()).unwrap(), vec!["a.txt"]);
    }

    #[test]
    fn symlink_loops_and_special_files_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        symlink(dir.path().join("b"), dir.path().join("a")).unwrap();
        symlink(dir.path().join("a"), dir.path().join("b")).unwrap();
        let error = walk(dir.path()).unwrap_err();
        assert!(error.contains(": cannot resolve the symlink: "), "{error}");

        let dir = tempfile::TempDir::new().unwrap();
        let fifo = dir.path().join("pipe.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        assert_eq!(
            walk(dir.path()).unwrap_err(),
            "pipe.yaml: not a regular file (a FIFO, socket or device): refusing to read it"
        );
        assert!(matches!(
            read_regular(&fifo, "pipe.yaml", None),
            Err(Refusal::NotRegular { .. })
        ));
    }

    #[test]
    fn a_root_that_resolves_outside_the_boundary_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let code = dir.path().join("code");
        fs::create_dir_all(&code).unwrap();
        symlink("/etc", code.join("app")).unwrap();
        let error = files_under(&code.join("app"), &code, |_| true, |_| true).unwrap_err();
        assert!(
            error.to_string().contains("is outside"),
            "a build context escaped codeDir: {error}"
        );
    }

    #[test]
    fn reading_stops_past_the_limit() {
        let dir = tempfile::TempDir::new().unwrap();
        write(dir.path(), "big", &"x".repeat(11));
        let path = dir.path().join("big");
        assert_eq!(read_regular(&path, "big", Some(11)).unwrap().len(), 11);
        assert_eq!(
            read_regular(&path, "big", Some(10))
                .unwrap_err()
                .to_string(),
            "big: larger than 10 bytes, the limit for this file: refusing to read it"
        );
    }

    #[tokio::test]
    async fn a_setting_file_is_read_only_when_regular_and_within_its_cap() {
        let dir = tempfile::TempDir::new().unwrap();
        let limit = Duration::from_secs(5);
        let name = |path: &Path| {
            format!(
                "nodes/web-01.yaml: spec.webhookSecretFile: {}",
                path.display()
            )
        };
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        // Nothing ever writes to the FIFO: a blocking open would wait forever.
        let started = std::time::Instant::now();
        let error = read_setting_file(&fifo, &name(&fifo), 1024, limit)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1), "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "{}: not a regular file (a FIFO, socket or device): refusing to read it",
                name(&fifo)
            )
        );
        let zero = Path::new("/dev/zero");
        let error = read_setting_file(zero, &name(zero), 1024, limit)
            .await
            .unwrap_err();
        assert!(matches!(error, Refusal::NotRegular { .. }), "{error}");

        let big = dir.path().join("big");
        fs::write(&big, "x".repeat(1025)).unwrap();
        let error = read_setting_file(&big, &name(&big), 1024, limit)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Refusal::TooLarge { limit: 1024, .. }),
            "{error}"
        );

        let secret = dir.path().join("secret");
        fs::write(&secret, "s3cret\n").unwrap();
        let link = dir.path().join("link");
        symlink(&secret, &link).unwrap();
        let read = read_setting_file(&link, &name(&link), 1024, limit).await;
        assert_eq!(read.unwrap(), b"s3cret\n");
        let missing = dir.path().join("missing");
        let error = read_setting_file(&missing, &name(&missing), 1024, limit)
            .await
            .unwrap_err();
        assert!(error.is_not_found(), "{error}");
        assert!(read_setting_file_blocking(&fifo, "pipe", 1024)
            .is_err_and(|error| matches!(error, Refusal::NotRegular { .. })));
    }

    #[test]
    fn a_single_file_is_checked_like_a_walked_one() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        assert!(
            file_inside(&root.join("secrets.yaml"), root, "secrets.yaml")
                .unwrap()
                .is_none()
        );
        symlink("/proc/self/environ", root.join("secrets.yaml")).unwrap();
        let error = file_inside(&root.join("secrets.yaml"), root, "secrets.yaml").unwrap_err();
        assert!(matches!(error, Refusal::Outside { .. }), "{error}");
    }

    #[test]
    fn a_missing_root_is_named() {
        let error = files_under(
            Path::new("/nonexistent/orun"),
            Path::new("/"),
            |_| true,
            |_| true,
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "/nonexistent/orun is not a directory");
    }
}
