//! Compose's `extends`: a service built on another service of the same file or of another file
//! beside it, merged as compose merges them (mappings key by key with the extending service's
//! values winning, sequences appended, `command`, `entrypoint` and `healthcheck.test` replaced,
//! `environment`-like lists read as mappings, `volumes`, `ports`, `secrets` and `configs` kept
//! unique by their target). It resolves the file's services before any is translated and does
//! not translate a setting itself (see `service`).

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::values::{key_text, text, Path};
use super::Report;
use crate::limits::MAX_NODES;

/// How many services deep an `extends` chain may go.
const DEEPEST_CHAIN: usize = 32;

/// Keys whose list form (`KEY=value`) is a mapping for merging.
const MAPPING_KEYS: &[&str] = &[
    "annotations",
    "args",
    "environment",
    "extra_hosts",
    "labels",
    "storage_opt",
    "sysctls",
    "ulimits",
];

/// Replaces every service of `document` that has `extends` with the merge of its base and its
/// own settings. `load` reads another compose file (named relative to the compose file's
/// folder) into its document; a base that cannot be found is untranslatable, and the service
/// keeps only its own settings. `Err` when the merged services hold more than the loader's
/// [`MAX_NODES`]: every service extending one large base copies it.
pub fn resolve(
    document: &mut Value,
    load: &mut dyn FnMut(&str) -> Result<Value, String>,
    report: &mut Report,
) -> Result<(), ()> {
    let Some(Value::Mapping(services)) = document.get_mut("services") else {
        return Ok(());
    };
    let own = services.clone();
    let mut files = Files {
        own: &own,
        others: BTreeMap::new(),
        others_nodes: 0,
        load,
    };
    // Counted as each service is merged, so that a base copied into many services is refused
    // before the copies fill the memory.
    let mut total = mapping_nodes(&own);
    for (key, service) in services.iter_mut() {
        let Value::Mapping(settings) = service else {
            continue;
        };
        if !settings.contains_key("extends") {
            continue;
        }
        let name = key_text(key);
        let mut chain = Vec::new();
        let before = nodes(service);
        let Value::Mapping(settings) = service else {
            continue;
        };
        match files.resolved(None, &name, &mut chain) {
            Ok(merged) => *settings = merged,
            Err(why) => {
                let path = Path::root().key("services").key(&name).key("extends");
                report.untranslatable(&path, why);
                settings.remove("extends");
            }
        }
        total = (total + nodes(service)).saturating_sub(before);
        if total > MAX_NODES {
            return Err(());
        }
    }
    Ok(())
}

fn mapping_nodes(mapping: &Mapping) -> u64 {
    1 + mapping
        .iter()
        .map(|(key, item)| nodes(key) + nodes(item))
        .sum::<u64>()
}

/// The YAML nodes of `value`, counted as the loader's limits count them.
fn nodes(value: &Value) -> u64 {
    1 + match value {
        Value::Mapping(map) => mapping_nodes(map) - 1,
        Value::Sequence(items) => items.iter().map(nodes).sum(),
        Value::Tagged(tagged) => nodes(&tagged.value),
        _ => 0,
    }
}

/// The services of the compose file and of the other files `extends` names, each read once.
struct Files<'a> {
    own: &'a Mapping,
    others: BTreeMap<String, Result<Mapping, String>>,
    /// The YAML nodes of the other files read so far, which may not pass [`MAX_NODES`].
    others_nodes: u64,
    load: &'a mut dyn FnMut(&str) -> Result<Value, String>,
}

