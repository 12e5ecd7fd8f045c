//! Validated values of the container settings that give a container more of its host than
//! Docker's defaults (docs/manifests.md): resource `ulimits`, `securityOpt`, `devices`,
//! `groupAdd` and `gpus`, each checked while it is parsed so its error carries the line and
//! column. It does not map them onto Docker (see the container adapter) nor decide what a swarm
//! can run (see `swarm`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::settings::{account_ok, checked_setting, parse_scalar};

/// The resource limits Docker sets by name (`docker run --ulimit`), as `setrlimit` knows them.
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

checked_setting!(
    /// A `ulimits` key: one of [`ULIMIT_NAMES`].
    UlimitName,
    check_ulimit_name
);

fn check_ulimit_name(text: &str) -> Result<(), String> {
    if ULIMIT_NAMES.contains(&text) {
        Ok(())
    } else {
        Err(format!(
            "unknown ulimit {text:?}: expected one of {}",
            ULIMIT_NAMES.join(", ")
        ))
    }
}

/// A limit's value: a whole number, or `-1` for no limit (`RLIM_INFINITY`), as Docker takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UlimitValue(i64);

impl UlimitValue {
    pub const UNLIMITED: UlimitValue = UlimitValue(-1);

    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<i64>()
            .ok()
            .filter(|value| *value >= -1)
            .map(UlimitValue)
            .ok_or_else(|| {
                format!(
                    "invalid ulimit value {text:?}: expected a whole number, or -1 for no limit"
                )
            })
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Whether `self` allows no more than `other`: no limit is above every number.
    fn at_most(self, other: UlimitValue) -> bool {
        other == Self::UNLIMITED || (self != Self::UNLIMITED && self.0 <= other.0)
    }
}

impl Serialize for UlimitValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

/// Reads a limit's value from a number or its text.
struct ValueVisitor;

