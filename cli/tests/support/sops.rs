//! SOPS files as the reference `sops` tool writes them, for tests: age identities, and flat
//! documents with their values encrypted, the data key wrapped for a recipient, and the MAC.

use std::fs;
use std::io::Write;
use std::path::Path;

use age::secrecy::ExposeSecret;
use engine::sops::{encrypt_value, mac_of, DataKey};

const LAST_MODIFIED: &str = "2026-11-26T10:00:00Z";

/// An age identity file, and its recipient.
pub fn identity(dir: &Path, name: &str) -> (String, age::x25519::Recipient) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join(name);
    fs::write(
        &path,
        format!(
            "# public key: {}\n{}\n",
            identity.to_public(),
            identity.to_string().expose_secret()
        ),
    )
    .unwrap();
    (path.display().to_string(), identity.to_public())
}

/// A flat SOPS document as `sops` writes it: values encrypted with their key path as additional
/// data, the data key wrapped for `recipient` in armored age, the MAC over the plaintexts.
pub fn sops_file(
    data_key: &DataKey,
    recipient: &age::x25519::Recipient,
    pairs: &[(&str, &str)],
) -> String {
    let mut out = String::new();
    for (index, (key, value)) in pairs.iter().enumerate() {
        let iv = [index as u8 + 1; 32];
        out.push_str(&format!(
            "{key}: {}\n",
            encrypt_value(value, data_key, &format!("{key}:"), &iv)
        ));
    }
    let mut wrapped = Vec::new();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let armored =
        age::armor::ArmoredWriter::wrap_output(&mut wrapped, age::armor::Format::AsciiArmor)
            .unwrap();
    let mut writer = encryptor.wrap_output(armored).unwrap();
    writer.write_all(&data_key_bytes()).unwrap();
    writer.finish().unwrap().finish().unwrap();
    let mac = mac_of(pairs.iter().map(|(_, value)| *value));
    let enc: String = String::from_utf8_lossy(&wrapped)
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    out.push_str(&format!(
        "sops:\n  age:\n    - recipient: {recipient}\n      enc: |\n{enc}  lastmodified: \"{LAST_MODIFIED}\"\n  mac: {}\n  version: 3.10.2\n",
        encrypt_value(&mac, data_key, LAST_MODIFIED, &[0xAB; 32])
    ));
    out
}

pub fn data_key_bytes() -> [u8; 32] {
    [0x5A; 32]
}
