//! `dependsOn` against the real engine: a dependency is created and ready before its dependent,
//! whatever their names, and a dependent whose dependency never gets ready is not started.

use std::time::{Duration, SystemTime};

use crate::support::{inspect, test_image, text, Scenario};

/// The test image running `script` in its shell before serving, with a readiness probe that
/// passes once `/www/ready` exists.
fn ready_after(script: &str) -> String {
    format!(
        "  image: {}\n  command: [sh, -c, \"{script}\"]\n  stopTimeout: 1s\n  health:\n    readiness:\n      exec: [/bin/busybox, test, -f, /www/ready]\n      interval: 300ms\n      deadline: 6s\n",
        test_image()
    )
}

/// When `name` last started, from Docker's `State.StartedAt`.
fn started_at(name: &str) -> SystemTime {
    let container = inspect(name).unwrap_or_else(|| panic!("{name} exists"));
    let text = container["State"]["StartedAt"]
        .as_str()
        .unwrap()
        .to_string();
    humantime::parse_rfc3339(&text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

#[test]
fn a_dependency_is_created_and_ready_before_its_dependent_against_name_order() {
    let scenario = Scenario::new("deps-order");
    scenario.deployment(
        "z-db",
        &ready_after("/bin/busybox sleep 2; /bin/busybox touch /www/ready; exec /bin/busybox httpd -f -p 80 -h /www"),
    );
    scenario.deployment(
        "a-web",
        &format!(
            "  image: {}\n  stopTimeout: 1s\n  dependsOn: [z-db]\n",
            test_image()
        ),
    );

    let plan = scenario.plan();
    let creates: Vec<(&str, &serde_json::Value)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["kind"] == "create")
        .map(|action| (action["deployment"].as_str().unwrap(), &action["after"]))
        .collect();
    assert_eq!(creates.len(), 2, "{plan}");
    assert_eq!(creates[0].0, "z-db");
    assert_eq!(creates[1], ("a-web", &serde_json::json!(["z-db"])));

    scenario.apply();
    let db = started_at(&scenario.container("z-db"));
    let web = started_at(&scenario.container("a-web"));
    // z-db gets ready 2 s after it started; a-web must not start before that.
    let gap = web.duration_since(db).expect("a-web started after z-db");
    assert!(
        gap >= Duration::from_millis(1900),
        "a-web started {gap:?} after z-db, before z-db was ready"
    );
}

#[test]
fn a_dependent_is_not_started_when_its_dependency_never_gets_ready() {
    let scenario = Scenario::new("deps-failed");
    scenario.deployment(
        "z-db",
        &ready_after("echo db is broken; exec /bin/busybox httpd -f -p 80 -h /www"),
    );
    scenario.deployment(
        "a-web",
        &format!(
            "  image: {}\n  stopTimeout: 1s\n  dependsOn: [z-db]\n",
            test_image()
        ),
    );
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("not started: dependency z-db failed"),
        "{stdout}"
    );
    assert!(
        inspect(&scenario.container("a-web")).is_none(),
        "a-web was created although z-db never got ready"
    );
}
