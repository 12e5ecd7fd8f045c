//! The Docker client's `config.json` as far as registry credentials go: parsing it, the key a
//! registry is known by, which credential helper serves a registry, the credentials stored in
//! `auths`, and a helper's answer. Pure; reading the file and running helpers is the parent
//! module's job. No value of the file ever appears in an error or in `Debug` output.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

/// The key Docker Hub's credentials are stored under, as `docker login` writes it.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// How Docker Hub is named in messages.
const DOCKER_HUB_NAME: &str = "docker.io";

/// Host names that all mean Docker Hub.
const DOCKER_HUB_HOSTS: [&str; 3] = ["index.docker.io", "docker.io", "registry-1.docker.io"];

/// The key of the registry `reference` is pulled from: `host[:port]`, or [`DOCKER_HUB_KEY`].
pub fn registry_key(reference: &str) -> String {
    engine::image::registry(reference).map_or_else(|| DOCKER_HUB_KEY.to_string(), str::to_string)
}

/// The registry `reference` is pulled from as messages name it: `host[:port]` or `docker.io`.
pub fn registry_name(reference: &str) -> &str {
    engine::image::registry(reference).unwrap_or(DOCKER_HUB_NAME)
}

/// The host a configuration key stands for, as Docker compares them: without scheme and path
/// (`https://ghcr.io/v1/` is `ghcr.io`), every name of Docker Hub as `index.docker.io`.
pub fn hostname(key: &str) -> &str {
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme.split('/').next().unwrap_or(without_scheme);
    if DOCKER_HUB_HOSTS.contains(&host) {
        DOCKER_HUB_HOSTS[0]
    } else {
        host
    }
}

/// A user name with its password or identity token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth token exchanged for registry tokens instead of the password.
    pub identity_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    fn is_empty(&self) -> bool {
        self.username.is_empty() && self.password.is_empty() && self.identity_token.is_none()
    }
}

/// The credential parts of `config.json`; its other settings are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

/// One `auths` entry: `auth` (base64 of `user:password`), or `username` and `password`, and an
/// optional `identitytoken`.
#[derive(Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("AuthEntry")
    }
}

/// Parses `config.json`; the error gives the place of a syntax error, never the text around it.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    serde_json::from_str(text).map_err(|error| {
        format!(
            "not a Docker client configuration (line {}, column {}): expected a JSON object with string values in auths, credHelpers and credsStore",
            error.line(),
            error.column()
        )
    })
}

impl ConfigFile {
    /// The `credHelpers` helper named for `key`'s registry (`docker-credential-<name>`).
    pub fn cred_helper(&self, key: &str) -> Option<&str> {
        find(&self.cred_helpers, key).map(|(_, name)| name.as_str())
    }

    /// `credsStore`: the helper that holds every registry's credentials not given a helper of
    /// their own.
    pub fn creds_store(&self) -> Option<&str> {
        self.creds_store.as_deref().filter(|name| !name.is_empty())
    }

    /// The credentials `auths` stores for `key`'s registry; an entry without any is none.
    pub fn stored(&self, key: &str) -> Result<Option<Credentials>, String> {
        let Some((found, entry)) = find(&self.auths, key) else {
            return Ok(None);
        };
        let mut credentials = Credentials {
            username: entry.username.clone().unwrap_or_default(),
            password: entry.password.clone().unwrap_or_default(),
            identity_token: entry
                .identitytoken
                .clone()
                .filter(|token| !token.is_empty()),
        };
        if let Some(auth) = entry.auth.as_deref().filter(|auth| !auth.is_empty()) {
            let (username, password) = decode_auth(auth).ok_or_else(|| {
                format!("auths entry {found:?}: auth is not the base64 of user:password")
            })?;
            credentials.username = username;
            credentials.password = password;
        }
        Ok((!credentials.is_empty()).then_some(credentials))
    }

    /// Every registry key the file names in `auths` or `credHelpers`.
    pub fn registry_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .auths
            .keys()
            .chain(self.cred_helpers.keys())
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The entry of `map` for `key`: the exact key, else the first whose host is `key`'s host.
fn find<'a, T>(map: &'a BTreeMap<String, T>, key: &str) -> Option<(&'a String, &'a T)> {
    map.get_key_value(key).or_else(|| {
        let host = hostname(key);
        map.iter()
            .find(|(candidate, _)| hostname(candidate) == host)
    })
}

fn decode_auth(auth: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some((username.to_string(), password.to_string()))
}

/// What `docker-credential-<name> get` prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The user name a helper answers with when its secret is an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// Parses a helper's answer to `get`; the error never quotes it.
pub fn parse_helper_answer(text: &str) -> Result<Credentials, String> {
    let answer: HelperAnswer = serde_json::from_str(text).map_err(|_| {
        "its answer is not the JSON object {\"Username\", \"Secret\"} expected".to_string()
    })?;
    Ok(if answer.username == TOKEN_USERNAME {
        Credentials {
            username: String::new(),
            password: String::new(),
            identity_token: Some(answer.secret),
        }
    } else {
        Credentials {
            username: answer.username,
            password: answer.secret,
            identity_token: None,
        }
    })
}

/// The registry keys a helper's answer to `list` names.
pub fn parse_helper_list(text: &str) -> Result<Vec<String>, String> {
    let listed: BTreeMap<String, String> = serde_json::from_str(text)
        .map_err(|_| "its answer to list is not a JSON object of strings".to_string())?;
    Ok(listed.into_keys().collect())
}

