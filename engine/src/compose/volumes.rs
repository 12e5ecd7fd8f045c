//! Compose service `volumes` (bind, named, anonymous and tmpfs; short and long syntax) and
//! `tmpfs` as orun volumes and tmpfs paths. Relative bind sources become absolute paths under the
//! compose file's folder; an anonymous volume becomes a named one. It does not create anything.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use super::units;
use super::values::{flag, key_text, text, text_list, Path};
use super::{checked, dns_label, Report};
use crate::manifest::{
    AbsolutePath, Name, Propagation, Selinux, Size, TmpfsMode, TmpfsMount, VolumeSource, VolumeSpec,
};

/// What volumes need from the rest of the translation.
pub struct VolumeContext<'a> {
    pub compose_dir: &'a str,
    pub home: Option<&'a str>,
    pub deployment: &'a str,
    pub volume_names: &'a BTreeMap<String, String>,
}

/// The mounts of one service.
#[derive(Debug, Default)]
pub struct Mounts {
    pub volumes: Vec<VolumeSpec>,
    pub tmpfs: Vec<TmpfsMount>,
}

/// A volume's options, from the short syntax's third part or the long syntax's keys.
#[derive(Debug, Default)]
struct MountOptions {
    read_only: bool,
    selinux: Option<Selinux>,
    propagation: Option<Propagation>,
}

/// A propagation mode by its compose (and Docker) name.
fn propagation(text: &str) -> Option<Propagation> {
    Some(match text {
        "rprivate" => Propagation::Rprivate,
        "private" => Propagation::Private,
        "rshared" => Propagation::Rshared,
        "shared" => Propagation::Shared,
        "rslave" => Propagation::Rslave,
        "slave" => Propagation::Slave,
        _ => return None,
    })
}

/// An SELinux relabel option, `z` (shared) or `Z` (private).
fn selinux(text: &str) -> Option<Selinux> {
    match text {
        "z" => Some(Selinux::Shared),
        "Z" => Some(Selinux::Private),
        _ => None,
    }
}

/// tmpfs mount options that Docker sets on every tmpfs anyway (`rw,noexec,nosuid,nodev`).
const DOCKER_TMPFS_DEFAULTS: &[&str] = &["rw", "noexec", "nosuid", "nodev"];

/// Every named volume the services mount, by its compose name.
pub fn named_volumes_in_use(services: &Mapping) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for settings in services.values() {
        let Some(items) = settings.get("volumes").and_then(Value::as_sequence) else {
            continue;
        };
        for item in items {
            let source = match item {
                Value::Mapping(long)
                    if long.get("type").and_then(text).as_deref() == Some("volume") =>
                {
                    long.get("source").and_then(text)
                }
                _ => text(item).and_then(|spec| {
                    let (source, _) = spec.split_once(':')?;
                    (!is_host_path(source)).then(|| source.to_string())
                }),
            };
            used.extend(source);
        }
    }
    used
}

fn is_host_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

