//! Notifications (docs/node.md): the events a node reports, the receivers a Node's `notifications`
//! names with their URLs taken from the manifest or from `secrets.yaml`, and the body each format
//! sends. Pure: it neither sends, queues nor reads the clock; the daemon passes the time in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Value};

use crate::error::ManifestError;
use crate::manifest::fields::is_http_url;
pub use crate::manifest::notification::{Event, Format};
use crate::manifest::NotificationSpec;
use crate::redact;
use crate::spec::SecretValue;

/// Consecutive failed fetches that make [`Event::SyncFailing`].
pub const SYNC_FAILING_AFTER: u32 = 3;

/// One receiver of a node, its URL in clear: `Debug` and [`Receiver::label`] show it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Receiver {
    url: String,
    label: String,
    pub events: BTreeSet<Event>,
    pub format: Format,
}

impl Receiver {
    /// Where to POST. Never log it: use [`Receiver::label`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The receiver as logs may name it: its URL without credentials, path or query, or the
    /// `secrets.yaml` key it comes from.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn wants(&self, event: Event) -> bool {
        self.events.contains(&event)
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("label", &self.label)
            .field("events", &self.events)
            .field("format", &self.format)
            .finish()
    }
}

/// The problems of `notifications`, a Node's field in `file`, that need no secret: each entry has
/// exactly one of `url` and `urlFrom`, and an `events` list that is not empty.
pub fn check(file: &str, notifications: &[NotificationSpec]) -> Vec<ManifestError> {
    let mut errors = Vec::new();
    for (index, spec) in notifications.iter().enumerate() {
        let entry = format!("spec.notifications[{index}]");
        match (&spec.url, &spec.url_from) {
            (Some(_), Some(_)) => errors.push(ManifestError::new(
                file,
                Some(&entry),
                "url and urlFrom are mutually exclusive: set exactly one",
            )),
            (None, None) => errors.push(ManifestError::new(
                file,
                Some(&entry),
                "one of url or urlFrom is required",
            )),
            _ => {}
        }
        if spec.events.as_ref().is_some_and(Vec::is_empty) {
            errors.push(ManifestError::new(
                file,
                Some(&format!("{entry}.events")),
                "must not be empty: leave it out to receive every event",
            ));
        }
    }
    errors
}

/// The receivers of `notifications`, a Node's field in `file`, with each `urlFrom` looked up in
/// the revision's `secrets.yaml` pairs (`shared`). Problems name the entry and field.
pub fn receivers(
    file: &str,
    notifications: &[NotificationSpec],
    shared: &BTreeMap<String, SecretValue>,
) -> Result<Vec<Receiver>, Vec<ManifestError>> {
    let mut errors = check(file, notifications);
    let mut receivers = Vec::new();
    for (index, spec) in notifications.iter().enumerate() {
        let url_from = || Some(format!("spec.notifications[{index}].urlFrom"));
        let (url, label) = match (&spec.url, &spec.url_from) {
            (Some(url), None) => (url.as_str().to_string(), origin_of(url.as_str())),
            (None, Some(key)) => {
                match shared.get(key.as_str()) {
                    Some(secret) if is_http_url(secret.plaintext()) => (
                        secret.plaintext().to_string(),
                        format!("secrets.yaml:{key}"),
                    ),
                    Some(_) => {
                        errors.push(ManifestError::new(
                        file,
                        url_from().as_deref(),
                        format!("the value of {key} in secrets.yaml is not an http:// or https:// URL"),
                    ));
                        continue;
                    }
                    None => {
                        errors.push(ManifestError::new(
                            file,
                            url_from().as_deref(),
                            format!("secrets.yaml has no key {key}"),
                        ));
                        continue;
                    }
                }
            }
            _ => continue,
        };
        receivers.push(Receiver {
            url,
            label,
            events: match &spec.events {
                Some(events) => events.iter().copied().collect(),
                None => Event::ALL.into_iter().collect(),
            },
            format: spec.format,
        });
    }
    if errors.is_empty() {
        Ok(receivers)
    } else {
        errors.sort();
        Err(errors)
    }
}

