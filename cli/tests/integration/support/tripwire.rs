//! Docker events as triggers: a thread follows `docker events` for one environment's containers
//! and runs an action the moment the first matching event arrives, so a test can crash or cut
//! something right after a given step of a rollout without any hook in the product. A step that
//! the action lands a few milliseconds after is still the step it follows. It asserts nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// A running `docker events` watch that fires once; stopped on drop.
pub struct Tripwire {
    events: Child,
    reader: Option<JoinHandle<()>>,
    fired: mpsc::Receiver<Value>,
}

impl Tripwire {
    /// Follows the events of `environment`'s containers from `since` (a `docker_timestamp` taken
    /// before the rollout is triggered, so nothing between arming and subscribing is missed) and
    /// runs `action` at the first event for which `matches` holds.
    pub fn arm(
        environment: &str,
        since: &str,
        matches: impl Fn(&Value) -> bool + Send + 'static,
        action: impl FnOnce() + Send + 'static,
    ) -> Self {
        let mut events = Command::new("docker")
            .args(["events", "--since", since, "--format", "{{json .}}"])
            .args([
                "--filter",
                &format!("label=run.orcra.dev/environment={environment}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker events");
        let stdout = events.stdout.take().expect("piped stdout");
        let (sender, fired) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if matches(&event) {
                    action();
                    let _ = sender.send(event);
                    return;
                }
            }
        });
        Tripwire {
            events,
            reader: Some(reader),
            fired,
        }
    }

    /// The event that fired the wire, once it has (waiting up to `limit`).
    pub fn fired(&self, limit: Duration) -> Option<Value> {
        self.fired.recv_timeout(limit).ok()
    }
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        let _ = self.events.kill();
        let _ = self.events.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
