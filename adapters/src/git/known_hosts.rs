//! SSH host keys of Git remotes: which port a remote URL names, which keys OpenSSH
//! `known_hosts` text lists (or revokes) for a host and port, and the decision to accept a key.
//! It reads the known-hosts file it is given and nothing else; it does not connect.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use git2::CertificateCheckStatus;

/// Why an SSH host key was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyRefusal {
    #[error("the SSH server of {host} sent no host key")]
    NoKey { host: String },
    #[error("host key of {host} cannot be verified: cannot read known_hosts file {}: {message}", .known_hosts.display())]
    Unreadable {
        host: String,
        known_hosts: PathBuf,
        message: String,
    },
    #[error("host key of {host} is unknown: it is not listed in {}", .known_hosts.display())]
    Unknown { host: String, known_hosts: PathBuf },
    #[error("host key of {host} does not match the key listed in {}: refusing to connect", .known_hosts.display())]
    Mismatch { host: String, known_hosts: PathBuf },
    #[error("host key of {host} is marked @revoked in {}: refusing to connect", .known_hosts.display())]
    Revoked { host: String, known_hosts: PathBuf },
}

/// The SSH port of a remote URL: the one `ssh://host:port/…` names, else 22 (also for the
/// `user@host:path` form, whose colon starts the path).
pub(super) fn ssh_port(url: &str) -> u16 {
    const DEFAULT: u16 = 22;
    let Some((_, rest)) = url.split_once("://") else {
        return DEFAULT;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let port = match host_port.rsplit_once(']') {
        Some((_, after)) => after.strip_prefix(':'),
        None => host_port.rsplit_once(':').map(|(_, port)| port),
    };
    port.and_then(|port| port.parse().ok()).unwrap_or(DEFAULT)
}

/// Accepts an SSH host key only when `known_hosts` lists it for `host` on `port` and does not
/// mark it `@revoked`.
pub(super) fn check_host_key(
    host: &str,
    port: u16,
    key: Option<&[u8]>,
    known_hosts: &Path,
) -> Result<CertificateCheckStatus, HostKeyRefusal> {
    let shown = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let Some(key) = key else {
        return Err(HostKeyRefusal::NoKey { host: shown });
    };
    let known_hosts = known_hosts.to_path_buf();
    let text = match fs::read_to_string(&known_hosts) {
        Ok(text) => text,
        Err(error) => {
            return Err(HostKeyRefusal::Unreadable {
                host: shown,
                known_hosts,
                message: error.to_string(),
            })
        }
    };
    let keys = known_keys(&text, host, port);
    if keys.revoked.iter().any(|revoked| revoked.as_slice() == key) {
        Err(HostKeyRefusal::Revoked {
            host: shown,
            known_hosts,
        })
    } else if keys.listed.iter().any(|known| known.as_slice() == key) {
        Ok(CertificateCheckStatus::CertificateOk)
    } else if keys.listed.is_empty() {
        Err(HostKeyRefusal::Unknown {
            host: shown,
            known_hosts,
        })
    } else {
        Err(HostKeyRefusal::Mismatch {
            host: shown,
            known_hosts,
        })
    }
}

/// The keys known_hosts text gives one host and port.
#[derive(Debug, Default, PartialEq, Eq)]
struct KnownKeys {
    listed: Vec<Vec<u8>>,
    revoked: Vec<Vec<u8>>,
}

/// Keys listed for `host` on `port` in OpenSSH known_hosts text: a plain `host` entry is port 22,
/// `[host]:port` that port only. `@revoked` lines (for the host, or for `*`) revoke a key;
/// `@cert-authority` lines and hashed host names are not supported and match nothing.
fn known_keys(text: &str, host: &str, port: u16) -> KnownKeys {
    let mut keys = KnownKeys::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (revoked, hosts) = match fields.next() {
            Some("@revoked") => (true, fields.next()),
            Some(marker) if marker.starts_with('@') => continue,
            hosts => (false, hosts),
        };
        let (Some(hosts), Some(_key_type), Some(key)) = (hosts, fields.next(), fields.next())
        else {
            continue;
        };
        let matches = hosts.split(',').any(|pattern| {
            let (name, pattern_port) = match pattern
                .strip_prefix('[')
                .and_then(|rest| rest.split_once("]:"))
            {
                Some((name, pattern_port)) => (name, pattern_port.parse().ok()),
                None => (pattern, Some(22)),
            };
            (revoked && pattern == "*") || (name == host && pattern_port == Some(port))
        });
        let Some(key) = matches
            .then(|| base64::engine::general_purpose::STANDARD.decode(key).ok())
            .flatten()
        else {
            continue;
        };
        if revoked {
            keys.revoked.push(key);
        } else {
            keys.listed.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_accepted_only_as_listed() {
        let dir = tempfile::tempdir().unwrap();
        let known_hosts = dir.path().join("known_hosts");
        fs::write(&known_hosts, "git.example.com ssh-ed25519 AAAA\n").unwrap();
        let listed = [0u8, 0, 0];
        assert!(check_host_key("git.example.com", 22, Some(&listed), &known_hosts).is_ok());
        let refused = |host: &str, key: Option<&[u8]>| {
            check_host_key(host, 22, key, &known_hosts)
                .err()
                .map(|refusal| refusal.to_string())
        };
        let path = known_hosts.display();
        assert_eq!(
            refused("git.example.com", Some(&[1])),
            Some(format!("host key of git.example.com does not match the key listed in {path}: refusing to connect"))
        );
        assert_eq!(
            refused("other.example.com", Some(&[1])),
            Some(format!(
                "host key of other.example.com is unknown: it is not listed in {path}"
            ))
        );
        assert_eq!(
            refused("git.example.com", None).as_deref(),
            Some("the SSH server of git.example.com sent no host key")
        );
    }

    #[test]
    fn known_hosts_lines_match_plain_and_bracketed_hosts_by_port() {
        let text = "# comment\n\
                    git.example.com ssh-ed25519 AAAA\n\
                    [127.0.0.1]:2222,other ssh-ed25519 AQID\n\
                    @cert-authority git.example.com ssh-ed25519 AAAD\n\
                    |1|hashed|entry ssh-ed25519 AAAC\n";
        let listed = |host: &str, port: u16| known_keys(text, host, port).listed;
        assert_eq!(listed("git.example.com", 22), vec![vec![0u8, 0, 0]]);
        assert!(listed("git.example.com", 2222).is_empty());
        assert_eq!(listed("127.0.0.1", 2222), vec![vec![1u8, 2, 3]]);
        assert!(listed("127.0.0.1", 22).is_empty());
        assert!(listed("127.0.0.1", 2223).is_empty());
        assert_eq!(listed("other", 22), vec![vec![1u8, 2, 3]]);
        assert!(listed("unknown.example.com", 22).is_empty());
    }

    #[test]
    fn a_revoked_host_key_is_refused_even_when_also_listed() {
        let dir = tempfile::tempdir().unwrap();
        let known_hosts = dir.path().join("known_hosts");
        fs::write(
            &known_hosts,
            "git.example.com ssh-ed25519 AAAA\n@revoked git.example.com ssh-ed25519 AAAA\n\
             [git.example.com]:2222 ssh-ed25519 AQID\n@revoked * ssh-ed25519 AQID\n",
        )
        .unwrap();
        let path = known_hosts.display();
        let refusal = |port: u16, key: &[u8]| {
            check_host_key("git.example.com", port, Some(key), &known_hosts)
                .err()
                .map(|refusal| refusal.to_string())
        };
        assert_eq!(
            refusal(22, &[0, 0, 0]),
            Some(format!(
                "host key of git.example.com is marked @revoked in {path}: refusing to connect"
            ))
        );
        assert_eq!(
            refusal(2222, &[1, 2, 3]),
            Some(format!(
                "host key of [git.example.com]:2222 is marked @revoked in {path}: refusing to connect"
            ))
        );
    }

    #[test]
    fn the_ssh_port_comes_from_the_remote_url() {
        assert_eq!(ssh_port("git@github.com:acme/infra.git"), 22);
        assert_eq!(ssh_port("ssh://git@host/acme/infra.git"), 22);
        assert_eq!(ssh_port("ssh://git@host:2222/acme/infra.git"), 2222);
        assert_eq!(ssh_port("ssh://[::1]:2200/repo"), 2200);
        assert_eq!(ssh_port("ssh://[::1]/repo"), 22);
        assert_eq!(ssh_port("ssh://user:pass@host/repo"), 22);
    }
}
