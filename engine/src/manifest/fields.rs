//! Validated scalar fields of manifests: each type checks its own value while it is parsed,
//! so the YAML parser can attach the line and column. Cross-field rules live in `validate`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Component, Path};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Implements `Deserialize` for a newtype over `String` through a checking function.
macro_rules! checked_string {
    ($type:ident, $check:expr) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                let check: fn(&str) -> Result<(), String> = $check;
                check(&text).map_err(de::Error::custom)?;
                Ok($type(text))
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $type {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Checks `text` as the manifest loader would.
            pub fn parse(text: &str) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(text)?;
                Ok($type(text.to_string()))
            }
        }
    };
}

pub(crate) use checked_string;

/// A resource name: a DNS label, `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Name(String);
checked_string!(Name, check_dns_label);

pub fn check_dns_label(text: &str) -> Result<(), String> {
    let valid_chars = text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let valid_ends = !text.starts_with('-') && !text.ends_with('-');
    if text.is_empty() || text.len() > 63 || !valid_chars || !valid_ends {
        return Err(format!(
            "invalid name {text:?}: must be a DNS label of 1-63 characters a-z, 0-9 and '-', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// An image reference in Docker's grammar (`nginx:alpine`, `ghcr.io/o/app:1.2`, `repo@sha256:…`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ImageReference(String);
checked_string!(ImageReference, crate::image::check_reference);

/// A string that must not be empty (required text fields).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Text(String);
checked_string!(Text, |text| {
    if text.trim().is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(())
    }
});

/// An `http://` or `https://` URL (a notification receiver). Problems and `Debug` never show
/// it: webhook URLs carry their token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(String);
checked_string!(HttpUrl, |text| {
    if is_http_url(text) {
        Ok(())
    } else {
        Err("must be an http:// or https:// URL with a host".to_string())
    }
});

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpUrl(***)")
    }
}

/// Whether `text` is an absolute `http://` or `https://` URL with a host.
pub fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        !host.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// An explicit environment name: 1-40 characters of `[a-z0-9-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EnvironmentName(String);
checked_string!(EnvironmentName, |text| {
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    // It prefixes container, network and volume names, which Docker wants to start with a letter
    // or digit; ending with one keeps `<env>.<name>` readable.
    let valid = !text.is_empty()
        && text.len() <= 40
        && text.bytes().all(|b| alphanumeric(b) || b == b'-')
        && text.bytes().next().is_some_and(alphanumeric)
        && text.bytes().last().is_some_and(alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid environment {text:?}: must be 1-40 characters a-z, 0-9 and '-', starting and ending with a letter or digit"
        ))
    }
});

/// Where a node's status API is reached from the operator's machine (`statusAddr`): `host:port`
/// or `[v6]:port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StatusAddr(String);
checked_string!(StatusAddr, |text| {
    let valid = match split_host_port(text) {
        (host, Some(port)) => port > 0 && !host.is_empty() && !host.contains(['/', ' ', '@']),
        (_, None) => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid status address {text:?}: expected host:port, e.g. 10.0.0.5:9100 or [fd00::5]:9100"
        ))
    }
});

/// Splits a Node's `host` (`host`, `host:port`, `[v6]:port` or a bare IPv6 address) into the host
/// alone, without brackets, and the port if one is given.
pub fn split_host_port(host: &str) -> (&str, Option<u16>) {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || name.ends_with(']') => match port.parse() {
            Ok(port) => (
                name.trim_start_matches('[').trim_end_matches(']'),
                Some(port),
            ),
            Err(_) => (host, None),
        },
        _ => (host, None),
    }
}

/// An absolute path (bind mount source or target).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AbsolutePath(String);
checked_string!(AbsolutePath, |text| {
    if text.starts_with('/') {
        Ok(())
    } else {
        Err(format!("path {text:?} must be absolute"))
    }
});

/// A relative path that stays inside its base folder (build context, Dockerfile).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct InnerPath(String);
checked_string!(InnerPath, |text| {
    if text.is_empty() {
        return Err("path must not be empty".to_string());
    }
    let path = Path::new(text);
    if path.is_absolute() {
        return Err(format!("path {text:?} must be relative, not absolute"));
    }
    let mut depth: i32 = 0;
    for component in path.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("path {text:?} must be relative, not absolute"))
            }
        }
        if depth < 0 {
            return Err(format!("path {text:?} escapes its base folder with '..'"));
        }
    }
    Ok(())
});

