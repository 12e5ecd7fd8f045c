//! Credentials written into an `http(s)` remote URL (`https://user:token@host/…`): the URL the
//! clone may store, without them, and the user name and password libgit2's credential callback
//! hands over, percent-decoded as Git reads them. Other schemes, scp-like remotes and local paths
//! are left as they are: an SSH login name opens nothing. It only takes URLs apart; it neither
//! stores nor sends anything, and `Debug` shows no password.

use std::fmt;

/// The user name and password of a remote URL's userinfo.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlCredentials(***)")
    }
}

/// `url` without the userinfo of an `http://` or `https://` URL, and the credentials it held.
pub fn split(url: &str) -> (String, Option<UrlCredentials>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return (url.to_string(), None);
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let (username, password) = match rest[..at].split_once(':') {
        Some((username, password)) => (username, password),
        None => (&rest[..at], ""),
    };
    let credentials = UrlCredentials {
        username: percent_decoded(username),
        password: percent_decoded(password),
    };
    (format!("{scheme}://{}", &rest[at + 1..]), Some(credentials))
}

/// `text` with its `%XX` escapes decoded; an escape that is not two hex digits stays as written.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(username: &str, password: &str) -> Option<UrlCredentials> {
        Some(UrlCredentials {
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    #[test]
    fn the_userinfo_of_http_urls_is_taken_out() {
        assert_eq!(
            split("https://deploy:s3cr3t@git.example.com:8443/infra.git"),
            (
                "https://git.example.com:8443/infra.git".to_string(),
                credentials("deploy", "s3cr3t")
            )
        );
        assert_eq!(
            split("HTTP://ghp_token@127.0.0.1/r.git?x=@y"),
            (
                "HTTP://127.0.0.1/r.git?x=@y".to_string(),
                credentials("ghp_token", "")
            )
        );
        assert_eq!(
            split("https://us%40er:p%3Ass%2F@host/r"),
            ("https://host/r".to_string(), credentials("us@er", "p:ss/"))
        );
        assert_eq!(split("https://a:b@c@host/r").0, "https://host/r");
    }

    #[test]
    fn other_remotes_are_left_alone() {
        for url in [
            "https://git.example.com/infra.git",
            "https://git.example.com/path@with-at",
            "ssh://git@git.example.com:2222/infra.git",
            "git@github.com:acme/infra.git",
            "git://git.example.com/infra.git",
            "file:///srv/infra.git",
            "/srv/infra.git",
        ] {
            assert_eq!(split(url), (url.to_string(), None), "{url}");
        }
    }

    #[test]
    fn debug_output_shows_no_password() {
        let shown = format!("{:?}", split("https://u:s3cr3t@host/r").1);
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
