//! Helpers that need no Docker engine, shared by the normal test targets and the Docker-backed
//! `integration` target (which includes this file by path rather than copying it): SOPS fixtures,
//! the secret values with their leak check, and output decoding. Nothing here talks to Docker.

pub mod secrets;
pub mod sops;

/// Process output as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}
