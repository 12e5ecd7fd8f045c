//! SOPS documents encrypted for age recipients (docs/secrets.md): unwrapping the data key with an age
//! identity, decrypting and encrypting `ENC[AES256_GCM,…]` values, verifying the document MAC.
//! It is pure: callers pass the file's text and the identity's text in, and the IV of a new value;
//! it reads no file or environment variable and draws no random numbers. KMS, PGP and Vault
//! recipients are not supported, and decrypted plaintext never appears in its errors.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_yaml::Value;
use sha2::{Digest, Sha512};

use crate::limits::{self, LimitError};
use crate::manifest::fields::{check_env_name, check_env_value};
use crate::spec::FingerprintKey;

/// AES-256-GCM with the 32-byte IV that `sops` uses.
type SopsCipher = AesGcm<Aes256, U32>;

const PREFIX: &str = "ENC[AES256_GCM,";

/// Why a SOPS document or value could not be decrypted or verified. Each message names the file;
/// none contains plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("{file}: not a valid sops document: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: no sops metadata (the file is not encrypted with sops)")]
    NotSops { file: String },
    #[error("{file}: sops metadata has no age recipient (only age is supported)")]
    NoAgeRecipient { file: String },
    #[error("{file}: no age identity in {identity_file} can decrypt the data key (recipients: {recipients})")]
    NoMatchingIdentity {
        file: String,
        identity_file: String,
        recipients: String,
    },
    #[error("{file}: the decrypted data key is {length} bytes, expected 32")]
    DataKeyLength { file: String, length: usize },
    #[error("{file}: {field}: {reason}")]
    Value {
        file: String,
        field: String,
        reason: String,
    },
    #[error("{file}: sops mac: {reason}")]
    Mac { file: String, reason: String },
    #[error("{file}: {field}: nested values are not supported, only top-level `NAME: value` pairs become environment variables")]
    Nested { file: String, field: String },
    #[error("{file}: {limit}")]
    Limit { file: String, limit: LimitError },
    #[error("{identity_file}: {reason}")]
    Identity {
        identity_file: String,
        reason: String,
    },
}

/// The 32-byte key that encrypts every value of one SOPS document.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }

    /// The key that fingerprints the secrets this data key opens.
    pub fn fingerprint_key(&self) -> FingerprintKey {
        FingerprintKey::derive(&self.0)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

/// The age X25519 identities of one key file (`AGE-SECRET-KEY-1…` lines; comments skipped).
pub struct Identities {
    file: String,
    keys: Vec<age::x25519::Identity>,
}

impl Identities {
    /// Parses the text of an age key file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, SopsError> {
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = age::x25519::Identity::from_str(line).map_err(|_| SopsError::Identity {
                identity_file: file.to_string(),
                reason: format!(
                    "line {}: not an age secret key (AGE-SECRET-KEY-1…)",
                    index + 1
                ),
            })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(SopsError::Identity {
                identity_file: file.to_string(),
                reason: "no age secret key in the file".to_string(),
            });
        }
        Ok(Identities {
            file: file.to_string(),
            keys,
        })
    }
}

/// One leaf of a decrypted document.
#[derive(Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Keys from the document root to the leaf; list items share their list's path, as in `sops`.
    pub path: Vec<String>,
    /// Plaintext of an encrypted value, or the text of a value left in the clear.
    pub value: String,
    pub encrypted: bool,
    /// The leaf is an item of a list.
    pub in_list: bool,
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("path", &self.path)
            .field("encrypted", &self.encrypted)
            .field("in_list", &self.in_list)
            .finish_non_exhaustive()
    }
}

/// A decrypted and verified SOPS document.
#[derive(Debug)]
pub struct Decrypted {
    pub data_key: DataKey,
    /// Every leaf in document order, the `sops` metadata excluded.
    pub leaves: Vec<Leaf>,
}

impl Decrypted {
    /// The top-level `NAME: value` pairs, as environment variables for every deployment. A nested
    /// map or a list is an error rather than silently ignored or flattened; booleans become
    /// `true`/`false`, numbers their text. Names and values follow the rules of a deployment's
    /// `env`; an error names the variable, never its value.
    pub fn env(&self, file: &str) -> Result<BTreeMap<String, String>, SopsError> {
        let mut env = BTreeMap::new();
        for leaf in &self.leaves {
            let ([name], false) = (leaf.path.as_slice(), leaf.in_list) else {
                return Err(SopsError::Nested {
                    file: file.to_string(),
                    field: leaf.path.join("."),
                });
            };
            let invalid = |reason: String| SopsError::Value {
                file: file.to_string(),
                field: format!("{name:?}"),
                reason,
            };
            check_env_name(name).map_err(invalid)?;
            let value = match leaf.value.as_str() {
                "True" => "true".to_string(),
                "False" => "false".to_string(),
                other => other.to_string(),
            };
            check_env_value(&value).map_err(invalid)?;
            env.insert(name.clone(), value);
        }
        Ok(env)
    }
}

