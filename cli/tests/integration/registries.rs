//! Private registries against the real engine: a `docker-registry` with htpasswd authentication,
//! pulls and the base images of builds authenticated from a Node's `dockerConfig`, from
//! `$DOCKER_CONFIG` and through a credential helper, refusals that name the registry and say
//! whether credentials were missing or rejected, and the password in no output, label or status.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::node::{Node, Origin};
use crate::support::{free_port, http_get, inspect, text, Login, Registry, Scenario};

const USERNAME: &str = "orun-ci";

/// A password unique to this test process, so finding it in any output is a leak.
fn password() -> String {
    format!("pw-{}-Zq9x", std::process::id())
}

fn login() -> Login {
    Login {
        username: USERNAME.to_string(),
        password: password(),
    }
}

/// A Docker client configuration folder whose `config.json` is `config`.
fn docker_config(config: &Value) -> TempDir {
    let folder = TempDir::new().unwrap();
    fs::write(
        folder.path().join("config.json"),
        serde_json::to_string_pretty(config).unwrap(),
    )
    .unwrap();
    folder
}

/// `{"auths": {registry: {"auth": base64(user:password)}}}`, as `docker login` writes it.
fn auths(registry: &str, password: &str) -> Value {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{password}"));
    serde_json::json!({ "auths": { registry: { "auth": auth } } })
}

/// A deployment of `image` on a fresh loopback port; returns the port.
fn deploy(scenario: &Scenario, name: &str, image: &str) -> u16 {
    let port = free_port();
    scenario.deployment(
        name,
        &format!(
            "  image: {image}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  stopTimeout: 1s\n"
        ),
    );
    port
}

/// `orun apply --once` for the scenario's environment with `DOCKER_CONFIG` set to `folder` (and
/// `PATH` to `path`); returns everything it printed.
fn apply_with(scenario: &Scenario, folder: &Path, path: Option<&str>) -> (bool, String) {
    let mut command = scenario.command(&["apply", "--once"]);
    command.env("DOCKER_CONFIG", folder);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let output = command.output().unwrap();
    (output.status.success(), printed(&output))
}

/// Applies and asserts success; returns everything apply printed, checked for the password.
fn apply_succeeds(scenario: &Scenario, folder: &Path, path: Option<&str>) -> String {
    let (success, shown) = apply_with(scenario, folder, path);
    assert!(success, "apply failed:\n{shown}");
    assert_no_password("apply's output", &shown);
    shown
}

/// Applies and asserts a failure whose output contains `expected`.
fn apply_fails_with(scenario: &Scenario, folder: &Path, expected: &str) -> String {
    let (success, shown) = apply_with(scenario, folder, None);
    assert!(!success, "apply succeeded, expected {expected:?}:\n{shown}");
    assert!(
        shown.contains(expected),
        "expected {expected:?} in:\n{shown}"
    );
    shown
}

/// Everything a run printed.
fn printed(output: &Output) -> String {
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

/// A scenario deploying `<registry>/<name>:1`, pushed there; returns it with the image and port.
fn private_deployment(registry: &Registry, name: &str) -> (Scenario, PulledImage, u16) {
    let scenario = Scenario::new(name);
    let image = PulledImage(registry.push_test_image(&format!("{name}:1")));
    let port = deploy(&scenario, "web", &image.0);
    (scenario, image, port)
}

/// Asserts the password is nowhere in `haystack`.
fn assert_no_password(what: &str, haystack: &str) {
    assert!(
        !haystack.contains(&password()),
        "the registry password appears in {what}:\n{haystack}"
    );
}

/// The labels and environment of a container, as Docker reports them.
fn container_facts(name: &str) -> String {
    let container = inspect(name).expect("container exists");
    format!(
        "{}{}",
        container["Config"]["Labels"], container["Config"]["Env"]
    )
}

#[test]
fn a_pull_without_credentials_names_the_registry_and_with_wrong_ones_says_rejected() {
    let registry = Registry::with_login(login());
    let (scenario, image, _) = private_deployment(&registry, "regrefused");
    let image = &image.0;
    let empty = TempDir::new().unwrap();
    apply_fails_with(
        &scenario,
        empty.path(),
        &format!(
            "pull of {image} refused by registry {}: no credentials configured for it",
            registry.address
        ),
    );
    assert!(scenario.containers().is_empty());

    let wrong = docker_config(&auths(&registry.address, "not-the-password"));
    let shown = apply_fails_with(
        &scenario,
        wrong.path(),
        &format!(
            "pull of {image} refused by registry {}: credentials for it were rejected",
            registry.address
        ),
    );
    assert!(!shown.contains("not-the-password"), "{shown}");
}

#[test]
fn docker_config_credentials_pull_a_private_image() {
    let registry = Registry::with_login(login());
    let (scenario, _image, port) = private_deployment(&registry, "regauths");
    let folder = docker_config(&auths(&registry.address, &password()));
    apply_succeeds(&scenario, folder.path(), None);
    assert!(
        http_get(port, "/").is_some(),
        "the pulled image does not serve"
    );
    assert_no_password(
        "the container",
        &container_facts(&scenario.container("web")),
    );
    let plan = scenario.orun(&["plan", "--output", "json"]);
    assert!(plan.status.success());
    assert_no_password("the plan", &printed(&plan));
}

#[test]
fn a_node_dockerconfig_wins_over_docker_config_in_the_environment() {
    let registry = Registry::with_login(login());
    let (scenario, _image, port) = private_deployment(&registry, "regnode");
    let folder = docker_config(&auths(&registry.address, &password()));
    let node = scenario.repo().join("nodes/regnode.yaml");
    fs::create_dir_all(node.parent().unwrap()).unwrap();
    fs::write(
        &node,
        format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: regnode\nspec:\n  host: 127.0.0.1\n  gitRepo: /srv/none.git\n  environment: {}\n  dockerConfig: {}\n",
            scenario.environment,
            folder.path().display()
        ),
    )
    .unwrap();
    let empty = TempDir::new().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(["apply", "--once", "--node", "regnode", "--repo"])
        .arg(scenario.repo())
        .env("DOCKER_CONFIG", empty.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "apply failed:\n{}",
        printed(&output)
    );
    assert!(http_get(port, "/").is_some());
    assert_no_password("apply's output", &printed(&output));
}

