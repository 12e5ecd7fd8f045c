//! Compose's `ulimits`, `security_opt`, `devices`, `group_add`, `gpus` and GPU reservations
//! (`deploy.resources.reservations.devices`) as the manifest's settings of the same meaning, each
//! value built with the manifest type's own check; and `profiles`, which orun drops. It does not
//! read the other settings of a service (see `service`).

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::values::{key_text, text, text_list, Path};
use super::{checked, Report};
use crate::manifest::{Device, Gpus, GroupName, SecurityOpt, UlimitMap};

/// A value read as the loader reads the manifest field it becomes; what the schema refuses is
/// listed as untranslatable with the loader's reason.
fn by_schema<T: DeserializeOwned>(value: &Value, path: &Path, report: &mut Report) -> Option<T> {
    match serde_yaml::from_value(value.clone()) {
        Ok(read) => Some(read),
        Err(error) => {
            report.untranslatable(path, error.to_string());
            None
        }
    }
}

fn list(value: &Value, path: &Path, report: &mut Report) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        _ => text_list(value).unwrap_or_else(|| {
            report.untranslatable(path, "expected a list");
            Vec::new()
        }),
    }
}

/// `ulimits`: name → a number, or `{soft, hard}`, one limit at a time so that a bad one leaves
/// the others.
pub fn ulimits(value: &Value, path: &Path, report: &mut Report) -> UlimitMap {
    let mut limits = UlimitMap::default();
    let Some(map) = value.as_mapping() else {
        report.untranslatable(path, "expected a mapping of limit names");
        return limits;
    };
    for (name, limit) in map {
        let name = key_text(name);
        let entry = Value::Mapping(
            [(Value::String(name.clone()), limit.clone())]
                .into_iter()
                .collect(),
        );
        if let Some(one) = by_schema::<UlimitMap>(&entry, &path.key(&name), report) {
            limits.0.extend(one.0);
        }
    }
    limits
}

/// `security_opt`: compose also writes the `:` separator Docker once took (`label:disable`,
/// `seccomp:unconfined`); the manifest takes `=` only, as Docker's API does today.
pub fn security_opt(value: &Value, path: &Path, report: &mut Report) -> Vec<SecurityOpt> {
    list(value, path, report)
        .into_iter()
        .enumerate()
        .filter_map(|(index, option)| {
            let option = if option.contains('=') || option == "no-new-privileges" {
                option
            } else {
                option.replacen(':', "=", 1)
            };
            checked(Some(option), SecurityOpt::parse, &path.index(index), report)
        })
        .collect()
}

/// `devices`: `host[:container[:permissions]]` as Docker reads it. A CDI name
/// (`vendor.com/class=name`) needs Docker 25 and has no equivalent.
pub fn devices(value: &Value, path: &Path, report: &mut Report) -> Vec<Device> {
    list(value, path, report)
        .into_iter()
        .enumerate()
        .filter_map(|(index, device)| {
            let entry_path = path.index(index);
            if !device.starts_with('/') && device.contains('=') {
                report.untranslatable(
                    &entry_path,
                    format!("{device}: orun maps device paths, not CDI device names"),
                );
                return None;
            }
            checked(Some(device), Device::parse, &entry_path, report)
        })
        .collect()
}

/// `group_add`: group names or gids.
pub fn group_add(value: &Value, path: &Path, report: &mut Report) -> Vec<GroupName> {
    list(value, path, report)
        .into_iter()
        .enumerate()
        .filter_map(|(index, group)| {
            checked(Some(group), GroupName::parse, &path.index(index), report)
        })
        .collect()
}

/// `gpus` (compose 2.30): `all`, or a list of requests like `deploy`'s, the `gpu` capability
/// implied.
pub fn gpus(value: &Value, path: &Path, report: &mut Report) -> Option<Gpus> {
    if text(value).as_deref() == Some("all") {
        return Some(Gpus::All);
    }
    device_requests(value, path, true, report)
}

/// `deploy.resources.reservations.devices`: a request for GPUs (`capabilities: [gpu]`) with a
/// `count` or every one, which Docker's `--gpus` makes too.
pub fn reserved_devices(value: &Value, path: &Path, report: &mut Report) -> Option<Gpus> {
    device_requests(value, path, false, report)
}

