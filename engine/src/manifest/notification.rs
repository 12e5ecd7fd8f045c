//! A Node's `notifications` entries (docs/node.md) as the manifest writes them: the receiver's URL
//! or the `secrets.yaml` key holding it, the events it wants and the body format. Checking an entry
//! and looking its URL up in the secrets belong to `notify`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::HttpUrl;

/// One entry of a Node's `notifications`: exactly one of `url` and `urlFrom` (checked with the
/// revision's secrets by `notify::receivers`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotificationSpec {
    pub url: Option<HttpUrl>,
    /// A key of `secrets.yaml` whose value is the URL.
    pub url_from: Option<String>,
    /// The events to send; every event when absent.
    pub events: Option<Vec<Event>>,
    #[serde(default)]
    pub format: Format,
}

/// What happened, as a receiver's `events` list and the body's `event` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A create or recreate finished with its container ready (the first create included).
    RolloutSucceeded,
    /// A create or recreate failed and no earlier container took over.
    RolloutFailed,
    /// A recreate failed and the previous container serves again.
    RolledBack,
    /// A fetched commit failed validation and was skipped.
    RevisionInvalid,
    /// The Git fetch failed `notify::SYNC_FAILING_AFTER` times in a row.
    SyncFailing,
    /// A fetch succeeded after [`Event::SyncFailing`].
    SyncRecovered,
    /// A deployment was acted on too often and is left alone until a new commit.
    Flapping,
    /// A failing liveness probe restarted a container.
    LivenessRestart,
    /// A job's change run exited with code 0.
    JobSucceeded,
    /// A job's change run exited with another code or outlasted its timeout.
    JobFailed,
    /// An operator pinned the node to a commit (`orun pin`).
    Pinned,
    /// An operator lifted the pin (`orun unpin`).
    Unpinned,
    /// An operator suspended the node's actions (`orun suspend`).
    Suspended,
    /// An operator resumed the node's actions (`orun resume`).
    Resumed,
    /// The registry has a new image under the tag of a deployment with `imageUpdates: notify`.
    ImageAvailable,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::RolloutSucceeded => "rollout_succeeded",
            Event::RolloutFailed => "rollout_failed",
            Event::RolledBack => "rolled_back",
            Event::RevisionInvalid => "revision_invalid",
            Event::SyncFailing => "sync_failing",
            Event::SyncRecovered => "sync_recovered",
            Event::Flapping => "flapping",
            Event::LivenessRestart => "liveness_restart",
            Event::JobSucceeded => "job_succeeded",
            Event::JobFailed => "job_failed",
            Event::Pinned => "pinned",
            Event::Unpinned => "unpinned",
            Event::Suspended => "suspended",
            Event::Resumed => "resumed",
            Event::ImageAvailable => "image_available",
        }
    }

    pub const ALL: [Event; 15] = [
        Event::RolloutSucceeded,
        Event::RolloutFailed,
        Event::RolledBack,
        Event::RevisionInvalid,
        Event::SyncFailing,
        Event::SyncRecovered,
        Event::Flapping,
        Event::LivenessRestart,
        Event::JobSucceeded,
        Event::JobFailed,
        Event::Pinned,
        Event::Unpinned,
        Event::Suspended,
        Event::Resumed,
        Event::ImageAvailable,
    ];
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body a receiver gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The facts as named JSON fields.
    #[default]
    Json,
    /// `{"text": …}`, what a Slack (or Mattermost, Rocket.Chat) incoming webhook takes.
    Slack,
}
