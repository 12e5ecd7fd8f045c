//! The fault matrix: whatever breaks during a rollout, a node ends converged once it runs again or
//! its dependency is back — exactly one running container per deployment, no `<name>.orun-old`
//! left, bind-mounted data and named volumes intact. orun SIGKILLed at each step of a stop-first recreate and started
//! again; the Docker API cut mid-recreate and restored; Caddy killed mid-rollout; the Git remote
//! killed mid-fetch. Faults are timed by Docker events and processes (`support::tripwire`), never
//! by hooks in the product; a SIGKILL comes with the node's Docker API cut at the same instant (a
//! delaying proxy), so the engine is left exactly as the step left it. The tests check where the
//! node ends, not how long it takes.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::health::manifest;
use crate::support::docker_proxy::DockerProxy;
use crate::support::git_daemon::GitDaemon;
use crate::support::ingress::IngressPorts;
use crate::support::node::{web_manifest, Node, Origin};
use crate::support::tripwire::Tripwire;
use crate::support::{
    docker, docker_timestamp, env_of, eventually, free_port, inspect, test_image,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Deployment `web`: the test image on host `port` (a published port keeps its rollout
/// stop-first) that, when it starts, writes its greeting to `/data/<greeting>` (a bind mount of
/// `data`), to `/state/<greeting>` (the named volume `state`) and to `/www/version`, and turns ready (`/www/ready`) only 3 s later, so a rollout
/// spends a while in its readiness wait.
fn slow_web(port: u16, greeting: &str, data: &Path) -> String {
    let publish =
        format!("  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n");
    slow_web_with(&publish, greeting, data)
}

/// `slow_web` without a published port and with `rollout: startFirst`, so its recreates are
/// start-first (the shared data folder is the operator's explicit choice).
fn slow_start_first_web(greeting: &str, data: &Path) -> String {
    slow_web_with("  rollout: startFirst\n", greeting, data)
}

fn slow_web_with(rollout: &str, greeting: &str, data: &Path) -> String {
    let spec = format!(
        "  image: {image}\n  command:\n    - sh\n    - -c\n    - \"echo $GREETING > /data/$GREETING; echo $GREETING > /state/$GREETING; echo $GREETING > /www/version; (/bin/busybox sleep 3; echo ok > /www/ready) & exec /bin/busybox httpd -f -p 80 -h /www\"\n{rollout}  volumes:\n    - hostPath: {data}\n      containerPath: /data\n    - name: state\n      containerPath: /state\n  env:\n    GREETING: {greeting}\n  stopTimeout: 1s\n  health:\n    readiness:\n      http: localhost:80/ready\n      interval: 500ms\n      deadline: 30s\n",
        image = test_image(),
        data = data.display(),
    );
    manifest("web", &spec)
}

/// `<name> <state>` of every container of `environment`, sorted.
fn containers(environment: &str) -> Vec<String> {
    let filter = format!("label=run.orcra.dev/environment={environment}");
    let mut lines: Vec<String> = docker(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Names}} {{.State}}",
    ])
    .lines()
    .map(str::to_string)
    .collect();
    lines.sort();
    lines
}

fn greeting_of(name: &str) -> Option<String> {
    env_of(&inspect(name)?)
        .iter()
        .find_map(|entry| entry.strip_prefix("GREETING=").map(str::to_string))
}

fn id_of(name: &str) -> String {
    let container = inspect(name).unwrap_or_else(|| panic!("no container {name}"));
    container["Id"].as_str().unwrap().to_string()
}

/// Waits until `node` has applied `commit` cleanly and its environment holds one container,
/// `web`, running with `greeting`; panics naming `when`, with what is there, the status and the
/// log otherwise.
fn converged(node: &Node, commit: &str, greeting: &str, when: &str) {
    node.wait_for(&format!("{commit} applied {when}"), LIMIT, |s| {
        s["node"]["applied_commit"] == commit
            && s["node"]["healthy"] == true
            && s["deployments"]["web"]["state"] == "running"
    });
    let name = node.container("web");
    let expected = vec![format!("{name} running")];
    let mut seen = Vec::new();
    let settled = eventually(LIMIT, || {
        seen = containers(&node.environment);
        seen == expected
    });
    assert!(
        settled,
        "not exactly one running {name} {when}: {seen:?}\nlog:\n{}",
        node.log_text()
    );
    assert_eq!(greeting_of(&name).as_deref(), Some(greeting), "{when}");
}