/// A `docker-credential-orun-test` helper in a fresh folder: it answers `get` for `registry` with
/// the test user and records each server it was asked about in `asked`.
fn credential_helper(folder: &Path, registry: &str) {
    let script = folder.join("docker-credential-orun-test");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nread -r server\necho \"$1 $server\" >> {asked}\n\
             if [ \"$1\" = get ] && [ \"$server\" = {registry} ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USERNAME}\",\"Secret\":\"{password}\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            asked = folder.join("asked").display(),
            password = password(),
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Applies a private image with the `docker-credential-orun-test` helper on `PATH` and the
/// configuration `config(registry)`; asserts the helper was asked, once, for the registry.
fn pull_through_helper(test: &str, config: impl Fn(&str) -> Value) {
    let registry = Registry::with_login(login());
    let (scenario, _image, port) = private_deployment(&registry, test);
    let bin = TempDir::new().unwrap();
    credential_helper(bin.path(), &registry.address);
    let folder = docker_config(&config(&registry.address));
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    apply_succeeds(&scenario, folder.path(), Some(&path));
    assert!(http_get(port, "/").is_some());
    let asked = fs::read_to_string(bin.path().join("asked")).unwrap();
    assert_eq!(asked.trim(), format!("get {}", registry.address));
}

#[test]
fn a_credential_helper_serves_its_registry() {
    pull_through_helper("reghelper", |registry| {
        serde_json::json!({
            "credHelpers": { registry: "orun-test" },
            "auths": { registry: {} }
        })
    });
}

#[test]
fn a_credential_store_wins_over_auths_entries() {
    pull_through_helper("regstore", |registry| {
        let mut config = auths(registry, "not-the-password");
        config["credsStore"] = "orun-test".into();
        config
    });
}

#[test]
fn a_build_from_a_private_base_image_pulls_it_with_credentials() {
    let registry = Registry::with_login(login());
    let scenario = Scenario::new("regbuild");
    let base = PulledImage(registry.push_test_image("base:1"));
    scenario.own_images("orun.local/regsite");
    let app = scenario.repo().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("index.html"), &scenario.environment).unwrap();
    fs::write(
        app.join("Dockerfile"),
        format!("FROM {}\nCOPY index.html /www/index.html\n", base.0),
    )
    .unwrap();
    let port = free_port();
    scenario.deployment(
        "regsite",
        &format!(
            "  build:\n    context: app\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  stopTimeout: 1s\n"
        ),
    );

    let empty = TempDir::new().unwrap();
    apply_fails_with(
        &scenario,
        empty.path(),
        &format!(
            "base image {} refused by registry {}: no credentials configured for it",
            base.0, registry.address
        ),
    );

    let folder = docker_config(&auths(&registry.address, &password()));
    apply_succeeds(&scenario, folder.path(), None);
    assert_eq!(
        http_get(port, "/").as_deref(),
        Some(scenario.environment.as_str())
    );
    assert_no_password(
        "the container",
        &container_facts(&scenario.container("regsite")),
    );
}

#[test]
fn a_node_pulls_once_credentials_appear_and_never_shows_them() {
    let registry = Registry::with_login(login());
    let image = PulledImage(registry.push_test_image("node:1"));
    let image = image.0.as_str();
    let folder = TempDir::new().unwrap();
    let origin = Origin::new();
    let port = free_port();
    origin.write(
        "deployments/web.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: {image}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  stopTimeout: 1s\n"
        ),
    );
    origin.commit("a private image");
    let node = Node::start_with(
        "regdaemon",
        origin.bare().to_str().unwrap(),
        &format!("  dockerConfig: {}\n", folder.path().display()),
    );
    let refused = format!(
        "refused by registry {}: no credentials configured for it",
        registry.address
    );
    node.wait_for("the refused pull", Duration::from_secs(60), |status| {
        status["deployments"]["web"]["last_error"]
            .as_str()
            .is_some_and(|error| error.contains(&refused))
    });

    fs::write(
        folder.path().join("config.json"),
        auths(&registry.address, &password()).to_string(),
    )
    .unwrap();
    let status = node.wait_for("web ready", Duration::from_secs(60), |status| {
        status["deployments"]["web"]["ready"] == true
    });
    assert!(http_get(port, "/").is_some());
    assert_no_password("the status", &status.to_string());
    assert_no_password("the log", &node.log_text());
    assert_no_password("the container", &container_facts(&node.container("web")));
    let metrics = node.get("/metrics").unwrap_or_default();
    assert_no_password("the metrics", &metrics);
}

/// A reference to the test image in a registry, untagged when the test ends: removed by
/// reference, never by ID, which is the shared test image's.
struct PulledImage(String);

impl Drop for PulledImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}
