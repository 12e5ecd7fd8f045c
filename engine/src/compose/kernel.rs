//! Compose's namespace and kernel settings of a service (`privileged`, `pid`, `ipc`,
//! `userns_mode`, `dns`, `dns_search`, `dns_opt`, `domainname`, `device_cgroup_rules`,
//! `mem_reservation`, `memswap_limit`, `cpu_shares`, `cpuset`, `cpu_quota` and `cpu_period`,
//! `oom_score_adj`, `oom_kill_disable`, `storage_opt`) as the manifest's own fields, and the
//! service keys Docker has but orun deliberately does not take (`mac_address`, `links`,
//! `volumes_from`, …) with the reason. It does not walk the service (see `service`).

use serde_yaml::Value;

use super::service::{boolean, list, memory};
use super::values::{key_text, pairs, text, Path};
use super::{checked, Report};
use crate::manifest::{
    ContainerFields, CpuShares, Cpus, Cpuset, DeviceCgroupRule, DnsOption, DnsSearch, DnsServer,
    Hostname, IpcMode, OomScoreAdj, PidMode, StorageOptName, StorageOptValue, UsernsMode,
};
use crate::resources::cpus_text;

/// What a service's settings say that only their combination translates: a CFS quota and period
/// become a number of CPUs, a swap limit is checked against the memory limit.
#[derive(Default)]
pub struct Pending {
    cpu_quota: Option<(u64, Path)>,
    cpu_period: Option<(u64, Path)>,
    memswap_limit: Option<(Value, Path)>,
}

/// Docker's CFS period when `cpu_period` is not written: 100ms, in microseconds.
const DEFAULT_CPU_PERIOD: u64 = 100_000;

impl Pending {
    /// Translates `key` into `spec` if it is one of this module's; `false` for any other key.
    pub fn translate(
        &mut self,
        key: &str,
        value: &Value,
        path: &Path,
        spec: &mut ContainerFields,
        report: &mut Report,
    ) -> bool {
        match key {
            "privileged" => spec.privileged = boolean(value, path, report),
            "pid" => spec.pid = namespace(value, path, report, pid_mode),
            "ipc" => spec.ipc = namespace(value, path, report, ipc_mode),
            "userns_mode" => spec.userns_mode = namespace(value, path, report, userns_mode),
            "dns" => spec.dns = one_or_many(value, path, DnsServer::parse, report),
            "dns_search" => spec.dns_search = one_or_many(value, path, DnsSearch::parse, report),
            "dns_opt" => spec.dns_options = one_or_many(value, path, DnsOption::parse, report),
            "domainname" => spec.domainname = checked(text(value), Hostname::parse, path, report),
            "device_cgroup_rules" => {
                spec.device_cgroup_rules =
                    one_or_many(value, path, DeviceCgroupRule::parse, report)
            }
            "mem_reservation" => spec.memory_reservation = memory(value, path, report),
            "memswap_limit" => self.memswap_limit = Some((value.clone(), path.clone())),
            "cpu_shares" => spec.cpu_shares = checked(text(value), CpuShares::parse, path, report),
            "cpuset" => spec.cpuset = checked(text(value), Cpuset::parse, path, report),
            "cpu_quota" => self.cpu_quota = microseconds(value, path, report),
            "cpu_period" => self.cpu_period = microseconds(value, path, report),
            "oom_score_adj" => {
                spec.oom_score_adj = checked(text(value), OomScoreAdj::parse, path, report)
            }
            "oom_kill_disable" => spec.oom_kill_disable = boolean(value, path, report),
            "storage_opt" => storage_opt(value, path, spec, report),
            "mac_address" => report.untranslatable(
                path,
                "orun does not set a container's MAC address: Docker engines before API 1.44 take it only in a field the client orun uses no longer sends",
            ),
            "links" => links(value, path, report),
            "external_links" => report.untranslatable(
                path,
                "orun reaches only the deployments of its environment, by their names",
            ),
            "volumes_from" => report.untranslatable(
                path,
                "orun mounts only each deployment's own volumes; name the shared volume in both services",
            ),
            "cgroup_parent" => report.untranslatable(
                path,
                "orun leaves containers in Docker's cgroup; a parent is a layout of one host",
            ),
            "cpu_count" | "cpu_percent" => {
                report.untranslatable(path, "a setting of Windows containers only")
            }
            "annotations" => report.untranslatable(
                path,
                "the Docker API orun speaks (1.41) has no container annotations; use labels",
            ),
            _ => return false,
        }
        true
    }

    /// Applies what only the combination of settings says, once the service was read.
    pub fn finish(self, spec: &mut ContainerFields, report: &mut Report) {
        match (self.cpu_quota, self.cpu_period) {
            (Some((quota, path)), period) => {
                let period = period.map_or(DEFAULT_CPU_PERIOD, |(period, _)| period);
                let nano_cpus = u128::from(quota) * 1_000_000_000 / u128::from(period.max(1));
                let cpus = u64::try_from(nano_cpus).ok().map(cpus_text);
                if spec.resources.cpus.is_some() {
                    report.note(&path, "dropped, cpus already limits the container");
                } else if let Some(cpus) = checked(cpus, Cpus::parse, &path, report) {
                    report.note(
                        &path,
                        format!("written as resources.cpus: {}", cpus.as_str()),
                    );
                    spec.resources.cpus = Some(cpus);
                }
            }
            (None, Some((_, path))) => {
                report.note(&path, "dropped, a period without a quota limits nothing")
            }
            (None, None) => {}
        }
        if let Some((value, path)) = self.memswap_limit {
            let swap = memory(&value, &path, &mut Report::default());
            match (&spec.resources.memory, swap) {
                (Some(limit), Some(swap)) if swap.0.bytes() == limit.0.bytes() => report.note(
                    &path,
                    "dropped, orun gives a container with a memory limit no swap beyond it, as this asks",
                ),
                _ => report.untranslatable(
                    &path,
                    "orun gives a container with a memory limit no swap beyond it (swap limit = memory limit), and one without a limit the host's swap",
                ),
            }
        }
    }
}

