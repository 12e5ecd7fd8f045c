//! The node's copies of the files containers mount (docs/manifests.md: files, secret files):
//! repository files under `<dataDir>/files/<env>/`, secret files under the secret files folder
//! (`/run/orun` unless `--secret-files-dir` says otherwise) `/<env>/`, which must be a tmpfs so
//! that no secret reaches a disk. Each copy is named by `engine::attachments` after what it holds,
//! written once (a temporary file renamed into place, so a name never shows half a file) with
//! its mode and owner, in folders only orun's user may enter; and removed once no container of
//! the environment mounts it. It decides nothing about which files a container gets.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use engine::attachments::{file_name, secret_file_name, MountedNames};
use engine::spec::CanonicalSpec;
use engine::Environment;

/// Where the copies live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDirs {
    /// `<dataDir>/files`.
    pub files: PathBuf,
    /// The secret files folder, on a tmpfs.
    pub secret_files: PathBuf,
}

/// Why a copy could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("secret files folder {} is not on a tmpfs: refusing to write a secret to persistent disk (mount a tmpfs there, or choose a tmpfs folder with --secret-files-dir)", .0.display())]
    NotTmpfs(PathBuf),
    #[error("cannot write {}: {error}", .path.display())]
    Io { path: PathBuf, error: io::Error },
}

impl FileDirs {
    /// The folders of a node whose `dataDir` is `data_dir`.
    pub fn new(data_dir: &Path, secret_files: &Path) -> Self {
        FileDirs {
            files: data_dir.join("files"),
            secret_files: secret_files.to_path_buf(),
        }
    }

    /// The host path of the copy of the repository file mounted at `target` by `spec`.
    pub fn file_path(
        &self,
        environment: &Environment,
        spec: &CanonicalSpec,
        target: &str,
    ) -> Option<PathBuf> {
        let file = spec.files.get(target)?;
        Some(self.files.join(environment.as_str()).join(file_name(file)))
    }

    /// The host path of the copy of the secret file mounted at `target` by `spec`.
    pub fn secret_file_path(
        &self,
        environment: &Environment,
        spec: &CanonicalSpec,
        target: &str,
    ) -> Option<PathBuf> {
        let file = spec.secret_files.get(target)?;
        Some(
            self.secret_files
                .join(environment.as_str())
                .join(secret_file_name(file)),
        )
    }

    /// Writes every copy `spec` mounts that is not there yet. Blocking: call it off the async
    /// workers.
    pub fn write(&self, environment: &Environment, spec: &CanonicalSpec) -> Result<(), WriteError> {
        if !spec.files.is_empty() {
            let dir = private_dir(&self.files, environment)?;
            for file in spec.files.values() {
                let mode = mode_bits(&file.mode);
                write_once(&dir.join(file_name(file)), &file.content.0, mode, None)?;
            }
        }
        if !spec.secret_files.is_empty() {
            let dir = private_dir(&self.secret_files, environment)?;
            if !on_tmpfs(&self.secret_files)? {
                return Err(WriteError::NotTmpfs(self.secret_files.clone()));
            }
            for file in spec.secret_files.values() {
                let mode = mode_bits(&file.mode);
                let content = file.value.plaintext().as_bytes();
                let path = dir.join(secret_file_name(file));
                write_once(&path, content, mode, Some((file.uid, file.gid)))?;
            }
        }
        Ok(())
    }

    /// Removes the copies of `environment` that no container mounts (`keep`); returns how many
    /// went. Blocking.
    pub fn clean(
        &self,
        environment: &Environment,
        keep: &MountedNames,
    ) -> Result<usize, WriteError> {
        let files = remove_unused(&self.files.join(environment.as_str()), &keep.files)?;
        let secrets = remove_unused(
            &self.secret_files.join(environment.as_str()),
            &keep.secret_files,
        )?;
        Ok(files + secrets)
    }
}

