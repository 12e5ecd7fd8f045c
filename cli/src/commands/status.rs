//! `orun status`: reads a node's status API and renders it as tables or prints its JSON. Also the
//! HTTP GET that `orun fleet status` shares; it never changes a node.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use node::status::wire::StatusDocument;
use serde::de::DeserializeOwned;

use crate::args::{OutputFormat, StatusArgs};
use crate::render;

pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    let document: StatusDocument = fetch_document(&status_url(&args.addr), "a node status")?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&document)?),
        OutputFormat::Human => print!("{}", render::status::human(&document)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON document a node's status API serves at `url`; an answer that is not one is an error
/// naming the URL and `what` was expected.
pub(super) fn fetch_document<T: DeserializeOwned>(url: &str, what: &str) -> Result<T> {
    let body = super::runtime()?.block_on(async {
        let client = http_client(Duration::from_secs(10))?;
        get_text(&client, url).await
    })?;
    serde_json::from_str(&body).with_context(|| format!("{url} did not return {what}"))
}

/// The `/status` URL of the status API at `addr` (`host:port`).
pub(super) fn status_url(addr: &str) -> String {
    format!("http://{addr}/status")
}

/// A client for status APIs: nodes are reached directly, never through a proxy from the
/// environment, and each request gives up after `timeout`.
pub(super) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .context("cannot build the HTTP client")
}

/// The body of a GET of `url`; an answer other than 2xx is an error that quotes it.
pub(super) async fn get_text(client: &reqwest::Client, url: &str) -> Result<String> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot reach the node's status API at {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("reading {url}"))?;
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {body}");
    }
    Ok(body)
}
