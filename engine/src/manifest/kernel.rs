//! Validated values of the container settings that reach into the kernel under a container
//! (docs/manifests.md, "Namespaces and kernel settings"): the namespaces it shares with its host
//! (`pid`, `ipc`, `usernsMode`), its resolver (`dns`, `dnsSearch`, `dnsOptions`), its cgroup
//! (`deviceCgroupRules`, `memoryReservation`, `cpuShares`, `cpuset`), the OOM killer
//! (`oomScoreAdj`, `oomKillDisable`) and its storage driver (`storageOpt`), each checked while it
//! is parsed so its error carries the line and column. It does not map them onto Docker (see the
//! container adapter) nor decide what a node policy or a swarm allows (see `policy`, `swarm`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};

use super::settings::{checked_setting, host_label_ok, parse_scalar};

/// `pid`: whose process namespace the container sees; its own when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PidMode {
    /// The host's processes.
    Host,
}

/// `ipc`: the container's System V IPC namespace; Docker's default (`private` or `shareable`,
/// as the daemon is set up) when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpcMode {
    /// Its own namespace, which no other container may join.
    Private,
    /// Its own namespace, which other containers may join.
    Shareable,
    /// The host's namespace.
    Host,
    /// Its own namespace without `/dev/shm`.
    None,
}

/// `usernsMode`: whether the container leaves the daemon's user namespace remapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UsernsMode {
    /// The host's user namespace: root in the container is root on the host.
    Host,
}

impl PidMode {
    pub fn as_str(self) -> &'static str {
        "host"
    }
}

impl UsernsMode {
    pub fn as_str(self) -> &'static str {
        "host"
    }
}

impl IpcMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IpcMode::Private => "private",
            IpcMode::Shareable => "shareable",
            IpcMode::Host => "host",
            IpcMode::None => "none",
        }
    }
}

checked_setting!(
    /// A `dns` entry: the IPv4 or IPv6 address of a name server.
    DnsServer,
    check_dns_server
);

fn check_dns_server(text: &str) -> Result<(), String> {
    text.parse::<IpAddr>().map(|_| ()).map_err(|_| {
        format!("invalid name server {text:?}: expected an IPv4 or IPv6 address (1.1.1.1, 2606:4700::1111)")
    })
}

checked_setting!(
    /// A `dnsSearch` entry: a domain the resolver appends to short names.
    DnsSearch,
    check_dns_search
);

fn check_dns_search(text: &str) -> Result<(), String> {
    if text.len() <= 253 && text.split('.').all(host_label_ok) {
        Ok(())
    } else {
        Err(format!(
            "invalid search domain {text:?}: expected a domain name such as example.com"
        ))
    }
}

checked_setting!(
    /// A `dnsOptions` entry: a resolv.conf option such as `ndots:2` or `use-vc`.
    DnsOption,
    check_dns_option
);

fn check_dns_option(text: &str) -> Result<(), String> {
    let word_ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'));
    if word_ok {
        Ok(())
    } else {
        Err(format!(
            "invalid resolver option {text:?}: expected one word of letters, digits, ':', '-', '_' or '.' (ndots:2, use-vc)"
        ))
    }
}

checked_setting!(
    /// A `deviceCgroupRules` entry: `<type> <major>:<minor> <access>` as the devices cgroup
    /// reads it (`c 189:* rmw`).
    DeviceCgroupRule,
    check_device_cgroup_rule
);

fn check_device_cgroup_rule(text: &str) -> Result<(), String> {
    let number_ok = |part: &str| {
        part == "*"
            || (!part.is_empty() && part.len() <= 10 && part.bytes().all(|b| b.is_ascii_digit()))
    };
    let words: Vec<&str> = text.split(' ').collect();
    let valid = match words.as_slice() {
        [kind, numbers, access] => {
            matches!(*kind, "a" | "b" | "c")
                && numbers
                    .split_once(':')
                    .is_some_and(|(major, minor)| number_ok(major) && number_ok(minor))
                && !access.is_empty()
                && access.len() <= 3
                && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid device cgroup rule {text:?}: expected '<a|b|c> <major>:<minor> <r, w and m>' with * for any number, e.g. 'c 189:* rmw'"
        ))
    }
}

checked_setting!(
    /// `cpuset`: the CPUs the container may run on, as a list of numbers and ranges (`0-3,6`).
    Cpuset,
    check_cpuset
);

