//! Compose `ports` (short `[IP:][HOST:]CONTAINER[/PROTO]` and long syntax, ranges expanded) and
//! `expose` as orun ports. It does not check host-port clashes: the loader does.

use serde_yaml::Value;

use super::values::{key_text, text, Path};
use super::Report;
use crate::manifest::{HostIp, PortNumber, PortSpec, Protocol};

/// Translates `ports` items into `out`.
pub fn published(value: &Value, path: &Path, out: &mut Vec<PortSpec>, report: &mut Report) {
    let Some(items) = value.as_sequence() else {
        report.untranslatable(path, "expected a list");
        return;
    };
    for (index, item) in items.iter().enumerate() {
        let path = path.index(index);
        let parsed = match item {
            Value::Mapping(_) => long_syntax(item, &path, report),
            _ => match text(item) {
                Some(spec) => short_syntax(&spec),
                None => Err("expected a port such as 8080:80".to_string()),
            },
        };
        match parsed {
            Ok(ports) => {
                if ports.iter().any(|port| port.port.is_none()) {
                    report.note(
                        &path,
                        "compose publishes this on a random host port; orun leaves it unpublished, reachable on the environment network",
                    );
                }
                out.extend(ports);
            }
            Err(message) => report.untranslatable(&path, message),
        }
    }
}

/// Translates `expose` items into unpublished ports, skipping container ports already listed.
pub fn exposed(value: &Value, path: &Path, out: &mut Vec<PortSpec>, report: &mut Report) {
    let Some(items) = value.as_sequence() else {
        report.untranslatable(path, "expected a list");
        return;
    };
    for (index, item) in items.iter().enumerate() {
        let path = path.index(index);
        let Some(spec) = text(item) else {
            report.untranslatable(&path, "expected a port such as 8080");
            continue;
        };
        let (ports, protocol) = split_protocol(&spec);
        let parsed = protocol.and_then(|protocol| {
            Ok(range(ports)?
                .into_iter()
                .map(|container_port| unpublished(container_port, protocol))
                .collect::<Vec<_>>())
        });
        match parsed {
            Ok(ports) => {
                for port in ports {
                    let listed = out.iter().any(|known| {
                        known.container_port == port.container_port
                            && known.protocol == port.protocol
                    });
                    if !listed {
                        out.push(port);
                    }
                }
            }
            Err(message) => report.untranslatable(&path, message),
        }
    }
}

fn unpublished(container_port: PortNumber, protocol: Protocol) -> PortSpec {
    PortSpec {
        container_port,
        port: None,
        protocol,
        host_ip: None,
        mode: None,
    }
}

/// `8080/udp` → (`8080`, udp); tcp when none is given.
fn split_protocol(spec: &str) -> (&str, Result<Protocol, String>) {
    match spec.rsplit_once('/') {
        Some((ports, protocol)) => (ports, protocol_name(protocol)),
        None => (spec, Ok(Protocol::Tcp)),
    }
}

fn protocol_name(protocol: &str) -> Result<Protocol, String> {
    match protocol {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(format!("protocol {other:?}: orun publishes tcp and udp")),
    }
}

/// `8000` or `8000-8005`.
fn range(spec: &str) -> Result<Vec<PortNumber>, String> {
    let number = |text: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .map(PortNumber)
            .ok_or_else(|| format!("invalid port {text:?}"))
    };
    match spec.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            if first > last {
                return Err(format!("invalid port range {spec:?}"));
            }
            Ok((first.0..=last.0).map(PortNumber).collect())
        }
        None => Ok(vec![number(spec)?]),
    }
}

