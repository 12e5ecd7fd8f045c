//! A node's apply history as a table: one row per apply, newest first, with what each deployment
//! ran.

use node::server::HistoryDocument;

use super::status::{row, table};

/// The first 12 characters of an id (`sha256:` left out), as Docker shows ids.
fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..12).unwrap_or(id)
}

pub fn human(document: &HistoryDocument) -> String {
    if document.entries.is_empty() {
        return "no applies recorded yet\n".to_string();
    }
    let mut applies = table(&["finished", "commit", "outcome", "deployments"]);
    for entry in &document.entries {
        let deployments: Vec<String> = entry
            .deployments
            .iter()
            .map(|deployed| {
                let id = deployed.image_id.as_deref().map_or("-", short);
                format!("{} {} ({id})", deployed.deployment, deployed.image)
            })
            .collect();
        let outcome = serde_json::to_value(entry.outcome)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default();
        applies.add_row(row(vec![
            entry.finished_at.clone(),
            short(&entry.commit).to_string(),
            outcome,
            deployments.join("\n"),
        ]));
    }
    format!("{applies}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use node::decisions::history::{ApplyOutcome, DeployedImage, HistoryEntry};

    #[test]
    fn each_apply_is_a_row_with_short_ids() {
        let document = HistoryDocument {
            entries: vec![HistoryEntry {
                commit: "9f2c6d1e0b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d".into(),
                started_at: "2026-12-06T10:00:00Z".into(),
                finished_at: "2026-12-06T10:00:04Z".into(),
                outcome: ApplyOutcome::Pinned,
                deployments: vec![DeployedImage {
                    deployment: "web".into(),
                    image: "nginx:alpine".into(),
                    image_id: Some(format!("sha256:{}", "4c01".repeat(16))),
                    digest: None,
                }],
            }],
        };
        let text = human(&document);
        for expected in [
            "2026-12-06T10:00:04Z",
            "9f2c6d1e0b7a",
            "pinned",
            "web nginx:alpine (4c014c014c01)",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        assert_eq!(
            human(&HistoryDocument {
                entries: Vec::new()
            }),
            "no applies recorded yet\n"
        );
    }
}
