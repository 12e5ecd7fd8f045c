//! The node's operator policy (docs/node.md) checked against the deployments and jobs the node would run:
//! one error per offending field, naming the policy field that refuses it. The caller passes the
//! policy of the node's `--config` file; nothing of the revision can change it. Host paths are
//! compared as written, `.` and `..` resolved: the engine sees no host file system, so it
//! follows no symbolic link.

use crate::error::ManifestError;
use crate::manifest::{
    Capability, ContainerFields, IpcMode, Manifests, NetworkMode, NodePolicy, Permission, PidMode,
    UsernsMode, VolumeSource,
};

/// Security options that lift a confinement Docker puts every container under, as a privileged
/// container has none of them.
const UNCONFINED: [&str; 5] = [
    "seccomp=unconfined",
    "apparmor=unconfined",
    "label=disable",
    "systempaths=unconfined",
    "writable-cgroups=true",
];

/// Where Docker's socket is on a standard installation (`/var/run` is a link to `/run`).
const DOCKER_SOCKETS: [&str; 2] = ["/var/run/docker.sock", "/run/docker.sock"];

/// Every field of every deployment and job of `manifests` that `policy` refuses, sorted.
pub fn check(manifests: &Manifests, policy: &NodePolicy) -> Vec<ManifestError> {
    let mut errors = Vec::new();
    for (_, file, container) in manifests.containers() {
        let mut deny = |field: String, what: &str, rule: String| {
            errors.push(ManifestError::new(
                file,
                Some(&field),
                format!("{what} is denied by the node policy ({rule})"),
            ));
        };
        if container.network == NetworkMode::Host && policy.host_network == Permission::Deny {
            deny("spec.network".into(), "host", "hostNetwork: deny".into());
        }
        for (index, volume) in container.volumes.iter().enumerate() {
            let VolumeSource::HostPath(path) = &volume.source else {
                continue;
            };
            let field = format!("spec.volumes[{index}].hostPath");
            let host_path = normalized(path.as_str());
            if policy.docker_socket == Permission::Deny && exposes_docker_socket(&host_path) {
                deny(field, path.as_str(), "dockerSocket: deny".into());
            } else if let Some(prefixes) = &policy.host_path_prefixes {
                let allowed = prefixes
                    .iter()
                    .any(|prefix| is_under(&host_path, &normalized(prefix.as_str())));
                if !allowed {
                    let listed = listed(prefixes.iter().map(|prefix| prefix.as_str()));
                    deny(field, path.as_str(), format!("hostPathPrefixes: {listed}"));
                }
            }
        }
        if let Some(prefixes) = &policy.host_path_prefixes {
            for (index, device) in container.devices.iter().enumerate() {
                let host = device.mapping().host;
                let allowed = prefixes
                    .iter()
                    .any(|prefix| is_under(&normalized(&host), &normalized(prefix.as_str())));
                if !allowed {
                    let listed = listed(prefixes.iter().map(|prefix| prefix.as_str()));
                    deny(
                        format!("spec.devices[{index}]"),
                        &host,
                        format!("hostPathPrefixes: {listed}"),
                    );
                }
            }
        }
        if policy.privileged == Permission::Deny {
            for (field, what) in host_namespaces(container) {
                deny(format!("spec.{field}"), &what, "privileged: deny".into());
            }
            for (index, option) in container.security_opt.iter().enumerate() {
                if UNCONFINED.contains(&option.as_str()) {
                    deny(
                        format!("spec.securityOpt[{index}]"),
                        option.as_str(),
                        "privileged: deny".into(),
                    );
                }
            }
        }
        for (index, capability) in container.cap_add.iter().enumerate() {
            let field = format!("spec.capAdd[{index}]");
            let name = capability.as_str();
            if name == "ALL" && policy.privileged == Permission::Deny {
                deny(field, name, "privileged: deny".into());
            } else if let Some(allowed) = &policy.cap_add {
                if !allowed.iter().any(|other| same(other, capability)) {
                    let listed = listed(allowed.iter().map(Capability::as_str));
                    deny(field, name, format!("capAdd: {listed}"));
                }
            }
        }
    }
    errors.sort();
    errors
}

/// The settings that lift a confinement as a privileged container does: `privileged` itself and
/// the host's process, IPC and user namespaces, each with how the error shows it.
fn host_namespaces(container: &ContainerFields) -> Vec<(&'static str, String)> {
    let mut lifted = Vec::new();
    if container.privileged {
        lifted.push(("privileged", "privileged: true".to_string()));
    }
    if container.pid == Some(PidMode::Host) {
        lifted.push(("pid", "pid: host".to_string()));
    }
    if container.ipc == Some(IpcMode::Host) {
        lifted.push(("ipc", "ipc: host".to_string()));
    }
    if container.userns_mode == Some(UsernsMode::Host) {
        lifted.push(("usernsMode", "usernsMode: host".to_string()));
    }
    lifted
}

