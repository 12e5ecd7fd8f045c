//! `orun fleet dashboard`: serves, on one address, a page of every node of the repository's
//! `nodes/` (`render::fleet_dashboard`) and `/fleet.json`, both collected on each request by
//! `orun fleet status`'s own code, with the node dashboard's stylesheet and script. It refuses to
//! start when `nodes/` lists no node, then serves until interrupted; it changes nothing, on the
//! nodes or in the repository.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use node::dashboard;
use serde_json::json;

use crate::args::FleetDashboardArgs;
use crate::render;

pub fn run(args: &FleetDashboardArgs) -> Result<ExitCode> {
    super::runtime()?.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: &FleetDashboardArgs) -> Result<()> {
    // A repository that lists no node is refused at once rather than served as an error page.
    crate::commands::fleet::nodes(&args.repo)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen for the fleet dashboard on {}", args.listen))?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    eprintln!("the fleet dashboard is at http://{addr}/ (Ctrl-C stops it)");
    axum::serve(listener, router(args.repo.clone()))
        .with_graceful_shutdown(async {
            // Without a signal handler the server still stops with the process.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the fleet dashboard stopped")
}

fn router(repo: PathBuf) -> Router {
    dashboard::with_assets(Router::new())
        .route("/", get(page))
        .route("/fleet.json", get(fleet_json))
        .fallback(not_found)
        .with_state(Arc::new(repo))
}

async fn page(State(repo): State<Arc<PathBuf>>) -> Response {
    let now = SystemTime::now();
    match crate::commands::fleet::collect(&repo).await {
        Ok(report) => {
            dashboard::respond(StatusCode::OK, render::fleet_dashboard::page(&report, now))
        }
        Err(error) => dashboard::respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            render::fleet_dashboard::failed(&format!("{error:#}"), now),
        ),
    }
}

async fn fleet_json(State(repo): State<Arc<PathBuf>>) -> Response {
    // Serialised as `orun fleet status --output json` prints it, keys in the same order.
    let answer = crate::commands::fleet::collect(&repo)
        .await
        .and_then(|report| Ok(serde_json::to_string_pretty(&report)?));
    match answer {
        Ok(text) => dashboard::respond_json(StatusCode::OK, text),
        Err(error) => dashboard::respond_json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": format!("{error:#}") }).to_string(),
        ),
    }
}

async fn not_found(uri: Uri) -> Response {
    let body = json!({ "error": "not found", "path": uri.path() }).to_string();
    dashboard::respond_json(StatusCode::NOT_FOUND, body)
}