impl de::Visitor<'_> for ValueVisitor {
    type Value = UlimitValue;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number, or -1 for no limit")
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<UlimitValue, E> {
        self.visit_str(&value.to_string())
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<UlimitValue, E> {
        self.visit_str(&value.to_string())
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<UlimitValue, E> {
        UlimitValue::parse(text).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for UlimitValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// One limit as written: a number for soft and hard limit alike, or both apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Ulimit {
    Both(UlimitValue),
    Apart {
        soft: UlimitValue,
        hard: UlimitValue,
    },
}

impl Ulimit {
    pub fn soft(self) -> UlimitValue {
        match self {
            Ulimit::Both(value) | Ulimit::Apart { soft: value, .. } => value,
        }
    }

    pub fn hard(self) -> UlimitValue {
        match self {
            Ulimit::Both(value) | Ulimit::Apart { hard: value, .. } => value,
        }
    }
}

/// `{soft, hard}` as written, both required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UlimitPair {
    soft: UlimitValue,
    hard: UlimitValue,
}

impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Ulimit;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or a mapping with soft and hard")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Ulimit, E> {
                ValueVisitor.visit_i64(value).map(Ulimit::Both)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Ulimit, E> {
                ValueVisitor.visit_u64(value).map(Ulimit::Both)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Ulimit, E> {
                ValueVisitor.visit_str(text).map(Ulimit::Both)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Ulimit, A::Error> {
                let pair = UlimitPair::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if !pair.soft.at_most(pair.hard) {
                    return Err(de::Error::custom(format!(
                        "the soft limit {} is above the hard limit {}",
                        pair.soft.0, pair.hard.0
                    )));
                }
                Ok(Ulimit::Apart {
                    soft: pair.soft,
                    hard: pair.hard,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `ulimits`: limit name → its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct UlimitMap(pub BTreeMap<UlimitName, Ulimit>);

/// The security options Docker's create request takes, before the `=`.
const SECURITY_OPTIONS: &[&str] = &[
    "apparmor",
    "label",
    "no-new-privileges",
    "seccomp",
    "systempaths",
    "writable-cgroups",
];

checked_setting!(
    /// A `securityOpt` entry as Docker's API takes it: `label=…`, `apparmor=PROFILE`,
    /// `seccomp=unconfined`, `no-new-privileges` (or `=true`/`=false`), `systempaths=unconfined`,
    /// `writable-cgroups=true`/`false`.
    SecurityOpt,
    check_security_opt
);

fn check_security_opt(text: &str) -> Result<(), String> {
    let invalid = |why: String| format!("invalid security option {text:?}: {why}");
    if text == "no-new-privileges" {
        return Ok(());
    }
    let Some((key, value)) = text.split_once('=') else {
        return Err(invalid(format!(
            "expected key=value with a key of {}, or no-new-privileges",
            SECURITY_OPTIONS.join(", ")
        )));
    };
    let flag = matches!(value, "true" | "false");
    let ok = match key {
        "label" | "apparmor" => !value.is_empty() && !value.contains(char::is_whitespace),
        "no-new-privileges" | "writable-cgroups" => flag,
        "systempaths" => value == "unconfined",
        "seccomp" => {
            return match value {
                "unconfined" => Ok(()),
                _ => Err(invalid(
                    "seccomp takes only unconfined: a profile is a file on the host that Docker's command line reads, which the node does not"
                        .to_string(),
                )),
            }
        }
        _ => {
            return Err(invalid(format!(
                "unknown option {key:?}: expected one of {}",
                SECURITY_OPTIONS.join(", ")
            )))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("{value:?} is not a value of {key}")))
    }
}

checked_setting!(
    /// A `devices` entry, `host[:container][:permissions]`: a device of the host made available
    /// in the container (at the same path when `container` is left out), with the cgroup
    /// permissions `r`, `w` and `m` (all three when left out), read as Docker's command line does.
    Device,
    check_device
);

/// A device mapping with its defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceMapping {
    pub host: String,
    pub container: String,
    pub permissions: String,
}

impl Device {
    pub fn mapping(&self) -> DeviceMapping {
        split_device(&self.0).expect("checked when parsed")
    }
}

fn permissions_ok(text: &str) -> bool {
    let mut seen = Vec::new();
    !text.is_empty()
        && text.chars().all(|c| {
            let new = matches!(c, 'r' | 'w' | 'm') && !seen.contains(&c);
            seen.push(c);
            new
        })
}

fn split_device(text: &str) -> Result<DeviceMapping, String> {
    let invalid = |why: &str| {
        format!(
            "invalid device {text:?}: {why}; expected host[:container][:permissions] with absolute paths and permissions of r, w and m (e.g. /dev/fuse, /dev/sda:/dev/xvda:rw)"
        )
    };
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, permissions] if permissions_ok(permissions) => (*host, *host, *permissions),
        [host, container] => (*host, *container, "rwm"),
        [host, container, permissions] => {
            if !permissions_ok(permissions) {
                return Err(invalid(&format!(
                    "{permissions:?} is not a combination of r, w and m"
                )));
            }
            (*host, *container, *permissions)
        }
        _ => return Err(invalid("it has more than three parts")),
    };
    for path in [host, container] {
        if !path.starts_with('/') || path.contains(char::is_control) {
            return Err(invalid(&format!("{path:?} is not an absolute path")));
        }
    }
    Ok(DeviceMapping {
        host: host.to_string(),
        container: container.to_string(),
        permissions: permissions.to_string(),
    })
}

fn check_device(text: &str) -> Result<(), String> {
    split_device(text).map(|_| ())
}

checked_setting!(
    /// A `groupAdd` entry: a group name or a gid.
    GroupName,
    check_group_name
);

fn check_group_name(text: &str) -> Result<(), String> {
    if account_ok(text) {
        Ok(())
    } else {
        Err(format!(
            "invalid group {text:?}: expected a group name (letters, digits, '_', '-' and '.', at most 32) or a gid"
        ))
    }
}

/// `gpus`: every GPU of the host, or that many, as Docker's `--gpus` asks for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gpus {
    All,
    Count(u32),
}

impl Gpus {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "all" {
            return Ok(Gpus::All);
        }
        text.parse::<u32>()
            .ok()
            .filter(|count| *count > 0)
            .map(Gpus::Count)
            .ok_or_else(|| {
                format!("invalid gpus {text:?}: expected all or a number of GPUs of at least 1; leave it out for none")
            })
    }

    /// Docker's device request count: `-1` for every GPU.
    pub fn docker_count(self) -> i64 {
        match self {
            Gpus::All => -1,
            Gpus::Count(count) => i64::from(count),
        }
    }
}