/// The additional data `sops` uses for `spec.env.NAME` of a manifest: `spec:env:NAME:`.
pub fn env_additional_data(name: &str) -> String {
    format!("spec:env:{name}:")
}

/// Decrypts the SOPS document `text` (named `file` in errors) with `identities`: unwraps the data
/// key from `sops.age`, decrypts every `ENC[…]` value with its key path as additional data and
/// verifies `sops.mac` over all leaves.
pub fn decrypt_file(
    file: &str,
    text: &str,
    identities: &Identities,
) -> Result<Decrypted, SopsError> {
    let text = limits::check(text).map_err(|limit| SopsError::Limit {
        file: file.to_string(),
        limit,
    })?;
    let document: Value = serde_yaml::from_str(text).map_err(|error| SopsError::Parse {
        file: file.to_string(),
        message: error.to_string(),
    })?;
    let Value::Mapping(root) = document else {
        return Err(SopsError::Parse {
            file: file.to_string(),
            message: "the document is not a map".to_string(),
        });
    };
    let metadata = root
        .get("sops")
        .and_then(Value::as_mapping)
        .ok_or_else(|| SopsError::NotSops {
            file: file.to_string(),
        })?;
    let data_key = unwrap_data_key(file, metadata, identities)?;
    let mut leaves = Vec::new();
    for (key, value) in &root {
        let key = key_text(file, key, &[])?;
        if key == "sops" {
            continue;
        }
        collect(file, value, vec![key], false, &data_key, &mut leaves)?;
    }
    verify_mac(file, metadata, &data_key, &leaves)?;
    Ok(Decrypted { data_key, leaves })
}

/// Decrypts one `ENC[AES256_GCM,…]` value with `key` and its `additional_data` (for example
/// [`env_additional_data`]); `file` and `field` locate the value in errors.
pub fn decrypt_value(
    file: &str,
    field: &str,
    value: &str,
    key: &DataKey,
    additional_data: &str,
) -> Result<String, SopsError> {
    let value_error = |reason: &str| SopsError::Value {
        file: file.to_string(),
        field: field.to_string(),
        reason: reason.to_string(),
    };
    let parsed = parse_enc(value).map_err(|reason| value_error(&reason))?;
    let plaintext = decrypt_parts(&parsed, key, additional_data).map_err(|reason| {
        value_error(&format!(
            "cannot decrypt: {reason} (wrong data key, wrong place or tampered value)"
        ))
    })?;
    let text = String::from_utf8(plaintext)
        .map_err(|_| value_error("the decrypted value is not UTF-8 text"))?;
    match parsed.kind.as_str() {
        "str" | "int" | "float" | "bool" | "comment" => Ok(text),
        other => Err(value_error(&format!("unsupported value type {other:?}"))),
    }
}

/// Encrypts `plaintext` as a `sops` string value with `key`, `additional_data` and the caller's
/// 32-byte `iv`, which must never be reused with the same key.
pub fn encrypt_value(
    plaintext: &str,
    key: &DataKey,
    additional_data: &str,
    iv: &[u8; 32],
) -> String {
    let cipher = SopsCipher::new(&key.0.into());
    let nonce: Nonce<U32> = (*iv).into();
    let mut sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext.as_bytes(),
                aad: additional_data.as_bytes(),
            },
        )
        .expect("aes-gcm encryption of an in-memory buffer cannot fail");
    let tag = sealed.split_off(sealed.len() - 16);
    format!(
        "{PREFIX}data:{},iv:{},tag:{},type:str]",
        STANDARD.encode(&sealed),
        STANDARD.encode(iv),
        STANDARD.encode(&tag)
    )
}

