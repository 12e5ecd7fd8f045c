//! The `orun` binary as a user runs it: exit codes, stdout/stderr, and the JSON plan document.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use tempfile::TempDir;

#[path = "support/command.rs"]
mod command;
#[path = "support/two_tier.rs"]
mod two_tier;

use command::{orun, stderr, stdout, write};

fn deployment(name: &str, body: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{body}"
    )
}

/// A repository with two deployments, and an empty observed snapshot beside it.
fn repo() -> TempDir {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "deployments/web.yaml",
        &deployment(
            "web",
            "  image: nginx:alpine\n  ports:\n    - containerPort: 80\n      port: 8080\n  env:\n    LOG_LEVEL: info\n",
        ),
    );
    write(
        dir.path(),
        "deployments/api.yaml",
        &deployment("api", "  image: traefik/whoami\n"),
    );
    write(dir.path(), "empty.json", "{}");
    dir
}

fn plan_text(repo: &Path, observed: &Path) -> String {
    let output = orun(&[
        "plan",
        "--repo",
        repo.to_str().unwrap(),
        "--observed",
        observed.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

fn plan_json(repo: &Path, observed: &Path) -> Value {
    serde_json::from_str(&plan_text(repo, observed)).expect("stdout is exactly one JSON document")
}

/// The observed snapshot after applying `plan`: every create/recreate is a running container, and
/// every planned network and volume exists.
fn snapshot_after(plan: &Value) -> Value {
    let mut containers = Vec::new();
    let mut images = Vec::new();
    let mut networks = Vec::new();
    let mut volumes = Vec::new();
    for action in plan["actions"].as_array().unwrap() {
        if action["kind"] == "network" {
            networks.push(json!({ "name": action["network"] }));
        }
        if action["kind"] == "volume" {
            volumes.push(json!({ "name": action["volume"] }));
        }
        if action["kind"] == "create" || action["kind"] == "recreate" {
            let image = action["image"].as_str().unwrap();
            let image_id = format!("sha256:{:0>64}", image.len());
            containers.push(json!({
                "id": format!("{:0>12}", containers.len()),
                "name": action["container"],
                "image": image,
                "image_id": image_id,
                "state": "running",
                "labels": action["labels"],
            }));
            images.push(json!({ "id": image_id, "tags": [image] }));
        }
    }
    json!({ "containers": containers, "images": images, "networks": networks, "volumes": volumes })
}

#[test]
fn plan_converges_after_applying_create_labels_and_env_edit_recreates_once() {
    let dir = repo();
    let fresh = plan_json(dir.path(), &dir.path().join("empty.json"));
    assert_eq!(fresh["summary"]["create"], 2);

    let observed = dir.path().join("observed.json");
    fs::write(&observed, snapshot_after(&fresh).to_string()).unwrap();
    let converged = plan_json(dir.path(), &observed);
    assert_eq!(converged["actions"], json!([]));
    assert_eq!(converged["summary"]["unchanged"], 2);

    let web = dir.path().join("deployments/web.yaml");
    let edited = fs::read_to_string(&web)
        .unwrap()
        .replace("LOG_LEVEL: info", "LOG_LEVEL: debug");
    fs::write(&web, edited).unwrap();
    let changed = plan_json(dir.path(), &observed);
    let actions = changed["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{changed:#}");
    assert_eq!(actions[0]["kind"], "recreate");
    assert_eq!(actions[0]["reason"], "spec_changed");
    assert_eq!(actions[0]["container"], "web");
    assert_eq!(
        actions[0]["changes"],
        json!([{ "field": "env.LOG_LEVEL", "old": "info", "new": "debug" }])
    );
    assert_eq!(changed["summary"]["recreate"], 1);
    assert_eq!(changed["summary"]["unchanged"], 1);
}

#[test]
fn json_plan_has_the_documented_shape() {
    let dir = repo();
    let plan = plan_json(dir.path(), &dir.path().join("empty.json"));
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["environment"], "production");
    assert!(plan["commit"].is_string());
    let summary = plan["summary"].as_object().unwrap();
    let keys = [
        "network",
        "volume",
        "pull",
        "build",
        "remove",
        "update",
        "recreate",
        "create",
        "start",
        "blocked",
        "unchanged",
    ];
    assert_eq!(summary.len(), keys.len());
    let text = plan_text(dir.path(), &dir.path().join("empty.json"));
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| text.find(&format!("\"{key}\":")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "summary keys out of order"
    );
    let network = &plan["actions"][0];
    assert_eq!(network["step"], 1);
    assert_eq!(network["kind"], "network");
    assert_eq!(network["network"], "orun-production");
    for key in ["deployment", "container", "image"] {
        assert_eq!(network[key], Value::Null, "{key}");
    }
    let pull = &plan["actions"][1];
    assert_eq!(pull["step"], 2);
    assert_eq!(pull["kind"], "pull");
    assert_eq!(pull["changes"], json!([]));
    assert!(pull.get("labels").is_none());
    let create = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["kind"] == "create")
        .unwrap();
    for key in [
        "step",
        "kind",
        "deployment",
        "container",
        "image",
        "reason",
        "labels",
        "changes",
    ] {
        assert!(
            create.get(key).is_some(),
            "create action lacks {key}: {create:#}"
        );
    }
    let labels = create["labels"].as_object().unwrap();
    assert_eq!(labels["run.orcra.dev/managed-by"], "orun");
    assert!(labels["run.orcra.dev/spec-hash"]
        .as_str()
        .unwrap()
        .starts_with("v1:"));
}

#[test]
fn exit_codes_follow_detailed_exitcode() {
    let dir = repo();
    let repo_arg = dir.path().to_str().unwrap();
    let empty = dir.path().join("empty.json");
    let empty_arg = empty.to_str().unwrap();

    let pending = orun(&["plan", "--repo", repo_arg, "--observed", empty_arg]);
    assert_eq!(pending.status.code(), Some(0));
    assert!(
        stdout(&pending).contains("Plan: 2 to create, 0 to recreate, 0 to remove, 0 unchanged.")
    );

    let detailed = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        empty_arg,
        "--detailed-exitcode",
    ]);
    assert_eq!(detailed.status.code(), Some(2));

    let plan = plan_json(dir.path(), &empty);
    let observed = dir.path().join("observed.json");
    fs::write(&observed, snapshot_after(&plan).to_string()).unwrap();
    let converged = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        observed.to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    assert_eq!(converged.status.code(), Some(0));
    assert!(stdout(&converged).contains("No changes. Node is converged."));
}

