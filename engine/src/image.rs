//! Image references as Docker reports them: implicit `latest`, Docker Hub prefixes dropped.
//! It does not talk to registries.

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

#[cfg(test)]
mod tests {
    use super::normalize;

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
