//! A revision's secrets on disk (docs/secrets.md): finds the age identity, reads `secrets.yaml`
//! and hands both to `engine::secrets`, which decrypts it and every inline `ENC[…]` value. It does
//! not parse SOPS itself, and it reads the age identity only when the revision has a secrets file.

use std::fs;
use std::path::{Path, PathBuf};

use engine::manifest::NodeSpec;
use engine::secrets::SECRETS_FILE;
use engine::sops::{self, Decrypted, Identities, SopsError};
use engine::{Manifests, Secrets};

/// The environment variable `sops` itself reads for the age key file.
pub const AGE_KEY_ENV: &str = "SOPS_AGE_KEY_FILE";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
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

/// Reads and parses the age identity file at `path`.
fn read_identities(path: &Path) -> Result<Identities, SecretsError> {
    let text = fs::read_to_string(path).map_err(|source| SecretsError::NoIdentity {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Identities::parse(&path.display().to_string(), &text)?)
}

/// The text of `<repo>/secrets.yaml`, `None` when the repository has none.
fn read_secrets_file(repo: &Path) -> Result<Option<String>, SecretsError> {
    let path = repo.join(SECRETS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    fs::read_to_string(&path)
        .map(Some)
        .map_err(|source| SecretsError::Read { path, source })
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
