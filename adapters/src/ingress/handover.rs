//! Connection handover across Caddy's config reloads. Caddy binds each new config's listeners
//! next to the old ones (`SO_REUSEPORT`) and then closes the old ones; Linux resets every
//! connection still queued on a closed listener unless `net.ipv4.tcp_migrate_req` is on, in which
//! case it hands them to the listener that stays. The Debian package and `orun bootstrap` install a
//! sysctl drop-in that turns it on at boot, since the systemd unit's `ProtectKernelTunables=yes`
//! keeps `/proc/sys` read-only for the daemon; this module reads the switch and writes it only
//! when it is off (a node started by hand as root), for the node's network namespace. It does not
//! change any other kernel setting.

use std::io::{self, ErrorKind};
use std::path::Path;

use tracing::{debug, info, warn};

/// The switch, for the network namespace orun (and so Caddy) runs in.
const MIGRATE_REQ: &str = "/proc/sys/net/ipv4/tcp_migrate_req";

/// What turning the switch on came to.
#[derive(Debug, PartialEq, Eq)]
enum Handover {
    AlreadyOn,
    TurnedOn,
    /// The kernel predates the switch (Linux 5.14).
    Unsupported,
    /// The switch could not be written, typically because orun does not run as root.
    Refused(String),
}

/// Turns on `net.ipv4.tcp_migrate_req` and logs the outcome. Without it a route change can reset
/// the odd connection that arrives while Caddy reloads; orun works either way.
pub async fn enable() {
    let handover = enable_at(Path::new(MIGRATE_REQ), write_on).await;
    match &handover {
        Handover::AlreadyOn => debug!("net.ipv4.tcp_migrate_req is on"),
        Handover::TurnedOn => info!(
            "turned on net.ipv4.tcp_migrate_req so that Caddy's reloads hand queued connections over instead of resetting them"
        ),
        Handover::Unsupported | Handover::Refused(_) => {}
    }
    if let Some(warning) = handover.warning() {
        warn!("{warning}");
    }
}

impl Handover {
    /// The warning this outcome is worth: none when the switch is on.
    fn warning(&self) -> Option<String> {
        match self {
            Handover::AlreadyOn | Handover::TurnedOn => None,
            Handover::Unsupported => Some("this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 and later): a connection arriving while Caddy reloads its routes may be reset".to_string()),
            Handover::Refused(error) => Some(format!("cannot turn on net.ipv4.tcp_migrate_req ({error}): a connection arriving while Caddy reloads its routes may be reset; the sysctl drop-in 60-orun.conf of the package or of orun bootstrap turns it on at boot")),
        }
    }
}

/// Reads the switch at `switch` and, only when it is off, turns it on with `write`: a switch
/// already on is never written, so a read-only `/proc/sys` costs nothing then.
async fn enable_at(switch: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> Handover {
    match tokio::fs::read_to_string(switch).await {
        Ok(value) if value.trim() == "1" => return Handover::AlreadyOn,
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => return Handover::Unsupported,
        Err(error) => return Handover::Refused(format!("{}: {error}", switch.display())),
    }
    match write(switch) {
        Ok(()) => Handover::TurnedOn,
        Err(error) => Handover::Refused(format!("{}: {error}", switch.display())),
    }
}

/// Writes `1` to the switch: one small write to procfs, which does not wait.
fn write_on(switch: &Path) -> io::Result<()> {
    std::fs::write(switch, "1\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_switch_is_turned_on_once_and_its_absence_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let switch = dir.path().join("tcp_migrate_req");
        assert_eq!(enable_at(&switch, write_on).await, Handover::Unsupported);
        std::fs::write(&switch, "0\n").unwrap();
        assert_eq!(enable_at(&switch, write_on).await, Handover::TurnedOn);
        assert_eq!(std::fs::read_to_string(&switch).unwrap(), "1\n");
        assert_eq!(enable_at(&switch, write_on).await, Handover::AlreadyOn);
    }

    /// `/proc/sys` as the systemd unit's `ProtectKernelTunables=yes` leaves it: readable, and
    /// every write refused.
    fn read_only(_: &Path) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EROFS))
    }

    #[tokio::test]
    async fn under_a_read_only_proc_sys_a_switch_set_at_boot_is_used_without_a_write_or_warning() {
        let dir = tempfile::tempdir().unwrap();
        let switch = dir.path().join("tcp_migrate_req");
        // The sysctl drop-in set it at boot.
        std::fs::write(&switch, "1\n").unwrap();
        let handover = enable_at(&switch, |_| panic!("a switch already on was written")).await;
        assert_eq!(handover, Handover::AlreadyOn);
        assert_eq!(handover.warning(), None);
        assert_eq!(enable_at(&switch, read_only).await, Handover::AlreadyOn);

        // Without the drop-in (removed or overridden to 0), the refusal is a warning naming it.
        std::fs::write(&switch, "0\n").unwrap();
        let handover = enable_at(&switch, read_only).await;
        assert!(matches!(handover, Handover::Refused(_)), "{handover:?}");
        let warning = handover.warning().unwrap();
        assert!(
            warning.contains("Read-only file system") && warning.contains("60-orun.conf"),
            "{warning}"
        );
    }
}
