//! Validated values of a Deployment's container settings (docs/manifests.md): sizes, CPU counts,
//! capabilities, signals, extra hosts, users, hostnames, labels and sysctls, each checked while it
//! is parsed so its error carries the line and column. It does not map them onto Docker (see the
//! daemon's container adapter) nor decide what a change to them means (see `plan`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{check_key_name, ScalarText};

/// Deserializes a scalar's text (numbers and booleans as written) through `parse`, inside the
/// parser's visitor so that an error carries the value's own line and column.
pub(super) fn parse_scalar<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    struct Visitor<T>(fn(&str) -> Result<T, String>);
    impl<T> de::Visitor<'_> for Visitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or number")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
            (self.0)(text).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(Visitor(parse))
}

/// A newtype over the checked text of a setting: parsed with `parse_scalar`, shown as written.
macro_rules! checked_setting {
    ($(#[$doc:meta])* $type:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $type(String);

        impl $type {
            /// Checks `text` as the manifest loader would.
            pub fn parse(text: &str) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(text)?;
                Ok($type(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                parse_scalar(deserializer, $type::parse)
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(super) use checked_setting;

/// The label prefix orun keeps for its own labels; user labels may not use it.
pub const RESERVED_LABEL_PREFIX: &str = "run.orcra.dev/";

/// A size as written (`512k`, `10m`, `256Mi`, `1Gi`, or plain bytes) and its value in bytes.
/// `k`/`m`/`g` are powers of 1000, as Docker's log options read them; `Ki`/`Mi`/`Gi` powers of
/// 1024. Upper-case `K`/`M`/`G` are refused: tools disagree on whether they mean 1000 or 1024.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Size {
    text: String,
    bytes: u64,
}

impl Size {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| {
            format!(
                "invalid size {text:?}: {why}; expected a number of bytes or a number with k, m, g (1000-based) or Ki, Mi, Gi (1024-based), e.g. 512k, 10m, 256Mi"
            )
        };
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits_end);
        if number.is_empty() {
            return Err(invalid("it does not start with a number"));
        }
        let multiplier: u64 = match unit {
            "" => 1,
            "k" => 1000,
            "m" => 1000 * 1000,
            "g" => 1000 * 1000 * 1000,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            "K" | "M" | "G" => return Err(invalid("upper-case units are ambiguous")),
            _ => return Err(invalid(&format!("unknown unit {unit:?}"))),
        };
        let bytes = number
            .parse::<u64>()
            .ok()
            .and_then(|number| number.checked_mul(multiplier))
            .filter(|bytes| i64::try_from(*bytes).is_ok())
            .ok_or_else(|| invalid("it is too large"))?;
        if bytes == 0 {
            return Err(invalid("it must be larger than 0"));
        }
        Ok(Size {
            text: text.to_string(),
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, Size::parse)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// The smallest memory limit Docker accepts (6 MiB).
pub const MIN_MEMORY: u64 = 6 << 20;

/// `resources.memory`: a [`Size`] of at least [`MIN_MEMORY`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryLimit(pub Size);

impl<'de> Deserialize<'de> for MemoryLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, |text| {
            let size = Size::parse(text)?;
            if size.bytes() < MIN_MEMORY {
                return Err(format!(
                    "memory limit {text:?} is below Docker's minimum of 6Mi"
                ));
            }
            Ok(MemoryLimit(size))
        })
    }
}

/// `resources.cpus`: a decimal number of CPUs (`"0.5"`, `2`), kept as written, with at most nine
/// decimal places because Docker counts in billionths of a CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpus {
    text: String,
    nano_cpus: u64,
}

/// Billionths of a CPU in one CPU, Docker's unit for `NanoCpus`.
pub const NANO_CPUS_PER_CPU: u64 = 1_000_000_000;

impl Cpus {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| {
            format!("invalid cpus {text:?}: {why}; expected a decimal number of CPUs such as \"0.5\" or \"2\"")
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
            return Err(invalid("it is not a decimal number"));
        }
        if fraction.len() > 9 {
            return Err(invalid("it has more than 9 decimal places"));
        }
        let whole: u64 = whole
            .parse()
            .ok()
            .filter(|cpus| *cpus <= 1024)
            .ok_or_else(|| invalid("it is larger than 1024"))?;
        let fraction: u64 = format!("{fraction:0<9}").parse().unwrap_or_default();
        let nano_cpus = whole * NANO_CPUS_PER_CPU + fraction;
        if nano_cpus == 0 {
            return Err(invalid("it must be larger than 0"));
        }
        Ok(Cpus {
            text: text.to_string(),
            nano_cpus,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn nano_cpus(&self) -> u64 {
        self.nano_cpus
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, Cpus::parse)
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// `resources.pids`: the most processes the container may run, at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PidsLimit(pub u64);

impl<'de> Deserialize<'de> for PidsLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, |text| {
            text.parse::<u64>()
                .ok()
                .filter(|limit| *limit > 0 && i64::try_from(*limit).is_ok())
                .map(PidsLimit)
                .ok_or_else(|| {
                    format!("invalid pids limit {text:?}: expected a whole number of at least 1; leave it out for no limit")
                })
        })
    }
}

/// `logging.maxFiles`: how many json-file log files Docker keeps, at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LogFiles(pub u32);

impl<'de> Deserialize<'de> for LogFiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_scalar(deserializer, |text| {
            text.parse::<u32>()
                .ok()
                .filter(|count| *count > 0)
                .map(LogFiles)
                .ok_or_else(|| {
                    format!("invalid maxFiles {text:?}: expected a whole number of at least 1")
                })
        })
    }
}

