//! The manifest fields that say where a deployment runs and how many copies of it: a Node's
//! `labels`, a Deployment's `placement` and `replicas`, each checked while it is parsed, and the
//! variable that tells a replica its number. Which
//! deployments a node runs (its share) and the rules spanning files are `engine::placement`'s.

use std::collections::BTreeMap;
use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize};

use super::fields::Name;

/// The most replicas a deployment may ask for.
pub const MAX_REPLICAS: u32 = 100;

/// Node labels, or the labels a placement asks for: keys and values of Kubernetes' label syntax.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeLabels(pub BTreeMap<String, String>);

impl NodeLabels {
    /// Whether every pair of `wanted` is one of these labels.
    pub fn carries(&self, wanted: &NodeLabels) -> bool {
        wanted
            .0
            .iter()
            .all(|(key, value)| self.0.get(key) == Some(value))
    }
}

impl<'de> Deserialize<'de> for NodeLabels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<LabelKey, LabelValue>::deserialize(deserializer)?;
        Ok(NodeLabels(
            map.into_iter()
                .map(|(key, value)| (key.0, value.0))
                .collect(),
        ))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LabelKey(String);

impl<'de> Deserialize<'de> for LabelKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let key = String::deserialize(deserializer)?;
        check_label_part("key", &key, false).map_err(de::Error::custom)?;
        Ok(LabelKey(key))
    }
}

struct LabelValue(String);

impl<'de> Deserialize<'de> for LabelValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = super::fields::ScalarText::deserialize(deserializer)?.0;
        check_label_part("value", &value, true).map_err(de::Error::custom)?;
        Ok(LabelValue(value))
    }
}

/// A label key or value: at most 63 characters `a-z A-Z 0-9 . _ -`, starting and ending with a
/// letter or digit; a value may be empty.
fn check_label_part(what: &str, text: &str, may_be_empty: bool) -> Result<(), String> {
    if text.is_empty() && may_be_empty {
        return Ok(());
    }
    let valid_chars = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let valid_ends = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if text.is_empty() || text.len() > 63 || !valid_chars || !valid_ends {
        return Err(format!(
            "invalid label {what} {text:?}: must be 1-63 characters a-z, A-Z, 0-9, '.', '_' and '-', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A Deployment's `placement`: the nodes that run it. A node must satisfy both fields that are
/// given; without the field every node of the environment runs it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Node `metadata.name`s, any of which may run it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<Name>,
    /// Labels a node must carry, every pair of them.
    #[serde(default, skip_serializing_if = "super::is_default")]
    pub labels: NodeLabels,
}

impl Placement {
    /// Whether the node `name` with `labels` matches.
    pub fn matches(&self, name: &str, labels: &NodeLabels) -> bool {
        let named = self.nodes.is_empty() || self.nodes.iter().any(|node| node.as_str() == name);
        named && labels.carries(&self.labels)
    }
}

/// A Deployment's `replicas`: 1 to [`MAX_REPLICAS`], default 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Replicas(u32);

impl Replicas {
    pub fn get(self) -> u32 {
        self.0
    }

    /// `count` replicas, if it is in range.
    pub fn new(count: u32) -> Result<Replicas, String> {
        if (1..=MAX_REPLICAS).contains(&count) {
            Ok(Replicas(count))
        } else {
            Err(format!(
                "replicas {count} is out of range: must be between 1 and {MAX_REPLICAS}"
            ))
        }
    }
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas(1)
    }
}

impl fmt::Display for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Replicas {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Replicas;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a number of replicas between 1 and {MAX_REPLICAS}")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Replicas, E> {
                let count = u32::try_from(value).unwrap_or(u32::MAX);
                Replicas::new(count).map_err(|_| {
                    E::custom(format!(
                        "replicas {value} is out of range: must be between 1 and {MAX_REPLICAS}"
                    ))
                })
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Replicas, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::custom(format!(
                        "replicas {value} is out of range: must be between 1 and {MAX_REPLICAS}"
                    ))),
                }
            }
        }
        deserializer.deserialize_u64(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_between_1_and_100() {
        assert_eq!(serde_yaml::from_str::<Replicas>("3").unwrap().get(), 3);
        for bad in ["0", "101", "-1"] {
            let error = serde_yaml::from_str::<Replicas>(bad).unwrap_err();
            assert!(
                error.to_string().contains("between 1 and 100"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn label_keys_and_values_follow_the_label_syntax() {
        let labels: NodeLabels =
            serde_yaml::from_str("role: web\nzone: eu-1.a\ngpu: ''\n").unwrap();
        assert_eq!(labels.0["zone"], "eu-1.a");
        for bad in ["ro le: web", "-role: web", "role: 'a/b'", "role/x: web"] {
            let error = serde_yaml::from_str::<NodeLabels>(bad).unwrap_err();
            assert!(
                error.to_string().contains("invalid label"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn a_placement_needs_one_of_its_nodes_and_every_label() {
        let placement: Placement =
            serde_yaml::from_str("nodes: [web-01, web-02]\nlabels: {role: web}\n").unwrap();
        let web: NodeLabels = serde_yaml::from_str("role: web\nzone: a\n").unwrap();
        let db: NodeLabels = serde_yaml::from_str("role: db\n").unwrap();
        assert!(placement.matches("web-01", &web));
        assert!(!placement.matches("web-03", &web));
        assert!(!placement.matches("web-02", &db));
        assert!(Placement::default().matches("any", &NodeLabels::default()));
    }
}