fn pid_mode(mode: &str) -> Option<PidMode> {
    (mode == "host").then_some(PidMode::Host)
}

fn userns_mode(mode: &str) -> Option<UsernsMode> {
    (mode == "host").then_some(UsernsMode::Host)
}

fn ipc_mode(mode: &str) -> Option<IpcMode> {
    match mode {
        "host" => Some(IpcMode::Host),
        "private" => Some(IpcMode::Private),
        "shareable" => Some(IpcMode::Shareable),
        "none" => Some(IpcMode::None),
        _ => None,
    }
}

/// `pid`, `ipc` or `userns_mode`: the modes orun has; another container's namespace
/// (`service:…`, `container:…`) is untranslatable, as orun shares none between containers.
fn namespace<T>(
    value: &Value,
    path: &Path,
    report: &mut Report,
    mode: fn(&str) -> Option<T>,
) -> Option<T> {
    let written = text(value).unwrap_or_default();
    let translated = mode(&written);
    if translated.is_none() {
        let why = if written.starts_with("service:") || written.starts_with("container:") {
            "orun shares no namespace between containers".to_string()
        } else {
            format!("{written:?} is not a mode orun has")
        };
        report.untranslatable(path, why);
    }
    translated
}

/// A value written as one item or a list of them, each checked.
fn one_or_many<T>(
    value: &Value,
    path: &Path,
    parse: fn(&str) -> Result<T, String>,
    report: &mut Report,
) -> Vec<T> {
    let items = match value {
        Value::Sequence(_) => list(value, path, report),
        _ => text(value).into_iter().collect(),
    };
    let many = matches!(value, Value::Sequence(_));
    items
        .into_iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let item_path = if many {
                path.index(index)
            } else {
                path.clone()
            };
            checked(Some(item), parse, &item_path, report)
        })
        .collect()
}

/// `cpu_quota` or `cpu_period`: microseconds, as a number or its text.
fn microseconds(value: &Value, path: &Path, report: &mut Report) -> Option<(u64, Path)> {
    let parsed = text(value).and_then(|text| text.parse::<u64>().ok());
    if parsed.is_none() {
        report.untranslatable(path, "expected a number of microseconds");
    }
    parsed.map(|micros| (micros, path.clone()))
}

fn storage_opt(value: &Value, path: &Path, spec: &mut ContainerFields, report: &mut Report) {
    let Some(options) = pairs(value, '=') else {
        report.untranslatable(path, "expected a map of driver options");
        return;
    };
    for (name, setting) in options {
        let option_path = path.key(&name);
        let name = checked(Some(name), StorageOptName::parse, &option_path, report);
        let setting = checked(setting, StorageOptValue::parse, &option_path, report);
        if let (Some(name), Some(setting)) = (name, setting) {
            spec.storage_opt.insert(name, setting);
        }
    }
}

/// `links`: every deployment of an environment reaches the others by name already, so a link
/// without an alias, or with the service's own name as alias, says nothing more.
fn links(value: &Value, path: &Path, report: &mut Report) {
    let entries = match value {
        Value::Sequence(items) => items.iter().map(key_text).collect::<Vec<_>>(),
        _ => {
            report.untranslatable(path, "expected a list of services");
            return;
        }
    };
    for (index, entry) in entries.iter().enumerate() {
        match entry.split_once(':') {
            Some((service, alias)) if service != alias => report.untranslatable(
                &path.index(index),
                format!("orun names {service} only by its deployment name, not {alias}"),
            ),
            _ => {}
        }
    }
    report.note(
        path,
        "dropped, deployments reach each other by name on the environment network",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(key: &str, yaml: &str) -> (ContainerFields, Report) {
        let mut spec = ContainerFields::default();
        let mut report = Report::default();
        let mut pending = Pending::default();
        let value: Value = serde_yaml::from_str(yaml).unwrap();
        assert!(pending.translate(key, &value, &Path::root().key(key), &mut spec, &mut report));
        pending.finish(&mut spec, &mut report);
        (spec, report)
    }

    #[test]
    fn namespaces_of_other_containers_are_untranslatable() {
        let (spec, report) = translated("pid", "host");
        assert_eq!(spec.pid, Some(PidMode::Host));
        assert!(report.untranslatable.is_empty());
        let (spec, report) = translated("ipc", "service:db");
        assert_eq!(spec.ipc, None);
        assert_eq!(
            report.untranslatable[0].message,
            "orun shares no namespace between containers"
        );
    }

    #[test]
    fn a_cfs_quota_becomes_cpus() {
        let mut spec = ContainerFields::default();
        let mut report = Report::default();
        let mut pending = Pending::default();
        for (key, value) in [("cpu_quota", "50000"), ("cpu_period", "100000")] {
            let value: Value = serde_yaml::from_str(value).unwrap();
            pending.translate(key, &value, &Path::root().key(key), &mut spec, &mut report);
        }
        pending.finish(&mut spec, &mut report);
        assert_eq!(spec.resources.cpus.unwrap().as_str(), "0.5");
    }

    #[test]
    fn a_swap_limit_other_than_the_memory_limit_is_untranslatable() {
        let (_, report) = translated("memswap_limit", "1g");
        assert_eq!(report.untranslatable.len(), 1);
    }
}