#[test]
fn invalid_manifests_exit_1_naming_file_and_field_and_plan_nothing() {
    let dir = repo();
    write(
        dir.path(),
        "deployments/api.yaml",
        &deployment("api", "  imgae: traefik/whoami\n"),
    );
    write(
        dir.path(),
        "deployments/web.yaml",
        &deployment(
            "web",
            "  image: nginx\n  ports:\n    - containerPort: 80\n      port: 99999\n",
        ),
    );
    validate_and_plan_fail(
        dir.path(),
        &[
            "deployments/api.yaml:6:3: spec.imgae: unknown field `imgae`",
            "deployments/web.yaml:9:13: spec.ports[0].port: port 99999 is out of range",
        ],
    );
}

/// `orun validate` and `orun plan` of the repository `repo` (with its `empty.json` observed)
/// both exit 1, plan nothing and name every one of `problems`.
fn validate_and_plan_fail(repo: &Path, problems: &[&str]) {
    let repo_arg = repo.to_str().unwrap();
    let observed = repo.join("empty.json");
    for args in [
        vec!["validate", "--repo", repo_arg],
        vec![
            "plan",
            "--repo",
            repo_arg,
            "--observed",
            observed.to_str().unwrap(),
        ],
    ] {
        let output = orun(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stdout(&output),
            "",
            "nothing is planned from an invalid revision"
        );
        let errors = stderr(&output);
        for problem in problems {
            assert!(errors.contains(problem), "{problem} in {errors}");
        }
    }
}

