//! Compose's `secrets` and `configs`: the top-level declarations, and a service's uses of them
//! as `secretFiles` and `files`. A secret's value goes into `secrets.yaml`, which the importer
//! cannot write (it is encrypted), so each declared secret gets a note saying how to add it; a
//! config's file is copied into the repository under `configs/` (the CLI copies it, naming its
//! source in [`Translation::copies`](super::Translation)), and a config written inline becomes
//! such a file. It reads no file.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::values::{key_text, text, Path};
use super::{dns_label, Report, Translation};
use crate::manifest::{AbsolutePath, FileMode, FileMount, InnerPath, SecretFileMount, SecretKey};

/// Where a declared secret's or config's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// For a config: the repository file it becomes. For a secret: the key of `secrets.yaml`.
    Usable(String),
    /// Declared, but not in a form orun can take; the declaration was reported.
    Unusable,
}

/// The secrets and configs declared at the top level, by compose name.
#[derive(Debug, Default)]
pub struct Declared {
    secrets: BTreeMap<String, Source>,
    configs: BTreeMap<String, Source>,
}

/// Reads the top-level `secrets` and `configs`, with a note per secret on adding its value to
/// `secrets.yaml`, and each config's file to copy (or inline content to write) in `translation`.
pub fn declared(top: &Mapping, translation: &mut Translation, report: &mut Report) -> Declared {
    let mut declared = Declared::default();
    for (key, value) in top
        .get("secrets")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
    {
        let name = key_text(key);
        let path = Path::root().key("secrets").key(&name);
        let source = secret(&name, value, &path, report);
        declared.secrets.insert(name, source);
    }
    for (key, value) in top
        .get("configs")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
    {
        let name = key_text(key);
        let path = Path::root().key("configs").key(&name);
        let source = config(&name, value, &path, translation, report);
        declared.configs.insert(name, source);
    }
    declared
}

/// A declared secret: the key of `secrets.yaml` that holds it, and how to put it there.
fn secret(name: &str, value: &Value, path: &Path, report: &mut Report) -> Source {
    let Ok(key) = SecretKey::parse(name) else {
        report.untranslatable(
            path,
            "the name cannot be a key of secrets.yaml (letters, digits, '_', '-' and '.')",
        );
        return Source::Unusable;
    };
    let setting = |setting: &str| value.as_mapping().and_then(|map| map.get(setting));
    let from = if let Some(file) = setting("file").and_then(text) {
        format!("the content of {file}")
    } else if let Some(variable) = setting("environment").and_then(text) {
        format!("the value of ${variable}")
    } else if setting("external").is_some() {
        "its value (it is external to the compose file)".to_string()
    } else {
        report.untranslatable(path, "expected file, environment or external");
        return Source::Unusable;
    };
    report.note(
        path,
        format!(
            "containers read it from secrets.yaml: add {from} there as key {key} (sops secrets.yaml; \
             orun secret encrypt makes inline env values only)"
        ),
    );
    Source::Usable(key.to_string())
}

/// A declared config: the repository file it becomes.
fn config(
    name: &str,
    value: &Value,
    path: &Path,
    translation: &mut Translation,
    report: &mut Report,
) -> Source {
    let setting = |setting: &str| value.as_mapping().and_then(|map| map.get(setting));
    let folder = format!("configs/{}", dns_label(name));
    if let Some(file) = setting("file").and_then(text) {
        let base = std::path::Path::new(&file)
            .file_name()
            .map(|base| base.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = format!("{folder}/{base}");
        if InnerPath::parse(&copy).is_err() || base.is_empty() {
            report.untranslatable(&path.key("file"), format!("{file} is not a file name"));
            return Source::Unusable;
        }
        report.note(path, format!("copied to {copy}"));
        translation.copies.insert(copy.clone(), file);
        Source::Usable(copy)
    } else if let Some(content) = setting("content").and_then(text) {
        let copy = format!("{folder}/{}", dns_label(name));
        report.note(path, format!("written to {copy}"));
        translation.files.insert(copy.clone(), content);
        Source::Usable(copy)
    } else {
        report.untranslatable(
            path,
            "only a config with file or content can become a repository file",
        );
        Source::Unusable
    }
}

/// One item of a service's `secrets` or `configs`: its source, and the long syntax's settings.
struct Use<'a> {
    source: String,
    settings: Option<&'a Mapping>,
}