/// The bind-mounted files each version wrote when it started are there.
fn data_kept(data: &Path, greetings: &[&str]) {
    for greeting in greetings {
        let file = data.join(greeting);
        assert_eq!(
            fs::read_to_string(&file).ok().as_deref(),
            Some(format!("{greeting}\n").as_str()),
            "{} lost",
            file.display()
        );
    }
}

/// The files each version wrote to the named volume `state` are there, as `container` sees them.
fn named_volume_kept(container: &str, greetings: &[&str]) {
    for greeting in greetings {
        let output = Command::new("docker")
            .args(["exec", container, "/bin/busybox", "cat"])
            .arg(format!("/state/{greeting}"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{greeting}\n"),
            "/state/{greeting} lost from the named volume"
        );
    }
}

fn sigkill(pid: &str) {
    let _ = Command::new("kill").args(["-KILL", pid]).status();
}

/// Which container of a rollout a step happens to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Container {
    /// The container the rollout replaces.
    Old,
    /// The container it creates.
    New,
}

/// A step of a rollout, recognised by the Docker event (`action`) that ends it.
#[derive(Clone, Copy, Debug)]
struct Step {
    action: &'static str,
    container: Container,
}

impl Step {
    /// Whether `event` ends this step, `old_id` being the container the rollout replaces.
    fn ended_by(&self, event: &Value, old_id: &str) -> bool {
        event["Type"] == "container"
            && event["Action"] == self.action
            && (event["Actor"]["ID"] == old_id) == (self.container == Container::Old)
    }
}

// The steps of a stop-first recreate, in order: stop the old container (it dies while its stop
// call is still in flight), rename it `<name>.orun-old`, create the new one, start it (its
// readiness wait follows), remove the old one. Another rollout strategy adds its own steps and
// runs them through the same test bodies.
const OLD_STOPPED: Step = Step {
    action: "die",
    container: Container::Old,
};
const OLD_RENAMED: Step = Step {
    action: "rename",
    container: Container::Old,
};
const NEW_CREATED: Step = Step {
    action: "create",
    container: Container::New,
};
const NEW_STARTED: Step = Step {
    action: "start",
    container: Container::New,
};
const OLD_REMOVED: Step = Step {
    action: "destroy",
    container: Container::Old,
};

/// How long the proxy of a SIGKILL test holds each Docker call of the node: far longer than a
/// Docker event takes to reach the test, so the node cannot take its next step before it dies.
const CALL_DELAY: Duration = Duration::from_millis(100);

/// v1 runs; v2 is committed; the moment `step` ends, the node (environment suffix `test`) loses
/// Docker and is SIGKILLed, so its environment holds `left` (`<container> <state>`, names without
/// the environment prefix), exactly what a crash right after that step leaves; started again, it
/// must converge on v2 with v1's data intact. The rollout is stop-first.
fn sigkill_during_a_rollout(test: &str, step: Step, left: &[&str]) {
    let port = free_port();
    sigkill_during(test, step, left, &|greeting, data| {
        slow_web(port, greeting, data)
    });
}

/// The same crash during a start-first rollout (`web.orun-next` beside `web`).
fn sigkill_during_a_start_first_rollout(test: &str, step: Step, left: &[&str]) {
    sigkill_during(test, step, left, &slow_start_first_web);
}

