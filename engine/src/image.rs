//! Image references: the grammar Docker accepts, and the form Docker reports them in (implicit
//! `latest`, Docker Hub prefixes dropped). It does not talk to registries.

use std::borrow::Cow;

/// The reference in the form `docker images` lists it: `nginx:alpine`, `ghcr.io/o/app:1.2`,
/// `repo@sha256:…`; no tag means `latest`; `docker.io/library/` and `docker.io/` are dropped.
pub fn normalize(reference: &str) -> Cow<'_, str> {
    let mut name = reference;
    for prefix in [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if name.contains('@') || last_segment.contains(':') {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{name}:latest"))
    }
}

/// The registry host (`host[:port]`) named by `reference`, or `None` for Docker Hub (no registry
/// component, `docker.io` or `index.docker.io`).
pub fn registry(reference: &str) -> Option<&str> {
    let (first, _) = reference.split_once('/')?;
    (is_registry(first) && !matches!(first, "docker.io" | "index.docker.io")).then_some(first)
}

/// `reference` without its tag or digest: `registry:5000/acme/app` of
/// `registry:5000/acme/app:1.2`.
pub fn repository(reference: &str) -> &str {
    let name = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name);
    let last_segment_start = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[last_segment_start..].rfind(':') {
        Some(colon) => &name[..last_segment_start + colon],
        None => name,
    }
}

/// The longest repository name Docker accepts, registry included.
const MAX_NAME_LENGTH: usize = 255;

/// Checks `text` against Docker's reference grammar, `[registry[:port]/]path[:tag][@digest]`:
/// path components of lowercase letters and digits joined by `.`, `_`, `__` or dashes; a tag of up
/// to 128 word characters, `.` and `-`, not starting with either; a digest `algorithm:hex`.
pub fn check_reference(text: &str) -> Result<(), String> {
    let invalid = |why: &str| {
        format!(
            "invalid image reference {text:?}: {why}; expected [registry[:port]/]name[:tag][@digest], such as nginx:alpine or ghcr.io/acme/app:1.2"
        )
    };
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        check_digest(digest).map_err(|why| invalid(&why))?;
    }
    let last_slash = rest.rfind('/').map_or(0, |index| index + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(index) => (
            &rest[..last_slash + index],
            Some(&rest[last_slash + index + 1..]),
        ),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag).map_err(|why| invalid(&why))?;
    }
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(invalid(&format!(
            "the name is longer than {MAX_NAME_LENGTH} characters"
        )));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_registry(components[0]) {
        check_registry(components.remove(0)).map_err(|why| invalid(&why))?;
    }
    for component in components {
        check_path_component(component).map_err(|why| invalid(&why))?;
    }
    Ok(())
}

/// Docker reads the first of several components as a registry when it has a `.` or a `:`, is
/// `localhost`, or has an uppercase letter.
fn is_registry(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.bytes().any(|b| b.is_ascii_uppercase())
}

/// `host[:port]` with a host name of letters, digits, `-` and `.`, or `[IPv6][:port]`.
fn check_registry(registry: &str) -> Result<(), String> {
    let (host_is_valid, port) = match registry.strip_prefix('[') {
        Some(rest) => {
            let Some((address, after)) = rest.split_once(']') else {
                return Err(format!("registry {registry:?} has an unclosed '['"));
            };
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':').unwrap_or_default()),
            };
            (address.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match registry.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (registry, None),
            };
            let valid_label = |label: &str| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            };
            (host.split('.').all(valid_label), port)
        }
    };
    if !host_is_valid {
        return Err(format!(
            "registry {registry:?} is not a host name of letters, digits, '-' and '.' or a bracketed IPv6 address"
        ));
    }
    let port_is_valid =
        port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    if !port_is_valid {
        return Err(format!("registry {registry:?} has an invalid port"));
    }
    Ok(())
}