/// The Linux capabilities Docker can add or drop, without their `CAP_` prefix.
const CAPABILITIES: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

checked_setting!(
    /// A capability name for `capAdd`/`capDrop`: one of the Linux capabilities, upper case, with or
    /// without the `CAP_` prefix, or `ALL`.
    Capability,
    check_capability
);

fn check_capability(text: &str) -> Result<(), String> {
    let bare = text.strip_prefix("CAP_").unwrap_or(text);
    if text == "ALL" || CAPABILITIES.contains(&bare) {
        Ok(())
    } else {
        Err(format!(
            "unknown capability {text:?}: expected ALL or a Linux capability name in upper case such as NET_ADMIN (the CAP_ prefix is optional)"
        ))
    }
}

/// The signal names `stopSignal` accepts: the standard Linux signals, written with `SIG`.
const SIGNALS: &[&str] = &[
    "SIGABRT",
    "SIGALRM",
    "SIGBUS",
    "SIGCHLD",
    "SIGCONT",
    "SIGFPE",
    "SIGHUP",
    "SIGILL",
    "SIGINT",
    "SIGIO",
    "SIGKILL",
    "SIGPIPE",
    "SIGPROF",
    "SIGPWR",
    "SIGQUIT",
    "SIGSEGV",
    "SIGSTKFLT",
    "SIGSTOP",
    "SIGSYS",
    "SIGTERM",
    "SIGTRAP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGUSR1",
    "SIGUSR2",
    "SIGVTALRM",
    "SIGWINCH",
    "SIGXCPU",
    "SIGXFSZ",
];

checked_setting!(
    /// A `stopSignal`: a signal name such as `SIGQUIT`, a real-time signal (`SIGRTMIN+3`,
    /// `SIGRTMAX-1`) or a signal number.
    Signal,
    check_signal
);

/// The real-time signals Docker knows by name: `RTMIN+1` to `RTMIN+15` and `RTMAX-14` to
/// `RTMAX-1`, besides `RTMIN` and `RTMAX` themselves.
const REAL_TIME_OFFSETS: std::ops::RangeInclusive<u8> = 1..=15;
const REAL_TIME_FROM_MAX: std::ops::RangeInclusive<u8> = 1..=14;

/// The highest Linux signal number (`SIGRTMAX`).
const HIGHEST_SIGNAL: u8 = 64;

fn check_signal(text: &str) -> Result<(), String> {
    let offset = |rest: &str, range: std::ops::RangeInclusive<u8>| {
        rest.parse::<u8>()
            .is_ok_and(|n| range.contains(&n) && !rest.starts_with('0'))
    };
    let real_time = match text {
        "SIGRTMIN" | "SIGRTMAX" => true,
        _ => match (
            text.strip_prefix("SIGRTMIN+"),
            text.strip_prefix("SIGRTMAX-"),
        ) {
            (Some(rest), _) => offset(rest, REAL_TIME_OFFSETS),
            (_, Some(rest)) => offset(rest, REAL_TIME_FROM_MAX),
            _ => false,
        },
    };
    let number = text.bytes().all(|b| b.is_ascii_digit()) && offset(text, 1..=HIGHEST_SIGNAL);
    if SIGNALS.contains(&text) || real_time || number {
        Ok(())
    } else {
        Err(format!(
            "unknown signal {text:?}: expected a signal name in upper case with its SIG prefix (SIGTERM, SIGQUIT), a real-time signal (SIGRTMIN, SIGRTMIN+1 to SIGRTMIN+15, SIGRTMAX-14 to SIGRTMAX-1, SIGRTMAX), or a signal number from 1 to {HIGHEST_SIGNAL}"
        ))
    }
}

checked_setting!(
    /// An `extraHosts` entry, `name:address` or `name=address`: a host name resolved to that
    /// address inside the container. The address is an IPv4 or IPv6 address (the latter also in
    /// brackets), or `host-gateway`, the host's own address as Docker sees it.
    ExtraHost,
    check_extra_host
);