fn sigkill_during(test: &str, step: Step, left: &[&str], manifest: &dyn Fn(&str, &Path) -> String) {
    let proxy = DockerProxy::delaying(CALL_DELAY);
    let origin = Origin::new();
    let data = TempDir::new().unwrap();
    origin.write("deployments/web.yaml", &manifest("v1", data.path()));
    let first = origin.commit("v1");
    let mut node = Node::configure(test, origin.bare().to_str().unwrap(), "main", "", &[]);
    node.env
        .push(("DOCKER_HOST".to_string(), proxy.docker_host()));
    node.spawn();
    converged(&node, &first, "v1", "before the fault");
    let old = id_of(&node.container("web"));

    let pid = node.pid().to_string();
    let cutter = proxy.cutter();
    let wire = {
        let old = old.clone();
        Tripwire::arm(
            &node.environment,
            &docker_timestamp(),
            move |event| step.ended_by(event, &old),
            move || {
                cutter.cut();
                sigkill(&pid);
            },
        )
    };
    origin.write("deployments/web.yaml", &manifest("v2", data.path()));
    let second = origin.commit("v2");
    assert!(
        wire.fired(LIMIT).is_some(),
        "{step:?}: the event never came\nlog:\n{}",
        node.log_text()
    );
    node.kill();
    drop(wire);
    let expected: Vec<String> = left
        .iter()
        .map(|entry| format!("{}.{entry}", node.environment))
        .collect();
    let mut seen = Vec::new();
    assert!(
        eventually(LIMIT, || {
            seen = containers(&node.environment);
            seen == expected
        }),
        "the crash at {step:?} left {seen:?}, not {expected:?}\nlog:\n{}",
        node.log_text()
    );

    proxy.resume();
    node.spawn();
    let when = format!("after a restart from a crash at {step:?}");
    converged(&node, &second, "v2", &when);
    data_kept(data.path(), &["v1", "v2"]);
    named_volume_kept(&node.container("web"), &["v1", "v2"]);
}

#[test]
fn sigkill_once_the_old_container_stopped_then_a_restart_converges() {
    sigkill_during_a_rollout("kill-stopped", OLD_STOPPED, &["web exited"]);
}

#[test]
fn sigkill_once_the_old_container_is_renamed_then_a_restart_converges() {
    sigkill_during_a_rollout("kill-renamed", OLD_RENAMED, &["web.orun-old exited"]);
}

#[test]
fn sigkill_once_the_new_container_is_created_then_a_restart_converges() {
    sigkill_during_a_rollout(
        "kill-created",
        NEW_CREATED,
        &["web created", "web.orun-old exited"],
    );
}

#[test]
fn sigkill_during_the_readiness_wait_then_a_restart_converges() {
    sigkill_during_a_rollout(
        "kill-readiness",
        NEW_STARTED,
        &["web running", "web.orun-old exited"],
    );
}

// The steps of a start-first recreate: create `web.orun-next`, start it (its readiness wait
// follows), move the routes, let the old one drain and stop it (it dies), remove it, rename the
// new one into place.
#[test]
fn sigkill_once_the_next_copy_is_created_then_a_restart_converges() {
    sigkill_during_a_start_first_rollout(
        "kill-next-created",
        NEW_CREATED,
        &["web running", "web.orun-next created"],
    );
}

#[test]
fn sigkill_during_the_next_copys_readiness_wait_then_a_restart_converges() {
    sigkill_during_a_start_first_rollout(
        "kill-next-ready",
        NEW_STARTED,
        &["web running", "web.orun-next running"],
    );
}

#[test]
fn sigkill_once_the_old_container_stopped_beside_the_next_copy_then_a_restart_converges() {
    sigkill_during_a_start_first_rollout(
        "kill-next-stopped",
        OLD_STOPPED,
        &["web exited", "web.orun-next running"],
    );
}

#[test]
fn sigkill_once_the_old_container_is_removed_then_a_restart_converges() {
    sigkill_during_a_start_first_rollout(
        "kill-next-removed",
        OLD_REMOVED,
        &["web.orun-next running"],
    );
}

