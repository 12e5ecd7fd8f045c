//! The two-tier example (examples/two-tier) on the real engine, in its local variant (images from
//! the local Debian base image, no registry): the visit counter and Redis converge in dependency
//! order on the environment's network, the counter reaches Redis by its deployment name, and the
//! count, kept in a named volume, survives a recreate of either tier. The public variant differs
//! only in its base images, which this machine cannot pull.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    docker, eventually, free_port, http_get, inspect, local_base, two_tier, Scenario,
};

/// Removes the environment's named volume and network when the test ends: orun never removes
/// them itself. Declared before the scenario, so it drops after the containers are gone.
struct EnvironmentLeftovers {
    volume: String,
    network: String,
}

impl Drop for EnvironmentLeftovers {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.volume])
            .output();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// The example's local variant with the counter's host port moved to a free one.
fn local_variant(scenario: &Scenario, port: u16) {
    two_tier::write_local_variant(scenario.repo());
    let counter = scenario.repo().join("deployments/counter.yaml");
    let manifest = fs::read_to_string(&counter).unwrap();
    assert!(manifest.contains("port: 8080"), "{manifest}");
    fs::write(
        &counter,
        manifest.replace("port: 8080", &format!("port: {port}")),
    )
    .unwrap();
}

/// Sets `env.KEY` of deployment `name` to `value` (a YAML scalar), which recreates its container.
fn set_env(scenario: &Scenario, name: &str, key: &str, value: &str) {
    let path = scenario.repo().join(format!("deployments/{name}.yaml"));
    let manifest = fs::read_to_string(&path).unwrap();
    let entry = format!("    {key}: ");
    let mut lines: Vec<String> = manifest
        .lines()
        .filter(|line| !line.starts_with(&entry))
        .map(str::to_string)
        .collect();
    let position = match lines.iter().position(|line| line == "  env:") {
        Some(env) => env + 1,
        None => {
            lines.push("  env:".to_string());
            lines.len()
        }
    };
    lines.insert(position, format!("{entry}{value}"));
    fs::write(&path, lines.join("\n") + "\n").unwrap();
}

fn container_id(name: &str) -> String {
    inspect(name).unwrap_or_else(|| panic!("{name} does not exist"))["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn count(port: u16) -> Option<u64> {
    http_get(port, "/count")?.trim().parse().ok()
}

#[test]
fn two_tier_example_keeps_its_count_across_recreates_of_either_tier() {
    local_base();
    // Declared first so it drops last, once the scenario has removed the containers.
    let leftovers;
    let scenario = Scenario::new("two-tier");
    leftovers = EnvironmentLeftovers {
        volume: format!("{}.redis-data", scenario.environment),
        network: format!("orun-{}", scenario.environment),
    };
    scenario.own_images("orun.local/counter");
    let port = free_port();
    local_variant(&scenario, port);

    let output = scenario.apply();
    let redis = scenario.container("redis");
    let counter = scenario.container("counter");
    let created = |name: &str| {
        output
            .find(&format!("create {name} (missing)"))
            .unwrap_or(usize::MAX)
    };
    assert!(
        created(&redis) < created(&counter),
        "redis is created before the counter that depends on it:\n{output}"
    );
    assert_eq!(
        http_get(port, "/").as_deref(),
        Some("Hello from orun! This page has been visited 1 times.\n")
    );
    assert_eq!(count(port), Some(1));

    let resolved = docker(&[
        "exec",
        &counter,
        "python3",
        "-c",
        "import socket; print(socket.gethostbyname('redis'))",
    ]);
    let redis_ip = inspect(&redis).unwrap()["NetworkSettings"]["Networks"][&leftovers.network]
        ["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        resolved, redis_ip,
        "`redis` resolves to the redis container"
    );
    let volume = docker(&["volume", "inspect", &leftovers.volume]);
    assert!(volume.contains("run.orcra.dev/managed-by"), "{volume}");

    let old_counter = container_id(&counter);
    set_env(&scenario, "counter", "GREETING", "Hello again");
    scenario.apply();
    assert_ne!(
        container_id(&counter),
        old_counter,
        "the counter is recreated"
    );
    assert_eq!(
        http_get(port, "/").as_deref(),
        Some("Hello again! This page has been visited 2 times.\n")
    );

    let old_redis = container_id(&redis);
    set_env(&scenario, "redis", "RECREATED", "\"yes\"");
    scenario.apply();
    assert_ne!(container_id(&redis), old_redis, "redis is recreated");
    assert!(
        eventually(Duration::from_secs(10), || count(port) == Some(2)),
        "the count survives a recreate of redis: {:?}",
        count(port)
    );
    assert!(
        scenario.apply().contains("No changes. Node is converged."),
        "converged after both recreates"
    );
}