/// A domain name or a domain template containing `$ENV`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Domain(String);
checked_string!(Domain, |text| {
    let body = text.replace("$ENV", "env");
    let valid = !body.is_empty()
        && body.len() <= 253
        && body.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid domain {text:?}: expected lowercase labels a-z, 0-9 and '-' separated by dots"
        ))
    }
});

/// A TCP/UDP port number, 1-65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortNumber(pub u16);

impl<'de> Deserialize<'de> for PortNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = PortNumber;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number between 1 and 65535")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<PortNumber, E> {
                match u16::try_from(value) {
                    Ok(port) if port > 0 => Ok(PortNumber(port)),
                    _ => Err(E::custom(format!(
                        "port {value} is out of range: must be between 1 and 65535"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<PortNumber, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::custom(format!(
                        "port {value} is out of range: must be between 1 and 65535"
                    ))),
                }
            }
        }
        deserializer.deserialize_u64(Visitor)
    }
}

impl fmt::Display for PortNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A host IP address to bind a published port on, and its text as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostIp {
    address: IpAddr,
    text: String,
}

impl HostIp {
    /// Checks `text` as the manifest loader would.
    pub fn parse(text: &str) -> Result<Self, String> {
        let address = text
            .parse()
            .map_err(|_| format!("invalid hostIP {text:?}: expected an IP address"))?;
        Ok(HostIp {
            address,
            text: text.to_string(),
        })
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl<'de> Deserialize<'de> for HostIp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HostIp::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for HostIp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A scalar value (string, number or boolean) kept as its text, as env and build args use; free
/// of control characters other than tab and newline (see [`check_env_value`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    /// The scalar's text exactly as written: `1.10` stays `1.10`, `0x1F`, `1e3`, `.inf` and `yes`
    /// stay as they are (the YAML parser would otherwise read them as numbers or booleans).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<ScalarText, E> {
                check_env_value(value).map_err(E::custom)?;
                Ok(ScalarText(value.to_string()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A map of environment variable names to scalar values, names checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnvMap(pub BTreeMap<String, ScalarText>);

impl<'de> Deserialize<'de> for EnvMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, ScalarText>::deserialize(deserializer)?;
        for name in map.keys() {
            check_env_name(name).map_err(de::Error::custom)?;
        }
        Ok(EnvMap(map))
    }
}

/// Environment variable names: non-empty, no `=`, no whitespace, no NUL or other control
/// character.
pub fn check_env_name(name: &str) -> Result<(), String> {
    check_key_name("variable", name)
}

/// Names of `what` (variables, labels, sysctls) as `NAME=value` pairs carry them: non-empty, no
/// `=`, no whitespace, no NUL or other control character.
pub fn check_key_name(what: &str, name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '=' || c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} name {name:?}: must be non-empty without '=', spaces or control characters"
        ))
    }
}

/// Environment and build-argument values: no NUL (the kernel ends a variable there, so Docker
/// refuses it) and no other control character but tab and newline, which multi-line values such
/// as certificates need; the rest (escape sequences, carriage returns) only ever serve to hide
/// text from a terminal. The message names the character, never the value, which may be secret.
pub fn check_env_value(value: &str) -> Result<(), String> {
    match value
        .chars()
        .find(|c| c.is_control() && *c != '\t' && *c != '\n')
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "the value contains the control character U+{:04X}: only tab and newline are allowed",
            u32::from(c)
        )),
    }
}

/// An HTTP probe target, `host:port/path` (an `http://` prefix is accepted).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpTarget {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpTarget {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid =
            |why: &str| format!("invalid probe target {text:?}: {why}; expected host:port/path");
        let rest = text.strip_prefix("http://").unwrap_or(text);
        if rest.contains("://") {
            return Err(invalid("only http is supported"));
        }
        let (authority, path) = match rest.find('/') {
            Some(index) => (&rest[..index], &rest[index..]),
            None => (rest, "/"),
        };
        let (host, port) = probe_authority(authority).map_err(|why| invalid(&why))?;
        Ok(HttpTarget {
            host,
            port,
            path: path.to_string(),
        })
    }

    /// True when the probe targets the container itself (`localhost` or `127.0.0.1`).
    pub fn is_container_local(&self) -> bool {
        is_container_local(&self.host)
    }
}

