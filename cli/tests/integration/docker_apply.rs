//! `orun plan` and `orun apply --once` against the real Docker engine. Every test works in its own
//! environment (container names `<env>.<deployment>`), and its containers are removed afterwards.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{
    docker, docker_events, docker_timestamp, env_of, eventually, free_port, http_get, inspect,
    scratch_dir, test_image, text, Registry, Scenario, TEST_PAGE,
};

fn web_spec(image: &str, port: u16, greeting: &str) -> String {
    format!(
        "  image: {image}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  env:\n    GREETING: {greeting}\n  stopTimeout: 2s\n"
    )
}

#[test]
fn fresh_apply_creates_containers_with_labels_ports_and_mounts() {
    let scenario = Scenario::new("fresh");
    let image = test_image();
    let port = free_port();
    let data = scratch_dir(&scenario, "data");
    scenario.deployment("web", &web_spec(image, port, "hello"));
    scenario.deployment(
        "worker",
        &format!(
            "  image: {image}\n  command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n  volumes:\n    - hostPath: {}\n      containerPath: /data\n      readOnly: true\n  env:\n    WORKERS: 3\n",
            data.display()
        ),
    );
    let plan = scenario.plan();
    assert_eq!(plan["summary"]["create"], 2, "{plan:#}");

    let output = scenario.apply();
    assert!(output.contains("Apply complete"), "{output}");

    let web = inspect(&scenario.container("web")).expect("web exists");
    assert_eq!(web["State"]["Running"], true);
    let labels = &web["Config"]["Labels"];
    assert_eq!(labels["run.orcra.dev/managed-by"], "orun");
    assert_eq!(
        labels["run.orcra.dev/environment"],
        scenario.environment.as_str()
    );
    assert_eq!(labels["run.orcra.dev/deployment"], "web");
    assert!(labels["run.orcra.dev/spec-hash"]
        .as_str()
        .unwrap()
        .starts_with("v1:"));
    assert!(labels["run.orcra.dev/spec"]
        .as_str()
        .unwrap()
        .contains("\"GREETING\":\"hello\""));
    assert!(labels["run.orcra.dev/commit"].is_string());
    let create = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["kind"] == "create" && action["deployment"] == "web")
        .unwrap();
    for (key, value) in create["labels"].as_object().unwrap() {
        assert_eq!(&labels[key], value, "label {key} differs from the plan");
    }
    assert_eq!(
        web["HostConfig"]["PortBindings"]["80/tcp"],
        json!([{ "HostIp": "127.0.0.1", "HostPort": port.to_string() }])
    );
    assert!(env_of(&web).contains(&"GREETING=hello".to_string()));
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));

    let worker = inspect(&scenario.container("worker")).expect("worker exists");
    assert_eq!(worker["State"]["Running"], true);
    assert!(
        data.is_dir(),
        "a missing hostPath is created as a directory"
    );
    assert_eq!(
        worker["HostConfig"]["Binds"],
        json!([format!("{}:/data:ro", data.display())])
    );
    assert_eq!(
        worker["Config"]["Cmd"],
        json!(["httpd", "-f", "-p", "8080", "-h", "/www"])
    );
    assert!(env_of(&worker).contains(&"WORKERS=3".to_string()));
}

#[test]
fn second_apply_is_a_no_op_without_mutating_calls() {
    let scenario = Scenario::new("noop");
    scenario.deployment("web", &web_spec(test_image(), free_port(), "hello"));
    scenario.deployment("api", &web_spec(test_image(), free_port(), "api"));
    scenario.apply();

    let since = docker_timestamp();
    let output = scenario.apply();
    assert!(
        output.contains("No changes. Node is converged."),
        "{output}"
    );
    let until = docker_timestamp();
    let events = docker_events(&scenario.environment, &since, &until);
    assert_eq!(
        events, "",
        "the second apply made Docker calls that change state"
    );
}

