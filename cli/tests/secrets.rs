//! Secrets end to end through the `orun` binary: a `secrets.yaml` written the way `sops` writes it
//! for an age recipient, an inline value from `orun secret encrypt`, and plans that show only
//! `secret:` fingerprints.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use engine::sops::DataKey;
use serde_json::Value;
use support::sops::{data_key_bytes, identity, sops_file};
use support::text;
use tempfile::TempDir;

mod support;

const SHARED_PASSWORD: &str = "pa55-shared-Zq8";
const API_TOKEN: &str = "tok-inline-Xv42";

fn orun(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orun runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn deployment(name: &str, env: &str) -> String {
    format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  image: nginx:alpine\n  env:\n    LOG_LEVEL: info\n{env}"
    )
}

struct Fixture {
    dir: TempDir,
    key: String,
    other_key: String,
}

impl Fixture {
    fn repo(&self) -> String {
        self.dir.path().join("repo").display().to_string()
    }

    fn empty(&self) -> String {
        self.dir.path().join("empty.json").display().to_string()
    }
}

/// A repository with `secrets.yaml` for a fresh age identity and a deployment whose `API_TOKEN`
/// was encrypted by `orun secret encrypt`.
fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let (key, recipient) = identity(dir.path(), "age.key");
    let (other_key, _) = identity(dir.path(), "other.key");
    let repo = dir.path().join("repo");
    let data_key = DataKey::new(data_key_bytes());
    write(
        &repo,
        "secrets.yaml",
        &sops_file(&data_key, &recipient, &[("DB_PASSWORD", SHARED_PASSWORD)]),
    );
    write(&repo, "deployments/web.yaml", &deployment("web", ""));
    write(dir.path(), "empty.json", "{}");
    let fixture = Fixture {
        dir,
        key,
        other_key,
    };
    let encrypted = orun(
        &[
            "secret",
            "encrypt",
            "API_TOKEN",
            "--repo",
            &fixture.repo(),
            "--age-key-path",
            &fixture.key,
        ],
        Some(&format!("{API_TOKEN}\n")),
    );
    assert!(encrypted.status.success(), "{}", text(&encrypted.stderr));
    let value = text(&encrypted.stdout).trim().to_string();
    assert!(value.starts_with("ENC[AES256_GCM,data:"), "{value}");
    assert!(value.ends_with(",type:str]"), "{value}");
    assert!(!value.contains(API_TOKEN));
    write(
        &repo,
        "deployments/api.yaml",
        &deployment("api", &format!("    API_TOKEN: \"{value}\"\n")),
    );
    fixture
}

fn assert_no_plaintext(output: &str) {
    for secret in [SHARED_PASSWORD, API_TOKEN] {
        assert!(
            !output.contains(secret),
            "plaintext {secret:?} leaked:\n{output}"
        );
    }
}

