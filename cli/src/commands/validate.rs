//! `orun validate`: load every manifest, decrypt the secrets, and report all problems or a one-line
//! inventory.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::ValidateArgs;

pub fn run(args: &ValidateArgs) -> Result<ExitCode> {
    let manifests = super::revision::check(&args.repo, args.age_key_path.as_deref())?;
    println!(
        "{}: valid: {} node(s), {} deployment(s), {} service(s)",
        args.repo.display(),
        manifests.nodes.len(),
        manifests.deployments.len(),
        manifests.services.len()
    );
    Ok(ExitCode::SUCCESS)
}
