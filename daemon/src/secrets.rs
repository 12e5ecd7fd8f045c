//! A revision's secrets (docs/secrets.md): finds the age identity, reads `secrets.yaml` and decrypts it and
//! every inline `ENC[…]` value of the deployments with `engine::sops`. It does not parse SOPS
//! itself, and it reads the age identity only when the revision has something to decrypt.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use engine::desired::is_encrypted;
use engine::sops::{self, Decrypted, Identities};
use engine::{Manifests, Secrets};

/// The SOPS file at the repository root whose pairs every deployment gets.
pub const SECRETS_FILE: &str = "secrets.yaml";

/// The environment variable `sops` itself reads for the age key file.
pub const AGE_KEY_ENV: &str = "SOPS_AGE_KEY_FILE";

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

/// Reads and parses the age identity file at `path`.
pub fn read_identities(path: &Path) -> Result<Identities> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the age identity {}", path.display()))?;
    Identities::parse(&path.display().to_string(), &text).map_err(|error| anyhow!(error))
}

/// Decrypts and verifies `<repo>/secrets.yaml` with the identity at `age_key`; `None` when the
/// repository has no such file. Errors name `secrets.yaml` and never contain plaintext.
pub fn decrypt_secrets_file(repo: &Path, age_key: &Path) -> Result<Option<Decrypted>> {
    let path = repo.join(SECRETS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let identities = read_identities(age_key)
        .with_context(|| format!("{SECRETS_FILE}: cannot decrypt without an age identity"))?;
    Ok(Some(sops::decrypt_file(SECRETS_FILE, &text, &identities)?))
}

/// Every secret of the revision at `repo`: the pairs of `secrets.yaml` and the plaintext of each
/// inline `ENC[…]` value in a deployment's `spec.env`, decrypted with the data key of
/// `secrets.yaml`. Inline values without a `secrets.yaml` are left for `engine::resolve` to report.
pub fn load_secrets(repo: &Path, manifests: &Manifests, age_key: &Path) -> Result<Secrets> {
    let Some(decrypted) = decrypt_secrets_file(repo, age_key)? else {
        return Ok(Secrets::default());
    };
    let shared = decrypted.env(SECRETS_FILE)?;
    let mut inline = BTreeMap::new();
    for deployment in manifests.deployments.values() {
        let mut values = BTreeMap::new();
        for (name, value) in &deployment.spec.env.0 {
            if !is_encrypted(&value.0) {
                continue;
            }
            let plaintext = sops::decrypt_value(
                &deployment.file,
                &format!("spec.env.{name}"),
                &value.0,
                &decrypted.data_key,
                &sops::env_additional_data(name),
            )?;
            values.insert(name.clone(), plaintext);
        }
        if !values.is_empty() {
            inline.insert(deployment.name.clone(), values);
        }
    }
    Ok(Secrets { shared, inline })
}