impl Files<'_> {
    /// The settings of service `name` of `file` (`None`: the compose file), its own `extends`
    /// resolved; `chain` holds the services on the way, to refuse a cycle.
    fn resolved(
        &mut self,
        file: Option<&str>,
        name: &str,
        chain: &mut Vec<String>,
    ) -> Result<Mapping, String> {
        let place = match file {
            Some(file) => format!("{name} of {file}"),
            None => name.to_string(),
        };
        if chain.contains(&place) {
            chain.push(place);
            return Err(format!("extends forms a cycle: {}", chain.join(" → ")));
        }
        if chain.len() >= DEEPEST_CHAIN {
            return Err(format!("extends chains more than {DEEPEST_CHAIN} services"));
        }
        chain.push(place.clone());
        let service = self.service(file, name)?;
        let Some(extends) = service.get("extends") else {
            return Ok(service);
        };
        let (base_file, base_name) = match extends {
            Value::Mapping(reference) => {
                let base_name = reference
                    .get("service")
                    .and_then(text)
                    .ok_or_else(|| "extends names no service".to_string())?;
                let base_file = reference.get("file").and_then(text);
                (
                    base_file.or_else(|| file.map(ToString::to_string)),
                    base_name,
                )
            }
            _ => {
                let base_name =
                    text(extends).ok_or_else(|| "expected a service name".to_string())?;
                (file.map(ToString::to_string), base_name)
            }
        };
        let base = self.resolved(base_file.as_deref(), &base_name, chain)?;
        let mut own = service;
        own.remove("extends");
        let merged = merge_service(base, own);
        if mapping_nodes(&merged) > MAX_NODES {
            return Err(format!(
                "{place} holds more than {MAX_NODES} YAML nodes once extends is resolved"
            ));
        }
        Ok(merged)
    }

    fn service(&mut self, file: Option<&str>, name: &str) -> Result<Mapping, String> {
        let services = match file {
            None => self.own,
            Some(file) => {
                if !self.others.contains_key(file) {
                    let mut loaded = services_of(file, (self.load)(file));
                    if let Ok(services) = &loaded {
                        self.others_nodes += mapping_nodes(services);
                        if self.others_nodes > MAX_NODES {
                            loaded = Err(format!(
                                "the files extends names hold more than {MAX_NODES} YAML nodes"
                            ));
                        }
                    }
                    self.others.insert(file.to_string(), loaded);
                }
                self.others[file].as_ref().map_err(Clone::clone)?
            }
        };
        match services.get(name) {
            Some(Value::Mapping(settings)) => Ok(settings.clone()),
            Some(_) => Err(format!("service {name} is not a mapping")),
            None => Err(match file {
                Some(file) => format!("no service {name} in {file}"),
                None => format!("no service {name} in this file"),
            }),
        }
    }
}

fn services_of(file: &str, document: Result<Value, String>) -> Result<Mapping, String> {
    match document.map_err(|why| format!("cannot read {file}: {why}"))? {
        Value::Mapping(mut top) => match top.remove("services") {
            Some(Value::Mapping(services)) => Ok(services),
            _ => Err(format!("{file} has no services")),
        },
        _ => Err(format!("{file} is not a compose file")),
    }
}

/// `own` over `base`, by compose's merge rules for `extends`.
fn merge_service(base: Mapping, own: Mapping) -> Mapping {
    merge_mapping(base, own, &|key, base, own| match key {
        "command" | "entrypoint" => own,
        "volumes" | "secrets" | "configs" => unique(base, own, target),
        "ports" => unique(base, own, |port| Some(port.clone())),
        "healthcheck" => merge_mapping_values(base, own, &|key, base, own| match key {
            "test" => own,
            _ => merge_value(key, base, own),
        }),
        _ => merge_value(key, base, own),
    })
}

/// Two values of `key` merged: mappings key by key, sequences appended, any other value the
/// extending service's.
fn merge_value(key: &str, base: Value, own: Value) -> Value {
    let (base, own) = if MAPPING_KEYS.contains(&key) {
        (as_mapping(base), as_mapping(own))
    } else {
        (base, own)
    };
    match (base, own) {
        (Value::Mapping(base), Value::Mapping(own)) => {
            Value::Mapping(merge_mapping(base, own, &merge_value))
        }
        (Value::Sequence(mut base), Value::Sequence(own)) => {
            base.extend(own);
            Value::Sequence(base)
        }
        (_, own) => own,
    }
}

type Merge<'a> = &'a dyn Fn(&str, Value, Value) -> Value;

fn merge_mapping_values(base: Value, own: Value, merge: Merge) -> Value {
    match (base, own) {
        (Value::Mapping(base), Value::Mapping(own)) => {
            Value::Mapping(merge_mapping(base, own, merge))
        }
        (_, own) => own,
    }
}

fn merge_mapping(mut base: Mapping, own: Mapping, merge: Merge) -> Mapping {
    for (key, value) in own {
        let merged = match base.remove(&key) {
            Some(old) => merge(&key_text(&key), old, value),
            None => value,
        };
        base.insert(key, merged);
    }
    base
}

/// A `KEY=value` list (or `host:address` for `extra_hosts`) as a mapping; a mapping as it is.
fn as_mapping(value: Value) -> Value {
    let Value::Sequence(items) = value else {
        return value;
    };
    let mut mapping = Mapping::new();
    for item in items {
        let entry = text(&item).unwrap_or_default();
        let split = entry.split_once('=').or_else(|| entry.split_once(':'));
        match split {
            Some((key, value)) => mapping.insert(key.into(), value.into()),
            None => mapping.insert(entry.into(), Value::Null),
        };
    }
    Value::Mapping(mapping)
}