#[test]
fn the_docker_api_cut_mid_recreate_is_reported_and_the_node_converges_once_it_is_back() {
    let proxy = DockerProxy::start();
    let origin = Origin::new();
    let data = TempDir::new().unwrap();
    let port = free_port();
    origin.write("deployments/web.yaml", &slow_web(port, "v1", data.path()));
    let first = origin.commit("v1");
    let mut node = Node::configure(
        "docker-cut",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &[],
    );
    node.env
        .push(("DOCKER_HOST".to_string(), proxy.docker_host()));
    node.spawn();
    converged(&node, &first, "v1", "before the fault");
    let old = id_of(&node.container("web"));

    let cutter = proxy.cutter();
    let wire = {
        let old = old.clone();
        Tripwire::arm(
            &node.environment,
            &docker_timestamp(),
            move |event| OLD_STOPPED.ended_by(event, &old),
            move || cutter.cut(),
        )
    };
    origin.write("deployments/web.yaml", &slow_web(port, "v2", data.path()));
    let second = origin.commit("v2");
    assert!(
        wire.fired(LIMIT).is_some(),
        "the old container was never stopped\nlog:\n{}",
        node.log_text()
    );
    drop(wire);
    // The Docker call in flight breaks: the recreate fails, naming its container.
    let name = node.container("web");
    let status = node.wait_for("the failed recreate reported", LIMIT, |s| {
        s["node"]["healthy"] == false
            && s["deployments"]["web"]["last_error"]
                .as_str()
                .is_some_and(|error| error.contains(&name))
    });
    // Later passes cannot even observe Docker: the node reports it and stays up through them.
    let failed_at = status["node"]["last_reconcile_time"].clone();
    let status = node.wait_for("a later pass failing", LIMIT, |s| {
        s["node"]["last_reconcile_time"] != failed_at
            && s["node"]["healthy"] == false
            && s["node"]["sync_error"].is_string()
    });
    let error = status["node"]["sync_error"].as_str().unwrap();
    assert!(
        error.contains("cannot reach the Docker engine at unix://"),
        "{error}"
    );
    assert!(!node.has_exited(), "the node crashed:\n{}", node.log_text());

    proxy.resume();
    converged(&node, &second, "v2", "once Docker is back");
    data_kept(data.path(), &["v1", "v2"]);
    assert!(!node.has_exited());
}

/// A GET of `/version` through Caddy's HTTP `port` for `host`: the body of a 200 answer.
fn version_through_caddy(port: u16, host: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET /version HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_string())
}

