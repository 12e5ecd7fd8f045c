//! The systemd unit of a node: `Type=notify`, `Restart=always`, room for many open files, and
//! hardening that still lets orun reach Docker's socket, its data folder and bind-mount sources;
//! and the sysctl drop-in that turns the kernel's listener handover on at boot, which the unit's
//! read-only `/proc/sys` keeps the daemon from doing. Values from the manifest are escaped as
//! systemd reads them. Rendering only.

use crate::{Node, REMOTE_BINARY};

/// The sysctl drop-in, the same as the Debian package's `cli/debian/60-orun.conf`: Caddy's reloads
/// hand queued connections over instead of resetting them.
pub const SYSCTL_DROP_IN: &str = "# orun: Caddy's config reloads hand the connections queued on a listener they close to the listener
# that stays, instead of resetting them. orun's systemd unit keeps /proc/sys read-only
# (ProtectKernelTunables=yes), so the daemon cannot turn this on itself. To keep it off, override
# this file: /etc/sysctl.d/60-orun.conf holding net.ipv4.tcp_migrate_req = 0, or a link to
# /dev/null.
net.ipv4.tcp_migrate_req = 1
";

/// Open files allowed to the node: status API connections, Git, Docker and Caddy share them.
pub const OPEN_FILES_LIMIT: u32 = 65536;

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
LimitNOFILE={OPEN_FILES_LIMIT}
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
        name = escape_specifiers(&node.name),
        config = exec_word(&node.spec.paths().config().display().to_string()),
    )
}

/// `value` as one word of an `ExecStart=` command line: double-quoted when it holds anything but
/// plain path characters, with `\` and `"` escaped and control characters as C escapes, and `%`
/// and `$` doubled so that systemd expands neither a specifier nor a variable in it.
fn exec_word(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    let mut word = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => word.push_str("\\\\"),
            '"' => word.push_str("\\\""),
            '%' => word.push_str("%%"),
            '$' => word.push_str("$$"),
            c if c.is_control() => word.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => word.push(c),
        }
    }
    word.push('"');
    word
}

/// `value` in a setting where systemd expands `%` specifiers but nothing else.
fn escape_specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use engine::load::load_node;
    use engine::SourceFile;

    use super::*;

    fn node(data_dir: &str) -> Node {
        let text = format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: edge\nspec:\n  host: 10.0.0.1\n  gitRepo: /srv/infra.git\n  dataDir: {data_dir:?}\n"
        );
        let loaded = load_node(&SourceFile {
            path: "nodes/edge.yaml".to_string(),
            text: text.clone(),
        })
        .unwrap();
        Node {
            name: loaded.name,
            spec: loaded.spec,
            manifest: text,
        }
    }

    #[test]
    fn the_unit_starts_orun_with_the_node_yaml_and_room_for_open_files() {
        let unit = render(&node("/srv/my orun/$HOME%n"));
        assert!(
            unit.contains("\nExecStart=/usr/local/bin/orun start --config \"/srv/my orun/$$HOME%%n/node.yaml\"\n"),
            "{unit}"
        );
        assert!(unit.contains("\nLimitNOFILE=65536\n"), "{unit}");
        assert!(render(&node("/opt/orun/"))
            .contains("\nExecStart=/usr/local/bin/orun start --config /opt/orun/node.yaml\n"));
    }

    #[test]
    fn the_debian_package_ships_the_same_unit_for_its_binary_path() {
        let packaged = include_str!("../../cli/debian/orun.service");
        let packaged_settings: Vec<&str> = packaged
            .lines()
            .filter(|line| !line.starts_with('#'))
            .collect();
        let bootstrapped = render(&node("/opt/orun/"))
            .replace(REMOTE_BINARY, "/usr/bin/orun")
            .replace(" (edge)", "");
        assert_eq!(packaged_settings, bootstrapped.lines().collect::<Vec<_>>());
    }

    #[test]
    fn the_sysctl_drop_in_sets_what_the_units_read_only_proc_sys_keeps_the_daemon_from_setting() {
        let unit = render(&node("/opt/orun/"));
        let service: Vec<&str> = unit
            .split("[Service]")
            .nth(1)
            .unwrap()
            .split("\n[")
            .next()
            .unwrap()
            .lines()
            .collect();
        assert!(service.contains(&"ProtectKernelTunables=yes"), "{unit}");
        let settings: Vec<(&str, &str)> = SYSCTL_DROP_IN
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (key, value) = line.split_once('=').unwrap();
                (key.trim(), value.trim())
            })
            .collect();
        assert_eq!(settings, [("net.ipv4.tcp_migrate_req", "1")]);
        assert_eq!(
            include_str!("../../cli/debian/60-orun.conf"),
            SYSCTL_DROP_IN,
            "the package ships the same drop-in"
        );
        let package = include_str!("../../cli/Cargo.toml");
        assert!(
            package.contains(r#"["debian/60-orun.conf", "usr/lib/sysctl.d/60-orun.conf", "644"]"#),
            "the package installs the drop-in"
        );
    }

    #[test]
    fn plain_paths_are_written_as_they_are() {
        assert_eq!(exec_word("/opt/orun/node.yaml"), "/opt/orun/node.yaml");
    }

    #[test]
    fn other_paths_are_quoted_with_nothing_left_to_expand() {
        assert_eq!(
            exec_word("/srv/my orun/100%/$HOME/\"q\"\\x/node.yaml"),
            r#""/srv/my orun/100%%/$$HOME/\"q\"\\x/node.yaml""#
        );
        // The loader refuses control characters; escaped, one could not end the line anyway.
        assert_eq!(
            exec_word("/a\nExecStartPre=/bin/id"),
            r#""/a\x0aExecStartPre=/bin/id""#
        );
        assert_eq!(exec_word(""), r#""""#);
    }
}