/// `path` with empty and `.` components dropped and each `..` taking the one before it away.
fn normalized(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `path` is `folder` or lies under it, component by component (`/srv2` is not under
/// `/srv`).
fn is_under(path: &str, folder: &str) -> bool {
    folder == "/" || path == folder || path.starts_with(&format!("{folder}/"))
}

/// A bind mount of Docker's socket, of a folder holding it, or of any file named `docker.sock`.
fn exposes_docker_socket(path: &str) -> bool {
    DOCKER_SOCKETS.iter().any(|socket| is_under(socket, path)) || path.ends_with("/docker.sock")
}

fn same(one: &Capability, other: &Capability) -> bool {
    let bare = |capability: &Capability| {
        let name = capability.as_str();
        name.strip_prefix("CAP_").unwrap_or(name).to_string()
    };
    bare(one) == bare(other)
}

/// A list as the policy writes it: `[/srv, /opt/data]`.
fn listed<'a>(items: impl Iterator<Item = &'a str>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load, SourceFile};

    fn web(spec: &str) -> Manifests {
        load(&[SourceFile {
            path: "deployments/x.yaml".into(),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  image: nginx\n{spec}"
            ),
        }])
        .unwrap()
    }

    fn policy(text: &str) -> NodePolicy {
        serde_yaml::from_str(text).unwrap()
    }

    /// The errors `policy` gives deployment `x` with `spec`, as printed.
    fn denied(spec: &str, policy_text: &str) -> Vec<String> {
        check(&web(spec), &policy(policy_text))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn mounts(paths: &[&str]) -> String {
        let mut spec = "  volumes:\n".to_string();
        for (index, path) in paths.iter().enumerate() {
            spec.push_str(&format!(
                "    - hostPath: {path}\n      containerPath: /m{index}\n"
            ));
        }
        spec
    }

    #[test]
    fn the_default_policy_allows_everything() {
        let spec = format!(
            "  network: host\n  capAdd: [ALL, SYS_ADMIN]\n{}",
            mounts(&["/var/run/docker.sock", "/etc"])
        );
        assert!(denied(&spec, "{}").is_empty());
    }

    #[test]
    fn privileged_deny_refuses_every_capability_at_once() {
        let spec = "  capAdd: [NET_ADMIN, ALL]\n";
        assert_eq!(
            denied(spec, "privileged: deny\n"),
            ["deployments/x.yaml: spec.capAdd[1]: ALL is denied by the node policy (privileged: deny)"]
        );
        assert!(denied(spec, "privileged: allow\n").is_empty());
    }

    #[test]
    fn privileged_deny_refuses_privileged_and_host_namespaces() {
        let spec = "  privileged: true\n  pid: host\n  ipc: host\n  usernsMode: host\n";
        assert_eq!(
            denied(spec, "privileged: deny\n"),
            [
                "deployments/x.yaml: spec.ipc: ipc: host is denied by the node policy (privileged: deny)",
                "deployments/x.yaml: spec.pid: pid: host is denied by the node policy (privileged: deny)",
                "deployments/x.yaml: spec.privileged: privileged: true is denied by the node policy (privileged: deny)",
                "deployments/x.yaml: spec.usernsMode: usernsMode: host is denied by the node policy (privileged: deny)",
            ]
        );
        assert!(denied(spec, "privileged: allow\n").is_empty());
        assert!(denied("  ipc: shareable\n", "privileged: deny\n").is_empty());
    }

    #[test]
    fn privileged_deny_refuses_security_options_that_lift_confinement() {
        let spec = "  securityOpt: [no-new-privileges, seccomp=unconfined, label=disable]\n";
        assert_eq!(
            denied(spec, "privileged: deny\n"),
            [
                "deployments/x.yaml: spec.securityOpt[1]: seccomp=unconfined is denied by the node policy (privileged: deny)",
                "deployments/x.yaml: spec.securityOpt[2]: label=disable is denied by the node policy (privileged: deny)",
            ]
        );
        assert!(denied(spec, "{}").is_empty());
    }

    #[test]
    fn host_path_prefixes_hold_devices_too() {
        let spec = "  devices: [/dev/dri/renderD128, /dev/sda:/dev/xvda]\n";
        assert_eq!(
            denied(spec, "hostPathPrefixes: [/srv, /dev/dri]\n"),
            ["deployments/x.yaml: spec.devices[1]: /dev/sda is denied by the node policy (hostPathPrefixes: [/srv, /dev/dri])"]
        );
        assert!(denied(spec, "{}").is_empty());
    }

    #[test]
    fn host_network_deny_refuses_the_host_network_only() {
        assert_eq!(
            denied("  network: host\n", "hostNetwork: deny\n"),
            ["deployments/x.yaml: spec.network: host is denied by the node policy (hostNetwork: deny)"]
        );
        assert!(denied("  network: none\n", "hostNetwork: deny\n").is_empty());
        assert!(denied("", "hostNetwork: deny\n").is_empty());
    }

    #[test]
    fn docker_socket_deny_refuses_the_socket_and_every_folder_holding_it() {
        let spec = mounts(&[
            "/var/run/docker.sock",
            "/run",
            "/srv/../var/run/",
            "/",
            "/home/ci/docker.sock",
            "/srv/data",
            "/run/user",
        ]);
        assert_eq!(
            denied(&spec, "dockerSocket: deny\n"),
            [
                "deployments/x.yaml: spec.volumes[0].hostPath: /var/run/docker.sock is denied by the node policy (dockerSocket: deny)",
                "deployments/x.yaml: spec.volumes[1].hostPath: /run is denied by the node policy (dockerSocket: deny)",
                "deployments/x.yaml: spec.volumes[2].hostPath: /srv/../var/run/ is denied by the node policy (dockerSocket: deny)",
                "deployments/x.yaml: spec.volumes[3].hostPath: / is denied by the node policy (dockerSocket: deny)",
                "deployments/x.yaml: spec.volumes[4].hostPath: /home/ci/docker.sock is denied by the node policy (dockerSocket: deny)",
            ]
        );
    }

    #[test]
    fn host_path_prefixes_allow_only_paths_under_them_component_by_component() {
        let spec = format!(
            "{}    - name: data\n      containerPath: /data\n",
            mounts(&[
                "/srv/web",
                "/srv",
                "/srv2/web",
                "/srv/../etc",
                "/opt/data/x"
            ])
        );
        assert_eq!(
            denied(&spec, "hostPathPrefixes: [/srv, /opt/data/]\n"),
            [
                "deployments/x.yaml: spec.volumes[2].hostPath: /srv2/web is denied by the node policy (hostPathPrefixes: [/srv, /opt/data/])",
                "deployments/x.yaml: spec.volumes[3].hostPath: /srv/../etc is denied by the node policy (hostPathPrefixes: [/srv, /opt/data/])",
            ]
        );
        assert_eq!(
            denied(&mounts(&["/srv"]), "hostPathPrefixes: []\n"),
            ["deployments/x.yaml: spec.volumes[0].hostPath: /srv is denied by the node policy (hostPathPrefixes: [])"]
        );
    }

    #[test]
    fn one_error_per_field_the_socket_rule_first() {
        assert_eq!(
            denied(
                &mounts(&["/var/run/docker.sock"]),
                "dockerSocket: deny\nhostPathPrefixes: [/srv]\n"
            ),
            ["deployments/x.yaml: spec.volumes[0].hostPath: /var/run/docker.sock is denied by the node policy (dockerSocket: deny)"]
        );
    }

    #[test]
    fn cap_add_allows_only_the_capabilities_listed_with_or_without_their_prefix() {
        let spec = "  capAdd: [NET_BIND_SERVICE, CAP_CHOWN, SYS_ADMIN, ALL]\n";
        assert_eq!(
            denied(spec, "capAdd: [CAP_NET_BIND_SERVICE, CHOWN]\n"),
            [
                "deployments/x.yaml: spec.capAdd[2]: SYS_ADMIN is denied by the node policy (capAdd: [CAP_NET_BIND_SERVICE, CHOWN])",
                "deployments/x.yaml: spec.capAdd[3]: ALL is denied by the node policy (capAdd: [CAP_NET_BIND_SERVICE, CHOWN])",
            ]
        );
        assert!(denied("  capDrop: [ALL]\n", "capAdd: []\nprivileged: deny\n").is_empty());
    }

    #[test]
    fn a_job_is_held_to_the_policy_like_a_deployment() {
        let job = load(&[SourceFile {
            path: "jobs/backup.yaml".into(),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Job\nmetadata:\n  name: backup\nspec:\n  image: busybox\n  schedule: \"@daily\"\n{}",
                mounts(&["/var/run/docker.sock"])
            ),
        }])
        .unwrap();
        let errors: Vec<String> = check(&job, &policy("dockerSocket: deny\n"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            ["jobs/backup.yaml: spec.volumes[0].hostPath: /var/run/docker.sock is denied by the node policy (dockerSocket: deny)"]
        );
    }
}
