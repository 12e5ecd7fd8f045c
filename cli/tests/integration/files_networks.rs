//! Files, secret files and networks against the real engine: a repository file mounted read-only
//! with its mode, whose change recreates only the container mounting it; a secret file readable
//! inside with mode 0400 from a tmpfs and nowhere else (plan, labels, `/status`, the node's log,
//! `state.json`), gone with its container, and refused off a tmpfs; networks that segment an
//! environment as Docker enforces it; and Caddy and probes reaching a container that is not on
//! the environment network.

use std::fs;
use std::path::Path;
use std::time::Duration;

use engine::sops::DataKey;
use serde_json::Value;
use tempfile::TempDir;

use crate::networks_volumes::{exec, fetch_from, resolve};
use crate::support::ingress::{service_manifest, through_caddy, IngressPorts};
use crate::support::node::{Node, Origin};
use crate::support::secrets::{assert_no_plaintext, SHARED_PASSWORD};
use crate::support::sops::{data_key_bytes, identity, sops_file};
use crate::support::{
    docker, eventually, inspect, test_image, text, walk, Scenario, SecretDir, TEST_PAGE,
};

/// `orun apply --once` with the copies of mounted files under `data` and secret files under
/// `secrets`.
fn apply(scenario: &Scenario, data: &Path, secrets: &str) -> String {
    scenario.apply_with(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--secret-files-dir",
        secrets,
    ])
}

fn container_id(name: &str) -> Value {
    inspect(name).unwrap()["Id"].clone()
}

/// The names of the files in `dir`, sorted; none when it does not exist.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_repository_file_is_mounted_read_only_and_its_change_recreates_only_its_container() {
    let scenario = Scenario::new("files");
    let data = TempDir::new().unwrap();
    let secrets = SecretDir::new("files");
    fs::create_dir_all(scenario.repo().join("config")).unwrap();
    fs::write(scenario.repo().join("config/app.conf"), "version = 1\n").unwrap();
    scenario.deployment(
        "web",
        &format!(
            "  image: {}\n  user: \"1000\"\n  files:\n    - source: config/app.conf\n      target: /etc/app.conf\n    - source: config/app.conf\n      target: /etc/private.conf\n      mode: \"0400\"\n",
            test_image()
        ),
    );
    scenario.deployment("other", &format!("  image: {}\n", test_image()));
    apply(&scenario, data.path(), secrets.path());

    let web = scenario.container("web");
    assert_eq!(
        exec(&web, &["cat", "/etc/app.conf"]).as_deref(),
        Some("version = 1\n")
    );
    assert_eq!(
        exec(&web, &["stat", "-c", "%a", "/etc/app.conf"]).as_deref(),
        Some("444\n")
    );
    // Mode 0400 belongs to root: the container's user 1000 cannot read it.
    assert_eq!(exec(&web, &["cat", "/etc/private.conf"]), None);
    assert_eq!(
        exec(&web, &["sh", "-c", "echo changed > /etc/app.conf"]),
        None,
        "the mount is writable"
    );
    let copies = data.path().join("files").join(&scenario.environment);
    assert_eq!(files_in(&copies).len(), 2, "one copy per content and mode");
    let other_id = container_id(&scenario.container("other"));

    fs::write(scenario.repo().join("config/app.conf"), "version = 2\n").unwrap();
    let plan = scenario.plan();
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plan:#}");
    assert_eq!(actions[0]["kind"], "recreate");
    assert_eq!(actions[0]["deployment"], "web");
    let fields: Vec<&str> = actions[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "files[/etc/app.conf].sha256",
            "files[/etc/private.conf].sha256"
        ]
    );
    apply(&scenario, data.path(), secrets.path());
    assert_eq!(
        exec(&web, &["cat", "/etc/app.conf"]).as_deref(),
        Some("version = 2\n")
    );
    assert_eq!(container_id(&scenario.container("other")), other_id);
    assert_eq!(
        files_in(&copies).len(),
        2,
        "the old copies went with the old container"
    );
}