/// `localhost` and `127.0.0.1` in a probe target mean the container itself.
fn is_container_local(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1"
}

/// Splits `host:port`, checking that both are there and the port is 1-65535.
fn probe_authority(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| "the port is missing".to_string())?;
    if host.is_empty() {
        return Err("the host is missing".to_string());
    }
    if host.contains(['/', ' ']) {
        return Err(format!("{host:?} is not a host name or address"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok((host.to_string(), port)),
        _ => Err(format!("port {port:?} is not a number between 1 and 65535")),
    }
}

impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}{}", self.host, self.port, self.path)
    }
}

impl<'de> Deserialize<'de> for HttpTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HttpTarget::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for HttpTarget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A TCP probe target, `host:port`: the check passes when a connection opens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpTarget {
    pub host: String,
    pub port: u16,
}

impl TcpTarget {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (host, port) = probe_authority(text)
            .map_err(|why| format!("invalid probe target {text:?}: {why}; expected host:port"))?;
        Ok(TcpTarget { host, port })
    }

    /// True when the probe targets the container itself (`localhost` or `127.0.0.1`).
    pub fn is_container_local(&self) -> bool {
        is_container_local(&self.host)
    }
}

impl fmt::Display for TcpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl<'de> Deserialize<'de> for TcpTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TcpTarget::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for TcpTarget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The command of an exec probe, run inside the container without a shell: a program and its
/// arguments, the program not empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExecCommand(Vec<String>);

