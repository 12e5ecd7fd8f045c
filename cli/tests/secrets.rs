//! Secrets end to end through the `orun` binary: a `secrets.yaml` written the way `sops` writes it
//! for an age recipient, an inline value from `orun secret encrypt`, and plans that show only
//! `secret:` fingerprints, keyed by the data key of `secrets.yaml`.

use std::fs;
use std::path::Path;
use std::process::Command;

use engine::sops::DataKey;
use engine::spec::sha256_hex;
use serde_json::Value;
use support::secrets::{assert_no_plaintext, encrypt_inline, orun, API_TOKEN, SHARED_PASSWORD};
use support::sops::{data_key_bytes, identity, sops_file};
use support::text;
use tempfile::TempDir;

mod support;

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
    let value = encrypt_inline(&repo, &fixture.key, "API_TOKEN", &format!("{API_TOKEN}\n"));
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
    // Keyed by the data key of secrets.yaml: the unsalted SHA-256 of a guess does not match it.
    let key = DataKey::new(data_key_bytes()).fingerprint_key();
    assert_eq!(token, key.fingerprint(API_TOKEN));
    assert_ne!(
        token,
        format!("secret:{}", &sha256_hex(API_TOKEN.as_bytes())[..12])
    );
    assert_eq!(
        api["env"]["DB_PASSWORD"],
        key.fingerprint(SHARED_PASSWORD).as_str()
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
fn an_age_key_other_users_can_read_is_warned_about_on_stderr() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = fixture();
    let repo = fixture.repo();
    let empty = fixture.empty();
    let warning = format!(
        "warning: the age identity {} can be read by other users (mode 644)",
        fixture.key
    );
    for private in [false, true] {
        let mode = if private { 0o600 } else { 0o644 };
        fs::set_permissions(&fixture.key, fs::Permissions::from_mode(mode)).unwrap();
        for mut args in [
            vec!["plan", "--repo", &repo, "--observed", &empty],
            vec!["validate", "--repo", &repo],
        ] {
            let command = args[0];
            args.extend(["--age-key-path", &fixture.key]);
            let output = orun(&args, None);
            let stderr = text(&output.stderr);
            assert!(output.status.success(), "{command}: {stderr}");
            assert_eq!(stderr.contains(&warning), !private, "{command}: {stderr}");
            assert!(!text(&output.stdout).contains("warning:"), "{command}");
        }
    }
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

/// A deployment mounting `DB_PASSWORD` as a file and listing `API_KEY` in its `secretEnv`.
fn with_secret_keys() -> String {
    "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: db\nspec:\n  image: postgres:16\n  secretEnv: [API_KEY]\n  secretFiles:\n    - key: DB_PASSWORD\n".to_string()
}

#[test]
fn keys_named_before_the_repository_has_a_secrets_yaml_are_warnings() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "deployments/db.yaml", &with_secret_keys());
    let repo = dir.path().display().to_string();
    let output = orun(&["validate", "--repo", &repo], None);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr,
        "warning: deployments/db.yaml: spec.secretEnv[0]: API_KEY is not in secrets.yaml, which the repository does not have yet: a node refuses this revision until the key is added (create secrets.yaml with sops)\n\
         warning: deployments/db.yaml: spec.secretFiles[0].key: DB_PASSWORD is not in secrets.yaml, which the repository does not have yet: a node refuses this revision until the key is added (create secrets.yaml with sops)\n"
    );
}

#[test]
fn keys_a_secrets_yaml_lacks_are_errors() {
    let fixture = fixture();
    let repo = fixture.repo();
    write(Path::new(&repo), "deployments/db.yaml", &with_secret_keys());
    let output = orun(
        &["validate", "--repo", &repo, "--age-key-path", &fixture.key],
        None,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("deployments/db.yaml: spec.secretEnv[0]: secrets.yaml has no key API_KEY"),
        "{stderr}"
    );
    assert!(!stderr.contains("is not in secrets.yaml"), "{stderr}");
}
