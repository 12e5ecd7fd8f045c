//! `orun validate`: load every manifest, decrypt the secrets, resolve the revision for each
//! environment it serves, and report all problems or a one-line inventory with the revision's
//! warnings and notes, which do not fail it.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::ValidateArgs;
use crate::render;

pub fn run(args: &ValidateArgs) -> Result<ExitCode> {
    let checked = super::revision::check(
        &args.repo,
        args.environment.as_deref(),
        args.age_key_path.as_deref(),
        args.policy.as_deref(),
    )?;
    for finding in &checked.findings {
        eprintln!(
            "{}: {}",
            finding.level.as_str(),
            render::escaped(&finding.to_string())
        );
    }
    let manifests = &checked.manifests;
    // Left out without jobs, so the line reads as before for repositories that have none.
    let jobs = match manifests.jobs.len() {
        0 => String::new(),
        count => format!(", {count} job(s)"),
    };
    println!(
        "{}: valid: {} node(s), {} deployment(s), {} service(s){jobs}; environments: {}",
        args.repo.display(),
        manifests.nodes.len(),
        manifests.deployments.len(),
        manifests.services.len(),
        checked.environments.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
