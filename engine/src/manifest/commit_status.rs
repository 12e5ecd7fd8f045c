//! A Node's `commitStatus` (docs/node.md) as the manifest writes it: the Git host's kind, its API
//! base URL and the `secrets.yaml` key holding the token. Looking the token up and building the
//! requests belong to `commit_status`.

use std::fmt;

use serde::{de, Deserialize, Deserializer};

use super::HttpUrl;

/// Where a node reports how applying each commit went.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommitStatusSpec {
    pub provider: Provider,
    /// The API base URL: `https://api.github.com`, `https://gitea.example/api/v1`,
    /// `https://gitlab.example/api/v4`.
    pub api: HttpUrl,
    /// A key of `secrets.yaml` whose value is the API token; the node's own, never a container's.
    pub token_from: String,
}

/// The kind of Git host, which decides the request's path, header and state names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Github,
    Gitea,
    Forgejo,
    Gitlab,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitea => "gitea",
            Provider::Forgejo => "forgejo",
            Provider::Gitlab => "gitlab",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "github" => Ok(Provider::Github),
            "gitea" => Ok(Provider::Gitea),
            "forgejo" => Ok(Provider::Forgejo),
            "gitlab" => Ok(Provider::Gitlab),
            _ => Err(de::Error::custom(format!(
                "unknown provider {text:?}: use github, gitea, forgejo or gitlab"
            ))),
        }
    }
}
