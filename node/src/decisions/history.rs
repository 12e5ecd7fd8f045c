//! The apply history (docs/node.md#history) as data: which passes count as an apply, the outcome
//! an apply had, the entry it makes (commit, times, and per deployment the image reference, the
//! image id it ran and that image's registry digest when Docker knows it), the newest [`KEPT`] entries kept and the lines of `history.jsonl` read
//! back. Pure: `history.rs` reads and writes the file, and the node loop decides when.

use chrono::{DateTime, SecondsFormat, Utc};
use engine::outcome::{ActionError, Outcome};
use engine::{DesiredState, Observed};
use serde::{Deserialize, Serialize};

use super::image_updates;

/// How many entries the history keeps: the newest ones.
pub const KEPT: usize = 200;

/// How an apply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// Every action succeeded.
    Applied,
    /// A rollout failed and the previous container serves again; no other action failed.
    RolledBack,
    /// An action failed (or the pass stopped) and nothing was rolled back in its place.
    Failed,
    /// Every action succeeded, at a commit the operator pinned.
    Pinned,
}

impl ApplyOutcome {
    /// The outcome of a pass that acted: a failure wins over a rollback, which wins over success;
    /// a successful pass at a pinned commit is `pinned`.
    pub fn of(outcomes: &[Outcome], stopped: bool, pinned: bool) -> Self {
        let mut rolled_back = false;
        for outcome in outcomes {
            match &outcome.result {
                Ok(()) => {}
                Err(ActionError::RolledBack { .. }) => rolled_back = true,
                Err(_) => return ApplyOutcome::Failed,
            }
        }
        match (stopped, rolled_back, pinned) {
            (true, _, _) => ApplyOutcome::Failed,
            (false, true, _) => ApplyOutcome::RolledBack,
            (false, false, true) => ApplyOutcome::Pinned,
            (false, false, false) => ApplyOutcome::Applied,
        }
    }
}

/// One apply: a convergence pass that took at least one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub commit: String,
    pub started_at: String,
    pub finished_at: String,
    pub outcome: ApplyOutcome,
    /// Every deployment of the revision, by name.
    pub deployments: Vec<DeployedImage>,
}

/// What one deployment ran after an apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedImage {
    pub deployment: String,
    /// The image reference the revision names (a build's local tag for a build).
    pub image: String,
    /// The id of the image its first replica's container runs; `null` when none exists.
    pub image_id: Option<String>,
    /// The repository digest of that image, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// What the loop knows of an apply; the driver adds the deployments' images from Docker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyRecord {
    pub commit: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: ApplyOutcome,
}