/// `<base>/<env>`, of mode 0700 whatever the umask; a missing base is created with mode 0700 too,
/// an existing one keeps its mode (the operator may name a shared tmpfs such as `/dev/shm`).
fn private_dir(base: &Path, environment: &Environment) -> Result<PathBuf, WriteError> {
    let dir = base.join(environment.as_str());
    let io = |error| WriteError::Io {
        path: dir.clone(),
        error,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io)?;
    // In a shared folder someone else may have made it first, or put a symlink there.
    let metadata = fs::symlink_metadata(&dir).map_err(io)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let own = metadata.uid() == unsafe { libc::geteuid() };
    if !metadata.is_dir() || !own {
        return Err(io(io::Error::other(
            "not a folder of orun's own user (a symlink, or made by another user): refusing to write there",
        )));
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    Ok(dir)
}

/// The permission bits of a mode as the spec writes it (`0444`).
fn mode_bits(mode: &str) -> u32 {
    u32::from_str_radix(mode, 8).unwrap_or(0o400)
}

/// Tells temporary files of concurrent writes apart.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Writes `content` to `path` with `mode` (and `owner`) unless a file is there already: the name
/// says what it holds, and a temporary file renamed into place means it is whole.
fn write_once(
    path: &Path,
    content: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), WriteError> {
    if fs::symlink_metadata(path).is_ok_and(|metadata| metadata.is_file()) {
        return Ok(());
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let io = |error| WriteError::Io {
        path: path.to_path_buf(),
        error,
    };
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temporary)?;
        file.write_all(content)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written.map_err(io)
}

/// Whether `dir` is on a tmpfs: memory only.
fn on_tmpfs(dir: &Path) -> Result<bool, WriteError> {
    use std::os::unix::ffi::OsStrExt;
    let io = |error| WriteError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|error| io(io::Error::new(io::ErrorKind::InvalidInput, error)))?;
    let mut stats = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stats` is a buffer of the struct statfs fills.
    let status = unsafe { libc::statfs(path.as_ptr(), stats.as_mut_ptr()) };
    if status != 0 {
        return Err(io(io::Error::last_os_error()));
    }
    // SAFETY: statfs succeeded, so it filled `stats`.
    let kind = unsafe { stats.assume_init() }.f_type;
    Ok(kind == libc::TMPFS_MAGIC)
}

/// Removes the files of `dir` not named in `keep` (and leftover temporary files); a missing
/// folder holds none.
fn remove_unused(dir: &Path, keep: &BTreeSet<String>) -> Result<usize, WriteError> {
    let io = |error| WriteError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(io(error)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep.contains(&name) || !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        fs::remove_file(entry.path()).map_err(io)?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::testing::{deployment, desired};

    fn spec_with(fields: &str) -> CanonicalSpec {
        let state = desired("production", &[deployment("web", fields)]);
        state.deployments["web"].spec.clone()
    }

    #[test]
    fn a_secret_file_is_refused_off_a_tmpfs_and_nothing_is_written() {
        // The source tree is on a disk; a temporary folder may be on a tmpfs.
        let data = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let dirs = FileDirs::new(data.path(), &data.path().join("secrets"));
        let mut spec = spec_with("");
        let key = engine::sops::DataKey::new([7; 32]).fingerprint_key();
        spec.secret_files.insert(
            "/run/secrets/A".into(),
            engine::spec::CanonicalSecretFile {
                key: "A".into(),
                mode: "0400".into(),
                uid: 0,
                gid: 0,
                value: engine::spec::SecretValue::new("plain".into(), &key),
            },
        );
        let error = dirs
            .write(&Environment::production(), &spec)
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not on a tmpfs"), "{error}");
        let secrets = data.path().join("secrets/production");
        assert_eq!(fs::read_dir(secrets).unwrap().count(), 0);
    }

    #[test]
    fn a_symlink_in_place_of_the_environment_folder_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), data.path().join("production")).unwrap();
        let error = private_dir(data.path(), &Environment::production())
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a folder of orun's own user"), "{error}");
    }

    #[test]
    fn copies_are_private_written_once_and_cleaned_when_unused() {
        let data = tempfile::tempdir().unwrap();
        let dirs = FileDirs::new(data.path(), &data.path().join("secrets"));
        let environment = Environment::production();
        let mut spec = spec_with("");
        spec.files.insert(
            "/etc/app.conf".into(),
            engine::spec::CanonicalFile {
                mode: "0440".into(),
                sha256: "ab".repeat(32),
                content: engine::spec::FileContent(b"x = 1\n".to_vec().into()),
            },
        );
        dirs.write(&environment, &spec).unwrap();
        dirs.write(&environment, &spec).unwrap();
        let path = dirs
            .file_path(&environment, &spec, "/etc/app.conf")
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x = 1\n");
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&path), 0o440);
        assert_eq!(mode(&data.path().join("files")), 0o700);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let kept = MountedNames {
            files: BTreeSet::from([path.file_name().unwrap().to_string_lossy().into_owned()]),
            ..MountedNames::default()
        };
        assert_eq!(dirs.clean(&environment, &kept).unwrap(), 0);
        assert_eq!(
            dirs.clean(&environment, &MountedNames::default()).unwrap(),
            1
        );
        assert!(!path.exists());
    }
}