/// Base entries first, an entry of `own` replacing the base's entry with the same key in place;
/// an entry without a key is appended.
fn unique(base: Value, own: Value, key: fn(&Value) -> Option<Value>) -> Value {
    let (mut merged, own) = match (base, own) {
        (Value::Sequence(base), Value::Sequence(own)) => (base, own),
        (_, own) => return own,
    };
    for entry in own {
        let position = key(&entry).and_then(|wanted| {
            merged
                .iter()
                .position(|existing| key(existing).as_ref() == Some(&wanted))
        });
        match position {
            Some(index) => merged[index] = entry,
            None => merged.push(entry),
        }
    }
    Value::Sequence(merged)
}

/// The container path of a volume, secret or config entry: `target`, or the short syntax's
/// second part (its only part for an anonymous volume, its name for a secret).
fn target(entry: &Value) -> Option<Value> {
    match entry {
        Value::Mapping(long) => long.get("target").cloned(),
        _ => {
            let short = text(entry)?;
            let mut parts = short.split(':');
            let first = parts.next()?;
            Some(parts.next().unwrap_or(first).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(yaml: &str, other: Option<&str>) -> (Value, Report) {
        let mut document: Value = serde_yaml::from_str(yaml).unwrap();
        let mut report = Report::default();
        let mut load = |file: &str| match (file, other) {
            ("common.yml", Some(text)) => Ok(serde_yaml::from_str(text).unwrap()),
            _ => Err("no such file".to_string()),
        };
        resolve(&mut document, &mut load, &mut report).unwrap();
        (document["services"]["app"].clone(), report)
    }

    #[test]
    fn the_extending_service_wins_and_lists_append() {
        let (app, report) = resolved(
            "services:\n  base:\n    image: busybox\n    command: [a]\n    environment: [TZ=utc, PORT=80]\n    dns: [1.1.1.1]\n    volumes: [data:/work, /cache]\n    healthcheck: {test: [CMD, a], interval: 5s}\n  app:\n    extends: base\n    command: [b]\n    environment: {PORT: 8080}\n    dns: [8.8.8.8]\n    volumes: [other:/work]\n    healthcheck: {test: [CMD, b]}\n",
            None,
        );
        assert!(report.untranslatable.is_empty());
        let expected: Value = serde_yaml::from_str(
            "image: busybox\ncommand: [b]\nenvironment: {TZ: utc, PORT: 8080}\ndns: [1.1.1.1, 8.8.8.8]\nvolumes: [other:/work, /cache]\nhealthcheck: {test: [CMD, b], interval: 5s}\n",
        )
        .unwrap();
        assert_eq!(app, expected);
    }

    #[test]
    fn a_base_in_another_file_extends_within_that_file() {
        let (app, _) = resolved(
            "services:\n  app:\n    extends: {file: common.yml, service: web}\n    ports: ['80:80']\n",
            Some("services:\n  root:\n    image: nginx\n    ports: ['80:80']\n  web:\n    extends: root\n    labels: [tier=web]\n"),
        );
        let expected: Value =
            serde_yaml::from_str("image: nginx\nports: ['80:80']\nlabels: [tier=web]\n").unwrap();
        assert_eq!(app, expected);
    }

    #[test]
    fn many_copies_of_a_large_base_are_refused() {
        let environment: Vec<String> = (0..1000).map(|n| format!("V{n}=x")).collect();
        let mut yaml =
            format!("services:\n  base:\n    image: a\n    environment: {environment:?}\n");
        for n in 0..200 {
            yaml.push_str(&format!("  s{n}: {{extends: base}}\n"));
        }
        let mut document: Value = serde_yaml::from_str(&yaml).unwrap();
        let mut load = |_: &str| Err("no such file".to_string());
        assert_eq!(
            resolve(&mut document, &mut load, &mut Report::default()),
            Err(())
        );
    }

    #[test]
    fn cycles_and_missing_bases_are_untranslatable() {
        let (app, report) = resolved(
            "services:\n  app:\n    extends: other\n    image: a\n  other:\n    extends: app\n",
            None,
        );
        assert_eq!(
            report.untranslatable[0].message,
            "extends forms a cycle: app → other → app"
        );
        assert_eq!(app, serde_yaml::from_str::<Value>("image: a\n").unwrap());
        let (_, report) = resolved(
            "services:\n  app:\n    extends: {file: missing.yml, service: x}\n",
            None,
        );
        assert_eq!(
            report.untranslatable[0].message,
            "cannot read missing.yml: no such file"
        );
    }
}
