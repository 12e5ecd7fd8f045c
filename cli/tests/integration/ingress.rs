//! The Caddy ingress with real Caddy and real containers: routes by Host header, routes that
//! follow rollouts, `$ENV` domains, route removal, Caddy restarts, and two environments side by side.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::ingress::{service_manifest, through_caddy, IngressPorts};
use crate::support::node::{web_manifest, Node, Origin};
use crate::support::{eventually, free_port, inspect, TEST_PAGE};

const LIMIT: Duration = Duration::from_secs(40);

fn service(name: &str, deployment: &str, default: &str, template: &str) -> String {
    service_manifest(name, deployment, default, template, "")
}

fn serves_test_page(port: u16, host: &str) -> bool {
    through_caddy(port, host, "/").is_some_and(|(code, body)| code == 200 && body == TEST_PAGE)
}

/// A GET to Caddy's admin API on its unix socket, as Caddy wants it there (an empty Host).
fn admin_get(socket: &Path, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: \r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The address of container `name` on its environment network (`orun-<env>`, its only one).
fn container_ip(name: &str) -> String {
    let environment = name.split_once('.').map_or("production", |(env, _)| env);
    inspect(name).unwrap()["NetworkSettings"]["Networks"][format!("orun-{environment}")]
        ["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

fn caddy_pid(node: &Node) -> Option<String> {
    let marker = node.data.path().join("state/caddy").display().to_string();
    let output = Command::new("pgrep").args(["-f", &marker]).output().ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

#[test]
fn a_service_domain_routes_through_caddy_and_follows_rollouts() {
    let origin = Origin::new();
    let port = free_port();
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v1"));
    origin.write(
        "services/web.yaml",
        &service("web", "web", "web.example.com", "$ENV.web.example.com"),
    );
    let first = origin.commit("web with a service");
    let ingress = IngressPorts::new();
    let node = Node::start_full(
        "route",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &ingress.args,
    );
    let status = node.wait_for("route active", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str() && s["services"]["web"]["active"] == true
    });
    let domain = format!("{}.web.example.com", node.environment);
    let web = &status["services"]["web"];
    assert_eq!(
        web["domain"],
        domain.as_str(),
        "a non-production node serves the $ENV domain"
    );
    assert_eq!(web["deployment"], "web");
    assert_eq!(web["ssl"], false);
    assert_eq!(
        web["upstream"],
        format!("{}:80", container_ip(&node.container("web"))).as_str()
    );
    assert!(
        serves_test_page(ingress.http, &domain),
        "{domain} does not answer through Caddy"
    );

    // The admin API is a unix socket only orun's user may open, not a TCP port.
    let socket = node.data_dir().join("caddy/admin.sock");
    let metadata = std::fs::metadata(&socket).expect("Caddy's admin socket in dataDir");
    assert!(metadata.file_type().is_socket());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let caddy_dir = std::fs::metadata(node.data_dir().join("caddy")).unwrap();
    assert_eq!(caddy_dir.permissions().mode() & 0o777, 0o700);
    let config = admin_get(&socket, "/config/admin/listen").expect("the admin API answers");
    assert!(
        config.contains(&format!("\"unix/{}\"", socket.display())),
        "{config}"
    );
    assert!(
        !serves_test_page(ingress.http, "web.example.com"),
        "the production domain answers on a non-production node"
    );

    // A recreate moves the route to the new container.
    origin.write("deployments/web.yaml", &web_manifest("web", port, "v2"));
    let second = origin.commit("v2");
    let status = node.wait_for("v2 routed", LIMIT, |s| {
        s["node"]["applied_commit"] == second.as_str()
    });
    let upstream = format!("{}:80", container_ip(&node.container("web")));
    let status = if status["services"]["web"]["upstream"] == upstream.as_str() {
        status
    } else {
        node.wait_for("route follows", LIMIT, |s| {
            s["services"]["web"]["upstream"] == upstream.as_str()
        })
    };
    assert_eq!(status["services"]["web"]["active"], true);
    assert!(serves_test_page(ingress.http, &domain));

    // A failed rollout leaves the route on the restored container.
    let broken = web_manifest("web", port, "v3").replace(
        "  stopTimeout: 1s\n",
        "  stopTimeout: 1s\n  health:\n    readiness:\n      http: localhost:80/missing\n      interval: 500ms\n      deadline: 3s\n",
    );
    origin.write("deployments/web.yaml", &broken);
    origin.commit("v3 never ready");
    node.wait_for("rolled back", LIMIT, |s| {
        s["deployments"]["web"]["quarantined"] == true
    });
    let upstream = format!("{}:80", container_ip(&node.container("web")));
    node.wait_for("route on the restored container", LIMIT, |s| {
        s["services"]["web"]["upstream"] == upstream.as_str()
            && s["services"]["web"]["active"] == true
    });
    assert!(eventually(Duration::from_secs(10), || serves_test_page(
        ingress.http,
        &domain
    )));
}

#[test]
fn removing_the_service_removes_the_route_and_a_killed_caddy_comes_back() {
    let origin = Origin::new();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", free_port(), "v1"),
    );
    origin.write(
        "deployments/api.yaml",
        &web_manifest("api", free_port(), "api"),
    );
    origin.write(
        "services/web.yaml",
        &service("web", "web", "web.example.com", "web-$ENV.example.com"),
    );
    origin.write(
        "services/api.yaml",
        &service("api", "api", "api.example.com", "api-$ENV.example.com"),
    );
    let first = origin.commit("two services");
    let ingress = IngressPorts::new();
    let node = Node::start_full(
        "caddykill",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &ingress.args,
    );
    node.wait_for("routes active", LIMIT, |s| {
        s["node"]["applied_commit"] == first.as_str()
            && s["services"]["web"]["active"] == true
            && s["services"]["api"]["active"] == true
    });
    let web = format!("web-{}.example.com", node.environment);
    let api = format!("api-{}.example.com", node.environment);
    assert!(serves_test_page(ingress.http, &web));
    assert!(serves_test_page(ingress.http, &api));

    let pid = caddy_pid(&node).expect("Caddy runs as a child of the node");
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(
        eventually(Duration::from_secs(20), || caddy_pid(&node)
            .is_some_and(|new| new != pid)
            && serves_test_page(ingress.http, &web)),
        "Caddy was not restarted with its routes"
    );

    std::fs::remove_file(origin.work().join("services/api.yaml")).unwrap();
    let second = origin.commit("drop the api service");
    let status = node.wait_for("api route gone", LIMIT, |s| {
        s["node"]["applied_commit"] == second.as_str() && s["services"].get("api").is_none()
    });
    assert_eq!(status["services"]["web"]["active"], true);
    assert!(
        eventually(Duration::from_secs(10), || !serves_test_page(
            ingress.http,
            &api
        )),
        "the removed service still answers"
    );
    assert!(serves_test_page(ingress.http, &web));
}

#[test]
fn a_service_without_an_environment_domain_has_no_route_outside_production() {
    let origin = Origin::new();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", free_port(), "v1"),
    );
    origin.write(
        "services/web.yaml",
        "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: web.example.com\n",
    );
    let commit = origin.commit("production-only service");
    let ingress = IngressPorts::new();
    let node = Node::start_full(
        "noroute",
        origin.bare().to_str().unwrap(),
        "main",
        "",
        &ingress.args,
    );
    let status = node.wait_for("service reported", LIMIT, |s| {
        s["node"]["applied_commit"] == commit.as_str() && s["services"]["web"].is_object()
    });
    let web = &status["services"]["web"];
    assert_eq!(web["active"], false);
    assert!(web["domain"].is_null());
    assert!(
        web["note"]
            .as_str()
            .unwrap()
            .contains("ingress.domain.environment"),
        "{web:#}"
    );
    assert!(!serves_test_page(ingress.http, "web.example.com"));
}

#[test]
fn main_and_staging_nodes_share_a_host_without_touching_each_other() {
    let origin = Origin::new();
    let main_port = free_port();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", main_port, "main"),
    );
    origin.write(
        "services/web.yaml",
        &service("web", "web", "web.example.com", "$ENV.example.com"),
    );
    let main_commit = origin.commit_to("main", "main");
    let staging_port = free_port();
    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", staging_port, "staging"),
    );
    let staging_commit = origin.commit_to("staging", "staging");

    let main_ingress = IngressPorts::new();
    let staging_ingress = IngressPorts::new();
    let url = origin.bare().display().to_string();
    let main = Node::start_full("sidemain", &url, "main", "", &main_ingress.args);
    let staging = Node::start_full("sidestaging", &url, "staging", "", &staging_ingress.args);
    main.wait_for("main converged", LIMIT, |s| {
        s["node"]["applied_commit"] == main_commit.as_str()
    });
    staging.wait_for("staging converged", LIMIT, |s| {
        s["node"]["applied_commit"] == staging_commit.as_str()
            && s["services"]["web"]["active"] == true
    });
    let main_id = inspect(&main.container("web")).unwrap()["Id"].clone();
    assert_ne!(main.container("web"), staging.container("web"));
    assert!(serves_test_page(
        staging_ingress.http,
        &format!("{}.example.com", staging.environment)
    ));

    origin.write(
        "deployments/web.yaml",
        &web_manifest("web", staging_port, "staging-2"),
    );
    let next = origin.commit_to("staging", "staging 2");
    staging.wait_for("staging updated", LIMIT, |s| {
        s["node"]["applied_commit"] == next.as_str()
    });
    std::thread::sleep(Duration::from_secs(2));
    let main_status: Value = main.status();
    assert_eq!(main_status["node"]["applied_commit"], main_commit.as_str());
    assert_eq!(
        inspect(&main.container("web")).unwrap()["Id"],
        main_id,
        "staging touched main's container"
    );
    assert_eq!(main_status["deployments"]["web"]["state"], "running");
}
