//! `orun apply --once`: plan against the local Docker engine, print the plan, execute it, then
//! converge what the first pass made visible (e.g. a pulled image whose digest moved).

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use daemon::apply::{ApplyOptions, ApplyReport};
use daemon::docker::Docker;
use engine::plan::{ActionKind, Plan, SavedPlan};
use engine::{Observed, PlanOptions};

use super::revision::{prepare, Prepared};
use crate::args::ApplyArgs;
use crate::render::{self, Style};

/// Docker calls in flight at once within a phase.
const PARALLELISM: usize = 4;

pub fn run(args: &ApplyArgs) -> Result<ExitCode> {
    let prepared = prepare(&args.repo, &args.selection)?;
    super::runtime()?.block_on(apply(args, &prepared))
}

async fn apply(args: &ApplyArgs, prepared: &Prepared) -> Result<ExitCode> {
    let style = Style::for_stdout();
    let docker = daemon::docker::connect().await?;
    let observed = observe(&docker, prepared).await?;
    let plan = match &args.plan {
        Some(path) => saved_plan(path, prepared, &observed)?,
        None => engine::plan(
            &prepared.desired,
            &observed,
            PlanOptions {
                allow_empty: args.allow_empty,
                new_commit: true,
            },
        )?,
    };
    print!("{}", render::plan::human(&plan, style));
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let options = ApplyOptions {
        parallelism: PARALLELISM,
        code_dir: prepared.code_dir.clone(),
        wait: !args.no_wait,
    };
    let progress = render::apply::Progress::new(style);
    println!();
    let mut report =
        daemon::apply::apply(&docker, &plan, &prepared.desired, &options, &progress).await;
    // A saved plan is applied exactly; otherwise converge what the first pass made visible.
    if report.is_success() && args.plan.is_none() {
        let observed = observe(&docker, prepared).await?;
        let follow_up = engine::plan(
            &prepared.desired,
            &observed,
            PlanOptions {
                allow_empty: args.allow_empty,
                new_commit: false,
            },
        )?;
        if follow_up
            .actions
            .iter()
            .any(|action| action.kind != ActionKind::Blocked)
        {
            println!("\nFollow-up now that images and containers changed:");
            print!("{}", render::plan::human(&follow_up, style));
            println!();
            let more =
                daemon::apply::apply(&docker, &follow_up, &prepared.desired, &options, &progress)
                    .await;
            report.outcomes.extend(more.outcomes);
            report.skipped.extend(more.skipped);
        }
    }
    progress.finish();
    print!("{}", render::apply::summary(&plan, &report, style));
    Ok(exit_code(&plan, &report))
}

fn exit_code(plan: &Plan, report: &ApplyReport) -> ExitCode {
    let blocked = plan
        .actions
        .iter()
        .any(|action| action.kind == ActionKind::Blocked);
    if report.is_success() && !blocked {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn observe(docker: &Docker, prepared: &Prepared) -> Result<Observed> {
    daemon::docker::observe::observe(docker, &prepared.wanted_names()).await
}

/// Reads a plan saved by `orun plan --out` and refuses it if the manifests or Docker moved since.
fn saved_plan(path: &Path, prepared: &Prepared, observed: &Observed) -> Result<Plan> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read plan {}", path.display()))?;
    let saved: SavedPlan = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a plan saved by orun plan --out", path.display()))?;
    if saved.desired_fingerprint != prepared.desired.fingerprint() {
        bail!(
            "{} is stale: the manifests changed since it was saved (saved at commit {}, now {}); nothing was changed, plan again",
            path.display(),
            saved.plan.commit,
            prepared.desired.commit
        );
    }
    if saved.observed_fingerprint != observed.fingerprint() {
        return Err(anyhow!(
            "{} is stale: the Docker engine changed since it was saved; nothing was changed, plan again",
            path.display()
        ));
    }
    Ok(saved.plan)
}
