//! A node's operator policy as its `--config` file writes it (`spec.policy`): what a revision may
//! ask of the node's Docker engine. Permissive when absent. It does not check revisions against
//! it (see `policy`), and the daemon takes it from the `--config` file only, never from a
//! revision.

use serde::Deserialize;

use super::fields::AbsolutePath;
use super::settings::Capability;

/// `spec.policy` of a Node: each field allows what it does not restrict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePolicy {
    /// `deny` refuses `capAdd: [ALL]`, the capabilities of a privileged container, and the
    /// `securityOpt` entries that lift a confinement a privileged container lacks.
    pub privileged: Permission,
    /// `deny` refuses `network: host`.
    pub host_network: Permission,
    /// `deny` refuses a `hostPath` that is, or holds, Docker's socket.
    pub docker_socket: Permission,
    /// The only folders `hostPath` and the host side of `devices` may name or lie under; any host
    /// path when absent, none when empty.
    pub host_path_prefixes: Option<Vec<AbsolutePath>>,
    /// The only capabilities `capAdd` may name; any when absent, none when empty.
    pub cap_add: Option<Vec<Capability>>,
}

/// Whether the node lets a revision have what a policy field names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    #[default]
    Allow,
    Deny,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_defaults_to_permissive_and_unknown_fields_are_refused() {
        assert_eq!(
            serde_yaml::from_str::<NodePolicy>("{}").unwrap(),
            NodePolicy::default()
        );
        let policy: NodePolicy = serde_yaml::from_str(
            "privileged: deny\nhostNetwork: deny\ndockerSocket: deny\nhostPathPrefixes: [/srv]\ncapAdd: [NET_BIND_SERVICE]\n",
        )
        .unwrap();
        assert_eq!(policy.privileged, Permission::Deny);
        assert_eq!(policy.host_network, Permission::Deny);
        assert_eq!(policy.docker_socket, Permission::Deny);
        assert_eq!(policy.host_path_prefixes.unwrap()[0].as_str(), "/srv");
        assert_eq!(policy.cap_add.unwrap()[0].as_str(), "NET_BIND_SERVICE");
        for bad in [
            "privileged: maybe\n",
            "hostPathPrefixes: [srv]\n",
            "capAdd: [net_admin]\n",
            "devices: deny\n",
        ] {
            assert!(serde_yaml::from_str::<NodePolicy>(bad).is_err(), "{bad}");
        }
    }
}
