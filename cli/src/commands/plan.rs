//! `orun plan`: resolve the desired state, observe Docker (or read a snapshot from a file or a
//! node's `/observed`), plan and render. Also the fetch of `/observed` that `orun fleet plan`
//! shares.

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use engine::plan::SavedPlan;
use engine::{Observed, PlanOptions};

use super::revision::{prepare, Prepared};
use super::status::{get_text, http_client};
use crate::args::{OutputFormat, PlanArgs};
use crate::render;

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let prepared = prepare(&args.repo, &args.selection)?;
    let observed = match &args.observed {
        Some(path) => read_observed(path)?,
        None => observe_docker(&prepared)?,
    };
    if let Some(path) = &args.save_observed {
        write_json(path, &observed, "observed snapshot")?;
    }
    let options = PlanOptions {
        allow_empty: args.allow_empty,
        new_commit: true,
        ..PlanOptions::default()
    };
    let plan = engine::plan(&prepared.desired, &observed, &options)?;
    if let Some(path) = &args.out {
        let saved = SavedPlan {
            plan: plan.clone(),
            desired_fingerprint: prepared.desired.fingerprint(),
            observed_fingerprint: observed.fingerprint(&prepared.desired),
        };
        write_json(path, &saved, "plan")?;
    }
    match args.output {
        OutputFormat::Json => println!("{}", render::plan::json(&plan)),
        OutputFormat::Human => {
            let style = render::Style::for_stdout();
            print!(
                "{}",
                render::plan::human_with(&plan, style, prepared.header)
            );
        }
    }
    let pending = !plan.is_empty();
    Ok(if pending && args.detailed_exitcode {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// How long a node's `/observed` may take to answer.
pub(super) const OBSERVED_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads an observed snapshot (docs/plans.md) from the file at `source`, or from a node's status
/// API when `source` is an `http://` or `https://` URL.
fn read_observed(source: &Path) -> Result<Observed> {
    let url = source
        .to_str()
        .filter(|text| text.starts_with("http://") || text.starts_with("https://"));
    if let Some(url) = url {
        return super::runtime()?.block_on(async {
            let client = http_client(OBSERVED_TIMEOUT)?;
            fetch_observed(&client, url).await
        });
    }
    let text = fs::read_to_string(source)
        .with_context(|| format!("cannot read observed snapshot {}", source.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: invalid observed snapshot", source.display()))
}

/// The snapshot a node's status API serves at `url`.
pub(super) async fn fetch_observed(client: &reqwest::Client, url: &str) -> Result<Observed> {
    let body = get_text(client, url).await?;
    serde_json::from_str(&body)
        .with_context(|| format!("{url} did not return an observed snapshot"))
}

/// Observes the local Docker engine for the prepared desired state.
fn observe_docker(prepared: &Prepared) -> Result<Observed> {
    super::runtime()?.block_on(async {
        let docker = adapters::docker::connect().await?;
        Ok(adapters::docker::observe::observe(&docker, &prepared.desired).await?)
    })
}

fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("serializable");
    fs::write(path, text + "\n")
        .with_context(|| format!("cannot write {what} to {}", path.display()))
}