#[test]
fn a_secret_file_is_readable_inside_from_a_tmpfs_and_appears_nowhere_else() {
    let keys = TempDir::new().unwrap();
    let (key, recipient) = identity(keys.path(), "age.key");
    let data_key = DataKey::new(data_key_bytes());
    let secrets = SecretDir::new("secretfile");
    let origin = Origin::new();
    origin.write(
        "secrets.yaml",
        &sops_file(&data_key, &recipient, &[("DB_PASSWORD", SHARED_PASSWORD)]),
    );
    let manifest = format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: db\nspec:\n  image: {}\n  secretEnv: none\n  stopTimeout: 1s\n  secretFiles:\n    - key: DB_PASSWORD\n",
        test_image()
    );
    origin.write("deployments/db.yaml", &manifest);
    let commit = origin.commit("a secret file");
    // The folder comes from the node's --config file here; the `apply` tests give the flag.
    let node = Node::start_full(
        "secretfile",
        origin.bare().to_str().unwrap(),
        "main",
        &format!("  secretFilesDir: {}\n", secrets.path()),
        &["--age-key-path".to_string(), key.clone()],
    );
    let status = node.wait_for("applied", Duration::from_secs(40), |s| {
        s["node"]["applied_commit"] == commit.as_str()
    });

    let db = node.container("db");
    assert_eq!(
        exec(&db, &["cat", "/run/secrets/DB_PASSWORD"]).as_deref(),
        Some(SHARED_PASSWORD)
    );
    assert_eq!(
        exec(&db, &["stat", "-c", "%a", "/run/secrets/DB_PASSWORD"]).as_deref(),
        Some("400\n")
    );
    let container = inspect(&db).unwrap();
    let mount = container["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| mount["Destination"] == "/run/secrets/DB_PASSWORD")
        .expect("the secret file is mounted")
        .clone();
    assert_eq!(mount["RW"], false);
    let source = mount["Source"].as_str().unwrap();
    assert!(source.starts_with(secrets.path()), "{source}");
    assert_eq!(
        docker(&[
            "run",
            "--rm",
            "-v",
            &format!("{}:/s:ro", secrets.path()),
            test_image(),
            "stat",
            "-f",
            "-c",
            "%T",
            "/s"
        ]),
        "tmpfs"
    );
    assert_eq!(
        container["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry.as_str().unwrap().starts_with("DB_PASSWORD="))
            .count(),
        0,
        "secretEnv: none gives no variable"
    );
    let labels = container["Config"]["Labels"].to_string();
    assert!(labels.contains("secret:"), "{labels}");
    assert_no_plaintext(&labels);
    assert_no_plaintext(&status.to_string());
    assert_no_plaintext(&node.get("/observed").unwrap());
    let plan = crate::support::secrets::orun(
        &[
            "plan",
            "--repo",
            origin.work().to_str().unwrap(),
            "--environment",
            &node.environment,
            "--age-key-path",
            &key,
            "--output",
            "json",
        ],
        None,
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    assert_no_plaintext(&text(&plan.stdout));
    assert_no_plaintext(&node.log_text());
    let state = fs::read_to_string(node.data_dir().join("state.json")).unwrap();
    assert_no_plaintext(&state);
    for file in walk(&node.data_dir()) {
        let bytes = fs::read(&file).unwrap_or_default();
        assert_no_plaintext(&String::from_utf8_lossy(&bytes));
    }

    // The file goes with the last container that mounts it.
    let env_dir = Path::new(secrets.path()).join(&node.environment);
    assert_eq!(files_in(&env_dir).len(), 1);
    origin.write(
        "deployments/db.yaml",
        &manifest.replace("  secretFiles:\n    - key: DB_PASSWORD\n", ""),
    );
    let removed = origin.commit("no secret file");
    node.wait_for("applied", Duration::from_secs(40), |s| {
        s["node"]["applied_commit"] == removed.as_str()
    });
    assert!(
        eventually(Duration::from_secs(20), || files_in(&env_dir).is_empty()),
        "left: {:?}",
        files_in(&env_dir)
    );
}

#[test]
fn secret_files_are_refused_off_a_tmpfs() {
    let scenario = Scenario::new("notmpfs");
    let keys = TempDir::new().unwrap();
    let (key, recipient) = identity(keys.path(), "age.key");
    fs::write(
        scenario.repo().join("secrets.yaml"),
        sops_file(
            &DataKey::new(data_key_bytes()),
            &recipient,
            &[("DB_PASSWORD", SHARED_PASSWORD)],
        ),
    )
    .unwrap();
    scenario.deployment(
        "db",
        &format!(
            "  image: {}\n  secretFiles:\n    - key: DB_PASSWORD\n",
            test_image()
        ),
    );
    // A folder of the test's own repository, which is on a disk.
    let data = TempDir::new_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let on_disk = data.path().join("secrets");
    let output = scenario.orun(&[
        "apply",
        "--once",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--secret-files-dir",
        on_disk.to_str().unwrap(),
        "--age-key-path",
        &key,
    ]);
    assert!(!output.status.success());
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(
        printed.contains(&format!(
            "secret files folder {} is not on a tmpfs",
            on_disk.display()
        )),
        "{printed}"
    );
    assert_no_plaintext(&printed);
    assert!(walk(&on_disk).is_empty(), "{:?}", walk(&on_disk));
}

#[test]
fn networks_segment_an_environment_and_probes_reach_a_container_off_the_environment_network() {
    let scenario = Scenario::new("segment");
    let image = test_image();
    scenario.deployment(
        "proxy",
        &format!("  image: {image}\n  networks: [frontend]\n"),
    );
    scenario.deployment(
        "app",
        &format!(
            "  image: {image}\n  networks: [frontend, backend]\n  health:\n    readiness:\n      http: localhost:80/health\n"
        ),
    );
    scenario.deployment(
        "db",
        &format!("  image: {image}\n  networks:\n    - name: backend\n      aliases: [postgres]\n"),
    );
    let plan = scenario.plan();
    let networks: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["kind"] == "network")
        .map(|action| action["network"].as_str().unwrap())
        .collect();
    let env = &scenario.environment;
    assert_eq!(
        networks,
        [
            format!("orun-{env}.backend"),
            format!("orun-{env}.frontend")
        ],
        "{plan:#}"
    );
    scenario.apply();

    let (proxy, app, db) = (
        scenario.container("proxy"),
        scenario.container("app"),
        scenario.container("db"),
    );
    let db_address = resolve(&app, "db").expect("the app resolves db");
    assert_eq!(
        resolve(&app, "postgres").as_deref(),
        Some(db_address.as_str())
    );
    let proxy_address = resolve(&app, "proxy").expect("the app resolves proxy");
    assert_eq!(fetch_from(&app, &db_address).as_deref(), Some(TEST_PAGE));
    assert_eq!(fetch_from(&app, &proxy_address).as_deref(), Some(TEST_PAGE));
    assert!(resolve(&proxy, "app").is_some());
    assert_eq!(resolve(&proxy, "db"), None, "the proxy resolved db");
    assert_eq!(resolve(&proxy, "postgres"), None);
    assert!(
        fetch_from(&proxy, &db_address).is_none(),
        "the proxy reached db at its address"
    );
    assert_eq!(resolve(&db, "proxy"), None);

    let labels: Value = serde_json::from_str(&docker(&[
        "network",
        "inspect",
        &format!("orun-{env}.backend"),
        "--format",
        "{{json .Labels}}",
    ]))
    .unwrap();
    assert_eq!(labels["run.orcra.dev/managed-by"], "orun");
    assert_eq!(labels["run.orcra.dev/environment"], env.as_str());
    let again = scenario.plan();
    assert_eq!(again["actions"], Value::Array(vec![]), "{again:#}");
}

#[test]
fn caddy_routes_to_a_container_off_the_environment_network_at_its_first_network_s_address() {
    let origin = Origin::new();
    let manifest = format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: {}\n  stopTimeout: 1s\n  networks: [frontend, backend]\n",
        test_image()
    );
    origin.write("deployments/web.yaml", &manifest);
    origin.write(
        "services/web.yaml",
        &service_manifest(
            "web",
            "web",
            "web.example.com",
            "$ENV.web.example.com",
            "  port: 80\n",
        ),
    );
    let commit = origin.commit("web off the environment network");
    let ingress = IngressPorts::new();
    let node = Node::start_full(
        "offnet",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &ingress.args,
    );
    let status = node.wait_for("route active", Duration::from_secs(40), |s| {
        s["node"]["applied_commit"] == commit.as_str() && s["services"]["web"]["active"] == true
    });
    let container = inspect(&node.container("web")).unwrap();
    let networks = &container["NetworkSettings"]["Networks"];
    assert!(
        networks.get(format!("orun-{}", node.environment)).is_none(),
        "{networks:#}"
    );
    let backend = networks[format!("orun-{}.backend", node.environment)]["IPAddress"]
        .as_str()
        .unwrap();
    assert_eq!(
        status["services"]["web"]["upstream"],
        format!("{backend}:80").as_str()
    );
    let domain = format!("{}.web.example.com", node.environment);
    assert!(
        eventually(Duration::from_secs(10), || {
            through_caddy(ingress.http, &domain, "/")
                .is_some_and(|(code, body)| code == 200 && body == TEST_PAGE)
        }),
        "{domain} does not answer through Caddy"
    );
}