/// Whether a helper's failed `get` means it holds nothing for the registry.
pub fn helper_has_none(output: &str) -> bool {
    output.contains("credentials not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "pa:ss-w0rd";

    fn credentials(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_string(),
            password: password.to_string(),
            identity_token: None,
        }
    }

    #[test]
    fn registries_are_keyed_like_the_docker_cli() {
        assert_eq!(registry_key("nginx:alpine"), DOCKER_HUB_KEY);
        assert_eq!(registry_key("docker.io/acme/app:1"), DOCKER_HUB_KEY);
        assert_eq!(registry_key("index.docker.io/acme/app"), DOCKER_HUB_KEY);
        assert_eq!(registry_key("127.0.0.1:5123/app:1"), "127.0.0.1:5123");
        assert_eq!(registry_key("ghcr.io/acme/app@sha256:abc"), "ghcr.io");
        assert_eq!(registry_name("nginx"), "docker.io");
        assert_eq!(registry_name("127.0.0.1:5123/app:1"), "127.0.0.1:5123");
    }

    #[test]
    fn hosts_compare_without_scheme_and_path() {
        assert_eq!(hostname("https://ghcr.io/v1/"), "ghcr.io");
        assert_eq!(hostname("http://127.0.0.1:5123"), "127.0.0.1:5123");
        assert_eq!(hostname("127.0.0.1:5123/"), "127.0.0.1:5123");
        assert_eq!(hostname(DOCKER_HUB_KEY), "index.docker.io");
        assert_eq!(hostname("docker.io"), "index.docker.io");
        assert_eq!(hostname("https://registry-1.docker.io"), "index.docker.io");
    }

    #[test]
    fn auths_entries_give_their_credentials() {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("orun:{PASSWORD}"));
        let config = parse(&format!(
            r#"{{"auths": {{
                "https://127.0.0.1:5001/v2/": {{"auth": "{auth}"}},
                "127.0.0.1:5002": {{"username": "u", "password": "p"}},
                "127.0.0.1:5003": {{"username": "u", "identitytoken": "token"}},
                "127.0.0.1:5004": {{}},
                "https://index.docker.io/v1/": {{"auth": "{auth}", "email": "ops@example.com"}}
            }}, "psFormat": "table", "HttpHeaders": {{"X": "y"}}}}"#
        ))
        .unwrap();
        assert_eq!(
            config.stored("127.0.0.1:5001").unwrap(),
            Some(credentials("orun", PASSWORD))
        );
        assert_eq!(
            config.stored("127.0.0.1:5002").unwrap(),
            Some(credentials("u", "p"))
        );
        assert_eq!(
            config.stored("127.0.0.1:5003").unwrap(),
            Some(Credentials {
                identity_token: Some("token".to_string()),
                ..credentials("u", "")
            })
        );
        assert_eq!(config.stored("127.0.0.1:5004").unwrap(), None);
        assert_eq!(config.stored("127.0.0.1:5005").unwrap(), None);
        assert_eq!(
            config.stored(&registry_key("acme/app")).unwrap(),
            Some(credentials("orun", PASSWORD))
        );
    }

    #[test]
    fn bad_auth_values_are_named_but_never_quoted() {
        let config = parse(r#"{"auths": {"ghcr.io": {"auth": "bm90LWEtcGFpcg=="}}}"#).unwrap();
        let error = config.stored("ghcr.io").unwrap_err();
        assert_eq!(
            error,
            r#"auths entry "ghcr.io": auth is not the base64 of user:password"#
        );
        let error = parse(&format!(
            r#"{{"auths": {{"ghcr.io": {{"auth": 1{PASSWORD}}}}}}}"#
        ))
        .unwrap_err();
        assert!(error.contains("line 1"), "{error}");
        assert!(!error.contains(PASSWORD), "{error}");
        let error = parse(r#"{"auths": {"ghcr.io": {"password": 12345678}}}"#).unwrap_err();
        assert!(!error.contains("12345678"), "{error}");
    }

    #[test]
    fn helpers_per_registry_and_the_store() {
        let config = parse(
            r#"{"credHelpers": {"https://ghcr.io": "gh", "127.0.0.1:5123": "orun-test"},
                "credsStore": "pass", "auths": {"quay.io": {}}}"#,
        )
        .unwrap();
        assert_eq!(config.cred_helper("ghcr.io"), Some("gh"));
        assert_eq!(config.cred_helper("127.0.0.1:5123"), Some("orun-test"));
        assert_eq!(config.cred_helper(DOCKER_HUB_KEY), None);
        assert_eq!(config.creds_store(), Some("pass"));
        assert_eq!(
            config.registry_keys(),
            ["127.0.0.1:5123", "https://ghcr.io", "quay.io"]
        );
        assert_eq!(parse("{}").unwrap().creds_store(), None);
    }

    #[test]
    fn helper_answers() {
        assert_eq!(
            parse_helper_answer(
                r#"{"ServerURL": "127.0.0.1:5123", "Username": "orun", "Secret": "s"}"#
            )
            .unwrap(),
            credentials("orun", "s")
        );
        assert_eq!(
            parse_helper_answer(r#"{"ServerURL": "x", "Username": "<token>", "Secret": "t"}"#)
                .unwrap(),
            Credentials {
                identity_token: Some("t".to_string()),
                ..credentials("", "")
            }
        );
        let error = parse_helper_answer(&format!("Secret={PASSWORD}")).unwrap_err();
        assert!(!error.contains(PASSWORD), "{error}");
        assert_eq!(
            parse_helper_list(r#"{"https://index.docker.io/v1/": "u", "ghcr.io": "v"}"#).unwrap(),
            ["ghcr.io", DOCKER_HUB_KEY]
        );
        assert!(helper_has_none(
            "credentials not found in native keychain\n"
        ));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!("{:?}", credentials("orun", PASSWORD));
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
}
