//! The Git webhook (docs/node.md): `POST /hooks/git` with a proof of the node's webhook secret asks
//! the poller for an immediate fetch. It reads at most [`MAX_BODY_BYTES`] of body, compares every
//! proof in constant time and answers 202 at once; it carries nothing from the request into the
//! node, which fetches and verifies from its remote as on any poll. It does not fetch itself. The
//! secret file is read as a regular file of at most [`MAX_SECRET_FILE_BYTES`], and from async
//! code off the async workers within [`SECRET_READ_TIMEOUT`].

use std::cell::OnceCell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{watch, Notify};

use crate::decisions::settings::SettingPath;
use adapters::files::{self, Refusal};

type HmacSha256 = Hmac<Sha256>;

/// The largest request body read; a longer one is answered 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The largest webhook secret file read.
pub const MAX_SECRET_FILE_BYTES: usize = 64 * 1024;

/// How long reading the webhook secret file may take.
pub const SECRET_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The path the webhook answers on.
pub const PATH: &str = "/hooks/git";

/// What the status API needs to serve the webhook.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The secret in force; `None` turns the path off (404).
    pub secret: watch::Receiver<Option<WebhookSecret>>,
    /// Wakes the poller. Its one stored permit is what coalesces requests: however many arrive
    /// while a fetch runs, one more fetch follows it.
    pub fetch: Arc<Notify>,
}

/// The shared secret of the webhook: the file's content less trailing whitespace. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// Why the webhook secret file gave no secret; both name the setting and the path.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// It could not be read, or is not a regular file within the size and time limits.
    #[error(transparent)]
    Read(Refusal),
    #[error("{file}: the webhook secret file is empty")]
    Empty { file: String },
}

impl WebhookSecret {
    /// Reads the secret from the file `file` names, outside the async runtime (at start).
    pub fn read(file: &SettingPath) -> Result<Self, SecretFileError> {
        let bytes =
            files::read_setting_file_blocking(&file.path, &file.named(), MAX_SECRET_FILE_BYTES)
                .map_err(SecretFileError::Read)?;
        Self::from_read(&bytes, file)
    }

    /// Reads the secret from the file `file` names, from async code: on the blocking pool, within
    /// [`SECRET_READ_TIMEOUT`].
    pub async fn load(file: &SettingPath) -> Result<Self, SecretFileError> {
        let bytes = files::read_setting_file(
            &file.path,
            &file.named(),
            MAX_SECRET_FILE_BYTES,
            SECRET_READ_TIMEOUT,
        )
        .await
        .map_err(SecretFileError::Read)?;
        Self::from_read(&bytes, file)
    }

    fn from_read(bytes: &[u8], file: &SettingPath) -> Result<Self, SecretFileError> {
        Self::from_file_content(bytes).ok_or_else(|| SecretFileError::Empty { file: file.named() })
    }

    /// The secret in a file's `content`; `None` when only whitespace is left.
    fn from_file_content(content: &[u8]) -> Option<Self> {
        let end = content
            .iter()
            .rposition(|byte| !byte.is_ascii_whitespace())
            .map_or(0, |last| last + 1);
        (end > 0).then(|| WebhookSecret(content[..end].to_vec()))
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    /// Whether `token` is the secret itself, compared in constant time: both are signed with the
    /// secret and the digests compared.
    fn is(&self, token: &[u8]) -> bool {
        let mut expected = self.mac();
        expected.update(&self.0);
        let mut given = self.mac();
        given.update(token);
        given.verify(&expected.finalize().into_bytes()).is_ok()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The proof a request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    GitHub,
    /// Gitea: `X-Gitea-Signature: <hex HMAC-SHA256 of the body>`.
    Gitea,
    /// Forgejo: `X-Forgejo-Signature`, like Gitea's.
    Forgejo,
    /// GitLab: `X-Gitlab-Token: <secret>`.
    GitLab,
    /// `Authorization: Bearer <secret>`.
    Bearer,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::GitHub => "github",
            Proof::Gitea => "gitea",
            Proof::Forgejo => "forgejo",
            Proof::GitLab => "gitlab",
            Proof::Bearer => "bearer",
        }
    }
}