impl VolumeContext<'_> {
    /// Translates a service's `volumes` list into `mounts`.
    pub fn volumes(&self, value: &Value, path: &Path, mounts: &mut Mounts, report: &mut Report) {
        let Some(items) = value.as_sequence() else {
            report.untranslatable(path, "expected a list");
            return;
        };
        for (index, item) in items.iter().enumerate() {
            let path = path.index(index);
            match item {
                Value::Mapping(long) => self.long_syntax(long, &path, mounts, report),
                _ => match text(item) {
                    Some(spec) => self.short_syntax(&spec, &path, mounts, report),
                    None => report.untranslatable(&path, "expected a volume such as ./data:/data"),
                },
            }
        }
    }

    /// Translates a service's `tmpfs` (one path or a list) into `mounts`.
    pub fn tmpfs(&self, value: &Value, path: &Path, mounts: &mut Mounts, report: &mut Report) {
        let entries = match value {
            Value::Sequence(_) => text_list(value),
            _ => text(value).map(|entry| vec![entry]),
        };
        let Some(entries) = entries else {
            report.untranslatable(path, "expected a path or a list of paths");
            return;
        };
        for (index, entry) in entries.into_iter().enumerate() {
            let path = if value.is_sequence() {
                path.index(index)
            } else {
                path.clone()
            };
            let (target, options) = entry.split_once(':').unwrap_or((&entry, ""));
            let mut size = None;
            let mut mode = None;
            for option in options.split(',').filter(|option| !option.is_empty()) {
                match option.split_once('=') {
                    Some(("size", value)) => size = tmpfs_size(value, &path, report),
                    Some(("mode", value)) => {
                        mode = checked(Some(value.to_string()), TmpfsMode::parse, &path, report)
                    }
                    None if DOCKER_TMPFS_DEFAULTS.contains(&option) => {}
                    _ => report.untranslatable(
                        &path,
                        format!("tmpfs option {option:?}: orun sets a tmpfs's size and mode only"),
                    ),
                }
            }
            if let Some(path) =
                checked(Some(target.to_string()), AbsolutePath::parse, &path, report)
            {
                mounts.tmpfs.push(TmpfsMount { path, size, mode });
            }
        }
    }

    fn short_syntax(&self, spec: &str, path: &Path, mounts: &mut Mounts, report: &mut Report) {
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, target, options) = match parts.as_slice() {
            [target] => (None, *target, ""),
            [source, target] => (Some(*source), *target, ""),
            [source, target, options] => (Some(*source), *target, *options),
            _ => {
                report.untranslatable(path, format!("invalid volume {spec:?}"));
                return;
            }
        };
        let mut mount_options = MountOptions::default();
        for option in options.split(',').filter(|option| !option.is_empty()) {
            match option {
                "ro" => mount_options.read_only = true,
                "rw" => {}
                "z" | "Z" => mount_options.selinux = selinux(option),
                _ if propagation(option).is_some() => {
                    mount_options.propagation = propagation(option)
                }
                "cached" | "delegated" | "consistent" => report.note(
                    path,
                    format!("option {option} dropped, it only matters on Docker Desktop"),
                ),
                _ => report.untranslatable(
                    path,
                    format!("mount option {option:?} has no orun equivalent"),
                ),
            }
        }
        self.mount(source, target, mount_options, path, mounts, report);
    }

    fn long_syntax(&self, long: &Mapping, path: &Path, mounts: &mut Mounts, report: &mut Report) {
        let kind = long.get("type").and_then(text).unwrap_or_default();
        let source = long.get("source").and_then(text);
        let Some(target) = long.get("target").and_then(text) else {
            report.untranslatable(path, "a volume needs a target");
            return;
        };
        let mut options = MountOptions {
            read_only: long.get("read_only").and_then(flag).unwrap_or(false),
            ..MountOptions::default()
        };
        let mut tmpfs = TmpfsMount {
            path: AbsolutePath::parse("/").expect("constant path"),
            size: None,
            mode: None,
        };
        for (key, value) in long {
            let key = key_text(key);
            let key_path = path.key(&key);
            match (kind.as_str(), key.as_str()) {
                (_, "type" | "source" | "target" | "read_only") => {}
                (_, "consistency") => {
                    report.note(&key_path, "dropped, it only matters on Docker Desktop")
                }
                ("bind", "bind") => self.bind_options(value, &key_path, &mut options, report),
                ("tmpfs", "tmpfs") => tmpfs_options(value, &key_path, &mut tmpfs, report),
                _ => report.untranslatable(&key_path, "orun has no equivalent"),
            }
        }
        match kind.as_str() {
            "bind" | "volume" => self.mount(
                source.as_deref().filter(|source| !source.is_empty()),
                &target,
                options,
                path,
                mounts,
                report,
            ),
            "tmpfs" => {
                if let Some(target) = checked(Some(target), AbsolutePath::parse, path, report) {
                    tmpfs.path = target;
                    mounts.tmpfs.push(tmpfs);
                }
            }
            other => report.untranslatable(
                &path.key("type"),
                format!("volume type {other:?}: orun mounts bind, named and tmpfs volumes"),
            ),
        }
    }

    fn bind_options(
        &self,
        value: &Value,
        path: &Path,
        options: &mut MountOptions,
        report: &mut Report,
    ) {
        for (key, option) in value.as_mapping().into_iter().flatten() {
            let key = key_text(key);
            let key_path = path.key(&key);
            let setting = text(option).unwrap_or_default();
            match key.as_str() {
                "create_host_path" if flag(option) != Some(false) => report.note(
                    &key_path,
                    "orun creates a missing host folder, as compose does",
                ),
                "propagation" => match propagation(&setting) {
                    Some(propagation) => options.propagation = Some(propagation),
                    None => report.untranslatable(
                        &key_path,
                        format!("propagation {setting:?}: expected rprivate, private, rshared, shared, rslave or slave"),
                    ),
                },
                "selinux" => match selinux(&setting) {
                    Some(selinux) => options.selinux = Some(selinux),
                    None => report.untranslatable(
                        &key_path,
                        format!("selinux {setting:?}: expected z or Z"),
                    ),
                },
                _ => report.untranslatable(&key_path, "orun has no equivalent"),
            }
        }
    }

    /// One mount: a bind when `source` is a path, a named volume when it is a name, an anonymous
    /// volume when there is none.
    fn mount(
        &self,
        source: Option<&str>,
        target: &str,
        options: MountOptions,
        path: &Path,
        mounts: &mut Mounts,
        report: &mut Report,
    ) {
        let source = match source {
            Some(source) if is_host_path(source) => {
                let Some(host_path) = self.host_path(source) else {
                    report.untranslatable(path, format!("cannot resolve host path {source:?}"));
                    return;
                };
                checked(Some(host_path), AbsolutePath::parse, path, report)
                    .map(VolumeSource::HostPath)
            }
            Some(source) => {
                let name = self
                    .volume_names
                    .get(source)
                    .cloned()
                    .unwrap_or_else(|| dns_label(source));
                checked(Some(name), Name::parse, path, report).map(VolumeSource::Named)
            }
            None => {
                let label = format!("{}-{}", self.deployment, dns_label(target));
                let name = dns_label(&label);
                report.note(
                    path,
                    format!("anonymous volume for {target} becomes the named volume {name}"),
                );
                checked(Some(name), Name::parse, path, report).map(VolumeSource::Named)
            }
        };
        let container_path = checked(Some(target.to_string()), AbsolutePath::parse, path, report);
        let mut propagation = options.propagation;
        if let (Some(VolumeSource::Named(name)), Some(_)) = (&source, propagation) {
            report.untranslatable(
                path,
                format!("propagation applies to bind mounts only, and {name} is a named volume"),
            );
            propagation = None;
        }
        if let (Some(source), Some(container_path)) = (source, container_path) {
            mounts.volumes.push(VolumeSpec {
                source,
                container_path,
                read_only: options.read_only,
                selinux: options.selinux,
                propagation,
            });
        }
    }

    /// A bind source as an absolute, normalised path.
    fn host_path(&self, source: &str) -> Option<String> {
        let joined = if let Some(rest) = source.strip_prefix('~') {
            format!("{}/{rest}", self.home?)
        } else if source.starts_with('/') {
            source.to_string()
        } else {
            format!("{}/{source}", self.compose_dir)
        };
        normalise(&joined)
    }
}

