//! `orun history`: reads a node's apply history (its status API's `/history`) and renders it as a
//! table or prints its JSON. It never changes a node.

use std::process::ExitCode;

use anyhow::Result;
use node::server::HistoryDocument;

use super::status::fetch_document;
use crate::args::{HistoryArgs, OutputFormat};
use crate::render;

pub fn run(args: &HistoryArgs) -> Result<ExitCode> {
    let url = match args.limit {
        Some(limit) => format!("http://{}/history?limit={limit}", args.addr),
        None => format!("http://{}/history", args.addr),
    };
    let document: HistoryDocument = fetch_document(&url, "a node's apply history")?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&document)?),
        OutputFormat::Human => print!("{}", render::history::human(&document)),
    }
    Ok(ExitCode::SUCCESS)
}
