//! Connection handover across Caddy's config reloads. Caddy binds each new config's listeners
//! next to the old ones (`SO_REUSEPORT`) and then closes the old ones; Linux resets every
//! connection still queued on a closed listener unless `net.ipv4.tcp_migrate_req` is on, in which
//! case it hands them to the listener that stays. This module turns that switch on for the node's
//! network namespace; it does not change any other kernel setting.

use std::io::ErrorKind;
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
    match enable_at(Path::new(MIGRATE_REQ)).await {
        Handover::AlreadyOn => debug!("net.ipv4.tcp_migrate_req is on"),
        Handover::TurnedOn => info!(
            "turned on net.ipv4.tcp_migrate_req so that Caddy's reloads hand queued connections over instead of resetting them"
        ),
        Handover::Unsupported => warn!(
            "this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 and later): a connection arriving while Caddy reloads its routes may be reset"
        ),
        Handover::Refused(error) => warn!(
            error = %error,
            "cannot turn on net.ipv4.tcp_migrate_req: a connection arriving while Caddy reloads its routes may be reset"
        ),
    }
}

async fn enable_at(switch: &Path) -> Handover {
    match tokio::fs::read_to_string(switch).await {
        Ok(value) if value.trim() == "1" => return Handover::AlreadyOn,
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => return Handover::Unsupported,
        Err(error) => return Handover::Refused(format!("{}: {error}", switch.display())),
    }
    match tokio::fs::write(switch, "1\n").await {
        Ok(()) => Handover::TurnedOn,
        Err(error) => Handover::Refused(format!("{}: {error}", switch.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_switch_is_turned_on_once_and_its_absence_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let switch = dir.path().join("tcp_migrate_req");
        assert_eq!(enable_at(&switch).await, Handover::Unsupported);
        std::fs::write(&switch, "0\n").unwrap();
        assert_eq!(enable_at(&switch).await, Handover::TurnedOn);
        assert_eq!(std::fs::read_to_string(&switch).unwrap(), "1\n");
        assert_eq!(enable_at(&switch).await, Handover::AlreadyOn);
    }
}
