//! Writing new files under a folder without ever following a symlink there: every folder on the
//! way from the root must be a real folder (one that is missing is created), the file must not
//! exist yet (it is created exclusively, `O_CREAT|O_EXCL`), and the real path of its folder must
//! stay inside the root. What a file under the root holds now can be compared with what would be
//! written, read the same way. It decides nothing about what to write or whether to replace a file:
//! callers compare first and write only new files.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::files::{read_regular, Refusal};

/// Why a file under the root cannot be compared or written; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: a symlink: refusing to write through it", .0.display())]
    Symlink(PathBuf),
    #[error("{}: not a regular file: refusing to replace it", .0.display())]
    NotRegular(PathBuf),
    #[error("{}: not a folder: refusing to write into it", .0.display())]
    NotAFolder(PathBuf),
    #[error("{}: its folder resolves to {}, outside {}: refusing to write there", .path.display(), .real.display(), .root.display())]
    Outside {
        path: PathBuf,
        real: PathBuf,
        root: PathBuf,
    },
    #[error("{}: already exists: refusing to replace it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// How a file under the root compares with the bytes that would be written there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    Absent,
    Same,
    Different,
}

/// Compares `<root>/<relative>` with `bytes`; a symlink, a FIFO, a device or a folder on the way
/// is refused.
pub fn compare(root: &Path, relative: &str, bytes: &[u8]) -> Result<Existing, WriteError> {
    let path = root.join(relative);
    let Some(parent) = path.parent() else {
        return Ok(Existing::Absent);
    };
    for folder in folders(root, parent) {
        match kind(&folder)? {
            None => return Ok(Existing::Absent),
            Some(Kind::Folder) => {}
            Some(Kind::Symlink) => return Err(WriteError::Symlink(folder)),
            Some(Kind::File | Kind::Other) => return Err(WriteError::NotAFolder(folder)),
        }
    }
    match kind(&path)? {
        None => Ok(Existing::Absent),
        Some(Kind::Symlink) => Err(WriteError::Symlink(path)),
        Some(Kind::Folder | Kind::Other) => Err(WriteError::NotRegular(path)),
        Some(Kind::File) => match read_regular(&path, relative, Some(bytes.len())) {
            Ok(existing) if existing == bytes => Ok(Existing::Same),
            Ok(_) | Err(Refusal::TooLarge { .. }) => Ok(Existing::Different),
            Err(Refusal::NotRegular { .. }) => Err(WriteError::NotRegular(path)),
            Err(refusal) => Err(WriteError::Io {
                path,
                error: std::io::Error::other(refusal.to_string()),
            }),
        },
    }
}

/// Creates `<root>/<relative>` with `bytes`, creating missing folders; it fails if the file
/// exists (whatever it is) or any folder on the way is a symlink or resolves outside `root`.
pub fn create_new(root: &Path, relative: &str, bytes: &[u8]) -> Result<(), WriteError> {
    let path = root.join(relative);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| WriteError::Io { path, error }
    };
    let parent = path.parent().unwrap_or(root);
    for folder in folders(root, parent) {
        match kind(&folder)? {
            None => match fs::create_dir(&folder) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                    if kind(&folder)? != Some(Kind::Folder) {
                        return Err(WriteError::NotAFolder(folder));
                    }
                }
                Err(error) => return Err(io(&folder)(error)),
            },
            Some(Kind::Folder) => {}
            Some(Kind::Symlink) => return Err(WriteError::Symlink(folder)),
            Some(Kind::File | Kind::Other) => return Err(WriteError::NotAFolder(folder)),
        }
    }
    let real_root = fs::canonicalize(root).map_err(io(root))?;
    let real = fs::canonicalize(parent).map_err(io(parent))?;
    if !real.starts_with(&real_root) {
        return Err(WriteError::Outside {
            path,
            real,
            root: real_root,
        });
    }
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|error| match error.kind() {
            ErrorKind::AlreadyExists => WriteError::Exists(path.clone()),
            _ => io(&path)(error),
        })?;
    file.write_all(bytes).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))
}

/// The folders from just under `root` down to `parent`, outermost first.
fn folders(root: &Path, parent: &Path) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|folder| *folder != root && folder.starts_with(root))
        .map(Path::to_path_buf)
        .collect();
    folders.reverse();
    folders
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Folder,
    File,
    Symlink,
    Other,
}

/// What is at `path` itself, a symlink not followed; `None` when nothing is.
fn kind(path: &Path) -> Result<Option<Kind>, WriteError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) => {
            let kind = metadata.file_type();
            Ok(Some(if kind.is_symlink() {
                Kind::Symlink
            } else if kind.is_dir() {
                Kind::Folder
            } else if kind.is_file() {
                Kind::File
            } else {
                Kind::Other
            }))
        }
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(WriteError::Io {
            path: path.to_path_buf(),
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn new_files_and_their_folders_are_created() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        assert_eq!(
            compare(root, "deployments/web.yaml", b"a").unwrap(),
            Existing::Absent
        );
        create_new(root, "deployments/web.yaml", b"a").unwrap();
        assert_eq!(fs::read(root.join("deployments/web.yaml")).unwrap(), b"a");
        assert_eq!(
            compare(root, "deployments/web.yaml", b"a").unwrap(),
            Existing::Same
        );
        assert_eq!(
            compare(root, "deployments/web.yaml", b"ab").unwrap(),
            Existing::Different
        );
        assert_eq!(
            compare(root, "deployments/web.yaml", b"").unwrap(),
            Existing::Different
        );
        let error = create_new(root, "deployments/web.yaml", b"b").unwrap_err();
        assert!(
            matches!(error, WriteError::Exists(_)),
            "an existing file was replaced: {error}"
        );
    }

    #[test]
    fn a_file_symlink_is_never_written_through() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path().join("out");
        let target = dir.path().join("authorized_keys");
        fs::write(&target, "ssh-ed25519 AAAA operator\n").unwrap();
        fs::create_dir_all(root.join("deployments")).unwrap();
        symlink(&target, root.join("deployments/app.yaml")).unwrap();
        let error = compare(&root, "deployments/app.yaml", b"x").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: a symlink: refusing to write through it",
                root.join("deployments/app.yaml").display()
            )
        );
        assert!(create_new(&root, "deployments/app.yaml", b"x").is_err());
        let dangling = root.join("deployments/new.yaml");
        symlink(dir.path().join("created-by-import"), &dangling).unwrap();
        assert!(create_new(&root, "deployments/new.yaml", b"x").is_err());
        assert!(!dir.path().join("created-by-import").exists());
        assert_eq!(
            fs::read_to_string(&target).unwrap(),
            "ssh-ed25519 AAAA operator\n"
        );
    }

    #[test]
    fn a_folder_symlink_is_never_written_into() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path().join("out");
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        symlink(&elsewhere, root.join("deployments")).unwrap();
        let message = format!(
            "{}: a symlink: refusing to write through it",
            root.join("deployments").display()
        );
        let compared = compare(&root, "deployments/app.yaml", b"x").unwrap_err();
        assert_eq!(compared.to_string(), message);
        let created = create_new(&root, "deployments/app.yaml", b"x").unwrap_err();
        assert_eq!(created.to_string(), message);
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn special_files_are_refused_by_name() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("deployments/app.yaml")).unwrap();
        fs::write(root.join("nodes"), "a file").unwrap();
        assert!(matches!(
            compare(root, "deployments/app.yaml", b"x"),
            Err(WriteError::NotRegular(_))
        ));
        assert!(matches!(
            create_new(root, "nodes/n.yaml", b"x"),
            Err(WriteError::NotAFolder(_))
        ));
    }
}
