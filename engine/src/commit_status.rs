//! Commit statuses (docs/node.md): the Git host a Node's `commitStatus` names with its token
//! looked up in `secrets.yaml`, the repository a remote URL points at, what a status says about a
//! pass, and the request each kind of host takes. Pure: it neither sends nor queues; the daemon
//! posts what [`request`] builds.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Value};

use crate::error::ManifestError;
use crate::manifest::commit_status::{CommitStatusSpec, Provider};
use crate::manifest::NodeEngine;
use crate::notify::origin_of;
use crate::outcome::Outcome;
use crate::plan::{ActionKind, Plan, Summary};
use crate::secrets::SECRETS_FILE;
use crate::spec::SecretValue;

/// The longest description GitHub takes; the others take as much.
pub const DESCRIPTION_LIMIT: usize = 140;

/// Where statuses go, the token in clear: `Debug` and [`Target::label`] leave it out.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub provider: Provider,
    /// The API base URL without a trailing `/`.
    api: String,
    token: String,
}

impl Target {
    /// The host as logs may name it: the provider and the API's `scheme://host[:port]`.
    pub fn label(&self) -> String {
        format!("{} at {}", self.provider, origin_of(&self.api))
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("api", &origin_of(&self.api))
            .field("token", &"***")
            .finish()
    }
}

/// The target of `spec`, a Node's `commitStatus` in `file`, its `tokenFrom` looked up in the
/// revision's `secrets.yaml` pairs (`shared`).
pub fn target(
    file: &str,
    spec: &CommitStatusSpec,
    shared: &BTreeMap<String, SecretValue>,
) -> Result<Target, ManifestError> {
    let key = &spec.token_from;
    let problem = match shared
        .get(key.as_str())
        .map(|value| value.plaintext().trim())
    {
        None => format!("{SECRETS_FILE} has no key {key}"),
        Some("") => format!("the value of {key} in {SECRETS_FILE} is empty"),
        Some(token) if token.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            format!("the value of {key} in {SECRETS_FILE} is not a token: it holds spaces or line breaks")
        }
        Some(token) => {
            return Ok(Target {
                provider: spec.provider,
                api: spec.api.as_str().trim_end_matches('/').to_string(),
                token: token.to_string(),
            })
        }
    };
    Err(ManifestError::new(
        file,
        Some("spec.commitStatus.tokenFrom"),
        problem,
    ))
}

/// The repository a status goes to, as the provider's API names it: `owner/repo` for GitHub,
/// Gitea and Forgejo (the last two segments of the remote's path), the project's whole path for
/// GitLab. A local path or `file://` remote (a mirror) names its last two segments for every
/// provider. `None` when the path has fewer than two segments.
pub fn repository(provider: Provider, remote: &str) -> Option<String> {
    let (path, local) = remote_path(remote);
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    if segments.len() < 2 {
        return None;
    }
    let whole = provider == Provider::Gitlab && !local;
    let kept = if whole {
        &segments[..]
    } else {
        &segments[segments.len() - 2..]
    };
    Some(kept.join("/"))
}

/// The path part of a remote URL, and whether the remote is local: `scheme://[user@]host/path`,
/// `[user@]host:path` (scp form), or a local path.
fn remote_path(remote: &str) -> (&str, bool) {
    if let Some((scheme, rest)) = remote.split_once("://") {
        let path = rest.find('/').map_or("", |slash| &rest[slash..]);
        return (path, scheme.eq_ignore_ascii_case("file"));
    }
    match remote.split_once(':') {
        Some((host, path)) if !host.is_empty() && !host.contains('/') => (path, false),
        _ => (remote, true),
    }
}

/// What a status says about a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The node started applying it.
    Pending,
    /// Applied without failures.
    Success,
    /// An action failed (a failed rollout rolled back included), or the pass could not run.
    Failure,
}

impl State {
    /// The state as `provider` names it.
    pub fn name(self, provider: Provider) -> &'static str {
        match (self, provider) {
            (State::Pending, _) => "pending",
            (State::Success, _) => "success",
            (State::Failure, Provider::Gitlab) => "failed",
            (State::Failure, _) => "failure",
        }
    }
}

/// One status to post: where, with which header, and the JSON body. `Debug` leaves the header's
/// value out.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusRequest {
    pub url: String,
    /// The header that carries the token, and its value.
    pub auth: (&'static str, String),
    pub body: Value,
}

impl fmt::Debug for StatusRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusRequest")
            .field("url", &self.url)
            .field("auth", &(self.auth.0, "***"))
            .field("body", &self.body)
            .finish()
    }
}