#[test]
fn a_mounted_file_the_repository_cannot_give_fails_validate_and_plan_naming_file_and_field() {
    let dir = repo();
    write(
        dir.path(),
        "deployments/web.yaml",
        &deployment(
            "web",
            "  image: nginx\n  files:\n    - source: config/app.conf\n      target: /etc/app.conf\n",
        ),
    );
    let repo_arg = dir.path().to_str().unwrap();
    let observed = dir.path().join("empty.json");
    let field = "deployments/web.yaml: spec.files[0].source: config/app.conf: ";
    let fails_with =
        |problem: &str| validate_and_plan_fail(dir.path(), &[&format!("{field}{problem}")]);
    fails_with("no file there in the repository (nothing, or a folder)");
    fs::create_dir_all(dir.path().join("config/app.conf")).unwrap();
    fails_with("no file there in the repository (nothing, or a folder)");
    fs::remove_dir(dir.path().join("config/app.conf")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("config/app.conf")).unwrap();
    fails_with("a symlink whose real path is outside");
    fs::remove_file(dir.path().join("config/app.conf")).unwrap();
    fs::write(
        dir.path().join("config/app.conf"),
        vec![b'#'; (1 << 20) + 1],
    )
    .unwrap();
    fails_with("larger than 1048576 bytes");
    fs::write(dir.path().join("config/app.conf"), "x = 1\n").unwrap();
    let output = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        observed.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("sha256"), "{}", stdout(&output));
}