/// `scheme://host[:port]` of a URL: paths and queries of webhook URLs often hold their token.
pub(crate) fn origin_of(url: &str) -> String {
    let redacted = redact::url_credentials(url);
    let Some((scheme, rest)) = redacted.split_once("://") else {
        return redact::REDACTED.to_string();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// One notification's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub event: Event,
    /// The node's `metadata.name`.
    pub node: String,
    pub environment: String,
    /// The deployment it concerns; `None` for node-wide events.
    pub deployment: Option<String>,
    /// The full commit hash in force (for `revision_invalid`, the rejected one).
    pub commit: String,
    pub message: String,
    /// RFC 3339 UTC.
    pub time: String,
}

impl Notice {
    /// The request body in `format`.
    pub fn body(&self, format: Format) -> Value {
        match format {
            Format::Json => json!({
                "event": self.event.as_str(),
                "node": self.node,
                "environment": self.environment,
                "deployment": self.deployment,
                "commit": self.commit,
                "message": self.message,
                "time": self.time,
            }),
            Format::Slack => json!({ "text": self.text() }),
        }
    }

    /// The same facts as one line of text.
    pub fn text(&self) -> String {
        let deployment = match &self.deployment {
            Some(deployment) => format!(", deployment {deployment}"),
            None => String::new(),
        };
        format!(
            "[orun] {event} on node {node} ({environment}){deployment}, commit {commit}: {message} ({time})",
            event = self.event,
            node = self.node,
            environment = self.environment,
            commit = self.commit,
            message = self.message,
            time = self.time,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::HttpUrl;
    use crate::spec::FingerprintKey;

    fn spec(url: Option<&str>, url_from: Option<&str>) -> NotificationSpec {
        NotificationSpec {
            url: url.map(|url| HttpUrl::parse(url).unwrap()),
            url_from: url_from.map(str::to_string),
            events: None,
            format: Format::Json,
        }
    }

    fn shared(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        let key = FingerprintKey::derive(&[7; 32]);
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), SecretValue::new(value.to_string(), &key)))
            .collect()
    }

    fn messages(errors: Vec<ManifestError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_receiver_without_events_gets_every_event() {
        let receivers = receivers(
            "nodes/a.yaml",
            &[spec(
                Some("https://user:pw@hooks.example.com/T0/B0/x?y=1"),
                None,
            )],
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(receivers.len(), 1);
        assert!(Event::ALL.iter().all(|event| receivers[0].wants(*event)));
        assert_eq!(
            receivers[0].url(),
            "https://user:pw@hooks.example.com/T0/B0/x?y=1"
        );
        assert_eq!(receivers[0].label(), "https://hooks.example.com");
        assert!(!format!("{:?}", receivers[0]).contains("T0"));
    }

    #[test]
    fn url_from_names_a_key_of_the_secrets_file() {
        let mut only = spec(None, Some("SLACK_URL"));
        only.events = Some(vec![Event::RolledBack]);
        only.format = Format::Slack;
        let secrets = shared(&[("SLACK_URL", "https://hooks.slack.com/services/T/B/c")]);
        let receivers = receivers("nodes/a.yaml", &[only], &secrets).unwrap();
        assert_eq!(receivers[0].url(), "https://hooks.slack.com/services/T/B/c");
        assert_eq!(receivers[0].label(), "secrets.yaml:SLACK_URL");
        assert!(receivers[0].wants(Event::RolledBack));
        assert!(!receivers[0].wants(Event::RolloutSucceeded));
        assert_eq!(receivers[0].format, Format::Slack);
    }

    #[test]
    fn each_bad_entry_is_reported_by_its_field() {
        let mut empty = spec(Some("http://127.0.0.1:9/"), None);
        empty.events = Some(Vec::new());
        let errors = receivers(
            "nodes/a.yaml",
            &[
                spec(Some("http://127.0.0.1:9/"), Some("URL")),
                spec(None, None),
                spec(None, Some("MISSING")),
                spec(None, Some("NOT_A_URL")),
                empty,
            ],
            &shared(&[("NOT_A_URL", "hunter2")]),
        )
        .unwrap_err();
        assert_eq!(
            messages(errors),
            [
                "nodes/a.yaml: spec.notifications[0]: url and urlFrom are mutually exclusive: set exactly one",
                "nodes/a.yaml: spec.notifications[1]: one of url or urlFrom is required",
                "nodes/a.yaml: spec.notifications[2].urlFrom: secrets.yaml has no key MISSING",
                "nodes/a.yaml: spec.notifications[3].urlFrom: the value of NOT_A_URL in secrets.yaml is not an http:// or https:// URL",
                "nodes/a.yaml: spec.notifications[4].events: must not be empty: leave it out to receive every event",
            ]
        );
    }

    fn notice(deployment: Option<&str>) -> Notice {
        Notice {
            event: Event::RolloutSucceeded,
            node: "web-01".to_string(),
            environment: "production".to_string(),
            deployment: deployment.map(str::to_string),
            commit: "9f2c6d1e0b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d".to_string(),
            message: "web is running and ready".to_string(),
            time: "2026-11-26T10:00:00Z".to_string(),
        }
    }

    #[test]
    fn the_json_body_names_every_fact() {
        assert_eq!(
            notice(Some("web")).body(Format::Json),
            json!({
                "event": "rollout_succeeded",
                "node": "web-01",
                "environment": "production",
                "deployment": "web",
                "commit": "9f2c6d1e0b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
                "message": "web is running and ready",
                "time": "2026-11-26T10:00:00Z",
            })
        );
        assert_eq!(notice(None).body(Format::Json)["deployment"], Value::Null);
    }

    #[test]
    fn the_slack_body_is_one_text_with_the_same_facts() {
        assert_eq!(
            notice(Some("web")).body(Format::Slack),
            json!({"text": "[orun] rollout_succeeded on node web-01 (production), deployment web, commit 9f2c6d1e0b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d: web is running and ready (2026-11-26T10:00:00Z)"})
        );
        assert!(notice(None)
            .text()
            .starts_with("[orun] rollout_succeeded on node web-01 (production), commit "));
    }

    #[test]
    fn event_names_match_their_serde_names() {
        for event in Event::ALL {
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                Value::String(event.as_str().to_string())
            );
        }
    }
}
