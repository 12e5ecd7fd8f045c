//! `orun secret encrypt NAME`: encrypts a value from standard input with the data key of the
//! repository's `secrets.yaml`, for pasting into `spec.env.NAME`. It never prints the plaintext
//! and does not edit any manifest.

use std::io::Read;
use std::process::ExitCode;

use adapters::secrets;
use anyhow::{bail, Context, Result};
use engine::secrets::SECRETS_FILE;
use engine::sops;

use crate::args::{EncryptArgs, SecretCommand};

pub fn run(command: &SecretCommand) -> Result<ExitCode> {
    match command {
        SecretCommand::Encrypt(args) => encrypt(args),
    }
}

fn encrypt(args: &EncryptArgs) -> Result<ExitCode> {
    if args.name.is_empty() || args.name.contains(':') {
        bail!(
            "NAME {:?}: expected an environment variable name",
            args.name
        );
    }
    let age_key = secrets::age_key_for(args.age_key_path.as_deref(), None);
    let Some(decrypted) = secrets::decrypt_secrets_file(&args.repo, &age_key)? else {
        bail!(
            "{}: no {SECRETS_FILE}; create it with sops first (see docs/secrets.md)",
            args.repo.display()
        );
    };
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .context("cannot read the value from standard input (it must be UTF-8 text)")?;
    let value = value
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&value);
    let mut iv = [0u8; 32];
    getrandom::fill(&mut iv)
        .map_err(|error| anyhow::anyhow!("cannot draw a random iv: {error}"))?;
    println!(
        "{}",
        sops::encrypt_value(
            value,
            &decrypted.data_key,
            &sops::env_additional_data(&args.name),
            &iv
        )
    );
    Ok(ExitCode::SUCCESS)
}