/// The request that posts `state` with `description` for `commit` of `repository` (see
/// [`repository`]), under `context` (`orun/<node name>`).
pub fn request(
    target: &Target,
    repository: &str,
    commit: &str,
    state: State,
    context: &str,
    description: &str,
) -> StatusRequest {
    let description = shortened(description);
    let state_name = state.name(target.provider);
    match target.provider {
        Provider::Github | Provider::Gitea | Provider::Forgejo => {
            let path: Vec<String> = repository.split('/').map(encode).collect();
            let auth = match target.provider {
                Provider::Github => format!("Bearer {}", target.token),
                _ => format!("token {}", target.token),
            };
            StatusRequest {
                url: format!(
                    "{}/repos/{}/statuses/{}",
                    target.api,
                    path.join("/"),
                    encode(commit)
                ),
                auth: ("Authorization", auth),
                body: json!({
                    "state": state_name,
                    "context": context,
                    "description": description,
                }),
            }
        }
        Provider::Gitlab => StatusRequest {
            url: format!(
                "{}/projects/{}/statuses/{}",
                target.api,
                encode(repository),
                encode(commit)
            ),
            auth: ("PRIVATE-TOKEN", target.token.clone()),
            body: json!({
                "state": state_name,
                "name": context,
                "description": description,
            }),
        },
    }
}

/// `text` cut to [`DESCRIPTION_LIMIT`] characters, an ellipsis marking the cut.
fn shortened(text: &str) -> String {
    if text.chars().count() <= DESCRIPTION_LIMIT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(DESCRIPTION_LIMIT - 1).collect();
    cut.push('…');
    cut
}

/// Percent-encodes everything but the unreserved characters of RFC 3986 (so `/` too): a path
/// segment or a query value.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Whether applying `plan` changes anything: a plan of blocked entries only is planned again at
/// every pass and reports nothing new.
pub fn acts(plan: &Plan) -> bool {
    plan.actions
        .iter()
        .any(|action| action.kind != ActionKind::Blocked)
}

/// What a plan does in a few words: `2 to create, 1 to recreate`; `no changes` for an empty one.
pub fn plan_description(plan: &Plan) -> String {
    summary_description(&plan.summary, plan.engine)
}

fn summary_description(s: &Summary, engine: NodeEngine) -> String {
    let counts: &[(usize, &str)] = match engine {
        NodeEngine::Swarm => &[
            (s.create, "to create"),
            (s.update, "to update"),
            (s.scale, "to scale"),
            (s.remove, "to remove"),
        ],
        NodeEngine::Docker => &[
            (s.create, "to create"),
            (s.recreate, "to recreate"),
            (s.remove, "to remove"),
            (s.update, "to update in place"),
            (s.start, "to start"),
            (s.run, "job run(s)"),
            (s.pull, "to pull"),
            (s.build, "to build"),
        ],
    };
    let parts: Vec<String> = counts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
    if parts.is_empty() {
        "no changes".to_string()
    } else {
        parts.join(", ")
    }
}

