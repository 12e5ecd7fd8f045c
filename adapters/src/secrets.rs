//! A revision's secrets on disk (docs/secrets.md): finds the age identity, reads `secrets.yaml`
//! and hands both to `engine::secrets`, which decrypts it and every inline `ENC[…]` value. It does
//! not parse SOPS itself, and it reads the age identity only when the revision has a secrets file.
//! `secrets.yaml` is read like a manifest: within the repository, a regular file, at most 1 MiB.
//! An age identity that other users can read is used, with a warning.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use engine::limits::MAX_FILE_BYTES;
use engine::manifest::NodeSpec;
use engine::secrets::SECRETS_FILE;
use engine::sops::{self, Decrypted, Identities, SopsError};
use engine::{Manifests, Secrets};
use tracing::warn;

use crate::files::{file_inside, read_regular, Refusal};

/// The environment variable `sops` itself reads for the age key file.
pub const AGE_KEY_ENV: &str = "SOPS_AGE_KEY_FILE";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Read(#[from] Refusal),
    #[error("{SECRETS_FILE}: not valid UTF-8: save it as UTF-8")]
    NotUtf8,
    #[error("{SECRETS_FILE}: cannot decrypt without an age identity: cannot read the age identity {}: {source}", .path.display())]
    NoIdentity {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sops(#[from] SopsError),
}

/// The age identity file: `explicit` (`--age-key-path`), else `$SOPS_AGE_KEY_FILE`, else
/// `<data_dir>/keys/age.key`.
pub fn age_key_path(explicit: Option<&Path>, data_dir: &Path) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    match std::env::var_os(AGE_KEY_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => engine::manifest::node_defaults::NodePaths::new(data_dir).age_key(),
    }
}

/// The age identity file for commands run beside a repository: as [`age_key_path`], under the
/// selected node's `dataDir`, or the default `dataDir` without one.
pub fn age_key_for(explicit: Option<&Path>, node: Option<&NodeSpec>) -> PathBuf {
    let data_dir = node.map_or(engine::manifest::node_defaults::DATA_DIR, |node| {
        &node.data_dir
    });
    age_key_path(explicit, Path::new(data_dir))
}

/// Reads and parses the age identity file at `path`, warning when other users can read it.
fn read_identities(path: &Path) -> Result<Identities, SecretsError> {
    let text = fs::read_to_string(path).map_err(|source| SecretsError::NoIdentity {
        path: path.to_path_buf(),
        source,
    })?;
    if let Ok(metadata) = fs::metadata(path) {
        if let Some(warning) = exposure_warning(path, metadata.permissions().mode()) {
            warn!("{warning}");
        }
    }
    Ok(Identities::parse(&path.display().to_string(), &text)?)
}

/// The warning for an age identity file whose `mode` lets its group or other users read it.
fn exposure_warning(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o044 != 0).then(|| {
        format!(
            "the age identity {} can be read by other users (mode {:o}): anyone who can read it can decrypt every secret; restrict it with chmod 600",
            path.display(),
            mode & 0o777
        )
    })
}

/// The text of `<repo>/secrets.yaml`, `None` when the repository has none.
fn read_secrets_file(repo: &Path) -> Result<Option<String>, SecretsError> {
    let Some(path) = file_inside(&repo.join(SECRETS_FILE), repo, SECRETS_FILE)? else {
        return Ok(None);
    };
    let bytes = read_regular(&path, SECRETS_FILE, Some(MAX_FILE_BYTES))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| SecretsError::NotUtf8)
}

/// Whether the repository at `repo` has a `secrets.yaml`, as `load_secrets` finds it.
pub fn has_secrets_file(repo: &Path) -> Result<bool, SecretsError> {
    Ok(file_inside(&repo.join(SECRETS_FILE), repo, SECRETS_FILE)?.is_some())
}

/// Decrypts and verifies `<repo>/secrets.yaml` with the identity at `age_key`; `None` when the
/// repository has no such file. Errors name `secrets.yaml` and never contain plaintext.
pub fn decrypt_secrets_file(
    repo: &Path,
    age_key: &Path,
) -> Result<Option<Decrypted>, SecretsError> {
    let Some(text) = read_secrets_file(repo)? else {
        return Ok(None);
    };
    let identities = read_identities(age_key)?;
    Ok(Some(sops::decrypt_file(SECRETS_FILE, &text, &identities)?))
}

/// Every secret of the revision at `repo`, decrypted with the identity at `age_key`. Inline values
/// without a `secrets.yaml` are left for `engine::resolve` to report.
pub fn load_secrets(
    repo: &Path,
    manifests: &Manifests,
    age_key: &Path,
) -> Result<Secrets, SecretsError> {
    let Some(text) = read_secrets_file(repo)? else {
        return Ok(Secrets::default());
    };
    let identities = read_identities(age_key)?;
    Ok(engine::secrets::decrypt(&text, &identities, manifests)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_age_identity_readable_by_group_or_others_is_warned_about() {
        let path = Path::new("/opt/orun/keys/age.key");
        assert_eq!(exposure_warning(path, 0o100600), None);
        assert_eq!(exposure_warning(path, 0o100400), None);
        let warning = exposure_warning(path, 0o100644).expect("world-readable");
        assert_eq!(
            warning,
            "the age identity /opt/orun/keys/age.key can be read by other users (mode 644): anyone who can read it can decrypt every secret; restrict it with chmod 600"
        );
        assert!(exposure_warning(path, 0o100640).is_some());
    }

    #[test]
    fn a_secrets_file_linking_outside_the_repository_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join(SECRETS_FILE)).unwrap();
        let error = read_secrets_file(dir.path()).unwrap_err().to_string();
        assert!(
            error.starts_with("secrets.yaml: a symlink whose real path is outside"),
            "{error}"
        );
    }
}
