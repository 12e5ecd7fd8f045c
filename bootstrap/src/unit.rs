//! The systemd unit of a node: `Type=notify`, `Restart=always`, and hardening that still lets
//! orun reach Docker's socket, its data folder and bind-mount sources. Rendering only.

use crate::{Node, REMOTE_BINARY};

pub fn render(node: &Node) -> String {
    format!(
        "[Unit]
Description=orun GitOps node agent ({name})
After=network-online.target docker.service
Wants=network-online.target docker.service

[Service]
Type=notify
ExecStart={REMOTE_BINARY} start --config {config}
Restart=always
RestartSec=5s
TimeoutStopSec=90s
NoNewPrivileges=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
RestrictNamespaces=yes

[Install]
WantedBy=multi-user.target
",
        name = node.name,
        config = node.spec.paths().config().display(),
    )
}