/// The address Docker replaces with the host's own.
pub const HOST_GATEWAY: &str = "host-gateway";

impl ExtraHost {
    /// The entry as Docker's API takes it, `name:address`: the `=` form and the brackets around
    /// an IPv6 address are the command line's and compose's, not the API's.
    pub fn docker_form(&self) -> String {
        let (name, address) = split_extra_host(&self.0).expect("checked when parsed");
        format!("{name}:{address}")
    }

    /// The same entry written in Docker's form.
    pub fn in_docker_form(&self) -> ExtraHost {
        ExtraHost(self.docker_form())
    }
}

/// An entry's name and address (without brackets), as Docker's command line reads it: split at
/// the first `=`, else at the first `:`, so an IPv6 address keeps its colons.
fn split_extra_host(text: &str) -> Result<(&str, &str), String> {
    let invalid = |why: &str| {
        format!(
            "invalid extra host {text:?}: {why}; expected name:address or name=address, the address an IP address or {HOST_GATEWAY}"
        )
    };
    let (name, address) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .ok_or_else(|| invalid("the ':' is missing"))?;
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !name_ok {
        return Err(invalid(&format!("{name:?} is not a host name")));
    }
    if address == HOST_GATEWAY {
        return Ok((name, address));
    }
    let bare = address
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(address);
    bare.parse::<IpAddr>()
        .map_err(|_| invalid(&format!("{address:?} is not an IP address")))?;
    Ok((name, bare))
}

fn check_extra_host(text: &str) -> Result<(), String> {
    split_extra_host(text).map(|_| ())
}

checked_setting!(
    /// A `user`: `name`, `uid`, or either followed by `:group` or `:gid`.
    User,
    check_user
);

/// The longest user or group name Linux tools accept.
const LONGEST_ACCOUNT_NAME: usize = 32;

/// A user or group name as Linux systems write them (`www-data`, `Debian-exim`, `_apt`,
/// `first.last`, a machine account's `host$`), or a uid or gid.
pub(crate) fn account_ok(part: &str) -> bool {
    let numeric = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if numeric {
        return part.parse::<u32>().is_ok();
    }
    let name = part.strip_suffix('$').unwrap_or(part);
    part.len() <= LONGEST_ACCOUNT_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn check_user(text: &str) -> Result<(), String> {
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    if account_ok(user) && group.is_none_or(account_ok) {
        Ok(())
    } else {
        Err(format!(
            "invalid user {text:?}: expected a user name or uid, optionally followed by :group or :gid (e.g. app, www-data:www-data, 1000:1000); names have at most {LONGEST_ACCOUNT_NAME} letters, digits, '_', '-' and '.', start with a letter, digit or '_' and may end in '$'"
        ))
    }
}

checked_setting!(
    /// A container `hostname`: a host name, a single label (`web-1`) or fully qualified
    /// (`mail.example.com`).
    Hostname,
    check_hostname
);

/// The longest host name Linux sets (`HOST_NAME_MAX`); a longer one fails the container's start.
const LONGEST_HOSTNAME: usize = 64;

/// Whether `label` is one label of a host name: letters, digits and `-`, at most 63 characters,
/// starting and ending with a letter or digit.
pub(super) fn host_label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn check_hostname(text: &str) -> Result<(), String> {
    if text.len() <= LONGEST_HOSTNAME && text.split('.').all(host_label_ok) {
        Ok(())
    } else {
        Err(format!(
            "invalid hostname {text:?}: must be a host name of at most {LONGEST_HOSTNAME} characters, labels of letters, digits and '-' separated by dots, each starting and ending with a letter or digit (web-1, mail.example.com)"
        ))
    }
}

checked_setting!(
    /// A label name outside orun's own prefix.
    LabelName,
    check_label_name
);

fn check_label_name(name: &str) -> Result<(), String> {
    if name.starts_with(RESERVED_LABEL_PREFIX) {
        return Err(format!(
            "label {name:?} uses the reserved prefix {RESERVED_LABEL_PREFIX:?}, which orun sets itself"
        ));
    }
    check_key_name("label", name)
}

checked_setting!(
    /// A kernel parameter name.
    SysctlName,
    check_sysctl_name
);

fn check_sysctl_name(name: &str) -> Result<(), String> {
    check_key_name("sysctl", name)
}

/// Extra container `labels`: names other than orun's own, values kept as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LabelMap(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for LabelMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<LabelName, ScalarText>::deserialize(deserializer)?;
        Ok(LabelMap(
            map.into_iter()
                .map(|(name, value)| (name.0, value.0))
                .collect(),
        ))
    }
}