/// `[a-z0-9]+` parts joined by one separator each: `.`, `_`, `__` or a run of `-`.
fn check_path_component(component: &str) -> Result<(), String> {
    let bytes = component.as_bytes();
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut index = 0;
    let mut expect_alphanumeric = true;
    while index < bytes.len() {
        if alphanumeric(bytes[index]) {
            while index < bytes.len() && alphanumeric(bytes[index]) {
                index += 1;
            }
            expect_alphanumeric = false;
            continue;
        }
        if expect_alphanumeric {
            break;
        }
        index += match bytes[index] {
            b'.' => 1,
            b'_' if bytes.get(index + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[index..].iter().take_while(|b| **b == b'-').count(),
            _ => break,
        };
        expect_alphanumeric = true;
    }
    if expect_alphanumeric || index < bytes.len() {
        return Err(format!(
            "name component {component:?} must be lowercase letters and digits, joined by '.', '_', '__' or '-'"
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let valid = tag.len() <= 128
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1-128 letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"
        ))
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    let invalid =
        || format!("digest {digest:?} must be algorithm:hex, such as sha256:<64 hex digits>");
    let (algorithm, hex) = digest.split_once(':').ok_or_else(invalid)?;
    let valid_algorithm = algorithm.split(['+', '.', '-', '_']).all(|part| {
        part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let valid_hex = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if valid_algorithm && valid_hex {
        Ok(())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::{check_reference, normalize, registry, repository};

    #[test]
    fn repositories_of_references() {
        assert_eq!(repository("nginx:alpine"), "nginx");
        assert_eq!(repository("nginx"), "nginx");
        assert_eq!(
            repository("registry:5000/acme/app:1.2"),
            "registry:5000/acme/app"
        );
        assert_eq!(
            repository("registry:5000/acme/app"),
            "registry:5000/acme/app"
        );
        assert_eq!(repository("acme/app@sha256:abc"), "acme/app");
    }

    #[test]
    fn registries_of_references() {
        assert_eq!(registry("nginx:alpine"), None);
        assert_eq!(registry("library/nginx"), None);
        assert_eq!(registry("docker.io/library/nginx"), None);
        assert_eq!(registry("index.docker.io/acme/app:1"), None);
        assert_eq!(registry("ghcr.io/acme/app:1.2"), Some("ghcr.io"));
        assert_eq!(registry("127.0.0.1:5000/app:1"), Some("127.0.0.1:5000"));
        assert_eq!(registry("localhost/app"), Some("localhost"));
        assert_eq!(registry("[::1]:5000/app@sha256:abc"), Some("[::1]:5000"));
    }

    #[test]
    fn references_docker_accepts_pass() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for good in [
            "nginx".to_string(),
            "nginx:alpine".into(),
            "nginx:1.25.3-alpine".into(),
            "traefik/whoami".into(),
            "ghcr.io/acme/app:1.2".into(),
            "localhost:5000/app:2".into(),
            "localhost/app".into(),
            "127.0.0.1:5000/team/app_x__y.z--w:latest".into(),
            "[::1]:5000/app".into(),
            "registry.example.com/a/b/c".into(),
            format!("repo@{digest}"),
            format!("repo:tag@{digest}"),
            "orun.local/web:0123456789ab".into(),
            "Registry.Example.com/app".into(),
        ] {
            assert_eq!(check_reference(&good), Ok(()), "{good}");
        }
    }

    #[test]
    fn references_docker_refuses_fail_with_a_reason() {
        let long_name = format!("{}:1", "a".repeat(256));
        let long_tag = format!("app:{}", "a".repeat(129));
        for bad in [
            "",
            "nginx;rm -rf /",
            "nginx rm",
            "Nginx",
            "nginx:",
            "nginx:-x",
            ":latest",
            "app/",
            "/app",
            "a//b",
            "a..b",
            "a-",
            "-a",
            "repo@sha256:xyz",
            "repo@",
            "host:port/app",
            "[::1/app",
            "nginx\u{1b}[2J",
            "nginx\n",
            &long_name,
            &long_tag,
        ] {
            let error = check_reference(bad).expect_err(bad);
            let prefix = format!("invalid image reference {bad:?}: ");
            assert!(error.starts_with(&prefix), "{error}");
        }
    }

    #[test]
    fn normalizes_like_docker_lists() {
        assert_eq!(normalize("nginx"), "nginx:latest");
        assert_eq!(normalize("nginx:alpine"), "nginx:alpine");
        assert_eq!(normalize("docker.io/library/nginx:1"), "nginx:1");
        assert_eq!(
            normalize("docker.io/traefik/whoami"),
            "traefik/whoami:latest"
        );
        assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize("localhost:5000/app:2"), "localhost:5000/app:2");
        assert_eq!(normalize("repo@sha256:abc"), "repo@sha256:abc");
    }
}
