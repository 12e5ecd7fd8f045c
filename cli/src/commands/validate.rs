//! `orun validate`: load every manifest, decrypt the secrets, and report all problems or a one-line
//! inventory.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::ValidateArgs;

pub fn run(args: &ValidateArgs) -> Result<ExitCode> {
    let revision = super::revision::load(&args.repo, None)?;
    let age_key = super::revision::age_key(args.age_key_path.as_deref(), None);
    super::revision::decrypt(&args.repo, &revision, &age_key)?;
    let manifests = &revision.manifests;
    println!(
        "{}: valid: {} node(s), {} deployment(s), {} service(s)",
        args.repo.display(),
        manifests.nodes.len(),
        manifests.deployments.len(),
        manifests.services.len()
    );
    Ok(ExitCode::SUCCESS)
}