fn caddy_pid(node: &Node) -> Option<String> {
    let marker = node.data_dir().join("caddy").display().to_string();
    let output = Command::new("pgrep").args(["-f", &marker]).output().ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

/// The container's address on its (first) Docker network.
fn container_ip(name: &str) -> Option<String> {
    let container = inspect(name)?;
    container["NetworkSettings"]["Networks"]
        .as_object()?
        .values()
        .find_map(|network| network["IPAddress"].as_str().filter(|ip| !ip.is_empty()))
        .map(str::to_string)
}

/// v1 is served through Caddy; v2 is committed; Caddy is SIGKILLed the moment `step` ends; the
/// node (environment suffix `test`) must restart Caddy and route the domain to v2.
fn caddy_killed_during_a_rollout(test: &str, step: Step) {
    let origin = Origin::new();
    let data = TempDir::new().unwrap();
    let port = free_port();
    origin.write("deployments/web.yaml", &slow_web(port, "v1", data.path()));
    origin.write(
        "services/web.yaml",
        "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: web.example.com\n      environment: $ENV.web.example.com\n",
    );
    let first = origin.commit("v1 behind Caddy");
    let IngressPorts { http, args } = IngressPorts::new();
    let node = Node::start_full(test, origin.bare().to_str().unwrap(), "main", "", &args);
    converged(&node, &first, "v1", "before the fault");
    let domain = format!("{}.web.example.com", node.environment);
    assert!(
        eventually(LIMIT, || version_through_caddy(http, &domain).as_deref()
            == Some("v1\n")),
        "v1 is not served through Caddy\nlog:\n{}",
        node.log_text()
    );
    let old = id_of(&node.container("web"));
    let caddy = caddy_pid(&node).expect("Caddy runs for the node");

    let wire = {
        let old = old.clone();
        let caddy = caddy.clone();
        Tripwire::arm(
            &node.environment,
            &docker_timestamp(),
            move |event| step.ended_by(event, &old),
            move || sigkill(&caddy),
        )
    };
    origin.write("deployments/web.yaml", &slow_web(port, "v2", data.path()));
    let second = origin.commit("v2");
    assert!(
        wire.fired(LIMIT).is_some(),
        "{step:?}: the event never came\nlog:\n{}",
        node.log_text()
    );
    drop(wire);

    converged(&node, &second, "v2", "after Caddy was killed");
    let upstream = format!(
        "{}:80",
        container_ip(&node.container("web")).expect("the new container has an address")
    );
    node.wait_for("the route points at the new container", LIMIT, |s| {
        s["services"]["web"]["upstream"] == upstream.as_str()
            && s["services"]["web"]["active"] == true
    });
    assert!(
        eventually(LIMIT, || caddy_pid(&node).is_some_and(|pid| pid != caddy)),
        "Caddy was not restarted\nlog:\n{}",
        node.log_text()
    );
    let mut answer = None;
    assert!(
        eventually(LIMIT, || {
            answer = version_through_caddy(http, &domain);
            answer.as_deref() == Some("v2\n")
        }),
        "{domain} answers {answer:?} through Caddy, not v2\nlog:\n{}",
        node.log_text()
    );
}

#[test]
fn caddy_killed_during_the_readiness_wait_comes_back_routing_to_the_new_container() {
    caddy_killed_during_a_rollout("caddy-readiness", NEW_STARTED);
}

#[test]
fn caddy_killed_as_the_old_container_goes_comes_back_routing_to_the_new_container() {
    caddy_killed_during_a_rollout("caddy-removed", OLD_REMOVED);
}

/// Random bytes that do not compress, so serving them keeps `upload-pack` busy for a while.
fn incompressible(length: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(length);
    while bytes.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(length);
    bytes
}

#[test]
fn the_git_remote_dying_mid_fetch_leaves_containers_running_and_the_next_commit_deploys() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v1"));
    let first = origin.commit("v1");
    let mut remote = GitDaemon::start(origin.dir.path());
    let node = Node::start("git-dies", &remote.url("origin.git"));
    node.wait_for("v1 applied", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
    });
    let name = node.container("web");
    let id = id_of(&name);

    // A commit with a large file: the node's fetch of it is still being served when the remote dies.
    fs::write(origin.work().join("large.bin"), incompressible(16 << 20)).unwrap();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v2"));
    origin.commit("v2 with a large file");
    // Polled more often than `eventually` does: the fetch lasts a second or two.
    let deadline = Instant::now() + LIMIT;
    while !remote.serving_a_fetch() {
        assert!(
            Instant::now() < deadline,
            "the node never fetched\nlog:\n{}",
            node.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    remote.kill();

    let status = node.wait_for("backing off", LIMIT, |s| {
        s["node"]["sync_state"] == "backoff"
    });
    assert_eq!(
        status["node"]["git_head"],
        first.as_str(),
        "the fetch completed before the remote died"
    );
    assert_eq!(status["node"]["healthy"], false);
    let web = inspect(&name).expect("the container runs on");
    assert_eq!(web["Id"], id.as_str());
    assert_eq!(web["State"]["Running"], true);

    // Drift repair goes on while the remote is down.
    docker(&["rm", "-f", &name]);
    assert!(
        eventually(LIMIT, || inspect(&name)
            .is_some_and(|c| c["State"]["Running"] == true)),
        "a container removed by hand did not come back while the remote is down\nlog:\n{}",
        node.log_text()
    );
    assert_eq!(greeting_of(&name).as_deref(), Some("v1"));
    assert_eq!(node.status()["node"]["sync_state"], "backoff");

    remote.restart();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v3"));
    let third = origin.commit("v3");
    let status = node.wait_for("v3 applied once the remote is back", LIMIT, |s| {
        s["node"]["applied_commit"] == third.as_str()
    });
    assert_eq!(status["node"]["sync_state"], "synced");
    assert_eq!(status["node"]["consecutive_failures"], 0);
    assert_eq!(
        containers(&node.environment),
        vec![format!("{name} running")]
    );
    assert_eq!(greeting_of(&name).as_deref(), Some("v3"));
}