#[test]
fn validate_reports_every_problem_of_one_file() {
    let dir = repo();
    write(
        dir.path(),
        "deployments/web.yaml",
        &deployment(
            "web",
            "  image: nginx\n  restart: always\n  ports:\n    - containerPort: 80\n      port: 99999\n  stopTimeout: 10\n",
        ),
    );
    let output = orun(&["validate", "--repo", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains("3 problems in the manifests"), "{errors}");
    for expected in [
        "deployments/web.yaml:7:3: spec.restart: unknown field `restart`",
        "deployments/web.yaml:10:13: spec.ports[0].port: port 99999 is out of range",
        "deployments/web.yaml:11:16: spec.stopTimeout: invalid duration \"10\"",
    ] {
        assert!(
            errors.contains(expected),
            "{expected} missing from:\n{errors}"
        );
    }
}

#[test]
fn usage_errors_exit_1_never_2() {
    let dir = repo();
    let repo_arg = dir.path().to_str().unwrap();
    for args in [
        vec!["plan", "--repo", repo_arg, "--detailed-exitcode", "--bogus"],
        vec![
            "plan",
            "--repo",
            repo_arg,
            "--output",
            "yaml",
            "--detailed-exitcode",
        ],
        vec!["apply", "--repo", repo_arg],
        vec!["no-such-command"],
    ] {
        let output = orun(&args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("error:"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(orun(&["plan", "--help"]).status.code(), Some(0));
    assert_eq!(orun(&["--version"]).status.code(), Some(0));
}

#[test]
fn validate_catches_a_domain_clash_that_only_appears_once_env_is_resolved() {
    let dir = repo();
    let repo_arg = dir.path().to_str().unwrap();
    let service = |name: &str, environment: &str| {
        format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: {name}.example.com\n      environment: {environment}\n"
        )
    };
    write(
        dir.path(),
        "services/a.yaml",
        &service("a", "$ENV.example.com"),
    );
    write(
        dir.path(),
        "services/b.yaml",
        &service("b", "staging.example.com"),
    );
    let valid = orun(&["validate", "--repo", repo_arg]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    assert!(stdout(&valid).contains("environments: production"));

    let staging = orun(&["validate", "--repo", repo_arg, "--environment", "staging"]);
    assert_eq!(staging.status.code(), Some(1));
    assert!(
        stderr(&staging)
            .contains("services/b.yaml: spec.ingress.domain: domain \"staging.example.com\""),
        "{}",
        stderr(&staging)
    );

    write(
        dir.path(),
        "nodes/edge.yaml",
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: edge\nspec:\n  host: 10.0.0.1\n  gitRepo: /srv/infra.git\n  gitBranch: staging\n",
    );
    let with_node = orun(&["validate", "--repo", repo_arg]);
    assert_eq!(with_node.status.code(), Some(1));
    assert!(
        stderr(&with_node).contains("for node edge:"),
        "{}",
        stderr(&with_node)
    );
    assert!(stderr(&with_node).contains("staging.example.com"));
}

fn node(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  host: {name}.internal\n  gitRepo: /srv/infra.git\n  labels: {labels}\n"
    )
}

#[test]
fn validate_prints_placement_warnings_and_notes_and_still_succeeds() {
    let dir = repo();
    let repo_arg = dir.path().to_str().unwrap();
    let quiet = orun(&["validate", "--repo", repo_arg]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert_eq!(
        stderr(&quiet),
        "",
        "a revision without placement has nothing to say"
    );

    write(
        dir.path(),
        "nodes/web-01.yaml",
        &node("web-01", "{role: web}"),
    );
    write(dir.path(), "nodes/db-01.yaml", &node("db-01", "{role: db}"));
    write(
        dir.path(),
        "deployments/api.yaml",
        &deployment(
            "api",
            "  image: traefik/whoami\n  dependsOn: [db]\n  placement:\n    labels: {role: web}\n",
        ),
    );
    write(
        dir.path(),
        "deployments/db.yaml",
        &deployment(
            "db",
            "  image: postgres:16\n  placement:\n    nodes: [db-01]\n",
        ),
    );
    write(
        dir.path(),
        "deployments/gpu.yaml",
        &deployment(
            "gpu",
            "  image: nginx:alpine\n  placement:\n    labels: {gpu: \"yes\"}\n",
        ),
    );
    let output = orun(&["validate", "--repo", repo_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("valid: 2 node(s), 4 deployment(s), 0 service(s)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        stderr(&output),
        "warning: deployments/gpu.yaml: spec.placement: no Node of the repository matches it \
         (nodes/: db-01, web-01), so no node runs deployment \"gpu\"\n\
         note: deployments/api.yaml: spec.dependsOn[0]: deployment \"api\" depends on \"db\", \
         but no node that runs \"api\" (web-01) runs \"db\" (db-01): the dependency is ignored \
         for ordering\n"
    );
}

#[test]
fn the_plan_header_names_the_node_or_says_placement_was_not_applied() {
    let dir = repo();
    let repo_arg = dir.path().to_str().unwrap();
    let observed = dir.path().join("empty.json");
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--repo",
            repo_arg,
            "--observed",
            observed.to_str().unwrap(),
        ];
        args.extend(extra);
        let output = orun(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout(&output)
    };
    let not_applied = "placement not applied: every deployment of the environment is planned; \
                       pass --node NAME for one node's share";
    let unplaced = plan(&[]);
    assert!(
        !unplaced.contains("placement") && !unplaced.contains("node:"),
        "{unplaced}"
    );

    write(dir.path(), "nodes/web-01.yaml", &node("web-01", "{}"));
    write(dir.path(), "nodes/db-01.yaml", &node("db-01", "{}"));
    write(
        dir.path(),
        "deployments/api.yaml",
        &deployment(
            "api",
            "  image: traefik/whoami\n  placement:\n    nodes: [db-01]\n",
        ),
    );
    let every = plan(&[]);
    assert_eq!(every.lines().nth(1), Some(not_applied), "{every}");
    assert!(every.contains("┆ create  ┆ api "), "{every}");
    let share = plan(&["--node", "web-01"]);
    assert_eq!(share.lines().nth(1), Some("node: web-01"), "{share}");
    assert!(
        share.contains("┆ create  ┆ web ") && !share.contains("api"),
        "{share}"
    );
    let json = plan(&["--node", "web-01", "--output", "json"]);
    let document: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(document["node"], "web-01");
    let json = plan(&["--output", "json"]);
    let document: Value = serde_json::from_str(&json).unwrap();
    assert!(document.get("node").is_none(), "{json}");
}

#[test]
fn validate_reports_an_inventory() {
    let dir = repo();
    let output = orun(&["validate", "--repo", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("valid: 0 node(s), 2 deployment(s), 0 service(s)"));
}

#[test]
fn errors_exit_1_naming_what_failed() {
    let dir = repo();
    let repo_arg = dir.path().to_str().unwrap();
    write(dir.path(), "broken.json", "{\"containers\": [{\"id\": 1}]}");

    let missing = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        "/nonexistent/observed.json",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent/observed.json"));

    let broken_path = dir.path().join("broken.json");
    let broken = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        broken_path.to_str().unwrap(),
    ]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("broken.json: invalid observed snapshot"),
        "{}",
        stderr(&broken)
    );

    let unknown_node = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        "x",
        "--node",
        "ghost",
    ]);
    assert_eq!(unknown_node.status.code(), Some(1));
    assert!(
        stderr(&unknown_node).contains("no Node named \"ghost\""),
        "{}",
        stderr(&unknown_node)
    );

    let bad_env = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        "x",
        "--environment",
        "Bad Env",
    ]);
    assert_eq!(bad_env.status.code(), Some(1));
    assert!(stderr(&bad_env).contains("--environment"));

    let no_repo = orun(&["validate", "--repo", "/nonexistent/repo"]);
    assert_eq!(no_repo.status.code(), Some(1));
    assert!(stderr(&no_repo).contains("/nonexistent/repo"));
}

