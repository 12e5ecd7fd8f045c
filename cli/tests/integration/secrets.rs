//! A node with secrets against the real engine: the decrypted values reach the container's
//! environment and nothing else (labels, status, `/observed`, metrics, log), and a `secrets.yaml`
//! the node cannot decrypt keeps the last good revision running. The Docker-free secrets tests
//! are in `tests/secrets.rs`.

use std::time::Duration;

use engine::sops::DataKey;
use tempfile::TempDir;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::secrets::{assert_no_plaintext, encrypt_inline, API_TOKEN, SHARED_PASSWORD};
use crate::support::sops::{data_key_bytes, identity, sops_file};
use crate::support::{env_of, free_port, inspect};

#[test]
fn a_node_gives_secrets_to_the_container_only_and_keeps_the_last_good_revision_on_a_wrong_key() {
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
    // The snapshot a fleet preview reads holds the fingerprints of the spec label, no value.
    let observed = node.get("/observed").unwrap();
    assert!(observed.contains("secret:"), "{observed}");
    assert_no_plaintext(&observed);
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
