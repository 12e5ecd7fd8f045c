//! The two-tier example (examples/two-tier) on the real engine, in its local variant (images from
//! the local Debian base image, no registry): Redis, the migration job and the visit counter
//! converge in that order on the environment's network, the counter reaches Redis by its
//! deployment name with the password from a secret file that appears nowhere else, a changed
//! Redis config file recreates Redis alone, and the count, kept in a named volume, survives a
//! recreate of either tier. The public variant differs only in its base images, which this
//! machine cannot pull.

use std::fs;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::support::{
    docker, eventually, free_port, http_get, inspect, local_base, text, two_tier, Scenario,
    SecretDir,
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

/// Where `orun apply --once` writes the copies of mounted files (`data`) and the secret files
/// (`secrets`, on a tmpfs) for one test.
struct Folders {
    data: TempDir,
    secrets: SecretDir,
}

impl Folders {
    fn new() -> Self {
        Folders {
            data: TempDir::new().unwrap(),
            secrets: SecretDir::new("two-tier"),
        }
    }

    /// `orun apply --once` with the example's demo age identity and these folders.
    fn apply(&self, scenario: &Scenario) -> String {
        scenario.apply_with(&[
            "--age-key-path",
            two_tier::demo_age_key().to_str().unwrap(),
            "--data-dir",
            self.data.path().to_str().unwrap(),
            "--secret-files-dir",
            self.secrets.path(),
        ])
    }
}

/// The plan's actions as `kind subject`, and the changes of each.
fn plan(scenario: &Scenario) -> Vec<(String, Vec<String>)> {
    let output = scenario.orun(&[
        "plan",
        "--output",
        "json",
        "--age-key-path",
        two_tier::demo_age_key().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            let subject = ["job", "deployment", "network", "volume"]
                .iter()
                .find_map(|key| action[key].as_str())
                .unwrap_or_default();
            let changes = action["changes"]
                .as_array()
                .map(|changes| {
                    changes
                        .iter()
                        .filter_map(|change| change["field"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (
                format!("{} {subject}", action["kind"].as_str().unwrap()),
                changes,
            )
        })
        .collect()
}

fn position(steps: &[(String, Vec<String>)], step: &str) -> usize {
    steps
        .iter()
        .position(|(kind, _)| kind == step)
        .unwrap_or_else(|| panic!("no {step} in {steps:?}"))
}

/// Everything orun and Docker show of the environment's containers: their inspect documents and
/// logs.
fn shown(scenario: &Scenario) -> String {
    scenario
        .containers()
        .iter()
        .map(|name| {
            let logs = Command::new("docker")
                .args(["logs", name])
                .output()
                .unwrap();
            format!(
                "{}\n{}{}",
                docker(&["inspect", name]),
                text(&logs.stdout),
                text(&logs.stderr)
            )
        })
        .collect()
}

#[test]
fn two_tier_example_migrates_first_hides_its_password_and_keeps_its_count() {
    local_base();
    // Declared first so it drops last, once the scenario has removed the containers.
    let leftovers;
    let scenario = Scenario::new("two-tier");
    leftovers = EnvironmentLeftovers {
        volume: format!("{}.redis-data", scenario.environment),
        network: format!("orun-{}", scenario.environment),
    };
    let folders = Folders::new();
    scenario.own_images("orun.local/counter");
    scenario.own_images("orun.local/migrate");
    let port = free_port();
    local_variant(&scenario, port);

    let steps = plan(&scenario);
    assert!(
        position(&steps, "create redis") < position(&steps, "run migrate")
            && position(&steps, "run migrate") < position(&steps, "create counter"),
        "Redis, then the migration, then the counter: {steps:?}"
    );
    let mut outputs = folders.apply(&scenario);
    let redis = scenario.container("redis");
    let counter = scenario.container("counter");
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

    // The password: Redis wants it, it is a file on the tmpfs, and it is nowhere else.
    let anonymous = docker(&["exec", &redis, "redis-cli", "ping"]);
    assert!(anonymous.contains("NOAUTH"), "{anonymous}");
    let password = docker(&["exec", &redis, "cat", "/run/secrets/REDIS_PASSWORD"]);
    assert!(password.len() >= 16, "a password is mounted: {password:?}");
    let mount = docker(&[
        "exec",
        &counter,
        "python3",
        "-c",
        "print(open('/run/secrets/REDIS_PASSWORD').read())",
    ]);
    assert_eq!(mount, password, "the counter reads the same secret file");

    let old_counter = container_id(&counter);
    set_env(&scenario, "counter", "GREETING", "Hello again");
    let steps = plan(&scenario);
    assert_eq!(
        steps
            .iter()
            .map(|(kind, _)| kind.as_str())
            .collect::<Vec<_>>(),
        ["recreate counter"],
        "a new env reruns no migration"
    );
    outputs.push_str(&folders.apply(&scenario));
    assert_ne!(
        container_id(&counter),
        old_counter,
        "the counter is recreated"
    );
    assert_eq!(
        http_get(port, "/").as_deref(),
        Some("Hello again! This page has been visited 2 times.\n")
    );

    // A changed config file recreates Redis alone, on the same volume.
    let old_redis = container_id(&redis);
    let old_counter = container_id(&counter);
    let config = scenario.repo().join("config/redis.conf");
    let mut settings = fs::read_to_string(&config).unwrap();
    settings.push_str("appendfsync always\n");
    fs::write(&config, settings).unwrap();
    let steps = plan(&scenario);
    assert_eq!(
        steps,
        [(
            "recreate redis".to_string(),
            vec!["files[/etc/redis/orun.conf].sha256".to_string()]
        )]
    );
    outputs.push_str(&folders.apply(&scenario));
    assert_ne!(container_id(&redis), old_redis, "redis is recreated");
    assert_eq!(container_id(&counter), old_counter, "the counter is not");
    let applied = docker(&["exec", &redis, "cat", "/etc/redis/orun.conf"]);
    assert!(applied.contains("appendfsync always"), "{applied}");
    assert!(
        eventually(Duration::from_secs(10), || count(port) == Some(2)),
        "the count survives a recreate of redis: {:?}",
        count(port)
    );
    let converged = folders.apply(&scenario);
    assert!(
        converged.contains("No changes. Node is converged."),
        "converged after both recreates: {converged}"
    );
    outputs.push_str(&converged);

    for (place, text) in [
        ("apply output", &outputs),
        ("containers", &shown(&scenario)),
    ] {
        assert!(
            !text.contains(&password),
            "the password appears in the {place}"
        );
    }
}