fn check_cpuset(text: &str) -> Result<(), String> {
    let number = |part: &str| {
        (!part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let range_ok = |range: &str| match range.split_once('-') {
        Some((low, high)) => {
            matches!((number(low), number(high)), (Some(low), Some(high)) if low <= high)
        }
        None => number(range).is_some(),
    };
    if !text.is_empty() && text.split(',').all(range_ok) {
        Ok(())
    } else {
        Err(format!(
            "invalid cpuset {text:?}: expected CPU numbers and ranges separated by commas, e.g. 0-3,6"
        ))
    }
}

/// `cpuShares`: the container's CPU weight against others under contention (Docker's default
/// is 1024), from 2 to 262144 as the kernel takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CpuShares(u64);

impl CpuShares {
    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<u64>()
            .ok()
            .filter(|shares| (2..=262_144).contains(shares))
            .map(CpuShares)
            .ok_or_else(|| {
                format!("invalid cpuShares {text:?}: expected a whole number from 2 to 262144 (Docker's default is 1024)")
            })
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for CpuShares {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, CpuShares::parse)
    }
}

/// `oomScoreAdj`: how much more (or less) willing the kernel is to kill the container's
/// processes when memory runs out, from -1000 to 1000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OomScoreAdj(i64);

impl OomScoreAdj {
    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<i64>()
            .ok()
            .filter(|score| (-1000..=1000).contains(score))
            .map(OomScoreAdj)
            .ok_or_else(|| {
                format!("invalid oomScoreAdj {text:?}: expected a whole number from -1000 to 1000")
            })
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for OomScoreAdj {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, OomScoreAdj::parse)
    }
}

checked_setting!(
    /// A `storageOpt` key, an option of the storage driver (`size`).
    StorageOptName,
    check_storage_opt_name
);

fn check_storage_opt_name(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid storage option {text:?}: expected a driver option name such as size"
        ))
    }
}

checked_setting!(
    /// A `storageOpt` value (`20G`).
    StorageOptValue,
    check_storage_opt_value
);

fn check_storage_opt_value(text: &str) -> Result<(), String> {
    if !text.is_empty() && text.len() <= 256 && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(format!(
            "invalid storage option value {text:?}: expected one word of printable characters, such as 20G"
        ))
    }
}

/// `storageOpt`: the storage driver's options for the container's writable layer.
pub type StorageOptMap = BTreeMap<StorageOptName, StorageOptValue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_settings() {
        assert!(DnsServer::parse("1.1.1.1").is_ok());
        assert!(DnsServer::parse("2606:4700::1111").is_ok());
        assert!(DnsServer::parse("dns.example.com").is_err());
        assert!(DnsSearch::parse("corp.example.com").is_ok());
        assert!(DnsSearch::parse("bad domain").is_err());
        assert!(DnsOption::parse("ndots:2").is_ok());
        assert!(DnsOption::parse("use-vc").is_ok());
        assert!(DnsOption::parse("ndots 2").is_err());
    }

    #[test]
    fn cgroup_settings() {
        assert!(DeviceCgroupRule::parse("c 189:* rmw").is_ok());
        assert!(DeviceCgroupRule::parse("a *:* r").is_ok());
        assert!(DeviceCgroupRule::parse("x 1:2 rw").is_err());
        assert!(DeviceCgroupRule::parse("c 1:2 rwx").is_err());
        assert!(DeviceCgroupRule::parse("c 1 rw").is_err());
        assert!(Cpuset::parse("0-3,6").is_ok());
        assert!(Cpuset::parse("3-1").is_err());
        assert!(Cpuset::parse("0,,1").is_err());
        assert_eq!(CpuShares::parse("512").unwrap().get(), 512);
        assert!(CpuShares::parse("1").is_err());
        assert_eq!(OomScoreAdj::parse("-500").unwrap().get(), -500);
        assert!(OomScoreAdj::parse("1001").is_err());
        assert!(StorageOptName::parse("size").is_ok());
        assert!(StorageOptName::parse("Size Limit").is_err());
        assert!(StorageOptValue::parse("20G").is_ok());
        assert!(StorageOptValue::parse("").is_err());
    }

    #[test]
    fn namespace_modes_name_their_values() {
        assert_eq!(IpcMode::Shareable.as_str(), "shareable");
        assert_eq!(PidMode::Host.as_str(), "host");
        assert_eq!(UsernsMode::Host.as_str(), "host");
        let refused = serde_yaml::from_str::<PidMode>("container:db").unwrap_err();
        assert!(refused.to_string().contains("expected `host`"), "{refused}");
    }
}
