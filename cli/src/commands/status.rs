//! `orun status`: reads a node's status API and renders it as tables or prints its JSON.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use daemon::node::status::Status;

use crate::args::{OutputFormat, StatusArgs};
use crate::render;

pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    let url = format!("http://{}/status", args.addr);
    let body = super::runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        let response = client
            .get(&url)
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
    })?;
    let document: Status = serde_json::from_str(&body)
        .with_context(|| format!("{url} did not return a node status"))?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&document)?),
        OutputFormat::Human => print!("{}", render::status::human(&document)),
    }
    Ok(ExitCode::SUCCESS)
}