#[test]
fn env_change_recreates_with_changes_and_new_env() {
    let scenario = Scenario::new("envchange");
    let port = free_port();
    scenario.deployment("web", &web_spec(test_image(), port, "hello"));
    scenario.apply();
    let old_id = inspect(&scenario.container("web")).unwrap()["Id"].clone();

    scenario.deployment("web", &web_spec(test_image(), port, "bonjour"));
    let plan = scenario.plan();
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plan:#}");
    assert_eq!(actions[0]["kind"], "recreate");
    assert_eq!(actions[0]["reason"], "spec_changed");
    assert_eq!(
        actions[0]["changes"],
        json!([{ "field": "env.GREETING", "old": "hello", "new": "bonjour" }])
    );

    scenario.apply();
    let web = inspect(&scenario.container("web")).unwrap();
    assert_ne!(web["Id"], old_id, "the container was recreated");
    assert_eq!(web["State"]["Running"], true);
    assert!(env_of(&web).contains(&"GREETING=bonjour".to_string()));
    assert_eq!(
        scenario.containers(),
        vec![scenario.container("web")],
        "no .orun-old left"
    );
    assert_eq!(http_get(port, "/health").as_deref(), Some("ok\n"));
}

#[test]
fn deleted_stopped_and_removed_containers_are_repaired() {
    let scenario = Scenario::new("repair");
    scenario.deployment("web", &web_spec(test_image(), free_port(), "hello"));
    scenario.deployment("api", &web_spec(test_image(), free_port(), "api"));
    scenario.deployment("old", &web_spec(test_image(), free_port(), "old"));
    scenario.apply();

    scenario.remove_deployment("old");
    docker(&["stop", "-t", "1", &scenario.container("web")]);
    docker(&["rm", "-f", &scenario.container("api")]);

    let plan = scenario.plan();
    let kinds: Vec<(String, String, String)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["deployment"].as_str().unwrap().to_string(),
                a["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("remove".into(), "old".into(), "orphaned".into()),
            ("create".into(), "api".into(), "missing".into()),
            ("start".into(), "web".into(), "not_running".into()),
        ]
    );
    scenario.apply();
    assert_eq!(
        scenario.containers(),
        vec![scenario.container("api"), scenario.container("web")]
    );
    for name in ["api", "web"] {
        assert_eq!(
            inspect(&scenario.container(name)).unwrap()["State"]["Running"],
            true
        );
    }
}

#[test]
fn a_container_orun_does_not_own_blocks_its_name_and_is_never_touched() {
    let scenario = Scenario::new("conflict");
    let bystander = format!("{}-bystander", scenario.environment);
    let squatter = scenario.container("web");
    docker(&["run", "-d", "--name", &squatter, test_image()]);
    docker(&["run", "-d", "--name", &bystander, test_image()]);
    let squatter_id = inspect(&squatter).unwrap()["Id"].clone();
    let bystander_id = inspect(&bystander).unwrap()["Id"].clone();

    scenario.deployment("web", &web_spec(test_image(), free_port(), "hello"));
    scenario.deployment("api", &web_spec(test_image(), free_port(), "api"));
    let plan = scenario.plan();
    let last = plan["actions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["reason"].as_str()),
        (Some("blocked"), Some("name_conflict"))
    );

    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "blocked entries make apply exit 1"
    );
    assert!(
        text(&output.stdout).contains(&format!("blocked: {squatter}")),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(
        inspect(&scenario.container("api")).unwrap()["State"]["Running"],
        true
    );
    for (name, id) in [(&squatter, &squatter_id), (&bystander, &bystander_id)] {
        let container = inspect(name).unwrap();
        assert_eq!(&container["Id"], id, "{name} was replaced");
        assert_eq!(container["State"]["Running"], true, "{name} was stopped");
        assert!(container["Config"]["Labels"]["run.orcra.dev/managed-by"].is_null());
    }
    docker(&["rm", "-f", &squatter, &bystander]);
}

#[test]
fn failing_pull_stops_nothing() {
    let scenario = Scenario::new("badpull");
    let port = free_port();
    scenario.deployment("web", &web_spec(test_image(), port, "hello"));
    scenario.deployment("api", &web_spec(test_image(), free_port(), "api"));
    scenario.apply();
    let web_id = inspect(&scenario.container("web")).unwrap()["Id"].clone();
    let api_id = inspect(&scenario.container("api")).unwrap()["Id"].clone();

    // Nothing listens on this registry port: the pull fails, and the env change of api must not
    // be applied either, because pulls run before anything is stopped.
    let missing = format!("127.0.0.1:{}/orun-test/missing:1", free_port());
    scenario.deployment("web", &web_spec(&missing, port, "hello"));
    scenario.deployment("api", &web_spec(test_image(), free_port(), "changed"));
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&format!("pull {missing}")), "{stdout}");
    assert!(
        stdout.contains("skipped because a network, volume, pull or build failed"),
        "{stdout}"
    );
    for (name, id) in [("web", &web_id), ("api", &api_id)] {
        let container = inspect(&scenario.container(name)).unwrap();
        assert_eq!(&container["Id"], id, "{name} was replaced");
        assert_eq!(container["State"]["Running"], true, "{name} was stopped");
    }
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));
}

