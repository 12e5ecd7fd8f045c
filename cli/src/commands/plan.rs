//! `orun plan`: resolve the desired state, read the observed snapshot, plan and render.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use engine::{Observed, PlanOptions, ResolveInput, Secrets};

use crate::args::{OutputFormat, PlanArgs};
use crate::render;

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let (environment, code_dir) = super::revision::select(&args.selection, &args.repo)?;
    let revision = super::revision::load(&args.repo, code_dir.as_deref())?;
    let secrets = Secrets::default();
    let desired = engine::resolve(
        &revision.manifests,
        &ResolveInput {
            environment,
            commit: revision.commit.clone(),
            secrets: &secrets,
            build_tags: &revision.build_tags,
        },
    )
    .map_err(|errors| anyhow!(errors))?;
    let observed = read_observed(&args.observed)?;
    let options = PlanOptions {
        allow_empty: args.allow_empty,
        new_commit: true,
    };
    let plan = engine::plan(&desired, &observed, options)?;
    match args.output {
        OutputFormat::Json => println!("{}", render::plan::json(&plan)),
        OutputFormat::Human => {
            let style = render::Style::for_stdout();
            print!("{}", render::plan::human(&plan, style));
        }
    }
    let pending = !plan.is_empty();
    Ok(if pending && args.detailed_exitcode {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads an observed snapshot (SPEC §4) from `path`.
pub fn read_observed(path: &Path) -> Result<Observed> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read observed snapshot {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: invalid observed snapshot", path.display()))
}
