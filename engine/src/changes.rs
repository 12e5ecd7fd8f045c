//! Field-level differences between the spec a container was created from (its `run.orcra.dev/spec`
//! label) and the desired spec, with field paths as in the manifest (`env.LOG_LEVEL`, `ports[0].port`).
//! Secrets only ever appear as fingerprints because both sides are fingerprinted JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    /// The old value, `null` when the field did not exist.
    pub old: Value,
    /// The new value, `null` when the field goes away.
    pub new: Value,
}

/// The top-level fields of a spec label, each as its compact JSON text.
pub type SpecFields = BTreeMap<String, Box<RawValue>>;

/// Splits a spec label into its top-level fields.
pub fn spec_fields(label_json: &str) -> SpecFields {
    serde_json::from_str(label_json).unwrap_or_default()
}

/// Differences from the label JSON `old_label` to the desired spec fields `new`, in field order
/// (keys sorted, list items by index), then fields that went away. An old label that is missing or
/// unreadable counts as empty, so every desired field is listed. Absent and `null` are equal.
/// Fields whose JSON text is identical are skipped without being parsed.
pub fn spec_changes(old_label: Option<&str>, new: &SpecFields) -> Vec<Change> {
    let old: BTreeMap<&str, &RawValue> = old_label
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let parse = |raw: Option<&RawValue>| {
        raw.and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .unwrap_or(Value::Null)
    };
    let mut changes = Vec::new();
    let mut path = String::new();
    for (key, new_raw) in new {
        let old_raw = old.get(key.as_str()).copied();
        if old_raw.map(RawValue::get) != Some(new_raw.get()) {
            let (old_value, new_value) = (parse(old_raw), parse(Some(new_raw)));
            with_key(&mut path, key, |path| {
                diff(&old_value, &new_value, path, &mut changes)
            });
        }
    }
    for (key, old_raw) in &old {
        if !new.contains_key(*key) {
            let old_value = parse(Some(old_raw));
            with_key(&mut path, key, |path| {
                diff(&old_value, &Value::Null, path, &mut changes)
            });
        }
    }
    // Removals are found after additions at each level; list every removal after the rest.
    changes.sort_by_key(|change| change.new.is_null());
    changes
}

/// Walks both trees together; paths are only materialised for leaves that differ.
fn diff(old: &Value, new: &Value, path: &mut String, changes: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            for (key, new_child) in new_map {
                let old_child = old_map.get(key).unwrap_or(&Value::Null);
                with_key(path, key, |path| diff(old_child, new_child, path, changes));
            }
            for (key, old_child) in old_map {
                if !new_map.contains_key(key) {
                    with_key(path, key, |path| {
                        diff(old_child, &Value::Null, path, changes)
                    });
                }
            }
        }
        (Value::Array(old_items), Value::Array(new_items)) => {
            for index in 0..old_items.len().max(new_items.len()) {
                let old_child = old_items.get(index).unwrap_or(&Value::Null);
                let new_child = new_items.get(index).unwrap_or(&Value::Null);
                with_index(path, index, |path| {
                    diff(old_child, new_child, path, changes)
                });
            }
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => {
            // A container on one side only (or facing a scalar): every leaf on each side differs.
            let empty = Value::Null;
            let (old_container, new_container) = (is_container(old), is_container(new));
            if old_container {
                diff_against_nothing(old, path, changes, Side::Old);
            } else if !old.is_null() {
                push(changes, path, old.clone(), Value::Null);
            }
            if new_container {
                diff_against_nothing(new, path, changes, Side::New);
            } else if !new.is_null() {
                push(changes, path, empty, new.clone());
            }
        }
        (old, new) if old != new => push(changes, path, old.clone(), new.clone()),
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// Lists every leaf of `value` as removed (old side) or added (new side).
fn diff_against_nothing(value: &Value, path: &mut String, changes: &mut Vec<Change>, side: Side) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, child) in map {
                with_key(path, key, |path| {
                    diff_against_nothing(child, path, changes, side)
                });
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                with_index(path, index, |path| {
                    diff_against_nothing(child, path, changes, side)
                });
            }
        }
        leaf => match side {
            Side::Old => push(changes, path, leaf.clone(), Value::Null),
            Side::New => push(changes, path, Value::Null, leaf.clone()),
        },
    }
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