impl Serialize for Gpus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Gpus::All => serializer.serialize_str("all"),
            Gpus::Count(count) => serializer.serialize_u32(*count),
        }
    }
}

impl<'de> Deserialize<'de> for Gpus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, Gpus::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_read_a_number_or_soft_and_hard() {
        let map: UlimitMap =
            serde_yaml::from_str("nofile: {soft: 1024, hard: 65536}\nmemlock: -1\nnproc: '512'\n")
                .unwrap();
        let nofile = map.0[&UlimitName::parse("nofile").unwrap()];
        assert_eq!((nofile.soft().get(), nofile.hard().get()), (1024, 65536));
        let memlock = map.0[&UlimitName::parse("memlock").unwrap()];
        assert_eq!(memlock.hard(), UlimitValue::UNLIMITED);
        assert!(serde_yaml::from_str::<UlimitMap>("nofile: {soft: 10, hard: -1}\n").is_ok());
        for bad in [
            "nofiles: 10\n",
            "nofile: -2\n",
            "nofile: {soft: 20, hard: 10}\n",
            "nofile: {soft: -1, hard: 10}\n",
            "nofile: {soft: 10}\n",
            "nofile: 1.5\n",
        ] {
            assert!(serde_yaml::from_str::<UlimitMap>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn security_options_devices_groups_gpus() {
        for good in [
            "no-new-privileges",
            "no-new-privileges=true",
            "label=disable",
            "label=type:svirt_apache_t",
            "apparmor=unconfined",
            "seccomp=unconfined",
            "systempaths=unconfined",
        ] {
            assert!(SecurityOpt::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "seccomp=/etc/profile.json",
            "no-new-privileges=yes",
            "label:disable",
            "privileged=true",
            "label=",
        ] {
            assert!(SecurityOpt::parse(bad).is_err(), "{bad}");
        }
        for (good, host, container, permissions) in [
            ("/dev/fuse", "/dev/fuse", "/dev/fuse", "rwm"),
            ("/dev/sda:/dev/xvda", "/dev/sda", "/dev/xvda", "rwm"),
            ("/dev/sda:r", "/dev/sda", "/dev/sda", "r"),
            ("/dev/sda:/dev/xvda:mw", "/dev/sda", "/dev/xvda", "mw"),
        ] {
            let mapping = Device::parse(good).unwrap().mapping();
            assert_eq!(
                (
                    mapping.host.as_str(),
                    mapping.container.as_str(),
                    mapping.permissions.as_str()
                ),
                (host, container, permissions),
                "{good}"
            );
        }
        for bad in [
            "dev/fuse",
            "/dev/sda:/dev/xvda:rwx",
            "/dev/sda:/dev/xvda:rr",
            "/dev/a:/dev/b:r:w",
            "/dev/sda:xvda",
        ] {
            assert!(Device::parse(bad).is_err(), "{bad}");
        }
        for good in ["video", "44", "render", "Debian-exim"] {
            assert!(GroupName::parse(good).is_ok(), "{good}");
        }
        assert!(GroupName::parse("a b").is_err());
        assert_eq!(Gpus::parse("all").unwrap().docker_count(), -1);
        assert_eq!(Gpus::parse("2").unwrap().docker_count(), 2);
        for bad in ["0", "-1", "some", ""] {
            assert!(Gpus::parse(bad).is_err(), "{bad}");
        }
    }
}