#[test]
fn images_are_pulled_from_a_local_registry() {
    let registry = Registry::start();
    let reference = registry.push_test_image("orun-test/pulled:1");
    let scenario = Scenario::new("pull");
    let port = free_port();
    scenario.deployment("web", &web_spec(&reference, port, "pulled"));
    let plan = scenario.plan();
    assert_eq!(plan["actions"][0]["kind"], "network");
    assert_eq!(plan["actions"][1]["kind"], "pull");
    assert_eq!(plan["actions"][1]["reason"], "image_missing");
    let output = scenario.apply();
    assert!(
        output.contains(&format!("step 2 pull {}", scenario.container("web"))),
        "{output}"
    );
    assert_eq!(http_get(port, "/health").as_deref(), Some("ok\n"));
    docker(&["rm", "-f", &scenario.container("web")]);
    docker(&["rmi", &reference]);
}

#[test]
fn a_container_that_exits_at_once_fails_and_the_old_one_is_restored() {
    let scenario = Scenario::new("restore");
    let port = free_port();
    scenario.deployment("web", &web_spec(test_image(), port, "hello"));
    scenario.apply();
    let old_id = inspect(&scenario.container("web")).unwrap()["Id"].clone();

    scenario.deployment(
        "web",
        &format!(
            "{}  command: [\"false\"]\n",
            web_spec(test_image(), port, "broken")
        ),
    );
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("did not stay running"), "{stdout}");
    assert!(
        stdout.contains("previous container was restored"),
        "{stdout}"
    );
    let web = inspect(&scenario.container("web")).unwrap();
    assert_eq!(
        web["Id"], old_id,
        "the previous container is back under its name"
    );
    assert_eq!(web["State"]["Running"], true);
    assert_eq!(scenario.containers(), vec![scenario.container("web")]);
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));
}