#[test]
fn plans_show_only_fingerprints_of_decrypted_secrets() {
    let fixture = fixture();
    let output = orun(
        &[
            "plan",
            "--repo",
            &fixture.repo(),
            "--observed",
            &fixture.empty(),
            "--output",
            "json",
            "--age-key-path",
            &fixture.key,
        ],
        None,
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_no_plaintext(&stdout);
    assert_no_plaintext(&text(&output.stderr));
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let actions = plan["actions"].as_array().unwrap();
    let create = |name: &str| {
        actions
            .iter()
            .find(|action| action["kind"] == "create" && action["deployment"] == name)
            .unwrap_or_else(|| panic!("create {name} in {stdout}"))
    };
    for name in ["api", "web"] {
        let spec: Value = serde_json::from_str(
            create(name)["labels"]["run.orcra.dev/spec"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let env = &spec["env"];
        assert_eq!(env["LOG_LEVEL"], "info");
        assert!(
            env["DB_PASSWORD"].as_str().unwrap().starts_with("secret:"),
            "{env}"
        );
    }
    let api: Value = serde_json::from_str(
        create("api")["labels"]["run.orcra.dev/spec"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let token = api["env"]["API_TOKEN"].as_str().unwrap();
    assert!(
        token.starts_with("secret:") && token.len() == "secret:".len() + 12,
        "{token}"
    );

    let validate = orun(
        &[
            "validate",
            "--repo",
            &fixture.repo(),
            "--age-key-path",
            &fixture.key,
        ],
        None,
    );
    assert!(validate.status.success(), "{}", text(&validate.stderr));
}

#[test]
fn the_key_is_found_through_sops_age_key_file() {
    let fixture = fixture();
    let output = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args([
            "plan",
            "--repo",
            &fixture.repo(),
            "--observed",
            &fixture.empty(),
        ])
        .env("SOPS_AGE_KEY_FILE", &fixture.key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_no_plaintext(&text(&output.stdout));
}

#[test]
fn a_wrong_age_key_rejects_the_revision_without_plaintext() {
    let fixture = fixture();
    let repo = fixture.repo();
    let empty = fixture.empty();
    for mut args in [
        vec!["plan", "--repo", &repo, "--observed", &empty],
        vec!["validate", "--repo", &repo],
        vec!["apply", "--once", "--repo", &repo],
    ] {
        let command = args[0];
        args.extend(["--age-key-path", &fixture.other_key]);
        let output = orun(&args, None);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("secrets.yaml: no age identity"),
            "{command}: {stderr}"
        );
        assert_no_plaintext(&stderr);
        assert_no_plaintext(&text(&output.stdout));
    }
}

#[test]
fn a_missing_age_key_names_secrets_yaml() {
    let fixture = fixture();
    let missing = fixture.dir.path().join("nope.key").display().to_string();
    let output = orun(
        &[
            "plan",
            "--repo",
            &fixture.repo(),
            "--observed",
            &fixture.empty(),
            "--age-key-path",
            &missing,
        ],
        None,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("secrets.yaml"), "{stderr}");
    assert!(stderr.contains("nope.key"), "{stderr}");
}

#[test]
fn a_tampered_inline_value_names_its_field() {
    let fixture = fixture();
    let path = Path::new(&fixture.repo()).join("deployments/api.yaml");
    let manifest = fs::read_to_string(&path).unwrap();
    let marker = "ENC[AES256_GCM,data:";
    let at = manifest.find(marker).unwrap() + marker.len();
    let flipped = if &manifest[at..=at] == "A" { "B" } else { "A" };
    let mut tampered = manifest.clone();
    tampered.replace_range(at..=at, flipped);
    fs::write(&path, tampered).unwrap();
    let output = orun(
        &[
            "plan",
            "--repo",
            &fixture.repo(),
            "--observed",
            &fixture.empty(),
            "--age-key-path",
            &fixture.key,
        ],
        None,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("deployments/api.yaml: spec.env.API_TOKEN: cannot decrypt"),
        "{stderr}"
    );
    assert_no_plaintext(&stderr);
}

/// `orun secret encrypt NAME` for the repository at `repo`.
fn encrypt_inline(repo: &Path, key: &str, name: &str, value: &str) -> String {
    let output = orun(
        &[
            "secret",
            "encrypt",
            name,
            "--repo",
            repo.to_str().unwrap(),
            "--age-key-path",
            key,
        ],
        Some(value),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout).trim().to_string()
}

#[test]
fn a_node_gives_secrets_to_the_container_only_and_keeps_the_last_good_revision_on_a_wrong_key() {
    use std::time::Duration;
    use support::node::{web_manifest, Node, Origin};
    use support::{env_of, free_port, inspect};

    let keys = TempDir::new().unwrap();
    let (key, recipient) = identity(keys.path(), "age.key");
    let (_, stranger) = identity(keys.path(), "stranger.key");
    let data_key = DataKey::new(data_key_bytes());
    let origin = Origin::new();
    origin.write(
        "secrets.yaml",
        &sops_file(&data_key, &recipient, &[("DB_PASSWORD", SHARED_PASSWORD)]),
    );
    let token = encrypt_inline(&origin.work(), &key, "API_TOKEN", API_TOKEN);
    let port = free_port();
    let manifest = |greeting: &str| {
        format!(
            "{}    API_TOKEN: \"{token}\"\n",
            web_manifest("web", port, greeting)
        )
        .replace("  stopTimeout: 1s\n", "")
        .replace("  env:\n", "  stopTimeout: 1s\n  env:\n")
    };
    origin.write("deployments/web.yaml", &manifest("hello"));
    let good = origin.commit("secrets");
    let args = vec!["--age-key-path".to_string(), key.clone()];
    let node = Node::start_full(
        "secrets",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &args,
    );
    let status = node.wait_for("applied", Duration::from_secs(40), |s| {
        s["node"]["applied_commit"] == good.as_str()
    });

    let container = inspect(&node.container("web")).unwrap();
    let env = env_of(&container);
    assert!(
        env.contains(&format!("DB_PASSWORD={SHARED_PASSWORD}")),
        "{env:?}"
    );
    assert!(env.contains(&format!("API_TOKEN={API_TOKEN}")), "{env:?}");
    let labels = container["Config"]["Labels"].to_string();
    assert!(labels.contains("secret:"), "{labels}");
    assert_no_plaintext(&labels);
    assert_no_plaintext(&status.to_string());
    assert_no_plaintext(&node.get("/metrics").unwrap());
    let id = container["Id"].clone();

    // A secrets.yaml this node cannot decrypt is rejected; the running container stays.
    origin.write(
        "secrets.yaml",
        &sops_file(&data_key, &stranger, &[("DB_PASSWORD", "rotated")]),
    );
    origin.write("deployments/web.yaml", &manifest("changed"));
    let bad = origin.commit("secrets for another key");
    let status = node.wait_for("rejected", Duration::from_secs(40), |s| {
        s["node"]["git_head"] == bad.as_str() && s["node"]["sync_state"] == "invalid_revision"
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(error.contains("secrets.yaml"), "{error}");
    assert_eq!(status["node"]["applied_commit"], good.as_str());
    std::thread::sleep(Duration::from_secs(2));
    let container = inspect(&node.container("web")).unwrap();
    assert_eq!(container["Id"], id);
    assert_eq!(container["State"]["Running"], true);
    assert!(env_of(&container).contains(&"GREETING=hello".to_string()));
    assert_no_plaintext(&node.status().to_string());
    assert_no_plaintext(&node.log_text());
}