fn uses<'a>(value: &'a Value, path: &Path, report: &mut Report) -> Vec<(Use<'a>, Path)> {
    let Some(items) = value.as_sequence() else {
        report.untranslatable(path, "expected a list");
        return Vec::new();
    };
    let mut found = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = path.index(index);
        let used = match item {
            Value::Mapping(settings) => settings.get("source").and_then(text).map(|source| Use {
                source,
                settings: Some(settings),
            }),
            other => text(other).map(|source| Use {
                source,
                settings: None,
            }),
        };
        match used {
            Some(used) => found.push((used, path)),
            None => report.untranslatable(&path, "expected a name or a mapping with source"),
        }
    }
    found
}

impl Use<'_> {
    fn setting(&self, name: &str) -> Option<String> {
        self.settings.and_then(|map| map.get(name)).and_then(text)
    }

    /// `target` as an absolute path: a relative one is under `folder`.
    fn target(
        &self,
        folder: &str,
        path: &Path,
        report: &mut Report,
    ) -> Option<Option<AbsolutePath>> {
        let Some(target) = self.setting("target") else {
            return Some(None);
        };
        let absolute = if target.starts_with('/') {
            target
        } else {
            format!("{folder}{target}")
        };
        match AbsolutePath::parse(&absolute) {
            Ok(target) => Some(Some(target)),
            Err(why) => {
                report.untranslatable(&path.key("target"), why);
                None
            }
        }
    }

    /// `mode` as octal permission bits; compose's default is `0444`.
    fn mode(&self, path: &Path, report: &mut Report) -> Option<FileMode> {
        let Some(mode) = self.setting("mode") else {
            return Some(FileMode::file());
        };
        match FileMode::parse(&mode) {
            Ok(mode) => Some(mode),
            Err(why) => {
                report.untranslatable(&path.key("mode"), why);
                None
            }
        }
    }

    fn id(&self, name: &str, path: &Path, report: &mut Report) -> Option<Option<u32>> {
        let Some(id) = self.setting(name) else {
            return Some(None);
        };
        match id.parse() {
            Ok(id) => Some(Some(id)),
            Err(_) => {
                report.untranslatable(&path.key(name), "expected a numeric id");
                None
            }
        }
    }
}

impl Declared {
    /// A service's `secrets` as `secretFiles`, at `/run/secrets/<name>` unless a target says
    /// otherwise, with compose's default mode `0444`.
    pub fn secret_files(
        &self,
        value: &Value,
        path: &Path,
        report: &mut Report,
    ) -> Vec<SecretFileMount> {
        let mut mounts = Vec::new();
        for (used, path) in uses(value, path, report) {
            let key = match self.secrets.get(&used.source) {
                Some(Source::Usable(key)) => key,
                Some(Source::Unusable) => continue,
                None => {
                    report.untranslatable(
                        &path,
                        format!("secret {} is not declared at the top level", used.source),
                    );
                    continue;
                }
            };
            let (Some(target), Some(mode), Some(uid), Some(gid)) = (
                used.target("/run/secrets/", &path, report),
                used.mode(&path, report),
                used.id("uid", &path, report),
                used.id("gid", &path, report),
            ) else {
                continue;
            };
            let Ok(key) = SecretKey::parse(key) else {
                continue;
            };
            let default_target = format!("/run/secrets/{}", key.as_str());
            mounts.push(SecretFileMount {
                target: target.filter(|target| target.as_str() != default_target),
                key,
                mode,
                uid,
                gid,
            });
        }
        mounts
    }

    /// A service's `configs` as `files`, at `/<name>` unless a target says otherwise; an owner
    /// is dropped with a note, as orun's copy belongs to root.
    pub fn files(&self, value: &Value, path: &Path, report: &mut Report) -> Vec<FileMount> {
        let mut mounts = Vec::new();
        for (used, path) in uses(value, path, report) {
            let copy = match self.configs.get(&used.source) {
                Some(Source::Usable(copy)) => copy,
                Some(Source::Unusable) => continue,
                None => {
                    report.untranslatable(
                        &path,
                        format!("config {} is not declared at the top level", used.source),
                    );
                    continue;
                }
            };
            for owner in ["uid", "gid"] {
                if used.setting(owner).is_some() {
                    report.note(
                        &path.key(owner),
                        "dropped, orun's copy of the file belongs to root: its mode says who reads it",
                    );
                }
            }
            let (Some(target), Some(mode)) =
                (used.target("/", &path, report), used.mode(&path, report))
            else {
                continue;
            };
            let target = match target {
                Some(target) => target,
                None => match AbsolutePath::parse(&format!("/{}", used.source)) {
                    Ok(target) => target,
                    Err(why) => {
                        report.untranslatable(&path, why);
                        continue;
                    }
                },
            };
            let Ok(source) = InnerPath::parse(copy) else {
                continue;
            };
            mounts.push(FileMount {
                source,
                target,
                mode,
            });
        }
        mounts
    }
}
