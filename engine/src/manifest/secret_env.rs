//! A Deployment's `secretEnv` as written: `all`, `none` or a list of keys of `secrets.yaml`. It
//! does not check the keys against the file nor leave out the node's own keys (see
//! `secret_env`, which does both when a revision is resolved).

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which keys of `secrets.yaml` become environment variables of the container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SecretEnv {
    /// Every key but the node's own (the default).
    #[default]
    All,
    /// None at all.
    None,
    /// These keys, in the order written.
    Keys(Vec<String>),
}

const EXPECTED: &str = "all, none or a list of keys of secrets.yaml";

impl<'de> Deserialize<'de> for SecretEnv {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretEnvVisitor)
    }
}

struct SecretEnvVisitor;

impl<'de> Visitor<'de> for SecretEnvVisitor {
    type Value = SecretEnv;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<SecretEnv, E> {
        match text {
            "all" => Ok(SecretEnv::All),
            "none" => Ok(SecretEnv::None),
            _ => Err(E::invalid_value(de::Unexpected::Str(text), &EXPECTED)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SecretEnv, A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = seq.next_element::<String>()? {
            keys.push(key);
        }
        Ok(SecretEnv::Keys(keys))
    }
}

impl Serialize for SecretEnv {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretEnv::All => serializer.serialize_str("all"),
            SecretEnv::None => serializer.serialize_str("none"),
            SecretEnv::Keys(keys) => {
                let mut seq = serializer.serialize_seq(Some(keys.len()))?;
                for key in keys {
                    seq.serialize_element(key)?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_none_or_a_list_of_keys_and_nothing_else() {
        let read = |text: &str| serde_yaml::from_str::<SecretEnv>(text);
        assert_eq!(read("all").unwrap(), SecretEnv::All);
        assert_eq!(read("none").unwrap(), SecretEnv::None);
        assert_eq!(
            read("[DB_PASSWORD, SMTP_TOKEN]").unwrap(),
            SecretEnv::Keys(vec!["DB_PASSWORD".into(), "SMTP_TOKEN".into()])
        );
        let error = read("some").unwrap_err().to_string();
        assert!(
            error.contains("expected all, none or a list of keys of secrets.yaml"),
            "{error}"
        );
        assert!(read("{DB_PASSWORD: true}").is_err());
        for value in [SecretEnv::None, SecretEnv::Keys(vec!["A".into()])] {
            let written = serde_yaml::to_string(&value).unwrap();
            assert_eq!(read(&written).unwrap(), value);
        }
    }
}
