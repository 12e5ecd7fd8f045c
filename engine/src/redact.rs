//! Credentials out of printed text: the userinfo of every `scheme://user:secret@host` URL in a
//! string (a Git remote alone, or an error message quoting one) becomes `***`, so a token written
//! into `gitRepo` never reaches a log, an error or the status API. It only rewrites text; it does
//! not decide where text goes.

use std::borrow::Cow;

/// What replaces the userinfo of a URL.
pub const REDACTED: &str = "***";

/// `text` with the userinfo of every URL replaced by `***`. An `ssh://` login name without a
/// password (`ssh://git@host/…`) is kept: it names an account, it opens nothing. scp-like remotes
/// (`git@host:path`) carry no secret and are left alone.
pub fn url_credentials(text: &str) -> Cow<'_, str> {
    let mut result = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let separator = search + found;
        let start = separator + "://".len();
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(text.len(), |offset| start + offset);
        search = end.max(start);
        // A password holding an unescaped `/` or `@` still ends at the last `@` of the URL.
        let Some(at) = text[start..end].rfind('@').map(|offset| start + offset) else {
            continue;
        };
        let userinfo = &text[start..at];
        if userinfo.is_empty() || is_login_name(scheme_before(text, separator), userinfo) {
            continue;
        }
        result.push_str(&text[copied..start]);
        result.push_str(REDACTED);
        copied = at;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    result.push_str(&text[copied..]);
    Cow::Owned(result)
}

/// The URL scheme ending at `separator` (the index of `://`), lowercased.
fn scheme_before(text: &str, separator: usize) -> String {
    let before = &text[..separator];
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .map_or(0, |index| index + 1);
    before[start..].to_ascii_lowercase()
}

/// An SSH user name alone: SSH remotes authenticate with keys, so it is no secret.
fn is_login_name(scheme: String, userinfo: &str) -> bool {
    let ssh = scheme == "ssh" || scheme.starts_with("ssh+") || scheme.ends_with("+ssh");
    ssh && !userinfo.contains([':', '/'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_of_http_urls_is_replaced() {
        assert_eq!(
            url_credentials("https://user:s3cr3t@git.example.com/infra.git"),
            "https://***@git.example.com/infra.git"
        );
        assert_eq!(
            url_credentials("https://ghp_token@github.com/acme/infra"),
            "https://***@github.com/acme/infra"
        );
        assert_eq!(
            url_credentials("HTTP://u:p@127.0.0.1:8080/r.git"),
            "HTTP://***@127.0.0.1:8080/r.git"
        );
    }

    #[test]
    fn every_url_inside_a_message_is_redacted() {
        let message =
            "fetch https://a:one@h1/r (branch main): redirect to 'http://b:two@h2/r' refused";
        assert_eq!(
            url_credentials(message),
            "fetch https://***@h1/r (branch main): redirect to 'http://***@h2/r' refused"
        );
    }

    #[test]
    fn a_password_with_unescaped_separators_is_still_hidden() {
        let redacted = url_credentials("https://user:pa/ss@w@host/repo.git");
        assert_eq!(redacted, "https://***@host/repo.git");
    }

    #[test]
    fn texts_without_credentials_are_borrowed_unchanged() {
        for text in [
            "https://github.com/acme/infra.git",
            "ssh://git@git.example.com:2222/infra.git",
            "git@github.com:acme/infra.git",
            "/srv/git/infra.git",
            "file:///srv/git/infra.git",
            "no url here",
            "https://@host/x",
            "ends with ://",
        ] {
            assert!(
                matches!(url_credentials(text), Cow::Borrowed(same) if same == text),
                "{text}"
            );
        }
    }

    #[test]
    fn ssh_passwords_are_redacted_but_login_names_are_kept() {
        assert_eq!(
            url_credentials("ssh://git:hunter2@host/r.git"),
            "ssh://***@host/r.git"
        );
        assert_eq!(
            url_credentials("git+ssh://deploy@host/r.git"),
            "git+ssh://deploy@host/r.git"
        );
    }
}
