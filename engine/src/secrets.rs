//! A revision's secrets from text: the pairs of `secrets.yaml` and the plaintext of every inline
//! `ENC[…]` value in a deployment's `spec.env`, both opened with the data key of `secrets.yaml`
//! and fingerprinted with a key derived from it.
//! It reads no file: callers pass the file's text and the age identities.

use std::collections::BTreeMap;

use crate::desired::{is_encrypted, Secrets};
use crate::manifest::fields::check_env_value;
use crate::manifest::Manifests;
use crate::sops::{self, Identities, SopsError};
use crate::spec::SecretValue;

/// The SOPS file at the repository root whose pairs every deployment gets.
pub const SECRETS_FILE: &str = "secrets.yaml";

/// Decrypts and verifies `text` (the revision's `secrets.yaml`) with `identities`, then every
/// inline value of `manifests` with its data key; decrypted values follow the rules of plain `env`
/// values. Errors name the file and never hold plaintext.
pub fn decrypt(
    text: &str,
    identities: &Identities,
    manifests: &Manifests,
) -> Result<Secrets, SopsError> {
    let decrypted = sops::decrypt_file(SECRETS_FILE, text, identities)?;
    let key = decrypted.data_key.fingerprint_key();
    let secret = |plaintext: String| SecretValue::new(plaintext, &key);
    let shared = decrypted
        .env(SECRETS_FILE)?
        .into_iter()
        .map(|(name, value)| (name, secret(value)))
        .collect();
    let mut inline = BTreeMap::new();
    for (key, file, container) in manifests.containers() {
        let mut values = BTreeMap::new();
        for (name, value) in &container.env.0 {
            if !is_encrypted(&value.0) {
                continue;
            }
            let plaintext = sops::decrypt_value(
                file,
                &format!("spec.env.{name}"),
                &value.0,
                &decrypted.data_key,
                &sops::env_additional_data(name),
            )?;
            check_env_value(&plaintext).map_err(|reason| SopsError::Value {
                file: file.to_string(),
                field: format!("spec.env.{name}"),
                reason,
            })?;
            values.insert(name.clone(), secret(plaintext));
        }
        if !values.is_empty() {
            inline.insert(key, values);
        }
    }
    Ok(Secrets { shared, inline })
}
