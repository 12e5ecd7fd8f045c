//! `orun apply --once`: one convergence pass against the local Docker engine (plan, print, execute,
//! follow up), or exactly a saved plan, once planning again gives the same actions.

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use adapters::apply::{ApplyOptions, NoIngress};
use adapters::converge::{converge, PlanObserver};
use adapters::docker::credentials::RegistryCredentials;
use adapters::mount_files::FileDirs;
use anyhow::{anyhow, bail, Context, Result};
use engine::outcome::ApplyReport;
use engine::plan::{ActionKind, Plan, SavedPlan};
use engine::{Observed, PlanOptions};

use super::revision::{prepare, Prepared};
use crate::args::ApplyArgs;
use crate::render::{self, Style};

pub fn run(args: &ApplyArgs) -> Result<ExitCode> {
    let prepared = prepare(&args.repo, &args.selection)?;
    super::runtime()?.block_on(apply(args, &prepared))
}

async fn apply(args: &ApplyArgs, prepared: &Prepared) -> Result<ExitCode> {
    let style = Style::for_stdout();
    let docker = adapters::docker::connect().await?;
    let options = ApplyOptions {
        code_dir: prepared.code_dir.clone(),
        wait: !args.no_wait,
        cancel: None,
        traffic: Arc::new(NoIngress),
        registry_credentials: RegistryCredentials::locate(
            prepared
                .docker_config
                .as_ref()
                .map(|(setting, folder)| (setting.as_str(), folder.as_path())),
        ),
        file_dirs: FileDirs::new(
            args.data_dir.as_deref().unwrap_or(&prepared.data_dir),
            args.secret_files_dir
                .as_deref()
                .unwrap_or(&prepared.secret_files_dir),
        ),
    };
    let progress = render::apply::Progress::new(style, prepared.header);
    let (plan, report) = match &args.plan {
        Some(path) => {
            let observed = adapters::docker::observe::observe(&docker, &prepared.desired).await?;
            let plan = saved_plan(path, prepared, &observed, args.allow_empty)?;
            progress.plan_ready(&plan, false);
            let report = adapters::apply::apply(
                &adapters::apply::DockerRuntime::new(&docker, &options.file_dirs),
                &plan,
                &prepared.desired,
                &options,
                &progress,
            )
            .await;
            (plan, report)
        }
        None => {
            let plan_options = PlanOptions {
                allow_empty: args.allow_empty,
                new_commit: true,
                ..PlanOptions::default()
            };
            let pass = converge(
                &docker,
                &prepared.desired,
                plan_options,
                &options,
                &progress,
            )
            .await?;
            if let Some(role) = pass.role.filter(|role| !role.acts()) {
                progress.finish();
                println!(
                    "This manager is {}: only the swarm's leader applies a plan; nothing was changed.",
                    role.as_str()
                );
                return Ok(ExitCode::SUCCESS);
            }
            (pass.plan, pass.report)
        }
    };
    progress.finish();
    if !plan.is_empty() {
        print!("{}", render::apply::summary(&plan, &report, style));
    }
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

/// Reads a plan saved by `orun plan --out` and refuses it if the manifests or Docker moved since,
/// or if it is not the plan orun makes now from them: the plan made now is what runs.
fn saved_plan(
    path: &Path,
    prepared: &Prepared,
    observed: &Observed,
    allow_empty: bool,
) -> Result<Plan> {
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
    if saved.observed_fingerprint != observed.fingerprint(&prepared.desired) {
        return Err(anyhow!(
            "{} is stale: the Docker engine changed since it was saved; nothing was changed, plan again",
            path.display()
        ));
    }
    let options = PlanOptions {
        allow_empty,
        new_commit: true,
        ..PlanOptions::default()
    };
    let now = engine::plan(&prepared.desired, observed, &options)?;
    if let Err(mismatch) = engine::saved_plan::compare(&saved.plan, &now) {
        bail!(
            "{} is not the plan orun makes now: {}; it is stale or was altered after orun plan --out wrote it; nothing was changed, run orun plan again",
            path.display(),
            render::escaped(&mismatch.to_string())
        );
    }
    Ok(now)
}