/// A tmpfs size in bytes or with Docker's units (`64m`, read in powers of 1024 as Docker does).
fn tmpfs_size(value: &str, path: &Path, report: &mut Report) -> Option<Size> {
    let translated = units::binary_size(value);
    if translated.is_none() {
        report.untranslatable(
            path,
            format!("tmpfs size {value:?}: expected a size such as 64m"),
        );
    }
    checked(translated, Size::parse, path, report)
}

/// The long syntax's `tmpfs`: `size` and `mode`.
fn tmpfs_options(value: &Value, path: &Path, tmpfs: &mut TmpfsMount, report: &mut Report) {
    for (key, option) in value.as_mapping().into_iter().flatten() {
        let key = key_text(key);
        let key_path = path.key(&key);
        match key.as_str() {
            "size" => {
                tmpfs.size = text(option).and_then(|size| tmpfs_size(&size, &key_path, report))
            }
            "mode" => tmpfs.mode = checked(text(option), TmpfsMode::parse, &key_path, report),
            _ => report.untranslatable(&key_path, "orun sets a tmpfs's size and mode only"),
        }
    }
}

/// Resolves `.` and `..` in an absolute path; `None` if it climbs above the root.
pub fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_absolute_paths() {
        assert_eq!(
            normalise("/srv/app/./data/").as_deref(),
            Some("/srv/app/data")
        );
        assert_eq!(normalise("/srv/app/../db").as_deref(), Some("/srv/db"));
        assert_eq!(normalise("/"), Some("/".to_string()));
        assert_eq!(normalise("/.."), None);
    }
}