/// Pairs host and container ports of equal-length ranges; the host IP counts only for ports
/// published on the host.
fn pair(
    host_ip: Option<String>,
    host: Option<&str>,
    container: &str,
    protocol: Protocol,
) -> Result<Vec<PortSpec>, String> {
    let container_ports = range(container)?;
    let host_ports = match host {
        Some(host) if !host.is_empty() => range(host)?.into_iter().map(Some).collect(),
        _ => vec![None; container_ports.len()],
    };
    if host_ports.len() != container_ports.len() {
        return Err(format!(
            "host ports {} and container ports {container} differ in number; orun publishes each container port on one chosen host port",
            host.unwrap_or_default()
        ));
    }
    let host_ip = match host_ip {
        Some(ip) if host_ports.iter().any(Option::is_some) => Some(HostIp::parse(&ip)?),
        _ => None,
    };
    Ok(container_ports
        .into_iter()
        .zip(host_ports)
        .map(|(container_port, port)| PortSpec {
            container_port,
            port,
            protocol,
            host_ip: host_ip.clone().filter(|_| port.is_some()),
            mode: None,
        })
        .collect())
}

/// `[IP:][HOST:]CONTAINER[/PROTO]`, with `[::1]` for an IPv6 address.
fn short_syntax(spec: &str) -> Result<Vec<PortSpec>, String> {
    let (addresses, protocol) = split_protocol(spec);
    let protocol = protocol?;
    let (host_ip, rest) = match addresses.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, rest) = bracketed
                .split_once("]:")
                .ok_or_else(|| format!("invalid port {spec:?}"))?;
            (Some(ip.to_string()), rest)
        }
        None => (None, addresses),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    match (host_ip, parts.as_slice()) {
        (None, [container]) => pair(None, None, container, protocol),
        (None, [host, container]) => pair(None, Some(host), container, protocol),
        (None, [ip, host, container]) => {
            pair(Some(ip.to_string()), Some(host), container, protocol)
        }
        (Some(ip), [host, container]) => pair(Some(ip), Some(host), container, protocol),
        _ => Err(format!("invalid port {spec:?}")),
    }
}

/// `{target, published, host_ip, protocol, mode}`.
fn long_syntax(item: &Value, path: &Path, report: &mut Report) -> Result<Vec<PortSpec>, String> {
    let mapping = item.as_mapping().expect("called with a mapping");
    let mut target = None;
    let mut published = None;
    let mut host_ip = None;
    let mut protocol = Protocol::Tcp;
    for (key, value) in mapping {
        let key = key_text(key);
        match key.as_str() {
            "target" => target = text(value),
            "published" => published = text(value),
            "host_ip" => host_ip = text(value),
            "protocol" => protocol = protocol_name(&text(value).unwrap_or_default())?,
            "mode" | "name" | "app_protocol" => {
                report.note(
                    &path.key(&key),
                    "dropped, it has no effect on a single host",
                );
            }
            _ => report.untranslatable(&path.key(&key), "orun has no equivalent"),
        }
    }
    let target = target.ok_or_else(|| "a port needs a target".to_string())?;
    pair(host_ip, published.as_deref(), &target, protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(container_port: u16, port: Option<u16>) -> PortSpec {
        PortSpec {
            container_port: PortNumber(container_port),
            port: port.map(PortNumber),
            protocol: Protocol::Tcp,
            host_ip: None,
            mode: None,
        }
    }

    #[test]
    fn short_syntax_forms() {
        assert_eq!(short_syntax("80"), Ok(vec![port(80, None)]));
        assert_eq!(short_syntax("8080:80"), Ok(vec![port(80, Some(8080))]));
        assert_eq!(
            short_syntax("127.0.0.1:8080:80/udp"),
            Ok(vec![PortSpec {
                container_port: PortNumber(80),
                port: Some(PortNumber(8080)),
                protocol: Protocol::Udp,
                host_ip: Some(HostIp::parse("127.0.0.1").unwrap()),
                mode: None,
            }])
        );
        assert_eq!(
            short_syntax("[::1]:53:53").unwrap()[0].host_ip,
            Some(HostIp::parse("::1").unwrap())
        );
        assert_eq!(
            short_syntax("9000-9001:8000-8001"),
            Ok(vec![port(8000, Some(9000)), port(8001, Some(9001))])
        );
        assert!(short_syntax("9000-9002:8000").is_err());
        assert!(short_syntax("80/sctp").is_err());
        assert!(short_syntax("http").is_err());
        assert!(short_syntax("localhost:8080:80").is_err());
        assert_eq!(short_syntax("localhost::80"), Ok(vec![port(80, None)]));
    }
}