/// The MAC plaintext `sops` stores: upper-case hex SHA-512 over the leaf values in order.
pub fn mac_of<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let mut hash = Sha512::new();
    for value in values {
        hash.update(value.as_bytes());
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

struct EncParts {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse_enc(value: &str) -> Result<EncParts, String> {
    let malformed = || "malformed ENC[AES256_GCM,…] value".to_string();
    let inner = value
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(malformed)?;
    let mut fields = BTreeMap::new();
    for part in inner.split(',') {
        let (name, content) = part.split_once(':').ok_or_else(malformed)?;
        fields.insert(name, content);
    }
    let decode = |name: &str| -> Result<Vec<u8>, String> {
        let text = fields
            .get(name)
            .ok_or_else(|| format!("ENC value has no {name}"))?;
        STANDARD
            .decode(text)
            .map_err(|_| format!("ENC value: {name} is not valid base64"))
    };
    let parts = EncParts {
        data: decode("data")?,
        iv: decode("iv")?,
        tag: decode("tag")?,
        kind: fields.get("type").unwrap_or(&"str").to_string(),
    };
    if parts.iv.len() != 32 {
        return Err(format!(
            "ENC value: iv is {} bytes, expected 32",
            parts.iv.len()
        ));
    }
    if parts.tag.len() != 16 {
        return Err(format!(
            "ENC value: tag is {} bytes, expected 16",
            parts.tag.len()
        ));
    }
    Ok(parts)
}

fn decrypt_parts(
    parts: &EncParts,
    key: &DataKey,
    additional_data: &str,
) -> Result<Vec<u8>, String> {
    let cipher = SopsCipher::new(&key.0.into());
    let iv: [u8; 32] = parts
        .iv
        .as_slice()
        .try_into()
        .map_err(|_| "bad iv".to_string())?;
    let nonce: Nonce<U32> = iv.into();
    let mut sealed = parts.data.clone();
    sealed.extend_from_slice(&parts.tag);
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed,
                aad: additional_data.as_bytes(),
            },
        )
        .map_err(|_| "authentication failed".to_string())
}

fn unwrap_data_key(
    file: &str,
    metadata: &serde_yaml::Mapping,
    identities: &Identities,
) -> Result<DataKey, SopsError> {
    let recipients: Vec<&serde_yaml::Mapping> = metadata
        .get("age")
        .and_then(Value::as_sequence)
        .map(|entries| entries.iter().filter_map(Value::as_mapping).collect())
        .unwrap_or_default();
    if recipients.is_empty() {
        return Err(SopsError::NoAgeRecipient {
            file: file.to_string(),
        });
    }
    for recipient in &recipients {
        let Some(enc) = recipient.get("enc").and_then(Value::as_str) else {
            continue;
        };
        let armored = age::armor::ArmoredReader::new(enc.as_bytes());
        let Ok(decryptor) = age::Decryptor::new(armored) else {
            continue;
        };
        let Ok(mut reader) =
            decryptor.decrypt(identities.keys.iter().map(|key| key as &dyn age::Identity))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        if reader.read_to_end(&mut bytes).is_err() {
            continue;
        }
        let length = bytes.len();
        let key: [u8; 32] = bytes.try_into().map_err(|_| SopsError::DataKeyLength {
            file: file.to_string(),
            length,
        })?;
        return Ok(DataKey(key));
    }
    Err(SopsError::NoMatchingIdentity {
        file: file.to_string(),
        identity_file: identities.file.clone(),
        recipients: recipients
            .iter()
            .filter_map(|recipient| recipient.get("recipient").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn key_text(file: &str, key: &Value, path: &[String]) -> Result<String, SopsError> {
    key.as_str()
        .map(str::to_string)
        .ok_or_else(|| SopsError::Parse {
            file: file.to_string(),
            message: format!("{}: map keys must be strings", display_path(path)),
        })
}

fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        "(root)".to_string()
    } else {
        path.join(".")
    }
}

/// Walks `value` at `path` the way `sops` does, decrypting `ENC[…]` strings into `leaves`.
fn collect(
    file: &str,
    value: &Value,
    path: Vec<String>,
    in_list: bool,
    key: &DataKey,
    leaves: &mut Vec<Leaf>,
) -> Result<(), SopsError> {
    match value {
        Value::Mapping(map) => {
            for (child_key, child) in map {
                let mut child_path = path.clone();
                child_path.push(key_text(file, child_key, &path)?);
                collect(file, child, child_path, in_list, key, leaves)?;
            }
        }
        Value::Sequence(items) => {
            for item in items {
                collect(file, item, path.clone(), true, key, leaves)?;
            }
        }
        Value::Tagged(tagged) => collect(file, &tagged.value, path, in_list, key, leaves)?,
        Value::String(text) if text.starts_with(PREFIX) => {
            let additional_data = format!("{}:", path.join(":"));
            let plaintext = decrypt_value(file, &display_path(&path), text, key, &additional_data)?;
            leaves.push(Leaf {
                path,
                value: plaintext,
                encrypted: true,
                in_list,
            });
        }
        other => leaves.push(Leaf {
            path,
            value: scalar_text(other),
            encrypted: false,
            in_list,
        }),
    }
    Ok(())
}

/// The bytes `sops` hashes for a value left in the clear.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        _ => String::new(),
    }
}

