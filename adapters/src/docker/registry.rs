//! The digest a registry holds under an image tag, asked with one manifest `HEAD` request (the
//! registry's `Docker-Content-Digest` answer), with the node's registry credentials: basic auth,
//! or the bearer token a registry's `WWW-Authenticate: Bearer realm=…` challenge names. It pulls
//! nothing and decides nothing: when to ask, and what a new digest does, belong to the node.
//! Credentials are sent only to the registry and its token realm, never logged or put in an error.

use std::collections::BTreeMap;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use super::credentials::{self, Credentials, RegistryCredentials};
use crate::request_problem::describe;

/// The manifest kinds a tag may name: OCI index and manifest, Docker manifest list and v2.
pub const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Where Docker Hub's registry API is.
const DOCKER_HUB_API: &str = "https://registry-1.docker.io";

/// Why the registry's digest for a tag is not known.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("cannot look up the credentials of {registry}: {source}")]
    Credentials {
        registry: String,
        source: credentials::CredentialsError,
    },
    #[error("{registry}: {problem}")]
    Request { registry: String, problem: String },
}

/// The registry API address, repository and tag of a tag reference such as
/// `127.0.0.1:5000/acme/web:1` (`http://127.0.0.1:5000`, `acme/web`, `1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagReference {
    pub api: String,
    pub repository: String,
    pub tag: String,
}

impl TagReference {
    /// `reference` split up; a loopback registry is spoken to over plain HTTP, as Docker does,
    /// every other one over HTTPS; Docker Hub's official images are under `library/`.
    pub fn parse(reference: &str) -> Self {
        let repository_and_registry = engine::image::repository(reference);
        let tag = reference[repository_and_registry.len()..]
            .strip_prefix(':')
            .unwrap_or("latest")
            .to_string();
        let (api, repository) = match engine::image::registry(repository_and_registry) {
            Some(host) => {
                let scheme = if is_loopback(host) { "http" } else { "https" };
                let path = &repository_and_registry[host.len() + 1..];
                (format!("{scheme}://{host}"), path.to_string())
            }
            None => {
                let path = repository_and_registry
                    .strip_prefix("docker.io/")
                    .or_else(|| repository_and_registry.strip_prefix("index.docker.io/"))
                    .unwrap_or(repository_and_registry);
                let path = if path.contains('/') {
                    path.to_string()
                } else {
                    format!("library/{path}")
                };
                (DOCKER_HUB_API.to_string(), path)
            }
        };
        TagReference {
            api,
            repository,
            tag,
        }
    }

    pub fn manifest_url(&self) -> String {
        format!("{}/v2/{}/manifests/{}", self.api, self.repository, self.tag)
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

/// The parameters of a `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge;
/// `None` for another scheme.
pub fn bearer_challenge(header: &str) -> Option<BTreeMap<String, String>> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parameters = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => match after.find(',') {
                Some(comma) => (&after[..comma], &after[comma..]),
                None => (after, ""),
            },
        };
        parameters.insert(name.trim().to_ascii_lowercase(), value.to_string());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    parameters.contains_key("realm").then_some(parameters)
}

/// The digest (`sha256:…`) the registry of `reference` (a tag reference) holds under its tag.
pub async fn tag_digest(
    client: &reqwest::Client,
    reference: &str,
    registry_credentials: &RegistryCredentials,
) -> Result<String, DigestError> {
    let registry = credentials::registry_name(reference).to_string();
    let key = credentials::registry_key(reference);
    let found = registry_credentials
        .for_registry(&key)
        .await
        .map_err(|source| DigestError::Credentials {
            registry: registry.clone(),
            source,
        })?;
    let failed = |problem: String| DigestError::Request {
        registry: registry.clone(),
        problem,
    };
    let tag = TagReference::parse(reference);
    let url = tag.manifest_url();
    let basic = found.as_ref().map(basic_auth);
    let response = head(client, &url, basic.as_ref()).await.map_err(&failed)?;
    let response = match response.status() {
        StatusCode::UNAUTHORIZED => {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .and_then(bearer_challenge)
                .ok_or_else(|| failed("the registry refused the credentials (401)".into()))?;
            let token = bearer_token(client, &challenge, basic.as_ref())
                .await
                .map_err(&failed)?;
            head(client, &url, Some(&token)).await.map_err(&failed)?
        }
        _ => response,
    };
    if !response.status().is_success() {
        return Err(failed(format!(
            "the registry answered {} for the tag {}",
            response.status(),
            tag.tag
        )));
    }
    response
        .headers()
        .get("docker-content-digest")
        .and_then(|value| value.to_str().ok())
        .filter(|digest| digest.starts_with("sha256:"))
        .map(str::to_string)
        .ok_or_else(|| failed("the registry answered no Docker-Content-Digest".into()))
}

async fn head(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&HeaderValue>,
) -> Result<reqwest::Response, String> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(MANIFEST_TYPES));
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, value.clone());
    }
    client
        .head(url)
        .headers(headers)
        .send()
        .await
        .map_err(|error| describe(&error))
}

