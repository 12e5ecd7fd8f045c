//! The text of scalars exactly as the compose file writes them, for the maps whose values compose
//! hands to the container as strings (`environment`, `labels`, `sysctls`, `build.args`): a YAML
//! parser reads `VERSION: 1.10` as the number 1.1, compose passes on `1.10`. It does not interpret
//! any setting; a file it cannot read this way keeps the parser's values.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess};
use serde::Deserialize;
use serde_yaml::Value;

use super::values::key_text;

/// Replaces the numbers and booleans in those maps of `document` (parsed from `text`) with their
/// text as written.
pub fn restore(text: &str, document: &mut Value) {
    let Ok(written) = serde_yaml::from_str::<File>(text) else {
        return;
    };
    let Some(services) = document.get_mut("services").and_then(Value::as_mapping_mut) else {
        return;
    };
    for (name, service) in written.services {
        let Some(settings) = services.get_mut(name.as_str()) else {
            continue;
        };
        for (key, texts) in [
            ("environment", service.environment),
            ("labels", service.labels),
            ("sysctls", service.sysctls),
        ] {
            replace(settings.get_mut(key), &texts);
        }
        let args = settings
            .get_mut("build")
            .and_then(|build| build.get_mut("args"));
        replace(args, &service.build.args);
    }
}

fn replace(map: Option<&mut Value>, texts: &ScalarMap) {
    let Some(map) = map.and_then(Value::as_mapping_mut) else {
        return;
    };
    for (key, value) in map.iter_mut() {
        if matches!(value, Value::Number(_) | Value::Bool(_)) {
            if let Some(text) = texts.0.get(&key_text(key)) {
                *value = Value::String(text.clone());
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct File {
    services: BTreeMap<String, Service>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Service {
    environment: ScalarMap,
    labels: ScalarMap,
    sysctls: ScalarMap,
    build: Build,
}

/// `build` as a string (no arguments) or a mapping whose `args` may be a map.
#[derive(Default)]
struct Build {
    args: ScalarMap,
}

impl<'de> Deserialize<'de> for Build {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Build;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a build context or mapping")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Build, E> {
                Ok(Build::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Build, E> {
                Ok(Build::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Build, A::Error> {
                let mut build = Build::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "args" {
                        build.args = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(build)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A `KEY: value` map's scalar texts; a list (`KEY=value` items are strings already) or a null
/// yields none.
#[derive(Default)]
struct ScalarMap(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for ScalarMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = ScalarMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map or a list")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarMap, E> {
                Ok(ScalarMap::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<ScalarMap, A::Error> {
                while items.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ScalarMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScalarMap, A::Error> {
                let mut texts = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    // A plain scalar read as a string keeps its characters as written.
                    if let Some(text) = map.next_value::<Option<String>>()? {
                        texts.insert(key, text);
                    }
                }
                Ok(ScalarMap(texts))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