#[test]
fn sigkill_during_a_recreate_then_apply_again_converges() {
    let scenario = Scenario::new("sigkill");
    let port = free_port();
    // httpd as PID 1 ignores SIGTERM, so stopping it takes the whole stopTimeout: a wide window.
    let spec = |greeting: &str| {
        web_spec(test_image(), port, greeting).replace("stopTimeout: 2s", "stopTimeout: 6s")
    };
    scenario.deployment("web", &spec("hello"));
    scenario.apply();

    scenario.deployment("web", &spec("bonjour"));
    let mut child = scenario
        .command(&["apply", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();

    scenario.apply();
    let container = scenario.container("web");
    assert!(
        eventually(Duration::from_secs(10), || scenario.containers()
            == vec![container.clone()]),
        "leftover containers: {:?}",
        scenario.containers()
    );
    let web = inspect(&container).unwrap();
    assert_eq!(web["State"]["Running"], true);
    assert!(env_of(&web).contains(&"GREETING=bonjour".to_string()));
    let again = scenario.apply();
    assert!(again.contains("No changes. Node is converged."), "{again}");
}

/// Applies `web` greeting `hello`, changes it to `changed` and saves the plan of the change
/// (`orun plan --out`); the plan file.
fn saved_change(scenario: &Scenario) -> std::path::PathBuf {
    scenario.deployment("web", &web_spec(test_image(), free_port(), "hello"));
    scenario.apply();
    scenario.deployment("web", &web_spec(test_image(), free_port(), "changed"));
    let plan_file = scenario.repo().join("plan.json");
    let output = scenario.orun(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    plan_file
}

#[test]
fn a_stale_saved_plan_is_refused_and_changes_nothing() {
    let scenario = Scenario::new("stale");
    let plan_file = saved_change(&scenario);

    docker(&["stop", "-t", "1", &scenario.container("web")]);
    let before = inspect(&scenario.container("web")).unwrap();
    let output = scenario.orun(&["apply", "--once", "--plan", plan_file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("is stale"),
        "{}",
        text(&output.stderr)
    );
    let after = inspect(&scenario.container("web")).unwrap();
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["State"]["Running"], false, "nothing was started");

    // A fresh saved plan applies exactly.
    let output = scenario.orun(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(output.status.success());
    let output = scenario.orun(&["apply", "--once", "--plan", plan_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stdout));
    assert!(env_of(&inspect(&scenario.container("web")).unwrap())
        .contains(&"GREETING=changed".to_string()));
}

#[test]
fn a_saved_plan_altered_to_remove_a_container_is_refused_and_removes_nothing() {
    let scenario = Scenario::new("tampered");
    let bystander = format!("{}-bystander", scenario.environment);
    docker(&["run", "-d", "--name", &bystander, test_image()]);
    let bystander_id = inspect(&bystander).unwrap()["Id"].clone();
    let plan_file = saved_change(&scenario);
    let web = inspect(&scenario.container("web")).unwrap();

    // Add a removal of the container orun does not own, and leave the summary saying 0 to remove.
    let mut saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let actions = saved["actions"].as_array_mut().unwrap();
    let step = actions.len() + 1;
    actions.push(json!({
        "step": step, "kind": "remove", "deployment": "web", "container": bystander,
        "image": test_image(), "reason": "orphaned", "changes": []
    }));
    std::fs::write(&plan_file, serde_json::to_string_pretty(&saved).unwrap()).unwrap();

    let output = scenario.orun(&["apply", "--once", "--plan", plan_file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let error = text(&output.stderr);
    assert!(
        error.contains(&format!(
            "is not the plan orun makes now: it has step {step} remove {bystander} (orphaned), which orun does not plan now"
        )) && error.contains("run orun plan again"),
        "{error}"
    );
    let after = inspect(&bystander).unwrap();
    assert_eq!(after["Id"], bystander_id);
    assert_eq!(after["State"]["Running"], true, "the bystander was stopped");
    let unchanged = inspect(&scenario.container("web")).unwrap();
    assert_eq!(unchanged["Id"], web["Id"], "nothing of the plan ran");
    docker(&["rm", "-f", &bystander]);

    let output = scenario.orun(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(output.status.success());
    let output = scenario.orun(&["apply", "--once", "--plan", plan_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stdout));
}

#[test]
fn save_observed_writes_a_replayable_snapshot() {
    let scenario = Scenario::new("snapshot");
    scenario.deployment("web", &web_spec(test_image(), free_port(), "hello"));
    scenario.apply();
    let snapshot = scenario.repo().join("observed.json");
    let live = scenario.orun(&[
        "plan",
        "--output",
        "json",
        "--save-observed",
        snapshot.to_str().unwrap(),
    ]);
    assert!(live.status.success());
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&snapshot).unwrap()).unwrap();
    let names: Vec<&str> = saved["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&scenario.container("web").as_str()));
    let replay = scenario.orun(&[
        "plan",
        "--output",
        "json",
        "--observed",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(text(&live.stdout), text(&replay.stdout));
}

#[test]
fn a_leftover_rollback_copy_is_resolved_by_the_next_apply() {
    let scenario = Scenario::new("leftover");
    let port = free_port();
    scenario.deployment("web", &web_spec(test_image(), port, "hello"));
    scenario.apply();
    // What an apply killed between renaming the old container and creating the new one leaves.
    let name = scenario.container("web");
    let rollback = format!("{name}.orun-old");
    docker(&["stop", "-t", "1", &name]);
    docker(&["rename", &name, &rollback]);

    let plan = scenario.plan();
    let kinds: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["create"],
        "the rollback copy is kept while {name} is missing: {plan:#}"
    );
    let output = scenario.apply();
    assert!(
        output.contains("remove"),
        "the follow-up removes the rollback copy once {name} runs: {output}"
    );
    assert_eq!(scenario.containers(), vec![name.clone()]);
    assert_eq!(inspect(&name).unwrap()["State"]["Running"], true);
    assert_eq!(http_get(port, "/").as_deref(), Some(TEST_PAGE));
}
