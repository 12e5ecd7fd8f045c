//! Compatibility with files written by the reference `sops` tool (tests/data/sops-age).

use std::fs;
use std::path::PathBuf;

use engine::sops::{decrypt_file, Identities, SopsError};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sops-age")
}

fn read(name: &str) -> String {
    let path = vectors().join(name);
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn identities(name: &str) -> Identities {
    Identities::parse(name, &read(name)).unwrap()
}

fn value_of(file: &str, key: &str, text: &str) -> Result<String, SopsError> {
    let decrypted = decrypt_file(file, text, &identities(key))?;
    let leaf = decrypted
        .leaves
        .iter()
        .find(|leaf| leaf.path == ["stringData", "key"])
        .expect("stringData.key");
    assert!(leaf.encrypted);
    Ok(leaf.value.clone())
}

#[test]
fn files_from_sops_decrypt_with_their_key() {
    let a = read("secret-a.enc.yaml");
    let b = read("secret-b.enc.yaml");
    assert_eq!(
        value_of("secret-a.enc.yaml", "key-a.txt", &a).unwrap(),
        "value"
    );
    assert_eq!(
        value_of("secret-b.enc.yaml", "key-b.txt", &b).unwrap(),
        "global-value"
    );
}

#[test]
fn the_other_key_fails_cleanly() {
    for (file, key) in [
        ("secret-a.enc.yaml", "key-b.txt"),
        ("secret-b.enc.yaml", "key-a.txt"),
    ] {
        let error = value_of(file, key, &read(file)).unwrap_err();
        assert!(
            matches!(error, SopsError::NoMatchingIdentity { .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{file}: no age identity in {key}")),
            "{message}"
        );
    }
}

/// Flips one base64 character inside the `field` part of the first `ENC[...]` value on `line`.
fn tamper(text: &str, line_start: &str, field: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = lines
        .iter_mut()
        .find(|line| line.trim_start().starts_with(line_start))
        .expect("line to tamper");
    let at = line.find(&format!("{field}:")).expect("field") + field.len() + 2;
    let old = line.as_bytes()[at] as char;
    let new = if old == 'A' { 'B' } else { 'A' };
    line.replace_range(at..at + 1, &new.to_string());
    lines.join("\n") + "\n"
}

#[test]
fn a_tampered_value_fails() {
    for (file, key, plaintext) in [
        ("secret-a.enc.yaml", "key-a.txt", "value"),
        ("secret-b.enc.yaml", "key-b.txt", "global-value"),
    ] {
        for field in ["data", "iv", "tag"] {
            let tampered = tamper(&read(file), "key: ENC[", field);
            let error = value_of(file, key, &tampered).unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, SopsError::Value { .. }), "{message}");
            assert_eq!(
                message,
                format!(
                    "{file}: stringData.key: cannot decrypt: authentication failed \
                     (wrong data key, wrong place or tampered value)"
                ),
                "{plaintext} must not appear"
            );
        }
    }
}

#[test]
fn a_tampered_mac_fails() {
    for (file, key) in [
        ("secret-a.enc.yaml", "key-a.txt"),
        ("secret-b.enc.yaml", "key-b.txt"),
    ] {
        for field in ["data", "tag"] {
            let tampered = tamper(&read(file), "mac: ENC[", field);
            let error = value_of(file, key, &tampered).unwrap_err();
            assert!(matches!(error, SopsError::Mac { .. }), "{error}");
            assert!(error.to_string().starts_with(&format!("{file}: sops mac")));
        }
    }
}

#[test]
fn a_changed_clear_text_value_fails_the_mac() {
    let text = read("secret-a.enc.yaml").replace("name: age", "name: agf");
    let error = value_of("secret-a.enc.yaml", "key-a.txt", &text).unwrap_err();
    assert!(matches!(error, SopsError::Mac { .. }), "{error}");
    assert!(error.to_string().contains("mismatch"), "{error}");
}

#[test]
fn nested_maps_are_not_environment_variables() {
    let decrypted = decrypt_file(
        "secret-a.enc.yaml",
        &read("secret-a.enc.yaml"),
        &identities("key-a.txt"),
    )
    .unwrap();
    let error = decrypted.env("secret-a.enc.yaml").unwrap_err();
    assert_eq!(
        error.to_string(),
        "secret-a.enc.yaml: metadata.name: nested values are not supported, only top-level `NAME: value` pairs become environment variables"
    );
}