fn device_requests(
    value: &Value,
    path: &Path,
    gpu_implied: bool,
    report: &mut Report,
) -> Option<Gpus> {
    let Some(requests) = value.as_sequence() else {
        report.untranslatable(path, "expected a list of device requests");
        return None;
    };
    let mut gpus = None;
    for (index, request) in requests.iter().enumerate() {
        let request_path = path.index(index);
        if gpus.is_some() {
            report.untranslatable(&request_path, "orun makes one GPU request per container");
            continue;
        }
        gpus = gpu_request(request, &request_path, gpu_implied, report);
    }
    gpus
}

fn gpu_request(
    request: &Value,
    path: &Path,
    gpu_implied: bool,
    report: &mut Report,
) -> Option<Gpus> {
    let Some(settings) = request.as_mapping() else {
        report.untranslatable(path, "expected a mapping with capabilities and count");
        return None;
    };
    let mut gpu = gpu_implied;
    let mut count = Some(Gpus::All);
    for (key, item) in settings {
        let key = key_text(key);
        let key_path = path.key(&key);
        match key.as_str() {
            "capabilities" => {
                let capabilities = text_list(item).unwrap_or_default();
                gpu |= capabilities.iter().any(|capability| capability == "gpu");
                let others: Vec<&str> = capabilities
                    .iter()
                    .map(String::as_str)
                    .filter(|capability| *capability != "gpu")
                    .collect();
                if !others.is_empty() && gpu {
                    report.note(
                        &key_path,
                        format!(
                            "{} dropped: orun asks Docker for GPUs with the gpu capability only; the NVIDIA runtime reads the others from NVIDIA_DRIVER_CAPABILITIES in env",
                            others.join(", ")
                        ),
                    );
                }
            }
            "count" => {
                count = checked(text(item), Gpus::parse, &key_path, report);
            }
            "driver" if text(item).as_deref() == Some("nvidia") => report.note(
                &key_path,
                "dropped, Docker picks the driver that offers the gpu capability (nvidia)",
            ),
            _ => report.untranslatable(&key_path, "orun asks for GPUs by count only"),
        }
    }
    if !gpu {
        report.untranslatable(
            path,
            "orun reserves GPUs only (capabilities: [gpu]); other devices have no equivalent",
        );
        return None;
    }
    count
}

/// `profiles`: orun writes every service; the note names the profiles that guarded it.
pub fn profiles(value: &Value, path: &Path, service: &str, report: &mut Report) {
    let names = text_list(value)
        .filter(|names| !names.is_empty())
        .map_or_else(|| "its profiles".to_string(), |names| names.join(", "));
    report.note(
        path,
        format!(
            "dropped, {service} is written and runs like every service, though compose starts it only with {names}; delete the deployment if it should not run"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn gpu_reservations_become_a_count() {
        let mut report = Report::default();
        let path = Path::root().key("devices");
        let request = yaml("- driver: nvidia\n  count: 1\n  capabilities: [gpu]\n");
        assert_eq!(
            reserved_devices(&request, &path, &mut report),
            Some(Gpus::Count(1))
        );
        let all = yaml("- capabilities: [gpu, compute, utility]\n");
        assert_eq!(reserved_devices(&all, &path, &mut report), Some(Gpus::All));
        assert!(report.untranslatable.is_empty(), "{report:?}");
        let other = yaml("- capabilities: [tpu]\n");
        assert_eq!(reserved_devices(&other, &path, &mut report), None);
        let ids = yaml("- capabilities: [gpu]\n  device_ids: ['0']\n");
        reserved_devices(&ids, &path, &mut report);
        assert_eq!(report.untranslatable.len(), 2, "{report:?}");
    }

    #[test]
    fn security_options_take_the_equals_sign() {
        let mut report = Report::default();
        let options = security_opt(
            &yaml("[label:disable, 'seccomp:unconfined', no-new-privileges:true, apparmor=unconfined]"),
            &Path::root(),
            &mut report,
        );
        let options: Vec<&str> = options.iter().map(SecurityOpt::as_str).collect();
        assert_eq!(
            options,
            [
                "label=disable",
                "seccomp=unconfined",
                "no-new-privileges=true",
                "apparmor=unconfined"
            ]
        );
    }
}