/// Kernel parameters for `sysctls`: dotted names, values kept as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SysctlMap(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for SysctlMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<SysctlName, ScalarText>::deserialize(deserializer)?;
        Ok(SysctlMap(
            map.into_iter()
                .map(|(name, value)| (name.0, value.0))
                .collect(),
        ))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_1000_and_1024_based_units() {
        for (text, bytes) in [
            ("512k", 512_000),
            ("10m", 10_000_000),
            ("1g", 1_000_000_000),
            ("256Mi", 256 << 20),
            ("1Gi", 1 << 30),
            ("64Ki", 64 << 10),
            ("1048576", 1 << 20),
        ] {
            assert_eq!(Size::parse(text).unwrap().bytes(), bytes, "{text}");
        }
        for bad in [
            "", "m", "10M", "10 m", "1.5g", "10mb", "10MiB", "-1k", "0", "0m",
        ] {
            assert!(Size::parse(bad).is_err(), "{bad}");
        }
        assert!(Size::parse("99999999999Gi").is_err());
    }

    #[test]
    fn cpus_become_billionths() {
        for (text, nano) in [
            ("0.5", 500_000_000),
            ("2", 2_000_000_000),
            ("1.25", 1_250_000_000),
            ("0.000000001", 1),
        ] {
            assert_eq!(Cpus::parse(text).unwrap().nano_cpus(), nano, "{text}");
        }
        for bad in [
            "",
            ".5",
            "1.",
            "0",
            "0.0",
            "a",
            "1e3",
            "-1",
            "0.0000000001",
            "2000",
        ] {
            assert!(Cpus::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn capabilities_signals_hosts_users_hostnames() {
        for good in ["NET_ADMIN", "CAP_NET_ADMIN", "ALL", "SYS_PTRACE"] {
            assert!(Capability::parse(good).is_ok(), "{good}");
        }
        for bad in ["net_admin", "CAP_ALL", "NET_ADMINS", ""] {
            assert!(Capability::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "SIGQUIT",
            "SIGRTMIN",
            "SIGRTMIN+3",
            "SIGRTMAX-1",
            "SIGRTMAX",
            "9",
            "64",
        ] {
            assert!(Signal::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "QUIT",
            "sigterm",
            "SIGFOO",
            "0",
            "65",
            "09",
            "SIGRTMIN+16",
            "SIGRTMIN+0",
            "SIGRTMAX-15",
            "RTMIN+3",
            "-9",
        ] {
            assert!(Signal::parse(bad).is_err(), "{bad}");
        }
        for (good, docker) in [
            ("db.local:10.0.0.5", "db.local:10.0.0.5"),
            ("host:::1", "host:::1"),
            ("a_b:192.168.1.1", "a_b:192.168.1.1"),
            ("myhost=1.2.3.4", "myhost:1.2.3.4"),
            ("myhost=[::1]", "myhost:::1"),
            ("myhost:[fe80::1]", "myhost:fe80::1"),
            (
                "host.docker.internal:host-gateway",
                "host.docker.internal:host-gateway",
            ),
            ("gw=host-gateway", "gw:host-gateway"),
        ] {
            let host = ExtraHost::parse(good).unwrap_or_else(|error| panic!("{good}: {error}"));
            assert_eq!(host.docker_form(), docker);
            assert_eq!(host.as_str(), good);
        }
        for bad in [
            "db.local",
            "db:10.0.0",
            ":10.0.0.1",
            "a b:10.0.0.1",
            "a:host-gw",
            "=1.2.3.4",
            "a:[10.0.0.1",
        ] {
            assert!(ExtraHost::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "app",
            "1000",
            "1000:1000",
            "app:staff",
            "_svc",
            "Debian-exim",
            "www-data:www-data",
            "first.last",
            "host$",
            "postgres:ssl-cert",
        ] {
            assert!(User::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ":1000",
            "1000:",
            "a b",
            "1000:1000:1",
            "-app",
            ".app",
            "a$b",
            "99999999999",
            "abcdefghijklmnopqrstuvwxyzabcdefg",
        ] {
            assert!(User::parse(bad).is_err(), "{bad}");
        }
        for good in ["web-1", "mail.example.com", "Web1", "a"] {
            assert!(Hostname::parse(good).is_ok(), "{good}");
        }
        for bad in ["Web_1", "-web", "web.", ".web", "a..b", &"a".repeat(65)] {
            assert!(Hostname::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_label_prefix_is_refused() {
        let labels: LabelMap = serde_yaml::from_str("team: web\nversion: 1.10\n").unwrap();
        assert_eq!(labels.0["version"], "1.10");
        let error = serde_yaml::from_str::<LabelMap>("run.orcra.dev/commit: x\n").unwrap_err();
        assert!(error.to_string().contains("reserved prefix"), "{error}");
    }
}