impl ApplyRecord {
    /// The entry of this apply, with each deployment of `desired` as `observed` shows its first
    /// replica's container after the pass (`None`: Docker did not answer).
    pub fn entry(&self, desired: &DesiredState, observed: Option<&Observed>) -> HistoryEntry {
        let deployments = desired
            .deployments
            .values()
            .map(|deployment| {
                let image_id = observed.and_then(|observed| {
                    observed
                        .containers
                        .iter()
                        .find(|container| container.bare_name() == deployment.container)
                        .map(|container| container.image_id.clone())
                });
                let digest = observed
                    .zip(image_id.as_deref())
                    .and_then(|(observed, id)| {
                        image_updates::repository_digest(observed, id, &deployment.spec.image)
                    });
                DeployedImage {
                    deployment: deployment.name.clone(),
                    image: deployment.spec.image.clone(),
                    image_id,
                    digest,
                }
            })
            .collect();
        HistoryEntry {
            commit: self.commit.clone(),
            started_at: timestamp(self.started_at),
            finished_at: timestamp(self.finished_at),
            outcome: self.outcome,
            deployments,
        }
    }
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The entries of `history.jsonl`, oldest first; a line that does not parse (a torn last line,
/// say) is skipped.
pub fn parse(text: &str) -> Vec<HistoryEntry> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// `entries` with `entry` added and only the newest [`KEPT`] kept, as the file's lines.
pub fn appended(mut entries: Vec<HistoryEntry>, entry: HistoryEntry) -> String {
    entries.push(entry);
    let skip = entries.len().saturating_sub(KEPT);
    let mut text = String::new();
    for entry in &entries[skip..] {
        // An entry is strings and an enum: it always serializes.
        if let Ok(line) = serde_json::to_string(entry) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// The images (reference, image id) the newest apply of `commit` that did not fail ran, for a
/// pin of `commit` to run them again.
pub fn images_of(entries: &[HistoryEntry], commit: &str) -> Vec<(String, String)> {
    let Some(entry) = entries
        .iter()
        .rev()
        .find(|entry| entry.commit == commit && entry.outcome != ApplyOutcome::Failed)
    else {
        return Vec::new();
    };
    entry
        .deployments
        .iter()
        .filter_map(|deployed| Some((deployed.image.clone(), deployed.image_id.clone()?)))
        .collect()
}

/// The newest `limit` entries, newest first.
pub fn newest_first(entries: Vec<HistoryEntry>, limit: usize) -> Vec<HistoryEntry> {
    entries.into_iter().rev().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::outcome;
    use engine::observed::{ContainerState, ObservedContainer, ObservedImage};
    use engine::outcome::Previous;
    use engine::plan::ActionKind;
    use engine::testing::{deployment, desired};

    fn entry(commit: &str) -> HistoryEntry {
        HistoryEntry {
            commit: commit.into(),
            started_at: "2026-12-06T10:00:00Z".into(),
            finished_at: "2026-12-06T10:00:02Z".into(),
            outcome: ApplyOutcome::Applied,
            deployments: Vec::new(),
        }
    }

    #[test]
    fn a_failure_wins_over_a_rollback_which_wins_over_success() {
        let ok = outcome("web", ActionKind::Create, Ok(()));
        let rolled_back = outcome(
            "web",
            ActionKind::Recreate,
            Err(ActionError::RolledBack {
                previous: Previous::Restored,
                error: "readiness".into(),
            }),
        );
        let failed = outcome(
            "db",
            ActionKind::Create,
            Err(ActionError::Failed("no".into())),
        );
        let of = ApplyOutcome::of;
        assert_eq!(
            of(std::slice::from_ref(&ok), false, false),
            ApplyOutcome::Applied
        );
        assert_eq!(
            of(std::slice::from_ref(&ok), false, true),
            ApplyOutcome::Pinned
        );
        assert_eq!(
            of(std::slice::from_ref(&ok), true, false),
            ApplyOutcome::Failed
        );
        assert_eq!(
            of(&[ok.clone(), rolled_back.clone()], false, true),
            ApplyOutcome::RolledBack
        );
        assert_eq!(
            of(&[rolled_back, failed], false, false),
            ApplyOutcome::Failed
        );
    }

    #[test]
    fn an_entry_names_each_deployments_image_the_id_its_container_runs_and_its_digest() {
        let desired = desired("production", &[deployment("web", ""), deployment("db", "")]);
        let observed = Observed {
            containers: vec![ObservedContainer {
                id: "4c01".into(),
                name: "/web".into(),
                image: "busybox".into(),
                image_id: "sha256:b1".into(),
                state: ContainerState::Running,
                labels: Default::default(),
                resources: Default::default(),
                address: None,
                started_at: None,
            }],
            images: vec![ObservedImage {
                id: "sha256:b1".into(),
                tags: vec!["busybox:latest".into()],
                digests: vec!["busybox@sha256:d1".into()],
            }],
            ..Observed::default()
        };
        let record = ApplyRecord {
            commit: "c1".into(),
            started_at: "2026-12-06T10:00:00.5Z".parse().unwrap(),
            finished_at: "2026-12-06T10:00:02Z".parse().unwrap(),
            outcome: ApplyOutcome::Applied,
        };
        let entry = record.entry(&desired, Some(&observed));
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({
                "commit": "c1",
                "started_at": "2026-12-06T10:00:00Z",
                "finished_at": "2026-12-06T10:00:02Z",
                "outcome": "applied",
                "deployments": [
                    {"deployment": "db", "image": "busybox:latest", "image_id": null},
                    {"deployment": "web", "image": "busybox:latest", "image_id": "sha256:b1",
                     "digest": "sha256:d1"}
                ]
            })
        );
    }

    #[test]
    fn the_file_keeps_the_newest_entries_and_a_torn_line_is_skipped() {
        let mut text = String::new();
        for n in 0..KEPT {
            text = appended(parse(&text), entry(&format!("c{n}")));
        }
        text = appended(parse(&text), entry("newest"));
        let entries = parse(&text);
        assert_eq!(entries.len(), KEPT);
        assert_eq!(entries[0].commit, "c1", "the oldest went");
        assert_eq!(entries[KEPT - 1].commit, "newest");

        let torn = format!("{text}{{\"commit\": \"c");
        assert_eq!(parse(&torn).len(), KEPT);
        let mut pinned = entry("c7");
        pinned.deployments.push(DeployedImage {
            deployment: "web".into(),
            image: "nginx:alpine".into(),
            image_id: Some("sha256:old".into()),
            digest: None,
        });
        let mut failed = pinned.clone();
        failed.outcome = ApplyOutcome::Failed;
        failed.deployments[0].image_id = Some("sha256:broken".into());
        assert_eq!(
            images_of(&[pinned, failed], "c7"),
            [("nginx:alpine".to_string(), "sha256:old".to_string())],
            "the newest apply of the commit that did not fail"
        );
        let newest = newest_first(parse(&torn), 2);
        assert_eq!(
            newest.iter().map(|e| e.commit.as_str()).collect::<Vec<_>>(),
            ["newest", "c199"]
        );
    }
}