fn verify_mac(
    file: &str,
    metadata: &serde_yaml::Mapping,
    key: &DataKey,
    leaves: &[Leaf],
) -> Result<(), SopsError> {
    let mac_error = |reason: &str| SopsError::Mac {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    let mac = metadata
        .get("mac")
        .and_then(Value::as_str)
        .ok_or_else(|| mac_error("missing"))?;
    let last_modified = metadata
        .get("lastmodified")
        .and_then(Value::as_str)
        .ok_or_else(|| mac_error("sops.lastmodified is missing"))?;
    let only_encrypted = metadata
        .get("mac_only_encrypted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let parts = parse_enc(mac).map_err(|reason| mac_error(&reason))?;
    let stored = decrypt_parts(&parts, key, last_modified).map_err(|reason| {
        mac_error(&format!(
            "cannot decrypt: {reason} (sops.mac or sops.lastmodified was modified)"
        ))
    })?;
    let computed = mac_of(
        leaves
            .iter()
            .filter(|leaf| leaf.encrypted || !only_encrypted)
            .map(|leaf| leaf.value.as_str()),
    );
    if stored != computed.as_bytes() {
        return Err(mac_error(
            "mismatch: the file was modified after sops encrypted it",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::new([7; 32])
    }

    #[test]
    fn values_round_trip_with_their_additional_data() {
        let encrypted = encrypt_value("hunter2", &key(), "spec:env:TOKEN:", &[9; 32]);
        assert!(encrypted.starts_with("ENC[AES256_GCM,data:"));
        assert!(encrypted.ends_with(",type:str]"));
        let plaintext = decrypt_value(
            "deployments/web.yaml",
            "spec.env.TOKEN",
            &encrypted,
            &key(),
            "spec:env:TOKEN:",
        )
        .unwrap();
        assert_eq!(plaintext, "hunter2");
    }

    #[test]
    fn a_value_moved_to_another_variable_does_not_decrypt() {
        let encrypted = encrypt_value("hunter2", &key(), "spec:env:TOKEN:", &[9; 32]);
        let error = decrypt_value(
            "d.yaml",
            "spec.env.OTHER",
            &encrypted,
            &key(),
            "spec:env:OTHER:",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("d.yaml: spec.env.OTHER: cannot decrypt"),
            "{error}"
        );
        assert!(!error.contains("hunter2"));
    }

    #[test]
    fn malformed_values_are_rejected() {
        for value in [
            "ENC[AES256_GCM,data:xx]",
            "ENC[AES256_GCM,data:!,iv:,tag:,type:str]",
        ] {
            let error = decrypt_value("f", "x", value, &key(), "x:").unwrap_err();
            assert!(matches!(error, SopsError::Value { .. }), "{error}");
        }
    }

    #[test]
    fn identity_files_must_hold_a_key() {
        let error = Identities::parse("age.key", "# only a comment\n")
            .err()
            .unwrap();
        assert_eq!(error.to_string(), "age.key: no age secret key in the file");
        let error = Identities::parse("age.key", "AGE-SECRET-KEY-1NOPE\n")
            .err()
            .unwrap();
        assert!(!error.to_string().contains("NOPE"));
    }

    fn leaf(path: &[&str], value: &str, in_list: bool) -> Leaf {
        Leaf {
            path: path.iter().map(|part| part.to_string()).collect(),
            value: value.to_string(),
            encrypted: true,
            in_list,
        }
    }

    #[test]
    fn only_flat_pairs_become_environment_variables() {
        let flat = Decrypted {
            data_key: key(),
            leaves: vec![leaf(&["A"], "1", false), leaf(&["B"], "True", false)],
        };
        let env = flat.env("secrets.yaml").unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "true");
        for leaves in [
            vec![leaf(&["A"], "x", true)],
            vec![leaf(&["A", "B"], "x", false)],
        ] {
            let nested = Decrypted {
                data_key: key(),
                leaves,
            };
            let error = nested.env("secrets.yaml").unwrap_err().to_string();
            assert!(error.contains("nested values are not supported"), "{error}");
            assert!(!error.contains('x'), "{error}");
        }
    }

    #[test]
    fn the_mac_is_upper_case_hex_sha512() {
        let mac = mac_of(["a", "b"]);
        assert_eq!(mac.len(), 128);
        assert_eq!(mac, mac.to_uppercase());
        assert_eq!(mac, mac_of(["ab"]));
    }
}