impl ExecCommand {
    pub fn new(words: Vec<String>) -> Result<Self, String> {
        match words.first() {
            None => Err("exec must name a command: the list is empty".to_string()),
            Some(program) if program.trim().is_empty() => {
                Err("exec must name a command: the first word is empty".to_string())
            }
            Some(_) => Ok(ExecCommand(words)),
        }
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ExecCommand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ExecCommand::new(Vec::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

impl Serialize for ExecCommand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl fmt::Display for ExecCommand {
    /// The words as a shell would read them back, quoted where they need it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self
            .0
            .iter()
            .map(|word| {
                let plain = !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
                if plain {
                    word.clone()
                } else {
                    format!("'{}'", word.replace('\'', "'\\''"))
                }
            })
            .collect();
        f.write_str(&quoted.join(" "))
    }
}

/// What a probe checks (docs/health.md).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProbeTarget {
    /// `GET` answers 200-399.
    Http(HttpTarget),
    /// A TCP connection opens.
    Tcp(TcpTarget),
    /// The command exits 0 inside the container.
    Exec(ExecCommand),
}

impl fmt::Display for ProbeTarget {
    /// The target as failure messages name it: `host:port/path` as HTTP targets always were, the
    /// other kinds with theirs in front.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeTarget::Http(target) => write!(f, "{target}"),
            ProbeTarget::Tcp(target) => write!(f, "tcp {target}"),
            ProbeTarget::Exec(command) => write!(f, "exec {command}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_urls() {
        assert!(is_http_url("http://127.0.0.1:8080/hook"));
        assert!(is_http_url("https://u:p@example.com"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https://u@/x"));
        assert!(!is_http_url("https://example.com/a b"));
    }

    #[test]
    fn dns_labels() {
        for good in ["a", "hello-world", "web01", &"a".repeat(63)] {
            assert!(check_dns_label(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Hello", "a_b", "a.b", &"a".repeat(64)] {
            assert!(check_dns_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inner_paths_cannot_escape() {
        assert!(InnerPath::parse("app").is_ok());
        assert!(InnerPath::parse("./app/../web").is_ok());
        assert!(InnerPath::parse("../app").is_err());
        assert!(InnerPath::parse("app/../../x").is_err());
        assert!(InnerPath::parse("/abs").is_err());
    }

    #[test]
    fn probe_targets() {
        let target = HttpTarget::parse("localhost:8080/health").unwrap();
        assert_eq!(
            (target.host.as_str(), target.port, target.path.as_str()),
            ("localhost", 8080, "/health")
        );
        assert!(target.is_container_local());
        assert_eq!(HttpTarget::parse("http://10.0.0.1:80").unwrap().path, "/");
        assert!(HttpTarget::parse("localhost:http/health").is_err());
        assert!(HttpTarget::parse("localhost/health").is_err());
        assert!(HttpTarget::parse("https://x:1/").is_err());
    }

    #[test]
    fn tcp_targets() {
        let target = TcpTarget::parse("localhost:5432").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("localhost", 5432));
        assert!(target.is_container_local());
        assert_eq!(target.to_string(), "localhost:5432");
        assert!(!TcpTarget::parse("db:6379").unwrap().is_container_local());
        for bad in [
            "localhost",
            ":80",
            "db:0",
            "db:70000",
            "db:redis",
            "db:80/x",
            "a b:80",
        ] {
            assert!(TcpTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exec_commands_name_a_program_and_print_as_a_shell_reads_them() {
        let words = |words: &[&str]| words.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert!(ExecCommand::new(Vec::new()).is_err());
        assert!(ExecCommand::new(words(&["", "x"])).is_err());
        let command = ExecCommand::new(words(&["test", "-f", "/tmp/ready"])).unwrap();
        assert_eq!(command.to_string(), "test -f /tmp/ready");
        let command = ExecCommand::new(words(&["sh", "-c", "echo 'hi' there"])).unwrap();
        assert_eq!(command.to_string(), "sh -c 'echo '\\''hi'\\'' there'");
    }

    #[test]
    fn scalars_keep_the_text_as_written() {
        let text = "A: 1.10\nB: 0x1F\nC: 1e3\nD: .inf\nE: yes\nF: true\nG: 'quoted'\nH: 8080\n";
        let env: EnvMap = serde_yaml::from_str(text).unwrap();
        let values: Vec<&str> = env.0.values().map(|value| value.0.as_str()).collect();
        assert_eq!(
            values,
            ["1.10", "0x1F", "1e3", ".inf", "yes", "true", "quoted", "8080"]
        );
        assert!(serde_yaml::from_str::<EnvMap>("A: [1]\n").is_err());
        assert!(serde_yaml::from_str::<EnvMap>("A: \"a\\tb\\nc\"\n").is_ok());
        assert!(serde_yaml::from_str::<EnvMap>("A: {b: 1}\n").is_err());
    }

    #[test]
    fn values_with_nul_or_terminal_control_characters_are_refused() {
        for (text, code) in [
            ("A: \"a\\0b\"\n", "U+0000"),
            ("A: \"\\e[2J\"\n", "U+001B"),
            ("A: \"a\\rb\"\n", "U+000D"),
            ("A: \"\\x85\"\n", "U+0085"),
        ] {
            let error = serde_yaml::from_str::<EnvMap>(text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(code), "{text}: {error}");
        }
    }

    #[test]
    fn hosts_with_and_without_ports() {
        assert_eq!(split_host_port("web-01"), ("web-01", None));
        assert_eq!(split_host_port("10.0.0.5:2222"), ("10.0.0.5", Some(2222)));
        assert_eq!(split_host_port("[fd00::5]:22"), ("fd00::5", Some(22)));
        assert_eq!(split_host_port("fd00::5"), ("fd00::5", None));
        assert_eq!(split_host_port("web:ssh"), ("web:ssh", None));
    }

    #[test]
    fn status_addresses_need_a_host_and_a_port() {
        for good in ["10.0.0.5:9100", "web-01.example.com:9200", "[fd00::5]:9100"] {
            assert!(StatusAddr::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "10.0.0.5",
            ":9100",
            "web:0",
            "web:99999",
            "http://web:9100",
            "fd00::5",
        ] {
            assert!(StatusAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_names_docker_accepts() {
        for good in ["production", "feat-auth", "a", "x1"] {
            assert!(EnvironmentName::parse(good).is_ok(), "{good}");
        }
        for bad in ["-x-", "-x", "x-", "", "Prod", "a.b", &"a".repeat(41)] {
            assert!(EnvironmentName::parse(bad).is_err(), "{bad}");
        }
    }
}
