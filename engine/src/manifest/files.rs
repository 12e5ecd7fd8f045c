//! The container fields that put files into a container and join it to networks, as written:
//! `files` (a repository file mounted read-only), `secretFiles` (a key of `secrets.yaml` mounted
//! read-only from a tmpfs) and `networks` (environment networks by name, with extra aliases).
//! It neither reads the files nor looks the keys up (see `revision` and `desired`).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::fields::{checked_string, AbsolutePath, InnerPath, Name};
use super::is_default;

/// A `files[]` item: the repository file `source`, mounted read-only at `target` with `mode`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileMount {
    pub source: InnerPath,
    pub target: AbsolutePath,
    #[serde(default = "FileMode::file", skip_serializing_if = "FileMode::is_file")]
    pub mode: FileMode,
}

/// A `secretFiles[]` item: the value of the key `key` of `secrets.yaml`, mounted read-only at
/// `target` (`/run/secrets/<key>` when absent) with `mode`, owned by `uid` and `gid`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretFileMount {
    pub key: SecretKey,
    #[serde(default, skip_serializing_if = "is_default")]
    pub target: Option<AbsolutePath>,
    #[serde(
        default = "FileMode::secret",
        skip_serializing_if = "FileMode::is_secret"
    )]
    pub mode: FileMode,
    #[serde(default, skip_serializing_if = "is_default")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub gid: Option<u32>,
}

impl SecretFileMount {
    /// `target`, else `/run/secrets/<key>`.
    pub fn target(&self) -> String {
        match &self.target {
            Some(target) => target.to_string(),
            None => format!("/run/secrets/{}", self.key.as_str()),
        }
    }
}

/// The name of a key of `secrets.yaml` that a secret file holds: a file name too, so no `/` and
/// nothing that a path would read as a folder.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SecretKey(String);
checked_string!(SecretKey, |text| {
    let fits = !text.is_empty()
        && text.len() <= 255
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if fits {
        Ok(())
    } else {
        Err(format!(
            "invalid key {text:?}: a key of secrets.yaml of letters, digits, '_', '-' and '.'"
        ))
    }
});

/// File permission bits as octal text (`"0444"`, `"440"`): read, write and execute bits of
/// owner, group and others, no set-id or sticky bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileMode(pub u32);

impl FileMode {
    /// `files[].mode` when absent: readable by everyone, written by no one.
    pub fn file() -> Self {
        FileMode(0o444)
    }

    /// `secretFiles[].mode` when absent: readable by its owner only.
    pub fn secret() -> Self {
        FileMode(0o400)
    }

    fn is_file(&self) -> bool {
        *self == Self::file()
    }

    fn is_secret(&self) -> bool {
        *self == Self::secret()
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let fits =
            (3..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        let value = u32::from_str_radix(digits, 8).ok().filter(|_| fits);
        match value {
            Some(value) if value <= 0o777 => Ok(FileMode(value)),
            _ => Err(format!(
                "invalid mode {text:?}: expected octal permission bits such as \"0444\" or \"0640\" (no set-id or sticky bit)"
            )),
        }
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FileMode {
    /// The scalar's text as written, so that `0444` is octal whether quoted or not.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl Visitor<'_> for ModeVisitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("octal permission bits such as \"0444\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FileMode, E> {
                FileMode::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(ModeVisitor)
    }
}

/// The network name that stands for the environment network itself in `networks`.
pub const DEFAULT_NETWORK: &str = "default";

/// A `networks[]` item: a network name (`backend`), or `{name, aliases}` for extra names the
/// container answers to there besides its deployment's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkJoin {
    pub name: Name,
    pub aliases: Vec<Alias>,
}

impl NetworkJoin {
    /// Whether this is the environment network (`default`).
    pub fn is_default(&self) -> bool {
        self.name.as_str() == DEFAULT_NETWORK
    }
}

impl Serialize for NetworkJoin {
    /// The plain name without aliases, else the mapping.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Written<'a> {
            name: &'a Name,
            aliases: &'a [Alias],
        }
        if self.aliases.is_empty() {
            self.name.serialize(serializer)
        } else {
            Written {
                name: &self.name,
                aliases: &self.aliases,
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for NetworkJoin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JoinVisitor;
        impl<'de> Visitor<'de> for JoinVisitor {
            type Value = NetworkJoin;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a network name, or a mapping with name and aliases")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<NetworkJoin, E> {
                Ok(NetworkJoin {
                    name: Name::parse(text).map_err(E::custom)?,
                    aliases: Vec::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NetworkJoin, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Written {
                    name: Name,
                    #[serde(default)]
                    aliases: Vec<Alias>,
                }
                let written = Written::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(NetworkJoin {
                    name: written.name,
                    aliases: written.aliases,
                })
            }
        }
        deserializer.deserialize_any(JoinVisitor)
    }
}

/// A DNS name a container answers to on a network: labels of letters, digits, `-` and `_`
/// joined by dots.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Alias(String);
checked_string!(Alias, |text| {
    let fits = !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if fits {
        Ok(())
    } else {
        Err(format!(
            "invalid alias {text:?}: a DNS name of letters, digits, '-' and '_' joined by dots"
        ))
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_permission_bits_quoted_or_not() {
        let file: FileMount =
            serde_yaml::from_str("source: a.conf\ntarget: /etc/a.conf\nmode: 0640\n").unwrap();
        assert_eq!(file.mode, FileMode(0o640));
        let file: FileMount = serde_yaml::from_str("source: a\ntarget: /a\n").unwrap();
        assert_eq!(file.mode.to_string(), "0444");
        assert_eq!(FileMode::parse("440"), Ok(FileMode(0o440)));
        for bad in ["0999", "4755", "rw", "04440", "", "0o"] {
            assert!(FileMode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_mix_names_and_mappings_and_write_back_as_read() {
        let joins: Vec<NetworkJoin> =
            serde_yaml::from_str("[default, {name: backend, aliases: [db, db.internal]}]").unwrap();
        assert!(joins[0].is_default() && joins[0].aliases.is_empty());
        assert_eq!(joins[1].aliases[1].as_str(), "db.internal");
        assert_eq!(
            serde_yaml::to_string(&joins).unwrap(),
            "- default\n- name: backend\n  aliases:\n  - db\n  - db.internal\n"
        );
        assert!(serde_yaml::from_str::<NetworkJoin>("Back_End").is_err());
        assert!(serde_yaml::from_str::<NetworkJoin>("{name: a, alias: [b]}").is_err());
    }

    #[test]
    fn a_secret_file_defaults_to_run_secrets_and_owner_only() {
        let secret: SecretFileMount = serde_yaml::from_str("key: DB_PASSWORD\n").unwrap();
        assert_eq!(secret.target(), "/run/secrets/DB_PASSWORD");
        assert_eq!(secret.mode, FileMode(0o400));
        assert!(serde_yaml::from_str::<SecretFileMount>("key: ../x\n").is_err());
    }
}
