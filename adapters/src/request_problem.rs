//! What went wrong with an HTTP request that got no answer, in words fit for a log line or an
//! error: the kind of failure and each cause under it, with any credentials in a URL among them
//! redacted. It sends nothing and says nothing about answers that did come (a status code is the
//! caller's to word).

/// `error` as `timed out`, `cannot connect` or `request failed`, followed by its causes.
pub fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    engine::redact::url_credentials(&text).into_owned()
}
