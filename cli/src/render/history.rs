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
