//! The options of a container's mounts as written (docs/manifests.md): a bind mount's SELinux
//! relabelling and propagation, and a `tmpfs` entry, a path alone or with its size and mode. It
//! does not decide which volume kind takes which option (see `container`) nor map them onto
//! Docker (see the container adapter).

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::fields::AbsolutePath;
use super::settings::{parse_scalar, Size};

/// `selinux` of a volume: how Docker relabels its content for SELinux.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Selinux {
    /// Docker's `z`: the content is shared with other containers.
    Shared,
    /// Docker's `Z`: the content is private to this container.
    Private,
}

impl Selinux {
    /// The bind option Docker takes.
    pub fn docker_option(self) -> &'static str {
        match self {
            Selinux::Shared => "z",
            Selinux::Private => "Z",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Selinux::Shared => "shared",
            Selinux::Private => "private",
        }
    }
}

/// `propagation` of a bind mount: whether mounts made under it on either side are seen on the
/// other (Linux mount propagation, `mount(8)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Rprivate,
    Private,
    Rshared,
    Shared,
    Rslave,
    Slave,
}

impl Propagation {
    /// The name Docker and `mount(8)` use, which the manifest writes too.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Rprivate => "rprivate",
            Propagation::Private => "private",
            Propagation::Rshared => "rshared",
            Propagation::Shared => "shared",
            Propagation::Rslave => "rslave",
            Propagation::Slave => "slave",
        }
    }
}

/// Permission bits as octal text (`1777`, `0755`), kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmpfsMode {
    text: String,
    bits: u32,
}

impl TmpfsMode {
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let octal = !digits.is_empty()
            && digits.len() <= 5
            && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        let bits = octal
            .then(|| u32::from_str_radix(digits, 8).ok())
            .flatten()
            .filter(|bits| *bits <= 0o7777)
            .ok_or_else(|| {
                format!("invalid mode {text:?}: expected permission bits in octal, such as 1777 or 0755")
            })?;
        Ok(TmpfsMode {
            text: text.to_string(),
            bits,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }
}

impl Serialize for TmpfsMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for TmpfsMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, TmpfsMode::parse)
    }
}

/// A `tmpfs` entry: a container path, with the tmpfs's size and mode when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmpfsMount {
    pub path: AbsolutePath,
    /// Docker's default (half the host's memory) when absent.
    pub size: Option<Size>,
    /// Docker's default (`1777`) when absent.
    pub mode: Option<TmpfsMode>,
}

impl TmpfsMount {
    /// An entry without options, as the plain path form writes it.
    pub fn at(path: AbsolutePath) -> Self {
        TmpfsMount {
            path,
            size: None,
            mode: None,
        }
    }
}

/// The mapping form of an entry.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TmpfsFields {
    path: AbsolutePath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<TmpfsMode>,
}

impl Serialize for TmpfsMount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.size.is_none() && self.mode.is_none() {
            return self.path.serialize(serializer);
        }
        TmpfsFields {
            path: self.path.clone(),
            size: self.size.clone(),
            mode: self.mode.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TmpfsMount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = TmpfsMount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an absolute path, or a mapping with path, size and mode")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<TmpfsMount, E> {
                AbsolutePath::parse(text)
                    .map(TmpfsMount::at)
                    .map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<TmpfsMount, A::Error> {
                let fields = TmpfsFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TmpfsMount {
                    path: fields.path,
                    size: fields.size,
                    mode: fields.mode,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_entries_are_a_path_or_a_mapping() {
        let entries: Vec<TmpfsMount> =
            serde_yaml::from_str("- /tmp\n- {path: /run, size: 64Mi, mode: 1777}\n").unwrap();
        assert_eq!(
            entries[0],
            TmpfsMount::at(AbsolutePath::parse("/tmp").unwrap())
        );
        assert_eq!(entries[1].size.as_ref().unwrap().bytes(), 64 << 20);
        assert_eq!(entries[1].mode.as_ref().unwrap().bits(), 0o1777);
        let written = serde_yaml::to_string(&entries).unwrap();
        assert_eq!(
            written,
            "- /tmp\n- path: /run\n  size: 64Mi\n  mode: '1777'\n"
        );
        for bad in [
            "- tmp\n",
            "- {path: /run, mode: 999}\n",
            "- {path: /run, uid: 1}\n",
        ] {
            assert!(
                serde_yaml::from_str::<Vec<TmpfsMount>>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!(TmpfsMode::parse("0755").unwrap().bits(), 0o755);
        assert_eq!(TmpfsMode::parse("0o700").unwrap().bits(), 0o700);
        for bad in ["", "8", "17777", "rwx", "-1", "+755"] {
            assert!(TmpfsMode::parse(bad).is_err(), "{bad}");
        }
    }
}