#[test]
fn bootstrap_refuses_node_values_that_would_escape_into_a_command() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "nodes/edge.yaml",
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: edge\nspec:\n  host: 10.0.0.1\n  user: \"-oProxyCommand=touch /tmp/pwned\"\n  gitRepo: /srv/infra.git\n  dataDir: \"/opt/orun\\nExecStartPre=/bin/id\"\n",
    );
    let node = dir.path().join("nodes/edge.yaml");
    let output = orun(&["bootstrap", "--dry-run", node.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr(&output);
    for expected in [
        "nodes/edge.yaml: spec.dataDir: must not contain control characters (found U+000A)",
        "nodes/edge.yaml: spec.user: \"-oProxyCommand=touch /tmp/pwned\" must not start with '-'",
    ] {
        assert!(stderr.contains(expected), "{stderr}");
    }
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
}

#[test]
fn bootstrap_refuses_an_insecure_transport_before_reaching_the_node_unless_the_node_accepts_it() {
    let dir = TempDir::new().unwrap();
    for url in [
        "git://git.example.com/infra.git",
        "http://u:t0ken@git.example.com/infra.git",
    ] {
        let manifest = format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: edge\nspec:\n  host: 10.0.0.1\n  gitRepo: {url}\n"
        );
        write(dir.path(), "nodes/edge.yaml", &manifest);
        let node = dir.path().join("nodes/edge.yaml");
        let refused = orun(&["bootstrap", "--dry-run", node.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1), "{url}");
        let error = stderr(&refused);
        assert!(
            error.contains(&format!("{}: spec.gitRepo: ", node.display()))
                && error.contains("uses an insecure transport")
                && error.contains("allowInsecureTransport: true")
                && !error.contains("t0ken"),
            "{error}"
        );
        assert!(stdout(&refused).is_empty(), "{}", stdout(&refused));

        write(
            dir.path(),
            "nodes/edge.yaml",
            &format!("{manifest}  allowInsecureTransport: true\n"),
        );
        let accepted = orun(&["bootstrap", "--dry-run", node.to_str().unwrap()]);
        assert!(accepted.status.success(), "{}", stderr(&accepted));
        assert!(stdout(&accepted).contains("Would run on"));
    }
}

