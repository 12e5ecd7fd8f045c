//! `POST /hooks/git` on a real node with `pollInterval: 60s`: each forge's proof makes the node
//! deploy a new commit within seconds, bad proofs get 401, big bodies 413, a burst of requests
//! coalesces into a few fetches, and without a secret the path is 404.

use std::fs;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tempfile::TempDir;

use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{env_of, free_port, http_post, http_request, inspect};

const SECRET: &str = "hook-s3cret";
/// Well under the 54 s a jittered 60 s poll waits at least.
const HOOK_LIMIT: Duration = Duration::from_secs(15);
const START_LIMIT: Duration = Duration::from_secs(30);
const BODY: &str = r#"{"ref":"refs/heads/main"}"#;

fn hex_hmac(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A secret file with a trailing newline, as `echo` writes it.
fn secret_file() -> (TempDir, String) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("webhook-secret");
    fs::write(&path, format!("{SECRET}\n")).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

/// A node polling every 60 s with the webhook secret in its Node manifest, running `web` on
/// `port` with `GREETING=v0`.
fn slow_node(test: &str, origin: &Origin, port: u16, secret: &str) -> Node {
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v0"));
    let first = origin.commit("v0");
    let node = Node::start_full(
        test,
        origin.bare().to_str().unwrap(),
        "main",
        &format!("  webhookSecretFile: {secret}\n"),
        &["--poll-interval".to_string(), "60s".to_string()],
    );
    node.wait_for("first commit", START_LIMIT, |status| {
        status["node"]["applied_commit"] == first.as_str()
    });
    node
}

fn hook(node: &Node, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    http_post(
        node.status_port,
        "/hooks/git",
        headers,
        body.as_bytes(),
        None,
    )
    .expect("the status API answers")
}

fn greeting_is(node: &Node, greeting: &str) -> bool {
    inspect(&node.container("web")).is_some_and(|container| {
        container["State"]["Running"] == true
            && env_of(&container).contains(&format!("GREETING={greeting}"))
    })
}

fn polls(node: &Node) -> u64 {
    let metrics = node.get("/metrics").unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("orun_git_polls_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as u64)
        .expect("orun_git_polls_total")
}

#[test]
fn each_proof_makes_the_node_deploy_a_new_commit_at_once() {
    let origin = Origin::new();
    let port = free_port();
    let (_secret_dir, secret) = secret_file();
    let node = slow_node("hookproofs", &origin, port, &secret);

    let github = format!("sha256={}", hex_hmac(BODY.as_bytes()));
    let signature = hex_hmac(BODY.as_bytes());
    let bearer = format!("Bearer {SECRET}");
    let proofs: [(&str, &str); 5] = [
        ("X-Hub-Signature-256", &github),
        ("X-Gitea-Signature", &signature),
        ("X-Forgejo-Signature", &signature),
        ("X-Gitlab-Token", SECRET),
        ("Authorization", &bearer),
    ];
    for (index, (header, value)) in proofs.into_iter().enumerate() {
        let greeting = format!("v{}", index + 1);
        origin.write(
            "deployments/web.yaml",
            &web_manifest("web", port, &greeting),
        );
        let commit = origin.commit(&greeting);
        let sent = Instant::now();
        let (code, body) = hook(&node, &[(header, value)], BODY);
        assert_eq!(code, 202, "{header}: {body}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
            "accepted"
        );
        node.wait_for(
            &format!("{header} deploys {greeting}"),
            HOOK_LIMIT,
            |status| status["node"]["applied_commit"] == commit.as_str(),
        );
        assert!(greeting_is(&node, &greeting), "{header}");
        assert!(sent.elapsed() < HOOK_LIMIT);
    }
}

#[test]
fn bad_proofs_big_bodies_and_bursts_are_handled_without_a_deploy() {
    let origin = Origin::new();
    let port = free_port();
    let (_secret_dir, secret) = secret_file();
    let node = slow_node("hookrefuse", &origin, port, &secret);
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", port, "unproven"),
    );
    origin.commit("pushed, never announced with a valid proof");

    let wrong = format!("sha256={}", hex_hmac(b"another body"));
    let refused: [&[(&str, &str)]; 5] = [
        &[],
        &[("X-Hub-Signature-256", &wrong)],
        &[("X-Gitea-Signature", "00ff")],
        &[("X-Gitlab-Token", "hook-s3cret2")],
        &[("Authorization", "Basic aG9vay1zM2NyZXQ=")],
    ];
    for headers in refused {
        let (code, body) = hook(&node, headers, BODY);
        assert_eq!(code, 401, "{headers:?}: {body}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"],
            "unauthorized"
        );
    }
    let bearer = format!("Bearer {SECRET}");
    let announced = 2 * 1024 * 1024;
    let (code, body) = http_post(
        node.status_port,
        "/hooks/git",
        &[("Authorization", &bearer)],
        b"{}",
        Some(announced),
    )
    .unwrap();
    assert_eq!(code, 413, "{body}");
    let just_over = vec![b' '; 1024 * 1024 + 1];
    let (code, _) = http_post(
        node.status_port,
        "/hooks/git",
        &[("Authorization", &bearer)],
        &just_over,
        None,
    )
    .unwrap();
    assert_eq!(code, 413);
    let (code, _) = http_request(node.status_port, "GET", "/hooks/git").unwrap();
    assert_eq!(code, 405);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        greeting_is(&node, "v0"),
        "a refused request made the node deploy"
    );

    // A burst: at most one fetch runs and one more follows, whatever arrives meanwhile.
    let before = polls(&node);
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let port = node.status_port;
            let bearer = bearer.clone();
            std::thread::spawn(move || {
                http_post(
                    port,
                    "/hooks/git",
                    &[("Authorization", &bearer)],
                    BODY.as_bytes(),
                    None,
                )
                .map(|(code, _)| code)
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.join().unwrap(), Some(202));
    }
    node.wait_for("the burst's commit", HOOK_LIMIT, |_| {
        greeting_is(&node, "unproven")
    });
    std::thread::sleep(Duration::from_secs(2));
    let fetches = polls(&node) - before;
    assert!(
        (1..=10).contains(&fetches),
        "20 requests made {fetches} fetches"
    );
}

#[test]
fn without_a_secret_the_hook_is_not_found() {
    let origin = Origin::new();
    origin.write("README.md", "infra\n");
    origin.commit("empty");
    let node = Node::start("hookoff", origin.bare().to_str().unwrap());
    let bearer = format!("Bearer {SECRET}");
    let (code, body) = hook(&node, &[("Authorization", &bearer)], BODY);
    assert_eq!(code, 404, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"],
        "not found"
    );
    let (code, _) = http_request(node.status_port, "GET", "/hooks/git").unwrap();
    assert_eq!(code, 404);
}
