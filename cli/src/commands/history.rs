//! `orun history`: reads a node's apply history (its status API's `/history`) and renders it as a
//! table or prints its JSON. It never changes a node.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use node::server::HistoryDocument;

use super::status::{get_text, http_client};
use crate::args::{HistoryArgs, OutputFormat};
use crate::render;

pub fn run(args: &HistoryArgs) -> Result<ExitCode> {
    let url = match args.limit {
        Some(limit) => format!("http://{}/history?limit={limit}", args.addr),
        None => format!("http://{}/history", args.addr),
    };
    let body = super::runtime()?.block_on(async {
        let client = http_client(Duration::from_secs(10))?;
        get_text(&client, &url).await
    })?;
    let document: HistoryDocument = serde_json::from_str(&body)
        .with_context(|| format!("{url} did not return a node's apply history"))?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&document)?),
        OutputFormat::Human => print!("{}", render::history::human(&document)),
    }
    Ok(ExitCode::SUCCESS)
}