/// The first failed action of `outcomes` and its error: `web: recreate failed: …`.
pub fn failure_description(outcomes: &[Outcome]) -> Option<String> {
    outcomes.iter().find_map(|outcome| {
        let error = outcome.result.as_ref().err()?;
        let action = &outcome.action;
        let subject = match &action.job {
            Some(job) => job.as_str(),
            None if action.deployment.is_empty() => action.subject(),
            None => action.deployment.as_str(),
        };
        Some(format!(
            "{subject}: {} failed: {error}",
            action.kind.as_str()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::HttpUrl;
    use crate::spec::FingerprintKey;

    fn spec(provider: Provider, api: &str) -> CommitStatusSpec {
        CommitStatusSpec {
            provider,
            api: HttpUrl::parse(api).unwrap(),
            token_from: "GIT_TOKEN".to_string(),
        }
    }

    fn shared(value: &str) -> BTreeMap<String, SecretValue> {
        let key = FingerprintKey::derive(&[7; 32]);
        BTreeMap::from([(
            "GIT_TOKEN".to_string(),
            SecretValue::new(value.to_string(), &key),
        )])
    }

    fn target_of(provider: Provider, api: &str) -> Target {
        target("nodes/a.yaml", &spec(provider, api), &shared("s3cr3t\n")).unwrap()
    }

    #[test]
    fn github_takes_a_bearer_token_and_owner_and_repo_in_the_path() {
        let target = target_of(Provider::Github, "https://api.github.com/");
        let request = request(
            &target,
            "acme/infra",
            "c0ffee",
            State::Pending,
            "orun/web-01",
            "2 to create, 1 to recreate",
        );
        assert_eq!(
            request.url,
            "https://api.github.com/repos/acme/infra/statuses/c0ffee"
        );
        assert_eq!(request.auth, ("Authorization", "Bearer s3cr3t".to_string()));
        assert_eq!(
            request.body,
            json!({"state": "pending", "context": "orun/web-01", "description": "2 to create, 1 to recreate"})
        );
    }

    #[test]
    fn gitea_and_forgejo_take_a_token_header_and_the_same_body() {
        for provider in [Provider::Gitea, Provider::Forgejo] {
            let target = target_of(provider, "https://git.example/api/v1");
            let request = request(
                &target,
                "acme/infra",
                "c0ffee",
                State::Failure,
                "orun/a",
                "web failed",
            );
            assert_eq!(
                request.url,
                "https://git.example/api/v1/repos/acme/infra/statuses/c0ffee"
            );
            assert_eq!(request.auth, ("Authorization", "token s3cr3t".to_string()));
            assert_eq!(request.body["state"], "failure");
            assert_eq!(request.body["context"], "orun/a");
        }
    }

    #[test]
    fn gitlab_takes_a_private_token_and_the_encoded_project_path() {
        let target = target_of(Provider::Gitlab, "https://gitlab.example/api/v4");
        let request = request(
            &target,
            "group/sub/infra",
            "c0ffee",
            State::Failure,
            "orun/a",
            "web failed",
        );
        assert_eq!(
            request.url,
            "https://gitlab.example/api/v4/projects/group%2Fsub%2Finfra/statuses/c0ffee"
        );
        assert_eq!(request.auth, ("PRIVATE-TOKEN", "s3cr3t".to_string()));
        assert_eq!(
            request.body,
            json!({"state": "failed", "name": "orun/a", "description": "web failed"})
        );
    }

    #[test]
    fn the_token_shows_in_no_debug_form() {
        let target = target_of(Provider::Github, "https://api.github.com");
        let request = request(&target, "a/b", "c", State::Success, "orun/a", "ok");
        assert!(!format!("{target:?}").contains("s3cr3t"));
        assert!(!format!("{request:?}").contains("s3cr3t"));
        assert_eq!(target.label(), "github at https://api.github.com");
    }

    #[test]
    fn a_long_description_is_cut_to_what_github_takes() {
        let target = target_of(Provider::Github, "https://api.github.com");
        let long = "x".repeat(300);
        let request = request(&target, "a/b", "c", State::Failure, "orun/a", &long);
        let description = request.body["description"].as_str().unwrap();
        assert_eq!(description.chars().count(), DESCRIPTION_LIMIT);
        assert!(description.ends_with('…'));
    }

    #[test]
    fn a_plan_is_described_by_its_counts() {
        let summary = Summary {
            create: 2,
            recreate: 1,
            pull: 1,
            unchanged: 4,
            ..Summary::default()
        };
        assert_eq!(
            summary_description(&summary, NodeEngine::Docker),
            "2 to create, 1 to recreate, 1 to pull"
        );
        assert_eq!(
            summary_description(&Summary::default(), NodeEngine::Docker),
            "no changes"
        );
        let services = Summary {
            update: 1,
            scale: 2,
            ..Summary::default()
        };
        assert_eq!(
            summary_description(&services, NodeEngine::Swarm),
            "1 to update, 2 to scale"
        );
    }

    #[test]
    fn the_repository_comes_from_https_ssh_and_local_remotes() {
        let cases = [
            (
                Provider::Github,
                "https://github.com/acme/infra.git",
                Some("acme/infra"),
            ),
            (
                Provider::Github,
                "https://user:pw@github.com/acme/infra",
                Some("acme/infra"),
            ),
            (
                Provider::Github,
                "git@github.com:acme/infra.git",
                Some("acme/infra"),
            ),
            (
                Provider::Gitea,
                "ssh://git@git.example:2222/acme/infra.git",
                Some("acme/infra"),
            ),
            (
                Provider::Gitea,
                "https://git.example/gitea/acme/infra.git/",
                Some("acme/infra"),
            ),
            (
                Provider::Gitlab,
                "https://gitlab.example/group/sub/infra.git",
                Some("group/sub/infra"),
            ),
            (
                Provider::Gitlab,
                "git@gitlab.example:group/infra.git",
                Some("group/infra"),
            ),
            (
                Provider::Gitlab,
                "/srv/mirrors/acme/infra.git",
                Some("acme/infra"),
            ),
            (
                Provider::Github,
                "file:///srv/acme/infra.git",
                Some("acme/infra"),
            ),
            (Provider::Github, "https://github.com/infra.git", None),
            (Provider::Github, "infra.git", None),
        ];
        for (provider, remote, expected) in cases {
            assert_eq!(
                repository(provider, remote).as_deref(),
                expected,
                "{provider} {remote}"
            );
        }
    }

    #[test]
    fn a_token_key_missing_empty_or_not_a_token_is_an_error_at_token_from() {
        let spec = spec(Provider::Github, "https://api.github.com");
        let cases = [
            (BTreeMap::new(), "secrets.yaml has no key GIT_TOKEN"),
            (shared("  "), "the value of GIT_TOKEN in secrets.yaml is empty"),
            (
                shared("two words"),
                "the value of GIT_TOKEN in secrets.yaml is not a token: it holds spaces or line breaks",
            ),
        ];
        for (shared, problem) in cases {
            assert_eq!(
                target("nodes/a.yaml", &spec, &shared)
                    .unwrap_err()
                    .to_string(),
                format!("nodes/a.yaml: spec.commitStatus.tokenFrom: {problem}")
            );
        }
    }
}
