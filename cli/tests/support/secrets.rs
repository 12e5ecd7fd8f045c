//! The secret values of the secrets tests, the check that neither leaks, and the `orun` binary
//! run with piped stdin and no `SOPS_AGE_KEY_FILE` from the caller's environment. Nothing here
//! talks to Docker.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::text;

pub const SHARED_PASSWORD: &str = "pa55-shared-Zq8";
pub const API_TOKEN: &str = "tok-inline-Xv42";

/// Runs `orun ARGS` with `stdin` (empty when `None`) written to its standard input.
pub fn orun(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orun runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn assert_no_plaintext(output: &str) {
    for secret in [SHARED_PASSWORD, API_TOKEN] {
        assert!(
            !output.contains(secret),
            "plaintext {secret:?} leaked:\n{output}"
        );
    }
}

/// `orun secret encrypt NAME` for the repository at `repo`.
pub fn encrypt_inline(repo: &Path, key: &str, name: &str, value: &str) -> String {
    let output = orun(
        &[
            "secret",
            "encrypt",
            name,
            "--repo",
            repo.to_str().unwrap(),
            "--age-key-path",
            key,
        ],
        Some(value),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout).trim().to_string()
}