/// `orun start` with `flag value` and a repository that does not exist: what start checks before
/// it ever reads the repository.
fn start_with(data: &TempDir, flag: &str, value: &str) -> std::process::Output {
    orun(&[
        "start",
        "--repo",
        "/nonexistent/repo",
        "--data-dir",
        data.path().to_str().unwrap(),
        flag,
        value,
    ])
}

#[test]
fn a_poll_interval_under_one_second_is_refused() {
    let data = TempDir::new().unwrap();
    for short in ["200ms", "0s"] {
        let output = start_with(&data, "--poll-interval", short);
        assert_eq!(output.status.code(), Some(1), "{short}");
        assert!(
            stderr(&output).contains(&format!("--poll-interval {short}: must be at least 1s")),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn caddy_admin_takes_a_unix_socket_path_only() {
    let data = TempDir::new().unwrap();
    let start = |admin: &str| start_with(&data, "--caddy-admin", admin);
    let tcp = start("127.0.0.1:2019");
    assert_eq!(tcp.status.code(), Some(1));
    assert!(
        stderr(&tcp).contains("--caddy-admin 127.0.0.1:2019: expected the path of a unix socket"),
        "{}",
        stderr(&tcp)
    );
    let long = format!("/{}/admin.sock", "d".repeat(120));
    let too_long = start(&long);
    assert_eq!(too_long.status.code(), Some(1));
    assert!(
        stderr(&too_long).contains("a unix socket path has at most 107 bytes"),
        "{}",
        stderr(&too_long)
    );
}

#[test]
fn an_unreadable_or_empty_webhook_secret_file_stops_start_naming_the_file() {
    let data = TempDir::new().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let start =
        |secret: &Path| start_with(&data, "--webhook-secret-file", secret.to_str().unwrap());
    let missing = data.path().join("missing-secret");
    let output = start(&missing);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!("cannot read --webhook-secret-file: {}: ", missing.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));

    let empty = data.path().join("empty-secret");
    fs::write(&empty, " \n\n").unwrap();
    let output = start(&empty);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!(
        "--webhook-secret-file: {}: the webhook secret file is empty",
        empty.display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));

    let config = data.path().join("node.yaml");
    fs::write(
        &config,
        format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: a\nspec:\n  host: 127.0.0.1\n  gitRepo: /nonexistent/repo\n  dataDir: {data_dir}\n  webhookSecretFile: {}\n",
            missing.display()
        ),
    )
    .unwrap();
    let output = orun(&["start", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!(
        "cannot read {}: spec.webhookSecretFile: {}: ",
        config.display(),
        missing.display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));

    // A FIFO nothing writes to is refused at once instead of holding start for ever.
    let fifo = data.path().join("fifo-secret");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let output = start(&fifo);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!(
        "--webhook-secret-file: {}: not a regular file (a FIFO, socket or device)",
        fifo.display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}

#[test]
fn empty_desired_state_is_refused_unless_allowed() {
    let dir = repo();
    let plan = plan_json(dir.path(), &dir.path().join("empty.json"));
    let observed = dir.path().join("observed.json");
    fs::write(&observed, snapshot_after(&plan).to_string()).unwrap();
    fs::remove_dir_all(dir.path().join("deployments")).unwrap();
    let repo_arg = dir.path().to_str().unwrap();
    let observed_arg = observed.to_str().unwrap();

    let refused = orun(&["plan", "--repo", repo_arg, "--observed", observed_arg]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("--allow-empty"),
        "{}",
        stderr(&refused)
    );

    let allowed = orun(&[
        "plan",
        "--repo",
        repo_arg,
        "--observed",
        observed_arg,
        "--allow-empty",
        "--output",
        "json",
    ]);
    assert_eq!(allowed.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(plan["summary"]["remove"], 2);
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        "validate",
        "plan",
        "apply",
        "start",
        "status",
        "completions",
        "manpage",
    ] {
        let output = orun(&[command, "--help"]);
        assert!(output.status.success());
        assert!(
            stdout(&output).contains("Example"),
            "{command} --help lacks an example"
        );
    }
}

#[test]
fn bundled_example_plans_against_its_snapshot() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let observed = example.join("observed.json");
    let output = orun(&[
        "plan",
        "--repo",
        example.to_str().unwrap(),
        "--observed",
        observed.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("Plan: 1 to create, 1 to recreate, 1 to remove, 0 unchanged."),
        "{text}"
    );
    assert!(text.contains("env.GREETING"), "{text}");
    assert!(
        !text.contains("postgres"),
        "an unmanaged container appeared in the plan: {text}"
    );
}

/// `orun validate` of the two-tier example at `repo`, with its demo age identity, succeeds.
fn assert_two_tier_valid(repo: &Path) {
    let key = two_tier::demo_age_key();
    let output = orun(&[
        "validate",
        "--repo",
        repo.to_str().unwrap(),
        "--age-key-path",
        key.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{} does not validate: {}",
        repo.display(),
        stderr(&output)
    );
}

/// Each action of the plan of the two-tier example at `repo` for a host with no containers and
/// no images, as `kind target`, the target being its network, volume, job or deployment.
fn two_tier_steps_for_empty_host(repo: &Path) -> Vec<String> {
    let scratch = TempDir::new().unwrap();
    write(scratch.path(), "observed.json", "{}");
    let key = two_tier::demo_age_key();
    let output = orun(&[
        "plan",
        "--repo",
        repo.to_str().unwrap(),
        "--observed",
        scratch.path().join("observed.json").to_str().unwrap(),
        "--age-key-path",
        key.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            let target = ["network", "volume", "job", "deployment"]
                .iter()
                .find_map(|key| action[key].as_str())
                .unwrap_or_default();
            format!("{} {target}", action["kind"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn two_tier_example_validates_with_public_and_local_images() {
    assert_two_tier_valid(&two_tier::example());
    let local = TempDir::new().unwrap();
    two_tier::write_local_variant(local.path());
    assert_two_tier_valid(local.path());
}

#[test]
fn two_tier_plan_prepares_network_and_volume_and_runs_the_migration_between_redis_and_counter() {
    let local = TempDir::new().unwrap();
    two_tier::write_local_variant(local.path());
    for repo in [two_tier::example().as_path(), local.path()] {
        let steps = two_tier_steps_for_empty_host(repo);
        let position = |step: &str| {
            steps
                .iter()
                .position(|s| s == step)
                .unwrap_or_else(|| panic!("no {step} in {steps:?}"))
        };
        assert!(position("network orun-production") < position("build counter"));
        assert!(position("volume redis-data") < position("pull redis"));
        assert!(
            position("create redis") < position("run migrate")
                && position("run migrate") < position("create counter"),
            "{steps:?}"
        );
    }
}

#[test]
fn completions_and_man_page_are_generated_from_the_command_line_definition() {
    let bash = orun(&["completions", "bash"]);
    assert!(bash.status.success());
    assert!(stdout(&bash).contains("orun"));
    let man = orun(&["manpage"]);
    assert!(man.status.success());
    assert!(stdout(&man).contains(".TH orun 1"));
}

/// `cargo deb -p orun` packages the man page and completions kept in `cli/debian/`, so they must
/// be what this binary generates; after a command-line change, regenerate them with
/// `scripts/deb --assets`.
#[test]
fn packaged_man_page_and_completions_match_the_binary() {
    let debian = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian");
    for (args, file) in [
        (&["manpage"][..], "orun.1"),
        (&["completions", "bash"][..], "completions/orun.bash"),
        (&["completions", "zsh"][..], "completions/_orun"),
        (&["completions", "fish"][..], "completions/orun.fish"),
    ] {
        let kept = std::fs::read_to_string(debian.join(file)).expect(file);
        assert!(
            stdout(&orun(args)) == kept,
            "cli/debian/{file} is out of date: run scripts/deb --assets"
        );
    }
}

#[test]
fn start_refuses_an_insecure_transport_unless_told_to_accept_it() {
    let data = TempDir::new().unwrap();
    let data_dir = data.path().to_str().unwrap();
    for url in ["git://127.0.0.1:9/x.git", "http://127.0.0.1:9/x.git"] {
        let refused = orun(&["start", "--repo", url, "--data-dir", data_dir]);
        assert_eq!(refused.status.code(), Some(1), "{url}");
        assert!(
            stderr(&refused).contains(&format!("--repo: {url} uses an insecure transport"))
                && stderr(&refused)
                    .contains("allowInsecureTransport: true (--allow-insecure-transport)"),
            "{}",
            stderr(&refused)
        );
        // A poll interval of 0s is refused after the transport check: reaching it proves the
        // opt-in let the URL through, without starting a daemon.
        let accepted = orun(&[
            "start",
            "--repo",
            url,
            "--data-dir",
            data_dir,
            "--allow-insecure-transport",
            "--poll-interval",
            "0s",
        ]);
        assert_eq!(accepted.status.code(), Some(1), "{url}");
        assert!(
            !stderr(&accepted).contains("insecure transport")
                && stderr(&accepted).contains("--poll-interval"),
            "{}",
            stderr(&accepted)
        );
    }
}

/// A Node file with `policy`, as a node's `--config` file holds it.
fn policy_file(dir: &Path, policy: &str) -> String {
    write(
        dir,
        "node.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: web-01\nspec:\n  host: 10.0.0.1\n  gitRepo: /srv/infra.git\n  policy:\n{policy}"
        ),
    );
    dir.join("node.yaml").display().to_string()
}

#[test]
fn validate_plan_and_apply_refuse_what_the_policy_file_denies_one_error_per_field() {
    let repo = TempDir::new().unwrap();
    write(
        repo.path(),
        "deployments/x.yaml",
        &deployment(
            "x",
            "  image: docker:cli\n  network: host\n  capAdd: [NET_ADMIN]\n  volumes:\n    - hostPath: /var/run/docker.sock\n      containerPath: /var/run/docker.sock\n    - hostPath: /srv/x\n      containerPath: /data\n",
        ),
    );
    write(repo.path(), "empty.json", "{}");
    let config = TempDir::new().unwrap();
    let strict = policy_file(
        config.path(),
        "    hostNetwork: deny\n    dockerSocket: deny\n    hostPathPrefixes: [/srv]\n    capAdd: [NET_BIND_SERVICE]\n",
    );
    let repo_path = repo.path().to_str().unwrap();
    let observed = repo.path().join("empty.json");
    let observed = observed.to_str().unwrap();
    let expected = [
        "deployments/x.yaml: spec.capAdd[0]: NET_ADMIN is denied by the node policy (capAdd: [NET_BIND_SERVICE])",
        "deployments/x.yaml: spec.network: host is denied by the node policy (hostNetwork: deny)",
        "deployments/x.yaml: spec.volumes[0].hostPath: /var/run/docker.sock is denied by the node policy (dockerSocket: deny)",
    ];
    let plan = |policy: &[&str]| {
        let args = ["plan", "--repo", repo_path, "--observed", observed];
        orun(&[&args[..], policy].concat())
    };
    let runs = [
        orun(&["validate", "--repo", repo_path, "--policy", &strict]),
        plan(&["--policy", &strict]),
        orun(&["apply", "--once", "--repo", repo_path, "--policy", &strict]),
    ];
    for output in &runs {
        assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
        let error = stderr(output);
        for line in expected {
            assert_eq!(error.matches(line).count(), 1, "{line} in {error}");
        }
        assert!(
            !error.contains("spec.volumes[1]"),
            "/srv/x is allowed: {error}"
        );
    }

    let permissive = policy_file(config.path(), "    privileged: allow\n");
    for output in [plan(&["--policy", &permissive]), plan(&[])] {
        assert!(output.status.success(), "{}", stderr(&output));
    }

    let broken = policy_file(config.path(), "    dockerSocket: never\n");
    let output = orun(&["validate", "--repo", repo_path, "--policy", &broken]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("--policy {broken}")),
        "{}",
        stderr(&output)
    );
}