/// The first proof among `headers` that holds for `body`; `None` when none does (or none is there).
/// Only the first header of each kind counts, and the body is signed at most once, however many
/// signature headers a request repeats: a request costs one pass over its body.
pub fn verify(secret: &WebhookSecret, headers: &HeaderMap, body: &[u8]) -> Option<Proof> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let body_mac = OnceCell::new();
    let signed = |signature: &str| {
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        body_mac
            .get_or_init(|| {
                let mut mac = secret.mac();
                mac.update(body);
                mac
            })
            .clone()
            .verify_slice(&signature)
            .is_ok()
    };
    let github = || {
        header("x-hub-signature-256")
            .and_then(|value| value.strip_prefix("sha256="))
            .is_some_and(signed)
    };
    let gitea = || header("x-gitea-signature").is_some_and(signed);
    let forgejo = || header("x-forgejo-signature").is_some_and(signed);
    let gitlab = || header("x-gitlab-token").is_some_and(|value| secret.is(value.as_bytes()));
    let bearer = || {
        header("authorization")
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, token)| secret.is(token.trim().as_bytes()))
    };
    if github() {
        Some(Proof::GitHub)
    } else if gitea() {
        Some(Proof::Gitea)
    } else if forgejo() {
        Some(Proof::Forgejo)
    } else if gitlab() {
        Some(Proof::GitLab)
    } else if bearer() {
        Some(Proof::Bearer)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const BODY: &[u8] = br#"{"ref":"refs/heads/main"}"#;

    fn secret() -> WebhookSecret {
        WebhookSecret::from_file_content(b"s3cret\n").unwrap()
    }

    fn hex_signature(key: &[u8], body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn each_forge_proof_is_accepted() {
        let good = hex_signature(b"s3cret", BODY);
        let cases = [
            (
                "x-hub-signature-256",
                format!("sha256={good}"),
                Proof::GitHub,
            ),
            ("x-gitea-signature", good.clone(), Proof::Gitea),
            ("x-forgejo-signature", good.to_uppercase(), Proof::Forgejo),
            ("x-gitlab-token", "s3cret".to_string(), Proof::GitLab),
            ("authorization", "Bearer s3cret".to_string(), Proof::Bearer),
        ];
        for (name, value, proof) in cases {
            assert_eq!(
                verify(&secret(), &headers(&[(name, &value)]), BODY),
                Some(proof),
                "{name}"
            );
        }
    }

    #[test]
    fn wrong_or_missing_proofs_are_refused() {
        let other_key = hex_signature(b"other", BODY);
        let other_body = hex_signature(b"s3cret", b"{}");
        let good = hex_signature(b"s3cret", BODY);
        let cases: [&[(&'static str, &str)]; 10] = [
            &[],
            &[("x-hub-signature-256", &format!("sha256={other_key}"))],
            &[("x-hub-signature-256", &format!("sha256={other_body}"))],
            // GitHub's header needs its prefix; the old SHA-1 header is not a proof.
            &[("x-hub-signature-256", &good)],
            &[("x-hub-signature", &format!("sha1={good}"))],
            &[("x-gitea-signature", "not hex")],
            &[("x-gitlab-token", "s3cret2")],
            &[("x-gitlab-token", "")],
            &[("authorization", "Basic s3cret")],
            &[("authorization", "Bearer s3cre")],
        ];
        for case in cases {
            assert_eq!(verify(&secret(), &headers(case), BODY), None, "{case:?}");
        }
    }

    #[test]
    fn one_holding_proof_among_wrong_ones_is_enough() {
        let request = headers(&[
            ("x-gitea-signature", "00"),
            ("authorization", "Bearer s3cret"),
        ]);
        assert_eq!(verify(&secret(), &request, BODY), Some(Proof::Bearer));
    }

    #[test]
    fn only_the_first_header_of_each_kind_counts() {
        let good = hex_signature(b"s3cret", BODY);
        let cases: [&[(&'static str, &str)]; 4] = [
            &[("x-gitea-signature", "00"), ("x-gitea-signature", &good)],
            &[
                ("x-hub-signature-256", "sha256=00"),
                ("x-hub-signature-256", &format!("sha256={good}")),
            ],
            &[("x-gitlab-token", "wrong"), ("x-gitlab-token", "s3cret")],
            &[
                ("authorization", "Bearer wrong"),
                ("authorization", "Bearer s3cret"),
            ],
        ];
        for case in cases {
            assert_eq!(verify(&secret(), &headers(case), BODY), None, "{case:?}");
        }
    }

    #[test]
    fn repeated_signature_headers_do_not_sign_the_body_again() {
        // A thousand wrong signatures over a megabyte: checked like one, or this takes seconds.
        let body = vec![b'x'; MAX_BODY_BYTES];
        let mut request = HeaderMap::new();
        let wrong = [
            ("x-hub-signature-256", "sha256=00"),
            ("x-gitea-signature", "00"),
            ("x-forgejo-signature", "00"),
        ];
        for (name, value) in wrong {
            for _ in 0..1000 {
                request.append(name, HeaderValue::from_static(value));
            }
        }
        let started = std::time::Instant::now();
        assert_eq!(verify(&secret(), &request, &body), None);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_secret_file_loses_trailing_whitespace_only() {
        let secret = WebhookSecret::from_file_content(b"  a b \r\n\t\n").unwrap();
        assert_eq!(secret.0, b"  a b");
        assert!(WebhookSecret::from_file_content(b" \n\n").is_none());
        assert!(WebhookSecret::from_file_content(b"").is_none());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }

    fn setting(path: &std::path::Path) -> SettingPath {
        SettingPath {
            path: path.to_path_buf(),
            setting: "nodes/web-01.yaml: spec.webhookSecretFile".to_string(),
        }
    }

    #[test]
    fn an_unreadable_or_empty_secret_file_is_named() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = setting(&dir.path().join("missing"));
        let error = WebhookSecret::read(&missing).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot read {}: ", missing.named())),
            "{error}"
        );
        let empty = setting(&dir.path().join("empty"));
        std::fs::write(&empty.path, "\n").unwrap();
        assert_eq!(
            WebhookSecret::read(&empty).unwrap_err().to_string(),
            format!(
                "nodes/web-01.yaml: spec.webhookSecretFile: {}: the webhook secret file is empty",
                empty.path.display()
            )
        );
    }

    #[tokio::test]
    async fn a_fifo_or_device_is_refused_at_once_naming_the_field() {
        let dir = tempfile::TempDir::new().unwrap();
        let fifo = setting(&dir.path().join("hook"));
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo.path)
            .status();
        assert!(made.unwrap().success());
        // Nothing writes to the FIFO: a blocking read would hold the reconciler for ever.
        let loaded = tokio::time::timeout(Duration::from_secs(2), WebhookSecret::load(&fifo));
        let error = loaded.await.expect("not stalled").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "nodes/web-01.yaml: spec.webhookSecretFile: {}: not a regular file (a FIFO, socket or device): refusing to read it",
                fifo.path.display()
            )
        );
        let zero = setting(std::path::Path::new("/dev/zero"));
        let error = WebhookSecret::load(&zero).await.unwrap_err();
        assert!(
            matches!(error, SecretFileError::Read(Refusal::NotRegular { .. })),
            "{error}"
        );
        let large = setting(&dir.path().join("large"));
        std::fs::write(&large.path, vec![b'x'; MAX_SECRET_FILE_BYTES + 1]).unwrap();
        let error = WebhookSecret::load(&large).await.unwrap_err();
        assert!(
            matches!(error, SecretFileError::Read(Refusal::TooLarge { .. })),
            "{error}"
        );
    }
}