fn push(changes: &mut Vec<Change>, path: &str, old: Value, new: Value) {
    changes.push(Change {
        field: path.to_string(),
        old,
        new,
    });
}

/// Appends `key` to `path`: `.key`, or `[key]` for a container path (the key of a file or
/// secret file, `files[/etc/app.conf]`), whose slashes and dots would read as more levels.
fn with_key(path: &mut String, key: &str, inner: impl FnOnce(&mut String)) {
    let length = path.len();
    if key.starts_with('/') {
        path.push('[');
        path.push_str(key);
        path.push(']');
        inner(path);
        path.truncate(length);
        return;
    }
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    inner(path);
    path.truncate(length);
}

fn with_index(path: &mut String, index: usize, inner: impl FnOnce(&mut String)) {
    let length = path.len();
    path.push('[');
    path.push_str(&index.to_string());
    path.push(']');
    inner(path);
    path.truncate(length);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(old: Option<&str>, new: Value) -> Vec<(String, Value, Value)> {
        spec_changes(old, &spec_fields(&new.to_string()))
            .into_iter()
            .map(|c| (c.field, c.old, c.new))
            .collect()
    }

    #[test]
    fn lists_changed_added_and_removed_fields() {
        let old = r#"{"image":"a:1","env":{"LOG_LEVEL":"info","GONE":"x"},"ports":[{"port":80}]}"#;
        let new =
            json!({"image":"a:1","env":{"LOG_LEVEL":"debug","NEW":"y"},"ports":[{"port":81}]});
        assert_eq!(
            fields(Some(old), new),
            vec![
                ("env.LOG_LEVEL".into(), json!("info"), json!("debug")),
                ("env.NEW".into(), Value::Null, json!("y")),
                ("ports[0].port".into(), json!(80), json!(81)),
                ("env.GONE".into(), json!("x"), Value::Null),
            ]
        );
    }

    #[test]
    fn containers_appearing_or_going_list_their_leaves() {
        let old = r#"{"command":null,"volumes":[{"hostPath":"/a"}],"build":{"context":"app"}}"#;
        let new = json!({"command":["run","x"],"volumes":[],"build":null});
        assert_eq!(
            fields(Some(old), new),
            vec![
                ("command[0]".into(), Value::Null, json!("run")),
                ("command[1]".into(), Value::Null, json!("x")),
                ("build.context".into(), json!("app"), Value::Null),
                ("volumes[0].hostPath".into(), json!("/a"), Value::Null),
            ]
        );
    }

    #[test]
    fn container_paths_are_keys_in_brackets() {
        let old = r#"{"files":{"/etc/app.conf":{"mode":"0444","sha256":"aa"}}}"#;
        let new = json!({"files":{"/etc/app.conf":{"mode":"0444","sha256":"bb"}}});
        assert_eq!(
            fields(Some(old), new),
            vec![(
                "files[/etc/app.conf].sha256".into(),
                json!("aa"),
                json!("bb")
            )]
        );
    }

    #[test]
    fn unreadable_old_label_lists_every_field() {
        assert_eq!(
            fields(Some("not json"), json!({"image":"a:1","command":null})),
            vec![("image".into(), Value::Null, json!("a:1"))]
        );
    }

    #[test]
    fn equal_specs_have_no_changes() {
        let spec = json!({"image":"a:1","env":{"A":"1"},"ports":[{"port":80}]}).to_string();
        assert!(spec_changes(Some(&spec), &spec_fields(&spec)).is_empty());
    }
}
