//! The read-only status API (docs/status-api.md) with axum: `/healthz`, `/status` (GET or POST), `/metrics`,
//! JSON 404 and 405 errors. Nothing here changes the node's state.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::metrics::Metrics;
use super::status::SharedStatus;

#[derive(Clone)]
struct ApiState {
    status: SharedStatus,
    metrics: Arc<Metrics>,
}

pub fn router(status: SharedStatus, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz).post(healthz))
        .route("/status", get(status_document).post(status_document))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ApiState { status, metrics })
}

/// Binds `addr` and serves the API until the process ends.
pub async fn serve(addr: SocketAddr, status: SharedStatus, metrics: Arc<Metrics>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the status API on {addr}"))?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(status, metrics)).await {
            tracing::error!(%error, "status API stopped");
        }
    });
    Ok(())
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn status_document(State(state): State<ApiState>) -> Response {
    Json(state.status.snapshot()).into_response()
}

async fn metrics_text(State(state): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not found", "path": uri.path() })),
    )
        .into_response()
}

async fn method_not_allowed(uri: Uri) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "error": "method not allowed", "path": uri.path() })),
    )
        .into_response()
}
