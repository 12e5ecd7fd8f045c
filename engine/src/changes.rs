//! Field-level differences between the spec a container was created from (its `run.orcra.dev/spec`
//! label) and the desired spec, with field paths as in the manifest (`env.LOG_LEVEL`, `ports[0].port`).
//! Secrets only ever appear as fingerprints because both sides are fingerprinted JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    /// The old value, `null` when the field did not exist.
    pub old: Value,
    /// The new value, `null` when the field goes away.
    pub new: Value,
}

/// Differences from the label JSON `old_label` to the desired label JSON `new_label`. An old label
/// that is missing or unreadable counts as empty, so every desired field is listed.
pub fn spec_changes(old_label: Option<&str>, new_label: &str) -> Vec<Change> {
    let old = old_label
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .unwrap_or(Value::Null);
    let new = serde_json::from_str::<Value>(new_label).unwrap_or(Value::Null);
    let mut old_leaves = Vec::new();
    let mut new_leaves = Vec::new();
    flatten(&old, String::new(), &mut old_leaves);
    flatten(&new, String::new(), &mut new_leaves);
    let mut changes = Vec::new();
    for (field, new_value) in &new_leaves {
        let old_value = lookup(&old_leaves, field);
        if old_value != Some(new_value) {
            changes.push(Change {
                field: field.clone(),
                old: old_value.cloned().unwrap_or(Value::Null),
                new: new_value.clone(),
            });
        }
    }
    for (field, old_value) in &old_leaves {
        if lookup(&new_leaves, field).is_none() {
            changes.push(Change {
                field: field.clone(),
                old: old_value.clone(),
                new: Value::Null,
            });
        }
    }
    changes
}

fn lookup<'a>(leaves: &'a [(String, Value)], field: &str) -> Option<&'a Value> {
    leaves
        .iter()
        .find(|(candidate, _)| candidate == field)
        .map(|(_, value)| value)
}

/// Leaves of a JSON tree in document order; `null` leaves are left out (absent and null are equal).
fn flatten(value: &Value, path: String, into: &mut Vec<(String, Value)>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(child, child_path, into);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                flatten(child, format!("{path}[{index}]"), into);
            }
        }
        leaf => into.push((path, leaf.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_changed_added_and_removed_fields() {
        let old = r#"{"image":"a:1","env":{"LOG_LEVEL":"info","GONE":"x"},"ports":[{"port":80}]}"#;
        let new = r#"{"image":"a:1","env":{"LOG_LEVEL":"debug","NEW":"y"},"ports":[{"port":81}]}"#;
        let fields: Vec<(String, Value, Value)> = spec_changes(Some(old), new)
            .into_iter()
            .map(|c| (c.field, c.old, c.new))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("env.LOG_LEVEL".into(), json!("info"), json!("debug")),
                ("env.NEW".into(), Value::Null, json!("y")),
                ("ports[0].port".into(), json!(80), json!(81)),
                ("env.GONE".into(), json!("x"), Value::Null),
            ]
        );
    }

    #[test]
    fn unreadable_old_label_lists_every_field() {
        let changes = spec_changes(Some("not json"), r#"{"image":"a:1"}"#);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "image");
    }
}