/// Asks the challenge's realm for a pull token, with the basic credentials when there are any.
async fn bearer_token(
    client: &reqwest::Client,
    challenge: &BTreeMap<String, String>,
    basic: Option<&HeaderValue>,
) -> Result<HeaderValue, String> {
    let realm = &challenge["realm"];
    if !realm.starts_with("https://") && !realm.starts_with("http://") {
        return Err("the registry's token realm is not an http(s) URL".into());
    }
    let query: Vec<String> = ["service", "scope"]
        .into_iter()
        .filter_map(|name| {
            let value = challenge.get(name)?;
            Some(format!("{name}={}", engine::commit_status::encode(value)))
        })
        .collect();
    let separator = if realm.contains('?') { '&' } else { '?' };
    let url = format!("{realm}{separator}{}", query.join("&"));
    let mut request = client.get(url);
    if let Some(value) = basic {
        request = request.header(AUTHORIZATION, value.clone());
    }
    let response = request.send().await.map_err(|error| describe(&error))?;
    if !response.status().is_success() {
        return Err(format!("the token realm answered {}", response.status()));
    }
    let body = response.bytes().await.map_err(|error| describe(&error))?;
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| "the token realm answered no JSON".to_string())?;
    let token = answer["token"]
        .as_str()
        .or_else(|| answer["access_token"].as_str())
        .ok_or_else(|| "the token realm answered no token".to_string())?;
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the token realm answered a token that is not a header value".to_string())?;
    value.set_sensitive(true);
    Ok(value)
}

fn basic_auth(credentials: &Credentials) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.username, credentials.password));
    let mut value =
        HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a header value");
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_references_name_their_api_repository_and_tag() {
        let cases = [
            (
                "127.0.0.1:5000/acme/web:1",
                "http://127.0.0.1:5000",
                "acme/web",
                "1",
            ),
            (
                "localhost:5000/web",
                "http://localhost:5000",
                "web",
                "latest",
            ),
            ("ghcr.io/acme/web:2.1", "https://ghcr.io", "acme/web", "2.1"),
            ("nginx:alpine", DOCKER_HUB_API, "library/nginx", "alpine"),
            ("docker.io/acme/web:3", DOCKER_HUB_API, "acme/web", "3"),
        ];
        for (reference, api, repository, tag) in cases {
            assert_eq!(
                TagReference::parse(reference),
                TagReference {
                    api: api.to_string(),
                    repository: repository.to_string(),
                    tag: tag.to_string(),
                },
                "{reference}"
            );
        }
        assert_eq!(
            TagReference::parse("127.0.0.1:5000/acme/web:1").manifest_url(),
            "http://127.0.0.1:5000/v2/acme/web/manifests/1"
        );
    }

    #[test]
    fn a_bearer_challenge_gives_its_realm_service_and_scope() {
        let challenge = bearer_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:acme/web:pull""#,
        )
        .unwrap();
        assert_eq!(challenge["realm"], "https://auth.example/token");
        assert_eq!(challenge["service"], "registry.example");
        assert_eq!(challenge["scope"], "repository:acme/web:pull");
        assert_eq!(bearer_challenge(r#"Basic realm="Registry""#), None);
        assert_eq!(bearer_challenge("Bearer service=x"), None);
    }

    /// A registry that wants a bearer token from its realm, which wants basic credentials: a
    /// registry with token auth cannot run here, so this stand-in answers as one does.
    async fn token_registry(listener: tokio::net::TcpListener, basic: String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let port = listener.local_addr().unwrap().port();
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 8192];
            let read = stream.read(&mut buffer).await.unwrap();
            let request = String::from_utf8_lossy(&buffer[..read]).to_string();
            let has = |line: &str| request.lines().any(|l| l.eq_ignore_ascii_case(line));
            let answer = if request
                .starts_with("GET /token?service=test&scope=repository%3Aacme%2Fweb%3Apull ")
                && has(&format!("authorization: {basic}"))
            {
                "HTTP/1.1 200 OK\r\ncontent-length: 17\r\nconnection: close\r\n\r\n{\"token\":\"t0k3n\"}".to_string()
            } else if request.starts_with("HEAD /v2/acme/web/manifests/1 ")
                && has("authorization: Bearer t0k3n")
                && request.contains("application/vnd.oci.image.index.v1+json")
            {
                "HTTP/1.1 200 OK\r\ndocker-content-digest: sha256:abc\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
            } else {
                format!("HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:acme/web:pull\"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            };
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_token_registry_answers_the_digest_after_the_token_exchange() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let config = tempfile::TempDir::new().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("robot:s3cr3t");
        std::fs::write(
            config.path().join("config.json"),
            format!(r#"{{"auths":{{"{address}":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        tokio::spawn(token_registry(listener, format!("Basic {auth}")));
        let credentials = RegistryCredentials::locate(Some(("dockerConfig", config.path())));
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let digest = tag_digest(&client, &format!("{address}/acme/web:1"), &credentials)
            .await
            .unwrap();
        assert_eq!(digest, "sha256:abc");
        let refused = tag_digest(&client, &format!("{address}/acme/other:1"), &credentials)
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.starts_with(&address), "{refused}");
        assert!(
            !refused.contains("s3cr3t") && !refused.contains(&auth),
            "{refused}"
        );
    }
}
