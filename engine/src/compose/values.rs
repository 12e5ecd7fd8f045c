//! Reading compose's loosely typed values: scalars as text, lists of text, `KEY=value` lists or
//! maps, and the dotted paths (`services.web.ports[0]`) every finding names. It knows no settings.

use std::fmt;

use serde_yaml::Value;

/// The compose path of a setting, as findings print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn root() -> Self {
        Path(String::new())
    }

    pub fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            Path(key.to_string())
        } else {
            Path(format!("{}.{key}", self.0))
        }
    }

    pub fn index(&self, index: usize) -> Self {
        Path(format!("{}[{index}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mapping key as text (compose keys are strings, but YAML allows numbers).
pub fn key_text(key: &Value) -> String {
    text(key).unwrap_or_default()
}

/// A scalar as the text compose would use; `None` for null, lists and mappings.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Tagged(tagged) => text(&tagged.value),
        Value::Null | Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

/// A list of scalars as text.
pub fn text_list(value: &Value) -> Option<Vec<String>> {
    value.as_sequence()?.iter().map(text).collect()
}

/// A boolean, also written as a string (`"true"`).
pub fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// A map, or a list of `KEY<separator>value` items, as ordered pairs; a key without a value (a
/// `null` in a map, a bare `KEY` in a list) has `None`.
pub fn pairs(value: &Value, separator: char) -> Option<Vec<(String, Option<String>)>> {
    match value {
        Value::Mapping(map) => Some(
            map.iter()
                .map(|(key, value)| (key_text(key), text(value)))
                .collect(),
        ),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = text(item)?;
                Some(match item.split_once(separator) {
                    Some((key, value)) => (key.to_string(), Some(value.to_string())),
                    None => (item, None),
                })
            })
            .collect(),
        _ => None,
    }
}
