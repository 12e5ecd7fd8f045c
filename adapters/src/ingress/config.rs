//! Caddy's JSON config for a set of routes: one route per Service, host = domain, reverse proxy to
//! the container's address. Plain-HTTP routes live on a server of the HTTP port with automatic
//! HTTPS off; `ssl: true` routes on a server of the HTTPS port, where Caddy obtains certificates.
//! Pure: it renders, it does not talk to Caddy.

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

/// The whole Caddy config for `routes` (sorted by the caller for a stable document).
pub fn render(settings: &CaddySettings, storage: &Path, routes: &[Route]) -> Value {
    let route = |route: &Route| {
        json!({
            "match": [{ "host": [route.domain] }],
            "handle": [{ "handler": "reverse_proxy", "upstreams": [{ "dial": route.upstream }] }],
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
            Route {
                domain: "a.example.com".into(),
                upstream: "172.17.0.2:80".into(),
                ssl: false,
            },
            Route {
                domain: "b.example.com".into(),
                upstream: "172.17.0.3:8080".into(),
                ssl: true,
            },
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
    fn no_routes_means_no_http_app() {
        let config = render(&settings(), Path::new("/x"), &[]);
        assert!(config["apps"].is_null());
    }
}
