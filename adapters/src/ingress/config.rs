//! Caddy's JSON config for a set of routes: one route per Service, host = domain, reverse proxy
//! to the addresses of the deployment's serving replicas, round robin, with requests that could
//! not reach one replica tried again on another. Plain-HTTP routes live on a server of the HTTP
//! port with automatic HTTPS off; `ssl: true` routes on a server of the HTTPS port, where Caddy
//! obtains certificates. Pure: it renders, it does not talk to Caddy.

use std::path::{Path, PathBuf};

use engine::routes::Route;
use serde_json::{json, Value};

/// Where Caddy listens and keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaddySettings {
    pub http_port: u16,
    pub https_port: u16,
    /// The unix socket of the admin API (an absolute path). Only its owner may connect, so no
    /// other local user can load a config into a Caddy that runs as root.
    pub admin: PathBuf,
}

/// How long Caddy keeps trying upstreams for one request. Caddy always tries again after an
/// upstream could not be reached (a dial error: the request never left), and a GET after any
/// error; so a request that meets a replica that just went away is served by another. Longer than
/// Caddy's dial timeout (3 s), which is what an address that stopped answering costs.
pub const TRY_DURATION: &str = "5s";

/// The pause between two tries of one request.
pub const TRY_INTERVAL: &str = "100ms";

/// How long an upstream that failed a request is left out of a route with several upstreams
/// (Caddy's passive health check), so that the requests after it do not each pay for it. A route
/// with one upstream has nowhere else to send them, so it keeps trying that one.
pub const FAIL_DURATION: &str = "5s";

/// The reverse proxy of one route: its upstreams, round robin, with tries and, when there are
/// several, the passive health check.
fn reverse_proxy(route: &Route) -> Value {
    let upstreams: Vec<Value> = route
        .dials()
        .into_iter()
        .map(|dial| json!({ "dial": dial }))
        .collect();
    let mut handler = json!({
        "handler": "reverse_proxy",
        "upstreams": upstreams,
        "load_balancing": {
            "selection_policy": { "policy": "round_robin" },
            "try_duration": TRY_DURATION,
            "try_interval": TRY_INTERVAL
        }
    });
    if route.upstreams.len() > 1 {
        handler["health_checks"] =
            json!({ "passive": { "fail_duration": FAIL_DURATION, "max_fails": 1 } });
    }
    handler
}

/// The whole Caddy config for `routes` (sorted by the caller for a stable document).
pub fn render(settings: &CaddySettings, storage: &Path, routes: &[Route]) -> Value {
    let route = |route: &Route| {
        json!({
            "match": [{ "host": [route.domain] }],
            "handle": [reverse_proxy(route)],
            "terminal": true
        })
    };
    let plain: Vec<Value> = routes.iter().filter(|r| !r.ssl).map(route).collect();
    let secure: Vec<Value> = routes.iter().filter(|r| r.ssl).map(route).collect();
    let mut servers = serde_json::Map::new();
    if !plain.is_empty() {
        servers.insert(
            "orun-http".to_string(),
            json!({
                "listen": [format!(":{}", settings.http_port)],
                "automatic_https": { "disable": true },
                "routes": plain
            }),
        );
    }
    if !secure.is_empty() {
        servers.insert(
            "orun-https".to_string(),
            json!({
                "listen": [format!(":{}", settings.https_port)],
                "routes": secure
            }),
        );
    }
    let mut config = json!({
        // Caddy's network address of a unix socket: `unix/` followed by the absolute path.
        "admin": { "listen": format!("unix/{}", settings.admin.display()), "config": { "persist": false } },
        "storage": { "module": "file_system", "root": storage.display().to_string() }
    });
    if !servers.is_empty() {
        config["apps"] = json!({
            "http": {
                "http_port": settings.http_port,
                "https_port": settings.https_port,
                "servers": servers
            }
        });
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::routes::Upstream;

    fn route(domain: &str, dials: &[&str], ssl: bool) -> Route {
        Route {
            domain: domain.into(),
            upstreams: dials
                .iter()
                .enumerate()
                .map(|(index, dial)| Upstream {
                    replica: format!("web.{}", index + 1),
                    dial: dial.to_string(),
                })
                .collect(),
            ssl,
        }
    }

    fn settings() -> CaddySettings {
        CaddySettings {
            http_port: 8080,
            https_port: 8443,
            admin: PathBuf::from("/opt/orun/caddy/admin.sock"),
        }
    }

    #[test]
    fn plain_and_tls_routes_go_to_separate_servers() {
        let routes = vec![
            route("a.example.com", &["172.17.0.2:80"], false),
            route("b.example.com", &["172.17.0.3:8080"], true),
        ];
        let config = render(&settings(), Path::new("/opt/orun/caddy"), &routes);
        let servers = &config["apps"]["http"]["servers"];
        assert_eq!(servers["orun-http"]["listen"], json!([":8080"]));
        assert_eq!(servers["orun-http"]["automatic_https"]["disable"], true);
        assert_eq!(
            servers["orun-http"]["routes"][0]["match"][0]["host"],
            json!(["a.example.com"])
        );
        assert_eq!(
            servers["orun-http"]["routes"][0]["handle"][0]["upstreams"][0]["dial"],
            "172.17.0.2:80"
        );
        assert_eq!(servers["orun-https"]["listen"], json!([":8443"]));
        assert!(servers["orun-https"]["automatic_https"].is_null());
        assert_eq!(config["storage"]["root"], "/opt/orun/caddy");
        assert_eq!(config["admin"]["listen"], "unix//opt/orun/caddy/admin.sock");
    }

    #[test]
    fn several_upstreams_are_balanced_round_robin_and_a_failed_one_is_left_out() {
        let routes = [route(
            "a.example.com",
            &["10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"],
            false,
        )];
        let config = render(&settings(), Path::new("/x"), &routes);
        let proxy = &config["apps"]["http"]["servers"]["orun-http"]["routes"][0]["handle"][0];
        assert_eq!(
            proxy["upstreams"],
            json!([{ "dial": "10.0.0.2:80" }, { "dial": "10.0.0.3:80" }, { "dial": "10.0.0.4:80" }])
        );
        assert_eq!(
            proxy["load_balancing"],
            json!({ "selection_policy": { "policy": "round_robin" },
                    "try_duration": "5s", "try_interval": "100ms" })
        );
        assert_eq!(
            proxy["health_checks"],
            json!({ "passive": { "fail_duration": "5s", "max_fails": 1 } })
        );
        let single = render(
            &settings(),
            Path::new("/x"),
            &[route("a.example.com", &["10.0.0.2:80"], false)],
        );
        let proxy = &single["apps"]["http"]["servers"]["orun-http"]["routes"][0]["handle"][0];
        assert_eq!(proxy["load_balancing"]["try_duration"], "5s");
        assert!(
            proxy["health_checks"].is_null(),
            "one upstream is never left out"
        );
    }

    #[test]
    fn no_routes_means_no_http_app() {
        let config = render(&settings(), Path::new("/x"), &[]);
        assert!(config["apps"].is_null());
    }
}
